"""``triage calibrate``: shares → thresholds, the targeted ladder edit, and the command end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from triage.config import default_config_text, load_config
from triage.train.calibrate import CalibrationError, main, parse_shares, thresholds_for
from triage.train.ladder_edit import LadderEditError, set_thresholds

SCORES = [i / 100 for i in range(100)]  # 0.00 .. 0.99
LADDER = ["economy", "standard", "premium"]


@pytest.mark.parametrize(
    ("shares", "margin", "want"),
    [
        ({"premium": 0.1, "standard": 0.3}, 0.0, {"standard": 0.595, "premium": 0.895}),
        ({"premium": 0.1, "standard": 0.3}, 0.03, {"standard": 0.625, "premium": 0.925}),
        ({"premium": 0.5, "standard": 0.25}, 0.0, {"standard": 0.245, "premium": 0.495}),
    ],
    ids=["plain", "uncertainty-margin", "large-shares"],
)
def test_thresholds_for_hits_target_shares(shares: dict[str, float], margin: float, want: dict[str, float]) -> None:
    cal = thresholds_for(SCORES, LADDER, shares, margin)
    assert cal.thresholds == pytest.approx(want)
    assert cal.achieved["premium"] == pytest.approx(shares["premium"])
    assert cal.achieved["standard"] == pytest.approx(shares["standard"])
    assert cal.achieved["economy"] == pytest.approx(1 - sum(shares.values()))


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ({"premium": 0.1}, "missing"),
        ({"premium": 0.5, "standard": 0.5}, "less than 1"),
        ({"economy": 0.2, "premium": 0.1, "standard": 0.1}, "first step"),
        ({"gold": 0.1, "premium": 0.1, "standard": 0.1}, "not on policy.ladder"),
    ],
    ids=["missing-step", "sum-to-one", "first-step", "unknown-route"],
)
def test_thresholds_for_rejects_bad_shares(shares: dict[str, float], message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        thresholds_for(SCORES, LADDER, shares)


def test_thresholds_stay_strictly_increasing_under_ties() -> None:
    cal = thresholds_for([0.5] * 50 + [0.1] * 50, LADDER, {"premium": 0.1, "standard": 0.2})
    assert 0 < cal.thresholds["standard"] < cal.thresholds["premium"]


@pytest.mark.parametrize(
    ("items", "want"),
    [(["premium=0.15", "standard=45%"], {"premium": 0.15, "standard": 0.45})],
    ids=["fraction-and-percent"],
)
def test_parse_shares(items: list[str], want: dict[str, float]) -> None:
    assert parse_shares(items) == pytest.approx(want)


@pytest.mark.parametrize(
    "item", ["premium", "premium=x", "premium=1.5", "=0.1"], ids=["no-eq", "nan", "big", "no-route"]
)
def test_parse_shares_rejects(item: str) -> None:
    with pytest.raises(CalibrationError):
        parse_shares([item])


FLOW = """policy:
  # how requests climb
  ladder:
    - {route: economy}          # the floor
    - {route: standard, min_score: 0.40}
    - {route: premium}
  uncertainty: {margin: 0.03}
server: {listen: ["127.0.0.1:1"]}
"""
BLOCK = """policy:
  ladder:
    - route: economy
    - route: standard
      min_score: 0.4  # keep me
    - route: premium
  deadline_ms: 25
"""
INLINE = """policy:
  ladder: [{route: economy}, {route: standard, min_score: 0.4}, {route: premium, min_score: 0.6}]
  deadline_ms: 25
