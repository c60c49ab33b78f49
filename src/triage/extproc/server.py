"""The gRPC server: the ext_proc service, the health service, start-up and graceful shutdown.

Start-up: listen at once with health NOT_SERVING, load and warm up the model, then report SERVING.
Until then every stream is passed through untouched (Envoy routes it on its default route).
Shutdown reads like a runbook: report NOT_SERVING → stop accepting and drain in-flight streams →
stop the inference thread → flush telemetry.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from triage.contract import EXT_PROC_SERVICE
from triage.extproc import mutations as mu
from triage.extproc.processor import Processor
from triage.runtime import RuntimeHolder

log = logging.getLogger("triage.server")

SOCKET_MODE = 0o660  # a Unix socket's permissions: Triage's user and group (Envoy) connect, nobody else
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
    """One ``Processor`` per stream; the stream always gets an answer per message."""

    def __init__(self) -> None:
        self.holder: RuntimeHolder | None = None

    async def Process(  # noqa: N802  (the gRPC method name)
        self,
        request_iterator: AsyncIterator[ep.ProcessingRequest],
        context: grpc.aio.ServicerContext[ep.ProcessingRequest, ep.ProcessingResponse],
    ) -> AsyncIterator[ep.ProcessingResponse]:
        holder = self.holder
        if holder is None:
            async for message in request_iterator:
                yield _not_ready_reply(message)
            return
        metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        processor = Processor(holder.current, metadata, defer=True)
        try:
            async for message in request_iterator:
                yield await processor.process(message)
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


class TriageServer:
    """Owns the gRPC server and its lifecycle."""

    def __init__(self, listen: list[str]) -> None:
        self.listen = listen
        self.service = ExtProcService()
        self.health = HealthServicer()
        self._server = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ]
        )
        ep_grpc.add_ExternalProcessorServicer_to_server(self.service, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.bound: list[str] = []

    async def start(self) -> None:
        """Listen on every address with health NOT_SERVING."""
        for service in ("", EXT_PROC_SERVICE):
            await self.health.set(service, _NOT_SERVING)
        for address in self.listen:
            if address.startswith("unix:"):
                _prepare_socket_path(Path(address[len("unix:") :]))
                self._server.add_insecure_port(address)
                self.bound.append(address)
            else:
                port = self._server.add_insecure_port(address)
                host = address.rsplit(":", 1)[0]
                self.bound.append(f"{host}:{port}")
        await self._server.start()
        for address in self.bound:
            if address.startswith("unix:"):
                # Owner and group may connect: Envoy in the same pod shares the volume's group (fsGroup), not
                # necessarily Triage's UID; the process umask would leave the group read-only.
                os.chmod(address[len("unix:") :], SOCKET_MODE)

    async def ready(self, holder: RuntimeHolder) -> None:
        """The model is loaded and warm: start routing and report SERVING."""
        self.service.holder = holder
        for service in ("", EXT_PROC_SERVICE):
            await self.health.set(service, _SERVING)

    async def shutdown(self, drain_seconds: float, flush: Callable[[], None] = lambda: None) -> None:
        """NOT_SERVING → stop accepting and drain in-flight streams → stop → flush telemetry."""
        log.info("shutting down: reporting NOT_SERVING, draining for up to %.1f s", drain_seconds)
        await self.health.enter_graceful_shutdown()
        await self._server.stop(grace=drain_seconds)
        holder = self.service.holder
        if holder is not None:
            holder.current.executor.shutdown(wait=True, cancel_futures=True)
        flush()
        log.info("stopped")

    async def wait(self) -> None:
        await self._server.wait_for_termination()


async def run_until_signalled(server: TriageServer, stop: asyncio.Event) -> None:
    """Wait for SIGTERM/SIGINT (set ``stop``); the caller then calls ``shutdown``."""
    import signal  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
