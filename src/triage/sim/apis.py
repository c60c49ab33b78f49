"""The API shapes a fake provider speaks: data, not a handler per API.

Each ``ApiSpec`` knows, for one path, how to read the prompt out of a request body and how to render an
answer (``triage.sim.answers.Shaped``) as a JSON body or as the list of SSE events of a stream (each event is
sent as its own HTTP chunk). The shapes follow the public OpenAI and Anthropic references closely enough that a usage
parser written against the real services works unchanged here, including their quirks:
- OpenAI streams put ``"usage": null`` in every chunk when ``stream_options.include_usage`` is true and
  then a last chunk with ``"choices": []`` and the usage, before ``data: [DONE]``.
- Anthropic's ``message_start`` carries ``input_tokens`` and a provisional ``output_tokens`` of 1; the
  final count arrives in ``message_delta`` (replace, do not add).
- OpenAI chat reports token logprobs only when asked (``"logprobs": true``; ``top_logprobs`` needs it), in
  ``choices[0].logprobs.content`` and in each streamed content chunk; a structured-outputs refusal comes in
  ``message.refusal`` (``delta.refusal`` when streamed) with ``content: null``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

import orjson

from triage.sim.answers import JsonOutput, Shaped
from triage.sim.completion import Completion

SYSTEM_FINGERPRINT = "fp_triage_sim"
DONE = b"data: [DONE]\n\n"


class ApiError(Exception):
    """A request body this API would reject with 400 ``invalid_request_error``."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class Prompt:
    """What a request asks for: all message text joined, its size in characters, ``max_tokens``, and (OpenAI
    chat) token logprobs with ``top_logprobs`` alternatives each, and the JSON output mode."""

    text: str
    chars: int
    max_tokens: int | None
    logprobs: bool = False
    top_logprobs: int = 0
    json_output: JsonOutput | None = None


@dataclass(frozen=True, slots=True)
class RequestFlags:
    """Fields read from any JSON object body, valid or not (they go into the attempt log)."""

    model: str | None
    stream: bool
    include_usage: bool
    logprobs: bool = False

    @classmethod
    def of(cls, payload: object) -> RequestFlags:
        if not isinstance(payload, dict):
            return cls(model=None, stream=False, include_usage=False)
        model = payload.get("model")
        options = payload.get("stream_options")
        return cls(
            model=model if isinstance(model, str) and model else None,
            stream=payload.get("stream") is True,
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
            logprobs=payload.get("logprobs") is True,
        )


class ApiSpec(Protocol):
    """One API shape; ``id_prefix`` starts the response ``id`` as the real service's ids do."""

    @property
    def id_prefix(self) -> str: ...

    def read(self, payload: Mapping[str, Any]) -> Prompt:
        """Extract the prompt, or raise ``ApiError``."""
        ...

    def body(self, s: Shaped) -> dict[str, Any]: ...

    def events(self, s: Shaped, include_usage: bool) -> list[bytes]: ...


