"""A single-threaded asyncio gRPC server on ``_h2``: listeners, the method registry, calls, graceful stop.

Everything runs on the event loop: one ``asyncio.Protocol`` per connection parses frames as they arrive and
hands each complete gRPC message to its call; each call runs its handler as a task. A handler reads with
``await call.read()`` (``None`` once the client has half-closed) and answers with ``await call.write(msg)``,
which puts the message on the socket before returning (so work done after it is off the request path) and
waits only when the peer's flow-control window or the socket is full. A handler that returns ends the call
with status OK; ``RpcError`` ends it with its status; any other exception with UNKNOWN.

Methods are registered by their HTTP/2 path (``/package.Service/Method``): stream handlers (bidirectional or
server streaming) and unary handlers. An unknown path gets a trailers-only UNIMPLEMENTED; a compressed message
UNIMPLEMENTED (the server offers no compression); a message over ``max_message_bytes`` RESOURCE_EXHAUSTED;
``grpc-timeout`` is honoured (DEADLINE_EXCEEDED). Response header and trailer blocks are encoded once.

Stopping (``stop(grace)``): stop accepting; on each connection GOAWAY(2^31-1) and a PING, then, once the PING
is answered, GOAWAY with the last stream id; streams in flight finish within ``grace``; what is left is
cancelled (RST_STREAM CANCEL, handlers cancelled) and the connections are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Generic, TypeVar, cast

from triage.wire._h2 import (
    MAX_WINDOW,
    ErrorCode,
    H2Connection,
    H2Stream,
    literal_field,
)

log = logging.getLogger("triage.wire")

Req = TypeVar("Req")
Resp = TypeVar("Resp")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
WRITE_HIGH_WATER = 1024 * 1024  # a writer waits while more than this of its stream is queued behind windows
PARTIAL_CAP = 256 * 1024 * 1024  # bytes of incomplete messages per connection (RESOURCE_EXHAUSTED above)
GOAWAY_PING = b"triage\x00\x01"  # the PING that brackets the first GOAWAY of a graceful stop
GOAWAY_PING_WAIT = 1.0  # seconds to wait for its answer before the final GOAWAY anyway
_PREFIX = struct.Struct(">BI")


class Status(IntEnum):
    """gRPC status codes."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class RpcError(Exception):
    """Raised by a handler (or by ``read``) to end the call with ``status``."""

    def __init__(self, status: Status, details: str = "") -> None:
        super().__init__(details or status.name)
        self.status = status
        self.details = details


# -- pre-encoded header blocks (literal, never indexed by the peer) -------------------------------------

_STATUS_200 = b"\x88"  # static table index 8
_CONTENT_TYPE = literal_field(31, b"application/grpc")  # static table name index 31
RESPONSE_HEADERS = _STATUS_200 + _CONTENT_TYPE


def _percent_encode(details: str) -> bytes:
    out = bytearray()
    for byte in details.encode("utf-8"):
        if 0x20 <= byte <= 0x7E and byte != 0x25:
            out.append(byte)
        else:
            out += b"%%%02X" % byte
    return bytes(out)


def _trailer_fields(status: Status, details: str) -> bytes:
    block = literal_field(b"grpc-status", str(int(status)).encode())
    if details:
        block += literal_field(b"grpc-message", _percent_encode(details))
    return block


_TRAILERS = {s: _trailer_fields(s, "") for s in Status}
_TRAILERS_ONLY = {s: RESPONSE_HEADERS + _TRAILERS[s] for s in Status}


def trailers_block(status: Status, details: str = "", *, headers_sent: bool = True) -> bytes:
    """The trailers of a call (with the response headers too when none were sent: trailers-only)."""
    if not details:
        return _TRAILERS[status] if headers_sent else _TRAILERS_ONLY[status]
    fields = _trailer_fields(status, details)
    return fields if headers_sent else RESPONSE_HEADERS + fields


def _http_error(status: int) -> bytes:
    return literal_field(8, str(status).encode())  # ":status" by its static name index


