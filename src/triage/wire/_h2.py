"""HTTP/2 for a gRPC server: frames, connection and stream state, flow control, HPACK decoding.

The server side of cleartext HTTP/2 with prior knowledge (RFC 9113), the subset Envoy's and grpcio's gRPC
clients use; no TLS, no h2c upgrade, no server push, no priorities. Sans-I/O: ``H2Connection.receive`` takes
bytes from the socket and calls the ``on_*`` hooks a subclass overrides; everything sent is collected and
handed to ``write_out`` once per ``flush`` (one socket write per batch).

Errors follow the RFC: a connection error sends GOAWAY with its code and calls ``close_transport``; a stream
error sends RST_STREAM and calls ``on_reset``. Nothing raised by a malformed peer escapes ``receive``.

Flow control: our receive windows are large (16 MiB per stream, 64 MiB per connection) and credited back in
batches with WINDOW_UPDATE as data is consumed; bytes a subclass holds unread (``hold``/``release``) are not
credited while its hold is over a cap, so a handler that stops reading stops its peer. DATA we send never
exceeds the peer's windows nor its MAX_FRAME_SIZE: what does not fit waits in the stream's queue and goes out
when a WINDOW_UPDATE (or a larger SETTINGS_INITIAL_WINDOW_SIZE) opens the window.

HPACK (RFC 7541): a full decoder (static and dynamic table, Huffman); responses are encoded as literal
fields without indexing (``literal_field``) so the peer's decoding table is never touched and every block can
be built once and reused.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import ClassVar

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 §6)
DATA = 0x0
HEADERS = 0x1
PRIORITY = 0x2
RST_STREAM = 0x3
SETTINGS = 0x4
PUSH_PROMISE = 0x5
PING = 0x6
GOAWAY = 0x7
WINDOW_UPDATE = 0x8
CONTINUATION = 0x9

# Flags
FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20

# Settings identifiers (RFC 9113 §6.5.2)
SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_ENABLE_PUSH = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE = 0x6


class ErrorCode(IntEnum):
    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


MAX_WINDOW = 2**31 - 1
DEFAULT_WINDOW = 65_535
DEFAULT_MAX_FRAME = 16_384
MAX_FRAME_LIMIT = 2**24 - 1

# What we advertise.
STREAM_WINDOW = 16 * 1024 * 1024
CONNECTION_WINDOW = 64 * 1024 * 1024
MAX_FRAME = 1024 * 1024  # frames we accept (a whole frame is buffered before it is parsed)
MAX_HEADER_LIST = 64 * 1024  # decoded size of one header block (names + values + 32 per field)
MAX_HEADER_BLOCK = 256 * 1024  # encoded size of one header block with its CONTINUATION frames
MAX_CONCURRENT_STREAMS = 4096
HEADER_TABLE_SIZE = 4096  # the default: not sent

# Credit batches: WINDOW_UPDATE once a quarter of a window has been consumed.
STREAM_CREDIT_BATCH = STREAM_WINDOW // 4
CONNECTION_CREDIT_BATCH = CONNECTION_WINDOW // 4
# Unread bytes past which no more credit is given (a handler that stops reading stops its peer): what a
# stream or a connection holds unread stays below its cap plus its window.
STREAM_HOLD_CAP = STREAM_WINDOW // 4
CONNECTION_HOLD_CAP = CONNECTION_WINDOW // 4

_FRAME = struct.Struct(">IBI")  # (length << 8 | type), flags, stream id
_U32 = struct.Struct(">I")
_GOAWAY = struct.Struct(">II")
_SETTING = struct.Struct(">HI")
pack_frame = _FRAME.pack


class H2Error(Exception):
    """A connection error: GOAWAY with ``code``, then the connection is closed."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


# -- HPACK -----------------------------------------------------------------------------------------------

# RFC 7541 Appendix A.
STATIC_TABLE: tuple[tuple[str, str], ...] = (
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
)
_STATIC_COUNT = len(STATIC_TABLE)

# RFC 7541 Appendix B: the code length of each symbol (0-255, then EOS = 256). The code is canonical: codes
# are assigned in order of (length, symbol), so the lengths determine every code.
HUFFMAN_LENGTHS: tuple[int, ...] = (
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28,
    28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15,
    6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22,
    20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23,
    23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22,
    22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26,
    27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27,
    26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
)  # fmt: skip
_EOS = 256


