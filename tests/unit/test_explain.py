"""`triage explain` prints the decision and why, from the shipped model, without Envoy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from triage.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_explain_json_has_the_decision_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "Translate 'good morning' into Spanish.", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("task", "task_probability", "p_strong", "route", "reason", "why", "chain", "tier"):
        assert key in out
    assert out["task"] == "translation"
    assert out["route"] == "economy"
    assert 0.0 <= out["p_strong"] <= 1.0


def test_explain_tier_limits_the_route(capsys: pytest.CaptureFixture[str]) -> None:
    prompt = "Prove that every bounded monotone sequence of real numbers converges, rigorously."
    assert main(["explain", prompt, "--tier", "free", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tier"] == "free"
    assert out["route"] in out["allowed_routes"]
    assert "premium" not in out["allowed_routes"]


def test_explain_text_output_names_route_and_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "write a haiku about rain"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("route ")
    assert "reason:" in text
    assert "why " in text


def test_explain_unknown_tier_is_an_error_not_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "hello", "--tier", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown tier 'nosuch'" in err
    assert "free" in err  # the tiers there are


@pytest.mark.parametrize(
    "argv",
    [
        ["explain", "Write a haiku about rain."],
        ["eval", "tasks", "--data", "eval/tasks_handwritten.jsonl"],
    ],
    ids=["explain", "eval"],
)
def test_cli_piped_into_head_exits_quietly_and_still_writes_its_files(argv: list[str], tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    extra = ["--json", str(out)] if argv[0] == "eval" else []
    cmd = [sys.executable, "-m", "triage.cli", *argv, *extra]
    reader = subprocess.Popen(["true"], stdin=subprocess.PIPE)  # a reader that has already left, as `head` does
    reader.wait(timeout=30)
    assert reader.stdin is not None
    proc = subprocess.run(cmd, stdout=reader.stdin, stderr=subprocess.PIPE, timeout=120, check=False, cwd=ROOT)
    reader.stdin.close()
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    assert b"Broken pipe" not in proc.stderr
    if extra:
        assert json.loads(out.read_text())["n"] > 0
