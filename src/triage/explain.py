"""``triage explain``: the decision for one prompt and why, without Envoy."""

from __future__ import annotations

import time
from typing import Any

from triage import policy, router
from triage.classifier.base import Classifier
from triage.config import TriageConfig
from triage.requests.input import RoutingInput


def explain(
    prompt: str, config: TriageConfig, classifier: Classifier, *, tier: str | None = None, system: str = ""
) -> dict[str, Any]:
    """Decide for ``prompt`` exactly as the live path would and return the decision with its reasons."""
    inp = RoutingInput.from_text(prompt, system=system)
    started = time.perf_counter_ns()
    decided = router.decide_now(config, classifier, inp, tier)
    outcome, scores = decided.outcome, decided.scores
    latency_us = (time.perf_counter_ns() - started) / 1000
    tier_name, tier_cfg = config.tier(tier)
    out: dict[str, Any] = {
        "tier": tier_name,
        "allowed_routes": list(tier_cfg.routes),
        "input_tokens_estimate": inp.input_tokens_estimate,
        "latency_us": round(latency_us, 1),
        "classifier_version": classifier.version,
    }
    if scores is not None:
        ranked = sorted(scores.task_probs.items(), key=lambda kv: kv[1], reverse=True)
        out.update(
            task=scores.task,
            task_probability=round(scores.task_probability, 4),
            task_probs={k: round(v, 4) for k, v in ranked},
            p_strong=round(scores.p_strong, 4),
        )
    else:
        out.update(task=None, task_probability=None, p_strong=None)
    if isinstance(outcome, policy.Rejection):
        out.update(
            route=None,
            reason=outcome.reason,
            error={"status": outcome.status, "code": outcome.code, "message": outcome.message},
            why=outcome.message,
        )
        return out
    out.update(
        route=outcome.route,
        reason=outcome.reason,
        strong_score=None if outcome.strong_score is None else round(outcome.strong_score, 4),
        threshold=outcome.threshold,
        chain=[f"{e.cluster}/{e.model}" for e in outcome.chain],
        estimated_cost_usd=round(outcome.estimated_cost_usd, 6),
        why=_why(outcome, config, tier_name),
    )
    return out


def _why(decision: policy.Decision, config: TriageConfig, tier_name: str) -> str:
    ladder = " · ".join(f"{s.route} ≥ {s.min_score:.2f}" for s in config.policy.ladder)
    score = decision.strong_score
    if decision.reason == "classified" and score is not None:
        top = [s.route for s in config.policy.ladder if s.min_score <= score][-1]
        text = f"strong score {score:.3f} on the ladder ({ladder}) reaches {top}"
        if top != decision.route:
            text += f"; tier {tier_name!r} allows at most {decision.route}"
        return text
    if decision.reason == "uncertain" and score is not None:
        return (
            f"strong score {score:.3f} is within {config.policy.uncertainty.margin:.2f} of "
            f"{decision.route}'s threshold {decision.threshold:.2f}: escalated"
        )
    return {
        "tier_forced": f"tier {tier_name!r} allows only {decision.route}",
        "kill_switch": f"the kill switch sends tier {tier_name!r} to {decision.route}",
        "skip_small": f"under {config.policy.skip_below_tokens} tokens: the cheapest allowed route, unclassified",
        "budget": f"the preferred route is over tier {tier_name!r}'s cost budget; {decision.route} fits",
    }.get(decision.reason, decision.reason)


def format_explanation(out: dict[str, Any]) -> str:
    """The human-readable form of ``explain``'s result."""
    lines = []
    if out.get("route") is None:
        err = out["error"]
        lines.append(f"rejected   {err['status']} {err['code']}: {err['message']}")
    else:
        lines.append(f"route      {out['route']}  (reason: {out['reason']})")
        lines.append(f"why        {out['why']}")
    if out.get("task") is not None:
        others = [f"{k} {v:.2f}" for k, v in list(out["task_probs"].items())[1:3]]
        lines.append(f"task       {out['task']} ({out['task_probability']:.2f}); next: {', '.join(others)}")
        lines.append(f"p_strong   {out['p_strong']:.3f} → strong score {out.get('strong_score') or 0:.3f}")
    lines.append(f"tier       {out['tier']} (allowed: {', '.join(out['allowed_routes'])})")
    if out.get("chain"):
        lines.append(f"chain      {' → '.join(out['chain'])}")
        lines.append(
            f"estimate   ~{out['input_tokens_estimate']} input tokens, ${out['estimated_cost_usd']:.6f} per request"
        )
    lines.append(f"latency    {out['latency_us'] / 1000:.2f} ms (classifier {out['classifier_version']})")
    return "\n".join(lines)
