"""Bad input gets a defined outcome: a clear OpenAI-style error or a routed request; never a 5xx or a hang."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import chat, token
from triage.sim.stack import LocalStack

pytestmark = pytest.mark.integration

JSON = {"content-type": "application/json"}
CASES = [
    pytest.param(b'{"model": "auto", "messages": [', JSON, 400, "invalid_json", id="malformed-json"),
    pytest.param(b"", JSON, 400, "empty_body", id="empty-body"),
    pytest.param(b"   \n", JSON, 400, "empty_body", id="whitespace-body"),
    pytest.param(b"hello=world", {"content-type": "text/plain"}, 415, "unsupported_media_type", id="not-json"),
    pytest.param(b'{"model": "auto", "messages": "\xff\xfe"}', JSON, 400, "invalid_encoding", id="non-utf8"),
    pytest.param(b"[1, 2, 3]", JSON, 400, "invalid_request", id="json-array"),
    pytest.param(b'{"model": "auto", "messages": []}', JSON, 400, "invalid_messages", id="no-messages"),
]


@pytest.mark.parametrize(("body", "headers", "status", "code"), CASES)
def test_bad_input_gets_an_openai_error(
    client: httpx.Client, stack: LocalStack, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    resp = client.post("/v1/chat/completions", content=body, headers=headers)
    assert resp.status_code == status
    error = resp.json()["error"]
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert resp.headers["x-triage-decision-id"]
    assert all(not p.attempts for p in stack.providers.values())  # no provider was called


def test_bad_input_json_body_with_a_wrong_content_type_is_routed(client: httpx.Client) -> None:
    resp = client.post("/v1/chat/completions", content=httpx.Request("POST", "/", json=chat("hi")).content, headers={})
    assert resp.status_code == 200


BIG = "Summarise the following log.\n" + ("2026-11-28 INFO worker started job=42 status=ok\n" * 45_000)


def test_bad_input_two_megabyte_prompt_fits_no_context_window(client: httpx.Client, stack: LocalStack) -> None:
    assert len(BIG) > 2_000_000
    resp = client.post("/v1/chat/completions", json=chat(BIG), headers={"authorization": f"Bearer {token('pro')}"})
    assert resp.status_code == 413  # ~540,000 tokens: no model of the pro tier takes that many
    assert resp.json()["error"]["code"] == "context_window_exceeded"
    record = stack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert record["input_tokens_estimate"] > 500_000
    assert record["reason"] == "context_window"
    assert all(not p.attempts for p in stack.providers.values())  # never sent to a provider that would refuse it


def test_bad_input_a_long_prompt_skips_the_steps_it_does_not_fit(client: httpx.Client, stack: LocalStack) -> None:
    long = "Summarise this log.\n" + "2026-01-01 12:00:00 INFO request served in 12 ms\n" * 4_000  # ~50k tokens
    resp = client.post("/v1/chat/completions", json=chat(long), headers={"authorization": f"Bearer {token('pro')}"})
    assert resp.status_code == 200
    record = stack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert 40_000 < record["input_tokens_estimate"] < 128_000
    assert "small/llama-3.1-8b-instruct" not in record["chain"]  # its 32k window is too small
    if record["route"] == "economy":  # the only route with that step: skipped, and the record says so
        assert record["too_small"] == ["small/llama-3.1-8b-instruct"]
    assert not stack.providers["small"].attempts


def test_bad_input_two_megabyte_prompt_is_over_the_free_tier_budget(client: httpx.Client, stack: LocalStack) -> None:
    resp = client.post("/v1/chat/completions", json=chat(BIG))
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "input_too_large"
    assert all(not p.attempts for p in stack.providers.values())


def test_bad_input_leaves_triage_serving(client: httpx.Client, stack: LocalStack) -> None:
    for body in (b"{", b"\x00\x01", b"null", b'{"messages": [1]}'):
        client.post("/v1/chat/completions", content=body, headers=JSON)
    assert stack.triage_serving()
    assert client.post("/v1/chat/completions", json=chat("hello")).status_code == 200
