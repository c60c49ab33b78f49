"""The wire server over real sockets: grpcio's client (Unix socket and TCP), and a raw HTTP/2 client for what
grpcio never sends (split and merged messages, compressed messages, resets, tiny windows, protocol errors)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.unit.wire import frames as f
from tests.unit.wire.frames import Frame
from triage.classifier.fake import FakeClassifier
from triage.config import load_config
from triage.extproc.server import TriageServer
from triage.runtime import RuntimeHolder, build
from triage.telemetry.recorder import DecisionLog, Recorder
from triage.wire import HealthService, RpcError, Server, ServerCall, Status
from triage.wire._h2 import DATA, GOAWAY, HEADERS, PREFACE, SETTINGS, HpackDecoder

BIG = 5 * 1024 * 1024
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
TIMEOUT = 30.0  # generous: a loaded 2-core machine


def _identity(data: bytes) -> bytes:
    return data


@dataclass
class Handlers:
    """Test methods; what they saw."""

    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    metadata: list[dict[str, str]] = field(default_factory=list)

    async def echo(self, call: ServerCall[bytes, bytes]) -> None:
        self.metadata.append(dict(call.metadata))
        while (message := await call.read()) is not None:
            await call.write(message)

    async def unary(self, request: bytes, call: ServerCall[bytes, bytes]) -> bytes:
        return request[::-1]

    async def hang(self, call: ServerCall[bytes, bytes]) -> None:
        await call.read()
        self.entered.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.cancelled.set()

    async def fail(self, call: ServerCall[bytes, bytes]) -> None:
        raise RpcError(Status.INVALID_ARGUMENT, "bad ünïcode 100%\n")

    async def crash(self, call: ServerCall[bytes, bytes]) -> None:
        raise ValueError("a bug")

    async def count(self, call: ServerCall[bytes, bytes]) -> None:
        await asyncio.sleep(0.5)  # messages pile up unread: the window stalls the client
        total = 0
        while (message := await call.read()) is not None:
            total += len(message)
        await call.write(str(total).encode())

    async def big(self, call: ServerCall[bytes, bytes]) -> None:
        size = int(await call.read() or b"0")
        await call.write(b"b" * size)


def _server(handlers: Handlers, **options: Any) -> Server:
    server = Server(**options)
    server.add_stream_method("/test.Echo/Stream", handlers.echo, _identity, _identity)
    server.add_unary_method("/test.Echo/Unary", handlers.unary, _identity, _identity)
    server.add_stream_method("/test.Echo/Hang", handlers.hang, _identity, _identity)
    server.add_stream_method("/test.Echo/Fail", handlers.fail, _identity, _identity)
    server.add_stream_method("/test.Echo/Crash", handlers.crash, _identity, _identity)
    server.add_stream_method("/test.Echo/Big", handlers.big, _identity, _identity)
    server.add_stream_method("/test.Echo/Count", handlers.count, _identity, _identity)
    return server


@dataclass
class Running:
    server: Server
    handlers: Handlers
    address: str
    health: HealthService


@pytest.fixture(params=["unix", "tcp"])
async def running(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Running]:
    handlers = Handlers()
    server = _server(handlers)
    health = HealthService()
    health.register(server)
    listen = f"unix:{tmp_path}/w.sock" if request.param == "unix" else "127.0.0.1:0"
    (address,) = await server.start([listen])
    try:
        yield Running(server, handlers, address, health)
    finally:
        await server.stop(0.5)


def _channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)


# -- grpcio's client ------------------------------------------------------------------------------------


async def test_wire_streams_messages_both_ways_with_grpcio(running: Running) -> None:
    async with _channel(running.address) as channel:
        call = channel.stream_stream("/test.Echo/Stream")(metadata=[("traceparent", "00-1-2-01"), ("x-b", "2")])
        for text in (b"one", b"", b"three" * 1000):
            await call.write(text)
            assert await asyncio.wait_for(call.read(), TIMEOUT) == text
        await call.done_writing()
        assert await call.read() is grpc.aio.EOF
        assert await call.code() == grpc.StatusCode.OK
    (metadata,) = running.handlers.metadata
    assert metadata["traceparent"] == "00-1-2-01"
    assert metadata["x-b"] == "2"
    assert not any(name.startswith(":") for name in metadata)


async def test_wire_unary_with_grpcio(running: Running) -> None:
    async with _channel(running.address) as channel:
        assert await channel.unary_unary("/test.Echo/Unary")(b"abc", timeout=TIMEOUT) == b"cba"


async def test_wire_five_mib_messages_both_ways(running: Running) -> None:
    payload = bytes(range(256)) * (BIG // 256)
    async with _channel(running.address) as channel:
        call = channel.stream_stream("/test.Echo/Stream")()
        await call.write(payload)
        assert await asyncio.wait_for(call.read(), TIMEOUT) == payload
        await call.done_writing()
        assert await call.code() == grpc.StatusCode.OK
        big = await channel.stream_stream("/test.Echo/Big")([str(BIG).encode()], timeout=TIMEOUT).read()
        assert big == b"b" * BIG


async def test_wire_a_stalled_upload_resumes_when_the_handler_reads(running: Running) -> None:
    chunk = b"u" * (1 << 20)
    n = 40  # past the stream window plus what the server holds unread
    async with _channel(running.address) as channel:
        call = channel.stream_stream("/test.Echo/Count")()
        for _ in range(n):
            await asyncio.wait_for(call.write(chunk), TIMEOUT)
        await call.done_writing()
        assert await asyncio.wait_for(call.read(), TIMEOUT) == str(n * len(chunk)).encode()
        assert await call.code() == grpc.StatusCode.OK


async def test_wire_serves_200_concurrent_streams(running: Running) -> None:
    async with _channel(running.address) as channel:
        method = channel.stream_stream("/test.Echo/Stream")

        async def one(i: int) -> bytes:
            call = method()
            await call.write(b"%d" % i)
            reply = await call.read()
            await call.write(b"again")
            assert await call.read() == b"again"
            await call.done_writing()
            assert await call.code() == grpc.StatusCode.OK
            return bytes(reply)

        replies = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), TIMEOUT * 2)
    assert replies == [b"%d" % i for i in range(200)]


async def test_wire_client_cancel_mid_stream_cancels_the_handler(running: Running) -> None:
    async with _channel(running.address) as channel:
        call = channel.stream_stream("/test.Echo/Hang")()
        await call.write(b"x")
        await asyncio.wait_for(running.handlers.entered.wait(), TIMEOUT)
        call.cancel()
        await asyncio.wait_for(running.handlers.cancelled.wait(), TIMEOUT)
        # The connection goes on serving.
        assert await channel.unary_unary("/test.Echo/Unary")(b"ok", timeout=TIMEOUT) == b"ko"
    assert not running.server.tasks or all(t.done() for t in running.server.tasks)


async def test_wire_deadline_exceeded_cancels_the_handler(running: Running) -> None:
    async with _channel(running.address) as channel:
        call = channel.stream_stream("/test.Echo/Hang")(timeout=1.0)
        await call.write(b"x")
        assert await call.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await asyncio.wait_for(running.handlers.cancelled.wait(), TIMEOUT)


@pytest.mark.parametrize(
    ("method", "code", "details"),
    [
        ("/test.Nope/Missing", grpc.StatusCode.UNIMPLEMENTED, "Method not found: /test.Nope/Missing"),
        ("/test.Echo/Fail", grpc.StatusCode.INVALID_ARGUMENT, "bad ünïcode 100%\n"),
        ("/test.Echo/Crash", grpc.StatusCode.UNKNOWN, "Unexpected ValueError"),
    ],
    ids=["unknown-method", "rpc-error", "handler-exception"],
)
async def test_wire_error_statuses_reach_grpcio(
    running: Running, method: str, code: grpc.StatusCode, details: str
) -> None:
    async with _channel(running.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await channel.unary_unary(method)(b"x", timeout=TIMEOUT)
    assert err.value.code() == code
    assert err.value.details() == details


async def test_wire_message_over_the_limit_is_resource_exhausted(tmp_path: Path) -> None:
    server = _server(Handlers(), max_message_bytes=1024)
    (address,) = await server.start([f"unix:{tmp_path}/s.sock"])
    try:
        async with _channel(address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await channel.unary_unary("/test.Echo/Unary")(b"x" * 2048, timeout=TIMEOUT)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert await channel.unary_unary("/test.Echo/Unary")(b"x" * 1000, timeout=TIMEOUT) == b"x" * 1000
    finally:
        await server.stop(0.5)


async def test_wire_health_check_and_watch(running: Running) -> None:
    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    await running.health.set("", not_serving)
    async with _channel(running.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        assert (await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)).status == not_serving
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Check(health_pb2.HealthCheckRequest(service="unknown"), timeout=TIMEOUT)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await asyncio.wait_for(watch.read(), TIMEOUT)).status == not_serving
        await running.health.set("", serving)
        assert (await asyncio.wait_for(watch.read(), TIMEOUT)).status == serving
        await running.health.enter_graceful_shutdown()
        assert (await asyncio.wait_for(watch.read(), TIMEOUT)).status == not_serving
        await running.health.set("", serving)  # ignored from now on
        assert (await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)).status == not_serving
        unknown = stub.Watch(health_pb2.HealthCheckRequest(service="later"))
        first = await asyncio.wait_for(unknown.read(), TIMEOUT)
        assert first.status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        watch.cancel()
        unknown.cancel()


async def test_wire_stop_drains_in_flight_streams_and_refuses_new_ones(running: Running) -> None:
    async with _channel(running.address) as channel:
        call = channel.stream_stream("/test.Echo/Stream")()
        await call.write(b"before")
        assert await call.read() == b"before"
        stopping = asyncio.create_task(running.server.stop(TIMEOUT))
        await asyncio.sleep(0.2)
        await call.write(b"during")  # the stream in flight goes on
        assert await asyncio.wait_for(call.read(), TIMEOUT) == b"during"
        await call.done_writing()
        assert await call.code() == grpc.StatusCode.OK
        await asyncio.wait_for(stopping, TIMEOUT)
        async with _channel(running.address) as fresh:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await fresh.unary_unary("/test.Echo/Unary")(b"x", timeout=5)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_wire_stop_cancels_what_is_left_after_the_grace_period(running: Running) -> None:
    async with _channel(running.address) as channel:
        call = channel.stream_stream("/test.Echo/Hang")()
        await call.write(b"x")
        await asyncio.wait_for(running.handlers.entered.wait(), TIMEOUT)
        await asyncio.wait_for(running.server.stop(0.5), TIMEOUT)
        assert running.handlers.cancelled.is_set()
        assert await asyncio.wait_for(call.code(), TIMEOUT) != grpc.StatusCode.OK
    assert not running.server.connections


async def test_wire_ext_proc_through_the_real_processor_over_tcp() -> None:
    server = TriageServer(["127.0.0.1:0"], "wire")
    await server.start()
    (address,) = server.bound
    assert not address.endswith(":0")
    await server.ready(RuntimeHolder(build(load_config(), FakeClassifier(), Recorder(DecisionLog(io.StringIO())))))
    try:
        async with _channel(address) as channel:
            stub = ep_grpc.ExternalProcessorStub(channel)

            async def one() -> set[str]:
                stream = stub.Process(
                    metadata=[("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
                )
                pairs = [(":method", "POST"), (":path", "/v1/chat/completions"), ("content-type", "application/json")]
                header_map = base_pb2.HeaderMap(
                    headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs]
                )
                await stream.write(ep.ProcessingRequest(request_headers=ep.HttpHeaders(headers=header_map)))
                assert (await stream.read()).HasField("request_headers")
                body = b'{"model": "x", "messages": [{"role": "user", "content": "write a python function"}]}'
                await stream.write(ep.ProcessingRequest(request_body=ep.HttpBody(body=body, end_of_stream=True)))
                reply = await stream.read()
                await stream.write(
                    ep.ProcessingRequest(response_body=ep.HttpBody(body=b'{"choices": []}', end_of_stream=True))
                )
                assert (await stream.read()).HasField("response_body")
                assert await stream.read() is grpc.aio.EOF  # the server ended the call itself
                assert await stream.code() == grpc.StatusCode.OK
                return {h.header.key for h in reply.request_body.response.header_mutation.set_headers}

            for names in await asyncio.wait_for(asyncio.gather(*(one() for _ in range(20))), TIMEOUT * 2):
                assert "x-triage-route" in names
    finally:
        await server.shutdown(1.0)


# -- a raw HTTP/2 client ----------------------------------------------------------------------------------


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""
        self.decoder = HpackDecoder()

    @classmethod
    async def connect(cls, address: str, **settings: int) -> RawClient:
        if address.startswith("unix:"):
            reader, writer = await asyncio.open_unix_connection(address[len("unix:") :])
        else:
            host, port = address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
        client = cls(reader, writer)
        client.send(PREFACE + f.settings(**settings))
        return client

    def send(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.writer.write(chunk)

    async def until(self, done: Callable[[Frame], bool], wait: float = TIMEOUT) -> list[Frame]:
        """Frames read until one satisfies ``done`` (included)."""
        seen: list[Frame] = []

        async def read() -> list[Frame]:
            while True:
                frames, self.buffer = f.parse_frames(self.buffer)
                for frame in frames:
                    seen.append(frame)
                    if frame.kind == HEADERS:
                        frame.payload = bytes(frame.payload)
                    if done(frame):
                        return seen
                chunk = await self.reader.read(65536)
                if not chunk:
                    return seen
                self.buffer += chunk

        return await asyncio.wait_for(read(), wait)

    def headers(self, frame: Frame) -> dict[str, str]:
        return dict(self.decoder.decode(frame.payload))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def _is_trailers(stream_id: int) -> Callable[[Frame], bool]:
    return lambda x: x.stream_id == stream_id and x.kind == HEADERS and bool(x.flags & 0x1)


def _messages(frames: list[Frame], stream_id: int) -> list[bytes]:
    data = b"".join(x.payload for x in frames if x.kind == DATA and x.stream_id == stream_id)
    out, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos + 1)
        out.append(data[pos + 5 : pos + 5 + length])
        pos += 5 + length
    return out


async def _raw(running: Running, **settings: int) -> RawClient:
    client = await RawClient.connect(running.address, **settings)
    await client.until(lambda x: x.kind == SETTINGS and not x.flags)
    return client


async def test_wire_split_and_merged_messages_from_a_raw_client(running: Running) -> None:
    client = await _raw(running)
    try:
        wire = f.grpc_message(b"first") + f.grpc_message(b"second") + f.grpc_message(b"third" * 10)
        client.send(f.headers(1, f.request_block("/test.Echo/Stream", huffman=True)))
        # Two messages and a piece of the third in one frame; the rest a byte at a time, the prefix split too.
        client.send(f.data(1, wire[:20]))
        for i in range(20, len(wire)):
            client.send(f.data(1, wire[i : i + 1]))
        client.send(f.data(1, f.grpc_message(b"a") + f.grpc_message(b"b"), end_stream=True, pad=5))
        frames = await client.until(_is_trailers(1))
        assert _messages(frames, 1) == [b"first", b"second", b"third" * 10, b"a", b"b"]
        response = client.headers(next(x for x in frames if x.kind == HEADERS))
        assert response == {":status": "200", "content-type": "application/grpc"}
        assert client.headers(frames[-1]) == {"grpc-status": "0"}
    finally:
        await client.close()


async def test_wire_compressed_message_is_unimplemented(running: Running) -> None:
    client = await _raw(running)
    try:
        client.send(f.headers(1, f.request_block("/test.Echo/Stream")), f.data(1, f.grpc_message(b"z", True)))
        frames = await client.until(_is_trailers(1))
        assert client.headers(frames[-1])["grpc-status"] == str(Status.UNIMPLEMENTED.value)
    finally:
        await client.close()


async def test_wire_unknown_method_is_a_trailers_only_response(running: Running) -> None:
    client = await _raw(running)
    try:
        client.send(f.headers(1, f.request_block("/no.Such/Method"), end_stream=True))
        frames = await client.until(_is_trailers(1))
        (only,) = [x for x in frames if x.kind == HEADERS]
        fields = client.headers(only)
        assert fields[":status"] == "200"
        assert fields["grpc-status"] == "12"
    finally:
        await client.close()


async def test_wire_rst_stream_mid_stream_cancels_the_handler_and_the_connection_lives(running: Running) -> None:
    client = await _raw(running)
    try:
        client.send(f.headers(1, f.request_block("/test.Echo/Hang")), f.data(1, f.grpc_message(b"x")))
        await asyncio.wait_for(running.handlers.entered.wait(), TIMEOUT)
        client.send(f.rst_stream(1), f.data(1, f.grpc_message(b"late")))
        await asyncio.wait_for(running.handlers.cancelled.wait(), TIMEOUT)
        client.send(f.headers(3, f.request_block("/test.Echo/Stream")), f.data(3, f.grpc_message(b"y"), True))
        frames = await client.until(_is_trailers(3))
        assert _messages(frames, 3) == [b"y"]
    finally:
        await client.close()


async def test_wire_flow_control_stall_and_resume_with_a_tiny_peer_window(running: Running) -> None:
    client = await _raw(running, initial_window_size=16)
    try:
        client.send(f.headers(1, f.request_block("/test.Echo/Big")), f.data(1, f.grpc_message(b"100"), True))
        first = await client.until(lambda x: x.kind == DATA and x.stream_id == 1)
        assert sum(len(x.payload) for x in first if x.kind == DATA) == 16
        with pytest.raises(TimeoutError):
            await client.until(lambda x: x.stream_id == 1, wait=0.3)  # stalled: no more data, no trailers
        client.send(f.window_update(1, 50))
        more = await client.until(lambda x: x.kind == DATA and x.stream_id == 1)
        assert [len(x.payload) for x in more if x.kind == DATA] == [50]
        client.send(f.settings(initial_window_size=1000))  # the rest, via a larger initial window
        rest = await client.until(_is_trailers(1))
        assert sum(len(x.payload) for x in rest if x.kind == DATA) == 105 - 66
    finally:
        await client.close()


async def test_wire_protocol_error_sends_goaway_and_closes(running: Running) -> None:
    client = await _raw(running)
    try:
        client.send(f.data(0, b"nope"))
        frames = await client.until(lambda x: x.kind == GOAWAY)
        assert struct.unpack(">II", frames[-1].payload[:8])[1] == 1  # PROTOCOL_ERROR
        assert await asyncio.wait_for(client.reader.read(), TIMEOUT) == b""  # closed
    finally:
        await client.close()


async def test_wire_graceful_stop_sends_two_goaways_around_a_ping(running: Running) -> None:
    client = await _raw(running)
    try:
        client.send(f.headers(1, f.request_block("/test.Echo/Stream")))
        await asyncio.sleep(0.1)
        stopping = asyncio.create_task(running.server.stop(TIMEOUT))
        frames = await client.until(lambda x: x.kind == 0x6)  # PING
        first = next(x for x in frames if x.kind == GOAWAY)
        assert struct.unpack(">II", first.payload[:8]) == (2**31 - 1, 0)
        client.send(f.frame(0x6, 0x1, 0, frames[-1].payload))  # PING ACK
        frames = await client.until(lambda x: x.kind == GOAWAY)
        assert struct.unpack(">II", frames[-1].payload[:8]) == (1, 0)
        client.send(f.headers(3, f.request_block("/test.Echo/Stream"), end_stream=True))  # ignored: above 1
        client.send(f.data(1, f.grpc_message(b"last"), end_stream=True))
        frames = await client.until(_is_trailers(1))
        assert _messages(frames, 1) == [b"last"]
        assert not any(x.stream_id == 3 for x in frames)
        await asyncio.wait_for(stopping, TIMEOUT)
        assert await asyncio.wait_for(client.reader.read(), TIMEOUT) == b""
    finally:
        await client.close()


async def test_wire_stream_ended_inside_a_message_is_internal(running: Running) -> None:
    client = await _raw(running)
    try:
        client.send(f.headers(1, f.request_block("/test.Echo/Stream")), f.data(1, f.grpc_message(b"abc")[:6], True))
        frames = await client.until(_is_trailers(1))
        assert client.headers(frames[-1])["grpc-status"] == str(Status.INTERNAL.value)
    finally:
        await client.close()


async def test_wire_rejects_non_grpc_requests_with_http_errors(running: Running) -> None:
    client = await _raw(running)
    try:
        block = f.indexed(2) + f.indexed(6) + b"\x04" + f.string("/test.Echo/Stream")  # GET
        client.send(f.headers(1, block, end_stream=True))
        frames = await client.until(lambda x: x.kind == HEADERS and x.stream_id == 1)
        assert client.headers(frames[-1]) == {":status": "405"}
        block = (
            f.indexed(3)
            + f.indexed(6)
            + b"\x04"
            + f.string("/test.Echo/Stream")
            + f.literal("content-type", "text/plain")
        )
        client.send(f.headers(3, block, end_stream=True))
        frames = await client.until(lambda x: x.kind == HEADERS and x.stream_id == 3)
        assert client.headers(frames[-1]) == {":status": "415"}
    finally:
        await client.close()


async def test_wire_a_writer_waits_while_its_stream_is_stalled(tmp_path: Path) -> None:
    progress: list[int] = []

    async def flood(call: ServerCall[bytes, bytes]) -> None:
        await call.read()
        for i in range(8):
            await call.write(b"f" * (512 * 1024))
            progress.append(i)

    server = Server()
    server.add_stream_method("/test.Flood/Go", flood, _identity, _identity)
    (address,) = await server.start([f"unix:{tmp_path}/f.sock"])
    client = await RawClient.connect(address, initial_window_size=0)
    try:
        client.send(f.headers(1, f.request_block("/test.Flood/Go")), f.data(1, f.grpc_message(b""), True))
        await asyncio.sleep(0.5)
        # Nothing could be sent: the handler queued up to the high-water mark and then waited.
        assert len(progress) < 4
        client.send(f.settings(initial_window_size=2**31 - 1), f.window_update(0, 2**31 - 1 - 65_535))
        frames = await client.until(_is_trailers(1))
        assert sum(len(x.payload) for x in frames if x.kind == DATA) == 8 * (512 * 1024 + 5)
        assert progress == list(range(8))
    finally:
        await client.close()
        await server.stop(0.5)
