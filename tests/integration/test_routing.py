"""Requests of different kinds through the real Envoy reach different routes, with the model rewritten."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import chat, token
from triage.config import load_config
from triage.sim.stack import LocalStack

pytestmark = pytest.mark.integration

CODE = (
    "This Go worker pool deadlocks when the jobs channel is closed while a worker is still sending results. "
    "Find the race, explain it, and rewrite the function so it shuts down cleanly:\n\n"
    "func run(jobs <-chan Job, out chan<- Result) {\n  var wg sync.WaitGroup\n  for i := 0; i < 4; i++ {\n"
    "    wg.Add(1)\n    go func() { for j := range jobs { out <- process(j) } }()\n  }\n  wg.Wait()\n"
    "  close(out)\n}"
)
TRANSLATION = "Translate into French: 'Good morning, where is the train station?'"
HARD_MATH = (
    "Let n be a positive integer such that 2^n + 1 is prime. Prove that n must be a power of 2, and then "
    "determine all integers k > 1 for which k^4 + 4 is prime, justifying every step rigorously."
)


def _send(client: httpx.Client, text: str, tier: str = "pro") -> httpx.Response:
    resp = client.post("/v1/chat/completions", json=chat(text), headers={"authorization": f"Bearer {token(tier)}"})
    assert resp.status_code == 200, resp.text
    return resp


def test_routing_different_kinds_reach_different_routes(client: httpx.Client, stack: LocalStack) -> None:
    routes = {}
    for name, text in (("code", CODE), ("translation", TRANSLATION), ("math", HARD_MATH)):
        resp = _send(client, text)
        assert resp.headers["x-triage-decision-id"]
        routes[name] = resp.headers["x-triage-route"]
        record = stack.wait_for_decision(resp.headers["x-triage-decision-id"])
        assert record["route"] == routes[name]
        assert record["tier"] == "pro"
        assert record["reason"] in ("classified", "uncertain")
    assert routes["translation"] == "economy"
    assert routes["code"] != routes["translation"]
    assert routes["math"] != routes["translation"]


def test_routing_provider_receives_the_rewritten_model(client: httpx.Client, stack: LocalStack) -> None:
    resp = _send(client, HARD_MATH)
    record = stack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert stack.running_config is not None
    first = stack.running_config.routes[record["route"]].chain[0]
    provider = stack.providers[first.cluster]
    (attempt,) = provider.wait_for_attempts(1)
    assert attempt.model == first.model
    assert attempt.headers["x-triage-route"] == record["route"]
    assert attempt.headers["x-triage-decision-id"] == record["decision_id"]
    assert resp.json()["model"] == first.model
    assert record["model_requested"] == "auto"
    assert record["model_sent"] == first.model
    assert record["cluster"] == first.cluster


def test_routing_client_cannot_pick_route_or_tier(client: httpx.Client, stack: LocalStack) -> None:
    forged = {"x-triage-route": "premium", "x-triage-tier": "pro", "x-triage-decision-id": "forged"}
    resp = client.post("/v1/chat/completions", json=chat(TRANSLATION), headers=forged)
    assert resp.status_code == 200
    decision_id = resp.headers["x-triage-decision-id"]
    assert decision_id != "forged"
    record = stack.wait_for_decision(decision_id)
    assert record["tier"] == "free"  # no verified token: the default tier, whatever the header said
    assert record["route"] == "economy"
    attempts = [a for p in stack.providers.values() for a in p.attempts]
    assert len(attempts) == 1
    assert attempts[0].headers["x-triage-route"] == "economy"
    assert attempts[0].headers["x-triage-tier"] == "free"


def test_routing_free_tier_never_reaches_premium(client: httpx.Client, stack: LocalStack) -> None:
    resp = _send(client, HARD_MATH, tier="free")
    assert resp.headers["x-triage-route"] in ("economy", "standard")


def test_routing_invalid_token_is_refused_when_configured(tmp_path: Path) -> None:
    base = load_config()
    assert base.envoy.jwt is not None
    jwt = base.envoy.jwt.model_copy(update={"invalid_token": "reject"})
    config = base.model_copy(update={"envoy": base.envoy.model_copy(update={"jwt": jwt})})
    with (
        LocalStack(config=config, workdir=tmp_path / "s") as stack,
        httpx.Client(base_url=stack.envoy_url, timeout=60) as c,
    ):
        resp = c.post("/v1/chat/completions", json=chat("hi"), headers={"authorization": "Bearer not-a-jwt"})
        assert resp.status_code == 401
        assert resp.headers["content-type"] == "application/json"  # Envoy's own reply, OpenAI-style
        assert resp.json()["error"]["type"] == "authentication_error"
        assert resp.json()["error"]["code"] == "invalid_token"
        messages = {"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        resp = c.post("/v1/messages", json=messages, headers={"authorization": "Bearer not-a-jwt"})
        assert resp.status_code == 401
        assert resp.json()["type"] == "error"  # Anthropic-style on the Messages API
        assert resp.json()["error"]["type"] == "authentication_error"
        ok = c.post("/v1/chat/completions", json=chat("hi"), headers={"authorization": f"Bearer {token('pro')}"})
        assert ok.status_code == 200


def test_routing_envoys_own_errors_are_json_in_the_clients_api_style(client: httpx.Client) -> None:
    too_big = b"x" * (17 * 1024 * 1024)  # over Envoy's 16 MB buffer: Envoy answers before Triage sees it
    resp = client.post("/v1/chat/completions", content=too_big, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["error"]["code"] == "request_too_large"
    resp = client.post("/v1/messages", content=too_big, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["type"] == "error"
    assert resp.json()["error"]["type"] == "invalid_request_error"
    bad = client.post("/v1/messages", content=b'{"model":', headers={"content-type": "application/json"})
    assert bad.status_code == 400  # Triage's own error, Anthropic-style too
    assert bad.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": bad.json()["error"]["message"]},
    }


def test_routing_models_lists_auto_and_the_routes(client: httpx.Client, stack: LocalStack) -> None:
    resp = client.get("/v1/models")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    ids = [m["id"] for m in resp.json()["data"]]
    assert stack.running_config is not None
    assert ids == ["auto", *stack.running_config.routes]
    assert all(not p.attempts for p in stack.providers.values())  # Envoy answers it: no provider called


def test_routing_other_paths_pass_through_to_the_default_route(client: httpx.Client, stack: LocalStack) -> None:
    resp = client.get("/v1/files")
    assert "x-triage-decision-id" not in resp.headers
    assert stack.providers["small"].wait_for_attempts(1)[0].path == "/v1/files"


def test_routing_with_the_grpcio_engine(tmp_path: Path) -> None:
    """``server.engine: grpcio`` (grpc.aio instead of Triage's own HTTP/2 server) routes the same way through Envoy:
    a plain and a streamed request, each re-routed on its body and rewritten."""
    base = load_config()
    config = base.model_copy(update={"server": base.server.model_copy(update={"engine": "grpcio"})})
    with (
        LocalStack(config=config, workdir=tmp_path / "s") as stack,
        httpx.Client(base_url=stack.envoy_url, timeout=60) as c,
    ):
        headers = {"authorization": f"Bearer {token('pro')}"}
        resp = c.post("/v1/chat/completions", json=chat(HARD_MATH), headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-triage-route"] != "economy"
        with c.stream("POST", "/v1/chat/completions", json=chat(TRANSLATION, stream=True), headers=headers) as s:
            assert s.status_code == 200
            assert s.headers["x-triage-route"] == "economy"
            assert b"data: [DONE]" in b"".join(s.iter_bytes())
        assert "grpcio engine" in stack.triage_log.read_text()
