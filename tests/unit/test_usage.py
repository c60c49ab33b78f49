"""``UsageReader``: token usage from JSON bodies and SSE streams, read chunk by chunk without holding bytes back."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any

import pytest

from triage.requests.specs import UsageShape
from triage.usage import MAX_JSON_BYTES, Usage, UsageReader

SSE = "text/event-stream"


def _event(doc: dict[str, Any], name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(doc, separators=(',', ':'))}\n\n".encode()


def _chunk(content: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": content} if content is not None else {}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


USAGE_EVENT = _event(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }
)
DONE = b"data: [DONE]\n\n"
OPENAI_EVENTS = [_event(_chunk("Hel")), _event(_chunk("lo!")), _event(_chunk(finish="stop")), USAGE_EVENT, DONE]
OPENAI_STREAM = b"".join(OPENAI_EVENTS)
OPENAI_STREAM_HIDDEN = OPENAI_STREAM.replace(USAGE_EVENT, b"\n")

ANTHROPIC_STREAM = b"".join(
    [
        _event(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_01",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4",
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 25, "cache_read_input_tokens": 5, "output_tokens": 1},
                },
            },
            "message_start",
        ),
        _event(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        ),
        _event({"type": "ping"}, "ping"),
        _event(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
            "content_block_delta",
        ),
        _event({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 15},
            },
            "message_delta",
        ),
        _event({"type": "message_stop"}, "message_stop"),
    ]
)


def _read(
    chunks: Iterable[bytes], shape: UsageShape = "openai", content_type: str | None = SSE, *, hide: bool = False
) -> tuple[Usage, bytes]:
    """Feed every chunk; return the usage and the bytes that were forwarded."""
    reader = UsageReader(shape, content_type, hide_usage_event=hide)
    forwarded = bytearray()
    for chunk in chunks:
        out = reader.feed(chunk)
        forwarded += chunk if out is None else out
    return reader.finish(), bytes(forwarded)


def _split(data: bytes, *points: int) -> list[bytes]:
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


# -- JSON bodies ----------------------------------------------------------------------------------

OPENAI_JSON = {
    "id": "chatcmpl-9",
    "object": "chat.completion",
    "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 64},
    },
}
ANTHROPIC_JSON = {
    "id": "msg_42",
    "type": "message",
    "model": "claude-sonnet-4",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "usage": {
        "input_tokens": 10,
        "cache_read_input_tokens": 5,
        "cache_creation_input_tokens": 3,
        "output_tokens": 7,
    },
}


@pytest.mark.parametrize("pieces", [1, 3, 50], ids=["one-chunk", "three-chunks", "many-chunks"])
def test_usage_reader_openai_json(pieces: int) -> None:
    body = json.dumps(OPENAI_JSON).encode()
    step = -(-len(body) // pieces)
    usage, forwarded = _read([body[i : i + step] for i in range(0, len(body), step)], content_type="application/json")
    assert forwarded == body
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (120, 30, 64)
    assert (usage.response_model, usage.response_id, usage.finish_reasons) == (
        "gpt-4o-2024-08-06",
        "chatcmpl-9",
        ["stop"],
    )
    assert usage.known
    assert usage.completed
    assert not usage.streamed
    assert usage.error is None


def test_usage_reader_anthropic_json_counts_cache_tokens_as_input() -> None:
    usage, _ = _read([json.dumps(ANTHROPIC_JSON).encode()], "anthropic", "application/json")
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (18, 7, 5)
    assert (usage.response_model, usage.response_id, usage.finish_reasons) == (
        "claude-sonnet-4",
        "msg_42",
        ["end_turn"],
    )
    assert usage.completed


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", None])
def test_usage_reader_json_without_usage_is_unknown(content_type: str | None) -> None:
    doc = {k: v for k, v in OPENAI_JSON.items() if k != "usage"}
    usage, _ = _read([json.dumps(doc).encode()], content_type=content_type)
    assert not usage.known
    assert (usage.input_tokens, usage.output_tokens) == (None, None)
    assert usage.completed
    assert usage.response_model == "gpt-4o-2024-08-06"


@pytest.mark.parametrize(
    "body",
    [b"<html>Bad gateway</html>", b'{"usage": {"prompt_tokens": 3', b"\xff\xfe"],
    ids=["html", "truncated", "binary"],
)
def test_usage_reader_unparseable_json_body(body: bytes) -> None:
    usage, forwarded = _read([body], content_type="application/json")
    assert forwarded == body
    assert not usage.known
    assert not usage.completed
    assert usage.error == "unparseable_response"


def test_usage_reader_empty_json_body() -> None:
    usage, _ = _read([b""], content_type="application/json")
    assert not usage.known
    assert usage.error is None


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ({"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limited"}}, "rate_limit_error"),
        ({"error": {"message": "no", "code": "context_length_exceeded"}}, "context_length_exceeded"),
        ({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "overloaded_error"),
        ({"error": {"message": "?"}}, "error"),
    ],
    ids=["type", "code-only", "anthropic", "neither"],
)
def test_usage_reader_json_error_body_sets_error(doc: dict[str, Any], error: str) -> None:
    usage, _ = _read([json.dumps(doc).encode()], content_type="application/json")
    assert usage.error == error
    assert not usage.known


def test_usage_reader_json_body_over_the_limit_is_not_kept() -> None:
    filler = "x" * (1024 * 1024)
    doc = {"choices": [{"message": {"content": filler * 5}}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
    body = json.dumps(doc).encode()
    assert len(body) > MAX_JSON_BYTES
    reader = UsageReader("openai", "application/json")
    step = 64 * 1024
    for i in range(0, len(body), step):
        assert reader.feed(body[i : i + step]) is None
    usage = reader.finish()
    assert not usage.known
    assert not usage.completed


def test_usage_reader_openai_zero_tokens_are_known() -> None:
    doc = {**OPENAI_JSON, "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}
    usage, _ = _read([json.dumps(doc).encode()], content_type="application/json")
    assert (usage.input_tokens, usage.output_tokens) == (0, 0)
    assert usage.known


# -- OpenAI SSE -----------------------------------------------------------------------------------


def _assert_openai_stream_usage(usage: Usage) -> None:
    assert (usage.input_tokens, usage.output_tokens) == (12, 5)
    assert usage.response_model == "gpt-4o-mini-2024-07-18"
    assert usage.response_id == "chatcmpl-1"
    assert usage.finish_reasons == ["stop"]
    assert usage.streamed
    assert usage.completed
    assert usage.error is None


def test_usage_reader_openai_sse_event_per_chunk() -> None:
    usage, forwarded = _read(OPENAI_EVENTS)
    _assert_openai_stream_usage(usage)
    assert forwarded == OPENAI_STREAM
    assert usage.chunks == len(OPENAI_EVENTS)


def test_usage_reader_openai_sse_every_split_point() -> None:
    for point in range(len(OPENAI_STREAM) + 1):
        usage, forwarded = _read(_split(OPENAI_STREAM, point))
        assert forwarded == OPENAI_STREAM, point
        _assert_openai_stream_usage(usage)


def test_usage_reader_openai_sse_pairs_of_split_points() -> None:
    n = len(OPENAI_STREAM)
    for first in range(0, n + 1, 7):
        for second in range(first, n + 1, 5):
            usage, forwarded = _read(_split(OPENAI_STREAM, first, second))
            assert forwarded == OPENAI_STREAM, (first, second)
            _assert_openai_stream_usage(usage)


def test_usage_reader_openai_sse_byte_by_byte() -> None:
    usage, forwarded = _read([OPENAI_STREAM[i : i + 1] for i in range(len(OPENAI_STREAM))])
    assert forwarded == OPENAI_STREAM
    _assert_openai_stream_usage(usage)


def test_usage_reader_openai_sse_crlf_lines() -> None:
    stream = OPENAI_STREAM.replace(b"\n", b"\r\n")
    usage, forwarded = _read(_split(stream, len(stream) // 3))
    assert forwarded == stream
    _assert_openai_stream_usage(usage)


def test_usage_reader_openai_sse_without_done_is_not_completed() -> None:
    usage, _ = _read([OPENAI_STREAM.replace(DONE, b"")])
    assert (usage.input_tokens, usage.output_tokens) == (12, 5)
    assert not usage.completed


def test_usage_reader_openai_sse_done_without_trailing_newline() -> None:
    usage, _ = _read([OPENAI_STREAM.rstrip(b"\n")])
    assert usage.completed


def test_usage_reader_openai_sse_without_usage_event_is_unknown() -> None:
    usage, _ = _read([OPENAI_STREAM.replace(USAGE_EVENT, b"")])
    assert not usage.known
    assert usage.completed
    assert usage.finish_reasons == ["stop"]


def test_usage_reader_sse_error_event_sets_error() -> None:
    stream = _event(_chunk("partial")) + _event({"error": {"message": "upstream died", "type": "server_error"}})
    usage, _ = _read([stream])
    assert usage.error == "server_error"
    assert not usage.completed


def test_usage_reader_sse_ignores_comments_and_foreign_lines() -> None:
    stream = b": keep-alive\n\nretry: 1000\n\ndata: not json\n\ndata: {broken\n\n" + OPENAI_STREAM
    usage, forwarded = _read([stream])
    assert forwarded == stream
    _assert_openai_stream_usage(usage)


def test_usage_reader_sse_overlong_line_is_dropped_without_crashing() -> None:
    reader = UsageReader("openai", SSE)
    for _ in range(3):
        assert reader.feed(b"x" * (700 * 1024)) is None
    assert reader.feed(b"\n\n" + OPENAI_STREAM) is None
    _assert_openai_stream_usage(reader.finish())


# -- hiding the usage event Triage asked for ------------------------------------------------------


def test_usage_reader_hides_usage_event_in_a_chunk_of_its_own() -> None:
    reader = UsageReader("openai", SSE, hide_usage_event=True)
    outputs = [reader.feed(event) for event in OPENAI_EVENTS]
    assert outputs == [None, None, None, b"\n", None]
    _assert_openai_stream_usage(reader.finish())


def test_usage_reader_hides_usage_event_among_other_events() -> None:
    usage, forwarded = _read([OPENAI_STREAM], hide=True)
    assert forwarded == OPENAI_STREAM_HIDDEN
    _assert_openai_stream_usage(usage)


def test_usage_reader_hides_usage_event_with_crlf_lines() -> None:
    stream = OPENAI_STREAM.replace(b"\n", b"\r\n")
    usage, forwarded = _read([stream], hide=True)
    assert forwarded == stream.replace(USAGE_EVENT.replace(b"\n", b"\r\n"), b"\r\n")
    _assert_openai_stream_usage(usage)


def test_usage_reader_hide_never_loses_other_bytes_at_any_split_point() -> None:
    for point in range(len(OPENAI_STREAM) + 1):
        usage, forwarded = _read(_split(OPENAI_STREAM, point), hide=True)
        assert forwarded in (OPENAI_STREAM, OPENAI_STREAM_HIDDEN), point
        _assert_openai_stream_usage(usage)


@pytest.mark.parametrize(
    "chunks",
    [
        [OPENAI_STREAM[:-4], OPENAI_STREAM[-4:]],
        [USAGE_EVENT[:10], USAGE_EVENT[10:]],
        [b'data: {"choices":[{"delta":{}}]}', b"\n\n" + USAGE_EVENT],
    ],
    ids=["chunk-without-final-newline", "event-split-in-two", "chunk-after-partial-line"],
)
def test_usage_reader_hide_forwards_partial_chunks_unchanged(chunks: list[bytes]) -> None:
    reader = UsageReader("openai", SSE, hide_usage_event=True)
    assert [reader.feed(c) for c in chunks] == [None] * len(chunks)
    assert reader.finish().known


def test_usage_reader_hide_usage_line_alone_leaves_an_empty_chunk() -> None:
    reader = UsageReader("openai", SSE, hide_usage_event=True)
    assert reader.feed(USAGE_EVENT[:-1]) == b""
    assert reader.feed(b"\n") is None
    assert reader.finish().known


def test_usage_reader_hide_keeps_usage_on_a_choice_chunk() -> None:
    event = _event({**_chunk(finish="stop"), "usage": {"prompt_tokens": 1, "completion_tokens": 2}})
    reader = UsageReader("openai", SSE, hide_usage_event=True)
    assert reader.feed(event) is None
    assert reader.finish().output_tokens == 2


@pytest.mark.parametrize(
    ("shape", "content_type", "hide"),
    [("openai", SSE, False), ("openai", "application/json", True), ("anthropic", SSE, True)],
    ids=["not-asked", "not-streamed", "anthropic"],
)
def test_usage_reader_hide_applies_only_to_openai_streams_when_asked(
    shape: UsageShape, content_type: str, hide: bool
) -> None:
    reader = UsageReader(shape, content_type, hide_usage_event=hide)
    assert reader.feed(USAGE_EVENT) is None


def test_usage_reader_empty_chunk_is_forwarded_unchanged() -> None:
    reader = UsageReader("openai", SSE, hide_usage_event=True)
    assert reader.feed(b"") is None
    assert reader.finish().chunks == 0


# -- Anthropic SSE --------------------------------------------------------------------------------


def _assert_anthropic_stream_usage(usage: Usage) -> None:
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (30, 15, 5)
    assert (usage.response_model, usage.response_id) == ("claude-sonnet-4", "msg_01")
    assert usage.finish_reasons == ["end_turn"]
    assert usage.streamed
    assert usage.completed


def test_usage_reader_anthropic_sse() -> None:
    usage, forwarded = _read([ANTHROPIC_STREAM], "anthropic")
    assert forwarded == ANTHROPIC_STREAM
    _assert_anthropic_stream_usage(usage)


def test_usage_reader_anthropic_sse_every_split_point() -> None:
    for point in range(0, len(ANTHROPIC_STREAM) + 1, 3):
        usage, forwarded = _read(_split(ANTHROPIC_STREAM, point), "anthropic")
        assert forwarded == ANTHROPIC_STREAM, point
        _assert_anthropic_stream_usage(usage)


def test_usage_reader_anthropic_sse_without_message_stop_is_not_completed() -> None:
    cut = ANTHROPIC_STREAM.index(b"event: message_stop")
    usage, _ = _read([ANTHROPIC_STREAM[:cut]], "anthropic")
    assert usage.output_tokens == 15
    assert not usage.completed


def test_usage_reader_anthropic_sse_error_event() -> None:
    stream = ANTHROPIC_STREAM[: ANTHROPIC_STREAM.index(b"event: content_block_start")] + _event(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error"
    )
    usage, _ = _read([stream], "anthropic")
    assert usage.error == "overloaded_error"
    assert usage.input_tokens == 30
    assert not usage.completed


@pytest.mark.parametrize(
    ("first", "streamed"),
    [
        pytest.param(b'data: {"choices": []}\n\n', True, id="sse-data"),
        pytest.param(b"event: message_start\ndata: {}\n\n", True, id="sse-event"),
        pytest.param(b": keep-alive\n\n", True, id="sse-comment"),
        pytest.param(b'  {"id": "x"}', False, id="json"),
    ],
)
def test_usage_reader_without_content_type_tells_sse_from_json(first: bytes, streamed: bool) -> None:
    reader = UsageReader("openai", None)
    reader.feed(b"")  # an empty chunk decides nothing
    reader.feed(first)
    assert reader.usage.streamed is streamed


def test_usage_reader_without_content_type_hides_the_injected_usage_event() -> None:
    reader = UsageReader("openai", None, hide_usage_event=True)
    usage_event = b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}\n\n'
    assert reader.feed(b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n') is None
    assert reader.feed(usage_event) == b"\n"
    reader.feed(b"data: [DONE]\n\n")
    usage = reader.finish()
    assert (usage.input_tokens, usage.output_tokens, usage.completed) == (3, 4, True)


@pytest.mark.parametrize("separator", [b":", b": ", b" : "], ids=["compact", "space", "spaced-colon"])
def test_usage_reader_openai_sse_with_usage_null_in_every_chunk(separator: bytes) -> None:
    """Streams asked for usage carry ``"usage": null`` in every chunk (OpenAI's shape): the text chunks pass
    unread, and the final usage object is still found, however the JSON is spaced."""

    def event(doc: dict[str, Any]) -> bytes:
        text = json.dumps(doc, separators=(",", ":")).encode().replace(b'"usage":', b'"usage"' + separator)
        return text.replace(b'"finish_reason":', b'"finish_reason"' + separator)

    chunks = [
        b"data: "
        + event({"id": "c", "model": "m", "choices": [{"delta": {"content": f"t{i}"}}], "usage": None})
        + b"\n\n"
        for i in range(5)
    ]
    chunks.append(
        b"data: " + event({"id": "c", "model": "m", "choices": [{"delta": {}, "finish_reason": "stop"}]}) + b"\n\n"
    )
    final = {"id": "c", "model": "m-2024", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 5}}
    chunks += [b"data: " + event(final) + b"\n\n", b"data: [DONE]\n\n"]
    reader = UsageReader("openai", "text/event-stream", hide_usage_event=True)
    forwarded = [reader.feed(chunk) for chunk in chunks]
    usage = reader.finish()
    assert (usage.input_tokens, usage.output_tokens, usage.response_model) == (9, 5, "m-2024")
    assert usage.finish_reasons == ["stop"]
    assert usage.completed
    assert forwarded[:6] == [None] * 6  # text and finish chunks forwarded unchanged
    assert forwarded[6] == b"\n"  # the usage event Triage asked for is hidden from the client
