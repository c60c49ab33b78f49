"""The routing policy: a pure function from (request, scores, tier, configuration, provider health) to a
decision.

No clocks, I/O or globals here. ``plan`` answers what can be decided without the classifier (budgets,
kill switch, forced tiers, tiny requests); ``decide`` finishes the job with the classifier's scores, or
with the reason the scores are missing (the request then fails open to the default route).

The chain a decision carries is the route's chain for this request: the tier's excluded clusters
removed, its preferred clusters first, and providers Envoy has ejected moved last, so the first attempt
goes to a healthy provider while an ejected one stays as the last resort.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from triage.classifier.base import Scores
from triage.config import ChainEntry, PolicyConfig, TierConfig, TriageConfig
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
    "context_window",
    "escalated",
]
Fault = Literal["deadline", "error"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one request goes, and why."""

    route: str
    reason: Reason
    tier: str
    chain: tuple[ChainEntry, ...]
    steps: tuple[int, ...] = ()  # positions of ``chain`` in the route's configured chain
    max_retries: int = 0
    strong_score: float | None = None
    threshold: float | None = None
    timeout_ms: int | None = None
    per_try_timeout_ms: int | None = None
    max_tokens_cap: int | None = None
    estimated_cost_usd: float = 0.0
    too_small: tuple[str, ...] = ()  # "cluster/model" steps left out: the request does not fit their context window

    @property
    def model(self) -> str:
        """The model name the first provider of the chain expects."""
        return self.chain[0].model

    @property
    def chain_names(self) -> tuple[str, ...]:
        """The chain as ``cluster/model`` steps (the decision record's and the span's form)."""
        return tuple(f"{e.cluster}/{e.model}" for e in self.chain)


@dataclass(frozen=True, slots=True)
class Rejection:
    """The request is refused with an OpenAI-style error; no provider is called."""

    status: int
    code: str
    message: str
    tier: str
    error_type: str = "invalid_request_error"
    reason: Literal["budget", "context_window"] = "budget"


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


@dataclass(frozen=True, slots=True)
class TierView:
    """One tier of a configuration, compiled: the ladder it may climb and, per route, the chain positions in the
    order Envoy should try them before this request's context windows and Envoy's ejections are applied."""

    name: str
    tier: TierConfig
    ladder: tuple[tuple[str, float], ...]  # (route, min_score) of the policy's ladder steps the tier allows
    base_steps: Mapping[str, tuple[int, ...]]  # every route: excluded clusters removed, preferred clusters first


@dataclass(frozen=True, slots=True)
class Compiled:
    """A configuration compiled for deciding, with the policy it applies: ``compile_policy(config)`` applies the
    file's own policy; a shadow candidate is the same configuration compiled with another ``PolicyConfig``."""

    config: TriageConfig
    policy: PolicyConfig
    tiers: Mapping[str, TierView]
    default: TierView
    min_window: Mapping[str, int | None]  # per route: the smallest context window of its chain (None: no window)

    def tier(self, name: str | None) -> TierView:
        """The named tier, or the default tier when the name is unknown or absent (``TriageConfig.tier``)."""
        view = self.tiers.get(name) if name else None
        return view if view is not None else self.default


def _tier_view(name: str, tier: TierConfig, config: TriageConfig, policy: PolicyConfig) -> TierView:
    allowed = set(tier.routes)
    base: dict[str, tuple[int, ...]] = {}
    prefer = {c: k for k, c in enumerate(tier.prefer_clusters)}
    for route, cfg in config.routes.items():
        chain = cfg.chain
        steps = [i for i, e in enumerate(chain) if e.cluster not in tier.exclude_clusters]
        if not steps:  # only a kill switch can get here (config validation forbids it otherwise)
            steps = list(range(len(chain)))
        steps.sort(key=lambda i, chain=chain: prefer.get(chain[i].cluster, len(prefer)))  # type: ignore[misc]
        base[route] = tuple(steps)
    ladder = tuple((s.route, s.min_score) for s in policy.ladder if s.route in allowed)
    return TierView(name, tier, ladder, base)


def compile_policy(config: TriageConfig, policy: PolicyConfig | None = None) -> Compiled:
    """Compile ``config`` for ``plan``/``decide``, applying ``policy`` (default: the live one, ``config.live_policy``:
    the file's ``policy``, or the active shadow candidate's changes to it)."""
    policy = policy if policy is not None else config.live_policy
    tiers = {name: _tier_view(name, tier, config, policy) for name, tier in config.tiers.items()}
    default_name, default_tier = config.tier(None)
    default = tiers.get(default_name) or _tier_view(default_name, default_tier, config, policy)
    windows = {
        route: min((e.context_tokens for e in cfg.chain if e.context_tokens is not None), default=None)
        for route, cfg in config.routes.items()
    }
    return Compiled(config, policy, tiers, default, windows)


Policy = TriageConfig | Compiled  # what plan/decide accept: a configuration is compiled on the spot (slower)


def _compiled(policy: Policy) -> Compiled:
    return policy if isinstance(policy, Compiled) else compile_policy(policy)


