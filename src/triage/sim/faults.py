"""Fault knobs: what a fake provider does wrong, and on which requests.

A ``Fault`` describes one misbehaviour; a ``FaultPlan`` decides, request by request, which fault (if
any) applies. Only inference requests (chat completions, completions, messages) consult the plan.

Selection, one inference request at a time:
1. The head of the *script* (a queue) decides; when the script is empty, the *standing* fault
   (``set_fault``) decides; with neither, the request is served normally.
2. The deciding entry counts the request as seen. It *fires* on every request, or only on every
   ``every``-th request it sees, or with ``probability`` drawn from its own ``random.Random(seed)`` (one
   draw per request seen, so a given request order always gives the same outcomes).
3. ``times`` counts firings: after ``times`` firings the entry is removed and the next one decides.
   ``times=None`` never runs out. ``Fault()`` with no knobs fires as "answer normally", which lets a
   script say "succeed once, then fail".

When a fault fires, its effects apply in this order: wait ``delay_s``; then ``reset`` (abort the TCP
connection, no response); else ``content_type`` (a non-JSON body with that type, status ``status`` or
200); else ``status`` (an OpenAI-style error JSON, with ``Retry-After`` if ``retry_after`` is set); else
``close_after_chunks`` (a 200 whose body stops early and the connection closes); else a normal answer.
``answer`` (a ``triage.sim.answers.Answer``) changes what that 200 answer says: its finish reason, a refusal,
an empty or invalid-JSON or short text, the level of its token logprobs. It applies to a normal answer (cut
short by ``close_after_chunks`` or not) and cannot combine with ``reset``, ``content_type`` or ``status``.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from triage.sim.answers import Answer


@dataclass(frozen=True, slots=True)
class Fault:
    """One misbehaviour; see the module docstring for how fields combine and when it fires.

    ``retry_after`` is whole seconds (HTTP's ``delay-seconds``). ``close_after_chunks`` sends that many
    SSE events (one HTTP chunk each) and closes without the terminating chunk; on a non-streaming
    request it sends the headers and the first half of the JSON body, then closes. ``answer`` shapes the
    content of the answer (``Fault(answer=Answer(logprob_mean=-2.0))``: a doubtful one).
    """

    status: int | None = None
    retry_after: int | None = None
    delay_s: float = 0.0
    reset: bool = False
    close_after_chunks: int | None = None
    content_type: str | None = None
    message: str | None = None
    times: int | None = None
    every: int | None = None
    probability: float | None = None
    seed: int = 0
    answer: Answer | None = None

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("invalid Fault: " + "; ".join(problems))

    @property
    def is_noop(self) -> bool:
        """True when firing this fault means answering normally."""
        return (
            self.status is None
            and self.delay_s == 0
            and not self.reset
            and self.close_after_chunks is None
            and self.content_type is None
            and self.answer is None
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from their defaults (the JSON form accepted by ``from_dict``)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}
        if self.answer is not None:
            data["answer"] = self.answer.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build from JSON; unknown keys and wrong types raise ``ValueError`` naming them."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        for name, value in data.items():
            if not _json_type_ok(name, value):
                raise ValueError(f"fault field {name!r} has the wrong type: {value!r}")
        answer = data.get("answer")
        if isinstance(answer, Mapping):
            return cls(**{**data, "answer": Answer.from_dict(answer)})
        return cls(**data)


_INT_FIELDS = {"status", "retry_after", "close_after_chunks", "times", "every", "seed"}
_FLOAT_FIELDS = {"delay_s", "probability"}
_STR_FIELDS = {"content_type", "message"}


def _json_type_ok(name: str, value: object) -> bool:
    if value is None:
        return name not in {"delay_s", "reset", "seed"}
    if name == "answer":
        return isinstance(value, Mapping)
    if isinstance(value, bool):
        return name == "reset"
    if name in _INT_FIELDS:
        return isinstance(value, int)
    if name in _FLOAT_FIELDS:
        return isinstance(value, int | float)
    return name in _STR_FIELDS and isinstance(value, str)


def _problems(f: Fault) -> list[str]:
    problems: list[str] = []
    if f.status is not None:
        low = 200 if f.content_type is not None else 400
        if not low <= f.status <= 599:
            problems.append(f"status must be in {low}..599, got {f.status}")
    if f.retry_after is not None and (f.retry_after < 0 or f.status is None):
        problems.append("retry_after needs a status and must be >= 0")
    if f.delay_s < 0:
        problems.append("delay_s must be >= 0")
    if f.close_after_chunks is not None and f.close_after_chunks < 0:
        problems.append("close_after_chunks must be >= 0")
    if f.reset and (f.status is not None or f.content_type is not None or f.close_after_chunks is not None):
        problems.append("reset sends no response, so it cannot combine with status/content_type/close")
    if f.close_after_chunks is not None and (f.status is not None or f.content_type is not None):
        problems.append("close_after_chunks applies to a normal 200 answer, not to status/content_type")
    if f.answer is not None and (f.reset or f.status is not None or f.content_type is not None):
        problems.append("answer shapes a normal 200 answer, so it cannot combine with reset/status/content_type")
    if f.times is not None and f.times < 1:
        problems.append("times must be >= 1 (or None for forever)")
    if f.every is not None and f.every < 1:
        problems.append("every must be >= 1")
    if f.probability is not None and not 0.0 <= f.probability <= 1.0:
        problems.append("probability must be in [0, 1]")
    if f.every is not None and f.probability is not None:
        problems.append("every and probability are exclusive")
    return problems


@dataclass(slots=True)
class _Entry:
    fault: Fault
    remaining: int | None
    rng: random.Random
    seen: int = 0

    @classmethod
    def of(cls, fault: Fault) -> _Entry:
        return cls(fault=fault, remaining=fault.times, rng=random.Random(fault.seed))

    def fires(self) -> bool:
        self.seen += 1
        if self.fault.every is not None:
            return self.seen % self.fault.every == 0
        if self.fault.probability is not None:
            return self.rng.random() < self.fault.probability
        return True


@dataclass
class FaultPlan:
    """The script and the standing fault of one provider. Thread-safe: tests edit it from any thread."""

    _script: deque[_Entry] = field(default_factory=deque)
    _standing: _Entry | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, faults: Iterable[Fault]) -> None:
        """Replace the script with ``faults``, applied in order (the standing fault is kept)."""
        entries = deque(_Entry.of(f) for f in faults)
        with self._lock:
            self._script = entries

    def set_fault(self, fault: Fault | None) -> None:
        """Set (or with ``None`` clear) the fault that applies whenever the script is empty."""
        entry = None if fault is None else _Entry.of(fault)
        with self._lock:
            self._standing = entry

    def reset(self) -> None:
        """Clear the script and the standing fault: every request is answered normally."""
        with self._lock:
            self._script.clear()
            self._standing = None

    def next_fault(self) -> Fault | None:
        """Consume one inference request; return the fault that fires for it, or ``None``."""
        with self._lock:
            in_script = bool(self._script)
            entry = self._script[0] if in_script else self._standing
            if entry is None or not entry.fires():
                return None
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining == 0:
                    if in_script:
                        self._script.popleft()
                    else:
                        self._standing = None
            return entry.fault

    def snapshot(self) -> dict[str, Any]:
        """JSON view: the script entries still pending (with firings left) and the standing fault."""
        with self._lock:
            return {
                "script": [_entry_view(e) for e in self._script],
                "fault": None if self._standing is None else _entry_view(self._standing),
            }


def _entry_view(entry: _Entry) -> dict[str, Any]:
    return {"fault": entry.fault.to_dict(), "remaining": entry.remaining, "seen": entry.seen}
