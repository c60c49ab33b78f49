"""The body changes a decision asks for, applied to the parsed document and re-encoded once."""

from __future__ import annotations

import json
from typing import Any

import orjson

from triage.requests.parse import ParsedRequest


def rewrite_body(
    parsed: ParsedRequest,
    *,
    model: str | None,
    include_usage: bool,
    max_tokens_cap: int | None,
) -> bytes | None:
    """Return the new body, or None when nothing changes.

    ``model``: the model name the first provider of the chain expects; it becomes the body's first key.
    ``include_usage``: ask a streaming
    OpenAI-style provider for its final usage chunk (only when the client did not say otherwise).
    ``max_tokens_cap``: lower the output bound to at most this (set it when the client gave none).
    """
    doc: dict[str, Any] = parsed.doc
    spec = parsed.spec
    changed = False
    if model is not None and (doc.get("model") != model or next(iter(doc), None) != "model"):
        # "model" goes first: the per-attempt filter in Envoy then finds the top-level key without a scan.
        doc = {"model": model, **{k: v for k, v in doc.items() if k != "model"}}
        parsed.doc = doc
        changed = True
    if include_usage and spec.stream_usage and parsed.input.stream:
        options = doc.get("stream_options")
        if options is None:
            doc["stream_options"] = {"include_usage": True}
            changed = True
        elif isinstance(options, dict) and "include_usage" not in options:
            options["include_usage"] = True
            changed = True
    if max_tokens_cap is not None:
        present = [k for k in spec.max_tokens_keys if doc.get(k) is not None]
        for key in present or spec.max_tokens_keys[:1]:
            value = doc.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value > max_tokens_cap:
                doc[key] = max_tokens_cap
                changed = True
    if not changed:
        return None
    try:
        return orjson.dumps(doc)
    except TypeError:  # values orjson cannot encode (e.g. integers beyond 64 bits) that json accepted
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
