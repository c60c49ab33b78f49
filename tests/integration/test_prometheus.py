"""A real Prometheus server scrapes Triage's /metrics, and its query API returns what the traffic produced.

Prometheus is Debian's ``prometheus`` package (``make test`` installs it when missing). Without the binary the
test skips locally and fails in CI, where the Makefile must have installed it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import chat
from triage.sim.faults import Fault
from triage.sim.runner import free_port
from triage.sim.stack import LocalStack, wait_until

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "triage-dashboard.json"
PROMPT = "Prove that the square root of two is irrational, one careful step at a time."


def _prometheus_binary() -> str:
    binary = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed: `make test` installs Debian's prometheus package")
        pytest.skip("prometheus not installed (apt-get install prometheus, or run `make test`)")
    return binary


class Prometheus:
    """One Prometheus server on 127.0.0.1 scraping ``target`` every second, its data in ``workdir``."""

    def __init__(self, target: str, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: triage\n    metrics_path: /metrics\n    static_configs: [{{targets: ['{target}']}}]\n",
            encoding="utf-8",
        )
        self.log = workdir / "prometheus.log"
        self._args = [
            _prometheus_binary(),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Prometheus:
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(self._args, stdout=out, stderr=subprocess.STDOUT)
        wait_until("Prometheus ready", lambda: _get(f"{self.url}/-/ready") is not None, 60, (self.log,))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)

    def query(self, promql: str) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        resp.raise_for_status()
        body = resp.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def target_health(self) -> str:
        targets = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return str(targets[0]["health"]) if targets else "none"


def _get(url: str) -> httpx.Response | None:
    try:
        resp = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return resp if resp.status_code == 200 else None


def _value(result: list[dict[str, Any]]) -> float:
    return sum(float(r["value"][1]) for r in result)


@pytest.fixture
def scraped(fresh_stack: LocalStack, tmp_path: Path) -> Iterator[tuple[LocalStack, Prometheus]]:
    url = fresh_stack.metrics_url()
    assert url is not None, "the default configuration serves /metrics (telemetry.metrics_listen)"
    target = url.removeprefix("http://").removesuffix("/metrics")
    with Prometheus(target, tmp_path) as prom:
        yield fresh_stack, prom


def test_prometheus_scrapes_the_counters_the_traffic_produced(scraped: tuple[LocalStack, Prometheus]) -> None:
    stack, prom = scraped
    with httpx.Client(base_url=stack.envoy_url, timeout=60) as client:
        ok = [client.post("/v1/chat/completions", json=chat(PROMPT)) for _ in range(4)]
        assert [r.status_code for r in ok] == [200] * 4
        route = ok[0].headers["x-triage-route"]
        primary = stack.running_config.routes[route].chain[0].cluster  # type: ignore[union-attr]
        stack.providers[primary].set_fault(Fault(status=503))
        fallback = client.post("/v1/chat/completions", json=chat(PROMPT))
        stack.providers[primary].reset_faults()
        assert fallback.status_code == 200
        rejected = client.post("/v1/chat/completions", json={"model": "auto", "messages": "not a list"})
        assert rejected.status_code == 400
    for r in (*ok, fallback):
        stack.wait_for_decision(r.headers["x-triage-decision-id"])

    def has(promql: str, expected: float) -> Callable[[], bool]:
        return lambda: _value(prom.query(promql)) == expected

    wait_until("5 decisions in Prometheus", has("sum(triage_route_decisions_total)", 5), 60, (prom.log,))
    assert prom.target_health() == "up"
    by_route = {r["metric"]["triage_route"]: float(r["value"][1]) for r in prom.query("triage_route_decisions_total")}
    assert by_route == {route: 5.0}
    labels = prom.query("triage_route_decisions_total")[0]["metric"]
    assert {"triage_tier", "triage_reason", "triage_task"} <= labels.keys()
    wait_until("1 fallback", has("sum(triage_route_fallbacks_total)", 1), 30, (prom.log,))
    wait_until("1 rejection", has("sum(triage_route_rejections_total)", 1), 30, (prom.log,))
    # Decision latency resolves tens of microseconds: the first bucket is 10 µs.
    buckets = {r["metric"]["le"] for r in prom.query("triage_route_decision_duration_seconds_bucket")}
    assert {"1e-05", "2e-05", "5e-05", "0.0001"} <= buckets
    assert _value(prom.query("sum(triage_route_decision_duration_seconds_count)")) == 5
    # Cost and tokens by route and provider, for the 5 answered requests.
    cost = prom.query("sum by (triage_route, gen_ai_provider_name) (triage_request_cost_usd_total)")
    assert cost
    assert all(float(r["value"][1]) > 0 for r in cost)
    assert {r["metric"]["triage_route"] for r in cost} == {route}
    wait_until(
        "token histogram", has('sum(gen_ai_client_token_usage_count{gen_ai_token_type="input"})', 5), 30, (prom.log,)
    )
    for promql in (
        "sum by (triage_route, triage_tier, triage_task) (triage_route_decisions_total)",
        "sum(triage_route_fallbacks_total)",
        "sum by (error_type) (triage_route_rejections_total)",
        "sum by (triage_route, gen_ai_provider_name) (triage_request_cost_usd_total)",
        "histogram_quantile(0.5, sum by (le) (triage_route_decision_duration_seconds_bucket))",
    ):
        print(promql, "→", [(r["metric"], r["value"][1]) for r in prom.query(promql)])  # the report (pytest -s)
    # No per-request or prompt-derived label anywhere.
    series = httpx.get(f"{prom.url}/api/v1/series", params={"match[]": '{__name__=~"triage_.*|gen_ai_.*"}'}).json()
    names = {k for s in series["data"] for k in s}
    assert not names & {"triage_decision_id", "triage_request_id", "triage_prompt", "url_path"}


def _scraped_names(text: str) -> tuple[set[str], set[str]]:
    """Metric and label names in a Prometheus text exposition."""
    metrics, labels = set(), set()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        metrics.add(name.split(" ")[0])
        labels |= set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', rest.split("}")[0]))
    return metrics, labels


def test_prometheus_sees_an_ejection_and_the_dashboard_names_only_real_metrics(
    scraped: tuple[LocalStack, Prometheus],
) -> None:
    stack, prom = scraped
    with httpx.Client(base_url=stack.envoy_url, timeout=60) as client:
        route = client.post("/v1/chat/completions", json=chat(PROMPT)).headers["x-triage-route"]
        assert stack.running_config is not None
        primary = stack.running_config.routes[route].chain[0].cluster
        stack.providers[primary].set_fault(Fault(status=503))
        outlier = stack.running_config.clusters[primary].outlier
        # Envoy ejects the primary after consecutive_5xx failures; Triage reads it from the admin API.
        for _ in range(outlier.consecutive_5xx + 1):
            assert client.post("/v1/chat/completions", json=chat(PROMPT)).status_code == 200
        assert client.post("/v1/chat/completions", json={"model": "auto"}).status_code == 400  # a rejection

    def ejected() -> bool:
        result = prom.query(f'triage_provider_ejected{{triage_upstream_cluster="{primary}"}}')
        return _value(result) == 1

    wait_until(f"{primary} ejected in Prometheus", ejected, 60, (prom.log,))
    counted = prom.query(f'triage_provider_ejections_total{{triage_upstream_cluster="{primary}"}}')
    assert _value(counted) >= 1
    stack.providers[primary].reset_faults()
    url = stack.metrics_url()
    assert url is not None
    metrics, labels = _scraped_names(httpx.get(url, timeout=10).text)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        idents = set(re.findall(r"\b((?:triage|gen_ai)_[a-z_]+)\b", expr))
        named = idents & metrics
        assert named, f"{expr!r} names no metric Triage exports"
        assert idents <= metrics | labels, f"{expr!r}: {sorted(idents - metrics - labels)} are not exported"
        for clause in re.findall(r"by \(([^)]*)\)", expr):
            grouped = {name.strip() for name in clause.split(",")} - {"le"}
            assert grouped <= labels, f"{expr!r} groups by {sorted(grouped - labels)}, which no series carries"
