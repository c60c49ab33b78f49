"""Metrics and group folds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from triage.requests.input import RoutingInput
from triage.train.data import Example
from triage.train.evaluate import accuracy_by, group_folds, roc_auc, task_metrics


@pytest.mark.parametrize(
    ("y", "score", "auc"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),
        ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
    ],
    ids=["perfect", "reversed", "ties", "partial"],
)
def test_roc_auc_matches_hand_computed_values(y: list[int], score: list[float], auc: float) -> None:
    assert roc_auc(y, score) == pytest.approx(auc)


def test_roc_auc_is_nan_with_one_class() -> None:
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_task_metrics_counts_accuracy_f1_and_confusion() -> None:
    m = task_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b", "c"])
    assert m["accuracy"] == 0.75
    assert m["per_class"]["a"]["recall"] == 0.5
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert "c" not in m["per_class"]  # no support: left out of macro-F1
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2, abs=1e-4)
    assert m["confusion"]["rows_true_cols_pred"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_accuracy_by_groups_keys() -> None:
    assert accuracy_by(["s", "s", "t"], ["a", "b", "a"], ["a", "a", "a"]) == {
        "s": {"n": 2, "accuracy": 0.5},
        "t": {"n": 1, "accuracy": 1.0},
    }


def _ex(source: str, task: str, group: str) -> Example:
    return Example(RoutingInput.from_text("x"), task, source, group)


def test_group_folds_keep_groups_together_and_spread_them() -> None:
    ex = [_ex("t0", "summarization", f"tpl{g}") for g in range(10) for _ in range(5)]
    ex += [_ex("gsm8k", "math", "gsm8k") for _ in range(20)]
    folds = group_folds(ex, 5, seed=1)
    for g in range(10):
        assert len({int(folds[i]) for i, e in enumerate(ex) if e.group == f"tpl{g}"}) == 1
    assert sorted(np.bincount(folds[:50], minlength=5).tolist()) == [10] * 5
    assert sorted(np.bincount(folds[50:], minlength=5).tolist()) == [4] * 5  # one group: dealt by example
    np.testing.assert_array_equal(folds, group_folds(ex, 5, seed=1))
