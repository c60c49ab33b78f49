"""Content capture on the request path (``store.capture``): a classified decision's input reaches the store's
``captured/`` segments by decision id and reads back through the retrain's reader; nothing is built or written when
the switch is off, for unclassified or refused requests, and never in the records."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.extproc.test_processor import (
    CONFIG,
    JSON_RESPONSE,
    SECRET,
    RaisingClassifier,
    response_body,
    response_headers,
    route_request,
    routed,
    tier_claims,
)
from tests.unit.helpers import deep_merge
from triage.classifier.base import Classifier
from triage.classifier.fake import FakeClassifier
from triage.config import parse_config
from triage.extproc.processor import Processor
from triage.runtime import Runtime, build
from triage.store.capture import CAPTURED_DIR
from triage.store.writer import SegmentWriter
from triage.telemetry.recorder import DecisionLog, Recorder
from triage.train.feedback import read_captured  # the retrain's reader


class Stack:
    """A runtime whose recorder writes a real store at ``path``, as ``triage serve`` builds it."""

    def __init__(self, path: Path, *, capture: bool, classifier: Classifier | None = None, **overrides: Any) -> None:
        self.path = path
        self.writer = SegmentWriter(path)
        self.log = io.StringIO()
        recorder = Recorder(DecisionLog(self.log), sink=self.writer, capture=self.writer)
        config = parse_config(deep_merge(CONFIG, {"store": {"path": str(path), "capture": capture}, **overrides}))
        self.runtime: Runtime = build(config, classifier or FakeClassifier.returning("code", 0.9), recorder)

    async def request(self, metadata: dict[str, Any] | None = None) -> str:
        """One chat request, answered: the decision id the client sees."""
        processor = Processor(self.runtime, {})
        reply = await route_request(processor, metadata=metadata)
        if reply.WhichOneof("response") == "immediate_response":
            refused = reply.immediate_response.headers.set_headers
            return next(h.header.raw_value.decode() for h in refused if h.header.key == "x-triage-decision-id")
        headers, _, _ = routed(reply)
        await processor.process(response_headers())
        await processor.process(response_body(JSON_RESPONSE, end_of_stream=True))
        return headers["x-triage-decision-id"]

    def flush(self) -> None:
        self.runtime.recorder.flush()


@pytest.fixture
def stacks() -> Iterator[list[Stack]]:
    made: list[Stack] = []
    yield made
    for stack in made:
        stack.runtime.close()
        stack.writer.close()


def _stack(stacks: list[Stack], path: Path, **kwargs: Any) -> Stack:
    stack = Stack(path, **kwargs)
    stacks.append(stack)
    return stack


async def test_a_classified_decision_is_captured_and_reads_back_for_a_retrain(
    tmp_path: Path, stacks: list[Stack]
) -> None:
    stack = _stack(stacks, tmp_path / "store", capture=True)
    assert stack.runtime.capture
    decision_id = await stack.request()
    stack.flush()
    captured = read_captured(tmp_path / "store" / CAPTURED_DIR)
    assert list(captured) == [decision_id]
    assert SECRET in captured[decision_id].input.prompt
    assert captured[decision_id].origin == "capture"
    assert captured[decision_id].input.api == "openai.chat"
    # The records stay free of text: the prompt is in captured/ only.
    [decisions] = (tmp_path / "store" / "decisions").glob("*.jsonl")
    assert decision_id in decisions.read_text()
    assert SECRET not in decisions.read_text()
    assert SECRET not in stack.log.getvalue()


async def test_nothing_is_captured_or_built_when_capture_is_off(
    tmp_path: Path, stacks: list[Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = _stack(stacks, tmp_path / "store", capture=False)
    assert not stack.runtime.capture

    def never(*_args: object) -> None:
        raise AssertionError("captured with store.capture off")

    monkeypatch.setattr(stack.writer, "capture", never)
    monkeypatch.setattr(stack.runtime.recorder, "capture", never)
    await stack.request()
    stack.flush()
    assert (tmp_path / "store" / "decisions").is_dir()
    assert not (tmp_path / "store" / CAPTURED_DIR).exists()


async def test_an_unclassified_or_refused_request_is_not_captured(tmp_path: Path, stacks: list[Stack]) -> None:
    failing = _stack(stacks, tmp_path / "a", capture=True, classifier=RaisingClassifier())
    await failing.request()  # fails open to the default route: no classifier input was scored
    failing.flush()
    refused = _stack(stacks, tmp_path / "b", capture=True)
    await refused.request(metadata=tier_claims("tiny"))  # over the tier's input budget: a 413
    refused.flush()
    for store in ("a", "b"):
        assert (tmp_path / store / "decisions").is_dir()
        assert not (tmp_path / store / CAPTURED_DIR).exists()


async def test_a_reload_turns_capture_off_at_once_and_on_again(tmp_path: Path, stacks: list[Stack]) -> None:
    stack = _stack(stacks, tmp_path / "store", capture=True)
    config = stack.runtime.config
    off = config.model_copy(update={"store": config.store.model_copy(update={"capture": False})})
    stack.runtime = stack.runtime.reconfigured(off)
    assert not stack.runtime.capture
    await stack.request()
    stack.flush()
    assert not (tmp_path / "store" / CAPTURED_DIR).exists()
    stack.runtime = stack.runtime.reconfigured(config)
    decision_id = await stack.request()
    stack.flush()
    assert list(read_captured(tmp_path / "store" / CAPTURED_DIR)) == [decision_id]


def test_capture_needs_the_store_opened_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A reload that turns capture on for a process started without a store: nothing to write to, said once."""
    config = parse_config(deep_merge(CONFIG, {"store": {"path": str(tmp_path), "capture": True}}))
    runtime = build(config, FakeClassifier.returning("code", 0.9), Recorder(DecisionLog(io.StringIO())))
    try:
        assert not runtime.capture
        assert "restart Triage" in caplog.text
    finally:
        runtime.close()
