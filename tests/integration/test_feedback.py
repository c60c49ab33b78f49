"""Feedback through the real Envoy: ``POST /v1/feedback`` with a JSON body is transcoded to Triage's gRPC service,
the principal comes from the verified JWT only, errors come back as OpenAI-style JSON, accepted events reach the
decision store; a repeated conversation is recorded on the earlier decision (implicit signals)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.integration.conftest import chat
from triage.config import default_config_text, load_config, parse_config
from triage.sim.faults import Fault
from triage.sim.jwt import mint_token
from triage.sim.stack import LocalStack, wait_until

pytestmark = pytest.mark.integration

WAIT_S = 30.0  # generous: the machine is shared and slow


@pytest.fixture(scope="module")
def fstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The local stack with a decision store (``store.path``), where accepted events are appended."""
    workdir = tmp_path_factory.mktemp("feedback")
    data = yaml.safe_load(default_config_text())
    data["store"] = {"path": str(workdir / "store")}
    with LocalStack(config=parse_config(data, "feedback"), workdir=workdir / "stack") as stack:
        yield stack


@pytest.fixture
def client(fstack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fstack.envoy_url, timeout=60) as c:
        yield c


@pytest.fixture(autouse=True)
def _healthy(fstack: LocalStack) -> Iterator[None]:
    yield
    for provider in fstack.providers.values():
        provider.reset_faults()


def _token(sub: str | None) -> dict[str, str]:
    jwt = load_config().envoy.jwt
    assert jwt is not None
    assert jwt.hmac_secret is not None
    claims: dict[str, object] = {"tier": "pro"} if sub is None else {"tier": "pro", "sub": sub}
    return {"authorization": f"Bearer {mint_token(jwt.hmac_secret, jwt.issuer, claims)}"}


