"""The gRPC server's lifecycle: NOT_SERVING until ready (streams pass through), SERVING after, drain on shutdown;
the same on both engines (``server.engine``: wire and grpcio)."""

from __future__ import annotations

import asyncio
import io
import os
import stat
from pathlib import Path

import grpc
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from triage.classifier.fake import FakeClassifier
from triage.config import load_config
from triage.extproc.server import EXT_PROC_SERVICE, ServerEngine, TriageServer
from triage.runtime import RuntimeHolder, build
from triage.telemetry.recorder import DecisionLog, Recorder

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _headers(path: str, end_of_stream: bool = False) -> ep.ProcessingRequest:
    pairs = [(":method", "POST"), (":path", path), ("content-type", "application/json")]
    return ep.ProcessingRequest(
        request_headers=ep.HttpHeaders(
            headers=base_pb2.HeaderMap(headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs]),
            end_of_stream=end_of_stream,
        )
    )


def _body(data: bytes) -> ep.ProcessingRequest:
    return ep.ProcessingRequest(request_body=ep.HttpBody(body=data, end_of_stream=True))


async def _health(channel: grpc.aio.Channel, service: str = "") -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
    return int(reply.status)


@pytest.fixture
def socket_path(tmp_path: Path) -> str:
    return f"unix:{tmp_path}/t.sock"


@pytest.fixture(params=["wire", "grpcio"])
def engine(request: pytest.FixtureRequest) -> ServerEngine:
    value: ServerEngine = request.param
    return value


def _holder() -> RuntimeHolder:
    return RuntimeHolder(build(load_config(), FakeClassifier(), Recorder(DecisionLog(io.StringIO()))))


async def test_server_reports_not_serving_and_passes_through_until_ready(
    socket_path: str, engine: ServerEngine
) -> None:
    server = TriageServer([socket_path], engine)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(socket_path) as channel:
            assert await _health(channel) == NOT_SERVING
            assert await _health(channel, EXT_PROC_SERVICE) == NOT_SERVING
            stream = ep_grpc.ExternalProcessorStub(channel).Process()
            await stream.write(_headers("/v1/chat/completions"))
            reply = await stream.read()
            # Not ready: no body is asked for, the request goes on to Envoy's default route untouched.
            assert reply.mode_override.request_body_mode == 0  # NONE
            await stream.done_writing()

            await server.ready(_holder())
            assert await _health(channel) == SERVING
            # Envoy Gateway health-checks an ext_proc backend with the service's own name.
            assert await _health(channel, EXT_PROC_SERVICE) == SERVING
            stream = ep_grpc.ExternalProcessorStub(channel).Process()
            await stream.write(_headers("/v1/chat/completions"))
            assert (await stream.read()).HasField("request_headers")
            await stream.write(_body(b'{"model": "x", "messages": [{"role": "user", "content": "hi"}]}'))
            routed = await stream.read()
            names = {h.header.key for h in routed.request_body.response.header_mutation.set_headers}
            assert "x-triage-route" in names
            await stream.done_writing()
    finally:
        await server.shutdown(0.1)


async def test_server_shutdown_reports_not_serving_and_drains_in_flight_streams(
    socket_path: str, engine: ServerEngine
) -> None:
    server = TriageServer([socket_path], engine)
    await server.start()
    await server.ready(_holder())
    async with grpc.aio.insecure_channel(socket_path) as channel:
        stream = ep_grpc.ExternalProcessorStub(channel).Process()
        await stream.write(_headers("/v1/chat/completions"))
        assert (await stream.read()).HasField("request_headers")
        shutdown = asyncio.create_task(server.shutdown(10.0))
        # The in-flight stream is drained, not cut: its next message still gets its answer.
        await stream.write(_body(b'{"messages": [{"role": "user", "content": "write a python function"}]}'))
        reply = await stream.read()
        assert reply.HasField("request_body")
        await stream.done_writing()
        await shutdown
        with pytest.raises(grpc.aio.AioRpcError):
            await _health(channel)


async def test_server_unix_socket_lets_the_group_connect(tmp_path: Path, engine: ServerEngine) -> None:
    path = tmp_path / "t.sock"
    old = os.umask(0o022)
    server = TriageServer([f"unix:{path}"], engine)
    try:
        await server.start()
        assert stat.S_IMODE(path.stat().st_mode) == 0o660  # Envoy in the same pod shares the group, not the UID
    finally:
        os.umask(old)
        await server.shutdown(0.1)


@pytest.mark.parametrize("rejected", [False, True], ids=["response-ended", "immediate-response"])
async def test_server_ends_the_rpc_itself_once_envoy_has_nothing_more_to_send(
    socket_path: str, rejected: bool, engine: ServerEngine
) -> None:
    # Envoy resets a stream it is done with; an RPC reset before its status leaks native memory in grpcio's asyncio
    # server. So Triage ends the RPC with OK after the last message, without waiting for the client's half-close.
    server = TriageServer([socket_path], engine)
    await server.start()
    await server.ready(_holder())
    try:
        async with grpc.aio.insecure_channel(socket_path) as channel:
            stream = ep_grpc.ExternalProcessorStub(channel).Process()
            await stream.write(_headers("/v1/chat/completions"))
            await stream.read()
            if rejected:
                await stream.write(_body(b'{"model": "x", "messages": "not a list"}'))
                assert (await stream.read()).HasField("immediate_response")
            else:
                await stream.write(_body(b'{"model": "x", "messages": [{"role": "user", "content": "hi"}]}'))
                await stream.read()
                answer = b'{"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}'
                await stream.write(ep.ProcessingRequest(response_body=ep.HttpBody(body=answer, end_of_stream=True)))
                assert (await stream.read()).HasField("response_body")
            # No done_writing(): the server has already finished the call.
            assert await asyncio.wait_for(stream.read(), 10) is grpc.aio.EOF
            assert await stream.code() == grpc.StatusCode.OK
    finally:
        await server.shutdown(0.1)


async def test_server_binds_a_tcp_port_and_reports_it(engine: ServerEngine) -> None:
    server = TriageServer(["127.0.0.1:0"], engine)
    await server.start()
    try:
        (address,) = server.bound
        assert address.startswith("127.0.0.1:")
        assert int(address.rsplit(":", 1)[1]) > 0
        async with grpc.aio.insecure_channel(address) as channel:
            assert await _health(channel) == NOT_SERVING
    finally:
        await server.shutdown(0.1)
