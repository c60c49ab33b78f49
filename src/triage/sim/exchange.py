"""One response on one connection, and a record of what was actually put on the wire.

``Exchange`` is the only writer of responses: whatever a handler or a fault does, ``status``,
``outcome``, ``events`` and ``keep_alive`` afterwards say what the client saw, and the connection loop
uses ``keep_alive`` to decide whether to read another request.

Every write is followed by ``drain()`` so each SSE event leaves as its own TCP send. A write after the
peer closed its side raises ``ConnectionResetError`` (recorded as ``client_gone``) instead of pushing an
answer nobody reads: that is how an Envoy per-try timeout shows up here. HTTP clients, Envoy included,
do not half-close while they wait for a response, so end-of-input means the client has gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Iterable, Sequence

import orjson

from triage.sim.attempts import Outcome
from triage.sim.http import LAST_CHUNK, chunk, response_head

Headers = Sequence[tuple[str, str]]
JSON = "application/json"
SSE = "text/event-stream; charset=utf-8"


class Exchange:
    """Writes one response. ``chunked`` is False for HTTP/1.0 peers: a stream then ends by closing."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        keep_alive: bool,
        chunked: bool,
        headers: Headers = (),
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._chunked = chunked
        self._headers = list(headers)
        self.keep_alive = keep_alive
        self.status: int | None = None
        self.outcome: Outcome = "pending"
        self.events = 0

    async def send(self, status: int, body: bytes, content_type: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        """A complete response framed by ``Content-Length``."""
        head = self._head(status, [("content-type", content_type), ("content-length", str(len(body))), *headers])
        await self._write(head + body, status)
        self.outcome = "answered"

    async def send_json(self, status: int, obj: object, headers: Iterable[tuple[str, str]] = ()) -> None:
        await self.send(status, orjson.dumps(obj), JSON, headers)

    async def send_truncated(self, status: int, body: bytes, content_type: str) -> None:
        """Announce the full ``Content-Length``, send only the first half of the body, then close."""
        head = self._head(status, [("content-type", content_type), ("content-length", str(len(body)))])
        await self._write(head + body[: len(body) // 2], status)
        self._close_early()

    async def start_stream(self, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Send the headers of an SSE response; the body follows as ``event`` calls."""
        framing = [("transfer-encoding", "chunked")] if self._chunked else []
        if not self._chunked:
            self.keep_alive = False  # without chunking only closing the connection ends the body
        await self._write(
            self._head(status, [("content-type", SSE), ("cache-control", "no-cache"), *framing, *headers]), status
        )

    async def event(self, data: bytes) -> None:
        """One SSE event, as its own HTTP chunk, written and drained at once."""
        await self._write(chunk(data) if self._chunked else data)
        self.events += 1

    async def end_stream(self) -> None:
        if self._chunked:
            await self._write(LAST_CHUNK)
        self.outcome = "answered"

    def close_mid_stream(self) -> None:
        """End the connection (FIN after the data already written) without finishing the body."""
        self._close_early()

    def reset(self) -> None:
        """Abort the connection with a TCP RST and no response: SO_LINGER 0, then close."""
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()
        self.outcome = "reset"
        self.keep_alive = False

    def _close_early(self) -> None:
        self._writer.close()
        self.outcome = "closed_mid_stream"
        self.keep_alive = False

    def _head(self, status: int, headers: Iterable[tuple[str, str]]) -> bytes:
        closing = [] if self.keep_alive else [("connection", "close")]
        return response_head(status, [*self._headers, *headers, *closing])

    async def _write(self, data: bytes, status: int | None = None) -> None:
        """Write and drain; ``status`` marks ``data`` as carrying a status line (recorded once sent)."""
        if self._writer.is_closing() or self._reader.at_eof():
            raise ConnectionResetError("peer closed the connection")
        if status is not None:
            self.status = status
        self._writer.write(data)
        await self._writer.drain()
