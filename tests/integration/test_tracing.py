"""One span per decision reaches an OTLP collector, parented in the request's trace, without prompt text."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import chat
from tests.integration.otlp import OtlpCollector, ReceivedSpan
from triage.sim.faults import Fault
from triage.sim.stack import LocalStack

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PROMPT = "Write a haiku about the first snow over the harbour at dawn."


def test_tracing_decision_span_arrives_with_the_request_trace_id(
    client: httpx.Client, stack: LocalStack, collector: OtlpCollector
) -> None:
    headers = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
    resp = client.post("/v1/chat/completions", json=chat(PROMPT), headers=headers)
    assert resp.status_code == 200
    decision_id = resp.headers["x-triage-decision-id"]
    (span,) = collector.wait_for(lambda s: s.attributes.get("triage.decision.id") == decision_id)
    assert span.name == "triage.route"
    assert span.service == "triage"
    assert span.trace_id == TRACE_ID
    assert span.parent_span_id  # parented on Envoy's ext_proc span, not a root
    attrs = span.attributes
    record = stack.wait_for_decision(decision_id)
    assert attrs["triage.route"] == record["route"] == resp.headers["x-triage-route"]
    assert attrs["triage.reason"] == record["reason"]
    assert attrs["triage.task"] == record["task"]
    assert attrs["triage.p_strong"] == pytest.approx(record["p_strong"])
    assert attrs["gen_ai.request.model"] == record["model_sent"]
    assert attrs["http.response.status_code"] == 200
    assert attrs["gen_ai.usage.output_tokens"] == record["output_tokens"]
    assert attrs["triage.router.latency_us"] > 0
    assert record["trace_id"] == TRACE_ID
    assert not any(PROMPT[:20] in str(v) for v in attrs.values())  # no prompt text leaves the process


def test_tracing_a_client_request_id_does_not_stop_envoy_from_tracing(
    client: httpx.Client, stack: LocalStack, collector: OtlpCollector
) -> None:
    headers = {"x-request-id": "my-own-request-id-42"}  # not a UUID Envoy would read a sampling decision from
    resp = client.post("/v1/chat/completions", json=chat(PROMPT), headers=headers)
    assert resp.status_code == 200
    record = stack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert record["request_id"] == "my-own-request-id-42"  # kept for correlation
    trace_id = record.get("trace_id")
    assert trace_id  # Envoy traced it: the decision sits in a trace
    spans = collector.wait_for(lambda s: s.trace_id == trace_id and s.service != "triage")
    assert spans  # and Envoy's own spans of that trace reached the collector


def _tree(spans: list[ReceivedSpan]) -> str:
    """The trace as an indented tree: service, span name, upstream cluster and status where Envoy set them."""
    children: dict[str, list[ReceivedSpan]] = {}
    ids = {s.span_id for s in spans}
    for s in spans:
        children.setdefault(s.parent_span_id if s.parent_span_id in ids else "", []).append(s)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda x: x.name):
            extra = " ".join(
                f"{k}={s.attributes[k]}" for k in ("upstream_cluster", "http.status_code") if k in s.attributes
            )
            lines.append(f"{'  ' * depth}{s.service}: {s.name} {extra}".rstrip())
            walk(s.span_id, depth + 1)

    walk("", 0)
    return "\n".join(lines)


def test_tracing_one_trace_holds_envoys_request_the_decision_under_ext_proc_and_every_attempt(
    client: httpx.Client, stack: LocalStack, collector: OtlpCollector
) -> None:
    first = client.post("/v1/chat/completions", json=chat(PROMPT))
    route = first.headers["x-triage-route"]
    assert stack.running_config is not None
    primary, fallback = (e.cluster for e in stack.running_config.routes[route].chain[:2])
    stack.providers[primary].set_fault(Fault(status=503))
    resp = client.post("/v1/chat/completions", json=chat(PROMPT))
    assert resp.status_code == 200
    record = stack.wait_for_decision(resp.headers["x-triage-decision-id"])
    trace_id = record["trace_id"]

    def complete() -> bool:
        names = [s.name for s in collector.spans if s.trace_id == trace_id]
        return "ingress" in names and "triage.route" in names and sum("router" in n for n in names) >= 2

    collector.wait_for(lambda s: s.trace_id == trace_id and complete(), timeout=60)
    spans = [s for s in collector.spans if s.trace_id == trace_id]
    print(_tree(spans))  # the report's trace tree (pytest -s)
    by_id = {s.span_id: s for s in spans}
    (root,) = [s for s in spans if s.name == "ingress"]
    assert root.service == "triage-envoy"
    assert not root.parent_span_id
    (decision,) = [s for s in spans if s.name == "triage.route"]
    ext_proc = by_id[decision.parent_span_id]  # Triage's span sits under Envoy's ext_proc call ...
    assert ext_proc.service == "triage-envoy"
    assert "ext_proc" in ext_proc.name
    assert ext_proc.parent_span_id == root.span_id  # ... which sits under the request
    attempts = [s for s in spans if s.name.startswith("router ")]
    seen = sorted((str(a.attributes["upstream_cluster"]), str(a.attributes["http.status_code"])) for a in attempts)
    assert seen == sorted([(primary, "503"), (fallback, "200")])
    assert all(a.parent_span_id == root.span_id for a in attempts)
    assert decision.attributes["triage.attempts"] == 2
