"""HTTP/2 connection state without sockets: settings, PING, headers, flow control both ways, resets, errors."""

from __future__ import annotations

import struct

import pytest

from tests.unit.wire import frames as f
from tests.unit.wire.frames import Frame, Peer
from triage.wire import _h2 as h2
from triage.wire._h2 import (
    CONNECTION_CREDIT_BATCH,
    CONNECTION_HOLD_CAP,
    CONNECTION_WINDOW,
    DATA,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    GOAWAY,
    HEADERS,
    PING,
    PREFACE,
    RST_STREAM,
    SETTINGS,
    STREAM_CREDIT_BATCH,
    STREAM_HOLD_CAP,
    STREAM_WINDOW,
    WINDOW_UPDATE,
    ErrorCode,
    H2Connection,
    H2Stream,
)


class Recorder(H2Connection):
    """Records the hooks; ``consume``: release held data at once (False: hold it, as an unread queue)."""

    def __init__(self, consume: bool = True) -> None:
        super().__init__()
        self.consume = consume
        self.requests: list[tuple[int, list[tuple[str, str]], bool]] = []
        self.data: list[tuple[int, bytes, bool]] = []
        self.resets: list[tuple[int, ErrorCode]] = []
        self.goaways: list[tuple[ErrorCode, int]] = []
        self.closed_streams: list[int] = []
        self.transport_closed = False

    def on_request(self, stream: H2Stream, headers: list[tuple[str, str]]) -> None:
        self.requests.append((stream.id, headers, stream.remote_closed))

    def on_data(self, stream: H2Stream, data: memoryview, end_stream: bool) -> None:
        self.data.append((stream.id, bytes(data), end_stream))
        if data:
            self.hold(stream, len(data))
            if self.consume:
                self.release(stream, len(data))

    def on_reset(self, stream: H2Stream, code: ErrorCode) -> None:
        self.resets.append((stream.id, code))

    def on_stream_closed(self, stream: H2Stream) -> None:
        self.closed_streams.append(stream.id)

    def on_goaway(self, code: ErrorCode, last_stream_id: int) -> None:
        self.goaways.append((code, last_stream_id))

    def close_transport(self) -> None:
        self.transport_closed = True


def _kinds(frames: list[Frame]) -> list[int]:
    return [x.kind for x in frames]


def _goaway_code(frames: list[Frame]) -> int:
    (last,) = [x for x in frames if x.kind == GOAWAY]
    return int(struct.unpack(">II", last.payload[:8])[1])


@pytest.fixture
def peer() -> Peer:
    return Peer(Recorder())


def _open(peer: Peer, stream_id: int = 1, end_stream: bool = False) -> H2Stream:
    peer.send(f.headers(stream_id, f.request_block(), end_stream))
    return peer.conn.streams[stream_id]


def test_h2_server_preface_is_settings_then_connection_window(peer: Peer) -> None:
    first = peer.take()
    assert _kinds(first) == [SETTINGS, WINDOW_UPDATE]
    settings = dict(struct.iter_unpack(">HI", first[0].payload))
    assert settings[4] == STREAM_WINDOW
    assert struct.unpack(">I", first[1].payload)[0] == CONNECTION_WINDOW - 65_535
    reply = peer.start()
    assert [(x.kind, x.flags) for x in reply] == [(SETTINGS, FLAG_ACK)]


def test_h2_rejects_a_connection_without_the_preface(peer: Peer) -> None:
    peer.take()
    reply = peer.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _goaway_code(reply) == ErrorCode.PROTOCOL_ERROR
    assert peer.conn.closed
    assert isinstance(peer.conn, Recorder)
    assert peer.conn.transport_closed


def test_h2_preface_and_frames_may_arrive_a_byte_at_a_time(peer: Peer) -> None:
    peer.take()
    wire = PREFACE + f.settings() + f.headers(1, f.request_block(), end_stream=True)
    for i in range(len(wire)):
        peer.conn.receive(wire[i : i + 1])
    assert isinstance(peer.conn, Recorder)
    assert peer.conn.requests[0][0] == 1


