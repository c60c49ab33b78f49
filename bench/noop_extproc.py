"""A do-nothing ext_proc server: the floor that Triage's own ext_proc cost is compared with.

It answers every message at once with a constant, pre-built reply of the matching kind:

- ``request_headers``  → an empty ``HeadersResponse`` (continue to the body);
- ``request_body``     → a ``BodyResponse`` that only sets ``x-triage-route: <route>``, the dynamic metadata
  ``triage.route = <route>`` that the generated route table matches on, and ``clear_route_cache`` (so Envoy
  re-selects the route on the body, as with Triage);
- ``response_headers`` → an empty ``HeadersResponse``; ``response_body`` → an empty ``BodyResponse``;
- trailers → an empty ``TrailersResponse``.

Which of these arrive is Envoy's choice (its ``processing_mode``); the server handles them all, so one
process serves the 2-phase, 4-phase and observability-mode configurations alike. A stream whose messages
carry ``observability_mode`` gets no replies (Envoy ignores them) and is closed by the server once the
response has ended: Envoy itself keeps such a stream open for ``deferred_close_timeout`` (10 s here), and
at 200 req/s that is 2,000 open streams, past which Envoy's new streams fail (measured: ~1/3 failed open).

Four server styles, the same replies:

- ``asyncgen``  grpc.aio, ``async for msg in request_iterator: yield reply`` (what Triage did on grpcio);
- ``readwrite`` grpc.aio, ``msg = await context.read()`` / ``await context.write(reply)``;
- ``sync``      grpc's synchronous server on a thread pool, a plain generator;
- ``wire``      Triage's own single-threaded asyncio HTTP/2 + gRPC server (``triage.wire``), no threads;
  it also answers ``grpc.health.v1.Health`` (SERVING), so ``bench/noop_wire.py`` can stand in for Triage.

Usage: ``python bench/noop_extproc.py --style asyncgen --listen unix:/tmp/x.sock [--listen 127.0.0.1:0]``.
Prints ``listening <address> ...`` once every address is bound, serves until SIGTERM/SIGINT, exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from google.protobuf import struct_pb2

STYLES = ("asyncgen", "readwrite", "sync", "wire")
SERVER_OPTIONS = [
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (a benchmark killed hard leaves no orphans)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() == 1:  # the parent was already gone before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)


def build_replies(route: str) -> dict[str, ep.ProcessingResponse]:
    """The constant reply for each message kind."""
    route_header = base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key="x-triage-route", raw_value=route.encode()),
        append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
    )
    body = ep.CommonResponse(header_mutation=ep.HeaderMutation(set_headers=[route_header]), clear_route_cache=True)
    metadata = struct_pb2.Struct()
    metadata.update({"triage": {"route": route}})
    return {
        "request_headers": ep.ProcessingResponse(request_headers=ep.HeadersResponse()),
        "request_body": ep.ProcessingResponse(request_body=ep.BodyResponse(response=body), dynamic_metadata=metadata),
        "request_trailers": ep.ProcessingResponse(request_trailers=ep.TrailersResponse()),
        "response_headers": ep.ProcessingResponse(response_headers=ep.HeadersResponse()),
        "response_body": ep.ProcessingResponse(response_body=ep.BodyResponse()),
        "response_trailers": ep.ProcessingResponse(response_trailers=ep.TrailersResponse()),
    }


def _response_over(message: ep.ProcessingRequest, kind: str) -> bool:
    if kind == "response_body":
        return bool(message.response_body.end_of_stream)
    if kind == "response_headers":
        return bool(message.response_headers.end_of_stream)
    return kind == "response_trailers"


class AsyncGenService(ep_grpc.ExternalProcessorServicer):  # type: ignore[misc]
    def __init__(self, replies: dict[str, ep.ProcessingResponse]) -> None:
        self.replies = replies

    async def Process(  # noqa: N802
        self, request_iterator: AsyncIterator[ep.ProcessingRequest], context: Any
    ) -> AsyncIterator[ep.ProcessingResponse]:
        replies = self.replies
        async for message in request_iterator:
            kind = message.WhichOneof("request")
            if message.observability_mode:
                if _response_over(message, kind):
                    return
                continue
            yield replies[kind]


class ReadWriteService(ep_grpc.ExternalProcessorServicer):  # type: ignore[misc]
    def __init__(self, replies: dict[str, ep.ProcessingResponse]) -> None:
        self.replies = replies

    async def Process(self, request_iterator: Any, context: Any) -> None:  # noqa: N802
        replies = self.replies
        while True:
            message = await context.read()
            if message is grpc.aio.EOF:
                return
            kind = message.WhichOneof("request")
            if message.observability_mode:
                if _response_over(message, kind):
                    return
                continue
            await context.write(replies[kind])


class SyncService(ep_grpc.ExternalProcessorServicer):  # type: ignore[misc]
    def __init__(self, replies: dict[str, ep.ProcessingResponse]) -> None:
        self.replies = replies

    def Process(  # noqa: N802
        self, request_iterator: Iterator[ep.ProcessingRequest], context: Any
    ) -> Iterator[ep.ProcessingResponse]:
        replies = self.replies
        for message in request_iterator:
            kind = message.WhichOneof("request")
            if message.observability_mode:
                if _response_over(message, kind):
                    return
                continue
            yield replies[kind]


def _bind(server: Any, listen: list[str]) -> list[str]:
    bound = []
    for address in listen:
        if address.startswith("unix:"):
            path = address[len("unix:") :]
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            server.add_insecure_port(address)
            bound.append(address)
        else:
            port = server.add_insecure_port(address)
            bound.append(f"{address.rsplit(':', 1)[0]}:{port}")
    return bound


async def serve_async(style: str, listen: list[str], route: str) -> None:
    replies = build_replies(route)
    service = AsyncGenService(replies) if style == "asyncgen" else ReadWriteService(replies)
    server = grpc.aio.server(options=SERVER_OPTIONS)
    ep_grpc.add_ExternalProcessorServicer_to_server(service, server)
    bound = _bind(server, listen)
    await server.start()
    print("listening " + " ".join(bound), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=0.5)


async def serve_wire(listen: list[str], route: str) -> None:
    from grpc_health.v1 import health_pb2

    from triage.contract import EXT_PROC_SERVICE
    from triage.wire import HealthService, Server, ServerCall

    replies = build_replies(route)

    async def process(call: ServerCall[ep.ProcessingRequest, ep.ProcessingResponse]) -> None:
        while (message := await call.read()) is not None:
            kind = message.WhichOneof("request")
            if message.observability_mode:
                if _response_over(message, kind):
                    return
                continue
            await call.write(replies[kind])

    server = Server()
    server.add_stream_method(
        f"/{EXT_PROC_SERVICE}/Process",
        process,
        ep.ProcessingRequest.FromString,
        ep.ProcessingResponse.SerializeToString,
    )
    health = HealthService()
    health.register(server)
    for service in ("", EXT_PROC_SERVICE):
        await health.set(service, health_pb2.HealthCheckResponse.SERVING)
    for address in listen:
        if address.startswith("unix:"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(address[len("unix:") :])
    bound = await server.start(listen)
    print("listening " + " ".join(bound), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0.5)


def serve_sync(listen: list[str], route: str, workers: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=SERVER_OPTIONS)
    ep_grpc.add_ExternalProcessorServicer_to_server(SyncService(build_replies(route)), server)
    bound = _bind(server, listen)
    server.start()
    print("listening " + " ".join(bound), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    server.stop(grace=0.5).wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--style", choices=STYLES, default="asyncgen")
    parser.add_argument("--listen", action="append", required=True, help="unix:/path or host:port (repeatable)")
    parser.add_argument("--route", default="economy", help="value of x-triage-route set on the body")
    parser.add_argument("--workers", type=int, default=16, help="thread-pool size of the sync server")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="event loop (aio styles)")
    args = parser.parse_args(argv)
    die_with_parent()
    if args.style == "sync":
        serve_sync(args.listen, args.route, args.workers)
        return 0
    serve = (
        serve_wire(args.listen, args.route)
        if args.style == "wire"
        else serve_async(args.style, args.listen, args.route)
    )
    if args.loop == "uvloop":
        import uvloop  # not a project dependency: pip install --target DIR uvloop; PYTHONPATH=DIR

        uvloop.run(serve)
    else:
        asyncio.run(serve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
