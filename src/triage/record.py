"""The decision record: one per routed request, opened at the decision and completed on the response.

It never holds prompt or completion text (sizes and hashes only); its fields are also the span attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from triage.policy import Decision, Rejection

if TYPE_CHECKING:
    from triage.classifier.base import Scores
    from triage.requests.input import RoutingInput
    from triage.usage import Usage


@dataclass(slots=True)
class DecisionRecord:
    """Everything known about one request's routing, in the order it becomes known."""

    decision_id: str
    time_unix_ms: int
    endpoint: str
    request_id: str | None = None
    trace_id: str | None = None
    tier: str | None = None
    # the decision
    route: str | None = None
    chain: list[str] = field(default_factory=list)
    too_small: list[str] = field(default_factory=list)  # steps skipped: the request exceeds their context window
    reason: str | None = None
    model_requested: str | None = None
    model_sent: str | None = None
    input_tokens_estimate: int | None = None
    task: str | None = None
    task_probability: float | None = None
    p_strong: float | None = None
    strong_score: float | None = None
    threshold: float | None = None
    estimated_cost_usd: float | None = None
    router_latency_us: int | None = None
    classifier_version: str | None = None
    stream: bool = False
    error_code: str | None = None  # a rejection's OpenAI error code, or the internal fault that failed open
    # the outcome
    status: int | None = None
    cluster: str | None = None
    model_answered: str | None = None  # the model the step that answered was sent (a fallback's own)
    provider: str | None = None
    attempts: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    response_model: str | None = None
    streamed: bool | None = None
    completed: bool | None = None
    aborted: bool = False
    duration_ms: float | None = None
    # shadow candidates' verdicts on this request: {name, route, diverged, cost_delta_usd} (``triage.shadow``)
    shadow: list[dict[str, Any]] = field(default_factory=list)
    # Confidence escalation (``triage.escalation``): None when the answer was not checked; False when it was checked
    # and shipped; True when the request was sent again to the stronger route — billed on both, so ``cost_usd`` and
    # the token counts are the sums of both calls, and ``escalation`` has each call's part and the outcome.
    escalated: bool | None = None
    escalation: dict[str, Any] | None = None

    def decided(
        self,
        inp: RoutingInput,
        outcome: Decision | Rejection,
        scores: Scores | None,
        latency_us: int,
        classifier_version: str | None,
    ) -> None:
        """The decision is made (a route, or a rejection): what was asked, what the classifier said, where it goes."""
        self.model_requested = inp.model
        self.input_tokens_estimate = inp.input_tokens_estimate
        self.stream = inp.stream
        self.router_latency_us = latency_us
        self.tier = outcome.tier
        if scores is not None:
            self.task = scores.task
            self.task_probability = round(scores.task_probability, 4)
            self.p_strong = round(scores.p_strong, 4)
            self.classifier_version = classifier_version
        if isinstance(outcome, Decision):  # a Rejection names no route
            self.route = outcome.route
            self.reason = outcome.reason
            self.chain = list(outcome.chain_names)
            self.too_small = list(outcome.too_small)
            self.model_sent = outcome.model
            self.strong_score = None if outcome.strong_score is None else round(outcome.strong_score, 4)
            self.threshold = outcome.threshold
            self.estimated_cost_usd = outcome.estimated_cost_usd
            if outcome.reason in ("deadline", "error"):
                self.error_code = outcome.reason

    def responded(self, status: int | None, cluster: str | None, provider: str | None, attempts: int | None) -> None:
        """The response started: its status, the provider cluster that answered and how many attempts it took."""
        self.status = status
        self.cluster = cluster
        self.provider = provider
        prefix = f"{cluster}/"
        self.model_answered = next((step[len(prefix) :] for step in self.chain if step.startswith(prefix)), None)
        self.attempts = attempts

    def used(self, usage: Usage, cost_usd: float | None) -> None:
        """What the response said it used, and what that cost."""
        self.streamed = usage.streamed
        self.completed = usage.completed
        self.response_model = usage.response_model
        self.input_tokens = usage.input_tokens
        self.output_tokens = usage.output_tokens
        if cost_usd is not None:
            self.cost_usd = cost_usd

    def to_dict(self) -> dict[str, Any]:
        """The record without empty fields, ready for JSON (a shallow copy: no field holds a mutable
        object other than ``chain`` and ``too_small``, lists of strings, and ``shadow``, a list of flat dicts)."""
        out = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if value is not None and value != []:
                out[name] = value
        return out


_FIELDS = tuple(f.name for f in fields(DecisionRecord))
