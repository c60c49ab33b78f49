"""The feedback service: every validation outcome with its gRPC status, duplicates by (principal, idempotency key),
accepted events appended through the recorder; served the same on both server engines."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from triage.classifier.fake import FakeClassifier
from triage.config import load_config
from triage.extproc.server import ServerEngine, TriageServer
from triage.feedback.contract import PRINCIPAL_HEADER, SERVICE
from triage.feedback.gen import feedback_pb2_grpc
from triage.feedback.gen.feedback_pb2 import FeedbackRequest
from triage.feedback.ids import DecisionIds
from triage.feedback.service import DEDUPE_KEYS, FeedbackService, Refused
from triage.record import DecisionRecord
from triage.runtime import RuntimeHolder, build
from triage.store.schema import Event
from triage.telemetry.recorder import DecisionLog, Recorder
from triage.wire import Status

DAY_MS = 86_400_000
NOW_MS = 1_780_000_000_000


class Sink:
    """The store's writer as the recorder sees it: keeps the events."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, record: DecisionRecord, line: bytes = b"") -> None:
        pass

    def event(self, event: Event) -> None:
        self.events.append(event)

    def flush(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now_ms = NOW_MS

    def __call__(self) -> int:
        return self.now_ms


class Harness:
    def __init__(self, **feedback: Any) -> None:
        config = load_config()
        if feedback:
            data = config.model_dump(mode="json", exclude_none=True)
            data["feedback"] = {**data.get("feedback", {}), **feedback}
            config = type(config).model_validate(data)
        self.sink = Sink()
        self.clock = Clock()
        runtime = build(config, FakeClassifier(), Recorder(DecisionLog(io.StringIO()), sink=self.sink))
        self.ids = DecisionIds(b"test-key", max_age_days=config.feedback.max_age_days, clock_ms=self.clock)
        self.holder = RuntimeHolder(replace(runtime, ids=self.ids))
        self.service = FeedbackService(clock_ms=self.clock)
        self.service.holder = self.holder

    def submit(self, principal: str | None = "alice", **fields: Any) -> Any:
        request = FeedbackRequest(**{"signal": "thumbs_up", "idempotency_key": "key-1", **fields})
        if "decision_id" not in fields:
            request.decision_id = self.ids.new()
        return self.service.submit(request, principal)

    def refusal(self, principal: str | None = "alice", **fields: Any) -> Refused:
        with pytest.raises(Refused) as caught:
            self.submit(principal, **fields)
        assert self.sink.events == []
        return caught.value


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_feedback_submit_records_an_event_and_answers_its_id(h: Harness) -> None:
    decision_id = h.ids.new()
    reply = h.submit(decision_id=decision_id, signal="thumbs_down", idempotency_key="k")
    (event,) = h.sink.events
    assert reply.event_id == event.event_id
    assert len(reply.event_id) == 32
    assert not reply.duplicate
    assert event == Event(
        event_id=reply.event_id,
        decision_id=decision_id,
        time_unix_ms=NOW_MS,
        kind="feedback",
        signal="thumbs_down",
        value=0.0,
        principal="alice",
        idempotency_key="k",
    )


@pytest.mark.parametrize(
    ("signal", "score", "value"),
    [
        ("thumbs_up", None, 1.0),
        ("thumbs_down", None, 0.0),
        ("accepted", None, 1.0),
        ("regenerated", None, 0.0),
        ("abandoned", None, 0.0),
        ("score", 0.0, 0.0),
        ("score", 0.75, 0.75),
        ("score", 1.0, 1.0),
    ],
)
def test_feedback_submit_values_by_signal(h: Harness, signal: str, score: float | None, value: float) -> None:
    fields: dict[str, Any] = {"signal": signal} if score is None else {"signal": signal, "score": score}
    h.submit(**fields)
    assert h.sink.events[0].value == value


def test_feedback_submit_accepts_an_upper_case_id_and_stores_it_lower_case(h: Harness) -> None:
    decision_id = h.ids.new()
    h.submit(decision_id=decision_id.upper())
    assert h.sink.events[0].decision_id == decision_id


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"decision_id": ""}, Status.INVALID_ARGUMENT, "invalid_decision_id"),
        ({"decision_id": "abc"}, Status.INVALID_ARGUMENT, "invalid_decision_id"),
        ({"decision_id": "z" * 32}, Status.INVALID_ARGUMENT, "invalid_decision_id"),
        ({"signal": ""}, Status.INVALID_ARGUMENT, "invalid_signal"),
        ({"signal": "meh"}, Status.INVALID_ARGUMENT, "invalid_signal"),
        ({"signal": "retried"}, Status.INVALID_ARGUMENT, "invalid_signal"),
        ({"signal": "THUMBS_UP"}, Status.INVALID_ARGUMENT, "invalid_signal"),
        ({"signal": "score"}, Status.INVALID_ARGUMENT, "invalid_score"),
        ({"signal": "score", "score": 1.01}, Status.INVALID_ARGUMENT, "invalid_score"),
        ({"signal": "score", "score": -0.1}, Status.INVALID_ARGUMENT, "invalid_score"),
        ({"signal": "score", "score": float("nan")}, Status.INVALID_ARGUMENT, "invalid_score"),
        ({"signal": "thumbs_up", "score": 1.0}, Status.INVALID_ARGUMENT, "invalid_score"),
        ({"idempotency_key": ""}, Status.INVALID_ARGUMENT, "invalid_idempotency_key"),
        ({"idempotency_key": "k" * 129}, Status.INVALID_ARGUMENT, "invalid_idempotency_key"),
        ({"idempotency_key": "has space"}, Status.INVALID_ARGUMENT, "invalid_idempotency_key"),
        ({"idempotency_key": "clé"}, Status.INVALID_ARGUMENT, "invalid_idempotency_key"),
        ({"decision_id": "0" * 32}, Status.NOT_FOUND, "unknown_decision"),
    ],
    ids=[
        "no-id",
        "short-id",
        "non-hex-id",
        "no-signal",
        "unknown-signal",
        "implicit-only-signal",
        "upper-case-signal",
        "score-missing",
        "score-above-1",
        "score-below-0",
        "score-nan",
        "score-with-another-signal",
        "no-key",
        "long-key",
        "key-with-space",
        "non-ascii-key",
        "never-issued",
    ],
)
def test_feedback_submit_refuses(h: Harness, fields: dict[str, Any], status: Status, code: str) -> None:
    refused = h.refusal(**fields)
    assert (refused.status, refused.code) == (status, code)
    assert refused.details.startswith(f"{code}: ")
    assert refused.details.isascii()
    assert "%" not in refused.details


