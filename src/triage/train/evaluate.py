"""Group folds and metrics (accuracy, macro-F1, per-class recall, confusion matrix, ROC AUC, Spearman).

Splits hold out whole groups — T0 templates, synthetic templates, MMLU subjects, BBH tasks, MATH
subjects, arena-hard clusters — so a score measures generalisation to phrasings and topics the model
never saw, not memory of a template. A source with a single group (GSM8K) is split by example.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from triage.train.data import Example


def group_folds(examples: Sequence[Example], k: int, seed: int) -> npt.NDArray[np.intp]:
    """A fold number in ``[0, k)`` per example, holding out whole groups.

    Inside each (source, task) cell the groups are shuffled and dealt to the folds in turn, so every fold
    holds out some templates (subjects, tasks, clusters) of every cell that has at least ``k`` groups; a
    cell with fewer groups than folds leaves some folds without it, and a single-group cell (GSM8K) is
    dealt by example.
    """
    cells: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, ex in enumerate(examples):
        cells[(ex.source, ex.task or "-")][ex.group].append(i)
    fold = np.zeros(len(examples), dtype=np.intp)
    for key in sorted(cells):
        groups = cells[key]
        names = sorted(groups)
        rng = random.Random(f"{seed}:folds:{key[0]}:{key[1]}")
        rng.shuffle(names)
        if len(names) == 1:
            idx = list(groups[names[0]])
            rng.shuffle(idx)
            for j, i in enumerate(idx):
                fold[i] = j % k
            continue
        offset = rng.randrange(k)
        for j, name in enumerate(names):
            fold[groups[name]] = (j + offset) % k
    return fold


def roc_auc(y: Sequence[float] | npt.NDArray[Any], score: Sequence[float] | npt.NDArray[Any]) -> float:
    """Area under the ROC curve for binary ``y`` (ties count half); NaN when one class is absent."""
    yv = np.asarray(y, dtype=np.float64) >= 0.5
    sv = np.asarray(score, dtype=np.float64)
    pos, neg = int(yv.sum()), int((~yv).sum())
    if pos == 0 or neg == 0:
        return math.nan
    order = np.argsort(sv, kind="mergesort")
    ranks = np.empty(len(sv), dtype=np.float64)
    sorted_scores = sv[order]
    i = 0
    while i < len(sv):
        j = i
        while j + 1 < len(sv) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[yv].sum() - pos * (pos + 1) / 2) / (pos * neg))


def task_metrics(truth: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over the labels present in ``truth``, per-class recall/precision, confusion."""
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(truth, pred, strict=True):
        confusion[index[t], index[p]] += 1
    total = int(confusion.sum())
    correct = int(np.trace(confusion))
    per_class: dict[str, dict[str, float | int]] = {}
    f1s: list[float] = []
    for i, label in enumerate(labels):
        support = int(confusion[i].sum())
        predicted = int(confusion[:, i].sum())
        tp = int(confusion[i, i])
        recall = tp / support if support else math.nan
        precision = tp / predicted if predicted else 0.0
        if support:
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            f1s.append(f1)
            per_class[label] = {
                "support": support,
                "recall": round(recall, 4),
                "precision": round(precision, 4),
                "f1": round(f1, 4),
            }
    return {
        "n": total,
        "accuracy": round(correct / total, 4) if total else math.nan,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else math.nan,
        "per_class": per_class,
        "confusion": {"labels": list(labels), "rows_true_cols_pred": confusion.tolist()},
    }


def accuracy_by(keys: Sequence[str], truth: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, float | int]]:
    """Accuracy per key (source, group, ...), sorted by key."""
    hits: dict[str, list[int]] = defaultdict(list)
    for key, t, p in zip(keys, truth, pred, strict=True):
        hits[key].append(int(t == p))
    return {key: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)} for key, v in sorted(hits.items())}


def spearman(a: Sequence[float] | npt.NDArray[Any], b: Sequence[float] | npt.NDArray[Any]) -> float | None:
    """Rank correlation rounded to 4 places; None when it is undefined (fewer than 3 values, or a side constant)."""
    from scipy.stats import spearmanr  # noqa: PLC0415

    av, bv = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(av) < 3 or np.ptp(av) == 0 or np.ptp(bv) == 0:
        return None
    return round(float(spearmanr(av, bv).statistic), 4)