def _store_events(stack: LocalStack) -> list[dict[str, Any]]:
    assert stack.running_config is not None
    assert stack.running_config.store.path is not None
    events = []
    for path in sorted(Path(stack.running_config.store.path, "events").glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                events.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # a line being written
    return events


def _wait_for_events(stack: LocalStack, match: dict[str, Any], count: int = 1) -> list[dict[str, Any]]:
    def matching() -> list[dict[str, Any]]:
        return [e for e in _store_events(stack) if all(e.get(k) == v for k, v in match.items())]

    wait_until(f"{count} event(s) like {match}", lambda: len(matching()) >= count, WAIT_S)
    return matching()


def _decision(client: httpx.Client, text: str, headers: dict[str, str]) -> str:
    response = client.post("/v1/chat/completions", json=chat(text), headers=headers)
    assert response.status_code == 200, response.text
    decision_id: str = response.headers["x-triage-decision-id"]
    return decision_id


def _feedback(client: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post("/v1/feedback", json=body, headers=headers or {})


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_feedback_through_envoy_is_recorded_in_the_store(fstack: LocalStack, client: httpx.Client) -> None:
    sub = f"user-{uuid.uuid4().hex[:8]}"
    decision_id = _decision(client, "What is the capital of France?", _token(sub))
    response = _feedback(
        client, {"decision_id": decision_id, "signal": "score", "score": 0.8, "idempotency_key": "a1"}, _token(sub)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    reply = response.json()
    assert reply == {"event_id": reply["event_id"], "duplicate": False}
    assert len(reply["event_id"]) == 32
    assert not any(name.startswith("grpc-") for name in response.headers)
    (event,) = _wait_for_events(fstack, {"event_id": reply["event_id"]})
    assert event["decision_id"] == decision_id
    assert (event["kind"], event["signal"], event["value"]) == ("feedback", "score", 0.8)
    assert (event["principal"], event["idempotency_key"]) == (sub, "a1")


def test_feedback_accepts_the_json_names_of_the_fields(client: httpx.Client) -> None:
    decision_id = _decision(client, "Name a prime number.", _token("camel"))
    body = {"decisionId": decision_id, "signal": "thumbs_up", "idempotencyKey": uuid.uuid4().hex}
    assert _feedback(client, body, _token("camel")).status_code == 200


def test_feedback_a_client_forged_principal_header_is_ignored(fstack: LocalStack, client: httpx.Client) -> None:
    sub = f"real-{uuid.uuid4().hex[:8]}"
    decision_id = _decision(client, "Translate 'cat' to German.", _token(sub))
    forged = {"x-triage-principal": "mallory"}
    with_token = _feedback(
        client, {"decision_id": decision_id, "signal": "thumbs_up", "idempotency_key": "f1"}, {**_token(sub), **forged}
    )
    without_token = _feedback(
        client, {"decision_id": decision_id, "signal": "thumbs_down", "idempotency_key": "f2"}, forged
    )
    assert with_token.status_code == without_token.status_code == 200
    (signed,) = _wait_for_events(fstack, {"event_id": with_token.json()["event_id"]})
    (anonymous,) = _wait_for_events(fstack, {"event_id": without_token.json()["event_id"]})
    assert signed["principal"] == sub
    assert "principal" not in anonymous  # no verified token: no principal, whatever the headers say
    assert all(e.get("principal") != "mallory" for e in _store_events(fstack))


def test_feedback_a_duplicate_key_answers_the_same_event_and_appends_one(
    fstack: LocalStack, client: httpx.Client
) -> None:
    sub = f"dup-{uuid.uuid4().hex[:8]}"
    decision_id = _decision(client, "Is 91 prime?", _token(sub))
    body = {"decision_id": decision_id, "signal": "accepted", "idempotency_key": "same-key"}
    first = _feedback(client, body, _token(sub)).json()
    second = _feedback(client, body, _token(sub)).json()
    assert second == {"event_id": first["event_id"], "duplicate": True}
    reused = _feedback(client, {**body, "signal": "abandoned"}, _token(sub))
    _error(reused, 409, "idempotency_key_reused")
    _wait_for_events(fstack, {"event_id": first["event_id"]})
    assert len([e for e in _store_events(fstack) if e.get("principal") == sub]) == 1


def test_feedback_unknown_decision_is_404_json(client: httpx.Client) -> None:
    response = _feedback(client, {"decision_id": "0123456789abcdef" * 2, "signal": "thumbs_up", "idempotency_key": "u"})
    error = _error(response, 404, "unknown_decision")
    assert error["type"] == "invalid_request_error"
    assert "0123456789abcdef" in error["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"decision_id": "not-an-id", "signal": "thumbs_up", "idempotency_key": "m"}, "invalid_decision_id"),
        ({"signal": "thumbs_up", "idempotency_key": "m"}, "invalid_decision_id"),
        ({"decision_id": "@ID", "signal": "meh", "idempotency_key": "m"}, "invalid_signal"),
        ({"decision_id": "@ID", "signal": "score", "score": 2, "idempotency_key": "m"}, "invalid_score"),
        ({"decision_id": "@ID", "signal": "thumbs_up"}, "invalid_idempotency_key"),
        ({"decision_id": "@ID", "signal": "thumbs_up", "score": "high", "idempotency_key": "m"}, None),
    ],
    ids=["bad-id", "no-id", "bad-signal", "bad-score", "no-key", "score-not-a-number"],
)
def test_feedback_malformed_is_400_json(client: httpx.Client, body: dict[str, Any], code: str | None) -> None:
    if body.get("decision_id") == "@ID":
        body = {**body, "decision_id": _decision(client, "Say hi.", _token("malformed"))}
    response = _feedback(client, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    if code is not None:
        assert error["code"] == code
    else:  # Envoy's transcoder refuses what does not parse as the request message
        assert "score" in error["message"]


def test_feedback_body_that_is_not_json_is_400_json(client: httpx.Client) -> None:
    response = client.post("/v1/feedback", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_feedback_over_max_event_bytes_is_413_json(client: httpx.Client) -> None:
    body = {"decision_id": "0" * 32, "signal": "thumbs_up", "idempotency_key": "k" * 5000}
    response = _feedback(client, body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_feedback_other_methods_are_405_json(client: httpx.Client) -> None:
    response = client.get("/v1/feedback")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_feedback_regenerating_a_good_answer_is_recorded_on_the_earlier_decision(
    fstack: LocalStack, client: httpx.Client
) -> None:
    headers = _token(f"regen-{uuid.uuid4().hex[:8]}")
    text = f"Write a haiku about the sea ({uuid.uuid4().hex[:6]})."
    first = _decision(client, text, headers)
    second = _decision(client, text, headers)
    (event,) = _wait_for_events(fstack, {"decision_id": first, "kind": "implicit"})
    assert (event["signal"], event["value"]) == ("regenerated", 0.0)
    assert not [e for e in _store_events(fstack) if e.get("decision_id") == second]


def test_feedback_retrying_a_failed_answer_is_recorded_as_retried(fstack: LocalStack, client: httpx.Client) -> None:
    headers = _token(f"retry-{uuid.uuid4().hex[:8]}")
    text = f"Summarise the plot of Hamlet ({uuid.uuid4().hex[:6]})."
    for provider in fstack.providers.values():
        provider.set_fault(Fault(status=503))
    failed = client.post("/v1/chat/completions", json=chat(text), headers=headers)
    assert failed.status_code == 503
    first = failed.headers["x-triage-decision-id"]
    for provider in fstack.providers.values():
        provider.reset_faults()
    _decision(client, text, headers)
    (event,) = _wait_for_events(fstack, {"decision_id": first, "kind": "implicit"})
    assert event["signal"] == "retried"


def test_feedback_requests_without_a_principal_leave_no_implicit_signal(
    fstack: LocalStack, client: httpx.Client
) -> None:
    text = f"Anonymous question ({uuid.uuid4().hex[:6]})."
    first = _decision(client, text, {})
    _decision(client, text, {})
    marker = _decision(client, "marker", _token("marker"))  # something later in the same flush
    feedback = _feedback(client, {"decision_id": marker, "signal": "thumbs_up", "idempotency_key": uuid.uuid4().hex})
    _wait_for_events(fstack, {"event_id": feedback.json()["event_id"]})
    assert not [e for e in _store_events(fstack) if e.get("decision_id") == first]


def _store_decisions(stack: LocalStack, ids: set[str]) -> dict[str, dict[str, Any]]:
    assert stack.running_config is not None
    assert stack.running_config.store.path is not None
    found = {}
    for path in sorted(Path(stack.running_config.store.path, "decisions").glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if record.get("decision_id") in ids:
                found[record["decision_id"]] = record
    return found


def test_traffic_store_feedback_report_end_to_end(fstack: LocalStack, client: httpx.Client, tmp_path: Path) -> None:
    """Requests through Envoy → records in the store → feedback over HTTP through Envoy → ``triage report`` (a
    separate process, as an operator runs it) counts exactly these requests and their feedback per route."""
    since_ms = time.time_ns() // 1_000_000 - 1
    sub = f"e2e-{uuid.uuid4().hex[:8]}"
    texts = ("What is 2 + 2?", "Prove that there are infinitely many primes, then give a formal Lean 4 proof.")
    ids = [_decision(client, f"{t} ({uuid.uuid4().hex[:6]})", _token(sub)) for t in texts]
    for decision_id, signal in zip(ids, ("thumbs_down", "thumbs_up"), strict=True):
        body = {"decision_id": decision_id, "signal": signal, "idempotency_key": uuid.uuid4().hex}
        assert _feedback(client, body, _token(sub)).status_code == 200
    for decision_id in ids:
        _wait_for_events(fstack, {"decision_id": decision_id, "kind": "feedback"})
    wait_until("both decision records in the store", lambda: len(_store_decisions(fstack, set(ids))) == 2, WAIT_S)
    records = _store_decisions(fstack, set(ids))
    assert fstack.running_config is not None
    store = str(fstack.running_config.store.path)
    out, html = tmp_path / "report.json", tmp_path / "report.html"
    cmd = [sys.executable, "-m", "triage", "report", "--store", store, "--config", str(fstack.triage_yaml)]
    cmd += ["--since", str(since_ms), "--by", "hour", "--json", str(out), "--html", str(html)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report = orjson.loads(out.read_bytes())
    assert report["totals"]["requests"] == 2
    assert report["quality"]["requests"] == 2
    assert report["quality"]["events"] == 2
    by_route = {p["label"]: p for p in report["quality"]["by_route"]}
    expected: dict[str, list[float]] = {}
    for decision_id, value in zip(ids, (0.0, 1.0), strict=True):
        expected.setdefault(records[decision_id]["route"], []).append(value)
    assert {k: v["requests"] for k, v in by_route.items()} == {k: len(v) for k, v in expected.items()}
    for route, values in expected.items():
        assert by_route[route]["mean_value"] == pytest.approx(sum(values) / len(values))
    spend = {line["key"]: line["requests"] for line in report["breakdowns"]["route"]}
    assert spend == {k: len(v) for k, v in expected.items()}
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page
    assert "What is 2 + 2" not in page  # no prompt text reaches the store, so none reaches the report
