"""``triage serve --workers 2`` behind the real Envoy: both workers route, a killed worker is restarted, and no
request is lost meanwhile (Envoy's health check moves the streams to the worker that is up)."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import chat
from triage.config import load_config
from triage.contract import worker_address
from triage.sim.stack import LocalStack, wait_until


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    cfg = load_config()
    cfg = cfg.model_copy(
        update={
            "server": cfg.server.model_copy(update={"workers": 2}),
            "telemetry": cfg.telemetry.model_copy(update={"metrics_listen": "127.0.0.1:9464"}),
        }
    )
    with LocalStack(config=cfg) as running:
        yield running


def _decisions_of(url: str) -> float:
    text = httpx.get(url, timeout=10).text
    return sum(float(m) for m in re.findall(r"^triage_route_decisions_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))


def _worker_pids(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(c) for c in children]


def test_both_workers_route_and_a_killed_one_comes_back(stack: LocalStack) -> None:
    assert stack.running_config is not None
    assert stack.triage_pid is not None
    base = stack.running_config.telemetry.metrics_listen
    assert base is not None
    urls = [f"http://{worker_address(base, i)}/metrics" for i in range(2)]
    with httpx.Client(base_url=stack.envoy_url, timeout=30) as client:
        for i in range(40):
            reply = client.post("/v1/chat/completions", json=chat(f"Write a haiku about the number {i}."))
            assert reply.status_code == 200, reply.text
        wait_until("both workers' metrics", lambda: all(_decisions_of(u) > 0 for u in urls), 30)
        assert sum(_decisions_of(u) for u in urls) == 40  # every request decided by exactly one worker

        victim = _worker_pids(stack.triage_pid)[1]
        os.kill(victim, signal.SIGKILL)
        statuses = [client.post("/v1/chat/completions", json=chat(f"Sum {i} and 2.")).status_code for i in range(20)]
        assert statuses == [200] * 20  # the other worker (or fail-open) answers while one is down

        def restarted() -> bool:
            pids = _worker_pids(stack.triage_pid or 0)
            return len(pids) == 2 and victim not in pids and stack.triage_serving()

        wait_until("the killed worker's restart", restarted, 60, (stack.triage_log,))
    assert "worker 1 (pid" in stack.triage_log.read_text()
    assert "restarting in" in stack.triage_log.read_text()
