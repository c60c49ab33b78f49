"""A body rewrite that re-encodes only the members it changes and copies every other byte of the original.

The decoded document says which top-level members exist and what they hold; the C scanner
(``triage.requests._jsonscan``) says where they are in the bytes. A 1 MB chat body then costs one scan (memchr over
string contents) and one copy instead of a full encode, and what is not changed stays exactly as the client wrote
it (big integers keep every digit). Without the extension, with ``TRIAGE_NATIVE=0``, or whenever the bytes and the
document do not line up (a repeated top-level key, a byte-order mark), ``splice`` returns None and the caller
re-encodes the document instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Final

import orjson

Spans = tuple[tuple[int, int, int, int], ...]

# The load-time check: odd whitespace, a bracket and an escaped quote inside strings, nested objects, a number.
_CHECK_BODY: Final = b' {"a" : [1,"]\\\\\\"]"] ,"b":{"c":{}},"c":-1.5e3 }\r\n'
_CHECK_SPANS: Final = ((2, 5, 8, 20), (22, 25, 26, 34), (35, 38, 39, 45))


# The switch the native classifier reads too (``triage.classifier.native``), with the same values.
NATIVE_ENV: Final = "TRIAGE_NATIVE"
_OFF: Final = frozenset({"0", "false", "no", "off"})


def _load_scanner() -> Callable[[bytes, int], Spans | None] | None:
    """The C scanner, or None when it is switched off (``TRIAGE_NATIVE=0``), missing or fails its check."""
    if os.environ.get(NATIVE_ENV, "").strip().lower() in _OFF:
        return None
    try:
        from triage.requests import _jsonscan  # noqa: PLC0415 - optional extension
    except ImportError:
        return None
    if _jsonscan.members(_CHECK_BODY, 8) != _CHECK_SPANS or _jsonscan.members(b"[]", 8) is not None:
        return None
    return _jsonscan.members


_members: Final = _load_scanner()
NATIVE: Final = _members is not None  # read once at import


def encode_value(value: Any) -> bytes:
    """``value`` as compact JSON: orjson, or ``json`` for what orjson cannot encode (depth beyond 254 levels)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _same_key(body: bytes, start: int, end: int, key: str) -> bool:
    """Whether the key written at ``body[start:end]`` (quotes included) decodes to ``key``."""
    try:
        written = orjson.dumps(key)
        if end - start == len(written) and body.startswith(written, start):
            return True
        # written with escapes ("mod\\u0065l"), or not this key at all
        return bool(json.loads(body[start:end]) == key)
    except (TypeError, ValueError):
        return False


def splice(body: bytes, doc: dict[str, Any], model: str | None, values: dict[str, Any]) -> bytes | None:
    """``body`` with ``model`` as its first member and the top-level ``values`` set, or None when it cannot tell.

    ``body`` must be the bytes ``doc`` was decoded from. ``model`` (when not None) replaces the "model" member and
    moves it first; ``values`` (never "model") replace existing members where they are and are appended, in their
    order, when absent: the members and their order are those of ``doc`` after the same changes. Whenever the
    result starts with the "model" member it is written exactly ``{"model":`` (Envoy's per-attempt filter looks for
    that prefix). None when the scanner is off, the bytes are not one object, or their keys are not ``doc``'s
    keys in ``doc``'s order (a key written twice: decoders disagree about which one counts).
    """
    if _members is None:
        return None
    spans = _members(body, len(doc))
    if spans is None or len(spans) != len(doc):
        return None
    view = memoryview(body)
    model_first = model is not None or next(iter(doc), None) == "model"
    members: list[tuple[bytes | memoryview, ...]] = []  # the output's members, each as the pieces to join
    if model_first:
        members.append((b'"model":', encode_value(doc["model"] if model is None else model)))
    run = -1  # start of the current run of unchanged members, copied as one slice with their commas
    run_end = 0
    for (key_start, key_end, value_start, value_end), key in zip(spans, doc, strict=True):
        if not _same_key(body, key_start, key_end, key):
            return None
        if key not in values and not (model_first and key == "model"):
            if run < 0:
                run = key_start
            run_end = value_end
            continue
        if run >= 0:
            members.append((view[run:run_end],))
            run = -1
        if key in values:  # the key, the colon and the whitespace around it as written, then the new value
            members.append((view[key_start:value_start], encode_value(values[key])))
    if run >= 0:
        members.append((view[run:run_end],))
    members.extend((encode_value(key), b":", encode_value(value)) for key, value in values.items() if key not in doc)
    parts: list[bytes | memoryview] = [b"{"]
    for i, member in enumerate(members):
        if i:
            parts.append(b",")
        parts.extend(member)
    parts.append(b"}")
    return b"".join(parts)
