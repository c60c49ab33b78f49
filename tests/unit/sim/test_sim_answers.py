"""Answer knobs: a fake provider's answers with a controllable confidence, and token logprobs when asked."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from triage.escalation import RequestFacts, strip_logprobs, verify
from triage.sim import Answer, FakeProvider, Fault
from triage.sim.answers import DEFAULT_LOGPROB_MEAN, shape, split_text, token_logprobs
from triage.sim.completion import Completion
from triage.sim.stack import wait_until

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}


def chat(text: str = "what is the capital of france", **extra: Any) -> dict[str, Any]:
    return {"model": "cheap-1", "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[FakeProvider]:
    with FakeProvider(
        "cheap", default_model="cheap-1", words=30, log_path=tmp_path / "provider-cheap.jsonl"
    ).running() as p:
        yield p


@pytest.fixture
def client(provider: FakeProvider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=provider.url, timeout=30) as c:
        yield c


def answer_of(client: httpx.Client, body: dict[str, Any], path: str = CHAT) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def choice(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    data = answer_of(client, chat(**extra))
    result: dict[str, Any] = data["choices"][0]
    return result


# -- the knobs themselves --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"text": "x", "empty": True}, "text and empty each decide the text"),
        ({"refusal": "no", "invalid_json": True}, "refusal and invalid_json"),
        ({"words": -1}, "words must be >= 0"),
        ({"words": 3, "text": "x"}, "words must be >= 0 and applies to the generated text"),
        ({"finish_reason": "tool_calls"}, "finish_reason must be one of stop, length"),
        ({"logprob_mean": 0.5}, "logprob_mean must be a finite number <= 0"),
        ({"logprob_mean": -math.inf}, "logprob_mean must be a finite number <= 0"),
    ],
)
def test_answer_rejects_contradictory_or_impossible_knobs(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Answer(**fields)


def test_answer_json_round_trip_and_type_checks() -> None:
    answer = Answer(finish_reason="length", invalid_json=True, words=3, logprob_mean=-2)

    assert Answer.from_dict(answer.to_dict()) == answer
    assert answer.to_dict() == {"finish_reason": "length", "invalid_json": True, "words": 3, "logprob_mean": -2}
    with pytest.raises(ValueError, match="unknown answer field"):
        Answer.from_dict({"confidence": 0.2})
    with pytest.raises(ValueError, match="'empty' has the wrong type"):
        Answer.from_dict({"empty": "yes"})
    with pytest.raises(ValueError, match="'words' has the wrong type"):
        Answer.from_dict({"words": True})


def test_fault_carries_an_answer() -> None:
    fault = Fault(answer=Answer(empty=True), times=2)

    assert not fault.is_noop
    assert fault.to_dict() == {"answer": {"empty": True}, "times": 2}
    assert Fault.from_dict(fault.to_dict()) == fault
    assert Fault.from_dict({"answer": None}).is_noop
    with pytest.raises(ValueError, match="answer shapes a normal 200 answer"):
        Fault(status=503, answer=Answer(empty=True))
    with pytest.raises(ValueError, match="'answer' has the wrong type"):
        Fault.from_dict({"answer": "empty"})
    with pytest.raises(ValueError, match="unknown answer field"):
        Fault.from_dict({"answer": {"emptyy": True}})


def test_token_logprobs_average_the_mean_and_stay_deterministic() -> None:
    pieces = split_text("The capital of France is Paris, of course.")

    values = token_logprobs(pieces, -1.5)

    assert len(values) == len(pieces) == 8
    assert sum(values) / len(values) == pytest.approx(-1.5, abs=1e-5)
    assert all(-1.5 * 1.75 - 1e-6 <= v <= -1.5 * 0.25 + 1e-6 for v in values)
    assert len(set(values)) > 1
    assert token_logprobs(pieces, -1.5) == values
    assert token_logprobs(pieces, 0.0) == (0.0,) * 8


def test_split_text_keeps_the_text() -> None:
    for text in ["", "   ", "one", " lead and trail  ", "a\nb\tc"]:
        assert "".join(split_text(text)) == text


def test_shape_counts_the_words_of_a_given_text() -> None:
    completion = Completion(
        id="x",
        created=0,
        model="m",
        pieces=("[p/m]", " a", " b"),
        prompt_tokens=1,
        completion_tokens=2,
        truncated=False,
    )

    shaped = shape(completion, Answer(text="I'm not sure."), logprobs=False)

    assert shaped.completion.text == "I'm not sure."
    assert shaped.completion.completion_tokens == 3
    assert shaped.logprobs is None


# -- over HTTP: logprobs ---------------------------------------------------------------------------


def test_logprobs_come_only_when_asked(client: httpx.Client) -> None:
    assert choice(client)["logprobs"] is None
    assert choice(client, logprobs=False)["logprobs"] is None

    logprobs = choice(client, logprobs=True)["logprobs"]

    assert set(logprobs) == {"content", "refusal"}
    assert logprobs["refusal"] is None
    for entry in logprobs["content"]:
        assert set(entry) == {"token", "logprob", "bytes", "top_logprobs"}
        assert entry["bytes"] == list(entry["token"].encode())
        assert entry["top_logprobs"] == []
        assert entry["logprob"] <= 0


def test_logprobs_spell_the_answer_and_average_the_default_level(client: httpx.Client) -> None:
    data = choice(client, logprobs=True)
    tokens = data["logprobs"]["content"]

    assert "".join(t["token"] for t in tokens) == data["message"]["content"]
    assert sum(t["logprob"] for t in tokens) / len(tokens) == pytest.approx(DEFAULT_LOGPROB_MEAN, abs=1e-5)


def test_top_logprobs_list_the_token_then_less_likely_ones(client: httpx.Client) -> None:
    tokens = choice(client, logprobs=True, top_logprobs=3)["logprobs"]["content"]

    for entry in tokens:
        top = entry["top_logprobs"]
        assert len(top) == 3
        assert top[0] == {"token": entry["token"], "logprob": entry["logprob"], "bytes": entry["bytes"]}
        assert sum(math.exp(t["logprob"]) for t in top) <= 1 + 1e-6
        assert [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": "yes"}, "logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ],
    ids=["top-without-logprobs", "not-a-boolean", "too-many"],
)
def test_logprob_parameters_are_validated_as_openai_does(
    client: httpx.Client, extra: dict[str, Any], param: str
) -> None:
    r = client.post(CHAT, json=chat(**extra))

    assert r.status_code == 400
    assert r.json()["error"]["param"] == param


def test_logprob_mean_sets_the_level(provider: FakeProvider, client: httpx.Client) -> None:
    provider.set_fault(Fault(answer=Answer(logprob_mean=-2.5)))

    tokens = choice(client, logprobs=True)["logprobs"]["content"]

    assert sum(t["logprob"] for t in tokens) / len(tokens) == pytest.approx(-2.5, abs=1e-5)
    assert choice(client)["logprobs"] is None  # still only when asked


def test_streamed_chunks_carry_their_tokens_logprobs(client: httpx.Client) -> None:
    whole = choice(client, logprobs=True)
    r = client.post(CHAT, json=chat(logprobs=True, stream=True))
    chunks = [orjson.loads(line[6:]) for line in r.text.split("\n") if line.startswith("data: {")]

    content = [c["choices"][0] for c in chunks if c["choices"][0]["delta"].get("content")]
    assert "".join(c["delta"]["content"] for c in content) == whole["message"]["content"]
    assert [c["logprobs"]["content"][0] for c in content] == whole["logprobs"]["content"]


# -- over HTTP: the answer's text and finish ---------------------------------------------------------


def test_finish_reason_is_set_whatever_the_length(provider: FakeProvider, client: httpx.Client) -> None:
    provider.set_fault(Fault(answer=Answer(finish_reason="length")))
    assert choice(client)["finish_reason"] == "length"
    assert answer_of(client, chat(max_tokens=50), MESSAGES)["stop_reason"] == "max_tokens"

    provider.set_fault(Fault(answer=Answer(finish_reason="stop")))
    assert choice(client, max_tokens=2)["finish_reason"] == "stop"
    assert answer_of(client, chat(max_tokens=2), MESSAGES)["stop_reason"] == "end_turn"


def test_refusal_is_the_content_or_the_refusal_field(provider: FakeProvider, client: httpx.Client) -> None:
    provider.set_fault(Fault(answer=Answer(refusal="I'm sorry, but I can't help with that.")))

    plain = choice(client)["message"]
    structured = choice(client, response_format=JSON_SCHEMA, logprobs=True)

    assert plain == {"role": "assistant", "content": "I'm sorry, but I can't help with that.", "refusal": None}
    assert structured["message"]["content"] is None
    assert structured["message"]["refusal"] == "I'm sorry, but I can't help with that."
    assert structured["logprobs"]["content"] is None
    assert "".join(t["token"] for t in structured["logprobs"]["refusal"]) == structured["message"]["refusal"]


def test_empty_answer_has_no_text_and_no_tokens(provider: FakeProvider, client: httpx.Client) -> None:
    provider.set_fault(Fault(answer=Answer(empty=True)))

    data = answer_of(client, chat(logprobs=True))

    assert data["choices"][0]["message"]["content"] == ""
    assert data["choices"][0]["logprobs"]["content"] == []
    assert data["usage"]["completion_tokens"] == 0
    assert answer_of(client, chat(), MESSAGES)["content"] == [{"type": "text", "text": ""}]


def test_json_mode_answers_json_unless_told_otherwise(provider: FakeProvider, client: httpx.Client) -> None:
    plain = choice(client, response_format={"type": "json_object"})["message"]["content"]
    assert json.loads(plain)["answer"].startswith("[cheap/cheap-1] ")

    cut = choice(client, response_format={"type": "json_object"}, max_tokens=3)
    assert cut["finish_reason"] == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut["message"]["content"])

    provider.set_fault(Fault(answer=Answer(invalid_json=True)))
    broken = choice(client, response_format={"type": "json_object"})["message"]["content"]
    assert broken.startswith('{"answer": "[cheap/cheap-1]')
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)


def test_words_and_text_set_the_answer(provider: FakeProvider, client: httpx.Client) -> None:
    provider.set_fault(Fault(answer=Answer(words=2)))
    short = answer_of(client, chat())
    assert short["usage"]["completion_tokens"] == 2
    assert len(short["choices"][0]["message"]["content"].split()) == 3  # the [provider/model] tag and two words

    provider.set_fault(Fault(answer=Answer(text="I'm not sure, maybe Paris.")))
    assert choice(client)["message"]["content"] == "I'm not sure, maybe Paris."
    streamed = client.post(CHAT, json=chat(stream=True)).text
    assert '"content":" sure,"' in streamed


# -- control, scripts and the attempt log ----------------------------------------------------------


def test_answers_are_set_and_reset_over_the_control_api(provider: FakeProvider, client: httpx.Client) -> None:
    r = client.post("/_sim/faults", json={"fault": {"answer": {"logprob_mean": -3, "finish_reason": "length"}}})
    assert r.status_code == 200
    assert r.json()["fault"]["fault"] == {"answer": {"logprob_mean": -3, "finish_reason": "length"}}

    shaped = choice(client, logprobs=True)
    assert shaped["finish_reason"] == "length"
    assert sum(t["logprob"] for t in shaped["logprobs"]["content"]) / len(
        shaped["logprobs"]["content"]
    ) == pytest.approx(-3, abs=1e-5)

    client.delete("/_sim/faults")
    assert choice(client)["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ({"answer": {"empty": True, "text": "x"}}, "each decide the text"),
        ({"answer": {"sure": 1}}, "unknown answer field"),
        ({"answer": {"empty": True}, "status": 503}, "cannot combine"),
    ],
)
def test_control_api_rejects_bad_answers(client: httpx.Client, fault: dict[str, Any], problem: str) -> None:
    r = client.post("/_sim/faults", json={"fault": fault})

    assert r.status_code == 400
    assert problem in r.json()["error"]["message"]


def test_scripted_answers_follow_the_fault_rules(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(answer=Answer(empty=True), times=1), Fault(status=503, times=1)])
    provider.set_fault(Fault(answer=Answer(refusal="No.")))

    r1, r2, r3 = (client.post(CHAT, json=chat()) for _ in range(3))

    assert r1.json()["choices"][0]["message"]["content"] == ""
    assert r2.status_code == 503
    assert r3.json()["choices"][0]["message"]["content"] == "No."


def test_attempts_record_logprob_requests_and_the_answer_given(
    provider: FakeProvider, client: httpx.Client, tmp_path: Path
) -> None:
    provider.set_fault(Fault(answer=Answer(logprob_mean=-2.0), times=1))
    client.post(CHAT, json=chat(logprobs=True))
    client.post(CHAT, json=chat())

    first, second = provider.wait_for_attempts(2)

    assert (first.logprobs, first.fault) == (True, Fault(answer=Answer(logprob_mean=-2.0), times=1))
    assert (second.logprobs, second.fault) == (False, None)
    log = tmp_path / "provider-cheap.jsonl"
    # the attempt log's line is written after the attempt is counted: wait for it
    wait_until("both attempt lines", lambda: len(log.read_text().splitlines()) >= 2, 30)
    lines = [orjson.loads(line) for line in log.read_text().splitlines()]
    assert [(line["logprobs"], line["fault"]) for line in lines] == [
        (True, {"answer": {"logprob_mean": -2.0}, "times": 1}),
        (False, None),
    ]


# -- what the verifier makes of them ---------------------------------------------------------------

FACTS = RequestFacts(api="openai.chat", task="open_qa")


@pytest.mark.parametrize(
    ("answer", "extra", "signal"),
    [
        (Answer(finish_reason="length"), {}, "truncated"),
        (Answer(refusal="I'm sorry, but I can't help with that."), {}, "refusal"),
        (Answer(refusal="I can't help with that."), {"response_format": JSON_SCHEMA}, "refusal"),
        (Answer(empty=True), {}, "empty"),
        (Answer(invalid_json=True), {"response_format": {"type": "json_object"}}, "invalid_json"),
        (Answer(words=2), {}, "short"),
        (Answer(text="I'm not sure, but it may be Paris. " * 10), {}, "hedge"),
    ],
    ids=["length", "refusal", "refusal-field", "empty", "invalid-json", "short", "hedge"],
)
def test_the_verifier_finds_what_each_knob_sets(
    provider: FakeProvider, client: httpx.Client, answer: Answer, extra: dict[str, Any], signal: str
) -> None:
    provider.set_fault(Fault(answer=answer))
    json_output = "response_format" in extra

    verdict = verify(
        client.post(CHAT, json=chat(**extra)).content,
        RequestFacts(api="openai.chat", json_output=json_output, task="open_qa"),
    )

    assert signal in verdict.found


def test_the_verifier_scores_doubtful_logprobs_below_confident_ones(
    provider: FakeProvider, client: httpx.Client
) -> None:
    provider.set_fault(Fault(answer=Answer(words=80)))
    confident = verify(client.post(CHAT, json=chat(logprobs=True)).content, FACTS)
    provider.set_fault(Fault(answer=Answer(words=80, logprob_mean=-1.5)))
    doubtful = verify(client.post(CHAT, json=chat(logprobs=True)).content, FACTS)

    assert confident.found == doubtful.found == ("logprobs",)
    assert confident.score > 0.85
    assert doubtful.score < 0.3


def test_an_answer_with_its_logprobs_stripped_is_the_plain_answer(client: httpx.Client) -> None:
    with_logprobs = orjson.loads(strip_logprobs(client.post(CHAT, json=chat(logprobs=True)).content, "openai.chat"))
    plain = orjson.loads(client.post(CHAT, json=chat()).content)

    for doc in (with_logprobs, plain):
        del doc["id"], doc["created"]
    assert with_logprobs == plain
