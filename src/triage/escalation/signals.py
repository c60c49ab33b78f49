"""An answer's response body → the ``Signals`` that speak to its quality, in bounded work.

What is read, per API (only the first choice of an OpenAI answer):

| signal       | OpenAI chat / completions                          | Anthropic messages                    |
|--------------|----------------------------------------------------|---------------------------------------|
| logprobs     | ``choices[0].logprobs.content[*].logprob`` (chat), | none (the API has no logprobs)        |
|              | ``choices[0].logprobs.token_logprobs`` (legacy)    |                                       |
| truncated    | ``finish_reason: "length"``                        | ``stop_reason: "max_tokens"``         |
| refusal      | ``message.refusal``, ``finish_reason:              | ``stop_reason: "refusal"``, a refusal |
|              | "content_filter"``, a refusal phrase               | phrase                                |
| hedge        | a hedge phrase (``triage.escalation.phrases``)     | the same                              |
| empty        | no text (a tool call is not empty)                 | the same                              |
| invalid_json | JSON output asked and the text is not an object or array                                   |
| short        | ``usage.completion_tokens`` (less reasoning tokens) or chars / 4, against the task's usual |

Every step past the one JSON decode of the body reads a bounded amount, whatever the answer's size: the text
through fixed windows (``BLANK_CHARS`` at the head, ``TAIL_CHARS`` at the end, at most ``MAX_JSON_CHARS`` for
the JSON check), at most ``MAX_PARTS`` content parts and at most ``MAX_LOGPROB_TOKENS`` logprobs (every k-th
token of a longer answer, so the whole answer is still sampled). Bodies over ``MAX_BODY_BYTES`` are not decoded.
``Signals.chars_read`` and ``LogprobStats.read`` say how much was read, so tests check the bound by construction.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from triage.escalation.phrases import normalize, scan

MAX_BODY_BYTES: Final = 4 * 1024 * 1024  # as ``triage.usage.MAX_JSON_BYTES``: beyond it, nothing is decoded
MAX_LOGPROB_TOKENS: Final = 512
MAX_PARTS: Final = 64
HEAD_CHARS: Final = 256  # refusals and hedges open an answer
TAIL_CHARS: Final = 128  # hedges may close it
# An answer with nothing but whitespace in its first BLANK_CHARS characters is empty: JSON modes are known to
# emit whitespace until the token limit, and an answer that starts so is degenerate whatever follows.
BLANK_CHARS: Final = 4096
MAX_JSON_CHARS: Final = 64 * 1024  # beyond this, JSON output is checked by its first and last characters only
CHARS_PER_TOKEN: Final = 4

# The model's inputs, in order; ``Signals.features`` returns them and ``triage.escalation.model.Weights`` has one
# coefficient per name. Doubts are 0 when absent; the logprob features are 0 when there are no logprobs.
FEATURES: Final[tuple[str, ...]] = (
    "has_logprobs",  # 1 when the answer carried token logprobs
    "logprob_mean",  # mean token logprob, clipped to [-5, 0]
    "logprob_min",  # lowest token logprob, clipped to [-10, 0]
    "low_share",  # share of tokens whose logprob is below the configured cut-off
    "truncated",
    "refusal",
    "hedge",
    "empty",
    "invalid_json",
    "short",  # 0..1: how far the answer falls below the task's short floor
    "unparsable",
)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the verifier needs to know about the request an answer is for.

    ``api``: the ``ApiSpec`` name (``openai.chat``, ``openai.completions``, ``anthropic.messages``).
    ``client_logprobs``: the client asked for logprobs itself (when not, logprobs in the answer are Triage's and
    must be stripped before the client sees it). ``json_output``: ``response_format`` asked for ``json_object``
    or ``json_schema``. ``task``: the classifier's top label. ``max_tokens``: the output bound sent upstream.
    """

    api: str
    client_logprobs: bool = False
    json_output: bool = False
    task: str | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class LogprobStats:
    """Token logprobs of an answer: ``tokens`` in the answer, of which ``read`` were read (evenly spread)."""

    tokens: int
    read: int
    mean: float
    minimum: float
    low_share: float