def test_h2_ping_is_acknowledged_with_its_payload(peer: Peer) -> None:
    peer.start()
    reply = peer.send(f.ping(b"abcdefgh"))
    assert [(x.kind, x.flags, x.payload) for x in reply] == [(PING, FLAG_ACK, b"abcdefgh")]


@pytest.mark.parametrize(
    "options",
    [{}, {"pad": 7}, {"priority": True}, {"pad": 3, "priority": True, "split": 5}, {"split": 1}],
    ids=["plain", "padded", "priority", "all-with-continuation", "one-byte-continuations"],
)
def test_h2_headers_padding_priority_and_continuation(peer: Peer, options: dict[str, object]) -> None:
    peer.start()
    block = f.request_block(extra=[("traceparent", "00-abc-def-01")], huffman=True)
    peer.send(f.headers(1, block, end_stream=True, **options))  # type: ignore[arg-type]
    assert isinstance(peer.conn, Recorder)
    ((stream_id, fields, ended),) = peer.conn.requests
    assert (stream_id, ended) == (1, True)
    assert (":path", "/test.Echo/Stream") in fields
    assert ("traceparent", "00-abc-def-01") in fields


def test_h2_a_frame_between_headers_and_continuation_is_a_protocol_error(peer: Peer) -> None:
    peer.start()
    split = f.headers(1, f.request_block(), split=4)
    first_frame_end = 9 + (struct.unpack(">I", split[:4])[0] >> 8)
    reply = peer.send(split[:first_frame_end] + f.ping())
    assert _goaway_code(reply) == ErrorCode.PROTOCOL_ERROR


def test_h2_data_with_padding_and_end_stream(peer: Peer) -> None:
    peer.start()
    _open(peer)
    peer.send(f.data(1, b"hello", pad=10), f.data(1, b"", end_stream=True))
    assert isinstance(peer.conn, Recorder)
    assert peer.conn.data == [(1, b"hello", False), (1, b"", True)]


def test_h2_trailers_from_the_client_end_its_side(peer: Peer) -> None:
    peer.start()
    _open(peer)
    peer.send(f.headers(1, f.literal("x-trailer", "1"), end_stream=True))
    assert isinstance(peer.conn, Recorder)
    assert peer.conn.data == [(1, b"", True)]
    assert peer.conn.streams[1].remote_closed


def test_h2_send_respects_the_peer_max_frame_size(peer: Peer) -> None:
    peer.start(initial_window_size=1_000_000)
    stream = _open(peer)
    peer.send(f.window_update(0, 1_000_000))
    peer.conn.send_data(stream, b"x" * 40_000)
    peer.conn.flush()
    sizes = [len(x.payload) for x in peer.take() if x.kind == DATA]
    assert sizes == [16_384, 16_384, 40_000 - 2 * 16_384]
    peer.send(f.settings(max_frame_size=32_768))
    peer.conn.send_data(stream, b"y" * 40_000)
    peer.conn.flush()
    assert [len(x.payload) for x in peer.take() if x.kind == DATA] == [32_768, 40_000 - 32_768]


def test_h2_send_stalls_on_a_tiny_stream_window_and_resumes_on_update(peer: Peer) -> None:
    peer.start(initial_window_size=10)
    stream = _open(peer)
    peer.conn.send_headers(stream, b"\x88")
    peer.conn.send_data(stream, b"a" * 25)
    peer.conn.send_headers(stream, b"\x88", end_stream=True)  # trailers wait behind the data
    peer.conn.flush()
    out = peer.take()
    assert [(x.kind, len(x.payload)) for x in out] == [(HEADERS, 1), (DATA, 10)]
    assert peer.send(f.window_update(1, 5)) == [Frame(DATA, 0, 1, b"a" * 5)]
    reply = peer.send(f.window_update(1, 100))
    assert [(x.kind, x.flags, len(x.payload)) for x in reply[:2]] == [
        (DATA, 0, 10),
        (HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 1),
    ]
    # The response is complete before the request: RST_STREAM(NO_ERROR) asks the client to stop sending.
    assert reply[2].kind == RST_STREAM
    assert struct.unpack(">I", reply[2].payload)[0] == ErrorCode.NO_ERROR
    assert 1 not in peer.conn.streams


