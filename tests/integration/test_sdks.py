"""Real client SDKs against the real Envoy + Triage stack: they always send an API key as a bearer token.

Out of the box any key works (the request is on the default tier); a verified JWT still selects its tier; a
forged, expired or unsigned token never raises it.
"""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import openai
import pytest

from tests.integration.conftest import chat, token
from triage.config import load_config
from triage.sim.jwt import mint_token
from triage.sim.stack import LocalStack

pytestmark = pytest.mark.integration

PROMPT = "Write a Python function that checks whether a string is a palindrome."


def _openai(stack: LocalStack, key: str = "sk-anything") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.envoy_url}/v1", api_key=key, max_retries=0, timeout=60)


def test_sdks_openai_with_any_key_is_routed_on_the_default_tier(stack: LocalStack) -> None:
    raw = _openai(stack).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": PROMPT}]
    )
    reply = raw.parse()
    assert reply.choices[0].message.content
    record = stack.wait_for_decision(raw.headers["x-triage-decision-id"])
    assert record["tier"] == load_config().default_tier


def test_sdks_openai_streaming_with_any_key(stack: LocalStack) -> None:
    stream = _openai(stack).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text


def test_sdks_openai_async_with_any_key(stack: LocalStack) -> None:
    async def run() -> str:
        client = openai.AsyncOpenAI(base_url=f"{stack.envoy_url}/v1", api_key="sk-x", max_retries=0, timeout=60)
        async with client:
            reply = await client.chat.completions.create(model="auto", messages=[{"role": "user", "content": PROMPT}])
        return reply.choices[0].message.content or ""

    assert asyncio.run(run())


def test_sdks_anthropic_plain_and_streaming_with_any_key(stack: LocalStack) -> None:
    client = anthropic.Anthropic(base_url=stack.envoy_url, api_key="sk-ant-anything", max_retries=0, timeout=60)
    message = client.messages.create(model="auto", max_tokens=200, messages=[{"role": "user", "content": PROMPT}])
    assert message.content
    with client.messages.stream(model="auto", max_tokens=200, messages=[{"role": "user", "content": PROMPT}]) as stream:
        assert "".join(stream.text_stream)


def test_sdks_a_verified_token_still_selects_its_tier(stack: LocalStack) -> None:
    raw = _openai(stack, key=token("pro")).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": PROMPT}]
    )
    assert stack.wait_for_decision(raw.headers["x-triage-decision-id"])["tier"] == "pro"


def _forged_tokens() -> dict[str, str]:
    jwt = load_config().envoy.jwt
    assert jwt is not None
    assert jwt.hmac_secret is not None
    valid = token("pro")
    header, payload, _ = valid.split(".")
    return {
        "not-a-jwt": "not-a-jwt",
        "wrong-secret": mint_token("some-other-secret", jwt.issuer, {"tier": "pro"}),
        "expired": mint_token(jwt.hmac_secret, jwt.issuer, {"tier": "pro"}, ttl_s=-3600),  # beyond the 60 s clock skew
        "wrong-issuer": mint_token(jwt.hmac_secret, "someone-else", {"tier": "pro"}),
        "unsigned": f"{header}.{payload}.",
        "no-expiry": _without_exp(jwt.hmac_secret, jwt.issuer),
    }


def _without_exp(secret: str, issuer: str) -> str:
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + b64(json.dumps({"iss": issuer, "tier": "pro"}).encode())
    )
    return signing + "." + b64(hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest())


@pytest.mark.parametrize("kind", sorted(_forged_tokens()))
def test_sdks_a_forged_expired_or_unsigned_token_never_raises_the_tier(
    kind: str, client: httpx.Client, stack: LocalStack
) -> None:
    headers = {"authorization": f"Bearer {_forged_tokens()[kind]}"}
    resp = client.post("/v1/chat/completions", json=chat(PROMPT), headers=headers)
    assert resp.status_code == 200, resp.text
    record = stack.wait_for_decision(resp.headers["x-triage-decision-id"])
    assert record["tier"] == load_config().default_tier


def test_sdks_client_cookies_never_reach_a_provider(client: httpx.Client, stack: LocalStack) -> None:
    resp = client.post("/v1/chat/completions", json=chat(PROMPT), headers={"cookie": "session=secret-session-7"})
    assert resp.status_code == 200
    attempts = [a for p in stack.providers.values() for a in p.attempts]
    assert attempts
    assert all("cookie" not in a.headers for a in attempts)
