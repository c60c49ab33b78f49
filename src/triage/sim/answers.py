"""Answer knobs: how confident a fake provider's answer looks, and the token logprobs it reports when asked.

An ``Answer`` changes the content of a normal 200 answer, never its HTTP shape: it rides on a ``Fault``
(``Fault(answer=Answer(...))``), so the fault script's selection rules (``times``, ``every``, ``probability``)
decide which requests get it, and ``reset_faults`` / ``DELETE /_sim/faults`` restore plain answers.

Knobs (at most one of ``text``, ``refusal``, ``empty``, ``invalid_json``; ``words`` only with none of them):

    finish_reason   "stop" or "length" whatever the answer's length (Anthropic: end_turn / max_tokens)
    refusal         answer with this refusal text; an OpenAI chat request asking for ``json_schema`` output gets
                    it in ``message.refusal`` with ``content: null``, as OpenAI's structured outputs do
    empty           answer with no text at all
    invalid_json    answer with a JSON object cut short (``{"answer": "[p/m] amber basin``)
    words           the answer's length in words, instead of the provider's ``words`` (a short answer)
    text            answer with exactly this text (a hedge, a custom refusal, some JSON ...)
    logprob_mean    the mean token logprob reported when the request asks for logprobs (default -0.1)

Without knobs a request asking for JSON output (``response_format`` ``json_object`` / ``json_schema``) gets
``{"answer": "<the usual text>"}``, valid JSON as a real model in JSON mode answers (cut short, and so invalid,
when ``max_tokens`` cuts the answer).

Logprobs follow OpenAI: returned only when an OpenAI chat request says ``"logprobs": true``, as
``choices[0].logprobs.content`` (one ``{token, logprob, bytes, top_logprobs}`` per token, ``top_logprobs``
holding ``top_logprobs`` alternatives when the request asks), and in every streamed content chunk. Tokens are
the answer's pieces (one per word); their logprobs are deterministic, spread around ``logprob_mean`` (between
1/4 and 7/4 of it) with exactly that mean. The legacy completions API and Anthropic report no logprobs here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from triage.sim.completion import VOCABULARY, Completion

FinishReason = Literal["stop", "length"]
JsonOutput = Literal["json_object", "json_schema"]
DEFAULT_LOGPROB_MEAN: Final = -0.1  # a confident answer: about 90% per token
_FINISH_REASONS: Final = ("stop", "length")
_PIECES = re.compile(r"\s*\S+|\s+$")


@dataclass(frozen=True, slots=True)
class Answer:
    """How a normal answer reads (see the module docstring)."""

    finish_reason: FinishReason | None = None
    refusal: str | None = None
    empty: bool = False
    invalid_json: bool = False
    words: int | None = None
    text: str | None = None
    logprob_mean: float | None = None

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("invalid Answer: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from their defaults (the JSON form accepted by ``from_dict``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        """Build from JSON; unknown keys and wrong types raise ``ValueError`` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown answer field(s): {', '.join(unknown)}")
        for name, value in data.items():
            if not _json_type_ok(name, value):
                raise ValueError(f"answer field {name!r} has the wrong type: {value!r}")
        return cls(**data)


def _json_type_ok(name: str, value: object) -> bool:
    if name in ("empty", "invalid_json"):
        return isinstance(value, bool)
    if value is None:
        return True
    if name == "words":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "logprob_mean":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _problems(a: Answer) -> list[str]:
    problems: list[str] = []
    texts = [n for n in ("text", "refusal") if getattr(a, n) is not None] + [
        n for n in ("empty", "invalid_json") if getattr(a, n)
    ]
    if len(texts) > 1:
        problems.append(f"{' and '.join(texts)} each decide the text: set one")
    if a.words is not None and (a.words < 0 or (texts and texts != ["invalid_json"])):
        problems.append("words must be >= 0 and applies to the generated text (not with text/refusal/empty)")
    if a.finish_reason is not None and a.finish_reason not in _FINISH_REASONS:
        problems.append(f"finish_reason must be one of {', '.join(_FINISH_REASONS)}, got {a.finish_reason!r}")
    if a.logprob_mean is not None and not (math.isfinite(a.logprob_mean) and a.logprob_mean <= 0):
        problems.append(f"logprob_mean must be a finite number <= 0, got {a.logprob_mean}")
    return problems


