"""The request path's telemetry: one span per decision, decision metrics, and the decision log.

Only the OpenTelemetry API is used here; the SDK is wired (or not) by ``triage.telemetry.setup`` from the
entry point. Every public method swallows and logs its own failures: telemetry never breaks routing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import IO, Any, Protocol

import orjson
from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from triage.record import DecisionRecord
from triage.requests.input import RoutingInput
from triage.store.capture import CaptureSink
from triage.store.schema import Event
from triage.telemetry import semconv as sc
from triage.telemetry.aggregate import Key, LocalCounter, MetricsStore, default_store

log = logging.getLogger("triage.telemetry")

# Record field → span attribute. Fields not listed are not exported as attributes.
_ATTRIBUTES: dict[str, str] = {
    "decision_id": sc.DECISION_ID,
    "request_id": sc.REQUEST_ID,
    "tier": sc.TIER,
    "endpoint": sc.ENDPOINT,
    "route": sc.ROUTE,
    "chain": sc.CHAIN,
    "reason": sc.REASON,
    "model_requested": sc.MODEL_REQUESTED,
    "model_sent": sc.GEN_AI_REQUEST_MODEL,
    "input_tokens_estimate": sc.INPUT_TOKENS_ESTIMATE,
    "task": sc.TASK,
    "task_probability": sc.TASK_PROBABILITY,
    "p_strong": sc.P_STRONG,
    "strong_score": sc.STRONG_SCORE,
    "threshold": sc.THRESHOLD,
    "estimated_cost_usd": sc.ESTIMATED_COST,
    "router_latency_us": sc.ROUTER_LATENCY_US,
    "classifier_version": sc.CLASSIFIER_VERSION,
    "error_code": sc.ERROR_CODE,
    "stream": sc.GEN_AI_REQUEST_STREAM,
    "status": sc.HTTP_RESPONSE_STATUS_CODE,
    "cluster": sc.UPSTREAM_CLUSTER,
    "provider": sc.GEN_AI_PROVIDER_NAME,
    "attempts": sc.ATTEMPTS,
    "input_tokens": sc.GEN_AI_USAGE_INPUT_TOKENS,
    "output_tokens": sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    "cost_usd": sc.COST_USD,
    "response_model": sc.GEN_AI_RESPONSE_MODEL,
    "streamed": sc.STREAMED,
    "completed": sc.COMPLETED,
    "aborted": sc.ABORTED,
    "escalated": sc.ESCALATED,
}


def record_attributes(record: DecisionRecord) -> dict[str, AttributeValue]:
    """The span attributes for ``record`` (empty fields left out)."""
    attrs: dict[str, AttributeValue] = {}
    for fld, name in _ATTRIBUTES.items():
        value = getattr(record, fld)
        if value is None or value == []:
            continue
        attrs[name] = value
    return attrs


_INPUT = (sc.GEN_AI_TOKEN_TYPE, "input")
_OUTPUT = (sc.GEN_AI_TOKEN_TYPE, "output")
# The API's tracer providers while no SDK is installed (``triage.telemetry.setup`` installs one with OTLP export).
_NO_TRACING = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)

_ATOMIC_WRITE = 4096  # PIPE_BUF on Linux, in bytes


class RecordSink(Protocol):
    """Where completed records and later events are kept (the decision store's writer, ``triage.store``)."""

    def record(self, record: DecisionRecord, line: bytes) -> None:
        """``line``: the record's JSON line (``record_line``), made once for the decision log and the sink."""

    def event(self, event: Event) -> None: ...

    def flush(self) -> None: ...


def record_line(record: DecisionRecord) -> bytes:
    """The record as one JSON line (``to_dict``, newline-terminated): the decision log's and the store's line."""
    return orjson.dumps(record.to_dict(), option=orjson.OPT_APPEND_NEWLINE)


class DecisionLog:
    """Writes one JSON line per completed decision record to a text stream.

    ``buffered``: lines are kept in memory until ``flush()`` (the server flushes a few times a second),
    so the request path never waits for a write; otherwise each line is written and flushed at once.
    """

    def __init__(self, stream: IO[str], *, buffered: bool = False) -> None:
        self._stream = stream
        self._buffered = buffered
        self._pending: list[str] = []

    def write(self, record: DecisionRecord) -> None:
        self.write_line(record_line(record))

    def write_line(self, data: bytes) -> None:
        """Write a record's line as made by ``record_line``."""
        line = data.decode()
        if self._buffered:
            self._pending.append(line)
        else:
            self._stream.write(line)
            self._stream.flush()

    def flush(self) -> None:
        """Write the pending lines in chunks of whole lines of at most ``PIPE_BUF`` bytes, each flushed alone: the
        workers of ``triage serve --workers N`` share stdout (a pipe) or one file opened for append, and a write
        of that size is never interleaved with another process's."""
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        chunk: list[str] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) > _ATOMIC_WRITE:
                self._write(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) if line.isascii() else len(line.encode())
        self._write(chunk)

    def _write(self, lines: list[str]) -> None:
        self._stream.write("".join(lines))
        self._stream.flush()


