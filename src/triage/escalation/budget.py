"""The escalation budget of each tier: a cap on the share of eligible requests that escalate, and on the cost that
escalations add, over a sliding window.

Escalation turns routing from saving money into spending it twice: every escalated request is billed on the cheap
model *and* on the strong one. The budget keeps that bounded whatever the verifier does (a provider that starts
hedging on every answer, a task the verifier misjudges): once a tier's window holds ``max_share`` escalations per
eligible request, or ``max_added_cost_usd`` of escalated calls, no request of that tier escalates until the window
slides past them (the cheap answer ships, recorded with the reason).

The window is ``buckets`` fixed slots of ``window_s / buckets`` seconds (a ring): counting is O(1), memory is fixed
per tier, and a slot is forgotten whole when the window moves past it. The counts are per process: with
``triage serve --workers N`` or several replicas each process keeps its own window, so the share cap holds for the
whole fleet (no process exceeds it) and the cost cap is per process (``docs/escalation.md``).

Not thread-safe: the processor calls it from the event loop only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Refusal = Literal["share", "cost"]


@dataclass
class _Window:
    slot_s: float
    eligible: list[int]
    escalated: list[int]
    cost: list[float]
    stamps: list[int]  # the absolute slot number each ring position currently holds

    @classmethod
    def make(cls, window_s: float, buckets: int) -> _Window:
        return cls(window_s / buckets, [0] * buckets, [0] * buckets, [0.0] * buckets, [-1] * buckets)

    def _slot(self, now: float) -> int:
        absolute = int(now // self.slot_s)
        i = absolute % len(self.stamps)
        if self.stamps[i] != absolute:  # a slot the window has moved past: start it afresh
            self.stamps[i] = absolute
            self.eligible[i] = self.escalated[i] = 0
            self.cost[i] = 0.0
        return i

    def totals(self, now: float) -> tuple[int, int, float]:
        oldest = int(now // self.slot_s) - len(self.stamps) + 1
        eligible = escalated = 0
        cost = 0.0
        for i, stamp in enumerate(self.stamps):
            if stamp >= oldest:
                eligible += self.eligible[i]
                escalated += self.escalated[i]
                cost += self.cost[i]
        return eligible, escalated, cost


@dataclass(frozen=True, slots=True)
class Limits:
    """One tier's caps: ``max_share`` of its eligible requests, ``max_added_cost_usd`` (None: no cost cap) per
    ``window_s`` seconds. ``min_escalations``: what a window allows whatever the share, so that a quiet tier can
    escalate at all (with ``max_share`` 0.1, one escalation needs ten eligible requests otherwise)."""

    max_share: float
    max_added_cost_usd: float | None
    window_s: float
    min_escalations: int = 1


@dataclass
class Budget:
    """The escalation budget of every tier with escalation (see the module docstring)."""

    limits: dict[str, Limits]
    buckets: int = 60
    clock: Callable[[], float] = time.monotonic
    _windows: dict[str, _Window] = field(default_factory=dict)

    def _window(self, tier: str) -> _Window:
        w = self._windows.get(tier)
        if w is None:
            w = self._windows[tier] = _Window.make(self.limits[tier].window_s, self.buckets)
        return w

    def eligible(self, tier: str) -> None:
        """Count one request of ``tier`` whose cheap answer was checked (the share's denominator)."""
        w = self._window(tier)
        w.eligible[w._slot(self.clock())] += 1

    def refusal(self, tier: str) -> Refusal | None:
        """Why one more escalation of ``tier`` would break its budget now (None: it fits): the window allows
        ``max(min_escalations, floor(max_share × eligible))`` escalations — with ``max_share`` 0.1 and 20 eligible
        requests, two."""
        limits = self.limits[tier]
        eligible, escalated, cost = self._window(tier).totals(self.clock())
        allowed = max(limits.min_escalations, math.floor(limits.max_share * eligible + 1e-9))
        if escalated >= allowed:
            return "share"
        if limits.max_added_cost_usd is not None and cost >= limits.max_added_cost_usd:
            return "cost"
        return None

    def escalated(self, tier: str) -> None:
        """Count one escalation of ``tier`` (when it is sent: a failed call still used the budget)."""
        w = self._window(tier)
        w.escalated[w._slot(self.clock())] += 1

    def spent(self, tier: str, cost_usd: float) -> None:
        """Add what an escalated call cost (its usage at the strong route's price) to ``tier``'s window."""
        w = self._window(tier)
        w.cost[w._slot(self.clock())] += cost_usd

    def totals(self, tier: str) -> tuple[int, int, float]:
        """(eligible, escalated, added cost) in ``tier``'s window now."""
        return self._window(tier).totals(self.clock())
