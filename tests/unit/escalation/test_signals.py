"""What the verifier reads from an answer: each signal, per API, and the bound on the work whatever the size."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.unit.escalation.answers import (
    anthropic_message,
    openai_chat,
    openai_completion,
    text_block,
    token_logprobs,
)
from triage.escalation import RequestFacts, Signals, verify
from triage.escalation.signals import (
    BLANK_CHARS,
    MAX_BODY_BYTES,
    MAX_JSON_CHARS,
    MAX_LOGPROB_TOKENS,
    TAIL_CHARS,
    read_signals,
)

CHAT = RequestFacts(api="openai.chat", task="open_qa")
ANTHROPIC = RequestFacts(api="anthropic.messages", task="open_qa")
JSON_CHAT = RequestFacts(api="openai.chat", json_output=True, task="extraction")
LONG = (
    "Paris is the capital of France. It has been the seat of the national government since the tenth century, "
    "apart from a few short periods, and today hosts the presidency, both chambers of parliament and most "
    "ministries. The city is also the country's largest by population and its economic centre."
)  # ~70 tokens: not short for open_qa (floor 62.5)


def found(body: bytes, facts: RequestFacts = CHAT) -> tuple[str, ...]:
    return verify(body, facts).found


def test_read_signals_finds_nothing_in_a_plain_answer() -> None:
    assert found(openai_chat(LONG)) == ()
    assert found(anthropic_message(text_block(LONG)), ANTHROPIC) == ()
    assert found(openai_completion(LONG), RequestFacts(api="openai.completions", task="open_qa")) == ()


@pytest.mark.parametrize(
    ("body", "facts", "signal"),
    [
        (openai_chat(LONG, finish="length"), CHAT, "truncated"),
        (anthropic_message(text_block(LONG), stop="max_tokens"), ANTHROPIC, "truncated"),
        (openai_completion(LONG, finish="length"), RequestFacts(api="openai.completions"), "truncated"),
        (openai_chat(None, refusal="I'm sorry, I cannot help with that request."), CHAT, "refusal"),
        (openai_chat(LONG, finish="content_filter"), CHAT, "refusal"),
        (anthropic_message(text_block(LONG), stop="refusal"), ANTHROPIC, "refusal"),
        (openai_chat("I'm sorry, but I can't help with that. " + LONG), CHAT, "refusal"),
        (openai_chat("As an AI language model, I have no opinions. " + LONG), CHAT, "refusal"),
        (openai_chat("Je ne peux pas vous aider avec cette demande. " + LONG), CHAT, "refusal"),
        (openai_chat("I'm not sure, but I think so. " + LONG), CHAT, "hedge"),
        (openai_chat(LONG + " " + LONG + " But I might be wrong."), CHAT, "hedge"),
        (anthropic_message(text_block("No estoy seguro, pero creo que sí. " + LONG)), ANTHROPIC, "hedge"),
        (openai_chat(""), CHAT, "empty"),
        (openai_chat(" \n\t "), CHAT, "empty"),
        (openai_chat(None), CHAT, "empty"),
        (anthropic_message(), ANTHROPIC, "empty"),
        (openai_chat('{"name": "Ada", "born": 18'), JSON_CHAT, "invalid_json"),
        (openai_chat('```json\n{"name": "Ada"}\n```'), JSON_CHAT, "invalid_json"),
        (openai_chat('"just a string"'), JSON_CHAT, "invalid_json"),
        (openai_chat("Paris.", tokens=2), CHAT, "short"),
    ],
    ids=[
        "openai-length",
        "anthropic-max-tokens",
        "completions-length",
        "openai-refusal-field",
        "openai-content-filter",
        "anthropic-refusal",
        "refusal-en",
        "refusal-as-an-ai",
        "refusal-fr",
        "hedge-head",
        "hedge-tail",
        "hedge-es",
        "empty",
        "whitespace",
        "null-content",
        "anthropic-no-blocks",
        "json-cut",
        "json-fenced",
        "json-not-an-object",
        "short",
    ],
)
def test_read_signals_finds_each_signal(body: bytes, facts: RequestFacts, signal: str) -> None:
    assert signal in found(body, facts)


def test_read_signals_takes_a_tool_call_for_an_answer() -> None:
    calls = [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}

    assert found(openai_chat(None, finish="tool_calls", tool_calls=calls, tokens=9)) == ("tool_calls",)
    assert found(anthropic_message(tool_use, stop="tool_use", output_tokens=9), ANTHROPIC) == ("tool_calls",)


def test_read_signals_checks_json_only_when_json_was_asked() -> None:
    assert "invalid_json" not in found(openai_chat("Not JSON at all. " + LONG), CHAT)
    assert found(openai_chat('{"name": "Ada", "born": 1815}', tokens=40), JSON_CHAT) == ()
    assert found(openai_chat("  [1, 2, 3]\n", tokens=40), JSON_CHAT) == ()


def test_read_signals_measures_short_against_the_task_and_max_tokens() -> None:
    code = RequestFacts(api="openai.chat", task="code")  # usual length 350: the floor is 87.5 tokens
    capped = RequestFacts(api="openai.chat", task="code", max_tokens=20)  # the client wants at most 20

    assert verify(openai_chat("x", tokens=40), code).signals.shortfall == pytest.approx(1 - 40 / 87.5)
    assert verify(openai_chat("x", tokens=100), code).signals.shortfall == 0.0
    assert verify(openai_chat("x", tokens=10), capped).signals.shortfall == 0.0
    assert verify(openai_chat("x", tokens=1), capped).signals.shortfall == pytest.approx(1 - 1 / 5)


def test_read_signals_counts_visible_tokens_without_reasoning_tokens() -> None:
    body = openai_chat("Yes.", tokens=500)
    doc = orjson.loads(body)
    doc["usage"]["completion_tokens_details"] = {"reasoning_tokens": 498}

    assert verify(orjson.dumps(doc), CHAT).signals.output_tokens == 2


def test_read_signals_estimates_tokens_from_text_when_usage_is_missing() -> None:
    doc = orjson.loads(openai_chat(LONG))
    del doc["usage"]

    assert verify(orjson.dumps(doc), CHAT).signals.output_tokens == -(-len(LONG) // 4)


def test_read_signals_summarises_chat_logprobs() -> None:
    values = [-0.01, -0.2, -3.0, -0.5, -9999.0]  # OpenAI writes -9999.0 for a token it would never pick
    signals = verify(openai_chat(LONG, logprobs=token_logprobs(values, top=2)), CHAT).signals

    assert signals.logprobs is not None
    assert signals.logprobs.tokens == 5
    assert signals.logprobs.read == 5
    assert signals.logprobs.mean == pytest.approx(sum(values) / 5)
    assert signals.logprobs.minimum == -9999.0
    assert signals.logprobs.low_share == pytest.approx(2 / 5)  # below ln(0.1) = -2.3
    assert signals.features()[1:3] == (-5.0, -10.0)  # mean and minimum clipped


def test_read_signals_summarises_legacy_completion_logprobs() -> None:
    body = openai_completion(LONG, token_logprobs=[-0.5, -1.5])
    signals = verify(body, RequestFacts(api="openai.completions", task="open_qa")).signals

    assert signals.logprobs is not None
    assert signals.logprobs.mean == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "logprobs",
    [
        {"content": None, "refusal": None},
        {"content": []},
        {"content": "tokens"},
        {"content": [1, "x", None]},
        {"content": [{"token": "a"}, {"logprob": "low"}]},
        "logprobs",
    ],
    ids=["null", "empty", "string", "not-objects", "no-numbers", "not-an-object"],
)
def test_read_signals_ignores_logprobs_it_cannot_read(logprobs: Any) -> None:
    assert verify(openai_chat(LONG, logprobs=logprobs), CHAT).signals.logprobs is None


def test_read_signals_keeps_the_numbers_among_mixed_logprobs() -> None:
    content = [{"logprob": -1.0}, {"logprob": None}, {"logprob": -3.0}, "x"]
    stats = verify(openai_chat(LONG, logprobs={"content": content}), CHAT).signals.logprobs

    assert stats is not None
    assert (stats.tokens, stats.read, stats.mean, stats.minimum) == (4, 4, -2.0, -3.0)


def test_read_signals_reads_an_unknown_api_by_its_shape() -> None:
    assert found(openai_chat(LONG, finish="length"), RequestFacts(api="custom")) == ("truncated",)
    assert found(anthropic_message(text_block(LONG), stop="max_tokens"), RequestFacts(api="custom")) == ("truncated",)


def test_read_signals_does_not_take_a_phrase_deep_in_a_long_answer_for_a_refusal() -> None:
    body = openai_chat(LONG * 3 + " As an AI researcher, you will like this. " + LONG * 3)

    assert "refusal" not in found(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b'"text"',
        b"{}",
        b'{"error": {"message": "overloaded", "type": "server_error"}}',
        b'{"choices": []}',
        b'{"choices": "x"}',
        b'{"choices": [1]}',
        b'{"choices": [{"message": "x"}]}',
        b'{"choices": [{"message": {"content": 5}, "finish_reason": 3, "logprobs": {"content": 7}}], "usage": 1}',
        b'{"choices": [{"message": {"content": [{"text": 1}, "x", {"type": "text", "text": "ok"}]}}]}',
        b'{"type": "message", "content": "x"}',
        b'{"type": "message", "content": [1, {"type": "text"}], "usage": {"output_tokens": "x"}}',
        b'{"choices": [{"message": {"content": "' + b"a" * 100 + b'"',
    ],
)
@pytest.mark.parametrize("api", ["openai.chat", "openai.completions", "anthropic.messages", "other"])
def test_verify_never_raises_and_scores_in_range(body: bytes, api: str) -> None:
    verdict = verify(body, RequestFacts(api=api, json_output=True, task="code", max_tokens=0))

    assert 0.0 <= verdict.score <= 1.0


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1]", b'{"error": {"type": "server_error"}}', b'{"choices": []}', b'{"type": "message"}'],
    ids=["not-json", "array", "error", "no-choices", "no-content"],
)
def test_verify_calls_a_body_that_is_no_answer_unparsable(body: bytes) -> None:
    verdict = verify(body, CHAT if b"message" not in body else ANTHROPIC)

    assert verdict.found == ("unparsable",)
    assert verdict.score < 0.05


# -- bounded work ------------------------------------------------------------------------------------------------

MB = 1024 * 1024


def _bound(signals: Signals) -> None:
    assert signals.chars_read <= BLANK_CHARS + TAIL_CHARS


def test_read_signals_reads_a_bounded_window_of_a_1_mb_answer() -> None:
    text = ("All work and no play makes Jack a dull boy. " * (MB // 44))[:MB] + " I'm not sure."
    signals = verify(openai_chat(text), CHAT).signals

    _bound(signals)
    assert signals.hedge  # found in the tail window
    assert signals.output_tokens == -(-len(text) // 4)


def test_read_signals_judges_a_1_mb_json_answer_by_its_ends() -> None:
    big = orjson.dumps({"rows": ["x" * 60] * (MB // 64)}).decode()
    assert len(big) > MAX_JSON_CHARS

    assert "invalid_json" not in verify(openai_chat(big), JSON_CHAT).found
    assert "invalid_json" in verify(openai_chat(big[:-1]), JSON_CHAT).found
    _bound(verify(openai_chat(big), JSON_CHAT).signals)


def test_read_signals_decodes_a_json_answer_up_to_the_limit() -> None:
    text = orjson.dumps({"rows": ["x" * 60] * ((MAX_JSON_CHARS - 100) // 64)}).decode()

    signals = verify(openai_chat(text[:-1]), JSON_CHAT).signals

    assert signals.invalid_json
    assert signals.chars_read <= BLANK_CHARS + TAIL_CHARS + MAX_JSON_CHARS


def test_read_signals_calls_an_answer_that_opens_with_a_page_of_whitespace_empty() -> None:
    assert "empty" in verify(openai_chat(" " * MB + "Paris."), CHAT).found


def test_read_signals_reads_a_bounded_sample_of_many_logprobs() -> None:
    values = [-0.5 if i % 2 else -0.1 for i in range(40_000)]  # mean -0.3 over any even stride
    body = openai_chat(LONG, logprobs=token_logprobs(values))
    assert len(body) < MAX_BODY_BYTES

    stats = verify(body, CHAT).signals.logprobs

    assert stats is not None
    assert stats.tokens == 40_000
    assert stats.read <= MAX_LOGPROB_TOKENS
    assert -0.5 <= stats.mean <= -0.1


def test_read_signals_reads_many_content_parts_up_to_a_bound() -> None:
    body = anthropic_message(*[text_block("word " * 200)] * 2000)  # 2 MB in 2000 blocks
    assert len(body) < MAX_BODY_BYTES

    signals = verify(body, ANTHROPIC).signals

    assert not signals.too_large
    _bound(signals)


def test_read_signals_does_not_decode_a_body_over_the_limit() -> None:
    body = b"{" + b" " * MAX_BODY_BYTES + b"not json"

    signals = read_signals(body, CHAT, expected_tokens=100, low_logprob=-2.3, short_ratio=0.25)

    assert signals.found == ("too_large",)
    assert signals.features() == (0.0,) * len(signals.features())
