"""Request body → ``ParsedRequest`` (the routing input plus the document to rewrite), for any ``ApiSpec``.

Parsing is linear in the body size (one JSON decode); everything after it is bounded: text is windowed
part by part and sizes are sums of string lengths.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from triage.errors import InvalidRequest, UnsupportedMediaType
from triage.requests.input import PROMPT_HEAD_CHARS, PROMPT_TAIL_CHARS, SYSTEM_HEAD_CHARS, RoutingInput
from triage.requests.specs import ApiSpec

_SYSTEM_ROLES = frozenset({"system", "developer"})


@dataclass(slots=True)
class ParsedRequest:
    """A parsed body: ``doc`` is the decoded JSON object, owned by the caller from here on; ``body`` the bytes it was
    decoded from, until a rewrite changes ``doc`` (``rewrite_body`` empties it then and sets ``rewritten``)."""

    spec: ApiSpec
    doc: dict[str, Any]
    input: RoutingInput
    body: bytes = b""
    rewritten: bool = False


def _is_json_type(content_type: str | None) -> bool:
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: a number no JSON encoder can write back
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _require_utf8(body: bytes) -> None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidRequest(
            f"The request body is not valid UTF-8 (byte {err.start}); JSON must be UTF-8 encoded.",
            "invalid_encoding",
        ) from None


def _reencodable(body: bytes, doc: Any) -> Any:
    """``doc`` if Triage can write it back exactly as it must be forwarded, else the ``ClientError`` saying why.

    ``json.loads`` is more lenient than the request path may be: it decodes UTF-16/32 and lone surrogates
    (``\\ud800``, raw ``ED A0 80``), and accepts integers and nesting depths that no body rewrite can encode.
    A body Triage could not rewrite would reach the provider as the client sent it, past the tier's caps."""
    _require_utf8(body)
    try:
        orjson.dumps(doc)
    except orjson.JSONEncodeError as err:
        if "surrogates" in str(err) or "UTF-8" in str(err):
            raise InvalidRequest(
                "The request body contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode text.",
                "invalid_encoding",
            ) from None
        raise InvalidRequest(f"The request body cannot be processed: {err}", "invalid_json") from None
    return doc


def decode_json(body: bytes, content_type: str | None = None) -> Any:
    """Decode ``body`` as JSON or raise the ``ClientError`` that explains why not."""
    if not body.strip():
        raise InvalidRequest("The request body is empty; expected a JSON object.", "empty_body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        first_error = str(err)
    try:  # a second opinion for what orjson does not support (deep nesting); NaN and Infinity stay invalid
        doc = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        pass
    else:
        return _reencodable(body, doc)
    if not _is_json_type(content_type):
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not supported; send a JSON body with 'Content-Type: application/json'.",
            "unsupported_media_type",
        )
    _require_utf8(body)
    raise InvalidRequest(f"The request body is not valid JSON: {first_error}", "invalid_json")


def _text_parts(content: Any) -> Iterator[str]:
    """The text pieces of one message's ``content``: a string, or a list of typed parts."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                yield part
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    yield text
                elif part.get("type") == "tool_result":
                    yield from _text_parts(part.get("content"))


def _window_parts(parts: list[str], head: int, tail: int) -> str:
    """Join ``parts`` keeping at most ``head`` leading and ``tail`` trailing characters, touching only
    as many parts as those windows need."""
    total = sum(len(p) for p in parts)
    if total <= head + tail:
        return "\n".join(parts) if len(parts) > 1 else (parts[0] if parts else "")
    front: list[str] = []
    need = head
    for p in parts:
        if need <= 0:
            break
        front.append(p[:need])
        need -= len(front[-1])
    back: list[str] = []
    need = tail
    for p in reversed(parts):
        if need <= 0:
            break
        back.append(p[-need:])
        need -= len(back[-1])
    # Joining adds separators: cut again so the result stays within head + tail (+ one separator).
    head_text = "\n".join(front)[:head]
    return head_text + "\n" + "\n".join(reversed(back))[-tail:] if tail else head_text


def _max_tokens(doc: dict[str, Any], spec: ApiSpec) -> int | None:
    for key in spec.max_tokens_keys:
        value = doc.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _json_output(doc: dict[str, Any]) -> bool:
    fmt = doc.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


def _from_messages(doc: dict[str, Any], spec: ApiSpec) -> tuple[str, str, int, int, int]:
    key = spec.messages_key
    assert key is not None
    messages = doc.get(key)
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(f"'{key}' must be a non-empty array of messages.", "invalid_messages")
    system_parts: list[str] = []
    if spec.system_key is not None:
        system_parts.extend(_text_parts(doc.get(spec.system_key)))
    chars = sum(len(p) for p in system_parts)
    last_user: list[str] = []
    user_turns = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"'{key}[{i}]' must be an object with 'role' and 'content'.", "invalid_messages")
        parts = list(_text_parts(message.get("content")))
        chars += sum(len(p) for p in parts)
        role = message.get("role")
        if role == "user":
            user_turns += 1
            last_user = parts
        elif role in _SYSTEM_ROLES and len(system_parts) < 4:
            system_parts.extend(parts)
    if not last_user:  # no user turn: classify the last message whatever its role
        last_user = list(_text_parts(messages[-1].get("content")))
    prompt = _window_parts(last_user, PROMPT_HEAD_CHARS, PROMPT_TAIL_CHARS)
    system = _window_parts(system_parts, SYSTEM_HEAD_CHARS, 0)
    return prompt, system, chars, len(messages), max(user_turns, 1)


def _from_prompt(doc: dict[str, Any], spec: ApiSpec) -> tuple[str, str, int, int, int]:
    key = spec.prompt_key
    assert key is not None
    value = doc.get(key)
    if isinstance(value, str):
        parts = [value]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        parts = value
    else:
        raise InvalidRequest(f"'{key}' must be a string or an array of strings.", "invalid_prompt")
    chars = sum(len(p) for p in parts)
    return _window_parts(parts, PROMPT_HEAD_CHARS, PROMPT_TAIL_CHARS), "", chars, 1, 1


def parse_request(body: bytes, spec: ApiSpec, content_type: str | None = None) -> ParsedRequest:
    """Parse ``body`` as a request of ``spec``. Raises a ``ClientError`` subclass for bad input."""
    doc = decode_json(body, content_type)
    if not isinstance(doc, dict):
        raise InvalidRequest("The request body must be a JSON object.", "invalid_request")
    model = doc.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequest("'model' must be a string.", "invalid_model")
    if spec.messages_key is not None:
        prompt, system, chars, n_messages, turns = _from_messages(doc, spec)
    else:
        prompt, system, chars, n_messages, turns = _from_prompt(doc, spec)
    tools = doc.get("tools") or doc.get("functions")
    inp = RoutingInput(
        api=spec.name,
        prompt=prompt,
        system=system,
        model=model,
        input_chars=chars,
        messages=n_messages,
        user_turns=turns,
        stream=doc.get("stream") is True,
        max_tokens=_max_tokens(doc, spec),
        has_tools=bool(tools),
        json_output=_json_output(doc),
    )
    return ParsedRequest(spec=spec, doc=doc, input=inp, body=body)
