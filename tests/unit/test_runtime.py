"""Configuration reload: a bad save is rejected and counted, and never stops later edits from taking effect."""

from __future__ import annotations

import asyncio
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from triage import runtime as runtime_module
from triage.classifier.fake import FakeClassifier
from triage.config import default_config_text
from triage.runtime import Runtime, RuntimeHolder
from triage.telemetry.recorder import DecisionLog, Recorder


def _holder(path: Path) -> RuntimeHolder:
    from triage.config import load_config

    runtime = Runtime(
        config=load_config(path),
        classifier=FakeClassifier(),
        recorder=Recorder(DecisionLog(io.StringIO())),
        executor=ThreadPoolExecutor(max_workers=1),
    )
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
