"""How the runtime builds the decision ids and implicit signals from ``feedback:``, and keeps them across reloads."""

from __future__ import annotations

import io
from typing import Any

from triage.classifier.fake import FakeClassifier
from triage.config import TriageConfig, load_config
from triage.record import DecisionRecord
from triage.requests.input import RoutingInput
from triage.runtime import Runtime, build
from triage.store.schema import Event
from triage.telemetry.recorder import DecisionLog, Recorder


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, record: DecisionRecord, line: bytes = b"") -> None:
        pass

    def event(self, event: Event) -> None:
        self.events.append(event)

    def flush(self) -> None:
        pass


def _with(config: TriageConfig, **feedback: Any) -> TriageConfig:
    data = config.model_dump(mode="json", exclude_none=True)
    data["feedback"] = {**data.get("feedback", {}), **feedback}
    return TriageConfig.model_validate(data)


def _runtime(config: TriageConfig, sink: Sink | None = None) -> Runtime:
    return build(config, FakeClassifier(), Recorder(DecisionLog(io.StringIO()), sink=sink))


def test_runtime_signs_decision_ids_with_the_configured_key() -> None:
    config = load_config()
    assert config.feedback.id_secret  # the embedded demo key: every worker of `make run` accepts every id
    a, b = _runtime(config), _runtime(config)
    assert a.ids.keyed
    assert b.ids.check(a.ids.new()) == "ok"


def test_runtime_reload_keeps_the_ids_and_signals_unless_their_settings_change() -> None:
    config = load_config()
    rt = _runtime(config)
    same = rt.reconfigured(_with(config, require_principal=True))
    assert same.ids is rt.ids
    assert same.signals is rt.signals
    rekeyed = rt.reconfigured(_with(config, id_secret="another-key"))
    assert rekeyed.ids is not rt.ids
    assert rekeyed.ids.check(rt.ids.new()) == "unknown"
    rewindowed = rt.reconfigured(_with(config, implicit={"window_s": 30}))
    assert rewindowed.signals is not rt.signals
    assert rewindowed.signals.config.window_s == 30


def test_runtime_implicit_signals_reach_the_recorder() -> None:
    sink = Sink()
    rt = _runtime(load_config(), sink)
    inp = RoutingInput.from_text("Why is the sky blue?")
    first = DecisionRecord(decision_id=rt.ids.new(), time_unix_ms=0, endpoint="openai.chat", status=200)
    rt.signals.observe("alice", inp, first)
    rt.signals.completed(first)
    rt.signals.observe("alice", inp, DecisionRecord(decision_id=rt.ids.new(), time_unix_ms=0, endpoint="openai.chat"))
    assert [(e.decision_id, e.signal) for e in sink.events] == [(first.decision_id, "regenerated")]
