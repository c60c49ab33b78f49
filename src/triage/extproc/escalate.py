"""Confidence escalation on the request path: what the processor keeps for a request whose cheap answer is checked
(``Hold``), and the check itself with the escalated call (``settle``). ``docs/escalation.md`` has the design.

The mechanism (proved against Envoy 1.40: ``deploy/ENVOY.md``, "Escalation: what Envoy 1.40 does"): the response
body is streamed to Triage as always; for a held request the processor answers none of its chunks until the last
one, so Envoy keeps them queued and sends the client nothing yet. Then the verifier scores the whole answer. When it
is doubtful (and the budget, the strong route's health and the time left allow), Triage asks Envoy to wait longer
(``override_message_timeout``, its own reply), sends the request again through Envoy's listener with a signed
marker that routes it to the stronger route, and answers the held chunks: all cleared but the last, which carries
the strong answer — or, when that call fails or runs late, each chunk unchanged (the cheap answer). Should Triage
fail while it holds the answer, Envoy's ``failure_mode_allow`` delivers the queued chunks: the cheap answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from envoy.service.ext_proc.v3 import external_processor_pb2 as ep

from triage import contract as ct
from triage import policy
from triage.escalation import client
from triage.escalation.decide import choose, doubt
from triage.escalation.logprobs import LOGPROB_APIS, request_logprobs, strip_logprobs, strip_logprobs_document
from triage.escalation.marker import Marker
from triage.escalation.signals import RequestFacts
from triage.escalation.verifier import facts_of, verify, verify_document
from triage.extproc import mutations as mu
from triage.record import DecisionRecord
from triage.requests import ParsedRequest
from triage.requests.input import RoutingInput
from triage.requests.specs import UsageShape
from triage.runtime import Runtime
from triage.usage import UsageReader

# Request headers not copied onto the re-sent request: hop-by-hop, length (the client's body is sent as it came),
# Envoy's per-request bookkeeping (it makes its own), and tracing (the re-sent request is a new trace).
_NOT_COPIED = frozenset(
    (
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "host",
        "x-request-id",
        "x-envoy-expected-rq-timeout-ms",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-envoy-internal",
        "traceparent",
        "tracestate",
        ct.HEADER_ESCALATION,
    )
)
EXTRA_WAIT_MS = 500  # asked of Envoy beyond the escalated call's own limit, for the reply itself


@dataclass
class Hold:
    """A request whose cheap answer is checked before it ships."""

    tier: str
    target: str  # the stronger route a doubtful answer goes to
    input: RoutingInput
    body: bytes  # the client's body, sent again as it came
    path: str
    headers: ep.HttpHeaders  # the client's headers (decoded only to send them again: its token gives the same tier)
    deadline_unix_ms: int  # the tier's latency budget, from the request's start
    parsed: ParsedRequest  # what the verifier needs to know of the request (``facts``, worked out at the end)
    task: str | None
    asked_logprobs: bool  # Triage asked the cheap provider for logprobs
    usage: UsageShape  # how this API's answers report usage
    replies: list[bytes | None] = field(default_factory=list)  # each held chunk's reply (the usage reader's)
    answer: bytearray = field(default_factory=bytearray)
    released: bool = False  # answered (checked or not): nothing more is held
    document: Any = None  # the answer decoded (by the usage reader), once it is complete
    _facts: RequestFacts | None = None

    @property
    def facts(self) -> RequestFacts:
        if self._facts is None:
            self._facts = facts_of(self.parsed, self.task)
        return self._facts


@dataclass(frozen=True, slots=True)
class Settled:
    escalated: bool
    info: dict[str, Any]  # the record's ``escalation``
    strong_body: bytes | None  # the answer the client gets instead of the cheap one; None: the cheap one
    extra: tuple[int, int, float] | None  # the escalated call's tokens in, out and cost, when it used any


def client_headers(message: ep.HttpHeaders) -> dict[str, str]:
    """The client's request headers worth sending again (pseudo-headers and ``_NOT_COPIED`` left out)."""
    out: dict[str, str] = {}
    for h in message.headers.headers:
        key = h.key
        if key.startswith(":") or key in _NOT_COPIED:
            continue
        out[key] = h.raw_value.decode("latin-1") if h.raw_value else h.value
    return out


def can_ask_logprobs(parsed: ParsedRequest) -> bool:
    return parsed.spec.name in LOGPROB_APIS


def with_logprobs(body: bytes, parsed: ParsedRequest) -> bytes:
    """``body`` asking the provider for token logprobs (unchanged when the client asked already)."""
    asked = request_logprobs(body, parsed.spec.name)
    return body if asked is None else asked


