"""The escalated call: the request sent again through Envoy's own listener, so that Envoy dispatches it (retries,
failover, credentials, circuit breaking) exactly as any request to the stronger route.

A minimal HTTP/1.1 client on asyncio (one connection per call, ``connection: close``): the call is rare (a capped
share of one tier's requests) and must be cancellable at any point — when the client of the original request goes
away, the original ext_proc stream ends and the task awaiting ``post`` is cancelled, which closes the connection,
and Envoy resets the strong provider's request. Reads a response with a ``content-length`` or chunked, up to
``max_bytes``; anything else is an ``EscalationCallError`` (the cheap answer then ships).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass


class EscalationCallError(Exception):
    """The escalated call did not give a complete response; the message says why."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; the last value of a repeated header
    body: bytes


_HOP = frozenset(("connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length", "host"))


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


async def post(
    address: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    timeout_s: float,
    max_bytes: int = 16 * 1024 * 1024,
) -> Response:
    """``POST path`` with ``body`` to Envoy's listener at ``address`` (``host:port``), within ``timeout_s``."""
    try:
        return await asyncio.wait_for(_post(address, path, headers, body, max_bytes), timeout_s)
    except TimeoutError:
        raise EscalationCallError(f"no complete response within {timeout_s * 1000:.0f} ms") from None
    except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as err:
        raise EscalationCallError(f"{type(err).__name__}: {err}") from None


async def _post(address: str, path: str, headers: Mapping[str, str], body: bytes, max_bytes: int) -> Response:
    host, port = _split(address)
    reader, writer = await asyncio.open_connection(host, port, limit=256 * 1024)
    try:
        lines = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", f"content-length: {len(body)}", "connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in _HOP and not k.startswith(":")]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await reader.readuntil(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ValueError(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
        status = int(parts[1])
        out: dict[str, str] = {}
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            out[name.strip().lower()] = value.strip()
        if "content-length" in out:
            size = int(out["content-length"])
            if size > max_bytes:
                raise ValueError(f"response of {size} bytes is over the limit of {max_bytes}")
            data = await reader.readexactly(size)
        elif out.get("transfer-encoding", "").lower() == "chunked":
            data = await _chunked(reader, max_bytes)
        else:
            data = await reader.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise ValueError(f"response over the limit of {max_bytes} bytes")
        return Response(status, out, data)
    finally:
        writer.close()


async def _chunked(reader: asyncio.StreamReader, max_bytes: int) -> bytes:
    data = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return bytes(data)
        if len(data) + size > max_bytes:
            raise ValueError(f"response over the limit of {max_bytes} bytes")
        data += await reader.readexactly(size)
        await reader.readexactly(2)
