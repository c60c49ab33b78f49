"""Fault knobs: selection rules (pure) and each fault's effect as a client sees it on the wire."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from triage.sim import FakeProvider, Fault
from triage.sim.faults import FaultPlan

CHAT = "/v1/chat/completions"


def chat(stream: bool = False) -> dict[str, Any]:
    return {"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider("flaky", words=4).running() as p:
        yield p


@pytest.fixture
def client(provider: FakeProvider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=provider.url, timeout=30) as c:
        yield c


def statuses(client: httpx.Client, n: int) -> list[int]:
    return [client.post(CHAT, json=chat()).status_code for _ in range(n)]


# -- selection rules ---------------------------------------------------------------------------------


def outcomes(plan: FaultPlan, n: int) -> list[int | None]:
    """Status per request (0 for a fired no-op fault, None when nothing fired)."""
    out: list[int | None] = []
    for _ in range(n):
        fault = plan.next_fault()
        out.append(None if fault is None else fault.status or 0)
    return out


@pytest.mark.parametrize(
    ("script", "standing", "expected"),
    [
        ([], None, [None, None, None]),
        ([Fault(status=503)], None, [503, 503, 503, 503]),
        ([Fault(status=503, times=2)], None, [503, 503, None, None]),
        ([Fault(status=503, times=1), Fault(status=429, times=1)], None, [503, 429, None]),
        ([Fault(times=1), Fault(status=500, times=2)], None, [0, 500, 500, None]),
        ([Fault(status=503, every=2)], None, [None, 503, None, 503, None, 503]),
        ([Fault(status=503, every=3, times=1)], None, [None, None, 503, None, None, None]),
        ([], Fault(status=500), [500, 500, 500]),
        ([Fault(status=503, times=1)], Fault(status=500), [503, 500, 500]),
        ([], Fault(status=500, times=2), [500, 500, None]),
    ],
    ids=[
        "empty",
        "forever",
        "times",
        "queue",
        "ok-then-fail",
        "every",
        "every-counts-firings",
        "standing",
        "script-before-standing",
        "standing-times",
    ],
)
def test_fault_plan_selection(script: list[Fault], standing: Fault | None, expected: list[int | None]) -> None:
    plan = FaultPlan()
    plan.script(script)
    plan.set_fault(standing)

    assert outcomes(plan, len(expected)) == expected


def test_fault_plan_probability_follows_its_seeded_rng() -> None:
    plan = FaultPlan()
    plan.script([Fault(status=503, probability=0.5, seed=7)])
    rng = random.Random(7)

    expected = [503 if rng.random() < 0.5 else None for _ in range(40)]

    assert outcomes(plan, 40) == expected
    assert 503 in expected
    assert None in expected


def test_fault_plan_reset_clears_script_and_standing() -> None:
    plan = FaultPlan()
    plan.script([Fault(status=503)])
    plan.set_fault(Fault(status=500))

    plan.reset()

    assert plan.next_fault() is None
    assert plan.snapshot() == {"script": [], "fault": None}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": 200},
        {"status": 600},
        {"retry_after": 1},
        {"status": 429, "retry_after": -1},
        {"delay_s": -0.1},
        {"reset": True, "status": 503},
        {"close_after_chunks": 2, "status": 503},
        {"close_after_chunks": -1},
        {"times": 0},
        {"every": 0},
        {"probability": 1.5},
        {"every": 2, "probability": 0.5},
    ],
    ids=",".join,
)
def test_fault_rejects_contradictions(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid Fault"):
        Fault(**kwargs)


def test_fault_dict_round_trip_and_strictness() -> None:
    fault = Fault(status=429, retry_after=2, times=3, probability=0.25, seed=4)

    assert Fault.from_dict(fault.to_dict()) == fault
    assert Fault().to_dict() == {}
    with pytest.raises(ValueError, match="unknown fault field"):
        Fault.from_dict({"stauts": 503})
    with pytest.raises(ValueError, match="wrong type"):
        Fault.from_dict({"status": "503"})
    with pytest.raises(ValueError, match="wrong type"):
        Fault.from_dict({"reset": 1})


# -- effects on the wire ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "etype", "code"),
    [
        (400, "invalid_request_error", "bad_request"),
        (429, "rate_limit_error", "rate_limit_exceeded"),
        (500, "server_error", "internal_error"),
        (503, "server_error", "service_unavailable"),
        (418, "invalid_request_error", "http_418"),
    ],
)
def test_status_fault_answers_openai_error(
    provider: FakeProvider, client: httpx.Client, status: int, etype: str, code: str
) -> None:
    provider.set_fault(Fault(status=status, message="simulated trouble"))

    r = client.post(CHAT, json=chat(stream=True))

    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert "retry-after" not in r.headers
    assert r.json() == {"error": {"message": "simulated trouble", "type": etype, "param": None, "code": code}}
    attempt = provider.wait_for_attempts(1)[0]
    assert (attempt.status, attempt.outcome, attempt.fault) == (
        status,
        "answered",
        Fault(status=status, message="simulated trouble"),
    )


def test_status_fault_sets_retry_after(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(status=429, retry_after=3, times=1)])

    r = client.post(CHAT, json=chat())

    assert r.status_code == 429
    assert r.headers["retry-after"] == "3"
    assert client.post(CHAT, json=chat()).status_code == 200


def test_status_fault_keeps_the_connection(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(status=503, times=2)])

    assert statuses(client, 4) == [503, 503, 200, 200]
    assert len({a.connection for a in provider.wait_for_attempts(4)}) == 1


def test_every_fault_fails_every_second_request(provider: FakeProvider, client: httpx.Client) -> None:
    provider.set_fault(Fault(status=503, every=2))

    assert statuses(client, 6) == [200, 503] * 3


def test_probability_fault_is_deterministic(provider: FakeProvider, client: httpx.Client) -> None:
    provider.set_fault(Fault(status=503, probability=0.5, seed=11))
    first = statuses(client, 20)
    provider.set_fault(Fault(status=503, probability=0.5, seed=11))

    assert statuses(client, 20) == first
    rng = random.Random(11)
    assert first == [503 if rng.random() < 0.5 else 200 for _ in range(20)]


def test_faults_apply_only_to_inference_requests(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(status=503, times=1)])

    assert client.get("/v1/models").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/nope").status_code == 404
    assert client.post("/v1/messages", json=chat()).status_code == 503


def test_reset_fault_aborts_with_rst(provider: FakeProvider) -> None:
    provider.script([Fault(reset=True, times=1)])
    body = orjson.dumps(chat())

    with socket.create_connection((provider.host, provider.port), timeout=30) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (CHAT.encode(), len(body), body))
        with pytest.raises(ConnectionResetError):
            sock.recv(65536)

    attempt = provider.wait_for_attempts(1)[0]
    assert (attempt.status, attempt.outcome) == (None, "reset")
    assert httpx.post(provider.url + CHAT, json=chat(), timeout=30).status_code == 200


def test_reset_fault_is_a_transport_error_for_httpx(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(reset=True, times=1)])

    with pytest.raises(httpx.TransportError):
        client.post(CHAT, json=chat())
    assert client.post(CHAT, json=chat()).status_code == 200


def test_close_after_chunks_sends_n_events_then_eof(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(close_after_chunks=3, times=1)])
    received: list[bytes] = []

    with client.stream("POST", CHAT, json=chat(stream=True)) as r:
        assert r.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            received.extend(r.iter_raw())

    assert len(received) == 3
    assert all(raw.startswith(b"data: {") for raw in received)
    assert b"[DONE]" not in b"".join(received)
    attempt = provider.wait_for_attempts(1)[0]
    assert (attempt.status, attempt.outcome, attempt.events) == (200, "closed_mid_stream", 3)


def test_close_after_zero_chunks_sends_headers_only(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(close_after_chunks=0, times=1)])

    with client.stream("POST", CHAT, json=chat(stream=True)) as r:
        assert r.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            r.read()


def test_close_after_chunks_on_json_truncates_body(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(close_after_chunks=1, times=1)])

    with pytest.raises(httpx.RemoteProtocolError):
        client.post(CHAT, json=chat())
    assert provider.wait_for_attempts(1)[0].outcome == "closed_mid_stream"


def test_content_type_fault_answers_html(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(content_type="text/html", times=1), Fault(content_type="text/html", status=502, times=1)])

    first = client.post(CHAT, json=chat(stream=True))
    second = client.post(CHAT, json=chat())

    assert first.status_code == 200
    assert first.headers["content-type"] == "text/html"
    assert first.text.startswith("<html>")
    assert second.status_code == 502
    assert second.headers["content-type"] == "text/html"


def test_delay_fault_holds_the_headers(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(delay_s=0.3, times=1)])

    started = time.monotonic()
    r = client.post(CHAT, json=chat())
    elapsed = time.monotonic() - started

    assert r.status_code == 200
    assert elapsed >= 0.3
    attempt = provider.wait_for_attempts(1)[0]
    assert attempt.duration_s is not None
    assert attempt.duration_s >= 0.3


def test_latency_applies_to_every_inference_answer(provider: FakeProvider, client: httpx.Client) -> None:
    provider.latency_s = 0.2

    started = time.monotonic()
    client.post(CHAT, json=chat())

    assert time.monotonic() - started >= 0.2


def test_delay_combines_with_status(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(status=504, delay_s=0.2, times=1)])

    started = time.monotonic()
    r = client.post(CHAT, json=chat())

    assert r.status_code == 504
    assert time.monotonic() - started >= 0.2


def test_pending_attempt_is_visible_during_a_delay_and_then_client_gone(provider: FakeProvider) -> None:
    provider.script([Fault(delay_s=1.5, times=1)])

    with httpx.Client(base_url=provider.url, timeout=30) as client:
        # Envoy-style per-try timeout: the client gives up while the provider is still delaying.
        with pytest.raises(httpx.ReadTimeout):
            client.post(CHAT, json=chat(), timeout=httpx.Timeout(30, read=0.1))
        pending = provider.wait_for_attempts(1, finished=False)[0]
        assert pending.outcome == "pending"

    # The client closed its connection when it gave up, so the late answer is never written.
    done = provider.wait_for_attempts(1)[0]
    assert (done.status, done.outcome) == (None, "client_gone")
