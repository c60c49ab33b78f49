"""A streaming request streams through Envoy and Triage, and its usage is recorded."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.integration.conftest import chat
from triage.sim.stack import LocalStack

pytestmark = pytest.mark.integration


def _events(raw: bytes) -> list[str]:
    return [line[5:].strip() for line in raw.decode().splitlines() if line.startswith("data:")]


def test_streaming_chunks_arrive_separately_and_usage_is_recorded(client: httpx.Client, stack: LocalStack) -> None:
    for p in stack.providers.values():
        p.chunk_interval_s = 0.15
    arrivals: list[float] = []
    raw = b""
    body = chat("Translate 'thank you very much' into Spanish.", stream=True)
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        decision_id = resp.headers["x-triage-decision-id"]
        for chunk in resp.iter_raw():
            arrivals.append(time.monotonic())
            raw += chunk
    events = _events(raw)
    assert events[-1] == "[DONE]"
    # Chunks were forwarded as they came, not held until the end: many separate reads, spread over time.
    assert len(arrivals) >= 5
    assert arrivals[-1] - arrivals[0] >= 0.15 * 3
    # Triage asked the provider for usage; the client, who did not, never sees the usage-only chunk.
    documents = [json.loads(e) for e in events[:-1]]
    assert all(d["choices"] for d in documents)
    attempts = [a for p in stack.providers.values() for a in p.attempts]
    assert [a.include_usage for a in attempts] == [True]
    record = stack.wait_for_decision(decision_id)
    assert record["streamed"] is True
    assert record["completed"] is True
    assert record["aborted"] is False
    assert record["input_tokens"] > 0
    assert record["output_tokens"] == attempts[0].events - 1 or record["output_tokens"] > 0
    assert record["cost_usd"] > 0


def test_streaming_client_that_asked_for_usage_gets_it(client: httpx.Client, stack: LocalStack) -> None:
    body = chat("Say hello.", stream=True, stream_options={"include_usage": True})
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        raw = resp.read()
        decision_id = resp.headers["x-triage-decision-id"]
    documents = [json.loads(e) for e in _events(raw)[:-1]]
    usage_chunks = [d for d in documents if d.get("usage")]
    assert len(usage_chunks) == 1
    record = stack.wait_for_decision(decision_id)
    assert record["output_tokens"] == usage_chunks[0]["usage"]["completion_tokens"]
