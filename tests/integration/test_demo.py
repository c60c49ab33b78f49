"""`triage demo` starts the whole local stack by itself, routes its prompt mix, prints the table, exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from triage.sim.prompts import DEMO_PROMPTS

pytestmark = pytest.mark.integration


def test_demo_routes_the_prompt_mix_and_exits_zero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "triage", "demo"], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    rows = [line for line in out.splitlines() if line[:3].strip().isdigit()]
    assert len(rows) == len(DEMO_PROMPTS)
    assert "saved" in out
    routes_line = next(line for line in out.splitlines() if line.startswith("routes:"))
    assert routes_line.count(",") >= 1  # the mix reached more than one route


def _children(pid: int) -> dict[int, str]:
    """Live processes whose parent is ``pid``: {pid: command line}."""
    out: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out[int(entry.name)] = cmdline
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_demo_stopped_with_sigterm_stops_envoy_and_the_server() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "triage", "demo"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    children: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            children = _children(proc.pid)
            if any("envoy" in c for c in children.values()) and any("serve" in c for c in children.values()):
                break
            time.sleep(0.2)
        assert any("envoy" in c for c in children.values()), children
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) != 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.2)
        assert not [children[pid] for pid in children if _alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
