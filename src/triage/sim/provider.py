"""``FakeProvider``: an OpenAI/Anthropic-compatible HTTP/1.1 server with fault knobs and an attempt log.

Endpoints (``/healthz`` and ``/_sim/*`` are neither recorded nor faulted; everything else is recorded):

    POST /v1/chat/completions   OpenAI chat, JSON or SSE ("stream": true)       faultable
    POST /v1/completions        OpenAI legacy completions, JSON or SSE           faultable
    POST /v1/messages           Anthropic messages, JSON or SSE                  faultable
    GET  /v1/models             the models this provider claims to serve
    GET  /healthz               200, or 503 after ``set_healthy(False)``
    /_sim/...                   the control plane (see ``triage.sim.control``)
    anything else               404 JSON error; a wrong method gets 405 with ``Allow``

Every response carries ``x-sim-provider: <name>``; recorded ones also ``x-sim-attempt: <seq>``. OpenAI chat
answers carry token logprobs when the request asks (``"logprobs": true``); a fault's ``answer`` sets how
confident an answer looks (``triage.sim.answers``).
Connections are persistent (HTTP/1.1 keep-alive, pipelining served in order) until the client closes,
sends ``Connection: close``, or a fault ends the connection.

Lifecycle: ``await start()`` / ``await stop()`` (or ``async with``) on the caller's event loop, or
``with provider.running():`` for synchronous code (a ``ProviderThread``). ``stop()`` closes the
listener and aborts open connections at once; a later ``start()`` binds the same port again, so a test
can take a provider down and bring it back where Envoy expects it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from triage.sim import control
from triage.sim.answers import shape
from triage.sim.apis import API_SPECS, ApiError, ApiSpec, RequestFlags, error_body
from triage.sim.attempts import Attempt, AttemptLog
from triage.sim.completion import make_completion
from triage.sim.exchange import Exchange
from triage.sim.faults import Fault, FaultPlan
from triage.sim.http import MAX_HEAD_BYTES, HttpError, Request, read_request

if TYPE_CHECKING:
    from triage.sim.runner import ProviderThread

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


@dataclass(frozen=True, slots=True)
class _Conn:
    """One accepted TCP connection: its sequence number and the client's address."""

    id: int
    peer: str


