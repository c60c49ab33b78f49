"""The decision record: one per routed request, opened at the decision and completed on the response.

It never holds prompt or completion text (sizes and hashes only); its fields are also the span attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


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

    def to_dict(self) -> dict[str, Any]:
        """The record without empty fields, ready for JSON (a shallow copy: no field holds a mutable
        object other than ``chain`` and ``too_small``, lists of strings)."""
        out = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if value is not None and value != []:
                out[name] = value
        return out


_FIELDS = tuple(f.name for f in fields(DecisionRecord))
