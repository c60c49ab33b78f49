"""The decision store's data: what is appended, where, and the columns queries see.

A store is a directory of append-only segments of JSON lines, written by every Triage process on its own (no
locks, no server; ``triage serve --workers N`` and many replicas each write their own files)::

    <store>/decisions/<YYYYMMDDTHH>-<host>-<pid>[-<n>].jsonl   one line per decision record, when it completes
    <store>/events/<YYYYMMDDTHH>-<host>-<pid>[-<n>].jsonl      one line per event about a decision, when it arrives
    <store>/captured/<YYYYMMDDTHH>-<host>-<pid>[-<n>].jsonl    only with ``store.capture`` on: one line per classified
                                                               decision, its classifier input (``capture``)

A decision line is ``DecisionRecord.to_dict()`` (the decision log's line: empty fields left out). An event line
is an ``Event``. Queries join them by ``decision_id`` at read time (``triage.store.Store``): a decision is never
rewritten when feedback arrives about it. Records and events hold no prompt or completion text; the opt-in content
capture (``triage.store.capture``) is the only text a store ever holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DECISIONS_DIR = "decisions"
EVENTS_DIR = "events"

EventKind = Literal["feedback", "implicit"]
Signal = Literal["thumbs_up", "thumbs_down", "score", "accepted", "regenerated", "abandoned", "retried"]
SIGNALS: tuple[str, ...] = ("thumbs_up", "thumbs_down", "score", "accepted", "regenerated", "abandoned", "retried")
# The value each signal carries when it has no score of its own: 1 = the answer was good, 0 = it was not.
SIGNAL_VALUE: dict[str, float] = {
    "thumbs_up": 1.0,
    "thumbs_down": 0.0,
    "accepted": 1.0,
    "regenerated": 0.0,
    "abandoned": 0.0,
    "retried": 0.0,
}


@dataclass(frozen=True, slots=True)
class Event:
    """Something learnt about a decision after it was made. Never holds prompt or completion text."""

    event_id: str
    decision_id: str
    time_unix_ms: int
    kind: EventKind
    signal: str  # one of SIGNALS
    value: float  # 0..1: how good the answer was by this signal
    principal: str | None = None  # who sent it (a verified JWT claim); None for an implicit signal without one
    idempotency_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {k: v for k, v in out.items() if v is not None}


# The columns queries see, by view, with their SQL types (a column absent from a line reads as NULL). Names are
# the record's and the event's field names: one source of truth for the writer, both query engines and the report.
DECISION_COLUMNS: dict[str, str] = {
    "decision_id": "VARCHAR",
    "time_unix_ms": "BIGINT",
    "endpoint": "VARCHAR",
    "request_id": "VARCHAR",
    "trace_id": "VARCHAR",
    "tier": "VARCHAR",
    "route": "VARCHAR",
    "chain": "VARCHAR[]",
    "too_small": "VARCHAR[]",
    "reason": "VARCHAR",
    "model_requested": "VARCHAR",
    "model_sent": "VARCHAR",
    "input_tokens_estimate": "BIGINT",
    "task": "VARCHAR",
    "task_probability": "DOUBLE",
    "p_strong": "DOUBLE",
    "strong_score": "DOUBLE",
    "threshold": "DOUBLE",
    "estimated_cost_usd": "DOUBLE",
    "router_latency_us": "BIGINT",
    "classifier_version": "VARCHAR",
    "stream": "BOOLEAN",
    "error_code": "VARCHAR",
    "status": "BIGINT",
    "cluster": "VARCHAR",
    "model_answered": "VARCHAR",
    "provider": "VARCHAR",
    "attempts": "BIGINT",
    "input_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "cost_usd": "DOUBLE",
    "response_model": "VARCHAR",
    "streamed": "BOOLEAN",
    "completed": "BOOLEAN",
    "aborted": "BOOLEAN",
    "duration_ms": "DOUBLE",
    # shadow candidates' verdicts: [{name, route, diverged, cost_delta_usd}]
    "shadow": "STRUCT(name VARCHAR, route VARCHAR, diverged BOOLEAN, cost_delta_usd DOUBLE)[]",
    "escalated": "BOOLEAN",
}
EVENT_COLUMNS: dict[str, str] = {
    "event_id": "VARCHAR",
    "decision_id": "VARCHAR",
    "time_unix_ms": "BIGINT",
    "kind": "VARCHAR",
    "signal": "VARCHAR",
    "value": "DOUBLE",
    "principal": "VARCHAR",
    "idempotency_key": "VARCHAR",
}

# List columns are never NULL in a view: a record leaves an empty list out of its line, and reads back as ``[]``
# (ClickHouse has no nullable arrays; both engines agree this way).
LIST_COLUMNS: frozenset[str] = frozenset(name for name, sql in DECISION_COLUMNS.items() if sql.endswith("[]"))

# The same records as OTLP log records (``store.otlp_logs``; ``triage.store.writer.OtlpLogSink``): the body is the
# record's JSON line (its keys are the column names), the attribute ``triage.kind`` tells a decision (``decision``)
# from an event (``event``), ``triage.decision_id`` names the decision; the event name is ``triage.decision`` or
# ``triage.event`` and the instrumentation scope ``triage.store``. A Collector's ClickHouse exporter keeps them in
# ``otel_logs`` (``Body``, ``LogAttributes``, ``ScopeName``), read back by ``triage.store.clickhouse``.
OTEL_KIND = "triage.kind"
OTEL_DECISION_ID = "triage.decision_id"
OTEL_SCOPE = "triage.store"
OTEL_BODY: dict[str, str] = {"decision": "triage.decision", "event": "triage.event"}  # the event names