def _safely(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception:  # telemetry must never break routing
            log.exception("telemetry failure in %s (ignored)", method.__name__)
            return None

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class Recorder:
    """Spans, metrics and the decision log for the request path. Never raises.

    The per-request counters and histograms live in a ``MetricsStore`` (a dictionary update per event; see
    ``triage.telemetry.aggregate`` for why not the SDK's instruments); the counters reach OpenTelemetry as
    observable counters, the histograms through the readers ``triage.telemetry.setup`` builds over the store.
    """

    def __init__(
        self,
        decision_log: DecisionLog | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        store: MetricsStore | None = None,
        sink: RecordSink | None = None,
        capture: CaptureSink | None = None,
    ) -> None:
        """``sink``: the decision store's writer (every completed record and every event), if a store is set.
        ``capture``: where content capture goes (``store.capture``): the store's local segment writer, flushed as
        part of ``sink``; never the OTLP log sink. The runtime decides whether to capture at all."""
        self._tracer = trace.get_tracer(sc.INSTRUMENTATION_SCOPE, schema_url=sc.SCHEMA_URL)
        meter = metrics.get_meter(sc.INSTRUMENTATION_SCOPE, schema_url=sc.SCHEMA_URL, meter_provider=meter_provider)
        self._log = decision_log
        self.sink = sink
        self._capture = capture
        self.store = store = store if store is not None else default_store()

        def counter(name: str, unit: str, description: str) -> LocalCounter:
            local = store.counter(name, unit, description)
            meter.create_observable_counter(name, [local.observe], unit, description)
            return local

        self._decisions = counter(sc.METRIC_DECISIONS, "{decision}", "Routing decisions")
        self._rejections = counter(sc.METRIC_REJECTIONS, "{request}", "Requests refused")
        self._fallbacks = counter(sc.METRIC_FALLBACKS, "{request}", "Requests answered after more than one attempt")
        self._cost = counter(sc.METRIC_COST, "usd", "Cost of answered requests (USD)")
        self._events = counter(sc.METRIC_EVENTS, "{event}", "Feedback and implicit signals recorded, by signal")
        self._escalation_checks = counter(
            sc.METRIC_ESCALATION_CHECKS, "{request}", "Cheap answers checked for escalation, by outcome"
        )
        self._escalation_cost = counter(
            sc.METRIC_ESCALATION_COST, "usd", "Cost of escalated calls (USD), on top of the cheap calls"
        )
        self._shadow_decisions = counter(sc.METRIC_SHADOW_DECISIONS, "{decision}", "Shadow candidates' decisions")
        self._shadow_divergences = counter(
            sc.METRIC_SHADOW_DIVERGENCES, "{decision}", "Shadow decisions whose route differs from the live one"
        )
        self._shadow_errors = counter(sc.METRIC_SHADOW_ERRORS, "{decision}", "Shadow evaluations that failed")
        # A sum that goes down as well as up (a cheaper candidate): an observable up-down counter, not a counter.
        self._shadow_delta = store.counter(
            sc.METRIC_SHADOW_COST_DELTA, "usd", "Shadow candidates' predicted cost minus the actual cost (USD)"
        )
        meter.create_observable_up_down_counter(
            sc.METRIC_SHADOW_COST_DELTA, [self._shadow_delta.observe], "usd", self._shadow_delta.description
        )
        self._duration = store.histogram(
            sc.METRIC_DECISION_DURATION,
            "s",
            "Time to decide (parse, features, classifier, policy)",
            sc.DECISION_DURATION_BUCKETS,
        )
        self._tokens = store.histogram(sc.METRIC_TOKEN_USAGE, "{token}", "Tokens used per request", sc.TOKEN_BUCKETS)
        self._ejections = meter.create_counter(
            sc.METRIC_EJECTIONS, "{ejection}", "Providers seen ejected by Envoy's outlier detection"
        )
        self._ejected: dict[str, int] = {}  # cluster → 1 while Envoy ejects it, 0 once it is back
        meter.create_observable_gauge(
            sc.METRIC_EJECTED,
            [self._observe_ejected],
            "1",
            "1 while Envoy ejects every host of the provider cluster, else 0",
        )

    def _observe_ejected(self, _options: CallbackOptions) -> list[Observation]:
        return [Observation(v, {sc.UPSTREAM_CLUSTER: k}) for k, v in sorted(self._ejected.items())]

    @_safely
    def provider_health(self, before: frozenset[str], after: frozenset[str]) -> None:
        """Envoy's ejections changed (``ProviderHealth``): count the new ones, update the gauge."""
        for cluster in sorted(after - before):
            self._ejections.add(1, {sc.UPSTREAM_CLUSTER: cluster})
        for cluster in before | after:  # ``before`` is the last ``after``: every cluster at 1 is in it
            self._ejected[cluster] = int(cluster in after)

    def start(self, carrier: Mapping[str, str], start_ns: int, path: str, operation: str) -> Span | None:
        """Open the decision span, parented on the trace context Envoy put in the gRPC metadata;
        ``operation`` is the request's ``gen_ai.operation.name`` (``chat``, ``text_completion``). None when no
        tracer provider is installed: nothing would record the span, so the context is not even parsed."""
        if isinstance(trace.get_tracer_provider(), _NO_TRACING):
            return None
        attributes: dict[str, AttributeValue] = {sc.URL_PATH: path, sc.GEN_AI_OPERATION_NAME: operation}
        try:
            ctx = propagate.extract(carrier)
            return self._tracer.start_span(
                sc.SPAN_ROUTE,
                context=ctx,
                kind=SpanKind.SERVER,
                start_time=start_ns,
                attributes=attributes,
            )
        except Exception:
            log.exception("cannot start span (ignored)")
            return None

    @_safely
    def flush(self) -> None:
        """Write out the buffered decision log lines and store segments."""
        if self._log is not None:
            self._log.flush()
        if self.sink is not None:
            self.sink.flush()

    @_safely
    def event(self, event: Event) -> None:
        """Something learnt about a decision after it was made (feedback, an implicit signal): the store, a metric."""
        self._events.add(1, ((sc.FEEDBACK_KIND, event.kind), (sc.FEEDBACK_SIGNAL, event.signal)))
        if self.sink is not None:
            self.sink.event(event)

    @property
    def can_capture(self) -> bool:
        """True when a local store can keep captured content (``store.path`` was set when the server started)."""
        return self._capture is not None

    @_safely
    def capture(self, decision_id: str, time_unix_ms: int, inp: RoutingInput) -> None:
        """Content capture (``store.capture``): keep the classifier's input of a decision, by decision id, in the
        store's local ``captured/`` segments for retraining. Never spans, metrics, the decision log or OTLP."""
        if self._capture is not None:
            self._capture.capture(decision_id, time_unix_ms, inp)

    async def flush_every(self, interval_s: float) -> None:
        """Flush the decision log every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            self.flush()

    @staticmethod
    def trace_id(span: Span | None) -> str | None:
        if span is None:
            return None
        ctx = span.get_span_context()
        return format(ctx.trace_id, "032x") if ctx.is_valid else None

    @_safely
    def decided(self, span: Span | None, record: DecisionRecord) -> None:
        """The decision is made: record its metrics (the span gets every attribute when it ends)."""
        if span is not None:
            span.add_event("decided", {sc.ROUTE: record.route or "", sc.REASON: record.reason or ""})
        reason = record.reason or ""
        labels: Key = ((sc.ROUTE, record.route or ""), (sc.REASON, reason), (sc.TIER, record.tier or ""))
        if record.task:
            labels += ((sc.TASK, record.task),)
        self._decisions.add(1, labels)
        if record.router_latency_us is not None:
            self._duration.record(record.router_latency_us / 1e6, ((sc.REASON, reason),))

    @_safely
    def rejected(self, span: Span | None, record: DecisionRecord) -> None:
        """The request was refused (a client error or a budget)."""
        self._rejections.add(1, ((sc.ERROR_TYPE, record.error_code or ""), (sc.TIER, record.tier or "")))
        self._finish(span, record, error=record.error_code)

    @_safely
    def finished(self, span: Span | None, record: DecisionRecord) -> None:
        """The response ended (or the stream closed early): complete the span, metrics and log."""
        attrs: Key = (
            (sc.ROUTE, record.route or ""),
            (sc.UPSTREAM_CLUSTER, record.cluster or ""),
            (sc.GEN_AI_PROVIDER_NAME, record.provider or ""),
        )
        if record.cost_usd:
            self._cost.add(record.cost_usd, attrs)
        if record.attempts and record.attempts > 1:
            self._fallbacks.add(1, attrs)
        if record.input_tokens is not None:
            self._tokens.record(record.input_tokens, (*attrs, _INPUT))
        if record.output_tokens is not None:
            self._tokens.record(record.output_tokens, (*attrs, _OUTPUT))
        if record.shadow:
            self._shadow(span, record.shadow)
        if record.escalation is not None:
            self._escalation(span, record)
        error = None
        if record.aborted:
            error = "aborted"
        elif record.status is not None and record.status >= 500:
            error = str(record.status)
        self._finish(span, record, error=error)

    def _escalation(self, span: Span | None, record: DecisionRecord) -> None:
        """A checked answer: counted by tier and outcome; an escalated call's cost counted on its own."""
        esc = record.escalation
        assert esc is not None
        outcome = str(esc.get("outcome"))
        self._escalation_checks.add(1, ((sc.TIER, record.tier or ""), (sc.ESCALATION_OUTCOME, outcome)))
        strong = esc.get("strong") or {}
        cost = strong.get("cost_usd")
        if cost:
            self._escalation_cost.add(cost, ((sc.TIER, record.tier or ""),))
        if span is not None:
            attrs: dict[str, AttributeValue] = {sc.ESCALATION_OUTCOME: outcome}
            for key, name in (("answer", sc.ESCALATION_ANSWER), ("acceptable", sc.ESCALATION_ACCEPTABLE)):
                if esc.get(key) is not None:
                    attrs[name] = esc[key]
            if esc.get("doubt") is not None:
                attrs[sc.ESCALATION_DOUBT] = esc["doubt"]
            if cost is not None:
                attrs[sc.ESCALATION_STRONG_COST] = cost
            span.set_attributes(attrs)

    def _shadow(self, span: Span | None, verdicts: list[dict[str, Any]]) -> None:
        """Shadow candidates' verdicts (``triage.shadow``): per-candidate metrics, and parallel span attributes."""
        diverged_count = 0
        for v in verdicts:
            key: Key = ((sc.SHADOW_CANDIDATE, str(v.get("name"))),)
            diverged, delta = v.get("diverged"), v.get("cost_delta_usd")
            if diverged is None:
                self._shadow_errors.add(1, key)
                continue
            self._shadow_decisions.add(1, key)
            if diverged:
                diverged_count += 1
                self._shadow_divergences.add(1, key)
            if delta is not None:
                self._shadow_delta.add(delta, key)
        if span is not None:
            span.set_attributes(
                {
                    sc.SHADOW_CANDIDATES: [str(v.get("name")) for v in verdicts],
                    sc.SHADOW_ROUTES: [v.get("route") or "" for v in verdicts],
                    sc.SHADOW_DIVERGED: [bool(v.get("diverged")) for v in verdicts],
                    sc.SHADOW_DIVERGED_COUNT: diverged_count,
                }
            )

    def _finish(self, span: Span | None, record: DecisionRecord, error: str | None) -> None:
        if span is not None:
            span.set_attributes(record_attributes(record))
            if error is not None:
                span.set_attribute(sc.ERROR_TYPE, error)
                span.set_status(Status(StatusCode.ERROR, error))
            span.end()
        if self._log is not None or self.sink is not None:
            line = record_line(record)  # serialized once, for both
            if self._log is not None:
                self._log.write_line(line)
            if self.sink is not None:
                self.sink.record(record, line)
