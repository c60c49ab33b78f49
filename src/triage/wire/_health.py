"""The gRPC health service (``grpc.health.v1.Health``: Check and Watch) on the wire server.

The same behaviour as grpcio-health-checking's servicer: ``set(service, status)``; Check answers the status
or NOT_FOUND for a service never set; Watch sends the current status (SERVICE_UNKNOWN for a service never
set) and then every change until the client goes away; ``enter_graceful_shutdown`` turns every service
NOT_SERVING and ignores later ``set`` calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from grpc_health.v1 import health_pb2

from triage.wire._server import RpcError, Server, ServerCall, Status

CHECK = "/grpc.health.v1.Health/Check"
WATCH = "/grpc.health.v1.Health/Watch"

_Request = health_pb2.HealthCheckRequest
_Response = health_pb2.HealthCheckResponse
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class HealthService:
    def __init__(self) -> None:
        self._status: dict[str, int] = {}
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._shutting_down = False
        self._replies = {status: _Response(status=status) for status in _Response.ServingStatus.values()}

    def register(self, server: Server) -> None:
        server.add_unary_method(CHECK, self._check, _Request.FromString, _Response.SerializeToString)
        server.add_stream_method(WATCH, self._watch, _Request.FromString, _Response.SerializeToString)

    async def set(self, service: str, status: int) -> None:
        """Set a service's status (ignored once shutting down)."""
        if not self._shutting_down:
            self._set(service, status)

    async def enter_graceful_shutdown(self) -> None:
        """Every service NOT_SERVING, for good."""
        if self._shutting_down:
            return
        self._shutting_down = True
        for service in list(self._status):
            self._set(service, _NOT_SERVING)

    def _set(self, service: str, status: int) -> None:
        self._status[service] = status
        for event in self._watchers.get(service, ()):
            event.set()

    async def _check(
        self, request: health_pb2.HealthCheckRequest, call: ServerCall[Any, Any]
    ) -> health_pb2.HealthCheckResponse:
        status = self._status.get(request.service)
        if status is None:
            raise RpcError(Status.NOT_FOUND, f"unknown service {request.service!r}")
        return self._replies[status]

    async def _watch(self, call: ServerCall[Any, Any]) -> None:
        request = await call.read()
        if request is None:
            raise RpcError(Status.INTERNAL, "Watch without a request message")
        service = request.service
        event = asyncio.Event()
        watchers = self._watchers.setdefault(service, set())
        watchers.add(event)
        try:
            sent: int | None = None
            while True:
                status = self._status.get(service, _SERVICE_UNKNOWN)
                if status != sent:
                    await call.write(self._replies[status])
                    sent = status
                await event.wait()
                event.clear()
        finally:
            watchers.discard(event)
            if not watchers:
                self._watchers.pop(service, None)