@dataclass(frozen=True, slots=True)
class Shaped:
    """A completion as answered: its text pieces, and what the API renders around them.

    ``refusal_field``: the pieces are a refusal for OpenAI chat's ``message.refusal`` (``content: null``).
    ``logprobs``: one logprob per piece when the request asked for them, else None; ``top_logprobs``: how many
    alternatives each token lists."""

    completion: Completion
    refusal_field: bool = False
    logprobs: tuple[float, ...] | None = None
    top_logprobs: int = 0

    @property
    def finish_reason(self) -> FinishReason:
        return "length" if self.completion.truncated else "stop"

    def token_entries(self) -> list[dict[str, Any]]:
        """``logprobs.content`` of OpenAI chat (empty when no logprobs were asked)."""
        if self.logprobs is None:
            return []
        return [
            _entry(piece, value, self.top_logprobs)
            for piece, value in zip(self.completion.pieces, self.logprobs, strict=True)
        ]


def _entry(token: str, logprob: float, top: int) -> dict[str, Any]:
    alternatives = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}] if top else []
    rest = 1.0 - math.exp(logprob)  # what the chosen token leaves to the others, halved for each next one
    for j in range(1, top):
        word = f" {VOCABULARY[(len(token) + j) % len(VOCABULARY)]}"
        value = math.log(rest / 2**j) if rest > 0 else -9999.0
        alternatives.append({"token": word, "logprob": round(value, 6), "bytes": list(word.encode())})
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": alternatives}


def split_text(text: str) -> tuple[str, ...]:
    """``text`` as stream pieces, one per word with the whitespace before it (joined, they are ``text``)."""
    return tuple(_PIECES.findall(text))


def _json_pieces(pieces: tuple[str, ...], *, close: bool) -> tuple[str, ...]:
    inner = tuple(orjson.dumps(p).decode()[1:-1] for p in pieces)
    return ('{"answer": "', *inner, '"}') if close else ('{"answer": "', *inner)


def token_logprobs(pieces: tuple[str, ...], mean: float) -> tuple[float, ...]:
    """One logprob per piece, deterministic for the pieces, between 1/4 and 7/4 of ``mean`` and averaging it."""
    if not pieces:
        return ()
    digest = hashlib.sha256("\x00".join(pieces).encode()).digest()
    # Pairs of tokens deviate by +d and -d (d up to 3/4 of the mean), so the mean is exact without rescaling.
    deviations = [0.75 * digest[(i // 2) % len(digest)] / 255 for i in range(len(pieces))]
    spread = [1 + d if i % 2 == 0 else 1 - d for i, d in enumerate(deviations)]
    if len(spread) % 2:
        spread[-1] = 1.0
    return tuple(round(mean * s, 6) + 0.0 for s in spread)  # + 0.0: never -0.0


def shape(
    completion: Completion,
    answer: Answer | None,
    *,
    logprobs: bool,
    top_logprobs: int = 0,
    json_output: JsonOutput | None = None,
) -> Shaped:
    """Apply ``answer`` (and JSON mode) to ``completion``; attach logprobs when the request asked for them.

    ``completion`` already has ``answer.words`` words when that knob is set (``make_completion`` counts them)."""
    a = answer or Answer()
    pieces = completion.pieces
    tokens = completion.completion_tokens
    own_text = a.text if a.text is not None else a.refusal if a.refusal is not None else "" if a.empty else None
    if own_text is not None:
        pieces = split_text(own_text)
        tokens = sum(1 for p in pieces if p.strip())
    elif a.invalid_json or json_output is not None:  # a JSON answer cut by max_tokens is cut JSON, as in real life
        pieces = _json_pieces(pieces, close=not (a.invalid_json or completion.truncated))
    truncated = completion.truncated if a.finish_reason is None else a.finish_reason == "length"
    shaped = dataclasses.replace(completion, pieces=pieces, completion_tokens=tokens, truncated=truncated)
    mean = DEFAULT_LOGPROB_MEAN if a.logprob_mean is None else a.logprob_mean
    return Shaped(
        completion=shaped,
        refusal_field=a.refusal is not None and json_output == "json_schema",
        logprobs=token_logprobs(pieces, mean) if logprobs else None,
        top_logprobs=top_logprobs,
    )
