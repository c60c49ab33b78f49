"""With Triage stopped, Envoy fails open: requests still succeed on the default route."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import chat
from triage.sim.stack import LocalStack

pytestmark = pytest.mark.integration


def test_fail_open_requests_succeed_on_the_default_route_without_triage(fresh_stack: LocalStack) -> None:
    stack = fresh_stack
    with httpx.Client(base_url=stack.envoy_url, timeout=60) as client:
        routed = client.post("/v1/chat/completions", json=chat("Prove that there are infinitely many primes."))
        assert routed.status_code == 200
        assert "x-triage-decision-id" in routed.headers
        stack.stop_triage()
        for p in stack.providers.values():
            p.clear()
        forged = {"x-triage-route": "premium"}
        resp = client.post(
            "/v1/chat/completions", json=chat("Prove that there are infinitely many primes."), headers=forged
        )
    assert resp.status_code == 200
    assert "x-triage-decision-id" not in resp.headers  # Triage did not see it
    assert stack.running_config is not None
    default = stack.running_config.routes[stack.running_config.default_route].chain[0]
    served = {name: len(p.attempts) for name, p in stack.providers.items()}
    assert served[default.cluster] == 1, served  # the default route's first provider, not the forged route
    assert sum(served.values()) == 1
    assert stack.envoy_stats("http.triage.ext_proc")["http.triage.ext_proc.failure_mode_allowed"] >= 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"metadata": {"model": "nested-model"}, "model": "auto", "messages": [{"role": "user", "content": "hi"}]}',
        b'{"messages": [{"role": "user", "content": "say \\"model\\": \\"x\\""}], "model": "a\\"b"}',
        b'{"\\u006dodel": "auto", "messages": [{"role": "user", "content": "hi"}], "user": "model"}',
        b'{ "model" : "auto" , "messages" : [ {"role": "user", "content": "hi"} ] }',
    ],
    ids=["nested-model-first", "escaped-quotes", "escaped-key", "spaces"],
)
def test_fail_open_per_attempt_rewrite_changes_only_the_top_level_model(
    stack_without_triage: LocalStack, body: bytes
) -> None:
    stack = stack_without_triage
    with httpx.Client(base_url=stack.envoy_url, timeout=60) as client:
        resp = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text  # the provider parsed what Envoy sent: still valid JSON
    assert stack.running_config is not None
    default = stack.running_config.routes[stack.running_config.default_route].chain[0]
    (attempt,) = stack.providers[default.cluster].wait_for_attempts(1)
    assert attempt.model == default.model


@pytest.fixture(scope="module")
def _stopped_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(workdir=tmp_path_factory.mktemp("stopped")) as stack:
        stack.stop_triage()
        yield stack


@pytest.fixture
def stack_without_triage(_stopped_stack: LocalStack) -> LocalStack:
    for p in _stopped_stack.providers.values():
        p.clear()
    return _stopped_stack
