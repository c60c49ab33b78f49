"""``verify``: one score per answer that falls as doubt grows, per task, with the facts of the request."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from tests.unit.escalation.answers import anthropic_message, openai_chat, text_block, token_logprobs
from triage.escalation import (
    DEFAULT_CONFIG,
    LogprobStats,
    RequestFacts,
    Signals,
    configure,
    facts_of,
    verify,
    verify_document,
)
from triage.requests import ANTHROPIC_MESSAGES, OPENAI_CHAT, parse_request

CHAT = RequestFacts(api="openai.chat", task="open_qa")
LONG = "The capital of France is Paris, which has been its seat of government for most of a millennium. " * 3
TASKS = sorted(DEFAULT_CONFIG.tasks)


def confident(mean: float = -0.1) -> LogprobStats:
    return LogprobStats(tokens=100, read=100, mean=mean, minimum=min(mean, -3.0), low_share=0.02)


# One doubt added at a time, each signal at its strongest.
DOUBTS: list[tuple[str, dict[str, object]]] = [
    ("hedge", {"hedge": True}),
    ("short", {"shortfall": 0.8}),
    ("truncated", {"truncated": True}),
    ("refusal", {"refusal": True}),
    ("invalid_json", {"invalid_json": True}),
    ("empty", {"empty": True}),
    ("unparsable", {"unparsable": True}),
    ("low_logprobs", {"logprobs": LogprobStats(tokens=100, read=100, mean=-1.5, minimum=-9.0, low_share=0.3)}),
]


def score(signals: Signals, task: str) -> float:
    return DEFAULT_CONFIG.profile(task)[1].weights.score(signals.features())


@pytest.mark.parametrize("task", [*TASKS, "default"])
@pytest.mark.parametrize(("name", "change"), DOUBTS, ids=[d[0] for d in DOUBTS])
def test_score_never_rises_when_a_doubt_is_added(task: str, name: str, change: dict[str, object]) -> None:
    for base in (Signals(), Signals(logprobs=confident())):
        assert score(dataclasses.replace(base, **change), task) <= score(base, task), name  # type: ignore[arg-type]


@pytest.mark.parametrize("task", [*TASKS, "default"])
def test_score_falls_as_doubts_accumulate(task: str) -> None:
    signals = Signals(logprobs=confident())
    previous = score(signals, task)
    for _name, change in DOUBTS:
        signals = dataclasses.replace(signals, **change)  # type: ignore[arg-type]
        current = score(signals, task)
        assert current <= previous
        previous = current
    assert previous < 0.01


@pytest.mark.parametrize("task", [*TASKS, "default"])
def test_score_falls_with_the_mean_logprob_and_the_share_of_unlikely_tokens(task: str) -> None:
    means = [score(Signals(logprobs=confident(mean)), task) for mean in (0.0, -0.2, -0.5, -1.0, -2.0, -4.0)]
    shares = [
        score(Signals(logprobs=LogprobStats(100, 100, -0.3, -4.0, share)), task) for share in (0.0, 0.1, 0.3, 0.6)
    ]

    assert means == sorted(means, reverse=True)
    assert len(set(means)) == len(means)
    assert shares == sorted(shares, reverse=True)
    assert len(set(shares)) == len(shares)


def test_confident_logprobs_raise_the_score_above_the_prior_and_doubtful_ones_lower_it() -> None:
    prior = score(Signals(), "open_qa")

    assert score(Signals(logprobs=confident(-0.1)), "open_qa") > prior
    assert score(Signals(logprobs=LogprobStats(100, 100, -1.0, -9.0, 0.25)), "open_qa") < 0.5 < prior


def test_verify_scores_worse_answers_lower_end_to_end() -> None:
    bodies = [  # each one with one more doubt than the one before
        openai_chat(LONG, logprobs=token_logprobs([-0.05] * 60)),
        openai_chat(LONG),
        openai_chat("I'm not sure, but " + LONG),
        openai_chat("I'm not sure, maybe Paris.", tokens=8),
        openai_chat("I'm not sure, maybe Paris.", tokens=8, logprobs=token_logprobs([-1.2, -2.5, -0.8, -3.1])),
    ]
    scores = [verify(body, CHAT).score for body in bodies]

    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)
    assert scores[1] > 0.5 > scores[3]


@pytest.mark.parametrize(
    "body",
    [openai_chat("I'm sorry, but I can't help with that.", tokens=10), openai_chat(""), b"<html>502</html>"],
    ids=["refusal", "empty", "not-an-answer"],
)
def test_verify_scores_an_unusable_answer_near_zero(body: bytes) -> None:
    assert verify(body, CHAT).score < 0.05


def test_verify_weighs_by_the_task_and_names_the_profile() -> None:
    body = openai_chat("Positive", tokens=1)

    classification = verify(body, RequestFacts(api="openai.chat", task="classification"))
    code = verify(body, RequestFacts(api="openai.chat", task="code"))
    unknown = verify(body, RequestFacts(api="openai.chat", task="poetry"))

    assert classification.task == "classification"
    assert unknown.task == "default"
    assert classification.found == code.found == ("short",)
    assert classification.score == pytest.approx(0.85, abs=0.005)  # a one-word label is what classification gives
    assert code.score < 0.6


def test_verify_uses_the_configuration_it_is_given() -> None:
    body = openai_chat("I'm not sure. " + LONG)
    lenient = configure({"open_qa": {"hedge": 0.0}})

    assert verify(body, CHAT, lenient).score == pytest.approx(score(Signals(), "open_qa"))
    assert verify(body, CHAT).score < verify(body, CHAT, lenient).score


def test_verify_is_pure() -> None:
    body = openai_chat("I'm not sure. " + LONG, logprobs=token_logprobs([-0.3, -1.0]))

    assert verify(body, CHAT) == verify(body, CHAT)
    assert verify_document(orjson.loads(body), CHAT) == verify(body, CHAT)


def test_verdict_asks_to_strip_logprobs_only_when_the_client_did_not_ask() -> None:
    with_logprobs = openai_chat(LONG, logprobs=token_logprobs([-0.1]))

    assert verify(with_logprobs, CHAT).strip_logprobs
    assert not verify(with_logprobs, dataclasses.replace(CHAT, client_logprobs=True)).strip_logprobs
    assert not verify(openai_chat(LONG), CHAT).strip_logprobs


def test_too_large_an_answer_gets_the_task_prior() -> None:
    verdict = verify(b" " * (4 * 1024 * 1024 + 1), CHAT)

    assert verdict.found == ("too_large",)
    assert verdict.score == pytest.approx(score(Signals(), "open_qa"))


def test_facts_of_reads_the_parsed_request() -> None:
    chat = parse_request(
        orjson.dumps(
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "Give me JSON"}],
                "logprobs": True,
                "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
                "max_completion_tokens": 300,
            }
        ),
        OPENAI_CHAT,
    )
    messages = parse_request(
        orjson.dumps({"model": "claude", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}),
        ANTHROPIC_MESSAGES,
    )

    assert facts_of(chat, "extraction") == RequestFacts(
        api="openai.chat", client_logprobs=True, json_output=True, task="extraction", max_tokens=300
    )
    assert facts_of(messages, None) == RequestFacts(api="anthropic.messages", max_tokens=50)


def test_verify_reads_an_anthropic_answer() -> None:
    facts = RequestFacts(api="anthropic.messages", task="open_qa")

    good = verify(anthropic_message(text_block(LONG)), facts)
    cut = verify(anthropic_message(text_block(LONG), stop="max_tokens"), facts)

    assert good.found == ()
    assert cut.found == ("truncated",)
    assert cut.score < good.score
