"""``rewrite_body``: the model, the usage request for streams, the output cap; None when nothing changes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from triage.requests import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_COMPLETIONS, ApiSpec, parse_request, rewrite_body

_MESSAGES = [{"role": "user", "content": "hi"}]


def _rewrite(
    doc: dict[str, Any],
    spec: ApiSpec = OPENAI_CHAT,
    *,
    model: str | None = None,
    include_usage: bool = False,
    max_tokens_cap: int | None = None,
) -> dict[str, Any] | None:
    parsed = parse_request(json.dumps(doc).encode(), spec, "application/json")
    out = rewrite_body(parsed, model=model, include_usage=include_usage, max_tokens_cap=max_tokens_cap)
    return None if out is None else json.loads(out)


def test_rewrite_body_sets_the_model() -> None:
    doc = {"model": "auto", "messages": _MESSAGES, "temperature": 0.3}
    assert _rewrite(doc, model="gpt-4o-mini") == {**doc, "model": "gpt-4o-mini"}


def test_rewrite_body_adds_a_missing_model() -> None:
    assert _rewrite({"messages": _MESSAGES}, model="m") == {"messages": _MESSAGES, "model": "m"}


@pytest.mark.parametrize(
    ("doc", "model", "cap"),
    [
        ({"model": "gpt-4o", "messages": _MESSAGES}, "gpt-4o", None),
        ({"model": "gpt-4o", "messages": _MESSAGES}, None, None),
        ({"model": "m", "messages": _MESSAGES, "stream": True, "stream_options": {"include_usage": True}}, "m", None),
        ({"model": "m", "messages": _MESSAGES, "stream": True, "stream_options": {"include_usage": False}}, "m", None),
        ({"model": "m", "messages": _MESSAGES, "max_tokens": 10}, "m", 100),
    ],
    ids=["same-model", "no-model-asked", "stream-usage-already-on", "stream-usage-refused", "max-tokens-below-cap"],
)
def test_rewrite_body_returns_none_when_nothing_changes(
    doc: dict[str, Any], model: str | None, cap: int | None
) -> None:
    assert _rewrite(doc, model=model, include_usage=True, max_tokens_cap=cap) is None


STREAM_CASES: list[tuple[ApiSpec, dict[str, Any], bool, Any]] = [
    (OPENAI_CHAT, {"stream": True}, True, {"include_usage": True}),
    (OPENAI_COMPLETIONS, {"stream": True}, True, {"include_usage": True}),
    (OPENAI_CHAT, {"stream": True, "stream_options": None}, True, {"include_usage": True}),
    (OPENAI_CHAT, {"stream": True, "stream_options": {"x": 1}}, True, {"x": 1, "include_usage": True}),
    (OPENAI_CHAT, {"stream": True, "stream_options": {"include_usage": False}}, True, {"include_usage": False}),
    (OPENAI_CHAT, {"stream": True}, False, "absent"),
    (OPENAI_CHAT, {"stream": False}, True, "absent"),
    (OPENAI_CHAT, {}, True, "absent"),
    (ANTHROPIC_MESSAGES, {"stream": True, "max_tokens": 5}, True, "absent"),
]


@pytest.mark.parametrize(
    ("spec", "extra", "include_usage", "expected"),
    STREAM_CASES,
    ids=[
        "chat-stream-injected",
        "completions-stream-injected",
        "null-options-injected",
        "other-options-kept",
        "explicit-false-kept",
        "not-asked",
        "not-streaming",
        "stream-absent",
        "anthropic-never",
    ],
)
def test_rewrite_body_stream_options(spec: ApiSpec, extra: dict[str, Any], include_usage: bool, expected: Any) -> None:
    base: dict[str, Any] = {"model": "old", "prompt": "p"} if spec is OPENAI_COMPLETIONS else {"model": "old"}
    if spec is not OPENAI_COMPLETIONS:
        base["messages"] = _MESSAGES
    out = _rewrite({**base, **extra}, spec, model="new", include_usage=include_usage)
    assert out is not None
    if expected == "absent":
        assert "stream_options" not in out
    else:
        assert out["stream_options"] == expected


CAP_CASES: list[tuple[ApiSpec, dict[str, Any], int, dict[str, Any] | None]] = [
    (OPENAI_CHAT, {}, 256, {"max_tokens": 256}),
    (OPENAI_CHAT, {"max_tokens": 4000}, 256, {"max_tokens": 256}),
    (OPENAI_CHAT, {"max_tokens": 100}, 256, None),
    (OPENAI_CHAT, {"max_tokens": 256}, 256, None),
    (OPENAI_CHAT, {"max_completion_tokens": 4000}, 256, {"max_completion_tokens": 256}),
    (OPENAI_CHAT, {"max_completion_tokens": 10}, 256, None),
    (OPENAI_CHAT, {"max_tokens": "lots"}, 256, {"max_tokens": 256}),
    (ANTHROPIC_MESSAGES, {"max_tokens": 8192}, 1024, {"max_tokens": 1024}),
    (ANTHROPIC_MESSAGES, {}, 1024, {"max_tokens": 1024}),
]


@pytest.mark.parametrize(
    ("spec", "extra", "cap", "expected"),
    CAP_CASES,
    ids=[
        "none-given-set",
        "higher-lowered",
        "lower-kept",
        "equal-kept",
        "completion-key-lowered",
        "completion-key-lower-kept",
        "invalid-value-replaced",
        "anthropic-lowered",
        "anthropic-none-given-set",
    ],
)
def test_rewrite_body_caps_max_tokens(
    spec: ApiSpec, extra: dict[str, Any], cap: int, expected: dict[str, Any] | None
) -> None:
    doc = {"model": "m", "messages": _MESSAGES, **extra}
    out = _rewrite(doc, spec, model="m", max_tokens_cap=cap)
    if expected is None:
        assert out is None
        return
    assert out is not None
    assert {k: out[k] for k in spec.max_tokens_keys if k in out} == expected


def test_rewrite_body_keeps_non_ascii_text() -> None:
    text = "Traduis « ça » en 日本語, s'il te plaît 🎉 — naïve café"
    doc = {"model": "auto", "messages": [{"role": "user", "content": text}], "metadata": {"ключ": "значение"}}
    parsed = parse_request(json.dumps(doc, ensure_ascii=False).encode(), OPENAI_CHAT, "application/json")
    out = rewrite_body(parsed, model="gpt-4o", include_usage=False, max_tokens_cap=None)
    assert out is not None
    assert text.encode("utf-8") in out
    assert json.loads(out) == {**doc, "model": "gpt-4o"}


def test_rewrite_body_round_trips_every_other_field() -> None:
    doc = {
        "model": "auto",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "temperature": 0.0,
        "top_p": 1,
        "stop": ["\n\n"],
        "logit_bias": {"50256": -100},
        "user": None,
        "n": 2,
    }
    assert _rewrite(doc, model="x") == {**doc, "model": "x"}
