"""The /_sim/* control plane: faults and attempts driven over HTTP, as an out-of-process test would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from triage.sim import FakeProvider, Fault

CHAT = "/v1/chat/completions"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider("remote").running() as p:
        yield p


@pytest.fixture
def client(provider: FakeProvider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=provider.url, timeout=30) as c:
        yield c


def test_post_faults_list_replaces_the_script(provider: FakeProvider, client: httpx.Client) -> None:
    provider.script([Fault(status=500)])

    r = client.post("/_sim/faults", json=[{"status": 503, "times": 2}, {"status": 429, "retry_after": 1, "times": 1}])

    assert r.status_code == 200
    assert [e["fault"] for e in r.json()["script"]] == [
        {"status": 503, "times": 2},
        {"status": 429, "retry_after": 1, "times": 1},
    ]
    codes = [client.post(CHAT, json=BODY).status_code for _ in range(4)]
    assert codes == [503, 503, 429, 200]


def test_post_faults_object_forms(provider: FakeProvider, client: httpx.Client) -> None:
    client.post("/_sim/faults", json={"status": 502, "times": 1})
    assert client.post(CHAT, json=BODY).status_code == 502

    r = client.post("/_sim/faults", json={"script": [{"times": 1}], "fault": {"status": 500}})
    assert r.json()["fault"]["fault"] == {"status": 500}
    assert [client.post(CHAT, json=BODY).status_code for _ in range(2)] == [200, 500]

    client.post("/_sim/faults", json={"fault": None})
    assert client.post(CHAT, json=BODY).status_code == 200


def test_get_faults_shows_what_is_left(client: httpx.Client) -> None:
    client.post("/_sim/faults", json=[{"status": 503, "times": 3}])
    client.post(CHAT, json=BODY)

    state = client.get("/_sim/faults").json()

    assert state == {"script": [{"fault": {"status": 503, "times": 3}, "remaining": 2, "seen": 1}], "fault": None}


def test_delete_faults_clears_everything(provider: FakeProvider, client: httpx.Client) -> None:
    provider.set_fault(Fault(status=500))
    client.post("/_sim/faults", json=[{"status": 503}])

    r = client.delete("/_sim/faults")

    assert r.json() == {"script": [], "fault": None}
    assert client.post(CHAT, json=BODY).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        [{"status": 200}],
        [{"stauts": 503}],
        [{"status": "503"}],
        ["503"],
        {"script": "nope"},
        42,
    ],
    ids=["invalid-fault", "unknown-field", "wrong-type", "not-an-object", "script-not-list", "number"],
)
def test_invalid_faults_are_rejected_and_change_nothing(client: httpx.Client, body: Any) -> None:
    client.post("/_sim/faults", json=[{"status": 503, "times": 1}])

    r = client.post("/_sim/faults", json=body)

    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert client.post(CHAT, json=BODY).status_code == 503


def test_invalid_json_is_rejected(client: httpx.Client) -> None:
    r = client.post("/_sim/faults", content=b"[{")

    assert r.status_code == 400
    assert "invalid JSON" in r.json()["error"]["message"]


def test_get_and_delete_attempts(client: httpx.Client) -> None:
    client.post(CHAT, json=BODY, headers={"x-request-id": "r1"})
    client.get("/v1/models")

    attempts = client.get("/_sim/attempts").json()["attempts"]

    assert [(a["path"], a["status"], a["outcome"]) for a in attempts] == [
        (CHAT, 200, "answered"),
        ("/v1/models", 200, "answered"),
    ]
    assert attempts[0]["headers"]["x-request-id"] == "r1"
    assert attempts[0]["model"] == "m"
    assert attempts[0]["fault"] is None
    assert client.delete("/_sim/attempts").json() == {"cleared": 2}
    assert client.get("/_sim/attempts").json() == {"attempts": []}


def test_attempt_json_includes_the_fault(client: httpx.Client) -> None:
    client.post("/_sim/faults", json=[{"status": 429, "retry_after": 2, "times": 1}])
    client.post(CHAT, json=BODY)

    (attempt,) = client.get("/_sim/attempts").json()["attempts"]

    assert attempt["fault"] == {"status": 429, "retry_after": 2, "times": 1}
    assert attempt["status"] == 429


def test_health_can_be_switched(provider: FakeProvider, client: httpx.Client) -> None:
    assert client.post("/_sim/health", json={"healthy": False}).json() == {"healthy": False}
    assert client.get("/healthz").status_code == 503
    assert client.post(CHAT, json=BODY).status_code == 200

    provider.set_healthy(True)
    assert client.get("/healthz").status_code == 200
    assert client.post("/_sim/health", json={"healthy": "no"}).status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("PUT", "/_sim/faults", 405), ("POST", "/_sim/attempts", 405), ("GET", "/_sim/nothing", 404)],
)
def test_control_plane_rejects_unknown_routes(client: httpx.Client, method: str, path: str, status: int) -> None:
    r = client.request(method, path)

    assert r.status_code == status
    if status == 405:
        assert r.headers["allow"]


def test_control_requests_are_not_recorded_or_faulted(provider: FakeProvider, client: httpx.Client) -> None:
    provider.set_fault(Fault(reset=True))

    assert client.get("/_sim/faults").status_code == 200
    assert client.get("/_sim/attempts").json() == {"attempts": []}
    assert provider.attempts == []