@dataclass(frozen=True, slots=True)
class Signals:
    """What an answer shows about its own quality. ``found`` names the signals present."""

    logprobs: LogprobStats | None = None
    truncated: bool = False
    refusal: bool = False
    hedge: bool = False
    empty: bool = False
    invalid_json: bool = False
    shortfall: float = 0.0  # 0..1, see ``read_signals``
    unparsable: bool = False
    too_large: bool = False  # not decoded (over MAX_BODY_BYTES): no evidence either way
    tool_calls: bool = False  # the answer calls tools (not a doubt: an empty text is then expected)
    output_tokens: int | None = None
    chars_read: int = 0

    @property
    def found(self) -> tuple[str, ...]:
        """The signals present, by name: ``logprobs``, ``truncated``, ``refusal``, ``hedge``, ``empty``,
        ``invalid_json``, ``short``, ``unparsable``, ``too_large``, ``tool_calls``."""
        flags = (
            ("logprobs", self.logprobs is not None),
            ("truncated", self.truncated),
            ("refusal", self.refusal),
            ("hedge", self.hedge),
            ("empty", self.empty),
            ("invalid_json", self.invalid_json),
            ("short", self.shortfall > 0),
            ("unparsable", self.unparsable),
            ("too_large", self.too_large),
            ("tool_calls", self.tool_calls),
        )
        return tuple(name for name, present in flags if present)

    def features(self) -> tuple[float, ...]:
        """The model's inputs, in ``FEATURES`` order."""
        lp = self.logprobs
        return (
            0.0 if lp is None else 1.0,
            0.0 if lp is None else min(0.0, max(-5.0, lp.mean)),
            0.0 if lp is None else min(0.0, max(-10.0, lp.minimum)),
            0.0 if lp is None else lp.low_share,
            float(self.truncated),
            float(self.refusal),
            float(self.hedge),
            float(self.empty),
            float(self.invalid_json),
            self.shortfall,
            float(self.unparsable),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for decision records and calibration data); ``from_dict`` reads it back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signals:
        """Read ``to_dict``'s form; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown signal field(s): {', '.join(unknown)}")
        values = dict(data)
        lp = values.get("logprobs")
        if isinstance(lp, Mapping):
            values["logprobs"] = LogprobStats(**lp)
        return cls(**values)


@dataclass(slots=True)
class _Answer:
    """The parts of one answer the signals are read from, whatever the API."""

    parts: list[str]
    finish: str | None = None
    refused: bool = False  # the API itself says so (a refusal field or stop reason)
    tool_calls: bool = False
    logprobs: Sequence[Any] | None = None  # the per-token logprob values, or the entries holding them
    logprob_key: str | None = None  # the key of each entry holding its value (None: the values themselves)
    output_tokens: int | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text_parts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):  # some OpenAI-compatible servers answer with typed parts
        return [p["text"] for p in content[:MAX_PARTS] if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return []


def _openai_tokens(doc: Mapping[str, Any]) -> int | None:
    usage = doc.get("usage")
    if not isinstance(usage, dict):
        return None
    tokens = _int(usage.get("completion_tokens"))
    details = usage.get("completion_tokens_details")
    reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    return None if tokens is None else max(0, tokens - (reasoning or 0))  # reasoning is not in the visible text


def _first_choice(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    choices = doc.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    return choices[0]


def _openai_chat(doc: Mapping[str, Any]) -> _Answer | None:
    choice = _first_choice(doc)
    message = None if choice is None else choice.get("message")
    if choice is None or not isinstance(message, dict):
        return None
    refusal = message.get("refusal")
    finish = choice.get("finish_reason")
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    return _Answer(
        parts=_text_parts(message.get("content")) or ([refusal] if isinstance(refusal, str) else []),
        finish=finish if isinstance(finish, str) else None,
        refused=(isinstance(refusal, str) and bool(refusal)) or finish == "content_filter",
        tool_calls=bool(message.get("tool_calls")) or bool(message.get("function_call")),
        logprobs=content if isinstance(content, list) else None,
        logprob_key="logprob",
        output_tokens=_openai_tokens(doc),
    )


def _openai_completions(doc: Mapping[str, Any]) -> _Answer | None:
    choice = _first_choice(doc)
    if choice is None or not isinstance(choice.get("text"), str):
        return None
    finish = choice.get("finish_reason")
    logprobs = choice.get("logprobs")
    values = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
    return _Answer(
        parts=[choice["text"]],
        finish=finish if isinstance(finish, str) else None,
        refused=finish == "content_filter",
        logprobs=values if isinstance(values, list) else None,
        output_tokens=_openai_tokens(doc),
    )


def _anthropic_messages(doc: Mapping[str, Any]) -> _Answer | None:
    content = doc.get("content")
    if doc.get("type") != "message" or not isinstance(content, list):
        return None
    blocks = [b for b in content[:MAX_PARTS] if isinstance(b, dict)]
    stop = doc.get("stop_reason")
    usage = doc.get("usage")
    return _Answer(
        parts=[b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)],
        finish="length" if stop in ("max_tokens", "model_context_window_exceeded") else None,
        refused=stop == "refusal",
        tool_calls=any(b.get("type") == "tool_use" for b in blocks),
        output_tokens=_int(usage.get("output_tokens")) if isinstance(usage, dict) else None,
    )


_Reader = Callable[[Mapping[str, Any]], "_Answer | None"]
_READERS: Final[Mapping[str, _Reader]] = {
    "openai.chat": _openai_chat,
    "openai.completions": _openai_completions,
    "anthropic.messages": _anthropic_messages,
}


def _sniff(doc: Mapping[str, Any]) -> _Answer | None:
    """An answer of an API Triage has no name for: read by its shape."""
    if "choices" in doc:
        return _openai_chat(doc) or _openai_completions(doc)
    return _anthropic_messages(doc)


def _head(parts: Sequence[str], size: int) -> str:
    """The first ``size`` characters of the joined ``parts``, touching only the parts it needs."""
    if len(parts) == 1:
        return parts[0][:size]
    out: list[str] = []
    need = size
    for p in parts:
        if need <= 0:
            break
        out.append(p[:need])
        need -= len(out[-1])
    return "".join(out)


def _tail(parts: Sequence[str], size: int) -> str:
    if len(parts) == 1:
        return parts[0][-size:]
    out: list[str] = []
    need = size
    for p in reversed(parts):
        if need <= 0:
            break
        out.append(p[-need:])
        need -= len(out[-1])
    return "".join(reversed(out))


def _numbers(values: Sequence[Any]) -> list[float]:
    """The numbers among ``values`` (the slow path, for logprobs that are not all numbers)."""
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _logprob_stats(entries: Sequence[Any], key: str | None, low_logprob: float) -> LogprobStats | None:
    step = -(-len(entries) // MAX_LOGPROB_TOKENS) or 1
    sample = entries[::step] if step > 1 else entries
    # Sorted once: the minimum and the share below the cut-off then cost nothing more (half the cost of min()
    # plus a filtered count). Any value that is not a number raises TypeError in sorted() or sum().
    try:
        values = [e[key] for e in sample] if key is not None else list(sample)
        values.sort()
        total = sum(values)
    except (TypeError, KeyError, IndexError):
        values = sorted(_numbers([e.get(key) if isinstance(e, dict) else None for e in sample] if key else sample))
        total = sum(values)
    if not values:
        return None
    return LogprobStats(
        tokens=len(entries),
        read=len(sample),
        mean=min(0.0, total / len(values)),
        minimum=min(0.0, values[0]),
        low_share=bisect.bisect_left(values, low_logprob) / len(values),
    )


def _json_ok(parts: Sequence[str], total: int, lead: str, tail: str) -> tuple[bool, int]:
    """(valid, chars read): a JSON object or array, decoded when small, else judged by its first and last characters."""
    if total <= MAX_JSON_CHARS:
        try:
            value = orjson.loads("".join(parts))
        except orjson.JSONDecodeError:
            return False, total
        return isinstance(value, dict | list), total
    first, last = lead.lstrip()[:1], tail.rstrip()[-1:]
    return (first, last) in (("{", "}"), ("[", "]")), 0


def read_signals(
    body: bytes,
    facts: RequestFacts,
    *,
    expected_tokens: int,
    low_logprob: float,
    short_ratio: float,
) -> Signals:
    """Read the ``Signals`` of one non-streaming answer ``body`` (see ``read_document``). Never raises."""
    if len(body) > MAX_BODY_BYTES:
        return Signals(too_large=True)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Signals(unparsable=True)
    return read_document(doc, facts, expected_tokens=expected_tokens, low_logprob=low_logprob, short_ratio=short_ratio)


def read_document(
    doc: Any,
    facts: RequestFacts,
    *,
    expected_tokens: int,
    low_logprob: float,
    short_ratio: float,
) -> Signals:
    """Read the ``Signals`` of one answer already decoded from JSON (``doc``, any value). Never raises.

    ``expected_tokens``: the task's usual answer length (bounded by ``facts.max_tokens``); an answer of fewer than
    ``short_ratio`` times that many tokens is short, by ``shortfall = 1 - tokens / floor`` (0 at the floor, near 1
    for a one-token answer). ``low_logprob``: the cut-off under which a token counts in ``low_share``.
    """
    if not isinstance(doc, dict):
        return Signals(unparsable=True)
    reader = _READERS.get(facts.api, _sniff)
    answer = reader(doc)
    if answer is None:
        return Signals(unparsable=True)
    parts = answer.parts[:MAX_PARTS]
    total = sum(len(p) for p in parts)
    lead = _head(parts, BLANK_CHARS)
    tail = _tail(parts, TAIL_CHARS) if total > HEAD_CHARS else ""  # what the head window does not cover
    chars_read = len(lead) + len(tail)
    empty = not answer.tool_calls and not answer.refused and not lead.strip()
    refusal, hedge = scan(normalize(lead.lstrip()[:HEAD_CHARS]), normalize(tail))
    invalid_json = False
    if facts.json_output and not empty and not answer.refused and not answer.tool_calls:
        valid, read = _json_ok(parts, total, lead, tail)
        invalid_json, chars_read = not valid, chars_read + read
    tokens = answer.output_tokens if answer.output_tokens is not None else -(-total // CHARS_PER_TOKEN)
    truncated = answer.finish == "length"
    shortfall = 0.0
    if not (empty or truncated or answer.tool_calls):
        expected = expected_tokens if facts.max_tokens is None else min(expected_tokens, max(facts.max_tokens, 1))
        floor = short_ratio * expected
        shortfall = max(0.0, 1.0 - tokens / floor) if floor > 0 else 0.0
    stats = None
    if answer.logprobs:
        stats = _logprob_stats(answer.logprobs, answer.logprob_key, low_logprob)
    return Signals(
        logprobs=stats,
        truncated=truncated,
        refusal=answer.refused or refusal,
        hedge=hedge,
        empty=empty,
        invalid_json=invalid_json,
        shortfall=shortfall,
        tool_calls=answer.tool_calls,
        output_tokens=tokens,
        chars_read=chars_read,
    )