def huffman_codes() -> list[tuple[int, int]]:
    """(code, length) per symbol, from the canonical lengths."""
    order = sorted(range(len(HUFFMAN_LENGTHS)), key=lambda s: (HUFFMAN_LENGTHS[s], s))
    codes = [(0, 0)] * len(HUFFMAN_LENGTHS)
    code, length = -1, HUFFMAN_LENGTHS[order[0]]
    for sym in order:
        code = (code + 1) << (HUFFMAN_LENGTHS[sym] - length)
        length = HUFFMAN_LENGTHS[sym]
        codes[sym] = (code, length)
    return codes


def _huffman_machine() -> tuple[list[int], list[bool]]:
    """A decoder that eats 4 bits per step: ``table[state << 4 | nibble]`` is ``next_state << 9 | symbol``
    (symbol 256: none emitted; -1: EOS or an invalid code). The shortest code is 5 bits, so a step emits at
    most one symbol. ``accepting[state]``: the bits since the last symbol are a valid padding (all ones, < 8)."""
    tree: list[list[int]] = [[-1, -1]]  # internal nodes; a child >= 0 is a node, < -1 is leaf -(symbol + 2)
    for sym, (code, length) in enumerate(huffman_codes()):
        node = 0
        for i in range(length - 1, -1, -1):
            bit = (code >> i) & 1
            if i == 0:
                tree[node][bit] = -(sym + 2)
            else:
                if tree[node][bit] == -1:
                    tree.append([-1, -1])
                    tree[node][bit] = len(tree) - 1
                node = tree[node][bit]
    accepting = [False] * len(tree)
    node, depth = 0, 0
    while node >= 0 and depth < 8:
        accepting[node] = True
        node, depth = tree[node][1], depth + 1
    table = [-1] * (len(tree) * 16)
    for state in range(len(tree)):
        for nibble in range(16):
            node, emitted, ok = state, _EOS, True
            for i in (3, 2, 1, 0):
                child = tree[node][(nibble >> i) & 1]
                if child >= 0:
                    node = child
                    continue
                sym = -child - 2
                if sym == _EOS:
                    ok = False
                    break
                emitted, node = sym, 0
            table[state << 4 | nibble] = (node << 9 | emitted) if ok else -1
    return table, accepting


_HUFF_TABLE, _HUFF_ACCEPTING = _huffman_machine()


def huffman_decode(data: bytes | memoryview) -> bytes:
    """Decode a Huffman-coded string (raises ``H2Error(COMPRESSION_ERROR)`` on a malformed one)."""
    table = _HUFF_TABLE
    out = bytearray()
    state = 0
    for byte in data:
        entry = table[state << 4 | byte >> 4]
        if entry < 0:
            raise H2Error(ErrorCode.COMPRESSION_ERROR, "invalid Huffman code")
        if entry & 0x1FF != _EOS:
            out.append(entry & 0xFF)
        entry = table[(entry >> 9) << 4 | byte & 0xF]
        if entry < 0:
            raise H2Error(ErrorCode.COMPRESSION_ERROR, "invalid Huffman code")
        if entry & 0x1FF != _EOS:
            out.append(entry & 0xFF)
        state = entry >> 9
    if not _HUFF_ACCEPTING[state]:
        raise H2Error(ErrorCode.COMPRESSION_ERROR, "invalid Huffman padding")
    return bytes(out)


def encode_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """An HPACK integer with an N-bit prefix; ``first``: the bits above the prefix in the first byte."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal_field(name: bytes | int, value: bytes) -> bytes:
    """A literal header field without indexing (RFC 7541 §6.2.2), no Huffman; ``name``: a static table index or
    the name itself. Never changes the peer's dynamic table, so the block can be reused for every response."""
    out = encode_int(name, 4) if isinstance(name, int) else b"\x00" + encode_int(len(name), 7) + name
    return out + encode_int(len(value), 7) + value


