"""The fake provider's API surface over real sockets: JSON and SSE shapes, determinism, usage counts."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from triage.sim import FakeProvider, completion_words

CHAT = "/v1/chat/completions"


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider("small", default_model="small-1", words=5).running() as p:
        yield p


@pytest.fixture
def client(provider: FakeProvider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=provider.url, timeout=30) as c:
        yield c


def sse_payloads(raw: bytes) -> list[str]:
    """The ``data:`` values of an SSE body, in order."""
    return [line[len("data: ") :] for line in raw.decode().split("\n") if line.startswith("data: ")]


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs of an Anthropic-style SSE body."""
    out = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((fields["event"], orjson.loads(fields["data"])))
    return out


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def test_chat_json_answers_deterministic_text_and_usage(client: httpx.Client) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "image_url"}]},
            {"role": "assistant", "content": None},
            {"role": "user", "content": "What is 2+2?"},
        ],
    }
    r = client.post(CHAT, json=body)

    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.headers["x-sim-provider"] == "small"
    data = r.json()
    assert data["object"] == "chat.completion"
    assert data["id"].startswith("chatcmpl-")
    assert isinstance(data["created"], int)
    assert data["model"] == "gpt-4o-mini"
    words = completion_words("small", "gpt-4o-mini", "Be terse.\nHello\nWhat is 2+2?", 5)
    assert data["choices"][0]["message"] == {
        "role": "assistant",
        "content": "[small/gpt-4o-mini] " + " ".join(words),
        "refusal": None,
    }
    assert data["choices"][0]["finish_reason"] == "stop"
    chars = len("Be terse.") + len("Hello") + len("What is 2+2?")
    assert data["usage"] == {
        "prompt_tokens": math.ceil(chars / 4),
        "completion_tokens": 5,
        "total_tokens": math.ceil(chars / 4) + 5,
    }


def test_chat_answer_depends_only_on_provider_model_and_prompt(provider: FakeProvider) -> None:
    def content(url: str, body: dict[str, Any]) -> str:
        r = httpx.post(url + CHAT, json=body, timeout=30)
        return str(r.json()["choices"][0]["message"]["content"])

    base = content(provider.url, chat("same prompt"))
    assert content(provider.url, chat("same prompt", temperature=1.5)) == base
    with FakeProvider("small", words=5).running() as twin, FakeProvider("large", words=5).running() as other:
        assert content(twin.url, chat("same prompt")) == base
        assert content(other.url, chat("same prompt")).startswith("[large/gpt-4o-mini] ")
    assert content(provider.url, chat("another prompt")) != base
    assert content(provider.url, {**chat("same prompt"), "model": "gpt-4o"}) != base


def test_chat_without_model_uses_default_model(client: httpx.Client) -> None:
    r = client.post(CHAT, json={"messages": [{"role": "user", "content": "hi"}]})

    assert r.json()["model"] == "small-1"
    assert r.json()["choices"][0]["message"]["content"].startswith("[small/small-1] ")


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_chat_max_tokens_below_words_truncates_with_length(client: httpx.Client, field: str) -> None:
    data = client.post(CHAT, json=chat("hi", **{field: 2})).json()

    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 2
    assert len(data["choices"][0]["message"]["content"].split()) == 1 + 2


