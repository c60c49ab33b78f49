"""The gRPC server: the ext_proc service, the health service, start-up and graceful shutdown.

Start-up: listen at once with health NOT_SERVING, load and warm up the model, then report SERVING.
Until then every stream is passed through untouched (Envoy routes it on its default route).
Shutdown reads like a runbook: report NOT_SERVING → stop accepting and drain in-flight streams →
stop the inference thread → flush telemetry.

Two engines serve the same services with the same lifecycle (``server.engine``):

- ``wire``: ``triage.wire``, a single-threaded asyncio HTTP/2 server speaking the gRPC subset Envoy's client
  uses. Every message stays on the event loop: measured through Envoy at 200 req/s (bench/envoy_overhead.py,
  do-nothing servers), about a third of grpcio's CPU per request and half its added latency;
- ``grpcio``: ``grpc.aio``, whose core hands every message across threads (I/O threads → completion queue →
  poller thread → the loop), each hop a cold wake-up on a small VM.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Literal, Protocol

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from triage.contract import EXT_PROC_SERVICE
from triage.extproc import mutations as mu
from triage.extproc.processor import Processor
from triage.feedback.contract import SERVICE as FEEDBACK_SERVICE
from triage.feedback.service import FeedbackService
from triage.runtime import RuntimeHolder
from triage.wire import HealthService, Server, ServerCall

log = logging.getLogger("triage.server")

SOCKET_MODE = 0o660  # a Unix socket's permissions: Triage's user and group (Envoy) connect, nobody else
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
ServerEngine = Literal["wire", "grpcio"]  # ``server.engine``
DEFAULT_ENGINE: ServerEngine = "wire"
PROCESS_METHOD = f"/{EXT_PROC_SERVICE}/Process"
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _not_ready_reply(message: ep.ProcessingRequest) -> ep.ProcessingResponse:
    kind = message.WhichOneof("request")
    if kind == "request_headers":
        return mu.pass_through()
    if kind == "request_body":
        return mu.request_body_continue()
    if kind == "response_headers":
        return mu.response_headers({})
    if kind == "response_body":
        return mu.response_body()
    return mu.trailers(kind or "request_trailers")


def _prepare_socket_path(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        os.unlink(path)  # a stale socket from a previous run


class ExtProcService(ep_grpc.ExternalProcessorServicer):  # type: ignore[misc]
    """One ``Processor`` per stream; the stream always gets an answer per message. ``Process`` serves it on
    grpcio, ``process_call`` on the wire engine."""

    def __init__(self) -> None:
        self.holder: RuntimeHolder | None = None

    async def Process(  # noqa: N802  (the gRPC method name)
        self,
        request_iterator: AsyncIterator[ep.ProcessingRequest],
        context: grpc.aio.ServicerContext[ep.ProcessingRequest, ep.ProcessingResponse],
    ) -> None:
        # Replies are written with context.write (not yielded): a held reply (confidence escalation) goes out later,
        # and one message may be answered with several replies.
        holder = self.holder
        if holder is None:
            async for message in request_iterator:
                await context.write(_not_ready_reply(message))
            return
        metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        processor = Processor(holder.current, metadata, defer=True, send=context.write)
        try:
            async for message in request_iterator:
                reply = await processor.process(message)
                if reply is None:  # held: answered later, in order
                    continue
                await context.write(reply)
                if processor.finished:
                    # End the RPC ourselves, with OK, at once (telemetry after the status, below) instead of
                    # waiting for Envoy's half-close: Envoy resets a stream it is done with, and an RPC cancelled
                    # with a read pending or before its status leaks native memory in grpcio's asyncio server
                    # (grpc/grpc#43360).
                    break
                processor.after_reply()  # resumed once gRPC has taken the reply: telemetry off the path
        finally:
            if processor.finished:
                asyncio.get_running_loop().call_soon(processor.close)  # after the handler has returned
            else:
                processor.close()

    async def process_call(self, call: ServerCall[ep.ProcessingRequest, ep.ProcessingResponse]) -> None:
        """The same contract on the wire engine: ``call.write`` returns once the reply is on the socket."""
        holder = self.holder
        if holder is None:
            while (message := await call.read()) is not None:
                await call.write(_not_ready_reply(message))
            return
        processor = Processor(holder.current, call.metadata, defer=True, send=call.write)
        try:
            while (message := await call.read()) is not None:
                reply = await processor.process(message)
                if reply is None:  # held (confidence escalation): answered later, in order
                    continue
                if processor.finished:
                    # Envoy sends nothing more: the reply and the status OK go out together, at once.
                    await call.write(reply, end=True)
                    break
                await call.write(reply)
                processor.after_reply()  # the reply is on the socket: telemetry off the path
        finally:
            if processor.finished:
                asyncio.get_running_loop().call_soon(processor.close)  # after the handler has returned
            else:
                processor.close()


class _Health(Protocol):
    async def set(self, service: str, status: int) -> None: ...

    async def enter_graceful_shutdown(self) -> None: ...


class _Engine(Protocol):
    @property
    def health(self) -> _Health: ...

    async def start(self, listen: list[str]) -> list[str]: ...

    async def stop(self, grace: float) -> None: ...

    async def wait(self) -> None: ...


class _WireEngine:
    def __init__(self, service: ExtProcService, feedback: FeedbackService) -> None:
        self.health = HealthService()
        self._server = Server(max_message_bytes=MAX_MESSAGE_BYTES)
        self._server.add_stream_method(
            PROCESS_METHOD,
            service.process_call,
            ep.ProcessingRequest.FromString,
            ep.ProcessingResponse.SerializeToString,
        )
        feedback.register_wire(self._server)
        self.health.register(self._server)

    async def start(self, listen: list[str]) -> list[str]:
        return await self._server.start(listen)

    async def stop(self, grace: float) -> None:
        await self._server.stop(grace)

    async def wait(self) -> None:
        await self._server.wait_closed()


class _GrpcioEngine:
    def __init__(self, service: ExtProcService, feedback: FeedbackService) -> None:
        self.health = HealthServicer()
        self._server = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
        )
        ep_grpc.add_ExternalProcessorServicer_to_server(service, self._server)
        self._server.add_generic_rpc_handlers((feedback.grpcio_handler(),))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)

    async def start(self, listen: list[str]) -> list[str]:
        bound = []
        for address in listen:
            port = self._server.add_insecure_port(address)
            if address.startswith("unix:"):
                bound.append(address)
            else:
                bound.append(f"{address.rsplit(':', 1)[0]}:{port}")
        await self._server.start()
        return bound

    async def stop(self, grace: float) -> None:
        await self._server.stop(grace=grace)

    async def wait(self) -> None:
        await self._server.wait_for_termination()


class TriageServer:
    """Owns the gRPC server and its lifecycle, on either engine."""

    def __init__(self, listen: list[str], engine: ServerEngine = DEFAULT_ENGINE) -> None:
        self.listen = listen
        self.engine = engine
        self.service = ExtProcService()
        self.feedback = FeedbackService()  # triage.v1.Feedback: events about decisions, over the same listeners
        engine_class = _WireEngine if engine == "wire" else _GrpcioEngine
        self._engine: _Engine = engine_class(self.service, self.feedback)
        self.health: _Health = self._engine.health
        self.bound: list[str] = []

    async def start(self) -> None:
        """Listen on every address with health NOT_SERVING."""
        for service in ("", EXT_PROC_SERVICE, FEEDBACK_SERVICE):
            await self.health.set(service, _NOT_SERVING)
        for address in self.listen:
            if address.startswith("unix:"):
                _prepare_socket_path(Path(address[len("unix:") :]))
        self.bound = await self._engine.start(self.listen)
        for address in self.bound:
            if address.startswith("unix:"):
                # Owner and group may connect: Envoy in the same pod shares the volume's group (fsGroup), not
                # necessarily Triage's UID; the process umask would leave the group read-only.
                os.chmod(address[len("unix:") :], SOCKET_MODE)

    async def ready(self, holder: RuntimeHolder) -> None:
        """The model is loaded and warm: start routing and report SERVING."""
        self.service.holder = holder
        self.feedback.holder = holder
        for service in ("", EXT_PROC_SERVICE, FEEDBACK_SERVICE):
            await self.health.set(service, _SERVING)

    async def shutdown(self, drain_seconds: float, flush: Callable[[], None] = lambda: None) -> None:
        """NOT_SERVING → stop accepting and drain in-flight streams → stop → flush telemetry."""
        log.info("shutting down: reporting NOT_SERVING, draining for up to %.1f s", drain_seconds)
        await self.health.enter_graceful_shutdown()
        await self._engine.stop(drain_seconds)
        holder = self.service.holder
        if holder is not None:
            holder.current.close()
        flush()
        log.info("stopped")

    async def wait(self) -> None:
        await self._engine.wait()


async def run_until_signalled(server: TriageServer, stop: asyncio.Event) -> None:
    """Wait for SIGTERM/SIGINT (set ``stop``); the caller then calls ``shutdown``."""
    import signal  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
