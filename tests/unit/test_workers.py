"""``triage serve --workers N``: the workers' addresses, Envoy's endpoints and the supervisor's restarts."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from triage.config import load_config
from triage.contract import worker_address
from triage.envoy.bootstrap import build_bootstrap
from triage.workers import Supervisor, worker_config


@pytest.mark.parametrize(
    ("address", "index", "expected"),
    [
        ("unix:/run/triage/triage.sock", 0, "unix:/run/triage/triage.sock"),
        ("unix:/run/triage/triage.sock", 2, "unix:/run/triage/triage-2.sock"),
        ("unix:/run/tri.age/sock", 1, "unix:/run/tri.age/sock-1"),
        ("127.0.0.1:50051", 3, "127.0.0.1:50054"),
        ("[::1]:9464", 1, "[::1]:9465"),
        ("127.0.0.1:0", 1, "127.0.0.1:0"),
    ],
)
def test_worker_address(address: str, index: int, expected: str) -> None:
    assert worker_address(address, index) == expected


def test_worker_config_moves_every_listen_address_and_the_metrics_port() -> None:
    cfg = load_config()
    data = {"listen": ["unix:/s/triage.sock", "0.0.0.0:50051"], "workers": 2}
    cfg = cfg.model_copy(
        update={
            "server": cfg.server.model_copy(update=data),
            "telemetry": cfg.telemetry.model_copy(update={"metrics_listen": "0.0.0.0:9464"}),
        }
    )
    one = worker_config(cfg, 1)
    assert one.server.listen == ["unix:/s/triage-1.sock", "0.0.0.0:50052"]
    assert one.telemetry.metrics_listen == "0.0.0.0:9465"
    assert worker_config(cfg, 0) == cfg


def _extproc_cluster(workers: int) -> dict[str, object]:
    cfg = load_config()
    cfg = cfg.model_copy(update={"server": cfg.server.model_copy(update={"workers": workers})})
    clusters = build_bootstrap(cfg)["static_resources"]["clusters"]
    found: dict[str, object] = next(c for c in clusters if c["name"] == "triage_extproc")
    return found


def test_the_extproc_cluster_lists_one_health_checked_endpoint_per_worker() -> None:
    one = _extproc_cluster(1)
    assert "health_checks" not in one  # a single worker: nothing to fail over to, the bootstrap is as before
    three = _extproc_cluster(3)
    endpoints = three["load_assignment"]["endpoints"][0]["lb_endpoints"]  # type: ignore[index]
    ports = [e["endpoint"]["address"]["socket_address"]["port_value"] for e in endpoints]
    assert ports == [50051, 50052, 50053]
    check = three["health_checks"][0]  # type: ignore[index]
    assert check["grpc_health_check"]["service_name"] == "envoy.service.ext_proc.v3.ExternalProcessor"


def test_the_supervisor_restarts_a_worker_that_exits_and_stops_the_rest(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    # Worker 0 exits at once each time it is started; worker 1 runs until it is told to stop.
    script = (
        "import pathlib, sys, time, uuid; i = int(sys.argv[1]); "
        f"pathlib.Path({str(runs)!r}, f'{{i}}-{{uuid.uuid4().hex}}').touch(); "
        "sys.exit(3) if i == 0 else time.sleep(600)"
    )
    supervisor = Supervisor(lambda i: [sys.executable, "-c", script, str(i)], workers=2, drain_seconds=1.0, poll_s=0.05)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(supervisor.run_loop()))
    thread.start()
    try:
        deadline = 60.0
        import time

        start = time.monotonic()
        while len(list(runs.glob("0-*"))) < 3 and time.monotonic() - start < deadline:
            time.sleep(0.05)
    finally:
        supervisor.stop()
        thread.join(timeout=60)
    assert len(list(runs.glob("0-*"))) >= 3  # restarted after each exit (back-off 0.5 s, then 1 s)
    assert len(list(runs.glob("1-*"))) == 1  # the healthy worker was never restarted
    assert result == [0]  # worker 1 stopped on SIGTERM