class HpackDecoder:
    """RFC 7541 decoding with the dynamic table; raises ``H2Error(COMPRESSION_ERROR)`` on malformed input.

    Names and values come out as ``str`` decoded as Latin-1 (one character per octet, so table sizes count
    the same). Decoded Huffman strings are cached (header values a peer repeats without indexing cost a dict
    look-up)."""

    _CACHE_MAX: ClassVar[int] = 512

    def __init__(self, max_table_size: int = HEADER_TABLE_SIZE, max_list_size: int = MAX_HEADER_LIST) -> None:
        self.max_table_size = max_table_size  # what we advertised: the most a size update may ask for
        self.table_size_limit = max_table_size  # the current limit (the peer's last size update)
        self.table_size = 0
        self.table: deque[tuple[str, str]] = deque()  # newest first
        self.max_list_size = max_list_size
        self._huffman_cache: dict[bytes, str] = {}

    def _add(self, name: str, value: str) -> None:
        size = len(name) + len(value) + 32
        table = self.table
        while table and self.table_size + size > self.table_size_limit:
            old_name, old_value = table.pop()
            self.table_size -= len(old_name) + len(old_value) + 32
        if size <= self.table_size_limit:
            table.appendleft((name, value))
            self.table_size += size
        # An entry larger than the table empties it and is not added (RFC 7541 §4.4).

    def _resize(self, limit: int) -> None:
        if limit > self.max_table_size:
            raise H2Error(ErrorCode.COMPRESSION_ERROR, "table size update above the advertised size")
        self.table_size_limit = limit
        table = self.table
        while table and self.table_size > limit:
            old_name, old_value = table.pop()
            self.table_size -= len(old_name) + len(old_value) + 32

    def _entry(self, index: int) -> tuple[str, str]:
        if 0 < index <= _STATIC_COUNT:
            return STATIC_TABLE[index - 1]
        dynamic = index - _STATIC_COUNT - 1
        if index == 0 or dynamic >= len(self.table):
            raise H2Error(ErrorCode.COMPRESSION_ERROR, f"header table index {index} out of range")
        return self.table[dynamic]

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        try:
            return self._decode(block)
        except IndexError:
            raise H2Error(ErrorCode.COMPRESSION_ERROR, "truncated header block") from None

    def _decode(self, block: bytes) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        pos, end = 0, len(block)
        list_size = 0
        fields_seen = False
        while pos < end:
            byte = block[pos]
            if byte & 0x80:  # indexed field
                index, pos = _read_int(block, pos, 0x7F)
                name, value = self._entry(index)
            elif byte & 0x40:  # literal with incremental indexing
                index, pos = _read_int(block, pos, 0x3F)
                if index:
                    name = self._entry(index)[0]
                else:
                    name, pos = self._string(block, pos)
                value, pos = self._string(block, pos)
                self._add(name, value)
            elif byte & 0x20:  # dynamic table size update: only at the start of a block
                if fields_seen:
                    raise H2Error(ErrorCode.COMPRESSION_ERROR, "table size update after a header field")
                limit, pos = _read_int(block, pos, 0x1F)
                self._resize(limit)
                continue
            else:  # literal without indexing (0000) or never indexed (0001)
                index, pos = _read_int(block, pos, 0x0F)
                if index:
                    name = self._entry(index)[0]
                else:
                    name, pos = self._string(block, pos)
                value, pos = self._string(block, pos)
            fields_seen = True
            list_size += len(name) + len(value) + 32
            if list_size > self.max_list_size:
                raise H2Error(ErrorCode.ENHANCE_YOUR_CALM, "header list larger than advertised")
            headers.append((name, value))
        return headers

    def _string(self, block: bytes, pos: int) -> tuple[str, int]:
        huffman = block[pos] & 0x80
        length, pos = _read_int(block, pos, 0x7F)
        end = pos + length
        if end > len(block):
            raise H2Error(ErrorCode.COMPRESSION_ERROR, "string past the end of the header block")
        raw = block[pos:end]
        if not huffman:
            return raw.decode("latin-1"), end
        cache = self._huffman_cache
        text = cache.get(raw)
        if text is None:
            text = huffman_decode(raw).decode("latin-1")
            if len(cache) >= self._CACHE_MAX:
                cache.clear()
            cache[raw] = text
        return text, end


