"""The client side of the wire, for tests: frame builders, a small HPACK encoder, a frame reader, and a
``Peer`` that drives an ``H2Connection`` without sockets."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from triage.wire._h2 import (
    CONTINUATION,
    DATA,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLAG_PADDED,
    FLAG_PRIORITY,
    GOAWAY,
    HEADERS,
    PING,
    PREFACE,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    H2Connection,
    HpackDecoder,
    encode_int,
    huffman_codes,
)

_CODES = huffman_codes()


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return struct.pack(">IBI", len(payload) << 8 | kind, flags, stream_id) + payload


def settings(**values: int) -> bytes:
    ids = {
        "header_table_size": 1,
        "enable_push": 2,
        "max_concurrent_streams": 3,
        "initial_window_size": 4,
        "max_frame_size": 5,
        "max_header_list_size": 6,
    }
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", ids[k], v) for k, v in values.items()))


def window_update(stream_id: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def rst_stream(stream_id: int, code: int = 8) -> bytes:
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


def goaway(last_stream_id: int, code: int = 0) -> bytes:
    return frame(GOAWAY, 0, 0, struct.pack(">II", last_stream_id, code))


def ping(payload: bytes = b"12345678") -> bytes:
    return frame(PING, 0, 0, payload)


def data(stream_id: int, payload: bytes, end_stream: bool = False, pad: int | None = None) -> bytes:
    flags = FLAG_END_STREAM if end_stream else 0
    if pad is not None:
        return frame(DATA, flags | FLAG_PADDED, stream_id, bytes([pad]) + payload + b"\0" * pad)
    return frame(DATA, flags, stream_id, payload)


def grpc_message(payload: bytes, compressed: bool = False) -> bytes:
    return struct.pack(">BI", int(compressed), len(payload)) + payload


def huffman_encode(text: bytes) -> bytes:
    bits, count = 0, 0
    for byte in text:
        code, length = _CODES[byte]
        bits, count = bits << length | code, count + length
    pad = -count % 8
    bits, count = bits << pad | (1 << pad) - 1, count + pad
    return bits.to_bytes(count // 8, "big")


def string(text: str, huffman: bool = False) -> bytes:
    raw = text.encode("latin-1")
    if huffman:
        raw = huffman_encode(raw)
        return encode_int(len(raw), 7, 0x80) + raw
    return encode_int(len(raw), 7) + raw


def literal(name: str, value: str, *, indexing: bool = False, huffman: bool = False) -> bytes:
    """A literal field with a new name (with incremental indexing: added to the decoder's table)."""
    return (b"\x40" if indexing else b"\x00") + string(name, huffman) + string(value, huffman)


def indexed(index: int) -> bytes:
    return encode_int(index, 7, 0x80)


def request_block(
    path: str = "/test.Echo/Stream", extra: list[tuple[str, str]] | None = None, *, huffman: bool = False
) -> bytes:
    """A gRPC request header block: :method POST (static 3), :scheme http (6), :path, content-type, te."""
    block = indexed(3) + indexed(6) + b"\x04" + string(path, huffman)  # :path with the static name, no indexing
    block += literal(":authority", "localhost", huffman=huffman)
    block += b"\x0f\x10" + string("application/grpc", huffman)  # content-type by static name index 31
    block += literal("te", "trailers", huffman=huffman)
    for name, value in extra or []:
        block += literal(name, value, huffman=huffman)
    return block


def headers(
    stream_id: int,
    block: bytes,
    end_stream: bool = False,
    *,
    pad: int | None = None,
    priority: bool = False,
    split: int | None = None,
) -> bytes:
    """HEADERS (optionally padded, with priority, or split into CONTINUATION frames of ``split`` bytes)."""
    flags = FLAG_END_STREAM if end_stream else 0
    first, rest = (block, b"") if split is None else (block[:split], block[split:])
    prefix = b""
    if priority:
        flags |= FLAG_PRIORITY
        prefix = struct.pack(">IB", 0, 15)
    if pad is not None:
        flags |= FLAG_PADDED
        prefix = bytes([pad]) + prefix
    suffix = b"\0" * (pad or 0)
    if not rest:
        return frame(HEADERS, flags | FLAG_END_HEADERS, stream_id, prefix + first + suffix)
    out = frame(HEADERS, flags, stream_id, prefix + first + suffix)
    while rest:
        part, rest = rest[: split or len(rest)], rest[split or len(rest) :]
        out += frame(CONTINUATION, 0 if rest else FLAG_END_HEADERS, stream_id, part)
    return out


@dataclass
class Frame:
    kind: int
    flags: int
    stream_id: int
    payload: bytes


def parse_frames(buffer: bytes) -> tuple[list[Frame], bytes]:
    """Complete frames in ``buffer`` and what is left over."""
    frames, pos = [], 0
    while len(buffer) - pos >= 9:
        type_length, flags, stream_id = struct.unpack_from(">IBI", buffer, pos)
        end = pos + 9 + (type_length >> 8)
        if end > len(buffer):
            break
        frames.append(Frame(type_length & 0xFF, flags, stream_id & 0x7FFFFFFF, buffer[pos + 9 : end]))
        pos = end
    return frames, buffer[pos:]


@dataclass
class Peer:
    """A client talking to an ``H2Connection`` in memory: what the server wrote is parsed into frames."""

    conn: H2Connection
    written: bytearray = field(default_factory=bytearray)
    decoder: HpackDecoder = field(default_factory=HpackDecoder)

    def __post_init__(self) -> None:
        self.conn.write_out = self.written.extend
        self.conn.initiate()
        self.conn.flush()

    def send(self, *chunks: bytes) -> list[Frame]:
        for chunk in chunks:
            self.conn.receive(chunk)
        return self.take()

    def start(self, **peer_settings: int) -> list[Frame]:
        return self.send(PREFACE + settings(**peer_settings))

    def take(self) -> list[Frame]:
        frames, rest = parse_frames(bytes(self.written))
        self.written[:] = rest
        return frames

    def headers_of(self, f: Frame) -> list[tuple[str, str]]:
        return self.decoder.decode(f.payload)