def parse_timeout(value: str) -> float | None:
    """A ``grpc-timeout`` value in seconds (None if malformed)."""
    units = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
    if len(value) < 2 or len(value) > 9 or value[-1] not in units or not value[:-1].isdigit():
        return None
    return int(value[:-1]) * units[value[-1]]


# -- calls ----------------------------------------------------------------------------------------------


class ServerCall(H2Stream, Generic[Req, Resp]):
    """One RPC: its request metadata, its messages in, its messages out."""

    __slots__ = (
        "_deadline",
        "_deserialize",
        "_drain",
        "_finished",
        "_headers_sent",
        "_messages",
        "_partial",
        "_partial_need",
        "_prefix",
        "_serialize",
        "_task",
        "_waiter",
        "conn",
        "metadata",
        "method",
    )

    def __init__(self, stream_id: int, send_window: int) -> None:
        super().__init__(stream_id, send_window)
        self.conn: GrpcConnection | None = None
        self.method = ""
        self.metadata: dict[str, str] = {}
        self._deserialize: Callable[[bytes], Req] = _unset
        self._serialize: Callable[[Resp], bytes] = _unset
        self._messages: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._partial: bytearray | None = None
        self._partial_need = 0
        self._prefix = b""
        self._headers_sent = False
        self._finished = False
        self._task: asyncio.Task[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def finished(self) -> bool:
        """The call's status has been sent (or the stream is gone)."""
        return self._finished or self.reset

    async def read(self) -> Req | None:
        """The next request message; ``None`` once the client has half-closed and all were read."""
        while True:
            messages = self._messages
            if messages:
                data = messages.popleft()
                conn = self.conn
                assert conn is not None
                conn.release(self, len(data) + 5)
                conn.flush()  # a window update, if reading this unstalled the peer
                try:
                    return self._deserialize(data)
                except Exception:
                    raise RpcError(Status.INTERNAL, "could not parse the request message") from None
            if self.remote_closed or self.reset:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None

    async def write(self, message: Resp, *, end: bool = False) -> None:
        """Send one message (``end``: and then the OK status, in the same write). On the socket when this returns,
        unless the peer's window is closed; waits while more than ``WRITE_HIGH_WATER`` is queued."""
        conn = self.conn
        if conn is None or self.finished:
            return
        data = self._serialize(message)
        if not self._headers_sent:
            self._headers_sent = True
            conn.send_headers(self, RESPONSE_HEADERS)
        size = len(data)
        if size < 65536:
            conn.send_data(self, _PREFIX.pack(0, size) + data)
        else:
            conn.send_data(self, _PREFIX.pack(0, size))
            conn.send_data(self, data)
        if end:
            self.finish()
        conn.flush()
        if self.pending_bytes > WRITE_HIGH_WATER or conn.paused:
            await self._writable()

    def finish(self, status: Status = Status.OK, details: str = "") -> None:
        """Send the status (trailers) after the queued messages; the call is over."""
        conn = self.conn
        if conn is None or self.finished:
            return
        self._finished = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        conn.send_headers(self, trailers_block(status, details, headers_sent=self._headers_sent), end_stream=True)
        self._headers_sent = True

    async def _writable(self) -> None:
        conn = self.conn
        assert conn is not None
        while not self.reset and (self.pending_bytes > WRITE_HIGH_WATER or conn.paused):
            drain = asyncio.get_running_loop().create_future()
            self._drain = drain
            try:
                await drain
            finally:
                self._drain = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)


def _unset(_: Any) -> Any:
    raise RuntimeError("a call without a method")


StreamHandler = Callable[[ServerCall[Req, Resp]], Awaitable[None]]
UnaryHandler = Callable[[Req, ServerCall[Req, Resp]], Awaitable[Resp]]


@dataclass(frozen=True)
class Method(Generic[Req, Resp]):
    path: str
    handler: StreamHandler[Req, Resp]
    deserialize: Callable[[bytes], Req]
    serialize: Callable[[Resp], bytes]


# -- connections ----------------------------------------------------------------------------------------


