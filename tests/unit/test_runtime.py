"""Configuration reload: a bad save is rejected and counted, and never stops later edits from taking effect."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

from triage import runtime as runtime_module
from triage.classifier.fake import FakeClassifier
from triage.config import default_config_text
from triage.runtime import RuntimeHolder, build
from triage.telemetry.recorder import DecisionLog, Recorder


def _holder(path: Path) -> RuntimeHolder:
    from triage.config import load_config

    runtime = build(load_config(path), FakeClassifier(), Recorder(DecisionLog(io.StringIO())))
    return RuntimeHolder(runtime, path)


def _save(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new stamp even within one clock tick


KILL_SWITCH = default_config_text() + "kill_switch: {route: economy}\n"


@pytest.mark.parametrize(
    "bad",
    [b"version: 1\nrouting: caf\xe9\n", b"a: " + b"[" * 3000 + b"]" * 3000 + b"\n", b"routes: [\n"],
    ids=["not-utf8", "nested-3000-deep", "bad-yaml"],
)
def test_runtime_reload_rejects_a_bad_save_and_takes_the_next_good_one(tmp_path: Path, bad: bytes) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text(default_config_text(), encoding="utf-8")
    holder = _holder(path)
    _save(path, bad)
    assert holder.reload_if_changed() is False
    assert holder.rejected == 1
    assert holder.current.config.kill_switch is None
    _save(path, KILL_SWITCH.encode())
    assert holder.reload_if_changed() is True
    assert holder.current.config.kill_switch is not None


async def test_runtime_watch_survives_any_reload_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text(default_config_text(), encoding="utf-8")
    holder = _holder(path)
    real_load = runtime_module.load_config
    calls = {"n": 0}

    def flaky(p: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom: an unexpected failure inside a reload")
        return real_load(p)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime_module, "load_config", flaky)
    watch = asyncio.create_task(holder.watch(0.01))
    try:
        _save(path, KILL_SWITCH.encode())
        for _ in range(500):  # the first reload fails; the watch goes on
            await asyncio.sleep(0.01)
            if holder.failures:
                break
        assert holder.failures == 1
        assert not watch.done()
        _save(path, KILL_SWITCH.encode() + b"# touched\n")
        for _ in range(500):
            await asyncio.sleep(0.01)
            if holder.current.config.kill_switch is not None:
                break
        assert holder.current.config.kill_switch is not None
    finally:
        watch.cancel()


def _configmap_dir(root: Path, version: str, content: str) -> Path:
    """What the kubelet writes for a ConfigMap volume: a timestamped directory holding the files."""
    data = root / f"..2026_12_03_{version}"
    data.mkdir()
    (data / "triage.yaml").write_text(content, encoding="utf-8")
    return data


def _kubelet_swap(root: Path, old: Path, new: Path) -> None:
    """The kubelet's atomic update: a new ``..data_tmp`` symlink to the new directory renamed over ``..data``,
    then the old directory removed. ``triage.yaml`` itself stays a symlink to ``..data/triage.yaml``."""
    tmp = root / "..data_tmp"
    tmp.symlink_to(new.name)
    os.replace(tmp, root / "..data")
    (old / "triage.yaml").unlink()
    old.rmdir()


def test_runtime_reloads_a_configmap_swapped_by_the_kubelet(tmp_path: Path) -> None:
    old = _configmap_dir(tmp_path, "06_00_00.1", default_config_text())
    (tmp_path / "..data").symlink_to(old.name)
    path = tmp_path / "triage.yaml"
    path.symlink_to("..data/triage.yaml")
    holder = _holder(path)
    assert holder.current.config.kill_switch is None
    # Same size and the same mtime as the file it replaces: only the inode tells them apart.
    text = default_config_text().replace("deadline_ms: 25", "deadline_ms: 26")
    assert len(text) == len(default_config_text())
    new = _configmap_dir(tmp_path, "06_05_00.2", text)
    st = os.stat(old / "triage.yaml")
    os.utime(new / "triage.yaml", ns=(st.st_atime_ns, st.st_mtime_ns))
    _kubelet_swap(tmp_path, old, new)
    assert holder.reload_if_changed() is True
    assert holder.current.config.policy.deadline_ms == 26
    assert holder.reload_if_changed() is False  # nothing changed since
    # The next update (the kill switch) goes through the same swap.
    newer = _configmap_dir(tmp_path, "06_10_00.3", KILL_SWITCH)
    _kubelet_swap(tmp_path, new, newer)
    assert holder.reload_if_changed() is True
    assert holder.current.config.kill_switch is not None


ESCALATION = default_config_text() + (
    "escalation:\n  tiers:\n    pro: {routes: {economy: premium}}\n  timeout_ms: 30000\n"
)


def test_reload_turning_escalation_on_keeps_envoys_wait_limit_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "triage.yaml"
    _save(path, default_config_text().encode())
    holder = _holder(path)
    assert holder.current.escalation is None
    assert holder.current.envoy_max_wait_ms == 5000  # the bootstrap without escalation
    _save(path, ESCALATION.encode())
    assert holder.reload_if_changed()
    assert holder.current.escalation is not None
    assert holder.current.envoy_max_wait_ms == 5000  # Envoy's bootstrap is not reloaded: the limit stays
    assert any("allows 5000 ms" in r.getMessage() for r in caplog.records)


def test_started_with_escalation_envoy_may_wait_for_the_escalated_call(tmp_path: Path) -> None:
    path = tmp_path / "triage.yaml"
    _save(path, ESCALATION.encode())
    assert _holder(path).current.envoy_max_wait_ms == 31000
