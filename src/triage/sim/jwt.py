"""Mint HS256 JWTs for the demo and tests (the local stack's jwt_authn verifies them with a shared secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def mint_token(secret: str, issuer: str, claims: dict[str, object], ttl_s: int = 3600) -> str:
    """A signed HS256 token with ``iss``, ``exp`` and ``claims`` (e.g. ``{"tier": "pro"}``)."""
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"iss": issuer, "exp": int(time.time()) + ttl_s, **claims}
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)