class GrpcConnection(H2Connection, asyncio.Protocol):
    """One client connection: HTTP/2 state plus gRPC framing, one task per call."""

    stream_class = ServerCall

    def __init__(self, server: Server) -> None:
        super().__init__()
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.partial_bytes = 0  # incomplete messages held across the connection's calls
        self.draining = False
        self._final_goaway_sent = False
        self._idle_close_scheduled = False

    # -- asyncio.Protocol ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.write_out = self._write
        self.server.connections.add(self)
        self.initiate()
        self.flush()
        if self.server.draining:
            self.begin_drain()

    def data_received(self, data: bytes) -> None:
        try:
            self.receive(data)
        except Exception:  # a bug here must not kill the loop, nor leave the peer hanging
            log.exception("internal error on an HTTP/2 connection")
            self.connection_error(ErrorCode.INTERNAL_ERROR, "internal error")

    def eof_received(self) -> bool | None:
        return None  # close the transport (the peer will send nothing more)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self.abort_streams(ErrorCode.CANCEL)
        self.server.connections.discard(self)
        self.server._connection_gone()

    def pause_writing(self) -> None:
        # The peer is not reading: stop reading from it too, so that what it sends cannot make us queue replies
        # (PING and SETTINGS acknowledgements, window updates) without bound.
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
        for stream in list(self.streams.values()):
            cast(ServerCall[Any, Any], stream)._wake_writer()

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def close_transport(self) -> None:
        self.flush()
        if self.transport is not None:
            self.transport.close()

    # -- H2Connection hooks ------------------------------------------------------------------------------

    def on_request(self, stream: H2Stream, headers: list[tuple[str, str]]) -> None:
        call = cast(ServerCall[Any, Any], stream)
        call.conn = self
        path = method = content_type = timeout = ""
        metadata = call.metadata
        for name, value in headers:
            if name[0] == ":":
                if name == ":path":
                    path = value
                elif name == ":method":
                    method = value
            else:
                if name == "content-type":
                    content_type = value
                elif name == "grpc-timeout":
                    timeout = value
                metadata[name] = value
        call.method = path
        if method != "POST" or not path:
            self.send_headers(call, _http_error(405 if path else 400), end_stream=True)
            return
        if not content_type.startswith("application/grpc"):
            self.send_headers(call, _http_error(415), end_stream=True)
            return
        registered = self.server.methods.get(path)
        if registered is None:
            call.finish(Status.UNIMPLEMENTED, f"Method not found: {path}")
            return
        call._deserialize = registered.deserialize
        call._serialize = registered.serialize
        if timeout:
            seconds = parse_timeout(timeout)
            if seconds is not None:
                call._deadline = self.loop.call_later(seconds, self._deadline_expired, call)
        task = self.loop.create_task(self._run(call, registered.handler))
        call._task = task
        tasks = self.server.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def on_data(self, stream: H2Stream, data: memoryview, end_stream: bool) -> None:
        call = cast(ServerCall[Any, Any], stream)
        if data and not self._feed(call, data):
            return
        if end_stream:
            if call._partial is not None or call._prefix:
                self._fail(call, Status.INTERNAL, "the request ended inside a message")
                return
            call._wake()

    def on_reset(self, stream: H2Stream, code: ErrorCode) -> None:
        call = cast(ServerCall[Any, Any], stream)
        self._drop_partial(call)
        if call._deadline is not None:
            call._deadline.cancel()
            call._deadline = None
        task = call._task
        if task is not None and not task.done():
            task.cancel()
        call._wake()
        call._wake_writer()

    def on_stream_closed(self, stream: H2Stream) -> None:
        self._drop_partial(cast(ServerCall[Any, Any], stream))
        if (self.draining or self.goaway_received) and not self.streams:
            self._schedule_idle_close()

    def on_send_progress(self, stream: H2Stream) -> None:
        if stream.pending_bytes <= WRITE_HIGH_WATER:
            cast(ServerCall[Any, Any], stream)._wake_writer()

    def on_goaway(self, code: ErrorCode, last_stream_id: int) -> None:
        if not self.streams:
            self._schedule_idle_close()

    def on_ping_ack(self, payload: bytes) -> None:
        if payload == GOAWAY_PING and self.draining:
            self._final_goaway()

    # -- gRPC messages -----------------------------------------------------------------------------------

    def _feed(self, call: ServerCall[Any, Any], data: memoryview) -> bool:
        """Split DATA into messages (a message may span frames; a frame may hold several). False: call failed."""
        pos, size = 0, len(data)
        partial = call._partial
        if partial is not None:
            take = min(call._partial_need, size)
            partial += data[:take]
            call._partial_need -= take
            self.partial_bytes += take
            if call._partial_need:
                return True
            call._partial = None
            self.partial_bytes -= len(partial)
            self._deliver(call, bytes(partial))
            pos = take
        if call._prefix:
            data = memoryview(call._prefix + bytes(data[pos:]))
            call._prefix = b""
            pos, size = 0, len(data)
        max_message = self.server.max_message_bytes
        while pos < size:
            if size - pos < 5:
                call._prefix = bytes(data[pos:])
                return True
            flags, length = _PREFIX.unpack_from(data, pos)
            pos += 5
            if flags:
                self._fail(call, Status.UNIMPLEMENTED, "compressed messages are not supported")
                return False
            if length > max_message:
                self._fail(
                    call, Status.RESOURCE_EXHAUSTED, f"message of {length} bytes over the limit of {max_message}"
                )
                return False
            end = pos + length
            if end <= size:
                self._deliver(call, bytes(data[pos:end]))
                pos = end
                continue
            have = size - pos
            if self.partial_bytes + length > PARTIAL_CAP:
                self._fail(call, Status.RESOURCE_EXHAUSTED, "too many large messages in flight on this connection")
                return False
            call._partial = bytearray(data[pos:])
            call._partial_need = length - have
            self.partial_bytes += have
            return True
        return True

    def _deliver(self, call: ServerCall[Any, Any], message: bytes) -> None:
        call._messages.append(message)
        self.hold(call, len(message) + 5)
        call._wake()

    def _drop_partial(self, call: ServerCall[Any, Any]) -> None:
        if call._partial is not None:
            self.partial_bytes -= len(call._partial)
            call._partial = None

    def _fail(self, call: ServerCall[Any, Any], status: Status, details: str) -> None:
        """End the call now with ``status`` (the handler is cancelled)."""
        self._drop_partial(call)
        task = call._task
        call.finish(status, details)
        if task is not None and not task.done():
            task.cancel()

    def _deadline_expired(self, call: ServerCall[Any, Any]) -> None:
        call._deadline = None
        if call.finished:
            return
        self._fail(call, Status.DEADLINE_EXCEEDED, "Deadline Exceeded")
        self.flush()

    async def _run(self, call: ServerCall[Any, Any], handler: StreamHandler[Any, Any]) -> None:
        status, details = Status.OK, ""
        try:
            await handler(call)
        except asyncio.CancelledError:
            # We cancelled it: the stream was reset (nothing to send), or the call already has its status.
            return
        except RpcError as err:
            status, details = err.status, err.details
        except Exception as err:
            log.exception("gRPC handler %s failed", call.method)
            status, details = Status.UNKNOWN, f"Unexpected {type(err).__name__}"
        if not call.finished:
            call.finish(status, details)
            self.flush()

    # -- closing -----------------------------------------------------------------------------------------

    def begin_drain(self) -> None:
        """Graceful stop, step 1: GOAWAY(2^31-1) (no new streams soon) and a PING to learn what crossed it."""
        if self.draining or self.closed:
            return
        self.draining = True
        self.send_goaway(MAX_WINDOW)
        self.send_ping(GOAWAY_PING)
        self.flush()
        self.loop.call_later(GOAWAY_PING_WAIT, self._final_goaway)

    def _final_goaway(self) -> None:
        """Step 2: GOAWAY with the last stream id; streams up to it finish, then the connection closes."""
        if self._final_goaway_sent or self.closed:
            return
        self._final_goaway_sent = True
        self.send_goaway(self.last_stream_id)
        self.flush()
        if not self.streams:
            self._schedule_idle_close()

    def _schedule_idle_close(self) -> None:
        if not self._idle_close_scheduled:
            self._idle_close_scheduled = True
            self.loop.call_soon(self._close_if_idle)

    def _close_if_idle(self) -> None:
        self._idle_close_scheduled = False
        if self.streams or self.closed:
            return
        if self.draining and not self._final_goaway_sent:
            return  # the final GOAWAY closes it
        self.closed = True
        self.close_transport()

    def abort(self) -> None:
        """The grace period is over: cancel every stream left and close."""
        if self.closed:
            return
        for stream in list(self.streams.values()):
            self.reset_stream(stream, ErrorCode.CANCEL)
            self.on_reset(stream, ErrorCode.CANCEL)
        self.closed = True
        self.close_transport()


