"""Implicit signals: the same conversation from the same principal again within the window is recorded on the
earlier decision, as ``retried`` after a failed answer and ``regenerated`` after a good one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from triage.config import ImplicitSignals as ImplicitConfig
from triage.feedback.implicit import ImplicitSignals, fingerprint
from triage.record import DecisionRecord
from triage.requests.input import RoutingInput
from triage.store.schema import Event

QUESTION = RoutingInput.from_text("Why is the sky blue?", system="Be brief.")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, **config: object) -> None:
        self.clock = Clock()
        self.events: list[Event] = []
        self.signals = ImplicitSignals(
            ImplicitConfig.model_validate({"window_s": 60, **config}),
            self.events.append,
            clock=self.clock,
            clock_ms=lambda: 42,
        )
        self._n = 0

    def request(self, inp: RoutingInput = QUESTION, principal: str | None = "alice") -> DecisionRecord:
        self._n += 1
        record = DecisionRecord(decision_id=f"{self._n:032x}", time_unix_ms=0, endpoint="openai.chat")
        self.signals.observe(principal, inp, record)
        return record

    def respond(self, record: DecisionRecord, status: int | None = 200, *, aborted: bool = False) -> None:
        record.status = status
        record.aborted = aborted
        self.signals.completed(record)

    def signals_on(self, record: DecisionRecord) -> list[str]:
        return [e.signal for e in self.events if e.decision_id == record.decision_id]


@pytest.mark.parametrize(
    ("status", "aborted", "signal"),
    [
        (200, False, "regenerated"),
        (500, False, "retried"),
        (503, False, "retried"),
        (429, False, "retried"),
        (200, True, "retried"),
        (400, False, None),
        (None, False, None),
    ],
    ids=["ok", "500", "503", "429", "aborted", "client-error", "no-status"],
)
def test_implicit_repeat_records_on_the_earlier_decision_by_its_outcome(
    status: int | None, aborted: bool, signal: str | None
) -> None:
    h = Harness()
    first = h.request()
    h.respond(first, status, aborted=aborted)
    h.clock.now += 5
    second = h.request()
    assert h.signals_on(first) == ([signal] if signal else [])
    assert h.signals_on(second) == []


def test_implicit_event_shape() -> None:
    h = Harness()
    first = h.request()
    h.respond(first, 502)
    h.request()
    (event,) = h.events
    assert event.kind == "implicit"
    assert event.signal == "retried"
    assert event.value == 0.0
    assert event.principal == "alice"
    assert event.idempotency_key is None
    assert event.time_unix_ms == 42
    assert len(event.event_id) == 32


def test_implicit_repeat_while_the_earlier_response_runs_is_recorded_when_it_ends() -> None:
    h = Harness()
    first = h.request()
    h.clock.now += 3
    second = h.request()  # the user gave up waiting and asked again
    assert h.events == []
    h.respond(first, 200, aborted=True)
    assert h.signals_on(first) == ["retried"]
    h.respond(second, 200)
    assert len(h.events) == 1


def test_implicit_each_repeat_lands_on_the_one_before_it() -> None:
    h = Harness()
    first = h.request()
    h.respond(first, 500)
    second = h.request()
    h.respond(second, 200)
    third = h.request()
    assert h.signals_on(first) == ["retried"]
    assert h.signals_on(second) == ["regenerated"]
    assert h.signals_on(third) == []


def test_implicit_window_runs_from_the_end_of_the_earlier_answer() -> None:
    h = Harness()
    first = h.request()
    h.clock.now += 100  # a long answer: the request is older than the window when it ends
    h.respond(first, 200)
    h.clock.now += 59
    h.request()
    assert h.signals_on(first) == ["regenerated"]


def test_implicit_repeat_after_the_window_is_not_a_signal() -> None:
    h = Harness()
    first = h.request()
    h.respond(first, 200)
    h.clock.now += 61
    h.request()
    assert h.events == []


@pytest.mark.parametrize(
    "other",
    [
        RoutingInput.from_text("Why is the sea blue?", system="Be brief."),
        RoutingInput.from_text("Why is the sky blue?", system="Be long."),
        RoutingInput.from_text("Why is the sky blue?", system="Be brief.", turns=2),
        replace(QUESTION, input_chars=QUESTION.input_chars + 500),
        replace(QUESTION, api="anthropic.messages"),
    ],
    ids=["prompt", "system", "follow-up", "size", "api"],
)
def test_implicit_a_different_conversation_is_not_a_repeat(other: RoutingInput) -> None:
    h = Harness()
    first = h.request()
    h.respond(first, 200)
    h.request(other)
    assert h.events == []


def test_implicit_the_same_conversation_from_another_principal_is_not_a_repeat() -> None:
    h = Harness()
    first = h.request(principal="alice")
    h.respond(first, 200)
    h.request(principal="bob")
    assert h.events == []


def test_implicit_the_requested_model_does_not_matter() -> None:
    h = Harness()
    first = h.request(replace(QUESTION, model="auto"))
    h.respond(first, 200)
    h.request(replace(QUESTION, model="premium"))
    assert h.signals_on(first) == ["regenerated"]


def test_implicit_requests_without_a_principal_are_not_tracked() -> None:
    h = Harness()
    for principal in (None, ""):
        first = h.request(principal=principal)
        h.respond(first, 200)
        h.request(principal=principal)
    assert h.events == []
    assert len(h.signals) == 0


def test_implicit_disabled_records_nothing() -> None:
    h = Harness(enabled=False)
    first = h.request()
    h.respond(first, 200)
    h.request()
    assert h.events == []


def test_implicit_memory_is_bounded_by_max_tracked_oldest_first() -> None:
    h = Harness(max_tracked=3)
    records = []
    for i in range(5):
        record = h.request(RoutingInput.from_text(f"question {i}"))
        h.respond(record, 200)
        records.append(record)
    assert len(h.signals) == 3
    h.request(RoutingInput.from_text("question 0"))  # evicted: forgotten
    h.request(RoutingInput.from_text("question 4"))  # still remembered
    assert h.signals_on(records[0]) == []
    assert h.signals_on(records[4]) == ["regenerated"]


def test_implicit_forgets_conversations_older_than_the_window() -> None:
    h = Harness(max_tracked=1000)
    for i in range(10):
        h.respond(h.request(RoutingInput.from_text(f"old {i}")), 200)
    h.clock.now += 61
    h.respond(h.request(RoutingInput.from_text("new")), 200)
    assert len(h.signals) == 1


def test_implicit_an_unfinished_response_is_not_forgotten_by_the_window() -> None:
    h = Harness()
    first = h.request()
    h.clock.now += 30
    h.request(RoutingInput.from_text("something else"))
    h.clock.now += 20
    h.respond(first, 500)  # ended 50 s after it began
    h.clock.now += 30
    h.request()
    assert h.signals_on(first) == ["retried"]


def test_implicit_completed_for_an_unknown_decision_is_ignored() -> None:
    h = Harness()
    h.respond(DecisionRecord(decision_id="f" * 32, time_unix_ms=0, endpoint="openai.chat"), 200)
    assert h.events == []


def test_fingerprint_is_16_bytes_and_keeps_no_text() -> None:
    value = fingerprint("alice", QUESTION)
    assert len(value) == 16
    assert b"sky" not in value
    assert fingerprint("alice", QUESTION) == value
    assert fingerprint("bob", QUESTION) != value
