"""`triage demo` starts the whole local stack by itself, routes its prompt mix, prints the table, exits 0."""

from __future__ import annotations

import subprocess
import sys

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
