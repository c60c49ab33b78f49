"""Response body → token usage, from a JSON body or an SSE stream, read chunk by chunk as it passes.

``UsageReader.feed`` never holds a chunk back: it returns the chunk to forward (the same bytes, or the
bytes minus the usage-only event that Triage itself asked for, so clients that did not ask for it never
see it). Memory is bounded: a JSON body is kept up to ``max_json_bytes``, an SSE stream only up to its
current partial line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from triage.requests.specs import UsageShape

MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024
# An SSE data line is decoded only if it may carry one of these; plain text deltas are skipped unparsed.
# (OpenAI streams asked for usage carry ``"usage": null`` in every chunk: only a usage object counts.)
_INTERESTING = re.compile(rb'"usage"\s*:\s*\{|"finish_reason"\s*:\s*"|"error"|message_st|message_delta')


@dataclass(slots=True)
class Usage:
    """What a response said about itself. Token counts are None when the provider did not report them."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    response_model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    streamed: bool = False
    chunks: int = 0
    completed: bool = False  # the stream ended with its terminator ([DONE] / message_stop), or JSON parsed
    error: str | None = None  # an error the provider reported inside the body

    @property
    def known(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _apply_usage(usage: Usage, block: Any, shape: UsageShape) -> None:
    if not isinstance(block, dict):
        return
    if shape == "openai":
        inp = _int(block.get("prompt_tokens", block.get("input_tokens")))
        out = _int(block.get("completion_tokens", block.get("output_tokens")))
        usage.input_tokens = usage.input_tokens if inp is None else inp
        usage.output_tokens = usage.output_tokens if out is None else out
        details = block.get("prompt_tokens_details")
        if isinstance(details, dict):
            usage.cache_read_tokens = _int(details.get("cached_tokens"))
    else:
        inp = _int(block.get("input_tokens"))
        if inp is not None:
            cache = (_int(block.get("cache_read_input_tokens")) or 0) + (
                _int(block.get("cache_creation_input_tokens")) or 0
            )
            usage.input_tokens = inp + cache
            usage.cache_read_tokens = _int(block.get("cache_read_input_tokens"))
        out = _int(block.get("output_tokens"))
        if out is not None:
            usage.output_tokens = out


def _apply_document(usage: Usage, doc: Any, shape: UsageShape) -> None:
    """Take usage, model, id, finish reasons and errors from one JSON body or one SSE event."""
    if not isinstance(doc, dict):
        return
    if "error" in doc and isinstance(doc["error"], dict):
        usage.error = str(doc["error"].get("type") or doc["error"].get("code") or "error")
    if shape == "anthropic" and isinstance(doc.get("message"), dict):  # message_start
        _apply_document(usage, doc["message"], shape)
    model = doc.get("model")
    if isinstance(model, str):
        usage.response_model = model
    rid = doc.get("id")
    if isinstance(rid, str):
        usage.response_id = rid
    if "usage" in doc:
        _apply_usage(usage, doc["usage"], shape)
    for choice in doc.get("choices") or ():
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        if isinstance(reason, str):
            usage.finish_reasons.append(reason)
    stop = doc.get("stop_reason")
    if isinstance(stop, str):
        usage.finish_reasons.append(stop)
    delta = doc.get("delta")
    if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
        usage.finish_reasons.append(delta["stop_reason"])
    if doc.get("type") == "message_stop":
        usage.completed = True


class UsageReader:
    """Reads one response body as it streams past. Create it at response headers, ``feed`` every chunk,
    ``finish`` at the end of the stream."""

    def __init__(self, shape: UsageShape, content_type: str | None, *, hide_usage_event: bool = False) -> None:
        """``content_type`` None: not known (Triage skips the response headers); the first bytes decide."""
        self.shape = shape
        media = (content_type or "").split(";", 1)[0].strip().lower()
        self.usage = Usage(streamed=media == "text/event-stream")
        self._sniff = content_type is None
        self._hide_asked = hide_usage_event and shape == "openai"
        self._hide = self._hide_asked and self.usage.streamed
        self._body = bytearray()
        self.document: Any = None  # a JSON body, decoded by ``finish`` (the escalation verifier reads it too)
        self._overflow = False
        self._partial = b""

    def _decide_kind(self, chunk: bytes) -> None:
        head = chunk.lstrip()[:6]
        if not head:
            return
        self._sniff = False
        # An SSE stream starts with a field name or a comment; a JSON body with "{" (or "[").
        self.usage.streamed = head.startswith((b"data:", b"event:", b":", b"id:", b"retry:"))
        self._hide = self._hide_asked and self.usage.streamed

    def feed(self, chunk: bytes) -> bytes | None:
        """Account for ``chunk``; return replacement bytes to forward, or None to forward it unchanged."""
        if not chunk:
            return None
        if self._sniff:
            self._decide_kind(chunk)
        if not self.usage.streamed:
            if not self._overflow:
                if len(self._body) + len(chunk) > MAX_JSON_BYTES:
                    self._overflow = True
                    self._body.clear()
                else:
                    self._body += chunk
            return None
        self.usage.chunks += 1
        # A chunk can be rewritten only if it holds whole lines of its own (nothing pending before it,
        # ending with a newline); otherwise it is forwarded as it is, usage event included.
        whole = not self._partial and chunk.endswith(b"\n")
        if not self._partial and _INTERESTING.search(chunk) is None and b"[DONE]" not in chunk:
            # Most chunks: text deltas, none of whose lines can carry usage, a finish reason, an error or the end.
            self._partial = chunk[chunk.rfind(b"\n") + 1 :]
            if len(self._partial) > MAX_LINE_BYTES:
                self._partial = b""
            return None
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:  # not SSE as we know it: stop buffering
            self._partial = b""
        kept = [line for line in lines if not self._event_line(line.rstrip(b"\r"))]
        if not whole or len(kept) == len(lines):
            return None
        # An SSE event ends at a blank line; dropping its only data line leaves an empty event, which
        # clients skip.
        return b"".join(line + b"\n" for line in kept)

    def _event_line(self, line: bytes) -> bool:
        """Read one SSE line; True when it is the usage-only event that should be hidden from the client."""
        if not line.startswith(b"data:"):
            return False
        payload = line[5:].strip()
        if payload == b"[DONE]":
            self.usage.completed = True
            return False
        if not payload.startswith(b"{"):
            return False
        if _INTERESTING.search(payload) is None:  # most chunks: text deltas only
            return False
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return False
        _apply_document(self.usage, doc, self.shape)
        return bool(self._hide and isinstance(doc, dict) and doc.get("choices") == [] and "usage" in doc)

    def finish(self) -> Usage:
        """Parse what is left and return the usage seen."""
        if self.usage.streamed:
            if self._partial:
                self._event_line(self._partial.rstrip(b"\r"))
                self._partial = b""
        elif self._body and not self._overflow:
            try:
                self.document = orjson.loads(bytes(self._body))
                _apply_document(self.usage, self.document, self.shape)
                self.usage.completed = True
            except orjson.JSONDecodeError:
                self.usage.error = self.usage.error or "unparseable_response"
            self._body.clear()
        return self.usage