def test_h2_initial_window_changes_mid_connection_apply_to_open_streams(peer: Peer) -> None:
    peer.start(initial_window_size=100)
    stream = _open(peer)
    peer.send(f.settings(initial_window_size=0))  # the window drops by 100: nothing may be sent
    peer.conn.send_data(stream, b"z" * 50)
    peer.conn.flush()
    assert [x.kind for x in peer.take()] == []
    reply = peer.send(f.settings(initial_window_size=30))
    assert [(x.kind, len(x.payload)) for x in reply] == [(SETTINGS, 0), (DATA, 30)]
    reply = peer.send(f.settings(initial_window_size=1000))
    assert [(x.kind, len(x.payload)) for x in reply] == [(SETTINGS, 0), (DATA, 20)]


def test_h2_send_stalls_on_the_connection_window(peer: Peer) -> None:
    peer.start(initial_window_size=1_000_000)
    one, three = _open(peer, 1), _open(peer, 3)
    peer.conn.send_data(one, b"1" * 65_535)
    peer.conn.send_data(three, b"3" * 10)
    peer.conn.flush()
    out = peer.take()
    assert sum(len(x.payload) for x in out if x.kind == DATA) == 65_535
    assert three.pending_bytes == 10
    reply = peer.send(f.window_update(0, 10))
    assert reply == [Frame(DATA, 0, 3, b"3" * 10)]


def test_h2_window_overflow_is_a_flow_control_error(peer: Peer) -> None:
    peer.start()
    reply = peer.send(f.window_update(0, 2**31 - 1))
    assert _goaway_code(reply) == ErrorCode.FLOW_CONTROL_ERROR


def test_h2_stream_window_overflow_resets_only_that_stream(peer: Peer) -> None:
    peer.start()
    _open(peer)
    reply = peer.send(f.window_update(1, 2**31 - 1))
    assert [(x.kind, struct.unpack(">I", x.payload)[0]) for x in reply] == [(RST_STREAM, ErrorCode.FLOW_CONTROL_ERROR)]
    assert isinstance(peer.conn, Recorder)
    assert peer.conn.resets == [(1, ErrorCode.FLOW_CONTROL_ERROR)]
    assert not peer.conn.closed


