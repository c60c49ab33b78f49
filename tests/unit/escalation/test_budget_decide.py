"""The escalation budget (share and cost caps over a sliding window) and the decision that combines the router's
``p_strong`` with the verifier's score."""

from __future__ import annotations

import pytest

from triage.escalation.budget import Budget, Limits
from triage.escalation.decide import Combination, choose, doubt


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _budget(clock: Clock, share: float = 0.2, cost: float | None = None, minimum: int = 1) -> Budget:
    return Budget({"pro": Limits(share, cost, window_s=60.0, min_escalations=minimum)}, buckets=6, clock=clock)


def test_share_cap_allows_the_floor_then_the_share_of_eligible_requests() -> None:
    clock = Clock()
    b = _budget(clock, share=0.2)
    b.eligible("pro")
    assert b.refusal("pro") is None  # the floor: one escalation whatever the share
    b.escalated("pro")
    for _ in range(8):
        b.eligible("pro")
    assert b.refusal("pro") == "share"  # 9 eligible: floor(1.8) = 1 allowed, 1 made
    b.eligible("pro")
    assert b.refusal("pro") is None  # 10 eligible: 2 allowed
    b.escalated("pro")
    assert b.refusal("pro") == "share"


def test_window_slides_past_old_escalations() -> None:
    clock = Clock()
    b = _budget(clock, share=0.1)
    b.eligible("pro")
    b.escalated("pro")
    assert b.refusal("pro") == "share"
    clock.now += 30
    assert b.refusal("pro") == "share"  # still inside the 60 s window
    clock.now += 31
    assert b.refusal("pro") is None
    assert b.totals("pro") == (0, 0, 0.0)


def test_cost_cap() -> None:
    clock = Clock()
    b = _budget(clock, share=1.0, cost=0.05)
    b.eligible("pro")
    b.escalated("pro")
    b.spent("pro", 0.03)
    b.eligible("pro")
    assert b.refusal("pro") is None
    b.escalated("pro")
    b.spent("pro", 0.03)
    b.eligible("pro")
    assert b.refusal("pro") == "cost"
    clock.now += 61
    assert b.refusal("pro") is None


def test_doubt_combines_prior_and_verifier() -> None:
    rule = Combination()
    assert doubt(0.5, 0.5, rule) == pytest.approx(0.5)
    assert doubt(None, 0.3, rule) == pytest.approx(0.7)
    # an easy request (p_strong 0.2) needs stronger evidence than a hard one (0.6)
    assert doubt(0.2, 0.3, rule) < 0.5 < doubt(0.6, 0.3, rule)
    assert doubt(0.2, 0.19, rule) > 0.5
    # monotone in both estimators
    assert doubt(0.3, 0.2, rule) > doubt(0.3, 0.4, rule)
    assert doubt(0.6, 0.4, rule) > doubt(0.3, 0.4, rule)


@pytest.mark.parametrize(
    ("kwargs", "outcome"),
    [
        ({"checked": False}, "not_eligible"),
        ({"acceptable": None}, "not_eligible"),
        ({"acceptable": 0.9}, "confident"),
        ({"strong_available": False}, "strong_unavailable"),
        ({"budget_refusal": "share"}, "budget_share"),
        ({"budget_refusal": "cost"}, "budget_cost"),
        ({"time_left_ms": 100.0}, "no_time"),
        ({}, "escalate"),
        ({"time_left_ms": None}, "escalate"),
    ],
)
def test_choose_guards_in_order(kwargs: dict[str, object], outcome: str) -> None:
    args: dict[str, object] = {
        "checked": True,
        "p_strong": 0.5,
        "acceptable": 0.1,
        "rule": Combination(),
        "strong_available": True,
        "budget_refusal": None,
        "time_left_ms": 5000.0,
        "min_time_ms": 1000.0,
    }
    args.update(kwargs)
    assert choose(**args).outcome == outcome  # type: ignore[arg-type]
