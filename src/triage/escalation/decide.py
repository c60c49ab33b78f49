"""Whether a cheap answer escalates: the ex-ante estimate and the post-hoc one, combined (a pure function).

Cascade routing (arXiv 2410.10347) shows that routing and cascading are one strategy whose quality rests on two
estimators: before the call, how likely the request needs the strong model (Triage's ``p_strong``); after it, how
likely the cheap answer is acceptable (the verifier's score). Escalating on the verifier alone throws away what the
router knew; so the doubt is their combination in log-odds (a naive-Bayes update of the router's prior by the
verifier's evidence)::

    logit(doubt) = prior_weight · logit(p_strong) + verifier_weight · logit(1 − acceptable) + bias

With the default weights (1, 1, 0) a request the router thought easy (``p_strong`` 0.2) escalates only on strong
evidence (``acceptable`` below 0.2), one it thought hard (0.6) already on a shaky answer (below 0.6). ``bias``
removes the base rate the verifier's calibration already holds (−logit of its training set's share of
unacceptable answers), when it is known. A request without ``p_strong`` (tier-forced, skipped the classifier) uses
the verifier alone.

Then the guards, in order — each a recorded reason, never a crash: the cheap answer was not checked (streaming,
an error, no body) → ``not_eligible``; doubt below the threshold → ``confident``; every provider of the strong
route ejected → ``strong_unavailable``; the tier's budget spent → ``budget_share`` / ``budget_cost``; no time left
in the tier's latency budget for the strong call → ``no_time``; else ``escalate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Outcome = Literal[
    "escalate",
    "confident",
    "not_eligible",
    "strong_unavailable",
    "budget_share",
    "budget_cost",
    "no_time",
]

_EPS = 1e-6


def logit(p: float) -> float:
    q = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(q / (1.0 - q))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class Combination:
    """How the two estimators combine, and the doubt from which a cheap answer escalates."""

    threshold: float = 0.5
    prior_weight: float = 1.0
    verifier_weight: float = 1.0
    bias: float = 0.0


def doubt(p_strong: float | None, acceptable: float, rule: Combination) -> float:
    """P(the cheap answer is not good enough | the router's ``p_strong``, the verifier's ``acceptable``)."""
    x = rule.bias + rule.verifier_weight * logit(1.0 - acceptable)
    if p_strong is not None:
        x += rule.prior_weight * logit(p_strong)
    return sigmoid(x)


@dataclass(frozen=True, slots=True)
class Choice:
    outcome: Outcome
    doubt: float | None


def choose(
    *,
    checked: bool,
    p_strong: float | None,
    acceptable: float | None,
    rule: Combination,
    strong_available: bool,
    budget_refusal: Literal["share", "cost"] | None,
    time_left_ms: float | None,
    min_time_ms: float,
) -> Choice:
    """The escalation decision for one cheap answer (see the module docstring for the order of the guards).
    ``time_left_ms``: what the tier's latency budget leaves (None: no budget); ``min_time_ms``: below it the
    strong call could not finish."""
    if not checked or acceptable is None:
        return Choice("not_eligible", None)
    d = doubt(p_strong, acceptable, rule)
    if d < rule.threshold:
        return Choice("confident", d)
    if not strong_available:
        return Choice("strong_unavailable", d)
    if budget_refusal is not None:
        return Choice("budget_share" if budget_refusal == "share" else "budget_cost", d)
    if time_left_ms is not None and time_left_ms < min_time_ms:
        return Choice("no_time", d)
    return Choice("escalate", d)
