"""``rewrite_body``: the model, the usage request for streams, the output cap; None when nothing changes.

Every case runs twice: re-encoded (a ``ParsedRequest`` without its bytes, or a small body) and spliced (a large
body that keeps its bytes), and both must say the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.requests.test_splice import BodyGen, load_strict, reencode_rewrite
from triage.requests import (
    ANTHROPIC_MESSAGES,
    OPENAI_CHAT,
    OPENAI_COMPLETIONS,
    ApiSpec,
    ParsedRequest,
    parse_request,
    rewrite_body,
)
from triage.requests.rewrite import SPLICE_MIN_BYTES
from triage.requests.splice import NATIVE

_MESSAGES = [{"role": "user", "content": "hi"}]
_PAD = "zz_padding"
_PAD_VALUE = {"pad": "x" * SPLICE_MIN_BYTES}
_ROOT = Path(__file__).resolve().parents[3]


def with_body(body: bytes, spec: ApiSpec = OPENAI_CHAT) -> ParsedRequest:
    """A parsed request that keeps the bytes its document was decoded from (what enables the splice)."""
    parsed = parse_request(body, spec, "application/json")
    assert parsed.body == body
    return parsed


def without_body(body: bytes, spec: ApiSpec = OPENAI_CHAT) -> ParsedRequest:
    parsed = parse_request(body, spec, "application/json")
    return ParsedRequest(spec=parsed.spec, doc=parsed.doc, input=parsed.input)


def _rewrite(
    doc: dict[str, Any],
    spec: ApiSpec = OPENAI_CHAT,
    *,
    model: str | None = None,
    include_usage: bool = False,
    max_tokens_cap: int | None = None,
) -> dict[str, Any] | None:
    """The rewritten document, checked against the reference re-encode and against the spliced large body."""
    kwargs: dict[str, Any] = {"model": model, "include_usage": include_usage, "max_tokens_cap": max_tokens_cap}
    body = json.dumps(doc).encode()
    out = rewrite_body(without_body(body, spec), **kwargs)
    assert out == reencode_rewrite(parse_request(body, spec, "application/json"), **kwargs)
    # The same document with a large member last, written with newlines: spliced when the extension is on.
    large = json.dumps({**doc, _PAD: _PAD_VALUE}, indent=1).encode()
    parsed = with_body(large, spec)
    spliced = rewrite_body(parsed, **kwargs)
    assert (spliced is None) == (out is None)
    if out is None or spliced is None:
        assert parsed.body == large  # nothing changed: the bytes still match the document
        return None
    assert parsed.body == b""  # the document changed: its old bytes are dropped
    assert spliced.startswith(b'{"model":') == out.startswith(b'{"model":')
    assert (b"\n" in spliced) == NATIVE  # the original whitespace is kept only by the splice
    decoded = load_strict(spliced)
    assert parsed.doc == decoded
    assert decoded.pop(_PAD) == _PAD_VALUE
    assert decoded == json.loads(out)
    assert list(decoded) == list(json.loads(out))
    return json.loads(out)  # type: ignore[no-any-return]


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


# -- the splice and the re-encode, side by side ------------------------------------------------------------------


def _large_chat(extra: str = "") -> bytes:
    """A chat body well above ``SPLICE_MIN_BYTES``; ``extra`` members go after the messages."""
    content = "Résumé « ça » 🎉 " * (SPLICE_MIN_BYTES // 8)
    sep = " \r\n\t"
    text = (
        '{"model":"auto",'
        + sep
        + '"stream":true,"max_tokens":100000,'
        + sep
        + '"messages":[{"role":"user","content":'
        + json.dumps(content, ensure_ascii=False)
        + "}]"
        + extra
        + "}"
    )
    return text.encode()


def test_rewrite_body_splices_a_large_body_into_its_own_bytes() -> None:
    body = _large_chat(', "metadata" : {"n": 123456789012345678901234567890}')
    parsed = with_body(body)
    out = rewrite_body(parsed, model="gpt-4o", include_usage=True, max_tokens_cap=1024)
    assert out is not None
    reference = reencode_rewrite(
        parse_request(body, OPENAI_CHAT), model="gpt-4o", include_usage=True, max_tokens_cap=1024
    )
    assert reference is not None
    assert load_strict(out) == load_strict(reference)
    assert list(json.loads(out)) == ["model", "stream", "max_tokens", "messages", "metadata", "stream_options"]
    assert out.startswith(b'{"model":"gpt-4o",')
    assert parsed.body == b""
    if NATIVE:  # untouched members as the client wrote them: spacing, and integers orjson would round
        assert b'"stream":true,"max_tokens":1024,"messages":[' in out
        assert b'}], "metadata" : {"n": 123456789012345678901234567890},"stream_options":' in out
    else:
        assert out == reference


@pytest.mark.parametrize(
    ("second", "changes"),
    [
        ({"model": "gpt-4o", "include_usage": True, "max_tokens_cap": 1024}, False),
        ({"model": "llama", "include_usage": True, "max_tokens_cap": 1024}, True),
        ({"model": "gpt-4o", "include_usage": True, "max_tokens_cap": 100}, True),
        ({"model": "gpt-4o", "include_usage": False, "max_tokens_cap": 4096}, False),
        ({"model": None, "include_usage": False, "max_tokens_cap": None}, False),
    ],
    ids=["same-again", "other-model", "lower-cap", "higher-cap", "nothing-asked"],
)
def test_rewrite_body_a_second_rewrite_starts_from_the_first(second: dict[str, Any], changes: bool) -> None:
    """A fail-open after a fault rewrites the same ``ParsedRequest`` again: from the changed document, whose
    old bytes were dropped, exactly as the re-encode does."""
    first: dict[str, Any] = {"model": "gpt-4o", "include_usage": True, "max_tokens_cap": 1024}
    body = _large_chat()
    spliced, reencoded = with_body(body), parse_request(body, OPENAI_CHAT)
    assert rewrite_body(spliced, **first) is not None
    assert reencode_rewrite(reencoded, **first) is not None
    out = rewrite_body(spliced, **second)
    reference = reencode_rewrite(reencoded, **second)
    assert (out is not None) == changes
    assert out == reference
    assert spliced.doc == reencoded.doc


@pytest.mark.parametrize(
    "extra",
    [', "model": "again"', ', "mod\\u0065l": "again"', ', "stream": true', ', "max_tokens": 5'],
    ids=["model", "escaped-model", "stream", "max-tokens"],
)
def test_rewrite_body_a_repeated_key_is_reencoded(extra: str) -> None:
    body = _large_chat(extra)
    out = rewrite_body(with_body(body), model="gpt-4o", include_usage=True, max_tokens_cap=1024)
    reference = reencode_rewrite(
        parse_request(body, OPENAI_CHAT), model="gpt-4o", include_usage=True, max_tokens_cap=1024
    )
    assert out == reference


def test_rewrite_body_a_small_body_is_reencoded() -> None:
    body = b'{ "model" : "auto", "stream" : true, "messages" : [{"role": "user", "content": "hi"}] }'
    out = rewrite_body(with_body(body), model="gpt-4o", include_usage=True, max_tokens_cap=1024)
    assert out == reencode_rewrite(
        parse_request(body, OPENAI_CHAT), model="gpt-4o", include_usage=True, max_tokens_cap=1024
    )


def _generated(seed: int, n: int) -> list[tuple[bytes, ApiSpec, dict[str, Any]]]:
    """``n`` generated bodies (see ``test_splice``), each with a large member, and the rewrite to apply."""
    gen = BodyGen(seed)
    rng = gen.rng
    cases = []
    for _ in range(n):
        spec = rng.choice((OPENAI_CHAT, OPENAI_COMPLETIONS, ANTHROPIC_MESSAGES))
        body, _ = gen.body(spec)
        body = body.rstrip()[:-1] + b',"zz_padding":"' + b"x" * SPLICE_MIN_BYTES + b'"}'
        kwargs = {"model": rng.choice((None, "gpt-4o", "auto")), "include_usage": True, "max_tokens_cap": 100}
        cases.append((body, spec, kwargs))
    return cases


def test_rewrite_body_generated_bodies_match_the_reencode() -> None:
    for body, spec, kwargs in _generated(11, 300):
        reference = reencode_rewrite(parse_request(body, spec), **kwargs)
        assert rewrite_body(without_body(body, spec), **kwargs) == reference  # without its bytes: re-encoded
        out = rewrite_body(with_body(body, spec), **kwargs)
        assert (out is None) == (reference is None)
        if out is not None and reference is not None:
            assert load_strict(out) == load_strict(reference)
            assert list(json.loads(out)) == list(json.loads(reference))


_NATIVE_OFF = """
from tests.unit.requests.test_rewrite import _generated, with_body
from tests.unit.requests.test_splice import reencode_rewrite
from triage.requests import parse_request, rewrite_body
from triage.requests.splice import NATIVE

assert not NATIVE
cases = _generated(12, 100)
for body, spec, kwargs in cases:
    out = rewrite_body(with_body(body, spec), **kwargs)
    assert out == reencode_rewrite(parse_request(body, spec), **kwargs), body
print(len(cases))
"""


def test_rewrite_body_with_native_code_switched_off_is_todays_reencode() -> None:
    env = {**os.environ, "TRIAGE_NATIVE": "0"}
    result = subprocess.run(
        [sys.executable, "-c", _NATIVE_OFF],
        cwd=_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "100"


def test_rewrite_body_native_code_is_on_when_built() -> None:
    try:
        from triage.requests import _jsonscan  # noqa: F401
    except ImportError:
        pytest.skip("triage.requests._jsonscan is not built")
    assert (os.environ.get("TRIAGE_NATIVE", "").strip().lower() not in {"0", "false", "no", "off"}) == NATIVE
