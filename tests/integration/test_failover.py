"""The fault matrix: Envoy carries out each decision while providers fail, rate-limit and stall.

Each row checks what the client got, the attempts each provider saw (their own logs and Envoy's
per-attempt log) and the decision record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import chat, token
from tests.integration.faults import MODELS, attempts, fault_config, send
from triage.config import parse_config
from triage.sim import Fault
from triage.sim.stack import LocalStack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        config=fault_config(), workdir=tmp_path_factory.mktemp("faults"), absent=frozenset({"dead"})
    ) as stack:
        yield stack


@pytest.fixture(autouse=True)
def _reset(fstack: LocalStack) -> Iterator[None]:
    yield
    for p in fstack.providers.values():
        p.reset_faults()
        p.latency_s = 0.0
        p.chunk_interval_s = 0.0
        p.clear()


def _attempt_log(stack: LocalStack, decision_id: str, n: int, timeout: float = 10.0) -> list[dict[str, str]]:
    """Envoy's per-attempt entries for a decision (Envoy flushes its logs about once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = [e for e in stack.attempt_entries() if e.get("decision_id") == decision_id]
        if len(entries) >= n or time.monotonic() > deadline:
            return sorted(entries, key=lambda e: int(e["attempt"]))
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("failing", "answered_by"),
    [
        pytest.param(["small"], "medium", id="primary-503"),
        pytest.param(["small", "medium"], "large", id="primary-and-secondary-503"),
    ],
)
def test_failover_5xx_moves_to_the_next_provider(fstack: LocalStack, failing: list[str], answered_by: str) -> None:
    for name in failing:
        fstack.providers[name].set_fault(Fault(status=503))
    resp = send(fstack, "triple")
    assert resp.status_code == 200
    assert resp.json()["model"] == MODELS[answered_by]
    expected = {name: 1 if name in [*failing, answered_by] else 0 for name in MODELS}
    assert attempts(fstack) == expected
    record = fstack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert record["cluster"] == answered_by
    assert record["attempts"] == len(failing) + 1
    assert record["status"] == 200
    log = _attempt_log(fstack, record["decision_id"], len(failing) + 1)
    assert [(e["cluster"], e["code"]) for e in log] == [(n, 503) for n in failing] + [(answered_by, 200)]
    assert record["model_answered"] == MODELS[answered_by]
    entry = _access_entry(fstack, record["decision_id"])
    assert (entry["model"], entry["model_sent"]) == (MODELS[answered_by], MODELS["small"])  # not the first step's


