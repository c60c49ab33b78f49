"""The splice rewrite: the C scanner's member spans, the edge cases of putting members back together, and a
differential run against the full re-encode over thousands of generated bodies."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import orjson
import pytest

from triage.errors import ClientError
from triage.requests import (
    ANTHROPIC_MESSAGES,
    OPENAI_CHAT,
    OPENAI_COMPLETIONS,
    ApiSpec,
    ParsedRequest,
    RoutingInput,
    decode_json,
    parse_request,
)
from triage.requests import splice as splice_module
from triage.requests.rewrite import plan_edits
from triage.requests.splice import splice

jsonscan: ModuleType | None
try:
    from triage.requests import _jsonscan as jsonscan
except ImportError:  # built without a C compiler: the splice is off, the re-encode tests still run
    jsonscan = None

needs_scanner = pytest.mark.skipif(jsonscan is None, reason="triage.requests._jsonscan is not built")
needs_native = pytest.mark.skipif(not splice_module.NATIVE, reason="the splice is off (no extension, TRIAGE_NATIVE=0)")


# -- the re-encode as it was before the splice: the reference every output is compared with ---------------------


def reencode_rewrite(
    parsed: ParsedRequest, *, model: str | None, include_usage: bool, max_tokens_cap: int | None
) -> bytes | None:
    """``rewrite_body`` before the splice, kept verbatim: the oracle for the splice and the re-encode path."""
    doc: dict[str, Any] = parsed.doc
    spec = parsed.spec
    changed = False
    if model is not None and (doc.get("model") != model or next(iter(doc), None) != "model"):
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
    except TypeError:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _as_orjson_reads(text: str) -> int | float:
    """An integer as orjson decodes it: beyond 64 bits it becomes a float (what the re-encode writes back)."""
    value = int(text)
    return value if -(2**63) <= value < 2**64 else float(text)


def load_strict(body: bytes) -> Any:
    """``body`` decoded by a strict decoder (no NaN, no control characters in strings), big integers as orjson."""
    return json.loads(body, parse_constant=_reject_constant, parse_int=_as_orjson_reads)


def assert_same_rewrite(out: bytes, reference: bytes, *, model: str | None) -> None:
    """``out`` says what ``reference`` says, members in the same order, ``{"model":`` first when a model is set."""
    got, want = load_strict(out), load_strict(reference)
    assert got == want
    assert list(got) == list(want)
    assert out.startswith(b'{"model":') == reference.startswith(b'{"model":')
    if model is not None:
        assert out.startswith(b'{"model":' + orjson.dumps(model))


# -- the scanner ----------------------------------------------------------------------------------------------


def _members(body: bytes, limit: int = 100) -> list[tuple[bytes, bytes]] | None:
    assert jsonscan is not None
    spans = jsonscan.members(body, limit)
    return None if spans is None else [(body[ks:ke], body[vs:ve]) for ks, ke, vs, ve in spans]


SCAN_CASES: list[tuple[str, bytes, list[tuple[bytes, bytes]]]] = [
    ("empty-object", b"{}", []),
    ("empty-object-spaced", b" \t\r\n{ \n }\r\n", []),
    ("one-member", b'{"a":1}', [(b'"a"', b"1")]),
    ("spaced", b'{ "a" : 1 , "b"\t:\n"x" }', [(b'"a"', b"1"), (b'"b"', b'"x"')]),
    ("literals", b'{"t":true,"f":false,"n":null}', [(b'"t"', b"true"), (b'"f"', b"false"), (b'"n"', b"null")]),
    (
        "numbers",
        b'{"a":-0.5e+10,"b":1E-3,"c":123456789012345678901234567890}',
        [
            (b'"a"', b"-0.5e+10"),
            (b'"b"', b"1E-3"),
            (b'"c"', b"123456789012345678901234567890"),
        ],
    ),
    ("escaped-quote-in-value", b'{"a":"x\\"}","b":2}', [(b'"a"', b'"x\\"}"'), (b'"b"', b"2")]),
    ("escaped-backslash-before-quote", b'{"a":"x\\\\","b":2}', [(b'"a"', b'"x\\\\"'), (b'"b"', b"2")]),
    ("three-backslashes", b'{"a":"\\\\\\"","b":2}', [(b'"a"', b'"\\\\\\""'), (b'"b"', b"2")]),
    ("escaped-key", b'{"mod\\u0065l":"m"}', [(b'"mod\\u0065l"', b'"m"')]),
    ("key-with-escaped-quote", b'{"a\\"b":1}', [(b'"a\\"b"', b"1")]),
    ("brackets-in-strings", b'{"a":["]}",{"b":"{["}],"c":{}}', [(b'"a"', b'["]}",{"b":"{["}]'), (b'"c"', b"{}")]),
    ("nested-model", b'{"m":[{"model":"x"}],"model":"y"}', [(b'"m"', b'[{"model":"x"}]'), (b'"model"', b'"y"')]),
    ("utf8", '{"ключ":"日本語 🎉"}'.encode(), [('"ключ"'.encode(), '"日本語 🎉"'.encode())]),
    ("deep", b'{"d":' + b"[" * 2000 + b"]" * 2000 + b"}", [(b'"d"', b"[" * 2000 + b"]" * 2000)]),
    ("duplicates", b'{"a":1,"a":2}', [(b'"a"', b"1"), (b'"a"', b"2")]),
]


@needs_scanner
@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in SCAN_CASES], ids=[c[0] for c in SCAN_CASES])
def test_members_spans(body: bytes, expected: list[tuple[bytes, bytes]]) -> None:
    assert _members(body) == expected


SCAN_REJECTS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("whitespace", b" \n"),
    ("array", b"[1]"),
    ("string", b'"{}"'),
    ("number", b"1"),
    ("byte-order-mark", b'\xef\xbb\xbf{"a":1}'),
    ("trailing-garbage", b'{"a":1}x'),
    ("two-objects", b"{}{}"),
    ("unterminated-object", b'{"a":1'),
    ("unterminated-string", b'{"a":"x}'),
    ("escaped-closing-quote", b'{"a":"x\\"}'),
    ("unterminated-nesting", b'{"a":[1,{"b":2]}'),
    ("mismatched-brackets", b'{"a":[}'),
    ("stray-closer", b'{"a":]}'),
    ("trailing-comma", b'{"a":1,}'),
    ("missing-colon", b'{"a" 1}'),
    ("missing-value", b'{"a":}'),
    ("bare-key", b"{a:1}"),
    ("missing-comma", b'{"a":1 "b":2}'),
    ("too-deep", b'{"d":' + b"[" * 5000 + b"]" * 5000 + b"}"),
]


@needs_scanner
@pytest.mark.parametrize("body", [c[1] for c in SCAN_REJECTS], ids=[c[0] for c in SCAN_REJECTS])
def test_members_rejects_what_is_not_one_object(body: bytes) -> None:
    assert _members(body) is None


@needs_scanner
@pytest.mark.parametrize(("limit", "found"), [(0, False), (2, False), (3, True), (4, True)], ids=["0", "2", "3", "4"])
def test_members_stops_beyond_the_limit(limit: int, found: bool) -> None:
    assert (_members(b'{"a":1,"b":2,"a":3}', limit) is not None) == found


@needs_scanner
def test_members_large_body_scanned_without_the_gil() -> None:
    """Above the size where the scan runs without the GIL, the spans are the same."""
    text = "x" * (1 << 20)
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": text}], "n": 1})
    spans = _members(body)
    assert spans is not None
    assert [k for k, _ in spans] == [b'"model"', b'"messages"', b'"n"']
    assert json.loads(spans[1][1]) == [{"role": "user", "content": text}]


@needs_scanner
def test_members_every_truncation_is_rejected() -> None:
    body = b'{"a" : [1, {"b": "x\\\\\\"y"}], "c":"\xc3\xa9", "d" :-1.5E+3, "e":true}'
    assert _members(body) is not None
    for end in range(len(body)):
        assert _members(body[:end]) is None, body[:end]


@needs_scanner
def test_members_spans_stay_inside_mangled_bodies() -> None:
    """Whatever the bytes, the spans found are in order and inside the body (the scan trusts no input)."""
    assert jsonscan is not None
    gen = BodyGen(5)
    rng = gen.rng
    for _ in range(2000):
        body = bytearray(gen.body(OPENAI_CHAT)[0])
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(body))
            if rng.random() < 0.5:
                body[at] = rng.choice(b'{}[]",:\\ x1')
            else:
                del body[at]
        spans = jsonscan.members(bytes(body), 1000)
        previous = 0
        for key_start, key_end, value_start, value_end in spans or ():
            assert previous <= key_start < key_end <= value_start < value_end <= len(body)
            assert body[key_start] == body[key_end - 1] == ord('"')
            previous = value_end


@needs_scanner
@pytest.mark.parametrize(
    "args", [(), (b"{}",), (b"{}", 1, 2), ("{}", 1), (b"{}", -1)], ids=["0", "1", "3", "str", "neg"]
)
def test_members_rejects_bad_arguments(args: tuple[Any, ...]) -> None:
    assert jsonscan is not None
    with pytest.raises((TypeError, ValueError)):
        jsonscan.members(*args)


# -- the splice: edge cases --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    body: bytes
    expected: bytes | None  # None: the splice declines (the caller re-encodes)
    spec: ApiSpec = OPENAI_CHAT
    model: str | None = "m"
    include_usage: bool = True
    cap: int | None = None


EDGE_CASES: list[Case] = [
    Case("model-replaced-first", b'{"model":"a","messages":[]}', b'{"model":"m","messages":[]}'),
    Case("model-absent", b'{"messages":[1]}', b'{"model":"m","messages":[1]}'),
    Case("model-last-spaced", b'{ "a" : 1 , "model" : "x" }', b'{"model":"m","a" : 1}'),
    Case("model-middle", b'{"a":1, "model":"x" ,\n"b":2}', b'{"model":"m","a":1,"b":2}'),
    Case("model-only", b'{"model":"x"}', b'{"model":"m"}'),
    Case("model-only-spaced", b' {\n\t"model" :\r\n "x"\n}\n', b'{"model":"m"}'),
    Case("model-null", b'{"a":1,"model":null}', b'{"model":"m","a":1}'),
    Case("single-other-member", b'{"a":1}', b'{"model":"m","a":1}'),
    Case("empty-object", b"{}", b'{"model":"m"}'),
    Case("empty-object-spaced", b"{ \n }", b'{"model":"m"}'),
    Case("escaped-model-key", b'{"a":1,"mod\\u0065l":"x"}', b'{"model":"m","a":1}'),
    Case("escaped-model-value", b'{"model":"\\u006d","a":1}', b'{"model":"m","a":1,"max_tokens":5}', model=None, cap=5),
    Case(
        "model-in-messages-and-strings",
        b'{"messages":[{"model":"n","content":"\\"model\\":\\"y\\""}],"model":"x"}',
        b'{"model":"m","messages":[{"model":"n","content":"\\"model\\":\\"y\\""}]}',
    ),
    Case("new-model-escaped", b'{"a":1}', b'{"model":"\\"q\\" \xc3\xa9","a":1}', model='"q" é'),
    Case("same-model-first-unchanged", b'{"model":"m","a":1}', None, cap=None),
    Case(
        "same-model-first-respaced", b'{ "model" : "m", "max_tokens": 5000 }', b'{"model":"m","max_tokens": 9}', cap=9
    ),
    Case("same-model-not-first", b'{"a":1,"model":"m"}', b'{"model":"m","a":1}'),
    Case("no-model-asked", b'{"a":1,"max_tokens":50}', b'{"a":1,"max_tokens":9}', model=None, cap=9),
    Case(
        "no-model-asked-model-not-first",
        b'{"a":1,"model":"x"}',
        b'{"a":1,"model":"x","max_tokens":9}',
        model=None,
        cap=9,
    ),
    Case("duplicate-model", b'{"model":"a","model":"b"}', None),
    Case("duplicate-other-key", b'{"a":1,"model":"x","a":2}', None),
    Case("byte-order-mark", b'\xef\xbb\xbf{"a":1}', None),
    Case(
        "big-int-kept",
        b'{"n":123456789012345678901234567890,"model":"x"}',
        b'{"model":"m","n":123456789012345678901234567890}',
    ),
    # stream_options
    Case(
        "stream-options-added",
        b'{"model":"m","stream":true}',
        b'{"model":"m","stream":true,"stream_options":{"include_usage":true}}',
    ),
    Case(
        "stream-options-null-replaced-in-place",
        b'{"stream":true,"stream_options" : null,"x":1}',
        b'{"model":"m","stream":true,"stream_options" : {"include_usage":true},"x":1}',
    ),
    Case(
        "stream-options-without-include-usage",
        b'{"stream":true,"stream_options": {"a" : 1},"x":1}',
        b'{"model":"m","stream":true,"stream_options": {"a":1,"include_usage":true},"x":1}',
    ),
    Case(
        "stream-options-include-usage-false",
        b'{"stream":true,"stream_options":{"include_usage" : false}}',
        b'{"model":"m","stream":true,"stream_options":{"include_usage" : false}}',
    ),
    Case(
        "stream-options-not-an-object",
        b'{"stream":true,"stream_options":"x"}',
        b'{"model":"m","stream":true,"stream_options":"x"}',
    ),
    Case("not-streaming", b'{"stream":false}', b'{"model":"m","stream":false}'),
    Case("stream-not-true", b'{"stream":"yes"}', b'{"model":"m","stream":"yes"}'),
    Case("usage-not-asked", b'{"stream":true}', b'{"model":"m","stream":true}', include_usage=False),
    Case(
        "completions-stream",
        b'{"prompt":"p","stream":true}',
        b'{"model":"m","prompt":"p","stream":true,"stream_options":{"include_usage":true}}',
        spec=OPENAI_COMPLETIONS,
    ),
    Case("anthropic-never-stream-options", b'{"stream":true}', b'{"model":"m","stream":true}', spec=ANTHROPIC_MESSAGES),
    # max tokens
    Case("max-tokens-absent-added", b'{"model":"m"}', b'{"model":"m","max_tokens":9}', cap=9),
    Case("max-tokens-over-cap", b'{"max_tokens" :  5000,"model":"m"}', b'{"model":"m","max_tokens" :  9}', cap=9),
    Case("max-tokens-under-cap", b'{"model":"m","max_tokens":5}', None, cap=9),
    Case("max-tokens-equal-cap", b'{"model":"m","max_tokens":9}', None, cap=9),
    Case("max-tokens-string", b'{"model":"m","max_tokens":"lots"}', b'{"model":"m","max_tokens":9}', cap=9),
    Case("max-tokens-float", b'{"model":"m","max_tokens":5.0}', b'{"model":"m","max_tokens":9}', cap=9),
    Case("max-tokens-bool", b'{"model":"m","max_tokens":true}', b'{"model":"m","max_tokens":9}', cap=9),
    Case(
        "max-tokens-big-int",
        b'{"model":"m","max_tokens":123456789012345678901234567890}',
        b'{"model":"m","max_tokens":9}',
        cap=9,
    ),
    Case(
        "max-tokens-null-replaced",
        b'{"max_tokens":null,"model":"m","a":1}',
        b'{"model":"m","max_tokens":9,"a":1}',
        cap=9,
    ),
    Case(
        "completion-key-over-cap",
        b'{"model":"m","max_completion_tokens":500}',
        b'{"model":"m","max_completion_tokens":9}',
        cap=9,
    ),
    Case(
        "completion-key-present-max-tokens-null",
        b'{"model":"m","max_tokens":null,"max_completion_tokens":500}',
        b'{"model":"m","max_tokens":null,"max_completion_tokens":9}',
        cap=9,
    ),
    Case(
        "both-keys-over-cap",
        b'{"model":"m","max_completion_tokens":500,"max_tokens":600}',
        b'{"model":"m","max_completion_tokens":9,"max_tokens":9}',
        cap=9,
    ),
    Case(
        "completion-key-null-max-tokens-added",
        b'{"model":"m","max_completion_tokens":null}',
        b'{"model":"m","max_completion_tokens":null,"max_tokens":9}',
        cap=9,
    ),
    Case(
        "anthropic-over-cap",
        b'{"max_tokens":8192,"model":"x"}',
        b'{"model":"m","max_tokens":9}',
        spec=ANTHROPIC_MESSAGES,
        cap=9,
    ),
    Case(
        "anthropic-completion-key-ignored",
        b'{"max_completion_tokens":8192}',
        b'{"model":"m","max_completion_tokens":8192,"max_tokens":9}',
        spec=ANTHROPIC_MESSAGES,
        cap=9,
    ),
    Case(
        "completions-over-cap",
        b'{"max_tokens":100,"prompt":"p"}',
        b'{"model":"m","max_tokens":9,"prompt":"p"}',
        spec=OPENAI_COMPLETIONS,
        cap=9,
    ),
    Case(
        "everything-appended-in-order",
        b'{"stream":true}',
        b'{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":9}',
        cap=9,
    ),
]


def _parsed(case: Case) -> ParsedRequest:
    """``case.body`` decoded as the parser decodes it (bodies here need no messages: no ``parse_request``)."""
    doc = decode_json(case.body)
    return ParsedRequest(case.spec, doc, RoutingInput(api=case.spec.name, prompt="", stream=doc.get("stream") is True))


def _planned_splice(case: Case) -> tuple[bytes | None, bytes | None]:
    """(the splice's output, the reference re-encode's output) for ``case``; (None, None) when nothing changes."""
    parsed = _parsed(case)
    kwargs: dict[str, Any] = {"model": case.model, "include_usage": case.include_usage, "max_tokens_cap": case.cap}
    edits = plan_edits(parsed.doc, case.spec, parsed.input.stream, **kwargs)
    reference = reencode_rewrite(_parsed(case), **kwargs)
    assert (edits is None) == (reference is None)
    if edits is None:
        return None, None
    return splice(case.body, parsed.doc, *edits), reference


@needs_native
@pytest.mark.parametrize("case", EDGE_CASES, ids=[c.id for c in EDGE_CASES])
def test_splice_edge_cases(case: Case) -> None:
    out, reference = _planned_splice(case)
    assert out == case.expected
    if out is not None:
        assert reference is not None
        assert_same_rewrite(out, reference, model=case.model)


def test_splice_declines_without_the_scanner_or_when_nothing_lines_up() -> None:
    doc = {"a": 1}
    if not splice_module.NATIVE:
        assert splice(b'{"a":1}', doc, "m", {}) is None
        return
    assert splice(b'{"a":1}', doc, "m", {}) == b'{"model":"m","a":1}'
    assert splice(b'{"b":1}', doc, "m", {}) is None  # not the document's key
    assert splice(b'{"a":1,"b":2}', doc, "m", {}) is None  # more members than keys
    assert splice(b"[1]", doc, "m", {}) is None


# -- the splice: differential against the re-encode -------------------------------------------------------------

_WORDS = ("hello", "model", "Model", "stream", "max_tokens", "x", "", "a b", "1", "true", "null")
_PIECES = (
    '"model":"x"',
    '{"model": "y"}',
    '\\"',
    "\\",
    '"',
    "\\u0065",
    "é",
    "日本語",
    "ключ",
    "🎉",
    "𝄞",
    "\n",
    "\t",
    "\r",
    "\x01",
    "\x1f",
    "\u2028",
    "\u00a0",
    "\ufeff",
    "/",
    "}",
    "]",
    "{",
    "[",
    ",",
    ":",
)
_EXTRA_KEYS = ("hello", "Model", "x", "", "a b", "1", "true", "null", "model_x", "mode", "temperature", "métadonnées")
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


class BodyGen:
    """Random request bodies written by hand: any whitespace, escapes anywhere, every number form."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def ws(self) -> str:
        return self.rng.choice(("", "", "", "", " ", "\n", "\t", "\r\n", " \t\n  "))

    def _hex(self, code: int) -> str:
        text = f"\\u{code:04x}"
        return text.upper().replace("\\U", "\\u") if self.rng.random() < 0.5 else text

    def string(self, text: str) -> str:
        out = ['"']
        for ch in text:
            code = ord(ch)
            escape = self.rng.random() < 0.15
            if ch in _SHORT_ESCAPES and (code < 0x20 or ch in '"\\'):
                out.append(_SHORT_ESCAPES[ch] if not escape else self._hex(code))
            elif code < 0x20:
                out.append(self._hex(code))
            elif not escape:
                out.append(ch)
            elif ch == "/":
                out.append("\\/")
            elif code > 0xFFFF:  # an escaped surrogate pair
                code -= 0x10000
                out.append(self._hex(0xD800 + (code >> 10)) + self._hex(0xDC00 + (code & 0x3FF)))
            else:
                out.append(self._hex(code))
        out.append('"')
        return "".join(out)

    def text(self) -> str:
        rng = self.rng
        return "".join(
            rng.choice(_PIECES) if rng.random() < 0.5 else rng.choice(_WORDS) for _ in range(rng.randrange(6))
        )

    def number(self) -> str:
        rng = self.rng
        kind = rng.randrange(7)
        if kind == 0:
            return rng.choice(("0", "-0", "1", "-1"))
        if kind == 1:
            return str(rng.randrange(-(2**70), 2**70))
        if kind == 2:  # beyond 64 bits: orjson reads a float, the splice keeps the digits
            return str(rng.choice((1, -1)) * rng.randrange(2**64, 2**100))
        if kind == 3:
            return f"{rng.randrange(-999, 999)}.{rng.randrange(1000):03d}"
        exponent = rng.choice(("e", "E")) + rng.choice(("", "+", "-")) + str(rng.randrange(0, 30))
        mantissa = rng.choice(("1", "-2", "0", "12.5", "-0.25", "3.0"))
        return mantissa + exponent

    def scalar(self) -> str:
        rng = self.rng
        kind = rng.randrange(4)
        if kind == 0:
            return self.string(self.text())
        if kind == 1:
            return self.number()
        return rng.choice(("true", "false", "null"))

    def value(self, depth: int = 0) -> str:
        rng = self.rng
        if depth > 3 or rng.random() < 0.5:
            return self.scalar()
        if rng.random() < 0.5:
            return self.array([self.value(depth + 1) for _ in range(rng.randrange(4))])
        members = [(self.string(self.text()), self.value(depth + 1)) for _ in range(rng.randrange(4))]
        if members and rng.random() < 0.1:  # a repeated key inside: decoders keep the last one
            members.append((members[0][0], self.value(depth + 1)))
        return self.object(members)

    def deep(self) -> str:
        """Nesting deeper than orjson writes (254 levels): the re-encode falls back to ``json``."""
        depth = self.rng.randrange(255, 400)
        return "[" * depth + self.scalar() + "]" * depth

    def array(self, items: list[str]) -> str:
        if not items:
            return "[" + self.ws() + "]"
        return "[" + ",".join(self.ws() + item + self.ws() for item in items) + "]"

    def object(self, members: list[tuple[str, str]]) -> str:
        if not members:
            return "{" + self.ws() + "}"
        return "{" + ",".join(self.ws() + k + self.ws() + ":" + self.ws() + v + self.ws() for k, v in members) + "}"

    def message(self) -> str:
        rng = self.rng
        role = self.string(rng.choice(("user", "assistant", "system")))
        if rng.random() < 0.7:
            content = self.string(self.text())
        else:
            parts = [
                self.object(
                    [(self.string("type"), self.string("text")), (self.string("text"), self.string(self.text()))]
                )
            ]
            content = self.array(parts)
        members = [(self.string("role"), role), (self.string("content"), content)]
        if rng.random() < 0.2:
            members.append((self.string("model"), self.string(self.text())))
        return self.object(members)

    def body(self, spec: ApiSpec) -> tuple[bytes, bool]:
        """A body for ``spec`` and whether a top-level key is repeated in it."""
        rng = self.rng
        members: list[tuple[str, str]] = []
        if spec.prompt_key is not None:
            prompt = self.string(self.text() + "p")
            members.append((self.string("prompt"), prompt if rng.random() < 0.5 else self.array([prompt])))
        else:
            messages = [self.message() for _ in range(rng.randrange(1, 4))]
            members.append((self.string("messages"), self.array(messages)))
        if rng.random() < 0.8:
            name = rng.choice(("auto", "gpt-4o", "m", "modèle 🎉", 'q"uote'))
            members.append((self.string("model"), self.string(name) if rng.random() < 0.9 else "null"))
        if rng.random() < 0.7:
            members.append((self.string("stream"), rng.choice(("true", "true", "false", "null", '"yes"'))))
        if rng.random() < 0.5:
            options = rng.choice(
                ("null", "{}", '{"include_usage":false}', '{"include_usage":true}', '"x"', "[1]", "{}")
            )
            if options == "{}" and rng.random() < 0.5:
                options = self.object([(self.string("x"), self.value()), (self.string("y"), self.number())])
            members.append((self.string("stream_options"), options))
        for key in dict.fromkeys((*spec.max_tokens_keys, "max_completion_tokens")):
            if rng.random() < 0.4:
                value = rng.choice(("5", "100", "5000", "null", '"lots"', "true", "1.5", "-3", str(2**70)))
                members.append((self.string(key), value))
        for name in rng.sample(_EXTRA_KEYS, rng.randrange(5)):
            members.append((self.string(name), self.value()))
        if rng.random() < 0.05:
            members.append((self.string("deep"), self.deep()))
        rng.shuffle(members)
        if rng.random() < 0.05:
            members.insert(rng.randrange(len(members) + 1), rng.choice(members))
        repeated = len({json.loads(key) for key, _ in members}) < len(members)  # also by chance: "model" twice
        text = self.ws() + self.object(members) + self.ws()
        return text.encode("utf-8"), repeated


def _parse_or_none(body: bytes, spec: ApiSpec) -> ParsedRequest | None:
    try:
        return parse_request(body, spec, "application/json")
    except ClientError:
        return None


@dataclass
class Tally:
    spliced: int = 0
    unchanged: int = 0
    declined: int = 0
    rejected: int = 0


def run_differential(seed: int, n: int) -> Tally:
    """Splice ``n`` generated bodies and compare each with the reference re-encode."""
    gen = BodyGen(seed)
    rng = gen.rng
    tally = Tally()
    specs = (OPENAI_CHAT, OPENAI_COMPLETIONS, ANTHROPIC_MESSAGES)
    for _ in range(n):
        spec = rng.choice(specs)
        body, repeated = gen.body(spec)
        parsed = _parse_or_none(body, spec)
        if parsed is None:
            tally.rejected += 1
            continue
        model = rng.choice((None, "gpt-4o", "m", "auto", 'modèle "x" 🎉', "a\u2028b"))
        include_usage = rng.random() < 0.8
        cap = rng.choice((None, 1, 100, 1024))
        edits = plan_edits(
            parsed.doc, spec, parsed.input.stream, model=model, include_usage=include_usage, max_tokens_cap=cap
        )
        fresh = parse_request(body, spec, "application/json")
        reference = reencode_rewrite(fresh, model=model, include_usage=include_usage, max_tokens_cap=cap)
        assert (edits is None) == (reference is None), body
        if edits is None or reference is None:
            tally.unchanged += 1
            continue
        out = splice(body, parsed.doc, *edits)
        if out is None:
            assert repeated, body
            tally.declined += 1
            continue
        assert not repeated, body
        assert_same_rewrite(out, reference, model=model)
        tally.spliced += 1
    return tally


@needs_native
@pytest.mark.parametrize("seed", [1, 2, 3], ids=["seed-1", "seed-2", "seed-3"])
def test_splice_differential_against_the_reencode(seed: int) -> None:
    tally = run_differential(seed, 1500)
    assert tally.rejected == 0
    assert tally.spliced > 1000
    assert tally.declined > 0


def test_splice_generator_covers_what_it_claims() -> None:
    """The generated bodies contain the hard parts (else the differential proves little)."""
    gen = BodyGen(7)
    bodies = b"".join(gen.body(OPENAI_CHAT)[0] for _ in range(400))
    for needle in (b"\\u", b"\\ud", b"\\\\", b'\\"', b"\t", b"\r\n", "🎉".encode(), b"E+", b"e-", b"[" * 255):
        assert needle in bodies, needle
    assert re.search(rb"[^.\d]\d{21,}[^.\deE]", bodies)  # an integer beyond 64 bits
