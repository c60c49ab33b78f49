"""The body changes a decision asks for: planned on the parsed document, then spliced into the original bytes
(``triage.requests.splice``) or, when that cannot be done, applied to the document and re-encoded once."""

from __future__ import annotations

from typing import Any, Final

from triage.requests.parse import ParsedRequest
from triage.requests.specs import ApiSpec
from triage.requests.splice import encode_value, splice

# Below this size a full re-encode is cheaper than the splice's fixed cost (~10-20 us of Python around the scan):
# orjson writes 16-32 KB in 10-40 us, depending on how much of it is non-ASCII text.
SPLICE_MIN_BYTES: Final = 32 * 1024


# What a rewrite changes at the top level of a body: the new "model" member (None: unchanged), moved to be the
# first one; and other members set (an existing one keeps its place, a new one is appended, in this order).
# A plain tuple: this runs for every routed request, and a NamedTuple costs more to build than the rest.
Edits = tuple[str | None, dict[str, Any]]


def plan_edits(
    doc: dict[str, Any],
    spec: ApiSpec,
    stream: bool,
    *,
    model: str | None,
    include_usage: bool,
    max_tokens_cap: int | None,
) -> Edits | None:
    """The changes ``rewrite_body`` makes to ``doc`` (a request of ``spec``, streaming or not), or None for none."""
    # "model" goes first: the per-attempt filter in Envoy then finds the top-level key without a scan.
    new_model = model if model is not None and (doc.get("model") != model or next(iter(doc), None) != "model") else None
    values: dict[str, Any] = {}
    if include_usage and spec.stream_usage and stream:
        options = doc.get("stream_options")
        if options is None:
            values["stream_options"] = {"include_usage": True}
        elif isinstance(options, dict) and "include_usage" not in options:
            values["stream_options"] = {**options, "include_usage": True}
    if max_tokens_cap is not None:
        present = [k for k in spec.max_tokens_keys if doc.get(k) is not None]
        for key in present or spec.max_tokens_keys[:1]:
            value = doc.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value > max_tokens_cap:
                values[key] = max_tokens_cap
    return None if new_model is None and not values else (new_model, values)


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

    ``parsed.doc`` is updated with the changes. When ``parsed`` carries the bytes its document was decoded from
    (``parsed.body``), a large body gets the changed members spliced into those bytes; either way ``parsed.body``
    is emptied afterwards, as it no longer matches the document (a second rewrite, a fail-open after a fault,
    re-encodes). Otherwise, or when the splice cannot be done, the updated document is re-encoded whole.
    """
    edits = plan_edits(
        parsed.doc,
        parsed.spec,
        parsed.input.stream,
        model=model,
        include_usage=include_usage,
        max_tokens_cap=max_tokens_cap,
    )
    if edits is None:
        return None
    new_model, values = edits
    doc = parsed.doc
    raw = parsed.body
    # Dropped first: should anything below raise, the fail-open's second rewrite re-encodes.
    parsed.body = b""
    parsed.rewritten = True
    body = splice(raw, doc, new_model, values) if len(raw) >= SPLICE_MIN_BYTES else None
    if new_model is not None:
        doc = {"model": new_model, **{k: v for k, v in doc.items() if k != "model"}}
    doc.update(values)
    parsed.doc = doc
    # orjson, or json for values orjson cannot encode that json accepted (nesting deeper than orjson writes)
    return encode_value(doc) if body is None else body
