"""``calibrate``: labelled (signals, acceptable) pairs in, weights out; known weights come back from their data."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pytest

from triage.escalation import DEFAULT_CONFIG, FEATURES, LogprobStats, Signals, Weights, calibrate

TRUE = Weights(
    intercept=0.4,
    has_logprobs=2.2,
    logprob_mean=1.8,
    logprob_min=0.15,
    low_share=-2.5,
    truncated=-1.2,
    refusal=-2.0,
    hedge=-0.7,
    empty=-3.0,
    invalid_json=-1.8,
    short=-0.9,
    unparsable=-2.5,
)


def synthetic_features(n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Features as traffic might show them: half the answers with logprobs, each doubt on a fifth or so of them."""
    x = np.zeros((n, len(FEATURES)))
    has = rng.random(n) < 0.5
    x[:, 0] = has
    x[:, 1] = np.where(has, -rng.gamma(1.0, 0.4, n).clip(0, 5), 0.0)
    x[:, 2] = np.where(has, -rng.uniform(0, 10, n), 0.0)
    x[:, 3] = np.where(has, rng.beta(1, 6, n), 0.0)
    for column in range(4, 9):
        x[:, column] = rng.random(n) < 0.2
    x[:, 9] = np.where(rng.random(n) < 0.3, rng.random(n), 0.0)
    x[:, 10] = rng.random(n) < 0.1
    return x


def labels(x: npt.NDArray[np.float64], weights: Weights, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    p = 1 / (1 + np.exp(-(x @ np.array(weights.coefficients) + weights.intercept)))
    return rng.random(len(x)) < p


def as_samples(x: npt.NDArray[np.float64], y: npt.NDArray[np.bool_]) -> list[tuple[list[float], bool]]:
    return [(row.tolist(), bool(label)) for row, label in zip(x, y, strict=True)]


def log_loss(weights: Weights, x: npt.NDArray[np.float64], y: npt.NDArray[np.bool_]) -> float:
    p = np.array([weights.score(row.tolist()) for row in x]).clip(1e-12, 1 - 1e-12)
    return float(-np.mean(np.where(y, np.log(p), np.log(1 - p))))


def test_calibrate_recovers_known_weights_from_their_data() -> None:
    rng = np.random.default_rng(7)
    x = synthetic_features(30_000, rng)

    fitted = calibrate(as_samples(x, labels(x, TRUE, rng)))

    for field in dataclasses.fields(Weights):
        assert getattr(fitted, field.name) == pytest.approx(getattr(TRUE, field.name), abs=0.25), field.name


def test_calibrate_beats_the_prior_on_held_out_data() -> None:
    rng = np.random.default_rng(11)
    train, test = synthetic_features(5_000, rng), synthetic_features(5_000, rng)
    y_train, y_test = labels(train, TRUE, rng), labels(test, TRUE, rng)

    fitted = calibrate(as_samples(train, y_train))

    assert log_loss(fitted, test, y_test) < log_loss(DEFAULT_CONFIG.default.weights, test, y_test)


def test_calibrate_keeps_the_prior_weight_of_a_signal_the_data_never_show() -> None:
    rng = np.random.default_rng(3)
    x = synthetic_features(2_000, rng)
    x[:, FEATURES.index("unparsable")] = 0.0
    prior = DEFAULT_CONFIG.tasks["code"].weights

    fitted = calibrate(as_samples(x, labels(x, TRUE, rng)), prior=prior)

    assert fitted.unparsable == pytest.approx(prior.unparsable)
    assert fitted.hedge != pytest.approx(prior.hedge)


def test_calibrate_with_few_samples_stays_near_the_prior() -> None:
    rng = np.random.default_rng(5)
    x = synthetic_features(20, rng)
    prior = DEFAULT_CONFIG.default.weights

    fitted = calibrate(as_samples(x, labels(x, TRUE, rng)), l2=50.0)

    assert np.max(np.abs(np.subtract(fitted.coefficients, prior.coefficients))) < 0.5


def test_platt_scaling_fits_a_scale_and_offset_of_the_prior() -> None:
    rng = np.random.default_rng(9)
    prior = DEFAULT_CONFIG.default.weights
    x = synthetic_features(30_000, rng)
    squashed = Weights.from_vector(0.5 * prior.intercept - 0.3, [0.5 * c for c in prior.coefficients])

    fitted = calibrate(as_samples(x, labels(x, squashed, rng)), method="platt")

    assert np.allclose(fitted.coefficients, squashed.coefficients, rtol=0.1, atol=0.01)
    assert fitted.intercept == pytest.approx(squashed.intercept, abs=0.1)


def test_calibrate_takes_signals_and_their_records() -> None:
    good = Signals(logprobs=LogprobStats(tokens=50, read=50, mean=-0.1, minimum=-2.0, low_share=0.0))
    bad = Signals(hedge=True, shortfall=0.5)
    record = Signals.from_dict(bad.to_dict())

    fitted = calibrate([(good, True), (bad, False), (record, False), (good, True)])

    assert record == bad
    assert fitted.score(good.features()) > fitted.score(bad.features())


@pytest.mark.parametrize(
    ("samples", "options", "match"),
    [
        ([], {}, "at least one"),
        ([([0.0, 1.0], True)], {}, "11 finite features"),
        ([([float("nan")] * len(FEATURES), True)], {}, "finite"),
        ([([0.0] * len(FEATURES), True)], {"l2": 0.0}, "l2"),
    ],
    ids=["none", "short-row", "nan", "no-penalty"],
)
def test_calibrate_rejects_what_it_cannot_fit(
    samples: list[tuple[list[float], bool]], options: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        calibrate(samples, **options)  # type: ignore[arg-type]


def test_calibrate_is_finite_when_every_label_is_the_same() -> None:
    rng = np.random.default_rng(1)
    x = synthetic_features(500, rng)

    fitted = calibrate([(row.tolist(), True) for row in x])

    assert all(np.isfinite([fitted.intercept, *fitted.coefficients]))
    assert fitted.score([0.0] * len(FEATURES)) > 0.9