# -- the server -----------------------------------------------------------------------------------------


class Server:
    """Listens on ``unix:/path`` and ``host:port`` addresses and serves the registered methods."""

    def __init__(self, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.methods: dict[str, Method[Any, Any]] = {}
        self.max_message_bytes = max_message_bytes
        self.connections: set[GrpcConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()  # running handlers
        self.draining = False
        self._listeners: list[asyncio.AbstractServer] = []
        self._unix_paths: list[tuple[str, int]] = []  # (path, inode) of the sockets this server created
        self._idle: asyncio.Event | None = None
        self._stopped: asyncio.Event | None = None

    def add_stream_method(
        self,
        path: str,
        handler: StreamHandler[Req, Resp],
        deserialize: Callable[[bytes], Req],
        serialize: Callable[[Resp], bytes],
    ) -> None:
        """A streaming method (bidirectional or server streaming): the handler reads and writes its call."""
        self.methods[path] = Method(path, handler, deserialize, serialize)

    def add_unary_method(
        self,
        path: str,
        handler: UnaryHandler[Req, Resp],
        deserialize: Callable[[bytes], Req],
        serialize: Callable[[Resp], bytes],
    ) -> None:
        """A unary method: ``handler(request, call)`` returns the response."""

        async def unary(call: ServerCall[Req, Resp]) -> None:
            request = await call.read()
            if request is None:
                raise RpcError(Status.INTERNAL, "a unary call without a request message")
            await call.write(await handler(request, call), end=True)

        self.methods[path] = Method(path, unary, deserialize, serialize)

    async def start(self, addresses: list[str]) -> list[str]:
        """Listen on every address; returns them as bound (a port 0 replaced by the real port)."""
        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        bound = []
        for address in addresses:
            if address.startswith("unix:"):
                path = address[len("unix:") :]
                listener = await loop.create_unix_server(lambda: GrpcConnection(self), path)
                self._listeners.append(listener)
                self._unix_paths.append((path, os.stat(path).st_ino))
                bound.append(address)
                continue
            host, port_text = address.rsplit(":", 1)
            bind_host = host[1:-1] if host.startswith("[") else host
            port = int(port_text)
            listener = await loop.create_server(lambda: GrpcConnection(self), bind_host, port, reuse_address=True)
            sockets = listener.sockets
            actual = sockets[0].getsockname()[1]
            if port == 0 and len(sockets) > 1:  # several addresses for one name: the same port on each
                listener.close()
                listener = await loop.create_server(lambda: GrpcConnection(self), bind_host, actual, reuse_address=True)
            self._listeners.append(listener)
            bound.append(f"{host}:{actual}")
        return bound

    def _connection_gone(self) -> None:
        if not self.connections and self._idle is not None:
            self._idle.set()

    async def stop(self, grace: float) -> None:
        """Stop accepting, drain in-flight streams for up to ``grace`` seconds, then cancel the rest and close."""
        if self.draining:
            await self.wait_closed()
            return
        self.draining = True
        for listener in self._listeners:
            listener.close()
        for path, inode in self._unix_paths:
            with contextlib.suppress(OSError):
                info = os.stat(path)
                if stat.S_ISSOCK(info.st_mode) and info.st_ino == inode:
                    os.unlink(path)
        self._idle = asyncio.Event()
        for conn in list(self.connections):
            conn.begin_drain()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
        for conn in list(self.connections):
            conn.abort()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=5.0)
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 5.0)
        if self._stopped is not None:
            self._stopped.set()

    async def wait_closed(self) -> None:
        """Until ``stop`` has finished."""
        if self._stopped is not None:
            await self._stopped.wait()
