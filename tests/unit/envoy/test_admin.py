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


def test_provider_health_changes_reach_the_ejection_metrics() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from triage.telemetry.recorder import Recorder

    reader = InMemoryMetricReader()
    recorder = Recorder(meter_provider=MeterProvider(metric_readers=[reader]))
    states = iter([frozenset({"a"}), frozenset({"a", "b"}), frozenset(), frozenset({"a"})])

    class _Admin:
        def ejected(self, clusters: object) -> frozenset[str]:
            return next(states)

    health = ProviderHealth(_Admin(), ["a", "b"], on_change=recorder.provider_health)  # type: ignore[arg-type]

    def points() -> dict[tuple[str, str], float]:
        data = reader.get_metrics_data()
        assert data is not None
        out = {}
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    for p in m.data.data_points:
                        out[(m.name, str(p.attributes["triage.upstream.cluster"]))] = p.value  # type: ignore[union-attr]
        return out

    health.refresh()
    health.refresh()
    assert points() == {
        ("triage.provider.ejections", "a"): 1,
        ("triage.provider.ejections", "b"): 1,
        ("triage.provider.ejected", "a"): 1,
        ("triage.provider.ejected", "b"): 1,
    }
    health.refresh()  # both back
    assert points()[("triage.provider.ejected", "a")] == 0
    health.refresh()  # a ejected again: counted again
    got = points()
    assert got[("triage.provider.ejections", "a")] == 2
    assert got[("triage.provider.ejected", "a")] == 1
    assert got[("triage.provider.ejected", "b")] == 0
