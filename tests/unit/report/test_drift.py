"""The drift check's parts: PSI, its reading, reference files and ``reference_from_scores``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.unit.report.small_store import REFERENCE
from triage.report import drift as dr
from triage.report.drift_reference import main as reference_main


def test_psi_is_zero_for_equal_shares_and_matches_the_formula() -> None:
    assert dr.psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    expected = (0.4 - 0.2) * math.log(0.4 / 0.2) + (0.1 - 0.3) * math.log(0.1 / 0.3) + 0.0
    assert dr.psi([0.2, 0.3, 0.5], [0.4, 0.1, 0.5]) == pytest.approx(expected, rel=1e-12)


def test_psi_floors_empty_bins_at_epsilon() -> None:
    value = dr.psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1])
    tail = (0.1 - dr.EPSILON) * math.log(0.1 / dr.EPSILON) + (0.4 - 0.5) * math.log(0.4 / 0.5)
    assert math.isfinite(value)
    assert value == pytest.approx(tail, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(0.0, "stable"), (0.0999, "stable"), (0.1, "watch"), (0.25, "watch"), (0.2501, "retrain"), (None, "no data")],
    ids=["zero", "just-stable", "watch-from-0.1", "watch-to-0.25", "retrain-above", "none"],
)
def test_reading_of_psi(value: float | None, verdict: str) -> None:
    assert dr.reading(value) == verdict


def test_reference_from_scores_deciles_and_shares() -> None:
    p = [i / 100 for i in range(1, 101)]  # 0.01 .. 1.00
    tasks = ["code"] * 30 + ["open_qa"] * 70
    ref = dr.reference_from_scores(tasks, p, labels=["code", "math", "open_qa"], classifier_version="v9")
    assert ref.task_shares == {"code": 0.3, "math": 0.0, "open_qa": 0.7}
    assert ref.edges == (0.0, 0.105, 0.205, 0.305, 0.405, 0.505, 0.605, 0.705, 0.805, 0.905, 1.0)
    assert ref.shares == (0.1,) * 10
    assert (ref.n, ref.classifier_version) == (100, "v9")


def test_reference_from_scores_merges_equal_edges() -> None:
    ref = dr.reference_from_scores(["code"] * 10, [0.5] * 9 + [0.9], bins=10)
    assert ref.edges == (0.0, 0.7, 1.0)  # the decile edges at 0.5 would leave [0, 0.5) empty
    assert ref.shares == (0.9, 0.1)


def test_reference_round_trips_through_its_file(tmp_path: Path) -> None:
    ref = dr.DriftReference.from_dict(REFERENCE)
    ref.write(tmp_path / dr.REFERENCE_FILE)
    assert dr.load_reference(tmp_path / dr.REFERENCE_FILE) == ref


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other/9"}, "format"),
        ({"task_shares": {}}, "task_shares"),
        ({"p_strong": {"edges": [0.0, 1.0], "shares": [0.5, 0.5]}}, "one more entry"),
        ({"p_strong": {"edges": [0.0, 0.6, 0.5, 1.0], "shares": [0.3, 0.3, 0.4]}}, "strictly increase"),
        ({"task_shares": {"code": 0.7}}, "sum to 1"),
    ],
    ids=["format", "no-tasks", "edges-count", "edges-order", "shares-sum"],
)
def test_reference_rejects_invalid_documents(tmp_path: Path, change: dict[str, object], message: str) -> None:
    path = tmp_path / "ref.json"
    path.write_text(json.dumps({**REFERENCE, **change}))
    with pytest.raises(dr.DriftReferenceError, match=message):
        dr.load_reference(path)


def test_bin_index_follows_the_edges() -> None:
    edges = (0.0, 0.4, 0.6, 1.0)
    assert [dr.bin_index(v, edges) for v in (0.0, 0.39, 0.4, 0.59, 0.6, 1.0, 1.2)] == [0, 0, 1, 1, 2, 2, 2]


def test_check_names_the_largest_shift_in_why() -> None:
    ref = dr.DriftReference.from_dict(REFERENCE)
    result = dr.check({"code": 10, "math": 80, "open_qa": 10}, [50, 50], ref)
    assert result.verdict == "retrain"
    # terms: code −0.4·ln(0.2) ≈ 0.644, math 0.55·ln(3.2) ≈ 0.640, open_qa −0.15·ln(0.4) ≈ 0.137
    assert [s.bin for s in result.tasks.shifts[:2]] == ["code", "math"]
    assert "code 50.0% → 10.0%; math 25.0% → 80.0%" in result.why
    assert any("noisy" in n for n in result.notes)  # 100 requests


def test_shipped_bundle_carries_a_valid_reference() -> None:
    from triage.classifier.onnx_model import default_bundle_dir

    bundle = default_bundle_dir()
    ref = dr.load_reference(bundle / dr.REFERENCE_FILE)
    manifest = json.loads((bundle / "manifest.json").read_text())
    labels = json.loads((bundle / "labels.json").read_text())
    assert ref.classifier_version == manifest["version"]
    assert set(ref.task_shares) == set(labels)
    assert ref.n > 1000


def test_drift_reference_main_skips_without_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ref.json"
    assert reference_main(["--data", str(tmp_path / "absent"), "--out", str(out)]) == 2
    assert not out.exists()
    assert "nothing written" in capsys.readouterr().err


def test_drift_reference_main_scores_a_sample_with_the_shipped_bundle(tmp_path: Path) -> None:
    seed = tmp_path / "data" / "tasks" / "self_instruct" / "seed_tasks.jsonl"
    seed.parent.mkdir(parents=True)
    prompts = ["Write a Python function that reverses a list.", "What is the capital of France?", "Solve 3x + 2 = 11."]
    seed.write_text("".join(json.dumps({"prompt": p, "label": None}) + "\n" for p in prompts))
    out = tmp_path / "ref.json"
    assert reference_main(["--data", str(tmp_path / "data"), "--out", str(out)]) == 0
    ref = dr.load_reference(out)
    assert ref.n == 3
    assert sum(ref.task_shares.values()) == pytest.approx(1.0, abs=1e-5)  # shares rounded to 6 decimals


def test_check_gives_no_verdict_on_too_few_requests() -> None:
    ref = dr.DriftReference.from_dict(REFERENCE)
    result = dr.check({"math": 1}, [1, 0], ref)
    assert result.verdict == "too few"
    assert result.why.startswith("too few classified requests")
