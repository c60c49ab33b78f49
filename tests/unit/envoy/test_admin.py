"""Reading ejections from Envoy's admin API output, and keeping the last state when Envoy is unreachable."""

from __future__ import annotations

from typing import Any

import pytest

from triage.envoy.admin import AdminClient, ProviderHealth, ejected_clusters


def _status(name: str, *health: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "host_statuses": [{"health_status": h} for h in health]}


HEALTHY = {"eds_health_status": "HEALTHY"}
EJECTED = {"eds_health_status": "HEALTHY", "failed_outlier_check": True}


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param([_status("a", HEALTHY)], set(), id="healthy"),
        pytest.param([_status("a", EJECTED)], {"a"}, id="ejected"),
        pytest.param([_status("a", EJECTED, HEALTHY)], set(), id="one-host-left"),
        pytest.param([_status("a", {"failed_active_health_check": True})], {"a"}, id="health-check"),
        pytest.param([_status("a", {"eds_health_status": "UNHEALTHY"})], {"a"}, id="eds-unhealthy"),
        pytest.param([_status("triage_extproc", EJECTED)], set(), id="not-a-provider"),
        pytest.param([{"name": "a"}], set(), id="no-hosts"),
    ],
)
def test_ejected_clusters_reads_admin_json(statuses: list[dict[str, Any]], expected: set[str]) -> None:
    assert ejected_clusters({"cluster_statuses": statuses}, ["a", "b"]) == expected


def test_provider_health_keeps_last_state_when_envoy_is_unreachable(tmp_path: Any) -> None:
    health = ProviderHealth(AdminClient(f"unix:{tmp_path}/nothing.sock", timeout=0.2), ["a"])
    health.ejected = frozenset({"a"})
    health.refresh()
    assert health.ejected == {"a"}


def test_provider_health_without_admin_is_always_empty() -> None:
    health = ProviderHealth()
    health.refresh()
    assert health.ejected == frozenset()