class FakeProvider:
    """A fake LLM provider on ``host:port`` (``port=0`` picks a free one at ``start()``).

    ``latency_s`` delays every inference answer before its headers; ``chunk_interval_s`` separates SSE
    events; ``words`` is the completion length. These three may be changed while running.
    ``default_model`` answers requests that name no model (default: the provider's name); ``models``
    is what ``GET /v1/models`` lists (default: ``[default_model]``). ``log_path`` appends one JSON
    line per attempt to a file, besides the ``triage.sim.<name>`` logger.
    """

    def __init__(
        self,
        name: str = "sim",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default_model: str | None = None,
        models: Sequence[str] = (),
        latency_s: float = 0.0,
        chunk_interval_s: float = 0.0,
        words: int = 12,
        log_path: str | Path | None = None,
    ) -> None:
        if not name or not set(name) <= _NAME_CHARS:
            raise ValueError(f"provider name must be non-empty [A-Za-z0-9._-], got {name!r}")
        if words < 0 or latency_s < 0 or chunk_interval_s < 0:
            raise ValueError("words, latency_s and chunk_interval_s must be >= 0")
        self.name = name
        self.host = host
        self.default_model = default_model or name
        self.models: tuple[str, ...] = tuple(models) or (self.default_model,)
        self.latency_s = latency_s
        self.chunk_interval_s = chunk_interval_s
        self.words = words
        self._port = port
        self._faults = FaultPlan()
        self._log = AttemptLog(name, log_path)
        self._healthy = True
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connection_ids = itertools.count(1)

    def __repr__(self) -> str:
        state = "listening" if self._server is not None else "stopped"
        return f"<FakeProvider {self.name} {state} {self.host}:{self._port}>"

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port once started (before that, the port asked for, possibly 0)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self._port}"

    @property
    def is_running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Bind and listen on the running loop; returns once connections are accepted."""
        if self._server is not None:
            raise RuntimeError(f"{self!r} is already running")
        server = await asyncio.start_server(self._connection, self.host, self._port, limit=MAX_HEAD_BYTES)
        self._port = server.sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._server = server

    async def stop(self) -> None:
        """Stop accepting, abort every open connection, wait for their handlers. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Handlers scheduled just before close() may not have registered yet: repeat until none are left.
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0)
        await server.wait_closed()
        self._loop = None

    async def __aenter__(self) -> FakeProvider:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def running(self, *, timeout: float = 10.0) -> ProviderThread:
        """Context manager running this provider on a daemon thread: ``with p.running(): ...``."""
        from triage.sim.runner import ProviderThread  # noqa: PLC0415 (runner imports this module)

        return ProviderThread(self, timeout=timeout)

    # -- knobs (thread-safe, callable from any thread) ---------------------------------------------

    def script(self, faults: Iterable[Fault]) -> None:
        """Replace the fault script; see ``triage.sim.faults`` for the selection rules."""
        self._faults.script(faults)

    def set_fault(self, fault: Fault | None) -> None:
        """Set the standing fault (applies whenever the script is empty); ``None`` clears it."""
        self._faults.set_fault(fault)

    def reset_faults(self) -> None:
        self._faults.reset()

    @property
    def faults(self) -> dict[str, Any]:
        """JSON view of the pending script and the standing fault."""
        return self._faults.snapshot()

    def set_healthy(self, healthy: bool) -> None:
        """Make ``GET /healthz`` answer 200 (healthy) or 503; inference is unaffected (use faults)."""
        self._healthy = healthy

    @property
    def healthy(self) -> bool:
        return self._healthy

    # -- attempt log -------------------------------------------------------------------------------

    @property
    def attempts(self) -> list[Attempt]:
        """Snapshot of the attempts recorded since the last ``clear()``, oldest first."""
        return self._log.snapshot()

    def clear(self) -> int:
        """Forget recorded attempts; returns how many were dropped."""
        return self._log.clear()

    def wait_for_attempts(self, n: int, timeout: float = 10.0, *, finished: bool = True) -> list[Attempt]:
        """Block until ``n`` attempts are recorded (finished ones by default); raise ``TimeoutError``.

        For synchronous code: on the provider's own event loop this would deadlock, so it refuses.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None and loop is self._loop:
            raise RuntimeError("wait_for_attempts would block the provider's loop: await wait_for_attempts_async")
        return self._log.wait(n, timeout, finished)

    async def wait_for_attempts_async(self, n: int, *, finished: bool = True) -> list[Attempt]:
        """``wait_for_attempts`` for async code on any event loop; bound it with ``asyncio.timeout()``."""
        return await self._log.wait_async(n, finished)

    # -- serving -----------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        cancelled = False
        peername = writer.get_extra_info("peername")
        conn = _Conn(next(self._connection_ids), f"{peername[0]}:{peername[1]}" if peername else "?")
        try:
            while self._server is not None:
                try:
                    request = await read_request(reader, writer)
                except HttpError as exc:
                    ex = Exchange(reader, writer, keep_alive=False, chunked=True, headers=self._headers())
                    await ex.send_json(exc.status, error_body(exc.status, exc.message))
                    await _linger(reader, writer)
                    break
                if request is None or not await self._dispatch(request, reader, writer, conn):
                    break
        except (ConnectionError, OSError):
            pass  # the peer went away; there is nobody left to answer
        except asyncio.CancelledError:
            # Only stop() cancels a connection task, and the task ends here. Ending it normally matters:
            # asyncio.streams' done-callback calls task.exception(), which raises for a cancelled task.
            cancelled = True
        finally:
            self._tasks.discard(task)
            # On stop() abort rather than close: close() would wait to flush to a peer that may not read.
            if cancelled:
                writer.transport.abort()
            else:
                writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _headers(self, attempt: Attempt | None = None) -> list[tuple[str, str]]:
        headers = [("server", "triage-sim"), ("x-sim-provider", self.name)]
        if attempt is not None:
            headers.append(("x-sim-attempt", str(attempt.seq)))
        return headers

    def _exchange(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, attempt: Attempt | None
    ) -> Exchange:
        return Exchange(
            reader,
            writer,
            keep_alive=request.keep_alive and self._server is not None,
            chunked=request.version == "HTTP/1.1",
            headers=self._headers(attempt),
        )

    async def _dispatch(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Conn
    ) -> bool:
        """Answer one request; return whether the connection may carry another."""
        path = request.path
        if path == "/healthz" or path.startswith("/_sim/"):
            ex = self._exchange(request, reader, writer, None)
            if path == "/healthz":
                await self._health(request, ex)
            else:
                await control.handle(self, request, ex)
            return ex.keep_alive
        return await self._recorded(request, reader, writer, conn)

    async def _health(self, request: Request, ex: Exchange) -> None:
        if request.method != "GET":
            await ex.send_json(405, error_body(405), [("allow", "GET")])
            return
        status = 200 if self._healthy else 503
        await ex.send_json(status, {"status": "ok" if self._healthy else "unhealthy", "provider": self.name})

    async def _recorded(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Conn
    ) -> bool:
        started = time.monotonic()
        spec = API_SPECS.get(request.path)
        payload: Any = None
        parse_error: str | None = None
        if spec is not None and request.method == "POST":
            try:
                payload = orjson.loads(request.body)
            except orjson.JSONDecodeError as exc:
                parse_error = f"We could not parse the JSON body of your request: {exc}"
            else:
                if not isinstance(payload, dict):
                    parse_error = "The request body must be a JSON object."
        flags = RequestFlags.of(payload)
        fault = self._faults.next_fault() if spec is not None and request.method == "POST" else None
        attempt = self._log.begin(
            monotonic=started,
            wall=time.time(),
            connection=conn.id,
            peer=conn.peer,
            method=request.method,
            path=request.path,
            model=flags.model,
            headers=dict(request.headers),
            body_bytes=len(request.body),
            stream=flags.stream,
            include_usage=flags.include_usage,
            logprobs=flags.logprobs,
            fault=None if fault is None or fault.is_noop else fault,
        )
        ex = self._exchange(request, reader, writer, attempt)
        try:
            if spec is None:
                await self._not_inference(request, ex)
            elif request.method != "POST":
                await ex.send_json(405, error_body(405), [("allow", "POST")])
            else:
                await self._inference(spec, payload, parse_error, fault, flags, ex, attempt)
        except (ConnectionError, OSError):
            ex.outcome, ex.keep_alive = "client_gone", False
        except asyncio.CancelledError:
            ex.outcome = "stopped"
            raise
        finally:
            self._log.finish(
                attempt,
                status=ex.status,
                outcome=ex.outcome,
                events=ex.events,
                duration_s=time.monotonic() - started,
            )
        return ex.keep_alive

    async def _not_inference(self, request: Request, ex: Exchange) -> None:
        if request.path != "/v1/models":
            message = f"Unknown request URL: {request.method} {request.path}."
            await ex.send_json(404, error_body(404, message, code="unknown_url"))
        elif request.method != "GET":
            await ex.send_json(405, error_body(405), [("allow", "GET")])
        else:
            data = [{"id": m, "object": "model", "created": 0, "owned_by": self.name} for m in self.models]
            await ex.send_json(200, {"object": "list", "data": data})

    async def _inference(
        self,
        spec: ApiSpec,
        payload: Any,
        parse_error: str | None,
        fault: Fault | None,
        flags: RequestFlags,
        ex: Exchange,
        attempt: Attempt,
    ) -> None:
        delay = self.latency_s + (fault.delay_s if fault is not None else 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is not None and await _apply_error_fault(fault, ex):
            return
        if parse_error is not None:
            await ex.send_json(400, error_body(400, parse_error, code="invalid_json"))
            return
        try:
            prompt = spec.read(payload)
        except ApiError as exc:
            await ex.send_json(400, error_body(400, exc.message, code=exc.code, param=exc.param))
            return
        model = flags.model or self.default_model
        answer = None if fault is None else fault.answer
        completion = make_completion(
            completion_id=f"{spec.id_prefix}{self.name}-{attempt.seq}",
            created=int(attempt.wall),
            provider=self.name,
            model=model,
            prompt=prompt.text,
            prompt_chars=prompt.chars,
            words=self.words if answer is None or answer.words is None else answer.words,
            max_tokens=prompt.max_tokens,
        )
        shaped = shape(
            completion,
            answer,
            logprobs=prompt.logprobs,
            top_logprobs=prompt.top_logprobs,
            json_output=prompt.json_output,
        )
        cut = None if fault is None else fault.close_after_chunks
        if not flags.stream:
            body = orjson.dumps(spec.body(shaped))
            if cut is None:
                await ex.send(200, body, "application/json")
            else:
                await ex.send_truncated(200, body, "application/json")
            return
        await ex.start_stream()
        for i, event in enumerate(spec.events(shaped, flags.include_usage)):
            if i == cut:
                ex.close_mid_stream()
                return
            if i > 0 and self.chunk_interval_s > 0:
                await asyncio.sleep(self.chunk_interval_s)
            await ex.event(event)
        if cut is not None:
            ex.close_mid_stream()  # asked to cut after more events than the stream has: omit only the end
            return
        await ex.end_stream()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then discard what the client still sends (up to 1 s): closing with unread input
    makes the kernel send an RST, which can destroy the error response still in flight."""
    with contextlib.suppress(OSError, RuntimeError):
        writer.write_eof()
    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
        async with asyncio.timeout(1.0):
            while await reader.read(65536):
                pass


async def _apply_error_fault(fault: Fault, ex: Exchange) -> bool:
    """Apply ``reset``/``content_type``/``status``; return True when the request is thereby answered."""
    if fault.reset:
        ex.reset()
        return True
    extra = [] if fault.retry_after is None else [("retry-after", str(fault.retry_after))]
    if fault.content_type is not None:
        status = fault.status or 200
        message = fault.message or "upstream misconfigured"
        html = f"<html><head><title>{status}</title></head><body><h1>{message}</h1></body></html>\n"
        await ex.send(status, html.encode(), fault.content_type, extra)
        return True
    if fault.status is not None:
        await ex.send_json(fault.status, error_body(fault.status, fault.message), extra)
        return True
    return False
