"""Linear heads on hashed features."""

from __future__ import annotations

import numpy as np
import pytest

from triage.classifier.features import FeatureConfig, Featurizer
from triage.requests.input import RoutingInput
from triage.train.data import Example
from triage.train.model import (
    FitConfig,
    Head,
    LengthPrior,
    add_length_prior,
    balanced_weights,
    combine,
    design_matrix,
    fit_strong_head,
    fit_task_head,
    predict_strong,
    predict_task,
)

FEATURIZER = Featurizer(FeatureConfig(hash_bits=12))
TINY = [
    ("translate this sentence into french please", "translation"),
    ("translate the word cat into german", "translation"),
    ("how do you translate goodbye into spanish", "translation"),
    ("write a python function to sort a list", "code"),
    ("fix the bug in my python function", "code"),
    ("write python code that reads a file", "code"),
]


def _examples(rows: list[tuple[str, str]]) -> list[Example]:
    return [Example(RoutingInput.from_text(text), task, "test", f"g{i}") for i, (text, task) in enumerate(rows)]


def test_design_matrix_matches_the_featurizer_with_duplicates_summed() -> None:
    ex = _examples([("the the the cat", "code")])
    x = design_matrix(ex, FEATURIZER)
    ids, vals = FEATURIZER.featurize(ex[0].inp)
    dense = np.zeros(FEATURIZER.config.dim, dtype=np.float64)
    np.add.at(dense, ids, vals)
    np.testing.assert_allclose(x.toarray()[0], dense, rtol=1e-6)


def test_balanced_weights_give_each_class_the_same_total() -> None:
    labels = ["a"] * 90 + ["b"] * 10
    sources = ["s1"] * 80 + ["s2"] * 10 + ["s1"] * 10
    w = balanced_weights(labels, sources)
    assert w[:90].sum() == pytest.approx(w[90:].sum(), rel=1e-5)
    assert w.mean() == pytest.approx(1.0, rel=1e-5)
    assert w[0] < w[85]  # inside class a, the big source's rows weigh less each


def test_fit_task_head_learns_a_separable_toy_problem() -> None:
    ex = _examples(TINY)
    x = design_matrix(ex, FEATURIZER)
    labels = [e.task or "" for e in ex]
    head = fit_task_head(
        x, labels, ["code", "translation"], np.ones(len(ex), np.float32), FitConfig(epochs=30, batch=2)
    )
    probs = predict_task(head, x)
    assert [["code", "translation"][i] for i in probs.argmax(axis=1)] == labels
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_fit_strong_head_orders_soft_targets() -> None:
    ex = _examples(TINY)
    x = design_matrix(ex, FEATURIZER)
    target = [0.1, 0.1, 0.1, 0.9, 0.9, 0.9]
    head = fit_strong_head(x, target, np.ones(len(ex), np.float32), FitConfig(epochs=30, batch=2))
    p = predict_strong(head, x)
    assert p[3:].min() > p[:3].max()


def test_fit_is_deterministic_for_a_seed() -> None:
    ex = _examples(TINY)
    x = design_matrix(ex, FEATURIZER)
    labels = [e.task or "" for e in ex]
    cfg = FitConfig(epochs=3, batch=2, seed=3)
    a = fit_task_head(x, labels, ["code", "translation"], np.ones(len(ex), np.float32), cfg)
    b = fit_task_head(x, labels, ["code", "translation"], np.ones(len(ex), np.float32), cfg)
    np.testing.assert_array_equal(a.weights, b.weights)


def test_combine_puts_the_strong_logit_last() -> None:
    ex = _examples(TINY)
    x = design_matrix(ex, FEATURIZER)
    ones = np.ones(len(ex), np.float32)
    task = fit_task_head(x, [e.task or "" for e in ex], ["code", "translation"], ones, FitConfig(epochs=1))
    strong = fit_strong_head(x, [0.5] * len(ex), ones, FitConfig(epochs=1))
    table, bias = combine(task, strong)
    assert table.shape == (FEATURIZER.config.dim, 3)
    np.testing.assert_array_equal(table[:, 2], strong.weights[:, 0])
    assert bias[2] == strong.bias[0]


def test_length_prior_adds_beta_per_log_token_centred_at_the_reference() -> None:
    features = FeatureConfig(hash_bits=10)
    dim = features.dim
    zero = Head(np.zeros((dim, 1), dtype=np.float32), np.zeros(1, dtype=np.float32))
    head = add_length_prior(zero, features, LengthPrior(beta=0.5, ref_tokens=64))
    featurizer = Featurizer(features)

    def logit(chars: int) -> float:
        ids, vals = featurizer.featurize(RoutingInput.from_text("x" * chars))
        return float(vals @ head.weights[ids, 0] + head.bias[0])

    assert logit(256) == pytest.approx(0.0, abs=1e-5)  # 256 characters are 64 tokens: the reference
    assert logit(4 * 10_000) - logit(4 * 1_000) == pytest.approx(0.5 * np.log(10_001 / 1_001), rel=1e-4)
    assert logit(400_000) > logit(40_000) > logit(4_000)  # not capped
    assert add_length_prior(zero, features, LengthPrior(beta=0.0)) is zero


def test_add_length_prior_shifts_the_difficulty_logit_by_input_size() -> None:
    cfg = FeatureConfig(hash_bits=12)
    head = Head(np.zeros((cfg.dim, 1), dtype=np.float32), np.zeros(1, dtype=np.float32))
    prior = LengthPrior(beta=0.5, ref_tokens=64)
    shifted = add_length_prior(head, cfg, prior)
    featurizer = Featurizer(cfg)
    short, long = (
        design_matrix([Example(RoutingInput.from_text(t), None, "s", "g")], featurizer) for t in ("hi", "word " * 400)
    )
    assert predict_strong(shifted, short)[0] < 0.5 < predict_strong(shifted, long)[0]
    assert predict_strong(head, short)[0] == pytest.approx(0.5)  # the input head is left alone
    assert add_length_prior(head, cfg, LengthPrior(beta=0.0)) is head


def test_length_prior_can_add_a_weight_per_log_number_of_quantities() -> None:
    features = FeatureConfig(hash_bits=10)
    zero = Head(np.zeros((features.dim, 1), dtype=np.float32), np.zeros(1, dtype=np.float32))
    head = add_length_prior(zero, features, LengthPrior(beta=0.0, numbers=0.4))
    featurizer = Featurizer(features)

    def logit(text: str) -> float:
        ids, vals = featurizer.featurize(RoutingInput.from_text(text))
        return float(vals @ head.weights[ids, 0] + head.bias[0])

    assert logit("Tom has 3 apples, buys 12 more and gives 7 away.") == pytest.approx(0.4 * np.log(4), rel=1e-3)
    assert logit("Tom has some apples.") == 0.0