def test_feedback_submit_refuses_an_id_signed_with_another_key(h: Harness) -> None:
    refused = h.refusal(decision_id=DecisionIds(b"another-deployment").new())
    assert (refused.status, refused.code) == (Status.NOT_FOUND, "unknown_decision")


def test_feedback_submit_refuses_a_decision_older_than_max_age_days() -> None:
    h = Harness(max_age_days=7)
    h.ids = DecisionIds(b"test-key", max_age_days=7, clock_ms=h.clock)
    h.holder.current = replace(h.holder.current, ids=h.ids)
    decision_id = h.ids.new()
    h.clock.now_ms += 8 * DAY_MS
    refused = h.refusal(decision_id=decision_id)
    assert (refused.status, refused.code) == (Status.FAILED_PRECONDITION, "decision_expired")
    assert "8 days old" in refused.details


def test_feedback_submit_refuses_an_event_over_max_event_bytes() -> None:
    h = Harness(max_event_bytes=100)
    refused = h.refusal(idempotency_key="k" * 90)
    assert (refused.status, refused.code) == (Status.RESOURCE_EXHAUSTED, "event_too_large")


@pytest.mark.parametrize("principal", [None, ""], ids=["none", "empty"])
def test_feedback_submit_needs_a_principal_when_required(principal: str | None) -> None:
    h = Harness(require_principal=True)
    refused = h.refusal(principal=principal)
    assert (refused.status, refused.code) == (Status.UNAUTHENTICATED, "principal_required")
    h.submit(principal="alice")
    assert len(h.sink.events) == 1


def test_feedback_submit_without_a_principal_is_anonymous_when_not_required(h: Harness) -> None:
    h.submit(principal=None)
    assert h.sink.events[0].principal is None


def test_feedback_submit_disabled_is_unimplemented() -> None:
    refused = Harness(enabled=False).refusal()
    assert (refused.status, refused.code) == (Status.UNIMPLEMENTED, "feedback_disabled")


def test_feedback_submit_before_the_server_is_ready_is_unavailable() -> None:
    with pytest.raises(Refused) as caught:
        FeedbackService().submit(FeedbackRequest(), "alice")
    assert caught.value.status == Status.UNAVAILABLE


