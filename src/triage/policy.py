"""The routing policy: a pure function from (request, scores, tier, configuration) to a decision.

No clocks, I/O or globals here. ``plan`` answers what can be decided without the classifier (budgets,
kill switch, forced tiers, tiny requests); ``decide`` finishes the job with the classifier's scores, or
with the reason the scores are missing (the request then fails open to the default route).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from triage.classifier.base import Scores
from triage.config import ChainEntry, TierConfig, TriageConfig
from triage.requests.input import RoutingInput

Reason = Literal[
    "classified",
    "uncertain",
    "tier_forced",
    "budget",
    "kill_switch",
    "skip_small",
    "deadline",
    "error",
]
Fault = Literal["deadline", "error"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one request goes, and why."""

    route: str
    reason: Reason
    tier: str
    chain: tuple[ChainEntry, ...]
    strong_score: float | None = None
    threshold: float | None = None
    timeout_ms: int | None = None
    max_tokens_cap: int | None = None
    estimated_cost_usd: float = 0.0

    @property
    def model(self) -> str:
        """The model name the first provider of the chain expects."""
        return self.chain[0].model


@dataclass(frozen=True, slots=True)
class Rejection:
    """The request is refused with an OpenAI-style error; no provider is called."""

    status: int
    code: str
    message: str
    tier: str
    error_type: str = "invalid_request_error"
    reason: Literal["budget"] = "budget"


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def strong_score(scores: Scores, task_bias: Mapping[str, float]) -> float:
    """P(strong model needed), shifted in logit space by the expected task sensitivity.

    ``sigmoid(logit(p_strong) + Σ_task P(task) · bias[task])``: at equal difficulty, tasks that suffer
    more on a weaker model (code, math, extraction) score higher than those that suffer less
    (summarization, translation, classification). With no bias it is ``p_strong`` itself.
    """
    shift = sum(p * task_bias.get(label, 0.0) for label, p in scores.task_probs.items())
    if shift == 0.0:
        return scores.p_strong  # exactly, so a score at a threshold reaches it
    return 1.0 / (1.0 + math.exp(-(_logit(scores.p_strong) + shift)))


def _allowed_ladder(tier: TierConfig, config: TriageConfig) -> list[tuple[str, float]]:
    allowed = set(tier.routes)
    return [(s.route, s.min_score) for s in config.policy.ladder if s.route in allowed]


def _decision(
    route: str,
    reason: Reason,
    tier_name: str,
    tier: TierConfig,
    inp: RoutingInput,
    config: TriageConfig,
    *,
    score: float | None = None,
    threshold: float | None = None,
) -> Decision:
    chain = tuple(config.routes[route].chain)
    out_tokens = inp.max_tokens
    if tier.max_output_tokens is not None and (out_tokens is None or out_tokens > tier.max_output_tokens):
        out_tokens = tier.max_output_tokens
    price = chain[0].price or config.routes[route].price
    estimate = price.cost(inp.input_tokens_estimate, out_tokens or config.policy.expected_output_tokens)
    return Decision(
        route=route,
        reason=reason,
        tier=tier_name,
        chain=chain,
        strong_score=score,
        threshold=threshold,
        timeout_ms=tier.timeout_ms,
        max_tokens_cap=tier.max_output_tokens,
        estimated_cost_usd=estimate,
    )


def plan(inp: RoutingInput, tier_name: str | None, config: TriageConfig) -> Decision | Rejection | None:
    """Decide what needs no classifier; None means: classify, then call ``decide``."""
    name, tier = config.tier(tier_name)
    if tier.max_input_tokens is not None and inp.input_tokens_estimate > tier.max_input_tokens:
        return Rejection(
            status=413,
            code="input_too_large",
            message=(
                f"The input is about {inp.input_tokens_estimate} tokens; tier '{name}' allows at most "
                f"{tier.max_input_tokens}. Shorten the conversation or use a tier with a larger budget."
            ),
            tier=name,
        )
    ks = config.kill_switch
    if ks is not None and (not ks.tiers or name in ks.tiers):
        return _decision(ks.route, "kill_switch", name, tier, inp, config)
    if len(tier.routes) == 1:
        return _budgeted(_decision(tier.routes[0], "tier_forced", name, tier, inp, config), tier, inp, config)
    if inp.input_tokens_estimate < config.policy.skip_below_tokens:
        ladder = _allowed_ladder(tier, config)
        route = ladder[0][0] if ladder else tier.routes[0]
        return _budgeted(_decision(route, "skip_small", name, tier, inp, config), tier, inp, config)
    return None


def _fail_open_route(tier: TierConfig, config: TriageConfig) -> str:
    return config.default_route if config.default_route in tier.routes else tier.routes[0]


def _budgeted(decision: Decision, tier: TierConfig, inp: RoutingInput, config: TriageConfig) -> Decision | Rejection:
    """Keep ``decision`` if its estimate fits the tier's cost cap, else the best cheaper route that fits."""
    cap = tier.max_cost_usd
    if cap is None or decision.estimated_cost_usd <= cap:
        return decision
    candidates = [
        _decision(r, "budget", decision.tier, tier, inp, config, score=decision.strong_score)
        for r in tier.routes
        if r != decision.route
    ]
    fitting = [d for d in candidates if d.estimated_cost_usd <= cap]
    if fitting:
        return max(fitting, key=lambda d: d.estimated_cost_usd)
    return Rejection(
        status=429,
        code="cost_budget_exceeded",
        message=(
            f"The estimated cost (${decision.estimated_cost_usd:.4f}) is over tier '{decision.tier}''s "
            f"budget of ${cap:.4f} per request on every route it may use. Lower max_tokens or shorten the input."
        ),
        tier=decision.tier,
        error_type="insufficient_quota",
    )


def decide(
    inp: RoutingInput,
    scores: Scores | None,
    tier_name: str | None,
    config: TriageConfig,
    *,
    fault: Fault | None = None,
) -> Decision | Rejection:
    """The full decision. ``scores`` is None only with a ``fault``: the classifier missed its deadline or
    failed, and the request fails open to the default route (or the tier's first route if the default
    is not allowed for it)."""
    early = plan(inp, tier_name, config)
    if early is not None:
        return early
    name, tier = config.tier(tier_name)
    if scores is None or fault is not None:
        return _decision(_fail_open_route(tier, config), fault or "error", name, tier, inp, config)
    score = strong_score(scores, config.policy.task_bias)
    ladder = _allowed_ladder(tier, config)
    if not ladder:
        return _budgeted(
            _decision(tier.routes[0], "classified", name, tier, inp, config, score=score), tier, inp, config
        )
    # The lowest allowed step is the floor even when its threshold is above the score (a tier may not
    # allow the ladder's first route).
    index = max((i for i, (_, threshold) in enumerate(ladder) if threshold <= score), default=0)
    reason: Reason = "classified"
    unc = config.policy.uncertainty
    if unc.escalate and index + 1 < len(ladder) and ladder[index + 1][1] - score <= unc.margin:
        index += 1
        reason = "uncertain"
    route, threshold = ladder[index]
    decision = _decision(route, reason, name, tier, inp, config, score=score, threshold=threshold)
    return _budgeted(decision, tier, inp, config)
