"""The one decision pipeline: what needs no classifier (``policy.plan``), else classify and ``policy.decide``,
timed. The ext_proc processor, ``triage explain`` and the benchmarks all decide through here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from triage import policy
from triage.classifier.base import Classifier, Scores
from triage.requests.input import RoutingInput
from triage.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision (or a rejection), the scores it used (None when unclassified or failed open), and the time
    it took from ``started_ns`` (parsing included when the caller started the clock before parsing)."""

    outcome: policy.Decision | policy.Rejection
    scores: Scores | None
    latency_us: int


async def decide(rt: Runtime, inp: RoutingInput, tier: str | None, started_ns: int) -> Decided:
    """Decide for ``inp`` on the request path: the runtime's compiled policy, its inference strategy and deadline,
    and the providers Envoy ejects right now. A classifier fault fails open here (``policy.decide_classified``
    with the fault), never raises."""
    unhealthy = rt.health.ejected
    outcome = policy.plan(inp, tier, rt.policy, unhealthy)
    scores: Scores | None = None
    if outcome is None:
        scores, fault = await rt.inference.score(inp, rt.deadline_s)
        outcome = policy.decide_classified(inp, scores, tier, rt.policy, fault=fault, unhealthy=unhealthy)
    return Decided(outcome, scores, (time.perf_counter_ns() - started_ns) // 1000)


def decide_now(compiled: policy.Policy, classifier: Classifier, inp: RoutingInput, tier: str | None = None) -> Decided:
    """``decide`` without an event loop: the classifier runs inline, all providers count as healthy (``triage
    explain``, the decision benchmarks)."""
    started = time.perf_counter_ns()
    outcome = policy.plan(inp, tier, compiled)
    scores: Scores | None = None
    if outcome is None:
        scores = classifier.score(inp)
        outcome = policy.decide_classified(inp, scores, tier, compiled)
    return Decided(outcome, scores, (time.perf_counter_ns() - started) // 1000)
