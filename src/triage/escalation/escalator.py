"""``escalation:`` compiled for the request path: which tier and route escalate where, the verifier's per-task
model, the decision's weights, the budget, and where Envoy's listener is. Built with each runtime; the budget's
windows are kept across reloads unless a tier's limits change.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.config import EscalationConfig, EscalationTier, TriageConfig, verifier_overrides
from triage.escalation.budget import Budget, Limits
from triage.escalation.decide import Combination
from triage.escalation.model import VerifierConfig, configure


@dataclass(frozen=True, slots=True)
class Escalator:
    config: EscalationConfig
    verifier: VerifierConfig
    budget: Budget
    via: str  # host:port of Envoy's listener
    rule: Combination
    logprobs_routes: frozenset[str]

    def target(self, tier: str, route: str) -> str | None:
        """The stronger route a doubtful answer of ``route`` goes to on ``tier``; None: not escalated there."""
        t: EscalationTier | None = self.config.tiers.get(tier)
        return None if t is None else t.routes.get(route)

    def rule_for(self, task: str | None) -> Combination:
        override = self.config.tasks.get(task) if task is not None else None
        if override is None or override.threshold is None:
            return self.rule
        return Combination(override.threshold, self.rule.prior_weight, self.rule.verifier_weight, self.rule.bias)


def _limits(cfg: EscalationConfig) -> dict[str, Limits]:
    return {
        name: Limits(t.max_share, t.max_added_cost_usd, float(t.window_s), t.min_escalations)
        for name, t in cfg.tiers.items()
    }


def _via(config: TriageConfig) -> str:
    if config.escalation.via is not None:
        return config.escalation.via
    host, _, port = config.envoy.listen.rpartition(":")
    if host in ("0.0.0.0", "", "[::]", "::"):
        host = "127.0.0.1"
    return f"{host}:{port}"


def build(config: TriageConfig, previous: Escalator | None = None) -> Escalator | None:
    """The escalator of ``config``; None when no tier escalates (the request path then does nothing for it)."""
    cfg = config.escalation
    if not cfg.tiers:
        return None
    limits = _limits(cfg)
    budget = previous.budget if previous is not None and previous.budget.limits == limits else Budget(limits)
    return Escalator(
        config=cfg,
        verifier=configure(verifier_overrides(cfg)),
        budget=budget,
        via=_via(config),
        rule=Combination(cfg.threshold, cfg.prior_weight, cfg.verifier_weight, cfg.bias),
        logprobs_routes=frozenset(cfg.logprobs_routes),
    )
