"""With Triage stopped, Envoy fails open: requests still succeed on the default route."""

from __future__ import annotations

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