def _read_int(block: bytes, pos: int, mask: int) -> tuple[int, int]:
    value = block[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    while True:
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise H2Error(ErrorCode.COMPRESSION_ERROR, "integer too large")


# -- streams and the connection ---------------------------------------------------------------------------


class H2Stream:
    """One stream's HTTP/2 state; a subclass adds what its requests need."""

    __slots__ = (
        "held",
        "id",
        "local_closed",
        "pending",
        "pending_bytes",
        "recv_unacked",
        "recv_window",
        "remote_closed",
        "reset",
        "send_window",
        "trailers",
    )

    def __init__(self, stream_id: int, send_window: int) -> None:
        self.id = stream_id
        self.send_window = send_window  # what we may still send (the peer's window)
        self.recv_window = STREAM_WINDOW  # what the peer may still send
        self.recv_unacked = 0  # received, not yet credited back
        self.held = 0  # received and not yet consumed by the application
        self.pending: deque[bytes | memoryview] = deque()  # DATA waiting for window
        self.pending_bytes = 0
        self.trailers: bytes | None = None  # a final header block waiting behind ``pending``
        self.remote_closed = False  # the peer sent END_STREAM
        self.local_closed = False  # we sent END_STREAM
        self.reset = False  # RST_STREAM either way, or the connection is gone


class H2Connection:
    """The server side of one HTTP/2 connection (sans I/O).

    A subclass sets ``write_out`` (bytes to the socket) and overrides the hooks: ``on_request`` (a new
    stream's headers), ``on_data`` (its DATA, and its end), ``on_reset`` (reset by the peer or by a stream
    error), ``on_stream_closed``, ``on_send_progress`` (queued DATA went out), ``on_goaway``, ``on_ping_ack``,
    ``close_transport``."""

    stream_class: type[H2Stream] = H2Stream

    def __init__(self) -> None:
        self.streams: dict[int, H2Stream] = {}
        self.write_out: Callable[[bytes], None] = _discard
        self._out: list[bytes | memoryview] = []
        self._chunks: list[bytes] = []  # received bytes not yet parsed
        self._chunks_len = 0
        self._need = len(PREFACE)  # bytes needed before parsing can make progress
        self._preface_seen = False
        self._continuation: tuple[int, list[bytes], bool, int] | None = None  # stream, fragments, end, size
        self.decoder = HpackDecoder()
        # Peer's settings that bind us.
        self.peer_max_frame = DEFAULT_MAX_FRAME
        self.peer_initial_window = DEFAULT_WINDOW
        self.send_window = DEFAULT_WINDOW  # connection-level window for our DATA
        # Our receive side.
        self.recv_window = CONNECTION_WINDOW  # what the peer may still send on the connection
        self.recv_unacked = 0
        self.held = 0  # bytes held unread by the application across all streams
        self.last_stream_id = 0  # the highest stream the peer opened
        self.accepting_streams = True  # false once the final GOAWAY is sent
        self.goaway_received = False
        self.closed = False
        self._blocked: dict[H2Stream, None] = {}  # streams with DATA waiting for window, in order

    # -- the hooks ---------------------------------------------------------------------------------------

    def on_request(self, stream: H2Stream, headers: list[tuple[str, str]]) -> None:
        """A new stream's request headers (``stream.remote_closed`` if they ended it)."""

    def on_data(self, stream: H2Stream, data: memoryview, end_stream: bool) -> None:
        """DATA on an open stream (maybe empty: the end of the stream came with trailers or an empty frame)."""

    def on_reset(self, stream: H2Stream, code: ErrorCode) -> None:
        """The stream ended abnormally: RST_STREAM from the peer, a stream error, or the connection is gone."""

    def on_stream_closed(self, stream: H2Stream) -> None:
        """The stream left the table (closed both ways or reset)."""

    def on_send_progress(self, stream: H2Stream) -> None:
        """Queued DATA of this stream went out (``stream.pending_bytes`` dropped)."""

    def on_goaway(self, code: ErrorCode, last_stream_id: int) -> None:
        """The peer sent GOAWAY."""

    def on_ping_ack(self, payload: bytes) -> None:
        """The peer acknowledged a PING we sent."""

    def close_transport(self) -> None:
        """Close the socket (after a connection error, or when done)."""

    # -- input -------------------------------------------------------------------------------------------

    def initiate(self) -> None:
        """Queue our SETTINGS and the connection window increase (the server's preface)."""
        settings = b"".join(
            _SETTING.pack(k, v)
            for k, v in (
                (SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS),
                (SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW),
                (SETTINGS_MAX_FRAME_SIZE, MAX_FRAME),
                (SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST),
            )
        )
        self._out.append(pack_frame(len(settings) << 8 | SETTINGS, 0, 0) + settings)
        self._out.append(pack_frame(4 << 8 | WINDOW_UPDATE, 0, 0) + _U32.pack(CONNECTION_WINDOW - DEFAULT_WINDOW))

    def receive(self, data: bytes) -> None:
        """Bytes from the peer: parse every complete frame, call the hooks, then flush what they queued."""
        if self.closed:
            return
        chunks = self._chunks
        if chunks:
            chunks.append(data)
            self._chunks_len += len(data)
            if self._chunks_len < self._need:
                return
            data = b"".join(chunks)
            chunks.clear()
            self._chunks_len = 0
        elif len(data) < self._need:
            if not self._preface_seen and not PREFACE.startswith(data):
                self.connection_error(ErrorCode.PROTOCOL_ERROR, "not an HTTP/2 client preface")
                return
            chunks.append(data)
            self._chunks_len = len(data)
            return
        try:
            rest = self._parse(data)
        except H2Error as err:
            self.connection_error(err.code, str(err))
            return
        if rest:
            chunks.append(rest)
            self._chunks_len = len(rest)
        self.flush()

    def _parse(self, data: bytes) -> bytes:
        pos, size = 0, len(data)
        if not self._preface_seen:
            if data[: len(PREFACE)] != PREFACE:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "not an HTTP/2 client preface")
            self._preface_seen = True
            pos = len(PREFACE)
        view = memoryview(data)
        unpack = _FRAME.unpack_from
        while True:
            if size - pos < 9:
                self._need = 9
                break
            type_length, flags, stream_id = unpack(data, pos)
            length = type_length >> 8
            if length > MAX_FRAME:
                raise H2Error(ErrorCode.FRAME_SIZE_ERROR, f"frame of {length} bytes")
            end = pos + 9 + length
            if end > size:
                self._need = 9 + length
                break
            kind = type_length & 0xFF
            stream_id &= 0x7FFFFFFF
            if self._continuation is not None and kind != CONTINUATION:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "a header block was interrupted")
            if kind == DATA:
                self._on_data_frame(flags, stream_id, view[pos + 9 : end])
            elif kind == HEADERS:
                self._on_headers_frame(flags, stream_id, view[pos + 9 : end])
            elif kind == WINDOW_UPDATE:
                self._on_window_update(stream_id, view[pos + 9 : end])
            elif kind == SETTINGS:
                self._on_settings(flags, stream_id, view[pos + 9 : end])
            elif kind == PING:
                self._on_ping(flags, stream_id, data[pos + 9 : end])
            elif kind == RST_STREAM:
                self._on_rst_stream(stream_id, view[pos + 9 : end])
            elif kind == CONTINUATION:
                self._on_continuation(flags, stream_id, data[pos + 9 : end])
            elif kind == GOAWAY:
                self._on_goaway(stream_id, view[pos + 9 : end])
            elif kind == PRIORITY:
                self._on_priority(stream_id, length)
            elif kind == PUSH_PROMISE:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE from a client")
            # Unknown frame types are ignored (RFC 9113 §4.1).
            pos = end
            if self.closed:
                return b""
        return data[pos:] if pos < size else b""

    def _on_data_frame(self, flags: int, stream_id: int, payload: memoryview) -> None:
        if stream_id == 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0")
        length = len(payload)
        if length > self.recv_window:
            raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the connection window")
        self.recv_window -= length
        self.recv_unacked += length
        stream = self.streams.get(stream_id)
        if stream is None:
            if stream_id > self.last_stream_id:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, f"DATA on idle stream {stream_id}")
            self._credit_connection()  # a stream we closed: nobody will consume it
            return
        if flags & FLAG_PADDED:
            if length == 0 or payload[0] >= length:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "padding longer than the frame")
            payload = payload[1 : length - payload[0]]
        if stream.remote_closed:
            self.stream_error(stream, ErrorCode.STREAM_CLOSED)
            self._credit_connection()
            return
        if length > stream.recv_window:
            self.stream_error(stream, ErrorCode.FLOW_CONTROL_ERROR)
            self._credit_connection()
            return
        stream.recv_window -= length
        stream.recv_unacked += length  # padding included: it counts against the windows too
        end_stream = bool(flags & FLAG_END_STREAM)
        if end_stream:
            stream.remote_closed = True
        self.on_data(stream, payload, end_stream)
        if not stream.reset:
            self._credit(stream)
            if end_stream and stream.local_closed:
                self._forget(stream)
        else:
            self._credit_connection()

    def _on_headers_frame(self, flags: int, stream_id: int, payload: memoryview) -> None:
        if stream_id == 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0")
        start, end = 0, len(payload)
        if flags & FLAG_PADDED:
            if end == 0:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "padded HEADERS without a pad length")
            start, end = 1, end - payload[0]
        if flags & FLAG_PRIORITY:
            start += 5
        if end < start:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "HEADERS padding or priority past the frame")
        fragment = bytes(payload[start:end])
        end_stream = bool(flags & FLAG_END_STREAM)
        if flags & FLAG_END_HEADERS:
            self._on_header_block(stream_id, fragment, end_stream)
        else:
            self._continuation = (stream_id, [fragment], end_stream, len(fragment))

    def _on_continuation(self, flags: int, stream_id: int, fragment: bytes) -> None:
        cont = self._continuation
        if cont is None or cont[0] != stream_id:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "CONTINUATION without a header block to continue")
        fragments, size = cont[1], cont[3] + len(fragment)
        if size > MAX_HEADER_BLOCK:
            raise H2Error(ErrorCode.ENHANCE_YOUR_CALM, "header block too large")
        fragments.append(fragment)
        if flags & FLAG_END_HEADERS:
            self._continuation = None
            self._on_header_block(stream_id, b"".join(fragments), cont[2])
        else:
            self._continuation = (stream_id, fragments, cont[2], size)

    def _on_header_block(self, stream_id: int, block: bytes, end_stream: bool) -> None:
        headers = self.decoder.decode(block)  # always: the decoding table must follow the peer's
        stream = self.streams.get(stream_id)
        if stream is not None:  # trailers
            if stream.remote_closed:
                self.stream_error(stream, ErrorCode.STREAM_CLOSED)
            elif not end_stream:
                self.stream_error(stream, ErrorCode.PROTOCOL_ERROR)
            else:
                stream.remote_closed = True
                self.on_data(stream, memoryview(b""), True)
                if not stream.reset and stream.local_closed:
                    self._forget(stream)
            return
        if stream_id <= self.last_stream_id:
            return  # a stream already closed (trailers after our reset): ignored
        if stream_id % 2 == 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, f"client opened even stream {stream_id}")
        self.last_stream_id = stream_id
        if not self.accepting_streams:
            return  # after our final GOAWAY: not processed, the client retries it elsewhere
        if len(self.streams) >= MAX_CONCURRENT_STREAMS:
            self._queue_rst(stream_id, ErrorCode.REFUSED_STREAM)
            return
        stream = self.stream_class(stream_id, self.peer_initial_window)
        stream.remote_closed = end_stream
        self.streams[stream_id] = stream
        self.on_request(stream, headers)

    def _on_window_update(self, stream_id: int, payload: memoryview) -> None:
        if len(payload) != 4:
            raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE of the wrong size")
        increment = _U32.unpack(payload)[0] & 0x7FFFFFFF
        if stream_id == 0:
            if increment == 0:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection")
            self.send_window += increment
            if self.send_window > MAX_WINDOW:
                raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, "connection window above 2^31-1")
            self._resume_blocked()
            return
        stream = self.streams.get(stream_id)
        if stream is None:
            if stream_id > self.last_stream_id:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, f"WINDOW_UPDATE on idle stream {stream_id}")
            return
        if increment == 0:
            self.stream_error(stream, ErrorCode.PROTOCOL_ERROR)
            return
        stream.send_window += increment
        if stream.send_window > MAX_WINDOW:
            self.stream_error(stream, ErrorCode.FLOW_CONTROL_ERROR)
            return
        if stream.pending:
            self._pump(stream)

    def _on_settings(self, flags: int, stream_id: int, payload: memoryview) -> None:
        if stream_id != 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & FLAG_ACK:
            if len(payload):
                raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return
        if len(payload) % 6:
            raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6")
        for pos in range(0, len(payload), 6):
            key, value = _SETTING.unpack_from(payload, pos)
            if key == SETTINGS_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE above 2^31-1")
                delta = value - self.peer_initial_window
                self.peer_initial_window = value
                for stream in self.streams.values():
                    stream.send_window += delta
                    if stream.send_window > MAX_WINDOW:
                        raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, "a stream window above 2^31-1")
            elif key == SETTINGS_MAX_FRAME_SIZE:
                if not DEFAULT_MAX_FRAME <= value <= MAX_FRAME_LIMIT:
                    raise H2Error(ErrorCode.PROTOCOL_ERROR, f"MAX_FRAME_SIZE {value} out of range")
                self.peer_max_frame = value
            elif key == SETTINGS_ENABLE_PUSH and value > 1:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH not 0 or 1")
            # HEADER_TABLE_SIZE limits the table of our encoder, which never indexes; MAX_CONCURRENT_STREAMS
            # limits streams we open (none); MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored.
        self._out.append(pack_frame(SETTINGS, FLAG_ACK, 0))
        self._resume_blocked()

    def _on_ping(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id != 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "PING on a stream")
        if len(payload) != 8:
            raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "PING of the wrong size")
        if flags & FLAG_ACK:
            self.on_ping_ack(payload)
        else:
            self._out.append(pack_frame(8 << 8 | PING, FLAG_ACK, 0) + payload)

    def _on_rst_stream(self, stream_id: int, payload: memoryview) -> None:
        if len(payload) != 4:
            raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM of the wrong size")
        if stream_id == 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0")
        stream = self.streams.get(stream_id)
        if stream is None:
            if stream_id > self.last_stream_id:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, f"RST_STREAM on idle stream {stream_id}")
            return
        code = _U32.unpack(payload)[0]
        stream.reset = True
        self._forget(stream)
        self.on_reset(stream, _error_code(code))

    def _on_goaway(self, stream_id: int, payload: memoryview) -> None:
        if stream_id != 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream")
        if len(payload) < 8:
            raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY too short")
        last, code = _GOAWAY.unpack_from(payload)
        self.goaway_received = True
        self.on_goaway(_error_code(code), last & 0x7FFFFFFF)

    def _on_priority(self, stream_id: int, length: int) -> None:
        if stream_id == 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0")
        if length != 5:
            stream = self.streams.get(stream_id)
            if stream is not None:
                self.stream_error(stream, ErrorCode.FRAME_SIZE_ERROR)
            else:
                self._queue_rst(stream_id, ErrorCode.FRAME_SIZE_ERROR)
        # Otherwise ignored: this server does not prioritise.

    # -- flow control of what we receive ------------------------------------------------------------------

    def hold(self, stream: H2Stream, size: int) -> None:
        """The application keeps ``size`` received bytes unread (no credit for them while over the caps)."""
        stream.held += size
        self.held += size

    def release(self, stream: H2Stream, size: int) -> None:
        """The application consumed ``size`` held bytes: credit the windows if they were stalled."""
        size = min(size, stream.held)  # a stream already forgotten has given its hold back
        stream.held -= size
        self.held -= size
        if not stream.reset:
            self._credit(stream)

    def _credit(self, stream: H2Stream) -> None:
        if (
            stream.recv_unacked >= STREAM_CREDIT_BATCH
            and stream.held <= STREAM_HOLD_CAP
            and not stream.remote_closed
            and not stream.local_closed
            and not stream.reset
        ):
            self._out.append(pack_frame(4 << 8 | WINDOW_UPDATE, 0, stream.id) + _U32.pack(stream.recv_unacked))
            stream.recv_window += stream.recv_unacked
            stream.recv_unacked = 0
        self._credit_connection()

    def _credit_connection(self) -> None:
        if self.recv_unacked >= CONNECTION_CREDIT_BATCH and self.held <= CONNECTION_HOLD_CAP:
            self._out.append(pack_frame(4 << 8 | WINDOW_UPDATE, 0, 0) + _U32.pack(self.recv_unacked))
            self.recv_window += self.recv_unacked
            self.recv_unacked = 0

    # -- output ------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Hand everything queued to ``write_out`` in one piece."""
        out = self._out
        if out:
            data = b"".join(out)
            out.clear()
            self.write_out(data)

    def send_headers(self, stream: H2Stream, block: bytes, end_stream: bool = False) -> None:
        """A header block; one that ends the stream (trailers) waits until the queued DATA has gone."""
        if stream.reset or stream.local_closed:
            return
        if end_stream and stream.pending:
            stream.trailers = block
            return
        self._emit_headers(stream.id, block, end_stream)
        if end_stream:
            self._local_close(stream)

    def _emit_headers(self, stream_id: int, block: bytes, end_stream: bool) -> None:
        out, limit = self._out, self.peer_max_frame
        flags = FLAG_END_STREAM if end_stream else 0
        if len(block) <= limit:
            out.append(pack_frame(len(block) << 8 | HEADERS, flags | FLAG_END_HEADERS, stream_id))
            out.append(block)
            return
        out.append(pack_frame(limit << 8 | HEADERS, flags, stream_id))
        out.append(block[:limit])
        pos = limit
        while pos < len(block):
            part = block[pos : pos + limit]
            pos += len(part)
            out.append(
                pack_frame(len(part) << 8 | CONTINUATION, FLAG_END_HEADERS if pos >= len(block) else 0, stream_id)
            )
            out.append(part)

    def send_data(self, stream: H2Stream, data: bytes | memoryview) -> None:
        """Queue DATA (never with END_STREAM: gRPC ends a stream with trailers); sent as far as windows allow."""
        if stream.reset or stream.local_closed:
            return
        size = len(data)
        if (
            not stream.pending
            and size <= stream.send_window
            and size <= self.send_window
            and size <= self.peer_max_frame
        ):
            stream.send_window -= size
            self.send_window -= size
            self._out.append(pack_frame(size << 8 | DATA, 0, stream.id))
            self._out.append(data)
            return
        stream.pending.append(data)
        stream.pending_bytes += size
        self._pump(stream)

    def _pump(self, stream: H2Stream) -> None:
        pending, out = stream.pending, self._out
        sent = False
        while pending:
            allowed = min(stream.send_window, self.send_window, self.peer_max_frame)
            if allowed <= 0:
                self._blocked[stream] = None
                break
            chunk = pending[0]
            if len(chunk) <= allowed:
                pending.popleft()
            else:
                view = memoryview(chunk)
                pending[0] = view[allowed:]
                chunk = view[:allowed]
            size = len(chunk)
            stream.send_window -= size
            self.send_window -= size
            stream.pending_bytes -= size
            out.append(pack_frame(size << 8 | DATA, 0, stream.id))
            out.append(chunk)
            sent = True
        if not pending:
            self._blocked.pop(stream, None)
            if stream.trailers is not None:
                block, stream.trailers = stream.trailers, None
                self._emit_headers(stream.id, block, True)
                self._local_close(stream)
        if sent:
            self.on_send_progress(stream)

    def _resume_blocked(self) -> None:
        for stream in list(self._blocked):
            if self.send_window <= 0:
                break
            self._pump(stream)

    def _local_close(self, stream: H2Stream) -> None:
        stream.local_closed = True
        if not stream.remote_closed:
            # The response is complete before the request: ask the client to stop sending, without error
            # (RFC 9113 §8.1), as gRPC servers do.
            self._queue_rst(stream.id, ErrorCode.NO_ERROR)
        self._forget(stream)

    def _forget(self, stream: H2Stream) -> None:
        if self.streams.pop(stream.id, None) is not None:
            self._blocked.pop(stream, None)
            if stream.held:
                self.held -= stream.held
                stream.held = 0
            self.on_stream_closed(stream)

    def reset_stream(self, stream: H2Stream, code: ErrorCode) -> None:
        """RST_STREAM from our side (the hooks are not called)."""
        if stream.reset:
            return
        stream.reset = True
        if not (stream.local_closed and stream.remote_closed):
            self._queue_rst(stream.id, code)
        stream.pending.clear()
        stream.pending_bytes = 0
        self._forget(stream)

    def stream_error(self, stream: H2Stream, code: ErrorCode) -> None:
        """A stream error: RST_STREAM, and the application hears of it through ``on_reset``."""
        if stream.reset:
            return
        self.reset_stream(stream, code)
        self.on_reset(stream, code)

    def _queue_rst(self, stream_id: int, code: ErrorCode) -> None:
        self._out.append(pack_frame(4 << 8 | RST_STREAM, 0, stream_id) + _U32.pack(code))

    def send_ping(self, payload: bytes) -> None:
        self._out.append(pack_frame(8 << 8 | PING, 0, 0) + payload)

    def send_goaway(self, last_stream_id: int, code: ErrorCode = ErrorCode.NO_ERROR, debug: bytes = b"") -> None:
        """GOAWAY: streams above ``last_stream_id`` will not be processed. Unless it is 2^31-1 (the first of a
        graceful pair: "stop opening streams soon"), new streams are ignored from now on."""
        if last_stream_id != MAX_WINDOW:
            self.accepting_streams = False
        payload = _GOAWAY.pack(last_stream_id, code) + debug
        self._out.append(pack_frame(len(payload) << 8 | GOAWAY, 0, 0) + payload)

    def connection_error(self, code: ErrorCode, message: str) -> None:
        """GOAWAY with ``code``, reset every stream, close."""
        if self.closed:
            return
        self.send_goaway(self.last_stream_id, code, message.encode("utf-8", "replace")[:256])
        self.flush()
        self.closed = True
        self.abort_streams(code)
        self.close_transport()

    def abort_streams(self, code: ErrorCode) -> None:
        """Every stream ends abnormally (the connection is gone)."""
        for stream in list(self.streams.values()):
            stream.reset = True
            stream.pending.clear()
            stream.pending_bytes = 0
            self._forget(stream)
            self.on_reset(stream, code)


def _error_code(code: int) -> ErrorCode:
    try:
        return ErrorCode(code)
    except ValueError:
        return ErrorCode.INTERNAL_ERROR  # unknown codes are treated as INTERNAL_ERROR (RFC 9113 §7)


def _discard(data: bytes) -> None:
    pass