def _access_entry(stack: LocalStack, decision_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for entry in stack.access_entries():
            if entry.get("decision_id") == decision_id:
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no access log line for {decision_id}")


def test_failover_all_fail_gives_one_clear_error_with_bounded_attempts(fstack: LocalStack) -> None:
    for p in fstack.providers.values():
        p.set_fault(Fault(status=503))
    resp = send(fstack, "triple")
    assert resp.status_code == 503
    assert resp.json()["error"]  # the last provider's OpenAI-style error, passed through
    assert attempts(fstack) == {"small": 1, "medium": 1, "large": 1}  # one attempt per step, no more
    record = fstack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert record["status"] == 503
    assert record["attempts"] == 3


def test_failover_connection_reset_moves_on(fstack: LocalStack) -> None:
    fstack.providers["small"].set_fault(Fault(reset=True))
    resp = send(fstack, "triple")
    assert resp.status_code == 200
    assert resp.json()["model"] == MODELS["medium"]
    assert attempts(fstack) == {"small": 1, "medium": 1, "large": 0}


def test_failover_provider_not_listening_moves_on(fstack: LocalStack) -> None:
    resp = send(fstack, "deadfirst")
    assert resp.status_code == 200
    assert resp.json()["model"] == "small-model"
    record = fstack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert record["chain"] == ["dead/dead-model", "small/small-model"]
    assert record["cluster"] == "small"
    assert record["attempts"] == 2
    first, second = _attempt_log(fstack, record["decision_id"], 2)
    assert first["cluster"] == "dead"
    assert "UF" in first["flags"]  # upstream connection failure
    assert (second["cluster"], second["code"]) == ("small", 200)


def test_failover_429_waits_for_retry_after_then_moves_on(fstack: LocalStack) -> None:
    fstack.providers["small"].set_fault(Fault(status=429, retry_after=1))
    resp = send(fstack, "triple")
    assert resp.status_code == 200
    (limited,) = fstack.providers["small"].attempts
    (served,) = fstack.providers["medium"].attempts
    assert served.monotonic - limited.monotonic >= 1.0  # Retry-After honoured: no tight loop
    assert attempts(fstack) == {"small": 1, "medium": 1, "large": 0}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_failover_client_errors_are_never_retried(fstack: LocalStack, status: int) -> None:
    fstack.providers["small"].set_fault(Fault(status=status))
    resp = send(fstack, "triple")
    assert resp.status_code == status
    assert resp.json()["error"]
    assert attempts(fstack) == {"small": 1, "medium": 0, "large": 0}
    record = fstack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert record["attempts"] == 1
    assert record["status"] == status


def test_failover_each_provider_receives_its_own_model_name(fstack: LocalStack) -> None:
    fstack.providers["small"].set_fault(Fault(status=503))
    fstack.providers["medium"].set_fault(Fault(reset=True))
    resp = send(fstack, "triple", stream=True)
    assert resp.status_code == 200
    seen = {name: [a.model for a in p.attempts] for name, p in fstack.providers.items()}
    assert seen == {name: [model] for name, model in MODELS.items()}
    for p in fstack.providers.values():  # and the body length was right on every attempt
        assert all(int(a.headers["content-length"]) == a.body_bytes for a in p.attempts)


def test_failover_started_stream_is_never_retried_and_is_recorded_aborted(fstack: LocalStack) -> None:
    fstack.providers["small"].set_fault(Fault(close_after_chunks=3))
    fstack.providers["small"].chunk_interval_s = 0.05
    events: list[str] = []
    with (
        httpx.Client(base_url=fstack.envoy_url, timeout=60) as client,
        client.stream(
            "POST",
            "/v1/chat/completions",
            json=chat("tell me a story", stream=True),
            headers={"authorization": f"Bearer {token('triple')}"},
        ) as resp,
    ):
        assert resp.status_code == 200
        decision_id = resp.headers["x-triage-decision-id"]
        with pytest.raises(httpx.RemoteProtocolError):  # the stream ends early, visibly
            events.extend(line for line in resp.iter_lines() if line.startswith("data:"))
    assert 1 <= len(events) <= 3
    assert "data: [DONE]" not in events
    assert attempts(fstack) == {"small": 1, "medium": 0, "large": 0}  # not retried, not switched
    record = fstack.wait_for_decision(decision_id)
    assert record["aborted"] is True
    assert record["completed"] is False


def test_failover_slow_provider_gets_504_at_the_tier_budget(fstack: LocalStack) -> None:
    for p in fstack.providers.values():
        p.latency_s = 5.0
    started = time.monotonic()
    resp = send(fstack, "hurry")  # tier budget 1500 ms
    elapsed = time.monotonic() - started
    assert resp.status_code == 504
    assert resp.json()["error"]["type"] == "upstream_error"  # Envoy's own reply, as OpenAI-style JSON
    assert 1.4 <= elapsed < 4.5  # at the budget, not at the provider's 5 s
    record = fstack.wait_for_decision(resp.headers.get("x-triage-decision-id") or _last_decision(fstack))
    assert record["tier"] == "hurry"


def test_failover_a_hung_primary_fails_over_within_the_tier_budget(fstack: LocalStack) -> None:
    fstack.providers["small"].latency_s = 10.0  # the first step hangs; the others answer at once
    lost = 0
    for _ in range(3):
        started = time.monotonic()
        resp = send(fstack, "hurry")  # tier budget 1500 ms over a 3-step chain: 500 ms per attempt
        elapsed = time.monotonic() - started
        if resp.status_code != 200:
            lost += 1
            continue
        assert elapsed < 1.5
        record = fstack.wait_for_decision(resp.headers["x-triage-decision-id"])
        assert record["cluster"] == "medium"
        assert record["attempts"] == 2
    assert lost == 0


def _last_decision(stack: LocalStack) -> str:
    return str(stack.decisions()[-1]["decision_id"])


@pytest.mark.parametrize(
    ("tier", "body", "status", "code"),
    [
        pytest.param("free", {"text": "x " * 80_000}, 413, "input_too_large", id="input-size"),
        pytest.param("batch", {"text": "hello", "max_tokens": 100_000}, 429, "cost_budget_exceeded", id="cost"),
    ],
)
def test_failover_over_budget_is_refused_before_any_provider(
    fstack: LocalStack, tier: str, body: dict[str, object], status: int, code: str
) -> None:
    resp = send(fstack, tier, **body)  # type: ignore[arg-type]
    assert resp.status_code == status
    error = resp.json()["error"]
    assert error["code"] == code
    assert error["type"] in ("invalid_request_error", "insufficient_quota")
    assert error["message"]
    assert sum(attempts(fstack).values()) == 0
    record = fstack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert record["status"] == status
    assert record["reason"] == "budget"


def test_failover_client_credentials_never_reach_providers(fstack: LocalStack) -> None:
    with httpx.Client(base_url=fstack.envoy_url, timeout=60) as client:
        resp = client.post(
            "/v1/chat/completions",
            json=chat("hello"),
            headers={"x-api-key": "client-secret", "authorization": f"Bearer {token('triple')}"},
        )
    assert resp.status_code == 200
    (attempt,) = fstack.providers["small"].attempts
    assert "x-api-key" not in attempt.headers
    assert "authorization" not in attempt.headers


def test_failover_failing_provider_is_ejected_and_skipped(tmp_path: Path) -> None:
    config = fault_config(consecutive_5xx=3)
    with LocalStack(config=config, workdir=tmp_path / "s", absent=frozenset({"dead"})) as stack:
        stack.providers["small"].set_fault(Fault(status=503))
        for _ in range(3):  # three consecutive 5xx: Envoy ejects it; each request still succeeds
            assert send(stack, "triple").status_code == 200
        deadline = time.monotonic() + 15
        while "small" not in _ejected(stack) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "small" in _ejected(stack)
        time.sleep(0.6)  # Triage reads ejections every 200 ms here
        before = len(stack.providers["small"].attempts)
        for _ in range(5):
            resp = send(stack, "triple")
            assert resp.status_code == 200
            record = stack.wait_for_decision(resp.headers["x-triage-decision-id"])
            assert record["chain"][0].startswith("medium/")  # the ejected provider went last
            assert record["attempts"] == 1
        assert len(stack.providers["small"].attempts) == before  # following requests skipped it


def _ejected(stack: LocalStack) -> frozenset[str]:
    assert stack.admin is not None
    return stack.admin.ejected(["small", "medium", "large"])


def test_failover_kill_switch_from_the_config_file_without_restart(tmp_path: Path) -> None:
    with LocalStack(config=fault_config(), workdir=tmp_path / "s", absent=frozenset({"dead"})) as stack:
        pid = stack.triage_pid
        hard = "Prove that the square root of 2 is irrational, in full detail."
        assert send(stack, "triple", hard).headers["x-triage-route"] == "triple"
        assert stack.running_config is not None
        data = json.loads(stack.running_config.model_dump_json(exclude_none=True))
        data["kill_switch"] = {"route": "economy"}
        stack.write_triage_config(parse_config(data))
        deadline = time.monotonic() + 15
        route = None
        while time.monotonic() < deadline:
            resp = send(stack, "triple", hard)
            route = resp.headers["x-triage-route"]
            if route == "economy":
                break
            time.sleep(0.2)
        assert route == "economy"
        record = stack.wait_for_decision(resp.headers["x-triage-decision-id"])
        assert record["reason"] == "kill_switch"
        assert stack.triage_pid == pid  # same process: no restart


def test_failover_burst_loses_no_request(tmp_path: Path) -> None:
    import concurrent.futures

    config = fault_config(consecutive_5xx=5)
    with LocalStack(config=config, workdir=tmp_path / "s", absent=frozenset({"dead"})) as stack:
        stack.providers["small"].set_fault(Fault(status=503, probability=0.5, seed=7))
        with (
            httpx.Client(base_url=stack.envoy_url, timeout=60, limits=httpx.Limits(max_connections=20)) as client,
            concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool,
        ):
            headers = {"authorization": f"Bearer {token('triple')}"}

            def one(i: int) -> int:
                return client.post("/v1/chat/completions", json=chat(f"request {i}"), headers=headers).status_code

            statuses = list(pool.map(one, range(200)))
        served = statuses.count(200)
        assert served == 200, {s: statuses.count(s) for s in set(statuses)}
        small = stack.providers["small"].attempts
        failed = sum(1 for a in small if a.status == 503)
        assert failed > 0  # the primary really failed part of the time ...
        assert len(stack.providers["medium"].attempts) >= failed  # ... and each failure went on to the next
        overflow = stack.envoy_stats("cluster.small.upstream_rq_retry_overflow")
        assert sum(overflow.values()) == 0