def test_feedback_submit_a_duplicate_answers_the_first_event_and_appends_nothing(h: Harness) -> None:
    decision_id = h.ids.new()
    first = h.submit(decision_id=decision_id, idempotency_key="retry-me")
    again = h.submit(decision_id=decision_id, idempotency_key="retry-me")
    assert (again.event_id, again.duplicate) == (first.event_id, True)
    assert len(h.sink.events) == 1


def test_feedback_submit_a_duplicate_is_answered_even_after_the_decision_expired(h: Harness) -> None:
    decision_id = h.ids.new()
    first = h.submit(decision_id=decision_id)
    h.clock.now_ms += 31 * DAY_MS
    assert h.submit(decision_id=decision_id).event_id == first.event_id


def test_feedback_submit_the_same_key_from_another_principal_is_another_event(h: Harness) -> None:
    decision_id = h.ids.new()
    a = h.submit("alice", decision_id=decision_id)
    b = h.submit("bob", decision_id=decision_id)
    c = h.submit(None, decision_id=decision_id)
    assert len({a.event_id, b.event_id, c.event_id}) == 3
    assert [e.principal for e in h.sink.events] == ["alice", "bob", None]


def test_feedback_submit_a_key_reused_for_another_event_is_refused(h: Harness) -> None:
    decision_id = h.ids.new()
    first = h.submit(decision_id=decision_id, signal="thumbs_up")
    with pytest.raises(Refused) as caught:
        h.submit(decision_id=decision_id, signal="thumbs_down")
    assert (caught.value.status, caught.value.code) == (Status.ALREADY_EXISTS, "idempotency_key_reused")
    assert first.event_id in caught.value.details
    assert len(h.sink.events) == 1


def test_feedback_submit_remembers_a_bounded_number_of_keys(h: Harness) -> None:
    decision_id = h.ids.new()
    first = h.submit(decision_id=decision_id, idempotency_key="first")
    for i in range(DEDUPE_KEYS):
        h.submit(decision_id=decision_id, idempotency_key=f"k{i}")
    assert len(h.service._seen) == DEDUPE_KEYS
    again = h.submit(decision_id=decision_id, idempotency_key="first")  # forgotten: appended again
    assert not again.duplicate
    assert again.event_id != first.event_id


def test_feedback_submit_reads_the_runtime_at_each_call(h: Harness) -> None:
    current = h.holder.current
    off = current.config.feedback.model_copy(update={"enabled": False})
    h.holder.current = replace(current, config=current.config.model_copy(update={"feedback": off}))
    assert h.refusal().code == "feedback_disabled"


# -- both engines ----------------------------------------------------------------------------------------------------


@pytest.fixture(params=["wire", "grpcio"])
def engine(request: pytest.FixtureRequest) -> ServerEngine:
    value: ServerEngine = request.param
    return value


async def test_feedback_served_on_both_engines(engine: ServerEngine, tmp_path: Path) -> None:
    h, socket = Harness(), f"unix:{tmp_path}/t.sock"
    server = TriageServer([socket], engine)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(socket) as channel:
            stub = feedback_pb2_grpc.FeedbackStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            request = FeedbackRequest(decision_id=h.ids.new(), signal="accepted", idempotency_key="k")
            with pytest.raises(grpc.aio.AioRpcError) as not_ready:
                await stub.Submit(request)
            assert not_ready.value.code() == grpc.StatusCode.UNAVAILABLE
            serving = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
            assert serving.status == health_pb2.HealthCheckResponse.NOT_SERVING

            await server.ready(h.holder)
            h.service = server.feedback
            server.feedback._clock_ms = h.clock
            serving = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
            assert serving.status == health_pb2.HealthCheckResponse.SERVING
            reply = await stub.Submit(request, metadata=((PRINCIPAL_HEADER, "alice"),))
            again = await stub.Submit(request, metadata=((PRINCIPAL_HEADER, "alice"),))
            assert (again.event_id, again.duplicate) == (reply.event_id, True)
            assert [(e.principal, e.signal) for e in h.sink.events] == [("alice", "accepted")]

            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await stub.Submit(FeedbackRequest(decision_id="0" * 32, signal="accepted", idempotency_key="k2"))
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
            assert (unknown.value.details() or "").startswith("unknown_decision: ")
            with pytest.raises(grpc.aio.AioRpcError) as invalid:
                await stub.Submit(FeedbackRequest(decision_id="x", signal="accepted", idempotency_key="k3"))
            assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await server.shutdown(0.1)
