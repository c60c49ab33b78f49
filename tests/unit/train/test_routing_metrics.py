"""RouteLLM's metrics against hand-computed small cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from triage.train.routing_metrics import CurvePoint, Outcomes, apgr, cpt, report, sweep

# Four prompts: A and C need the strong model, B both models answer, D neither does.
# q(strong) = 0.75, q(weak) = 0.25; the sweep below uses 4 bins (5 cuts at shares 0, 25, 50, 75, 100%).
OUTCOMES = Outcomes.of(strong=[1, 1, 1, 0], weak=[0, 1, 0, 0])


@pytest.mark.parametrize(
    ("scores", "pgrs", "want_apgr", "want_cpt50", "want_cpt80"),
    [
        ([0.9, 0.2, 0.8, 0.1], [0.0, 0.5, 1.0, 1.0, 1.0], 0.75, 0.25, 0.40),
        ([0.1, 0.8, 0.2, 0.9], [0.0, 0.0, 0.0, 0.5, 1.0], 0.25, 0.75, 0.90),
        ([0.5, 0.5, 0.5, 0.5], [0.0, 1.0], 0.5, 0.5, 0.8),
    ],
    ids=["perfect", "inverted", "constant-is-random"],
)
def test_report_matches_hand_computed_curve(
    scores: list[float], pgrs: list[float], want_apgr: float, want_cpt50: float, want_cpt80: float
) -> None:
    rep = report(scores, OUTCOMES, points=4)
    distinct = sorted({(p.strong_share, round(p.pgr, 9)) for p in rep.curve})
    assert [pgr for _, pgr in distinct] == pytest.approx(pgrs)
    assert rep.apgr == pytest.approx(want_apgr)
    assert rep.cpt50 == pytest.approx(want_cpt50)
    assert rep.cpt80 == pytest.approx(want_cpt80)
    assert (rep.strong_quality, rep.weak_quality) == (0.75, 0.25)


def test_sweep_cuts_at_quantiles_with_ge_then_gt_at_the_last_cut() -> None:
    curve = sweep([0.1, 0.2, 0.8, 0.9], OUTCOMES, points=4)
    assert [p.threshold for p in curve] == pytest.approx([0.9, 0.825, 0.5, 0.175, 0.1])
    assert [p.strong_share for p in curve] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_sweep_has_points_plus_one_cuts_spanning_zero_to_all() -> None:
    rng = np.random.default_rng(0)
    outcomes = Outcomes.of(rng.integers(0, 2, 200).tolist(), rng.integers(0, 2, 200).tolist())
    curve = sweep(rng.random(200), outcomes)
    assert len(curve) == 11
    assert (curve[0].strong_share, curve[-1].strong_share) == (0.0, 1.0)


def test_random_scores_give_apgr_near_one_half() -> None:
    rng = np.random.default_rng(1)
    strong = rng.random(20000) < 0.8
    weak = rng.random(20000) < 0.6
    rep = report(rng.random(20000), Outcomes.of(strong.astype(float).tolist(), weak.astype(float).tolist()))
    assert rep.apgr == pytest.approx(0.5, abs=0.02)


def test_oracle_sends_the_largest_gains_first() -> None:
    rep = report([0.5, 0.5, 0.5, 0.5], OUTCOMES, points=4)
    assert OUTCOMES.oracle_quality(0.25) == 0.5
    assert OUTCOMES.oracle_quality(0.125) == pytest.approx(0.375)  # half of the next prompt's gain
    assert OUTCOMES.oracle_quality(1.0) == 0.75
    assert rep.oracle_apgr == pytest.approx(0.75)
    assert rep.oracle_cpt50 == pytest.approx(0.25)


def test_outcomes_average_over_answers_not_prompts() -> None:
    # MT-Bench style: one prompt with two judged turns, one with a single turn.
    o = Outcomes.of(strong=[18, 9], weak=[10, 3], count=[2, 1])
    assert o.strong_quality == pytest.approx(27 / 3)
    assert o.routed_quality(np.array([True, False])) == pytest.approx(21 / 3)


def test_cpt_is_the_first_crossing_on_a_dipping_curve() -> None:
    curve = [CurvePoint(0, x, 0, y) for x, y in [(0.0, 0.0), (0.2, 0.6), (0.4, 0.4), (1.0, 1.0)]]
    assert cpt(curve, 0.5) == pytest.approx(0.2 * 0.5 / 0.6)
    assert math.isnan(cpt(curve, 1.5))
    assert apgr(curve) == pytest.approx(0.06 + 0.1 + 0.42)


@pytest.mark.parametrize(
    ("scores", "message"),
    [([0.1, 0.2], "2 scores for 4"), ([0.1, math.nan, 0.2, 0.3], "finite")],
    ids=["length", "nan"],
)
def test_sweep_rejects_bad_scores(scores: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep(scores, OUTCOMES)
