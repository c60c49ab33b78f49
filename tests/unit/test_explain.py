"""`triage explain` prints the decision and why, from the shipped model, without Envoy."""

from __future__ import annotations

import json

import pytest

from triage.cli import main


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
