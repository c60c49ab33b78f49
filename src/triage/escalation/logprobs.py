"""Ask the cheap route for token logprobs the client did not ask for, and hide them from the client again.

Only OpenAI chat completions can ask: ``"logprobs": true`` returns ``choices[i].logprobs.content``, the chosen
tokens' logprobs, at no extra charge (``top_logprobs`` is the client's business and left as it is). Anthropic's
Messages API has no logprobs; the legacy completions API takes a number of alternatives instead and is not
rewritten. Some OpenAI models refuse the parameter (the o-series reasoning models answer 400), so a route is
opted in by configuration, never by default.

Both functions are total: any input gives an answer, never an exception. ``strip_logprobs`` gives valid JSON for
every JSON input (and returns any other input unchanged).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import orjson

from triage.requests.splice import encode_value, splice

LOGPROB_APIS: Final = frozenset({"openai.chat"})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _decode(body: bytes) -> Any:
    """The JSON value of ``body``, or None when it is not JSON (orjson first; the standard library for what
    orjson does not take, such as nesting deeper than 1024 levels)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None


def logprobs_asked(doc: Mapping[str, Any], api: str) -> bool:
    """Whether the request ``doc`` of ``api`` asks for token logprobs itself."""
    value = doc.get("logprobs")
    if api == "openai.chat":
        return value is True
    if api == "openai.completions":  # the legacy API takes the number of alternatives, 0 included
        return isinstance(value, int) and not isinstance(value, bool)
    return False


def request_logprobs(body: bytes, api: str) -> bytes | None:
    """``body`` rewritten to ask for logprobs (``"logprobs": true``), or None when nothing changes: the API has
    no such parameter (``LOGPROB_APIS``), the client already asked, or the body is not a JSON object.

    The other members keep their bytes and order (``triage.requests.splice``); a body the splice cannot read is
    re-encoded."""
    if api not in LOGPROB_APIS:
        return None
    doc = _decode(body)
    if not isinstance(doc, dict) or logprobs_asked(doc, api):
        return None
    spliced = splice(body, doc, None, {"logprobs": True})
    if spliced is not None:
        return spliced
    doc["logprobs"] = True
    try:
        return encode_value(doc)
    except (TypeError, ValueError, RecursionError):
        return None


def strip_logprobs(response_body: bytes, api: str) -> bytes:
    """``response_body`` without token logprobs (every choice's ``logprobs`` set to null, the shape of an answer
    that was not asked for them). The body itself when there is nothing to strip, the API has no logprobs, or the
    body is not JSON; an SSE stream is not JSON and is returned as it is."""
    if api not in LOGPROB_APIS:
        return response_body
    stripped = strip_logprobs_document(_decode(response_body), api)
    return response_body if stripped is None else stripped


def strip_logprobs_document(doc: Any, api: str) -> bytes | None:
    """``strip_logprobs`` for an answer already decoded (changed in place): the encoded answer, or None when there
    is nothing to strip (or it cannot be encoded) — then the body goes as it came."""
    if api not in LOGPROB_APIS:
        return None
    choices = doc.get("choices") if isinstance(doc, dict) else None
    if not isinstance(choices, list):
        return None
    changed = False
    for choice in choices:
        if isinstance(choice, dict) and choice.get("logprobs") is not None:
            choice["logprobs"] = None
            changed = True
    if not changed:
        return None
    try:
        return encode_value(doc)
    except (TypeError, ValueError, RecursionError):
        return None
