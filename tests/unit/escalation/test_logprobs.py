"""``request_logprobs`` and ``strip_logprobs``: ask an OpenAI chat request for logprobs, hide them again after."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.unit.escalation.answers import anthropic_message, openai_chat, text_block, token_logprobs
from triage.escalation import logprobs_asked, request_logprobs, strip_logprobs

CHAT = "openai.chat"
REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is the capital of France?"}]}


def strict(body: bytes) -> Any:
    """The standard library's reading of ``body``, refusing NaN and Infinity as JSON does."""

    def reject(name: str) -> Any:
        raise ValueError(name)

    return json.loads(body, parse_constant=reject)


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_request_logprobs_asks_for_them_and_keeps_everything_else() -> None:
    body = orjson.dumps({**REQUEST, "temperature": 0.2, "top_logprobs": 3})

    rewritten = request_logprobs(body, CHAT)

    assert rewritten is not None
    doc = strict(rewritten)
    assert doc == {**REQUEST, "temperature": 0.2, "top_logprobs": 3, "logprobs": True}
    assert list(doc) == ["model", "messages", "temperature", "top_logprobs", "logprobs"]
    assert rewritten.startswith(body[:-1])  # the client's bytes, then the new member


def test_request_logprobs_keeps_the_clients_bytes_as_written() -> None:
    body = (
        b'{\n  "model": "gpt-4o-mini",\n  "messages": [{"role": "user", "content": "caf\\u00e9"}],\n'
        b'  "logprobs": false\n}'
    )

    rewritten = request_logprobs(body, CHAT)

    assert rewritten is not None
    assert b'"messages": [{"role": "user", "content": "caf\\u00e9"}]' in rewritten  # as the client wrote it
    assert b'"logprobs": true}' in rewritten
    assert strict(rewritten)["logprobs"] is True


@pytest.mark.parametrize(
    ("body", "api"),
    [
        (orjson.dumps({**REQUEST, "logprobs": True}), CHAT),
        (orjson.dumps({**REQUEST, "logprobs": True, "top_logprobs": 5}), CHAT),
        (orjson.dumps({**REQUEST, "max_tokens": 20}), "anthropic.messages"),
        (orjson.dumps({"model": "davinci", "prompt": "hi"}), "openai.completions"),
        (b"not json", CHAT),
        (b"[1, 2]", CHAT),
        (b"", CHAT),
        (b'{"model": "x", "messages": [], "temperature": NaN}', CHAT),
    ],
    ids=["asked", "asked-with-top", "anthropic", "legacy-completions", "not-json", "array", "empty", "nan"],
)
def test_request_logprobs_leaves_alone_what_it_need_not_or_cannot_change(body: bytes, api: str) -> None:
    assert request_logprobs(body, api) is None


def test_request_logprobs_rewrites_a_body_the_splice_cannot_read() -> None:
    body = b'{"model": "a", "messages": [{"role": "user", "content": "x"}], "model": "b"}'  # which "model" counts?

    rewritten = request_logprobs(body, CHAT)

    assert rewritten is not None
    assert strict(rewritten) == {"model": "b", "messages": [{"role": "user", "content": "x"}], "logprobs": True}


def test_request_logprobs_keeps_deep_bodies_byte_for_byte() -> None:
    body = b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "metadata": ' + _deep(900).encode() + b"}"

    rewritten = request_logprobs(body, CHAT)

    assert rewritten is not None
    assert rewritten.endswith(b', "metadata": ' + _deep(900).encode() + b',"logprobs":true}')


@pytest.mark.parametrize(
    ("doc", "api", "asked"),
    [
        ({"logprobs": True}, CHAT, True),
        ({"logprobs": False}, CHAT, False),
        ({"logprobs": 1}, CHAT, False),
        ({}, CHAT, False),
        ({"logprobs": 0}, "openai.completions", True),
        ({"logprobs": True}, "openai.completions", False),
        ({"logprobs": True}, "anthropic.messages", False),
    ],
)
def test_logprobs_asked_reads_each_apis_parameter(doc: dict[str, Any], api: str, asked: bool) -> None:
    assert logprobs_asked(doc, api) is asked


def test_strip_logprobs_gives_the_answer_without_them() -> None:
    plain = openai_chat("Paris.")
    with_logprobs = openai_chat("Paris.", logprobs=token_logprobs([-0.1, -0.2], top=2))

    stripped = strip_logprobs(with_logprobs, CHAT)

    assert strict(stripped) == strict(plain)


def test_strip_logprobs_clears_every_choice() -> None:
    doc = orjson.loads(openai_chat("Paris.", logprobs=token_logprobs([-0.1])))
    doc["choices"].append({**doc["choices"][0], "index": 1})

    stripped = strict(strip_logprobs(orjson.dumps(doc), CHAT))

    assert [c["logprobs"] for c in stripped["choices"]] == [None, None]


def test_request_then_strip_round_trip() -> None:
    request = orjson.dumps(REQUEST)
    asked = request_logprobs(request, CHAT)
    assert asked is not None
    answer = openai_chat("Paris.", logprobs=token_logprobs([-0.01, -0.3]))

    assert strict(strip_logprobs(answer, CHAT)) == strict(openai_chat("Paris."))
    assert request_logprobs(asked, CHAT) is None  # asking twice changes nothing


@pytest.mark.parametrize(
    ("body", "api"),
    [
        (openai_chat("Paris."), CHAT),
        (openai_chat("Paris.", logprobs=token_logprobs([-0.1])), "anthropic.messages"),
        (anthropic_message(text_block("Paris.")), "anthropic.messages"),
        (b"data: {}\n\ndata: [DONE]\n\n", CHAT),
        (b"not json", CHAT),
        (b"", CHAT),
        (b'{"choices": "x"}', CHAT),
        (b'{"choices": [1, {"logprobs": null}]}', CHAT),
        (b"[]", CHAT),
    ],
    ids=["no-logprobs", "other-api", "anthropic", "sse", "not-json", "empty", "bad-choices", "odd-choices", "array"],
)
def test_strip_logprobs_returns_the_body_when_there_is_nothing_to_strip(body: bytes, api: str) -> None:
    assert strip_logprobs(body, api) == body


@pytest.mark.parametrize(
    "body",
    [
        b'{"choices": [{"logprobs": {"content": []}, "n": 123456789012345678901234567890}]}',
        b'{"choices": [{"logprobs": {"content": []}, "x": "\\ud800"}]}',
        b'{"choices": [{"logprobs": {"content": []}, "x": "caf\\u00e9 \\"q\\" \\n"}]}',
        b'{"choices": [{"logprobs": {"content": []}, "deep": ' + _deep(900).encode() + b"}]}",
        b'{"choices": [{"logprobs": 1.5e308}], "x": -0.0}',
        b'{"choices": [{"logprobs": {"content": []}}], "choices": [{"logprobs": true}]}',
        b'\xef\xbb\xbf{"choices": [{"logprobs": {}}]}',
    ],
    ids=["big-int", "lone-surrogate", "escapes", "deep", "floats", "duplicate-keys", "bom"],
)
def test_strip_logprobs_gives_valid_json_for_every_json(body: bytes) -> None:
    stripped = strip_logprobs(body, CHAT)

    strict(stripped)


def test_strip_logprobs_returns_json_too_deep_to_decode_as_it_is() -> None:
    body = b'{"choices": [{"logprobs": {"content": []}, "deep": ' + _deep(5000).encode() + b"}]}"

    assert strip_logprobs(body, CHAT) == body
