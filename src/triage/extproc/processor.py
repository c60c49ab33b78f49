"""One ``Processor`` per ext_proc stream (one HTTP request), phase by phase.

request_headers → note the path, tier, request id and trace context; strip client copies of Triage's
headers; pass through anything that is not a routed API call. request_body (buffered) → parse, classify
(off the event loop, with a deadline), decide, rewrite; with ``store.capture`` on, a classified decision's
input is handed to the store after the reply (content capture). response_headers → status, real cluster,
attempts. response_body (streamed) → each chunk answered at once while usage is read; the last one
completes the decision record.

Errors become ext_proc outcomes in exactly one place, ``outcome_for``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from google.protobuf import struct_pb2
from opentelemetry.trace import Span

from triage import contract as ct
from triage import policy, router
from triage.errors import ClientError, DeadlineExceeded, InvalidRequest, RouterFault
from triage.escalation.marker import Marker, read_marker
from triage.extproc import escalate as esc
from triage.extproc import mutations as mu
from triage.record import DecisionRecord
from triage.requests import ApiSpec, ParsedRequest, parse_request, rewrite_body, spec_for_path
from triage.requests.splice import encode_value
from triage.runtime import Runtime
from triage.usage import UsageReader

log = logging.getLogger("triage.extproc")

TRIAGE_HEADER_PREFIX = "x-triage-"
# Headers only Triage may set: a client's copy is removed (Envoy's header_mutation filter does it too).
_CLIENT_FORBIDDEN = frozenset(ct.ENVOY_CONTROL_HEADERS)


@dataclass(frozen=True, slots=True)
class Reject:
    """Answer the client with this error (a client's fault or a budget)."""

    status: int
    error_type: str
    code: str
    message: str
    reason: str = "rejected"


@dataclass(frozen=True, slots=True)
class FailOpen:
    """Send the request to the default route; ``reason`` is recorded and counted."""

    reason: policy.Fault


def outcome_for(error: BaseException) -> Reject | FailOpen:
    """The one mapping from errors to ext_proc outcomes: client faults → 4xx, anything else → fail open."""
    if isinstance(error, ClientError):
        return Reject(error.status, error.error_type, error.code, error.message)
    if isinstance(error, RouterFault):
        return FailOpen("deadline" if isinstance(error, DeadlineExceeded) else "error")
    return FailOpen("error")


def _headers(message: ep.HttpHeaders) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in message.headers.headers:
        out[h.key] = h.raw_value.decode("latin-1") if h.raw_value else h.value
    return out


# Request headers the processor reads (plus the tier header when the tier comes from one).
_READ = frozenset(
    (":path", ":method", "content-type", "x-request-id", "traceparent", "tracestate", ct.HEADER_ESCALATION)
)


def _scan_headers(message: ep.HttpHeaders, read: frozenset[str]) -> tuple[dict[str, str], list[str]]:
    """The values of the ``read`` headers, and the names of the client's copies of headers only Triage may set:
    one pass that decodes only what it keeps (a request carries a dozen or more headers)."""
    out: dict[str, str] = {}
    strip: list[str] = []
    for h in message.headers.headers:
        key = h.key
        if key in read:
            out[key] = h.raw_value.decode("latin-1") if h.raw_value else h.value
        elif key.startswith(TRIAGE_HEADER_PREFIX) or key in _CLIENT_FORBIDDEN:
            strip.append(key)
    return out, strip


spec_for = lru_cache(maxsize=256)(spec_for_path)  # a few distinct paths, looked up on every request


def _struct_path(struct: struct_pb2.Struct, path: Sequence[str]) -> str | None:
    value: Any = struct
    for key in path:
        if not isinstance(value, struct_pb2.Struct) or key not in value.fields:
            return None  # missing, or a scalar before the end of the path
        value = value.fields[key]
        if isinstance(value, struct_pb2.Value):
            kind = value.WhichOneof("kind")
            value = value.struct_value if kind == "struct_value" else getattr(value, kind or "null_value")
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():  # a numeric claim such as tier: 2
        return str(int(value))
    return None


_OUTCOME_FIELDS = ("input_tokens", "output_tokens", "cost_usd", "cluster", "model_answered", "attempts")


def _attributes(message: ep.ProcessingRequest) -> struct_pb2.Struct | None:
    """The attributes Envoy sent with this message (``request_attributes`` / ``response_attributes``)."""
    attrs: struct_pb2.Struct | None = message.attributes.get("envoy.filters.http.ext_proc")
    return attrs


def _attribute(message: ep.ProcessingRequest, name: str) -> str | None:
    return _field(_attributes(message), name)


def _field(attrs: struct_pb2.Struct | None, name: str) -> str | None:
    if attrs is None or name not in attrs.fields:
        return None
    value = attrs.fields[name]
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return str(value.string_value)
    if kind == "number_value":
        return str(int(value.number_value))
    return None


Shape = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


def _decision_shape(decision: policy.Decision, cache: dict[Any, Shape]) -> Shape:
    """What every request with this decision shares: the routing headers (the decision id's second, its value
    a placeholder), the fixed part of the decision summary, and the per-cluster models. Kept in ``cache`` (the
    runtime's: a reload starts a new one) by the fields that make the shape."""
    key = (
        decision.route,
        decision.tier,
        decision.steps,
        decision.max_retries,
        decision.timeout_ms,
        decision.per_try_timeout_ms,
    )
    shape = cache.get(key)
    if shape is None:
        shape = cache[key] = _new_shape(decision)
    return shape


def _new_shape(decision: policy.Decision) -> Shape:
    headers = [
        (ct.HEADER_ROUTE, decision.route),
        (ct.HEADER_DECISION_ID, ""),
        (ct.HEADER_TIER, decision.tier),
        (ct.HEADER_MAX_RETRIES, str(decision.max_retries)),
    ]
    if decision.timeout_ms is not None:
        headers.append((ct.HEADER_TIMEOUT, str(decision.timeout_ms)))
    if decision.per_try_timeout_ms is not None:
        headers.append((ct.HEADER_PER_TRY_TIMEOUT, str(decision.per_try_timeout_ms)))
    summary = (("route", decision.route), ("tier", decision.tier), ("model_sent", decision.model))
    return tuple(headers), summary, tuple((e.cluster, e.model) for e in decision.chain)


class Processor:
    """The state of one HTTP request as it passes through Envoy."""

    def __init__(
        self,
        runtime: Runtime,
        invocation_metadata: Mapping[str, str],
        *,
        defer: bool = False,
        send: Callable[[ep.ProcessingResponse], Awaitable[None]] | None = None,
    ) -> None:
        """``defer``: keep telemetry (span attributes, metrics, the decision log) off the request path; the
        caller runs it with ``after_reply()`` once each reply is on its way to Envoy. ``send``: writes one reply
        on the stream now — the engine's, so that the processor may answer a message with several replies or
        later (confidence escalation holds a response's chunks; ``process`` then returns None for them). Without
        it nothing is held."""
        self.rt = runtime
        self._send = send
        self._hold: esc.Hold | None = None  # the cheap answer being held (confidence escalation)
        self._marker: Marker | None = None  # this request is one Triage sent again (escalation): no record of its own
        self._extra: tuple[int, int, float] | None = None  # the escalated call's tokens in and out, and cost
        self._carrier = invocation_metadata
        self._span: Span | None = None
        self._record: DecisionRecord | None = None
        self._spec: ApiSpec | None = None
        self._tier: str | None = None
        self._content_type: str | None = None
        self._body = bytearray()
        self._usage: UsageReader | None = None
        self._injected_usage = False
        self._start_ns = 0
        self._done = False
        self.finished = False  # the exchange is over: Envoy will send no more messages on this stream
        self._strip: list[str] = []
        self._defer = defer
        self._after: list[Callable[[], None]] = []
        self._parsed: ParsedRequest | None = None  # set between parsing the body and replying to it
        self._message_timeout = False  # the body reply came after Envoy gave up on it (see _check_message_timeout)
        self._principal: str | None = None
        self._client_headers: ep.HttpHeaders | None = None  # kept for escalation: the re-sent request's headers
        self._path = ""

    # -- dispatch ---------------------------------------------------------------------------------

    async def process(self, message: ep.ProcessingRequest) -> ep.ProcessingResponse | None:
        """Answer one message of the stream with the matching reply; never raises. None: this message's reply is
        held (a cheap answer's chunk, confidence escalation) and goes out later with ``send``, in order."""
        kind = message.WhichOneof("request")
        reply = await self._dispatch(kind, message)
        if reply is None:
            return None
        # Envoy sends nothing after the end of the response, nor after an immediate response (its local reply).
        self.finished = (
            reply.HasField("immediate_response")
            or (kind == "response_body" and message.response_body.end_of_stream)
            or (kind == "response_headers" and message.response_headers.end_of_stream)
        )
        return reply

    async def _dispatch(self, kind: str | None, message: ep.ProcessingRequest) -> ep.ProcessingResponse | None:
        try:
            if kind == "request_headers":
                return self._on_request_headers(message)
            if kind == "request_body":
                return await self._on_request_body(message)
            if kind == "response_headers":
                return self._on_response_headers(message)
            if kind == "response_body":
                if self._hold is not None and not self._hold.released:
                    return await self._on_held_body(message)
                return self._on_response_body(message)
            return mu.trailers(kind or "request_trailers")
        except Exception as err:  # the stream must get an answer whatever happened
            log.exception("internal error in %s (failing open)", kind)
            if self._hold is not None and not self._hold.released:
                return await self._release_hold(message, "error")
            return self._fallback_reply(kind, err)

    def _bookkeeping(self, work: Callable[[], None]) -> None:
        if self._defer:
            self._after.append(work)
        else:
            work()

    def after_reply(self) -> None:
        """Run the telemetry deferred while the last reply was built."""
        work, self._after = self._after, []
        for item in work:
            item()

    def close(self) -> None:
        """The stream ended. If the response never completed (client gone, upstream reset), say so."""
        if self._marker is not None:  # an escalated request: the original request's record tells its story
            self.after_reply()
            return
        if self._hold is not None and not self._hold.released and self._record is not None:
            # Envoy stopped before the end of the held answer (a chunk later than its message timeout, the client
            # gone): Envoy delivered what it had queued, the cheap answer, without Triage.
            self._record.escalation = {"outcome": "not_checked", "why": "the response ended without Triage"}
        if self._record is not None and not self._done:
            self._done = True
            if self._usage is not None:
                self._apply_usage()
            # No end of stream seen: the response was cut (upstream reset mid-stream, client gone) — unless Envoy
            # had stopped talking to Triage after a message timeout, when the response never came here at all.
            self._record.aborted = not self._message_timeout
            self._record.duration_ms = (time.perf_counter_ns() - self._start_ns) / 1e6
            self._finished(self._record)
        self.after_reply()

    # -- request headers --------------------------------------------------------------------------

    def _on_request_headers(self, message: ep.ProcessingRequest) -> ep.ProcessingResponse:
        self._start_ns = time.perf_counter_ns()
        source = self.rt.config.tier_source.header
        read = _READ if source is None else _READ | {source.name}
        headers, strip = _scan_headers(message.request_headers, read)
        marker_value = headers.get(ct.HEADER_ESCALATION)
        if marker_value is not None:
            strip.append(ct.HEADER_ESCALATION)  # never upstream, whatever it says
        self._strip = strip
        path = self._path = headers.get(":path", "")
        spec = spec_for(path) if headers.get(":method", "POST") == "POST" else None
        if spec is None:
            return mu.pass_through(strip)
        self._spec = spec
        self._content_type = headers.get("content-type")
        if marker_value is not None and self.rt.escalation is not None:
            self._marker = read_marker(marker_value, self.rt.ids, self.rt.config.routes.keys())
            if self._marker is not None:  # sent by Triage itself: routed as the marker says, read by the sender
                self._tier = self._read_tier(message, headers)
                self._record = DecisionRecord(
                    decision_id=self._marker.decision_id,
                    time_unix_ms=time.time_ns() // 1_000_000,
                    endpoint=spec.name,
                    tier=self.rt.policy.tier(self._tier).name,
                )
                return mu.request_only(strip)
            log.warning("an escalation marker that does not check out (forged, expired or for an unknown route)")
        if self.rt.escalation is not None:
            self._client_headers = message.request_headers  # decoded only if the request is sent again
        self._tier = self._read_tier(message, headers)
        self._principal = self._read_principal(message)
        self._record = DecisionRecord(
            decision_id=self.rt.ids.new(),
            time_unix_ms=time.time_ns() // 1_000_000,
            endpoint=spec.name,
            request_id=headers.get("x-request-id") or _attribute(message, "request.id"),
            tier=self.rt.policy.tier(self._tier).name,
        )
        # Envoy puts its ext_proc span's context in the gRPC metadata when it traces; without Envoy
        # tracing, a client's own traceparent still links the decision into the caller's trace.
        carrier = self._carrier if "traceparent" in self._carrier else headers
        self._span = self.rt.recorder.start(carrier, time.time_ns(), path, spec.operation)
        if self._span is not None:
            self._record.trace_id = self.rt.recorder.trace_id(self._span)
        if message.request_headers.end_of_stream:  # a POST without a body
            return self._reply_outcome(outcome_for(self._empty_body()), "request_headers")
        return mu.request_headers(strip)

    def _read_tier(self, message: ep.ProcessingRequest, headers: Mapping[str, str]) -> str | None:
        """The tier from the configured trusted source (never a header the client controls)."""
        source = self.rt.config.tier_source
        if source.header is not None:
            return headers.get(source.header.name)
        if source.metadata is not None:
            md = message.metadata_context.filter_metadata
            if source.metadata.namespace in md:
                return _struct_path(md[source.metadata.namespace], source.metadata.path)
        return None

    def _read_principal(self, message: ep.ProcessingRequest) -> str | None:
        """Who sent the request, from the verified JWT's claim in metadata (``feedback.principal``), if any."""
        source = self.rt.config.feedback.principal
        md = message.metadata_context.filter_metadata
        return _struct_path(md[source.namespace], source.path) if source.namespace in md else None

    @staticmethod
    def _empty_body() -> ClientError:
        return InvalidRequest("The request body is empty; expected a JSON object.", "empty_body")

    # -- request body -----------------------------------------------------------------------------

    async def _on_request_body(self, message: ep.ProcessingRequest) -> ep.ProcessingResponse:
        if self._spec is None or self._record is None:
            return mu.request_body_continue()
        body = message.request_body
        if not body.end_of_stream:  # only with a streamed request body: collect until the end
            if len(self._body) + len(body.body) <= self.rt.config.server.max_body_bytes:
                self._body += body.body
            return mu.request_body_continue()
        data = bytes(self._body) + body.body if self._body else body.body
        self._body.clear()
        if self._tier is None and message.HasField("metadata_context"):
            self._tier = self._read_tier(message, {})
        started = time.perf_counter_ns()
        try:
            parsed = parse_request(data, self._spec, self._content_type)
        except ClientError as err:
            return self._reply_outcome(outcome_for(err), "request_body")
        self._parsed = parsed
        if self._marker is not None:
            return self._route_escalated(parsed, self._marker)
        decided = await router.decide(self.rt, parsed.input, self._tier, started)
        self._note_decision(parsed, decided.outcome, decided.scores is not None, decided)
        outcome = decided.outcome
        if isinstance(outcome, policy.Rejection):
            return self._reply_outcome(
                Reject(outcome.status, outcome.error_type, outcome.code, outcome.message, outcome.reason),
                "request_body",
            )
        hold = self._hold_for(parsed, data, outcome)
        reply = self._route(parsed, outcome, logprobs=hold is not None and hold.asked_logprobs)
        self._parsed = None
        self._check_message_timeout(started)
        if hold is not None and not self._message_timeout:
            self._hold = hold
        rec = self._record
        if self.rt.capture and decided.scores is not None and rec is not None:  # content capture: an explicit switch
            self._bookkeeping(partial(self.rt.recorder.capture, rec.decision_id, rec.time_unix_ms, parsed.input))
        # After the reply: shadow candidates decide on the same inputs; the conversation is noted for implicit signals.
        if self.rt.shadow.active:
            unhealthy = self.rt.health.ejected
            self._bookkeeping(
                partial(self.rt.shadow.evaluate, parsed.input, decided.scores, self._tier, unhealthy, outcome, rec)
            )
        self._bookkeeping(partial(self.rt.signals.observe, self._principal, parsed.input, rec))
        return reply

    def _check_message_timeout(self, started_ns: int) -> None:
        """A reply later than Envoy's ``message_timeout`` is never applied: Envoy has already sent the request
        on as the client sent it (``failure_mode_allow``: the catch-all default route). The record says so
        instead of claiming a route that was not taken, and the missing response phase is not an abort."""
        elapsed_ms = (time.perf_counter_ns() - started_ns) / 1e6
        rec = self._record
        if rec is None or elapsed_ms <= self.rt.config.envoy.message_timeout_ms:
            return
        log.warning("reply after Envoy's message timeout (%.0f ms): Envoy failed open without it", elapsed_ms)
        rec.route = self.rt.config.default_route if self.rt.config.envoy.failure_mode_allow else None
        rec.reason = rec.error_code = "message_timeout"
        rec.chain = [f"{e.cluster}/{e.model}" for e in self.rt.config.routes[self.rt.config.default_route].chain]
        rec.model_sent = None  # the client's body went upstream
        self._message_timeout = True
        self._bookkeeping(partial(self.rt.recorder.decided, self._span, rec))

    def _note_decision(
        self,
        parsed: ParsedRequest,
        outcome: policy.Decision | policy.Rejection,
        classified: bool,
        decided: router.Decided | None = None,
    ) -> None:
        rec = self._record
        assert rec is not None
        scores = decided.scores if decided is not None and classified else None
        latency_us = decided.latency_us if decided is not None else rec.router_latency_us or 0
        rec.decided(parsed.input, outcome, scores, latency_us, self.rt.classifier.version)
        if isinstance(outcome, policy.Decision):
            self._bookkeeping(partial(self.rt.recorder.decided, self._span, rec))

    def _hold_for(self, parsed: ParsedRequest, data: bytes, decision: policy.Decision) -> esc.Hold | None:
        """The hold of a request whose answer is checked before it ships (``escalation:``), or None."""
        escalator, rec = self.rt.escalation, self._record
        if escalator is None or self._send is None or rec is None or self._client_headers is None:
            return None
        target = escalator.target(decision.tier, decision.route)
        if target is None or parsed.input.stream:  # streaming never escalates: a streamed answer cannot be undone
            return None
        budget_ms = decision.timeout_ms or escalator.config.timeout_ms
        return esc.Hold(
            tier=decision.tier,
            target=target,
            input=parsed.input,
            body=data,
            path=self._path,
            headers=self._client_headers,
            deadline_unix_ms=rec.time_unix_ms + budget_ms,
            parsed=parsed,
            task=rec.task,
            asked_logprobs=decision.route in escalator.logprobs_routes and esc.can_ask_logprobs(parsed),
            usage=parsed.spec.usage,
        )

    def _route_escalated(self, parsed: ParsedRequest, marker: Marker) -> ep.ProcessingResponse:
        """The request Triage sent again: the marker's route, within what is left of the original's time."""
        decision = policy.escalate_to(parsed.input, self._tier, self.rt.policy, marker.route, self.rt.health.ejected)
        self._done = True  # no record, no telemetry: the original request's record has the escalated call
        if decision is None:
            return self._reply_outcome(
                Reject(413, "invalid_request_error", "context_window_exceeded", "fits no step of the route"),
                "request_body",
            )
        decision = dataclasses.replace(decision, timeout_ms=max(marker.remaining_ms(), 1))
        return self._route(parsed, decision)

    def _route(
        self, parsed: ParsedRequest, decision: policy.Decision, *, logprobs: bool = False
    ) -> ep.ProcessingResponse:
        rec = self._record
        assert rec is not None
        options = parsed.doc.get("stream_options")
        client_chose = isinstance(options, dict) and "include_usage" in options
        self._injected_usage = parsed.input.stream and parsed.spec.stream_usage and not client_chose
        body = rewrite_body(parsed, model=decision.model, include_usage=True, max_tokens_cap=decision.max_tokens_cap)
        if body is None and parsed.rewritten:  # a fail-open after an earlier rewrite: nothing new, but not the
            body = encode_value(parsed.doc)  # client's bytes either — they would skip the caps and the model
        if logprobs:  # the cheap provider is asked for logprobs (the verifier's best signal); stripped for the client
            body = esc.with_logprobs(body if body is not None else parsed.body, parsed)
        headers, summary, models = _decision_shape(decision, self.rt.shapes)
        # The decision summary for Envoy's access log and upstream filters: the shape's fields plus these.
        dynamic: dict[str, str | float] = {"decision_id": rec.decision_id}
        for key in ("reason", "task", "p_strong", "strong_score"):
            value = getattr(rec, key)
            if value is not None:
                dynamic[key] = value
        return mu.route_decision(headers, rec.decision_id, body, summary, dynamic, models, decision.steps)

    # -- outcomes ---------------------------------------------------------------------------------

    def _reply_outcome(self, outcome: Reject | FailOpen, phase: str) -> ep.ProcessingResponse:
        rec = self._record
        if isinstance(outcome, Reject):
            decision_id = rec.decision_id if rec else self.rt.ids.new()
            if rec is not None and not self._done:
                self._done = True
                rec.status = outcome.status
                rec.reason = rec.reason or outcome.reason
                rec.error_code = outcome.code
                rec.duration_ms = (time.perf_counter_ns() - self._start_ns) / 1e6
                self._bookkeeping(partial(self.rt.recorder.rejected, self._span, rec))
            return mu.reject(
                outcome.status,
                outcome.error_type,
                outcome.code,
                outcome.message,
                {ct.HEADER_DECISION_ID: decision_id},
                style=self._spec.usage if self._spec is not None else "openai",  # the errors of the client's API
            )
        return self._fail_open(outcome.reason, phase)

    def _fail_open(self, reason: policy.Fault, phase: str) -> ep.ProcessingResponse:
        """Let the request continue on the default route; never leave a message unanswered."""
        if phase == "request_body" and self._parsed is not None:
            return self._fail_open_parsed(self._parsed, reason)
        rec = self._record
        if rec is not None and rec.route is None:
            rec.route = self.rt.config.default_route
            rec.reason = reason
            rec.error_code = reason
            self._bookkeeping(partial(self.rt.recorder.decided, self._span, rec))
        if phase == "request_body":
            headers = {ct.HEADER_ROUTE: self.rt.config.default_route}
            if rec is not None:
                headers[ct.HEADER_DECISION_ID] = rec.decision_id
            return mu.route(headers, None, {ct.METADATA_NAMESPACE: {"reason": reason}})
        if phase == "request_headers":
            return mu.request_headers(self._strip)
        if phase == "response_headers":
            return mu.response_headers({})
        if phase == "response_body":
            return mu.response_body()
        return mu.trailers(phase)

    def _fail_open_parsed(self, parsed: ParsedRequest, reason: policy.Fault) -> ep.ProcessingResponse:
        """The rule for an internal fault after the body was parsed: it never goes upstream as the client sent it
        (that would skip the tier's caps and the route's model). The default route's decision is applied like any
        other, body rewrite included; if even that fails, the client gets a 500 and no provider is called."""
        self._parsed = None  # one try
        rec = self._record
        try:
            decision = policy.decide_classified(
                parsed.input, None, self._tier, self.rt.policy, fault=reason, unhealthy=self.rt.health.ejected
            )
            if isinstance(decision, policy.Rejection):  # the request fits no context window: a 413, not a 500
                if rec is not None:
                    self._note_decision(parsed, decision, False)
                return self._reply_outcome(
                    Reject(decision.status, decision.error_type, decision.code, decision.message, decision.reason),
                    "request_body",
                )
            if rec is not None:  # what is really done replaces what was decided before the fault
                self._note_decision(parsed, decision, False)
            return self._route(parsed, decision)
        except Exception:
            log.exception("could not apply the fail-open decision; refusing the request instead of forwarding it")
            if rec is not None:
                rec.reason = reason
            return self._reply_outcome(
                Reject(
                    500,
                    "api_error",
                    "internal_error",
                    "Triage could not apply its routing decision to this request, so it was not sent to any "
                    "provider. Retry; if it persists, report the x-triage-decision-id.",
                    reason,
                ),
                "request_body",
            )

    def _fallback_reply(self, kind: str | None, err: Exception) -> ep.ProcessingResponse:
        outcome = outcome_for(err)
        if isinstance(outcome, Reject) and kind in ("request_headers", "request_body"):
            return self._reply_outcome(outcome, kind)
        reason = outcome.reason if isinstance(outcome, FailOpen) else "error"
        return self._fail_open(reason, kind or "request_trailers")

    # -- response ---------------------------------------------------------------------------------

    def _on_response_headers(self, message: ep.ProcessingRequest) -> ep.ProcessingResponse:
        rec = self._record
        if rec is None or self._spec is None:
            return mu.response_headers({})
        headers = _headers(message.response_headers)
        self._note_response(rec, message, headers)
        self._usage = UsageReader(self._spec.usage, headers.get("content-type"), hide_usage_event=self._injected_usage)
        out = {ct.HEADER_DECISION_ID: rec.decision_id}
        if rec.route:
            out[ct.HEADER_ROUTE] = rec.route
        if message.response_headers.end_of_stream:
            self._complete()
        return mu.response_headers(out)

    def _note_response(self, rec: DecisionRecord, message: ep.ProcessingRequest, headers: Mapping[str, str]) -> None:
        """Status, real cluster and attempts, from the response headers or the response attributes."""
        attrs = _attributes(message)
        status = headers.get(":status") or _field(attrs, "response.code")
        cluster = _field(attrs, "xds.cluster_name")
        attempts = headers.get("x-envoy-attempt-count") or _field(attrs, "upstream.request_attempt_count")
        known = self.rt.config.clusters.get(cluster) if cluster is not None else None
        rec.responded(
            int(status) if status and status.isdigit() else None,
            cluster,
            known.provider if known is not None else None,
            int(attempts) if attempts and attempts.isdigit() else None,
        )

    def _on_response_body(self, message: ep.ProcessingRequest) -> ep.ProcessingResponse:
        if self._usage is None:
            if self._record is None or self._spec is None or self._done:
                return mu.response_body()
            # Response headers skipped (the generated config does: one round trip less); the first body
            # message carries the response attributes instead, and the body tells JSON from SSE.
            self._note_response(self._record, message, {})
            self._usage = UsageReader(self._spec.usage, None, hide_usage_event=self._injected_usage)
        body = message.response_body
        replacement = self._usage.feed(body.body)
        if not body.end_of_stream:
            return mu.response_body(replacement)
        return mu.response_outcome(replacement, self._complete())

    def _apply_usage(self) -> None:
        rec, reader = self._record, self._usage
        assert rec is not None
        assert reader is not None
        usage = reader.finish()
        cost = None
        if usage.known and rec.route in self.rt.config.routes:
            price = self.rt.config.routes[rec.route].price_of(rec.cluster)
            cost = round(price.cost(usage.input_tokens or 0, usage.output_tokens or 0), 8)
        rec.used(usage, cost)

    def _complete(self) -> dict[str, str | float]:
        """The response is over: finish the record, end the span, return the outcome metadata (``triage``)."""
        rec = self._record
        assert rec is not None
        self._apply_usage()
        if self._extra is not None:  # billed on both models: the record's totals are the sums
            tokens_in, tokens_out, cost = self._extra
            rec.input_tokens = (rec.input_tokens or 0) + tokens_in
            rec.output_tokens = (rec.output_tokens or 0) + tokens_out
            rec.cost_usd = round((rec.cost_usd or 0.0) + cost, 8)
        rec.aborted = bool(rec.streamed and not rec.completed)
        rec.duration_ms = (time.perf_counter_ns() - self._start_ns) / 1e6
        self._done = True
        self._bookkeeping(partial(self._finished, rec))
        return {k: v for k in _OUTCOME_FIELDS if (v := getattr(rec, k)) is not None}

    # -- confidence escalation: the cheap answer held until it is checked ----------------------------------------

    async def _on_held_body(self, message: ep.ProcessingRequest) -> ep.ProcessingResponse | None:
        """A chunk of an answer that is checked before it ships: held (no reply) until the last one, or let go
        unchecked when it cannot be an answer worth checking (not a 200, too large)."""
        hold, rec, spec = self._hold, self._record, self._spec
        assert hold is not None
        assert rec is not None
        assert spec is not None
        if self._usage is None:
            self._note_response(rec, message, {})
            self._usage = UsageReader(spec.usage, None, hide_usage_event=self._injected_usage)
            if rec.status != 200:
                return await self._release_hold(message, f"status {rec.status}")
        body = message.response_body
        hold.replies.append(self._usage.feed(body.body))
        hold.answer += body.body
        escalator = self.rt.escalation
        assert escalator is not None
        if len(hold.answer) > escalator.config.max_answer_bytes:
            return await self._release_hold(message, "answer over escalation.max_answer_bytes", fed=True)
        if not body.end_of_stream:
            return None
        return await self._settle(hold, rec, escalator)

    async def _release_hold(
        self, message: ep.ProcessingRequest, why: str, *, fed: bool = False
    ) -> ep.ProcessingResponse:
        """Answer every held chunk unchanged, this one last (its reply is returned); the answer is not checked."""
        hold, rec = self._hold, self._record
        assert hold is not None
        if not fed and message.WhichOneof("request") == "response_body" and self._usage is not None:
            hold.replies.append(self._usage.feed(message.response_body.body))
        hold.released = True
        if rec is not None:
            rec.escalation = {"outcome": "not_checked", "why": why}
        return await self._answer(hold.replies, message.response_body.end_of_stream)

    async def _answer(self, replies: list[bytes | None], end: bool) -> ep.ProcessingResponse:
        """Send the replies of every held chunk but the last; return the last one's."""
        assert self._send is not None
        for replacement in replies[:-1]:
            await self._send(mu.response_body(replacement))
        last = replies[-1] if replies else None
        if end:
            return mu.response_outcome(last, self._complete())
        return mu.response_body(last)

    async def _settle(self, hold: esc.Hold, rec: DecisionRecord, escalator: Any) -> ep.ProcessingResponse:
        """The whole cheap answer is here: check it, escalate when it is doubtful and the budget allows, and ship
        exactly one answer — the stronger route's when that call gives a 200 in time, else the cheap one."""
        hold.released = True
        document = None
        if self._usage is not None:
            self._usage.finish()  # decodes a JSON answer once, for its usage and for the verifier (idempotent)
            document = hold.document = self._usage.document
        settled = await esc.settle(self.rt, hold, rec, self._send_now, document)
        rec.escalated = settled.escalated
        rec.escalation = settled.info
        if settled.strong_body is not None:
            self._extra = settled.extra
            replies: list[bytes | None] = [b""] * (len(hold.replies) - 1)
            replies.append(settled.strong_body)
        elif settled.extra is not None:  # the escalated call failed after using tokens: still billed
            self._extra = settled.extra
            replies = self._cheap_replies(hold)
        else:
            replies = self._cheap_replies(hold)
        return await self._answer(replies, True)

    def _cheap_replies(self, hold: esc.Hold) -> list[bytes | None]:
        """The cheap answer as the client gets it: unchanged, or without the logprobs Triage asked for."""
        if not hold.asked_logprobs or hold.facts.client_logprobs:
            return hold.replies
        stripped = esc.strip(bytes(hold.answer), hold.facts, hold.document)
        out: list[bytes | None] = [b""] * (len(hold.replies) - 1)
        out.append(stripped)
        return out

    async def _send_now(self, reply: ep.ProcessingResponse) -> None:
        assert self._send is not None
        await self._send(reply)

    def _finished(self, rec: DecisionRecord) -> None:
        """The record is complete: shadow candidates' cost deltas, implicit signals, then spans, metrics, the log."""
        self.rt.shadow.complete(rec)
        self.rt.signals.completed(rec)
        self.rt.recorder.finished(self._span, rec)
