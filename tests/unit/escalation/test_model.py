"""The verifier's model: weights in FEATURES order, per-task profiles, the documented priors, and overrides."""

from __future__ import annotations

import dataclasses
import math

import pytest

from triage.classifier.base import TASK_LABELS
from triage.escalation import (
    DEFAULT_CONFIG,
    FEATURES,
    LogprobStats,
    Signals,
    TaskProfile,
    VerifierConfig,
    Weights,
    configure,
)

DOUBTS = ("low_share", "truncated", "refusal", "hedge", "empty", "invalid_json", "short", "unparsable")
BASE_RATES = {
    "code": 0.70,
    "math": 0.65,
    "reasoning": 0.70,
    "extraction": 0.75,
    "summarization": 0.85,
    "translation": 0.85,
    "classification": 0.85,
    "creative_writing": 0.80,
    "brainstorming": 0.85,
    "rewrite": 0.85,
    "open_qa": 0.80,
}


def test_weights_fields_are_the_intercept_then_features_in_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(Weights)) == ("intercept", *FEATURES)


def test_weights_logit_is_the_dot_product_in_features_order() -> None:
    weights = Weights.from_vector(0.5, [float(i + 1) for i in range(len(FEATURES))])
    features = [0.1 * (i + 1) for i in range(len(FEATURES))]

    expected = 0.5 + sum((i + 1) * 0.1 * (i + 1) for i in range(len(FEATURES)))
    assert weights.logit(features) == pytest.approx(expected)
    assert weights.coefficients == tuple(float(i + 1) for i in range(len(FEATURES)))


@pytest.mark.parametrize("logit", [-1e6, -50.0, 0.0, 50.0, 1e6])
def test_weights_score_is_a_probability_for_any_logit(logit: float) -> None:
    score = Weights.from_vector(logit, [0.0] * len(FEATURES)).score([0.0] * len(FEATURES))

    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(1 / (1 + math.exp(-max(-700.0, min(700.0, logit)))))


def test_weights_reject_non_finite_values() -> None:
    with pytest.raises(ValueError, match="hedge"):
        Weights(hedge=math.nan)
    with pytest.raises(ValueError, match="coefficients"):
        Weights.from_vector(0.0, [1.0])


def test_default_config_has_a_profile_for_every_task_label() -> None:
    assert set(DEFAULT_CONFIG.tasks) == set(TASK_LABELS)


@pytest.mark.parametrize("task", sorted(BASE_RATES))
def test_default_prior_of_each_task_is_its_documented_base_rate(task: str) -> None:
    weights = DEFAULT_CONFIG.tasks[task].weights

    assert weights.score([0.0] * len(FEATURES)) == pytest.approx(BASE_RATES[task], abs=0.005)


@pytest.mark.parametrize("task", [*sorted(DEFAULT_CONFIG.tasks), "default"])
def test_default_weights_have_the_documented_signs(task: str) -> None:
    weights = DEFAULT_CONFIG.profile(task)[1].weights

    assert all(getattr(weights, name) <= 0 for name in DOUBTS)
    assert weights.has_logprobs > 0
    assert weights.logprob_mean > 0
    assert weights.logprob_min > 0


def test_profile_of_an_unknown_or_missing_task_is_the_default() -> None:
    assert DEFAULT_CONFIG.profile("code") == ("code", DEFAULT_CONFIG.tasks["code"])
    assert DEFAULT_CONFIG.profile("poetry") == ("default", DEFAULT_CONFIG.default)
    assert DEFAULT_CONFIG.profile(None) == ("default", DEFAULT_CONFIG.default)


def test_configure_replaces_only_the_values_given() -> None:
    config = configure({"code": {"expected_tokens": 900, "hedge": -2.5}, "default": {"intercept": 0.0}})

    code = config.tasks["code"]
    assert code.expected_tokens == 900
    assert code.weights.hedge == -2.5
    assert code.weights.refusal == DEFAULT_CONFIG.tasks["code"].weights.refusal
    assert config.default.weights.intercept == 0.0
    assert config.tasks["math"] == DEFAULT_CONFIG.tasks["math"]
    assert DEFAULT_CONFIG.tasks["code"].expected_tokens == 350  # the base is not changed


def test_configure_starts_a_new_task_from_the_default() -> None:
    config = configure({"default": {"short": -3.0}, "poetry": {"expected_tokens": 80}})

    assert config.tasks["poetry"] == TaskProfile(dataclasses.replace(DEFAULT_CONFIG.default.weights, short=-3.0), 80)


def test_configure_reports_every_problem_at_once() -> None:
    with pytest.raises(ValueError, match="invalid verifier configuration") as err:
        configure({"code": {"hedging": -1.0}, "math": {"expected_tokens": 0}, "rewrite": {"hedge": math.inf}})

    message = str(err.value)
    assert "code: unknown key(s) hedging" in message
    assert "math: expected_tokens must be >= 1" in message
    assert "rewrite: weights must be finite" in message


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"low_logprob": 0.0}, "low_logprob"),
        ({"short_ratio": 0.0}, "short_ratio"),
        ({"short_ratio": 1.5}, "short_ratio"),
    ],
)
def test_verifier_config_validates_its_thresholds(changes: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(VerifierConfig(), **changes)


@pytest.mark.parametrize(
    ("signals", "documented"),
    [
        (Signals(), 0.80),
        (Signals(logprobs=LogprobStats(100, 100, mean=-0.1, minimum=-3.0, low_share=0.02)), 0.91),
        (Signals(logprobs=LogprobStats(100, 100, mean=-0.5, minimum=-6.0, low_share=0.10)), 0.62),
        (Signals(logprobs=LogprobStats(100, 100, mean=-1.0, minimum=-9.0, low_share=0.25)), 0.14),
        (Signals(truncated=True), 0.25),
        (Signals(refusal=True), 0.11),
        (Signals(hedge=True), 0.47),
        (Signals(empty=True), 0.01),
        (Signals(unparsable=True), 0.01),
        (Signals(invalid_json=True), 0.07),
        (Signals(shortfall=1.0), 0.47),
    ],
    ids=[
        "prior",
        "confident",
        "middling",
        "doubtful",
        "truncated",
        "refusal",
        "hedge",
        "empty",
        "unparsable",
        "invalid-json",
        "short",
    ],
)
def test_default_open_qa_scores_are_the_documented_ones(signals: Signals, documented: float) -> None:
    weights = DEFAULT_CONFIG.tasks["open_qa"].weights

    assert weights.score(signals.features()) == pytest.approx(documented, abs=0.005)
