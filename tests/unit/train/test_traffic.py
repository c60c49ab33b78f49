"""The calibration traffic sample: deterministic, in the shapes ``triage calibrate`` reads, in the task mix."""

from __future__ import annotations

import json
from pathlib import Path

from triage.train import traffic


def test_traffic_build_is_deterministic_and_well_formed() -> None:
    lines = traffic.build(300, seed=3)
    assert lines == traffic.build(300, seed=3)
    assert lines != traffic.build(300, seed=4)
    for line in lines:
        assert isinstance(line.get("prompt"), str) or isinstance(line.get("messages"), list)
    assert any("messages" in line for line in lines)


def test_traffic_adds_arena_prompts_when_given_data(tiny_data: Path) -> None:
    lines = traffic.build(400, seed=1, data=tiny_data)
    arena = {"Write python code to sort.", "Plan my meals.", "Calculate P(6)."}
    assert any(line.get("prompt") in arena for line in lines)


def test_traffic_main_writes_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    assert traffic.main(["--out", str(out), "--n", "20"]) == 0
    assert len([json.loads(x) for x in out.read_text().splitlines()]) == 20