def test_h2_credits_consumed_data_in_batches() -> None:
    peer = Peer(Recorder())
    peer.start(max_frame_size=1 << 20)
    _open(peer)
    chunk = b"d" * (1 << 20)
    updates: list[tuple[int, int]] = []
    for _ in range(STREAM_CREDIT_BATCH // len(chunk)):
        updates += [(x.stream_id, struct.unpack(">I", x.payload)[0]) for x in peer.send(f.data(1, chunk))]
    assert updates == [(1, STREAM_CREDIT_BATCH)]  # one WINDOW_UPDATE for 4 MiB, not one per frame


def _send_until_refused(peer: Peer, stream_ids: list[int], chunk: bytes) -> tuple[int, list[Frame]]:
    """Send ``chunk`` after ``chunk`` (moving to the next stream when one is refused) until the connection
    refuses; returns the bytes accepted and the last reply."""
    sent, reply = 0, []
    streams = list(stream_ids)
    for _ in range(1000):
        reply = peer.send(f.data(streams[0], chunk))
        if peer.conn.closed:
            return sent, reply
        if any(x.kind == RST_STREAM for x in reply):
            streams.pop(0)
            if not streams:
                return sent, reply
            continue
        sent += len(chunk)
    raise AssertionError("never refused")


def test_h2_held_data_is_not_credited_so_the_peer_stalls() -> None:
    conn = Recorder(consume=False)
    peer = Peer(conn)
    peer.start()
    _open(peer)
    sent, reply = _send_until_refused(peer, [1], b"d" * (1 << 20))
    # Credit stops once more than the hold cap is unread: the peer can send at most the window past it.
    assert sent <= STREAM_HOLD_CAP + STREAM_CREDIT_BATCH + STREAM_WINDOW
    assert [(x.kind, struct.unpack(">I", x.payload)[0]) for x in reply if x.stream_id == 1] == [
        (RST_STREAM, ErrorCode.FLOW_CONTROL_ERROR)
    ]


def test_h2_release_after_a_stall_credits_the_window() -> None:
    conn = Recorder(consume=False)
    peer = Peer(conn)
    peer.start()
    stream = _open(peer)
    chunk = b"d" * (1 << 20)
    while stream.recv_window >= len(chunk):
        peer.send(f.data(1, chunk))
    assert stream.recv_unacked >= STREAM_CREDIT_BATCH
    unacked = stream.recv_unacked
    conn.release(stream, stream.held)
    conn.flush()
    assert [(x.stream_id, struct.unpack(">I", x.payload)[0]) for x in peer.take() if x.stream_id == 1] == [(1, unacked)]


def test_h2_rst_stream_mid_stream_ends_it_and_later_frames_are_ignored(peer: Peer) -> None:
    peer.start(initial_window_size=0)
    stream = _open(peer)
    peer.conn.send_data(stream, b"queued")  # waits for window
    assert peer.send(f.rst_stream(1, ErrorCode.CANCEL), f.data(1, b"late"), f.window_update(1, 5)) == []
    assert isinstance(peer.conn, Recorder)
    assert peer.conn.resets == [(1, ErrorCode.CANCEL)]
    assert peer.conn.data == []
    assert peer.conn.closed_streams == [1]
    assert not peer.conn.closed


def test_h2_goaway_from_the_client_is_reported(peer: Peer) -> None:
    peer.start()
    peer.send(f.goaway(0, ErrorCode.NO_ERROR))
    assert isinstance(peer.conn, Recorder)
    assert peer.conn.goaways == [(ErrorCode.NO_ERROR, 0)]
    assert peer.conn.goaway_received


def test_h2_final_goaway_ignores_new_streams(peer: Peer) -> None:
    peer.start()
    _open(peer, 1)
    peer.conn.send_goaway(1)
    peer.conn.flush()
    (sent,) = peer.take()
    assert struct.unpack(">II", sent.payload) == (1, 0)
    peer.send(f.headers(3, f.request_block(extra=[("x-new", "1")]), end_stream=True))
    assert isinstance(peer.conn, Recorder)
    assert [r[0] for r in peer.conn.requests] == [1]
    # The decoding table still followed the ignored block: the next one decodes.
    peer.send(f.headers(1, f.literal("x-trailer", "1"), end_stream=True))
    assert peer.conn.data == [(1, b"", True)]


def test_h2_priority_and_unknown_frames_are_ignored(peer: Peer) -> None:
    peer.start()
    _open(peer)
    reply = peer.send(f.frame(0x2, 0, 1, struct.pack(">IB", 0, 10)), f.frame(0xFA, 0, 0, b"whatever"))
    assert reply == []
    assert not peer.conn.closed


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (f.data(0, b"x"), ErrorCode.PROTOCOL_ERROR),
        (f.data(9, b"x"), ErrorCode.PROTOCOL_ERROR),  # idle stream
        (f.headers(2, f.request_block()), ErrorCode.PROTOCOL_ERROR),  # even stream id
        (f.window_update(0, 0), ErrorCode.PROTOCOL_ERROR),
        (f.frame(SETTINGS, 0, 1, b""), ErrorCode.PROTOCOL_ERROR),
        (f.frame(SETTINGS, 0, 0, b"\x00\x05\x00\x00\x00\x01"), ErrorCode.PROTOCOL_ERROR),  # MAX_FRAME_SIZE 1
        (f.frame(SETTINGS, 0, 0, b"\x00\x04\x80\x00\x00\x00"), ErrorCode.FLOW_CONTROL_ERROR),  # window 2^31
        (f.frame(SETTINGS, 0, 0, b"\x00\x04\x00"), ErrorCode.FRAME_SIZE_ERROR),
        (f.frame(SETTINGS, FLAG_ACK, 0, b"\x00\x00\x00\x00\x00\x00"), ErrorCode.FRAME_SIZE_ERROR),
        (f.frame(PING, 0, 0, b"short"), ErrorCode.FRAME_SIZE_ERROR),
        (f.frame(PING, 0, 1, b"12345678"), ErrorCode.PROTOCOL_ERROR),
        (f.frame(0x5, 0, 1, b"\x00\x00\x00\x02"), ErrorCode.PROTOCOL_ERROR),  # PUSH_PROMISE
        (f.frame(0x9, FLAG_END_HEADERS, 1, b"\x82"), ErrorCode.PROTOCOL_ERROR),  # CONTINUATION alone
        (f.rst_stream(7), ErrorCode.PROTOCOL_ERROR),  # idle stream
        (f.headers(1, b"\xff\xff\xff\xff\x0f"), ErrorCode.COMPRESSION_ERROR),  # index way past the table
        (f.frame(HEADERS, 0xC, 1, b"\xc8\x82"), ErrorCode.PROTOCOL_ERROR),  # padding past the frame
        (struct.pack(">IBI", (2 << 20) << 8, 0, 1), ErrorCode.FRAME_SIZE_ERROR),  # 2 MiB frame announced
    ],
    ids=[
        "data-stream-0",
        "data-idle",
        "even-stream",
        "window-update-0",
        "settings-on-stream",
        "max-frame-size-too-small",
        "initial-window-too-big",
        "settings-length",
        "settings-ack-payload",
        "ping-size",
        "ping-on-stream",
        "push-promise",
        "continuation-alone",
        "rst-idle",
        "hpack",
        "padding",
        "frame-too-large",
    ],
)
def test_h2_protocol_errors_send_goaway_and_close(peer: Peer, wire: bytes, code: ErrorCode) -> None:
    peer.start()
    reply = peer.send(wire)
    assert _goaway_code(reply) == code
    assert peer.conn.closed
    assert peer.send(f.ping()) == []  # nothing more is processed