def sse_data(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sse_event(name: str, obj: object) -> bytes:
    return b"event: " + name.encode() + b"\n" + sse_data(obj)


def _texts(content: object, where: str) -> list[str]:
    """Text of a message ``content``: a string, or a list of parts of which ``text`` parts count."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    raise ApiError(f"{where} must be a string or a list of content parts", param=where)


def _messages(payload: Mapping[str, Any], *, allow_empty: bool = False) -> list[str]:
    messages = payload.get("messages")
    if not isinstance(messages, list) or (not messages and not allow_empty):
        raise ApiError("'messages' must be a non-empty array", param="messages", code="invalid_messages")
    texts: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ApiError(f"messages[{i}] must be an object", param=f"messages[{i}]")
        texts.extend(_texts(message.get("content"), f"messages[{i}].content"))
    return texts


def _max_tokens(payload: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = payload.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ApiError(f"'{name}' must be a non-negative integer", param=name)
        return value
    return None


def _prompt(texts: Sequence[str], max_tokens: int | None) -> Prompt:
    return Prompt(text="\n".join(texts), chars=sum(len(t) for t in texts), max_tokens=max_tokens)


def _openai_usage(s: Shaped) -> dict[str, int]:
    c = s.completion
    return {
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "total_tokens": c.total_tokens,
    }


def _logprob_options(payload: Mapping[str, Any]) -> tuple[bool, int]:
    """(logprobs, top_logprobs) of an OpenAI chat request, validated as OpenAI does."""
    logprobs = payload.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool):
        raise ApiError("'logprobs' must be a boolean", param="logprobs")
    top = payload.get("top_logprobs")
    if top is None:
        return logprobs is True, 0
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 20:
        raise ApiError("'top_logprobs' must be an integer between 0 and 20", param="top_logprobs")
    if logprobs is not True:
        raise ApiError("'top_logprobs' requires 'logprobs' to be true", param="top_logprobs")
    return True, top


def _json_output(payload: Mapping[str, Any]) -> JsonOutput | None:
    fmt = payload.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_object":
        return "json_object"
    return "json_schema" if kind == "json_schema" else None


class OpenAIChat:
    """``POST /v1/chat/completions``."""

    id_prefix = "chatcmpl-"

    def read(self, payload: Mapping[str, Any]) -> Prompt:
        texts = _messages(payload)
        logprobs, top = _logprob_options(payload)
        return Prompt(
            text="\n".join(texts),
            chars=sum(len(t) for t in texts),
            max_tokens=_max_tokens(payload, "max_completion_tokens", "max_tokens"),
            logprobs=logprobs,
            top_logprobs=top,
            json_output=_json_output(payload),
        )

    def body(self, s: Shaped) -> dict[str, Any]:
        c = s.completion
        message = {"role": "assistant", "content": c.text, "refusal": None}
        entries = s.token_entries()
        logprobs = None if s.logprobs is None else {"content": entries, "refusal": None}
        if s.refusal_field:
            message = {"role": "assistant", "content": None, "refusal": c.text}
            logprobs = None if s.logprobs is None else {"content": None, "refusal": entries}
        return {
            "id": c.id,
            "object": "chat.completion",
            "created": c.created,
            "model": c.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": s.finish_reason}],
            "usage": _openai_usage(s),
        }

    def events(self, s: Shaped, include_usage: bool) -> list[bytes]:
        c = s.completion
        base = {
            "id": c.id,
            "object": "chat.completion.chunk",
            "created": c.created,
            "model": c.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        field = "refusal" if s.refusal_field else "content"

        def chunk(delta: dict[str, Any], finish: str | None, logprobs: Any = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            extra = {"usage": None} if include_usage else {}
            return sse_data({**base, "choices": [choice], **extra})

        events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
        entries = s.token_entries()
        for i, piece in enumerate(c.pieces):
            tokens = None if s.logprobs is None else {"content": None, "refusal": None, field: [entries[i]]}
            events.append(chunk({field: piece}, None, tokens))
        events.append(chunk({}, s.finish_reason))
        if include_usage:
            events.append(sse_data({**base, "choices": [], "usage": _openai_usage(s)}))
        events.append(DONE)
        return events


class OpenAICompletions:
    """``POST /v1/completions`` (the legacy text completions API)."""

    id_prefix = "cmpl-"

    def read(self, payload: Mapping[str, Any]) -> Prompt:
        prompt = payload.get("prompt")
        if isinstance(prompt, str):
            texts = [prompt]
        elif isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
            texts = list(prompt)
        else:
            raise ApiError("'prompt' must be a string or an array of strings", param="prompt")
        return _prompt(texts, _max_tokens(payload, "max_tokens"))

    def body(self, s: Shaped) -> dict[str, Any]:
        c = s.completion
        return {
            "id": c.id,
            "object": "text_completion",
            "created": c.created,
            "model": c.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {
                    "text": c.text,
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": s.finish_reason,
                }
            ],
            "usage": _openai_usage(s),
        }

    def events(self, s: Shaped, include_usage: bool) -> list[bytes]:
        c = s.completion
        base = {"id": c.id, "object": "text_completion", "created": c.created, "model": c.model}

        def chunk(text: str, finish: str | None) -> bytes:
            choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
            extra = {"usage": None} if include_usage else {}
            return sse_data({**base, "choices": [choice], **extra})

        events = [chunk(piece, None) for piece in c.pieces]
        events.append(chunk("", s.finish_reason))
        if include_usage:
            events.append(sse_data({**base, "choices": [], "usage": _openai_usage(s)}))
        events.append(DONE)
        return events


class AnthropicMessages:
    """``POST /v1/messages``. ``max_tokens`` is optional here (the real API requires it)."""

    id_prefix = "msg_"

    def read(self, payload: Mapping[str, Any]) -> Prompt:
        system = _texts(payload.get("system"), "system")
        return _prompt([*system, *_messages(payload)], _max_tokens(payload, "max_tokens"))

    def _usage(self, c: Completion, output_tokens: int) -> dict[str, int]:
        return {
            "input_tokens": c.prompt_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
        }

    def _stop_reason(self, c: Completion) -> str:
        return "max_tokens" if c.truncated else "end_turn"

    def body(self, s: Shaped) -> dict[str, Any]:
        c = s.completion
        return {
            "id": c.id,
            "type": "message",
            "role": "assistant",
            "model": c.model,
            "content": [{"type": "text", "text": c.text}],
            "stop_reason": self._stop_reason(c),
            "stop_sequence": None,
            "usage": self._usage(c, c.completion_tokens),
        }

    def events(self, s: Shaped, include_usage: bool) -> list[bytes]:
        c = s.completion
        message = {**self.body(s), "content": [], "stop_reason": None, "usage": self._usage(c, 1)}
        events = [
            sse_event("message_start", {"type": "message_start", "message": message}),
            sse_event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            sse_event("ping", {"type": "ping"}),
        ]
        events.extend(
            sse_event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
            for piece in c.pieces
        )
        events.append(sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(
            sse_event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self._stop_reason(c), "stop_sequence": None},
                    "usage": {"output_tokens": c.completion_tokens},
                },
            )
        )
        events.append(sse_event("message_stop", {"type": "message_stop"}))
        return events


API_SPECS: Mapping[str, ApiSpec] = {
    "/v1/chat/completions": OpenAIChat(),
    "/v1/completions": OpenAICompletions(),
    "/v1/messages": AnthropicMessages(),
}

# OpenAI-style (type, code) per status; other 4xx map to invalid_request_error, other 5xx to server_error.
_ERROR_KINDS: Mapping[int, tuple[str, str]] = {
    400: ("invalid_request_error", "bad_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    408: ("timeout_error", "request_timeout"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "gateway_timeout"),
    529: ("overloaded_error", "overloaded"),
}


def error_body(
    status: int, message: str | None = None, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` as OpenAI answers errors."""
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    kind, default_code = _ERROR_KINDS.get(status, (default_type, f"http_{status}"))
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {
        "error": {
            "message": message or f"{phrase} (simulated by triage.sim)",
            "type": kind,
            "param": param,
            "code": code or default_code,
        }
    }