"""


@pytest.mark.parametrize("text", [FLOW, BLOCK, INLINE], ids=["flow", "block", "inline"])
def test_set_thresholds_edits_only_the_ladder(text: str) -> None:
    out = set_thresholds(text, {"standard": 0.3333, "premium": 0.7})
    ladder = yaml.safe_load(out)["policy"]["ladder"]
    assert [(s["route"], s.get("min_score", 0)) for s in ladder] == [
        ("economy", 0),
        ("standard", 0.3333),
        ("premium", 0.7),
    ]
    untouched = [line for line in text.splitlines() if not any(w in line for w in ("route", "ladder", "min_score"))]
    assert all(line in out.splitlines() for line in untouched)


def test_set_thresholds_keeps_comments_on_flow_steps() -> None:
    out = set_thresholds(FLOW, {"standard": 0.3, "premium": 0.7})
    assert "    - {route: economy}          # the floor\n" in out
    assert "    - {route: standard, min_score: 0.3}\n" in out
    assert "# how requests climb" in out


def test_set_thresholds_without_a_ladder_fails() -> None:
    with pytest.raises(LadderEditError):
        set_thresholds("server: {}\n", {"premium": 0.5})


def test_calibrate_writes_the_default_config_from_a_decision_log(tmp_path: Path) -> None:
    config = tmp_path / "triage.yaml"
    config.write_text(default_config_text(), encoding="utf-8")
    traffic = tmp_path / "log.jsonl"
    lines = [{"decision_id": str(i), "reason": "classified", "strong_score": i / 200} for i in range(200)]
    lines.append({"decision_id": "x", "reason": "tier_forced", "strong_score": None})
    lines += [{"decision_id": f"s{i}", "reason": "skip_small", "strong_score": None} for i in range(50)]
    traffic.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    argv = ["--config", str(config), "--traffic", str(traffic), "--share", "premium=0.1", "--share", "standard=0.4"]
    assert main(argv) == 0
    cfg = load_config(config)
    margin = cfg.policy.uncertainty.margin if cfg.policy.uncertainty.escalate else 0.0
    steps = {s.route: s.min_score for s in cfg.policy.ladder}
    assert steps["economy"] == 0.0
    # 250 scored requests: 200 spread over [0, 1) and 50 small ones on the first step.
    assert steps["premium"] == pytest.approx(0.8725 + margin)
    assert steps["standard"] == pytest.approx(0.3725 + margin)
    before, after = default_config_text().splitlines(), config.read_text().splitlines()
    assert len(before) == len(after)
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 2


def test_calibrate_scores_prompts_and_chat_bodies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "triage.yaml"
    config.write_text(default_config_text(), encoding="utf-8")
    traffic = tmp_path / "t.jsonl"
    rows: list[dict[str, object]] = [
        {"prompt": f"Write a Python function number {i} that sorts a list."} for i in range(5)
    ]
    rows += [{"messages": [{"role": "user", "content": f"Translate 'hello {i}' into French."}]} for i in range(5)]
    traffic.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["--config", str(config), "--traffic", str(traffic), "--share", "premium=0.2", "--share", "standard=0.3"]
    assert main([*argv, "--dry-run"]) == 0
    assert config.read_text() == default_config_text()
    assert "calibrated on 10 requests" in capsys.readouterr().out


def test_calibrate_prints_route_shares_per_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "triage.yaml"
    config.write_text(default_config_text(), encoding="utf-8")
    traffic = tmp_path / "t.jsonl"
    rows = [{"prompt": f"Write a Python function number {i} that sorts a list.", "label": "code"} for i in range(6)]
    rows += [{"prompt": f"Translate 'hello {i}' into French.", "label": "translation"} for i in range(4)]
    traffic.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["--config", str(config), "--traffic", str(traffic), "--share", "premium=0.2", "--share", "standard=0.3"]
    assert main([*argv, "--dry-run", "--by-task"]) == 0
    out = capsys.readouterr().out
    assert "route shares by predicted task" in out
    labelled = out.split("route shares by labelled task")[1].splitlines()
    code = next(line for line in labelled if line.startswith("code"))
    assert code.split()[1] == "6"
    shares = [float(cell.rstrip("%")) for cell in code.split()[2:]]
    assert sum(shares) == pytest.approx(100.0, abs=0.2)


def test_calibrate_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "triage.yaml"
    config.write_text(default_config_text(), encoding="utf-8")
    traffic = tmp_path / "t.jsonl"
    traffic.write_text("not json\n", encoding="utf-8")
    assert (
        main(["--config", str(config), "--traffic", str(traffic), "--share", "premium=0.2", "--share", "standard=0.3"])
        == 2
    )
    assert "not JSON" in capsys.readouterr().err
