"""deploy/compose.yaml for real, where a Docker engine answers (testcontainers); skipped cleanly elsewhere.

Never the only test of what it covers: tests/unit/test_compose.py checks the files, the configuration and the
generated bootstrap without Docker; the integration suite runs the same Envoy + Triage path on the host.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.docker]

DEPLOY = Path(__file__).parents[2] / "deploy"


def _docker_engine() -> None:
    """Skip unless a Docker engine answers ``GET /_ping`` on its socket (DOCKER_HOST or the default)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip(f"DOCKER_HOST={host}: only a local engine socket is probed")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = sock.recv(64)
    except OSError as err:
        pytest.skip(f"no Docker engine answers at {host} ({err.strerror or err})")
    if b" 200 " not in answer:
        pytest.skip(f"the Docker engine at {host} is not ready")


def test_compose_stack_routes_a_request_and_reports_it() -> None:
    _docker_engine()
    from testcontainers.compose import DockerCompose

    with DockerCompose(str(DEPLOY), compose_file_name="compose.yaml", build=True, wait=False) as stack:
        url = "http://127.0.0.1:10000/v1/chat/completions"
        body = {"model": "auto", "messages": [{"role": "user", "content": "Prove that sqrt(2) is irrational."}]}
        stack.wait_for(url.replace("/v1/chat/completions", "/v1/models"))
        resp = httpx.post(url, json=body, timeout=60)
        assert resp.status_code == 200
        assert resp.headers["x-triage-route"]
        query = "http://127.0.0.1:9090/api/v1/query?query=sum(triage_route_decisions_total)"
        assert httpx.get(query, timeout=30).json()["status"] == "success"
