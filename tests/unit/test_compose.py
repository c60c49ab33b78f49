"""deploy/compose.yaml without a Docker engine: every file it mounts exists, its Triage configuration is the
embedded default with other addresses, Envoy accepts the bootstrap generated from it, Prometheus its config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.helpers import envoy_binary, envoy_validate
from triage.config import load_config
from triage.envoy.bootstrap import render_bootstrap

DEPLOY = Path(__file__).parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return doc


def test_compose_has_envoy_triage_jaeger_prometheus_grafana_and_pinned_images() -> None:
    services = _compose()["services"]
    assert {"envoy", "triage", "jaeger", "prometheus", "grafana", "envoy-config"} <= services.keys()
    for name, svc in services.items():
        image = svc["image"]
        assert ":" in image, f"{name}: pin the image tag"
        assert not image.endswith(":latest"), name
    assert services["triage"]["build"]["dockerfile"] == "Dockerfile"
    assert (DEPLOY / services["triage"]["build"]["context"] / "Dockerfile").is_file()


def test_compose_mounts_only_files_that_exist() -> None:
    for name, svc in _compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"


def test_compose_envoy_reads_the_bootstrap_the_generator_writes_and_shares_triages_socket() -> None:
    services = _compose()["services"]
    gen = services["envoy-config"]["command"]
    assert gen[0] == "envoy-config"
    out = gen[gen.index("-o") + 1]
    envoy = services["envoy"]["command"]
    assert envoy[envoy.index("-c") + 1] == out
    assert services["envoy"]["depends_on"]["envoy-config"] == {"condition": "service_completed_successfully"}
    cfg = load_config(DEPLOY / "compose" / "triage.yaml")
    socket_dir = str(Path(cfg.envoy.extproc.removeprefix("unix:")).parent)
    for name in ("envoy", "triage"):
        assert any(v.split(":")[1] == socket_dir for v in services[name]["volumes"]), name
    assert services["envoy"]["user"] == services["triage"]["user"]  # Envoy may connect to Triage's socket


def test_compose_triage_config_is_the_default_with_compose_addresses() -> None:
    compose, default = load_config(DEPLOY / "compose" / "triage.yaml"), load_config()
    for key in ("routes", "tiers", "policy", "default_route", "default_tier", "tier_source", "retries"):
        assert getattr(compose, key) == getattr(default, key), key
    assert compose.telemetry.metrics_listen == "0.0.0.0:9464"
    assert compose.telemetry.otlp_endpoint == "http://jaeger:4317"
    assert compose.envoy.tracing is not None
    services = _compose()["services"]
    for cluster in compose.clusters.values():
        assert cluster.host in services, f"cluster address {cluster.address} is no compose service"
    prom = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = prom["scrape_configs"]
    port = compose.telemetry.metrics_listen.rsplit(":", 1)[1]
    assert job["static_configs"][0]["targets"] == [f"triage:{port}"]


def test_compose_bootstrap_passes_envoy_validate(tmp_path: Path) -> None:
    if envoy_binary() is None:
        pytest.skip("the envoy binary is not installed")
    path = tmp_path / "envoy.yaml"
    path.write_text(render_bootstrap(load_config(DEPLOY / "compose" / "triage.yaml")), encoding="utf-8")
    result = envoy_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_prometheus_config_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian's prometheus package) is not installed")
    result = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "compose" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
