"""Just enough HTTP/1.1 for a fake upstream: read one request at a time, frame responses exactly.

Contracts:
- ``read_request`` returns ``None`` when the peer closes the connection cleanly between requests, and
  raises ``HttpError`` for a request this server will not serve (the caller answers it and closes).
- Request bodies arrive with ``Content-Length`` or ``Transfer-Encoding: chunked`` (trailers are read and
  dropped); ``Expect: 100-continue`` is answered before the body is read.
- Header names are lower-cased; a repeated header's values are joined with ``", "``.
- Responses are framed by the caller with ``response_head`` plus either a ``Content-Length`` body or
  ``chunk`` / ``LAST_CHUNK``: this module never decides when to flush.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

MAX_HEAD_BYTES = 64 * 1024  # the StreamReader limit, so readuntil fails fast on a runaway head
MAX_BODY_BYTES = 64 * 1024 * 1024  # far above Envoy's 1 MiB default buffer; only guards memory
LAST_CHUNK = b"0\r\n\r\n"

_HEX = frozenset(string.hexdigits)
_TOKEN = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")


class HttpError(Exception):
    """A request that cannot be served; ``status`` is the answer to send before closing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed request. ``path`` excludes the query string; ``body`` is the de-chunked payload."""

    method: str
    target: str
    version: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 persists unless ``Connection: close``; HTTP/1.0 only with ``keep-alive``."""
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    """Read the next request from a persistent connection (``writer`` is used for ``100 Continue``)."""
    head = b""
    while not head:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial.strip():
                return None
            raise HttpError(400, "connection closed inside the request head") from exc
        except asyncio.LimitOverrunError as exc:
            raise HttpError(431, "request head too large") from exc
        # RFC 9112 §2.2: a server should ignore empty lines received before the request line.
        head = raw.lstrip(b"\r\n")
    method, target, version, headers = _parse_head(head)
    body = await _read_body(reader, writer, version, headers)
    return Request(method=method, target=target, version=version, headers=headers, body=body)


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not set(parts[0]) <= _TOKEN or not parts[1]:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(505, f"unsupported version {version!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        # Obsolete line folding and whitespace before the colon are request-smuggling vectors.
        if not sep or not name or not set(name) <= _TOKEN:
            raise HttpError(400, "malformed header line")
        key = name.lower()
        value = value.strip(" \t")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return method, target, version, headers


async def _read_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, version: str, headers: Mapping[str, str]
) -> bytes:
    encoding = headers.get("transfer-encoding")
    length = headers.get("content-length")
    if encoding is not None and length is not None:
        raise HttpError(400, "both Transfer-Encoding and Content-Length")
    if encoding is None and length is None:
        return b""
    if encoding is not None and encoding.strip().lower() != "chunked":
        raise HttpError(501, f"unsupported transfer-encoding {encoding!r}")
    size = _content_length(length) if length is not None else None
    if size is not None and size > MAX_BODY_BYTES:
        raise HttpError(413, "request body too large")
    if version == "HTTP/1.1" and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    try:
        if size is not None:
            return await reader.readexactly(size)
        return await _read_chunked(reader)
    except asyncio.IncompleteReadError as exc:
        raise HttpError(400, "connection closed inside the request body") from exc
    except asyncio.LimitOverrunError as exc:
        raise HttpError(400, "chunk framing line too long") from exc


def _content_length(value: str) -> int:
    # A repeated header arrives joined; identical repeats are allowed (RFC 9110 §8.6), others are not.
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        raise HttpError(400, "conflicting Content-Length values")
    (text,) = values
    if not text.isdigit() or not text.isascii():
        raise HttpError(400, "invalid Content-Length")
    return int(text)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line[:-2].split(b";", 1)[0].strip().decode("latin-1")
        if not size_text or not set(size_text) <= _HEX:
            raise HttpError(400, "invalid chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY_BYTES:
            raise HttpError(413, "request body too large")
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError(400, "chunk not terminated by CRLF")
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass  # trailer fields carry nothing this server uses
    return b"".join(parts)


def response_head(status: int, headers: Iterable[tuple[str, str]]) -> bytes:
    """Status line and headers, ending with the blank line; a ``date`` header is always added."""
    lines = [f"HTTP/1.1 {status} {_reason(status)}", f"date: {formatdate(usegmt=True)}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` body (must not be empty: that ends the body)."""
    if not data:
        raise ValueError("an empty chunk would terminate the body")
    return b"%x\r\n%s\r\n" % (len(data), data)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
