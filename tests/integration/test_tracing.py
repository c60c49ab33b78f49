"""One span per decision reaches an OTLP collector, parented in the request's trace, without prompt text."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import chat
from tests.integration.otlp import OtlpCollector
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