def test_h2_held_data_stalls_the_connection_window_and_overrunning_it_is_an_error() -> None:
    peer = Peer(Recorder(consume=False))
    peer.start()
    chunk = b"d" * (1 << 20)
    sent, reply, sid = 0, [], 1
    while not peer.conn.closed and sid < 100:
        stream = _open(peer, sid)
        while stream.recv_window >= len(chunk) and not peer.conn.closed:  # within each stream's window
            reply = peer.send(f.data(sid, chunk))
            sent += len(chunk)
        sid += 2
    assert sent <= CONNECTION_HOLD_CAP + CONNECTION_CREDIT_BATCH + CONNECTION_WINDOW + len(chunk)
    assert _goaway_code(reply) == ErrorCode.FLOW_CONTROL_ERROR


def test_h2_streams_over_the_concurrency_limit_are_refused(peer: Peer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h2, "MAX_CONCURRENT_STREAMS", 2)
    peer.start()
    _open(peer, 1)
    _open(peer, 3)
    reply = peer.send(f.headers(5, f.request_block()))
    assert [(x.kind, x.stream_id, struct.unpack(">I", x.payload)[0]) for x in reply] == [
        (RST_STREAM, 5, ErrorCode.REFUSED_STREAM)
    ]
    assert isinstance(peer.conn, Recorder)
    assert [r[0] for r in peer.conn.requests] == [1, 3]
    peer.send(f.rst_stream(1))
    _open(peer, 7)  # a slot is free again
    assert [r[0] for r in peer.conn.requests] == [1, 3, 7]
