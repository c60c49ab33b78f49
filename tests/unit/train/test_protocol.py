"""The leave-one-source-out protocol: held-out fits, baselines, the selection rule."""

from __future__ import annotations

import numpy as np
import pytest

from triage.classifier.base import TASK_LABELS
from triage.train import protocol
from triage.train.routing_metrics import Outcomes


def test_leave_one_out_fits_each_trainable_unit_without_it_and_shares_one_fit_for_the_rest() -> None:
    fitted: list[str | None] = []

    def fit_without(unit: str | None) -> str:
        fitted.append(unit)
        return f"model-without-{unit}"

    models = protocol.leave_one_out(["a", "b", "x", "y"], lambda u: u in {"a", "b"}, fit_without)
    assert models == {
        "a": "model-without-a",
        "b": "model-without-b",
        "x": "model-without-None",
        "y": "model-without-None",
    }
    assert fitted == ["a", "b", None]  # the evaluation-only units share one fit on everything trainable


def test_outcome_target_is_half_the_strong_models_advantage_around_one_half() -> None:
    outcomes = Outcomes.of([1, 0, 1, 0, 1.6], [0, 1, 1, 0, 0.4], [1, 1, 1, 1, 2])
    assert protocol.outcome_target(outcomes).tolist() == pytest.approx([1.0, 0.0, 0.5, 0.5, 0.8])


def test_baselines_flag_a_source_whose_models_barely_differ_as_not_measurable() -> None:
    rng = np.random.default_rng(0)
    n = 400
    strong = rng.random(n) < 0.7
    separable = Outcomes.of(strong.astype(float), np.zeros(n))
    prompts = ["x" * int(k) for k in rng.integers(1, 500, n)]
    assert protocol.baselines(prompts, separable).measurable
    nearly_equal = np.zeros(n)
    nearly_equal[0] = 1.0
    tiny = protocol.baselines(prompts, Outcomes.of(nearly_equal, np.zeros(n)))
    assert not tiny.measurable


def test_prompt_length_baseline_ranks_by_length() -> None:
    outcomes = Outcomes.of([1.0] * 10 + [0.0] * 10, [0.0] * 20)
    long_is_hard = protocol.baselines(["a" * (100 + k) for k in range(10)] + ["a" * k for k in range(10)], outcomes)
    short_is_hard = protocol.baselines(["a" * k for k in range(10)] + ["a" * (100 + k) for k in range(10)], outcomes)
    assert long_is_hard.length_apgr > 0.7
    assert short_is_hard.length_apgr < 0.3


def _base(length: float, spread: float = 0.01) -> protocol.Baselines:
    return protocol.Baselines(length, 0.5, spread)


def test_summarise_keeps_unmeasurable_sources_out_of_the_means_and_the_worst_loss() -> None:
    rows = {"a": {"apgr": 0.60}, "b": {"apgr": 0.50}, "noise": {"apgr": 0.10}}
    base = {"a": _base(0.55), "b": _base(0.52), "noise": _base(0.90, spread=0.2)}
    result = protocol.summarise("s", rows, base)
    assert (result.mean_apgr, result.mean_length_apgr) == (0.55, 0.535)
    assert (result.worst_source, result.worst_loss_vs_length) == ("b", 0.02)
    assert result.passes


@pytest.mark.parametrize(
    ("rows", "expected", "passing"),
    [
        ({"good": (0.60, 0.60), "better_but_one_bad_source": (0.70, 0.45), "length": (0.55, 0.55)}, "good", True),
        ({"worse": (0.50, 0.50), "bad": (0.60, 0.40)}, "worse", False),
    ],
    ids=["best-passing-setup", "fallback-smallest-worst-loss"],
)
def test_choose_applies_the_rule_and_says_when_nothing_passes(
    rows: dict[str, tuple[float, float]], expected: str, passing: bool
) -> None:
    base = {"s1": _base(0.55), "s2": _base(0.55)}
    results = [protocol.summarise(n, {"s1": {"apgr": a}, "s2": {"apgr": b}}, base) for n, (a, b) in rows.items()]
    chosen, why = protocol.choose(results)
    assert chosen.name == expected
    assert chosen.passes == passing
    assert ("no setup met the rule" in why) != passing


def test_task_scores_average_f1_over_the_labels_the_source_has() -> None:
    truth = ["code", "code", "math", "math"]
    pred = ["code", "math", "math", "translation"]
    row = protocol.task_scores(truth, pred, TASK_LABELS)
    assert row["labels"] == 2
    assert row["accuracy"] == 0.5
    assert row["macro_f1"] == pytest.approx(np.mean([2 / 3, 0.5]), abs=1e-4)


def test_by_language_reports_languages_with_enough_rows_and_pools_the_rest() -> None:
    truth = ["code"] * 40
    pred = ["code"] * 20 + ["translation"] * 20
    langs = ["en"] * 20 + ["es"] * 16 + ["zh"] * 4
    out = protocol.by_language(truth, pred, langs, TASK_LABELS)
    assert set(out) == {"en", "es", "non-en"}
    assert out["en"]["accuracy"] == 1.0
    assert (out["non-en"]["n"], out["non-en"]["accuracy"]) == (20, 0.0)