def strip(answer: bytes, facts: RequestFacts, document: Any = None) -> bytes:
    """The cheap answer without the logprobs Triage asked for (from its decoded ``document`` when there is one)."""
    if document is not None:
        stripped = strip_logprobs_document(document, facts.api)
        return answer if stripped is None else stripped
    return strip_logprobs(answer, facts.api)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def settle(
    rt: Runtime,
    hold: Hold,
    rec: DecisionRecord,
    send: Callable[[ep.ProcessingResponse], Awaitable[None]],
    document: Any = None,
) -> Settled:
    """Check the held answer and, when it is doubtful and everything allows, get the stronger route's instead.
    ``document``: the answer already decoded (the usage reader's), else the verifier decodes ``hold.answer``."""
    escalator = rt.escalation
    assert escalator is not None
    if document is not None:
        verdict = verify_document(document, hold.facts, escalator.verifier)
    else:
        verdict = verify(bytes(hold.answer), hold.facts, escalator.verifier)
    escalator.budget.eligible(hold.tier)
    rule = escalator.rule_for(rec.task)
    info: dict[str, Any] = {
        "outcome": "confident",
        "to": hold.target,
        "acceptable": round(verdict.score, 4),
        "doubt": None,
        "signals": list(verdict.found),
        "answer": "cheap",
    }
    first = doubt(rec.p_strong, verdict.score, rule)
    info["doubt"] = round(first, 4)
    if first < rule.threshold:  # the common case: nothing more to work out
        return Settled(False, info, None, None)
    strong = policy.escalate_to(hold.input, hold.tier, rt.policy, hold.target, rt.health.ejected)
    healthy = strong is not None and any(e.cluster not in rt.health.ejected for e in strong.chain)
    time_left = hold.deadline_unix_ms - _now_ms()
    choice = choose(
        checked=True,
        p_strong=rec.p_strong,
        acceptable=verdict.score,
        rule=rule,
        strong_available=healthy,
        budget_refusal=escalator.budget.refusal(hold.tier),
        time_left_ms=float(time_left),
        min_time_ms=float(escalator.config.min_time_ms),
    )
    info["outcome"] = choice.outcome
    if choice.outcome != "escalate" or strong is None:
        return Settled(False, info, None, None)

    escalator.budget.escalated(hold.tier)
    # Within the escalation's own limit, the tier's time left, and what Envoy can be asked to wait (its bootstrap's
    # max_message_timeout, fixed when Envoy started: a reload that turned escalation on cannot raise it).
    limit_ms = max(min(escalator.config.timeout_ms, time_left, rt.envoy_max_wait_ms - EXTRA_WAIT_MS), 1)
    await send(mu.extend_timeout(limit_ms + EXTRA_WAIT_MS))
    marker = Marker(rec.decision_id, hold.target, _now_ms() + limit_ms)
    headers = {**client_headers(hold.headers), ct.HEADER_ESCALATION: marker.header(rt.ids)}
    started = time.perf_counter()
    try:
        response = await client.post(escalator.via, hold.path, headers, hold.body, timeout_s=limit_ms / 1000)
    except client.EscalationCallError as err:
        info["outcome"] = "strong_late" if "within" in str(err) else "strong_failed"
        info["error"] = str(err)[:200]
        info["strong"] = {"duration_ms": round((time.perf_counter() - started) * 1000, 1)}
        return Settled(True, info, None, None)
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    attempts_text = response.headers.get("x-envoy-attempt-count", "1")
    attempts = int(attempts_text) if attempts_text.isdigit() else 1
    cluster = strong.chain[min(max(attempts, 1), len(strong.chain)) - 1].cluster
    reader = UsageReader(hold.usage, response.headers.get("content-type"))
    reader.feed(response.body)
    usage = reader.finish()
    cost = 0.0
    if usage.known:
        price = rt.config.routes[hold.target].price_of(cluster)
        cost = round(price.cost(usage.input_tokens or 0, usage.output_tokens or 0), 8)
    extra = (usage.input_tokens or 0, usage.output_tokens or 0, cost) if usage.known else None
    escalator.budget.spent(hold.tier, cost)
    info["strong"] = {
        "status": response.status,
        "cluster": cluster,
        "attempts": attempts,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": cost,
        "duration_ms": duration_ms,
    }
    if response.status != 200 or not response.body:
        # 504: Envoy's own timeout for the escalated call (the marker's deadline) fired first — late, not failed
        info["outcome"] = "strong_late" if response.status == 504 else "strong_failed"
        return Settled(True, info, None, extra)
    info["answer"] = "strong"
    return Settled(True, info, response.body, extra)