def test_chat_stream_sends_each_event_as_its_own_chunk(provider: FakeProvider, client: httpx.Client) -> None:
    provider.chunk_interval_s = 0.05
    arrivals: list[tuple[float, bytes]] = []
    sent = time.monotonic()
    with client.stream("POST", CHAT, json=chat("stream me", stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        arrivals.extend((time.monotonic(), raw) for raw in r.iter_raw())

    # h11 hands over at most one HTTP chunk per read, so one read per event proves one chunk per event.
    events = [raw for _, raw in arrivals]
    assert all(raw.startswith(b"data: ") and raw.endswith(b"\n\n") for raw in events)
    assert len(events) == 1 + (1 + 5) + 1 + 1  # role, prefix + words, finish, [DONE]
    # Event k cannot arrive before k intervals have passed, whatever the machine's load.
    for k, (arrived, _) in enumerate(arrivals):
        assert arrived - sent >= k * 0.05 * 0.9
    assert provider.wait_for_attempts(1)[0].events == len(events)


def test_chat_stream_content_equals_json_content(client: httpx.Client) -> None:
    whole = client.post(CHAT, json=chat("same text")).json()
    streamed = client.post(CHAT, json=chat("same text", stream=True)).content

    payloads = sse_payloads(streamed)
    assert payloads[-1] == "[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == whole["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert len({c["id"] for c in chunks}) == 1


def test_chat_stream_usage_chunk_only_when_asked(client: httpx.Client) -> None:
    asked = client.post(CHAT, json=chat("count me", stream=True, stream_options={"include_usage": True}))
    declined = client.post(CHAT, json=chat("count me", stream=True, stream_options={"include_usage": False}))

    chunks = [orjson.loads(p) for p in sse_payloads(asked.content)[:-1]]
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}
    assert all(c["usage"] is None for c in chunks[:-1])
    assert sse_payloads(asked.content)[-1] == "[DONE]"
    for payload in sse_payloads(declined.content)[:-1]:
        data = orjson.loads(payload)
        assert "usage" not in data
        assert data["choices"] != []


def test_completions_json_and_stream(client: httpx.Client) -> None:
    whole = client.post("/v1/completions", json={"model": "davinci", "prompt": ["ab", "cdef"]}).json()
    assert whole["object"] == "text_completion"
    assert whole["id"].startswith("cmpl-")
    assert whole["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}

    streamed = client.post(
        "/v1/completions",
        json={"model": "davinci", "prompt": ["ab", "cdef"], "stream": True, "stream_options": {"include_usage": True}},
    )
    payloads = sse_payloads(streamed.content)
    assert payloads[-1] == "[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == whole["choices"][0]["text"]
    assert chunks[-1]["usage"]["completion_tokens"] == 5


def test_messages_json_has_anthropic_shape(client: httpx.Client) -> None:
    body = {
        "model": "claude-sonnet",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "You are kind."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}],
    }
    data = client.post("/v1/messages", json=body).json()

    assert data["type"] == "message"
    assert data["id"].startswith("msg_")
    assert data["role"] == "assistant"
    assert data["model"] == "claude-sonnet"
    assert data["content"][0]["type"] == "text"
    assert data["content"][0]["text"].startswith("[small/claude-sonnet] ")
    assert data["stop_reason"] == "end_turn"
    chars = len("You are kind.") + len("Hi there")
    assert data["usage"]["input_tokens"] == math.ceil(chars / 4)
    assert data["usage"]["output_tokens"] == 5


def test_messages_stream_has_anthropic_event_sequence(client: httpx.Client) -> None:
    body = {"model": "claude-sonnet", "stream": True, "messages": [{"role": "user", "content": "Hi there"}]}
    r = client.post("/v1/messages", json=body)

    events = sse_events(r.content)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[3:-3] == ["content_block_delta"] * 6
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in events)
    assert events[0][1]["message"]["usage"]["input_tokens"] == 2
    assert events[-2][1]["usage"] == {"output_tokens": 5}
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert text.startswith("[small/claude-sonnet] ")
    assert "[DONE]" not in r.text


def test_models_lists_default_model(client: httpx.Client) -> None:
    data = client.get("/v1/models").json()

    assert data == {"object": "list", "data": [{"id": "small-1", "object": "model", "created": 0, "owned_by": "small"}]}


def test_healthz_answers_ok(client: httpx.Client) -> None:
    r = client.get("/healthz")

    assert r.status_code == 200
    assert r.json() == {"status": "ok", "provider": "small"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", CHAT, b"{not json", 400, "invalid_json"),
        ("POST", CHAT, b"[1, 2]", 400, "invalid_json"),
        ("POST", CHAT, b"", 400, "invalid_json"),
        ("POST", CHAT, b'{"model": "m"}', 400, "invalid_messages"),
        ("POST", CHAT, b'{"messages": [], "model": "m"}', 400, "invalid_messages"),
        ("POST", CHAT, b'{"messages": [{"content": "x"}], "max_tokens": -1}', 400, "bad_request"),
        ("POST", "/v1/completions", b'{"prompt": 5}', 400, "bad_request"),
        ("GET", CHAT, b"", 405, "method_not_allowed"),
        ("POST", "/v1/models", b"", 405, "method_not_allowed"),
        ("GET", "/v1/embeddings", b"", 404, "unknown_url"),
        ("GET", "/", b"", 404, "unknown_url"),
    ],
    ids=[
        "bad-json",
        "json-array",
        "empty-body",
        "no-messages",
        "empty-messages",
        "negative-max-tokens",
        "bad-prompt",
        "get-chat",
        "post-models",
        "unknown-path",
        "root",
    ],
)
def test_bad_requests_get_openai_style_errors(
    client: httpx.Client, method: str, path: str, body: bytes, status: int, code: str
) -> None:
    r = client.request(method, path, content=body, headers={"content-type": "application/json"})

    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert error["message"]
