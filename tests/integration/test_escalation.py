"""Confidence escalation through the real Envoy: a confident cheap answer ships after one provider call; a doubtful
one is sent again through Envoy to the stronger route and the client gets that answer, both calls in the record; a
doubtful answer whose escalated call fails still reaches the client; a streamed request never escalates; once a
tier's budget is spent, no more escalations in that window."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import chat, token
from triage.config import load_config, parse_config
from triage.sim.answers import Answer
from triage.sim.faults import Fault
from triage.sim.stack import LocalStack, wait_until

pytestmark = pytest.mark.integration

WAIT_S = 30.0
CHEAP = ("small",)  # economy's first step: a plain factual question goes there
TO_PREMIUM = {"economy": "premium"}
REFUSAL = Answer(refusal="I'm sorry, but I can't help with that.")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    data = load_config().model_dump(mode="json", exclude_none=True)
    data["policy"]["deadline_ms"] = 2000  # a loaded machine never fails a request open here
    data["escalation"] = {
        "tiers": {
            "pro": {"routes": TO_PREMIUM, "max_share": 1.0},
            "batch": {"routes": TO_PREMIUM, "max_share": 0.0, "min_escalations": 1},  # one per window
        },
        "logprobs_routes": ["economy"],
        "timeout_ms": 3000,  # the escalated call's limit: a strong provider slower than this is "late"
    }
    with LocalStack(config=parse_config(data, "escalation"), workdir=tmp_path_factory.mktemp("escalation")) as s:
        yield s


@pytest.fixture
def client(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.envoy_url, timeout=60) as c:
        yield c


@pytest.fixture(autouse=True)
def _healthy(stack: LocalStack) -> Iterator[None]:
    yield
    for provider in stack.providers.values():
        provider.reset_faults()


def _calls(stack: LocalStack) -> dict[str, int]:
    return {name: len(p.attempts) for name, p in stack.providers.items()}


def _record(stack: LocalStack, decision_id: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for line in Path(stack.decision_log).read_bytes().splitlines():
            if decision_id.encode() in line:
                doc = orjson.loads(line)
                if doc.get("decision_id") == decision_id and "status" in doc:
                    return dict(doc)
        return None

    wait_until(f"the record of {decision_id}", lambda: find() is not None, WAIT_S)
    found = find()
    assert found is not None
    return found


def _ask(client: httpx.Client, tier: str, **extra: object) -> httpx.Response:
    text = "What is the capital of France?"  # always economy (a suffix could move it): the escalating route
    return client.post(
        "/v1/chat/completions", json=chat(text, **extra), headers={"authorization": f"Bearer {token(tier)}"}
    )


def test_confident_cheap_answer_ships_after_one_call(stack: LocalStack, client: httpx.Client) -> None:
    before = _calls(stack)
    response = _ask(client, "pro")
    assert response.status_code == 200, response.text
    after = _calls(stack)
    assert sum(after.values()) - sum(before.values()) == 1
    rec = _record(stack, response.headers["x-triage-decision-id"])
    assert rec["route"] == "economy"
    assert rec["escalated"] is False
    assert rec["escalation"]["outcome"] == "confident"
    assert "logprobs" in rec["escalation"]["signals"] or rec["escalation"]["acceptable"] > 0.5
    answer = response.json()
    assert answer["choices"][0].get("logprobs") is None  # asked by Triage for the verifier, not shown to the client


def test_doubtful_answer_escalates_and_the_client_gets_the_strong_one(stack: LocalStack, client: httpx.Client) -> None:
    for name in CHEAP:
        stack.providers[name].set_fault(Fault(answer=REFUSAL))
    before = _calls(stack)
    response = _ask(client, "pro")
    assert response.status_code == 200, response.text
    after = _calls(stack)
    assert after["large"] - before["large"] == 1  # premium's first step
    assert sum(after.values()) - sum(before.values()) == 2  # exactly the cheap call and the strong one
    answer = response.json()
    assert answer["model"] == "gpt-4o"
    assert answer["choices"][0]["message"].get("refusal") is None
    rec = _record(stack, response.headers["x-triage-decision-id"])
    esc = rec["escalation"]
    assert rec["escalated"] is True
    assert (esc["outcome"], esc["answer"], esc["to"]) == ("escalate", "strong", "premium")
    assert "refusal" in esc["signals"]
    assert esc["strong"]["status"] == 200
    assert esc["strong"]["cluster"] == "large"
    # billed on both models: the totals are the sums of both calls
    assert rec["cost_usd"] > esc["strong"]["cost_usd"] > 0
    assert rec["output_tokens"] > esc["strong"]["output_tokens"]


def test_strong_route_down_keeps_the_cheap_answer(stack: LocalStack, client: httpx.Client) -> None:
    for name in CHEAP:
        stack.providers[name].set_fault(Fault(answer=REFUSAL))
    for name in ("large", "medium"):  # premium's chain: the escalated call fails on both steps
        stack.providers[name].set_fault(Fault(status=503))
    response = _ask(client, "pro")
    assert response.status_code == 200, response.text
    body = response.json()
    rec = _record(stack, response.headers["x-triage-decision-id"])
    assert rec["escalated"] is True
    assert rec["escalation"]["answer"] == "cheap"
    assert rec["escalation"]["outcome"] == "strong_failed"
    assert "can't help" in (body["choices"][0]["message"].get("content") or "") + str(
        body["choices"][0]["message"].get("refusal")
    )


def test_strong_call_too_slow_ships_the_cheap_answer_in_time(stack: LocalStack, client: httpx.Client) -> None:
    for name in CHEAP:
        stack.providers[name].set_fault(Fault(answer=REFUSAL))
    stack.providers["large"].set_fault(Fault(delay_s=8.0))
    response = _ask(client, "pro")
    assert response.status_code == 200, response.text
    rec = _record(stack, response.headers["x-triage-decision-id"])
    assert rec["escalated"] is True
    assert (rec["escalation"]["outcome"], rec["escalation"]["answer"]) == ("strong_late", "cheap")
    assert rec["duration_ms"] < 8000  # the client did not wait for the slow provider
    assert response.json()["model"] != "gpt-4o"


def test_streaming_never_escalates(stack: LocalStack, client: httpx.Client) -> None:
    for name in CHEAP:
        stack.providers[name].set_fault(Fault(answer=REFUSAL))
    before = _calls(stack)
    response = _ask(client, "pro", stream=True)
    assert response.status_code == 200, response.text
    assert "data:" in response.text
    assert sum(_calls(stack).values()) - sum(before.values()) == 1
    rec = _record(stack, response.headers["x-triage-decision-id"])
    assert "escalated" not in rec


def test_budget_spent_no_more_escalations_that_window(stack: LocalStack, client: httpx.Client) -> None:
    for name in CHEAP:
        stack.providers[name].set_fault(Fault(answer=REFUSAL))
    outcomes = []
    for _ in range(3):
        response = _ask(client, "batch")
        assert response.status_code == 200, response.text
        outcomes.append(_record(stack, response.headers["x-triage-decision-id"])["escalation"]["outcome"])
    assert outcomes == ["escalate", "budget_share", "budget_share"]


def test_forged_marker_is_an_ordinary_request(stack: LocalStack, client: httpx.Client) -> None:
    text = f"What is the capital of Spain? ({uuid.uuid4().hex[:6]})"
    forged = "0" * 32 + ";premium;9999999999999;" + "0" * 24
    response = client.post(
        "/v1/chat/completions",
        json=chat(text),
        headers={"authorization": f"Bearer {token('pro')}", "x-triage-escalation": forged},
    )
    assert response.status_code == 200, response.text
    rec = _record(stack, response.headers["x-triage-decision-id"])
    assert rec["route"] != "premium" or rec["reason"] != "escalated"
    assert rec["reason"] != "escalated"
    last = stack.providers[rec["cluster"]].attempts[-1]
    assert "x-triage-escalation" not in {k.lower() for k in last.headers}