class _Request:
    """What every step of one decision needs (and the chain positions it has worked out so far)."""

    __slots__ = ("_steps", "compiled", "config", "inp", "policy", "tier", "tier_name", "unhealthy", "view")

    def __init__(self, inp: RoutingInput, view: TierView, compiled: Compiled, unhealthy: frozenset[str]) -> None:
        self.inp = inp
        self.view = view
        self.tier_name = view.name
        self.tier = view.tier
        self.compiled = compiled
        self.config = compiled.config
        self.policy = compiled.policy
        self.unhealthy = unhealthy
        self._steps: dict[str, tuple[int, ...]] = {}

    @property
    def output_tokens(self) -> int | None:
        """The output bound the provider will get: the client's ``max_tokens``, lowered to the tier's cap."""
        out, cap = self.inp.max_tokens, self.tier.max_output_tokens
        return cap if cap is not None and (out is None or out > cap) else out

    def fits(self, entry: ChainEntry) -> bool:
        """Whether the input and the output bound fit the step's context window (no window: always)."""
        window = entry.context_tokens
        return window is None or self.inp.input_tokens_estimate + (self.output_tokens or 0) <= window

    def fits_all(self, route: str) -> bool:
        window = self.compiled.min_window[route]
        return window is None or self.inp.input_tokens_estimate + (self.output_tokens or 0) <= window

    def too_small(self, route: str) -> tuple[str, ...]:
        if self.fits_all(route):
            return ()
        return tuple(f"{e.cluster}/{e.model}" for e in self.config.routes[route].chain if not self.fits(e))

    def steps(self, route: str) -> tuple[int, ...]:
        """The route's chain positions for this request, in the order Envoy should try them; empty when the
        request fits no step's context window."""
        steps = self._steps.get(route)
        if steps is not None:
            return steps
        chain = self.config.routes[route].chain
        steps = self.view.base_steps[route]
        if not self.fits_all(route):
            steps = tuple(i for i in steps if self.fits(chain[i]))
        if self.unhealthy and any(chain[i].cluster in self.unhealthy for i in steps):
            steps = tuple(sorted(steps, key=lambda i: chain[i].cluster in self.unhealthy))  # stable: healthy first
        self._steps[route] = steps
        return steps

    def per_try_timeout_ms(self, steps: int) -> int | None:
        """The per-attempt budget: the tier's own, else a share of the tier's budget that leaves room for every
        step of the chain (a hung provider then fails over in time), when that is below ``retries``' default;
        None: Envoy's route default applies."""
        tier = self.tier
        if tier.per_try_timeout_ms is not None:
            return tier.per_try_timeout_ms
        if tier.timeout_ms is None or steps < 2:
            return None
        share = tier.timeout_ms // steps
        return share if share < self.config.retries.per_try_timeout_ms else None

    def decision(
        self, route: str, reason: Reason, *, score: float | None = None, threshold: float | None = None
    ) -> Decision:
        config, tier, inp = self.config, self.tier, self.inp
        steps = self.steps(route)
        if not steps:
            raise ValueError(f"route {route!r} has no step this request fits: check fitting() first")
        chain = tuple(config.routes[route].chain[i] for i in steps)
        out_tokens = self.output_tokens
        price = chain[0].price or config.routes[route].price
        estimate = price.cost(inp.input_tokens_estimate, out_tokens or self.policy.expected_output_tokens)
        return Decision(
            route=route,
            reason=reason,
            tier=self.tier_name,
            chain=chain,
            steps=steps,
            max_retries=len(steps) - 1 if len(steps) > 1 else config.retries.single_step_retries,
            strong_score=score,
            threshold=threshold,
            timeout_ms=tier.timeout_ms,
            per_try_timeout_ms=self.per_try_timeout_ms(len(steps)),
            max_tokens_cap=tier.max_output_tokens,
            estimated_cost_usd=estimate,
            too_small=self.too_small(route),
        )

    def fitting(self, routes: list[str], preferred: int) -> str | None:
        """The route to use when the request must fit a context window: ``routes[preferred]`` if it fits, else
        the nearest that does, the larger ones first (routes are ordered cheapest first); None when none fits."""
        order = [preferred, *range(preferred + 1, len(routes)), *range(preferred - 1, -1, -1)]
        return next((routes[i] for i in order if self.steps(routes[i])), None)

    def too_large(self) -> Rejection:
        windows = [
            e.context_tokens
            for r in self.tier.routes
            for e in self.config.routes[r].chain
            if e.context_tokens is not None
        ]
        largest = max(windows, default=0)
        out = self.output_tokens
        return Rejection(
            status=413,
            code="context_window_exceeded",
            message=(
                f"The input is about {self.inp.input_tokens_estimate} tokens"
                + (f" plus up to {out} output tokens" if out else "")
                + f"; the largest context window tier '{self.tier_name}' may use is {largest} tokens. Shorten the "
                "conversation or lower max_tokens."
            ),
            tier=self.tier_name,
            reason="context_window",
        )

    def decided(
        self, routes: list[str], preferred: int, reason: Reason, **kwargs: float | None
    ) -> Decision | Rejection:
        """``decision`` for ``routes[preferred]``, or for the nearest route the request fits (reason
        ``context_window``), or the 413 that says it fits none."""
        route = self.fitting(routes, preferred)
        if route is None:
            return self.too_large()
        return self.decision(route, reason if route == routes[preferred] else "context_window", **kwargs)

    def budgeted(self, decision: Decision) -> Decision | Rejection:
        """Keep ``decision`` if its estimate fits the tier's cost cap, else the dearest route that fits."""
        cap = self.tier.max_cost_usd
        if cap is None or decision.estimated_cost_usd <= cap:
            return decision
        candidates = [
            self.decision(r, "budget", score=decision.strong_score)
            for r in self.tier.routes
            if r != decision.route and self.steps(r)
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


def _request(inp: RoutingInput, tier_name: str | None, policy: Policy, unhealthy: frozenset[str]) -> _Request:
    compiled = _compiled(policy)
    return _Request(inp, compiled.tier(tier_name), compiled, unhealthy)


def plan(
    inp: RoutingInput, tier_name: str | None, policy: Policy, unhealthy: frozenset[str] = frozenset()
) -> Decision | Rejection | None:
    """Decide what needs no classifier; None means: classify, then call ``decide``.

    ``policy``: a configuration, or one compiled with the policy to apply (``compile_policy``); ``unhealthy``: clusters
    Envoy has ejected right now (their steps go last in every chain).
    """
    req = _request(inp, tier_name, policy, unhealthy)
    tier, name = req.tier, req.tier_name
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
    ks = req.config.kill_switch
    if ks is not None and (not ks.tiers or name in ks.tiers):
        return req.decision(ks.route, "kill_switch") if req.steps(ks.route) else req.too_large()
    if len(tier.routes) == 1:
        forced = req.decided(list(tier.routes), 0, "tier_forced")
        return req.budgeted(forced) if isinstance(forced, Decision) else forced
    if inp.input_tokens_estimate < req.policy.skip_below_tokens:
        ladder = [r for r, _ in req.view.ladder] or list(tier.routes)
        small = req.decided(ladder, 0, "skip_small")
        return req.budgeted(small) if isinstance(small, Decision) else small
    return None


def escalate_to(
    inp: RoutingInput, tier_name: str | None, policy: Policy, route: str, unhealthy: frozenset[str] = frozenset()
) -> Decision | None:
    """The decision for a request Triage sends again to ``route`` (confidence escalation, reason ``escalated``):
    the route's chain as for any request of the tier (context windows, ejected steps last); None when the request
    fits none of its steps."""
    req = _request(inp, tier_name, policy, unhealthy)
    return req.decision(route, "escalated") if route in req.config.routes and req.steps(route) else None


def decide(
    inp: RoutingInput,
    scores: Scores | None,
    tier_name: str | None,
    policy: Policy,
    *,
    fault: Fault | None = None,
    unhealthy: frozenset[str] = frozenset(),
) -> Decision | Rejection:
    """The full decision. ``scores`` is None only with a ``fault``: the classifier missed its deadline or
    failed, and the request fails open to the default route (or the tier's first route if the default
    is not allowed for it)."""
    compiled = _compiled(policy)
    early = plan(inp, tier_name, compiled, unhealthy)
    if early is not None:
        return early
    return decide_classified(inp, scores, tier_name, compiled, fault=fault, unhealthy=unhealthy)


def decide_classified(
    inp: RoutingInput,
    scores: Scores | None,
    tier_name: str | None,
    policy: Policy,
    *,
    fault: Fault | None = None,
    unhealthy: frozenset[str] = frozenset(),
) -> Decision | Rejection:
    """``decide`` for a request ``plan`` already answered None for (the request path runs ``plan`` before
    it classifies, and need not run it twice)."""
    req = _request(inp, tier_name, policy, unhealthy)
    tier = req.tier
    if scores is None or fault is not None:
        default = req.config.default_route
        route = default if default in tier.routes else tier.routes[0]
        routes = list(tier.routes)
        return req.decided(routes, routes.index(route), fault or "error")
    score = strong_score(scores, req.policy.task_bias)
    ladder = req.view.ladder
    if not ladder:
        first = req.decided(list(tier.routes), 0, "classified", score=score)
        return req.budgeted(first) if isinstance(first, Decision) else first
    # The lowest allowed step is the floor even when its threshold is above the score (a tier may not
    # allow the ladder's first route).
    index = max((i for i, (_, threshold) in enumerate(ladder) if threshold <= score), default=0)
    reason: Reason = "classified"
    unc = req.policy.uncertainty
    if unc.escalate and index + 1 < len(ladder) and ladder[index + 1][1] - score <= unc.margin:
        index += 1
        reason = "uncertain"
    routes = [r for r, _ in ladder]
    chosen = req.fitting(routes, index)
    if chosen is None:
        return req.too_large()
    if chosen != routes[index]:
        index, reason = routes.index(chosen), "context_window"
    return req.budgeted(req.decision(chosen, reason, score=score, threshold=ladder[index][1]))
