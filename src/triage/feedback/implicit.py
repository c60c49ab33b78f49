"""Implicit signals: what traffic says about earlier answers without anyone sending feedback.

A user who asks the same thing again was not served by the first answer. For each routed request from a known
principal, a fingerprint of the conversation is remembered: a hash of the routing input's windows (the last user
turn's head and tail, the system prompt's head), its input size and its message count — cheap, and no text is
kept. When the same fingerprint comes back from the same principal within ``window_s`` of the earlier request's
end, an event is recorded on the *earlier* decision:

- ``retried`` when the earlier response failed (status ≥ 500 or 429) or was cut off (``aborted``);
- ``regenerated`` when it completed fine (status < 400): the user saw an answer and asked for another;
- nothing after any other outcome (a 4xx says nothing about the answer's quality; no status: Envoy answered
  without Triage).

A repeat that arrives while the earlier response is still running is recorded when that response ends. A
follow-up question changes the message count (and the last turn), so it never looks like a repeat.

Limits: requests without a principal are not tracked (anonymous traffic from one gateway would look like one
user). Memory is bounded: at most ``max_tracked`` conversations, the oldest forgotten first, and none older than
``window_s``. The memory is per process: with several workers or replicas, a repeat that lands on another process
than the first request is missed, so the counts are a lower bound. Identical requests that are meant to be
identical (a batch job sending the same prompt twice) are counted as regenerations.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import OrderedDict
from collections.abc import Callable

from triage.config import ImplicitSignals as ImplicitConfig
from triage.record import DecisionRecord
from triage.requests.input import RoutingInput
from triage.store.schema import SIGNAL_VALUE, Event

_PENDING, _GOOD, _FAILED, _OTHER = 0, 1, 2, 3
_SIGNAL = {_GOOD: "regenerated", _FAILED: "retried"}


def fingerprint(principal: str, inp: RoutingInput) -> bytes:
    """The conversation as 16 bytes: the principal, the API, the text windows, the input size and message count."""
    h = hashlib.blake2b(digest_size=16)
    for part in (principal, inp.api, inp.system, inp.prompt):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    h.update(f"{inp.input_chars}/{inp.messages}/{inp.user_turns}".encode())
    return h.digest()


def outcome(record: DecisionRecord) -> int:
    """How the response of ``record`` went, for telling a retry from a regeneration."""
    if record.aborted:
        return _FAILED
    status = record.status
    if status is None:
        return _OTHER
    if status >= 500 or status == 429:
        return _FAILED
    return _GOOD if status < 400 else _OTHER


class _Conversation:
    __slots__ = ("at", "decision_id", "key", "outcome", "principal", "repeated")

    def __init__(self, key: bytes, decision_id: str, principal: str, at: float) -> None:
        self.key = key
        self.decision_id = decision_id
        self.principal = principal
        self.at = at  # when the request arrived, then when its response ended (monotonic seconds)
        self.outcome = _PENDING
        self.repeated = False  # came back while its response was still running


def _event_id() -> str:
    return f"{random.getrandbits(128):032x}"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class ImplicitSignals:
    """Remembers recent conversations per principal and notices them coming back (see the module docstring).

    Called by the processor on the event loop, after its replies: ``observe`` for each routed request, ``completed``
    when its response is over. Events go to ``sink`` (``Recorder.event``)."""

    def __init__(
        self,
        config: ImplicitConfig,
        sink: Callable[[Event], None] = lambda _event: None,
        *,
        clock: Callable[[], float] = time.monotonic,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.config = config
        self._sink = sink
        self._clock = clock
        self._clock_ms = clock_ms
        self._recent: OrderedDict[bytes, _Conversation] = OrderedDict()  # oldest activity first
        self._pending: dict[str, _Conversation] = {}  # decision id → conversation whose response is running

    def __len__(self) -> int:
        return len(self._recent)

    def observe(self, principal: str | None, inp: RoutingInput, record: DecisionRecord) -> None:
        """A routed request, after its reply: note it, and record a signal on an earlier decision it repeats."""
        if not self.config.enabled or not principal:
            return
        now = self._clock()
        self._forget_expired(now)
        key = fingerprint(principal, inp)
        earlier = self._recent.pop(key, None)
        if earlier is not None and now - earlier.at <= self.config.window_s:
            if earlier.outcome == _PENDING:
                earlier.repeated = True  # decided when its response ends
            else:
                self._emit(earlier, earlier.outcome)
        conversation = _Conversation(key, record.decision_id, principal, now)
        self._recent[key] = conversation
        self._pending[record.decision_id] = conversation
        while len(self._recent) > self.config.max_tracked:
            self._drop(self._recent.popitem(last=False)[1])

    def completed(self, record: DecisionRecord) -> None:
        """The response of a noted request is over (its status tells a retry from a regeneration later)."""
        conversation = self._pending.pop(record.decision_id, None)
        if conversation is None:
            return
        conversation.outcome = outcome(record)
        conversation.at = self._clock()  # the window runs from the end of the answer the user saw
        if conversation.repeated:
            self._emit(conversation, conversation.outcome)
        elif self._recent.get(conversation.key) is conversation:
            self._recent.move_to_end(conversation.key)

    def _forget_expired(self, now: float) -> None:
        window = self.config.window_s
        recent = self._recent
        while recent:
            oldest = next(iter(recent.values()))
            if now - oldest.at <= window or oldest.outcome == _PENDING:
                break  # a running response is kept until it ends (``max_tracked`` still bounds them)
            self._drop(recent.popitem(last=False)[1])

    def _drop(self, conversation: _Conversation) -> None:
        if self._pending.get(conversation.decision_id) is conversation:
            del self._pending[conversation.decision_id]

    def _emit(self, earlier: _Conversation, result: int) -> None:
        signal = _SIGNAL.get(result)
        if signal is None:
            return
        self._sink(
            Event(
                event_id=_event_id(),
                decision_id=earlier.decision_id,
                time_unix_ms=self._clock_ms(),
                kind="implicit",
                signal=signal,
                value=SIGNAL_VALUE[signal],
                principal=earlier.principal,
            )
        )
