"""Inference strategies: an answer within the deadline is used; a late one, or an error, fails open (counted by the
caller) and never blocks the next request; ``auto`` runs bounded engines inline and anything else on a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from triage import inference
from triage.classifier.base import Scores
from triage.classifier.fake import FakeClassifier
from triage.requests.input import RoutingInput

INPUT = RoutingInput.from_text("Write a Python function that merges two sorted lists.")


class Gated:
    """Answers once its gate opens (a classifier stuck past any deadline while it is shut)."""

    version = "gated-1"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls = 0

    def score(self, inp: RoutingInput) -> Scores:
        self.calls += 1
        self.gate.wait(timeout=30)
        return Scores({"code": 1.0}, 0.5)


class Slow:
    """Takes ``seconds`` of wall time, then answers."""

    version = "slow-1"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def score(self, inp: RoutingInput) -> Scores:
        time.sleep(self.seconds)
        return Scores({"code": 1.0}, 0.5)


class Broken:
    version = "broken-1"

    def score(self, inp: RoutingInput) -> Scores:
        raise RuntimeError("model exploded")


class Bounded(FakeClassifier):
    backend = "native"


@pytest.fixture
def gated() -> Iterator[Gated]:
    classifier = Gated()
    yield classifier
    classifier.gate.set()


@pytest.mark.parametrize("mode", ["thread", "inline"])
async def test_inference_answers_within_the_deadline(mode: str) -> None:
    strategy = inference.make(mode, FakeClassifier.returning("math", 0.8))  # type: ignore[arg-type]
    try:
        scores, fault = await strategy.score(INPUT, 10.0)
    finally:
        strategy.close()
    assert fault is None
    assert scores is not None
    assert scores.task == "math"


@pytest.mark.parametrize("mode", ["thread", "inline"])
async def test_inference_error_fails_open(mode: str) -> None:
    strategy = inference.make(mode, Broken())  # type: ignore[arg-type]
    try:
        assert await strategy.score(INPUT, 10.0) == (None, "error")
    finally:
        strategy.close()


async def test_inference_thread_stops_waiting_at_the_deadline_and_serves_the_next_request(gated: Gated) -> None:
    strategy = inference.ThreadInference(gated)
    try:
        started = time.perf_counter()
        assert await strategy.score(INPUT, 0.05) == (None, "deadline")
        assert time.perf_counter() - started < 10  # the deadline, not the gate's 30 s
        # The next request queues behind the stuck one and gets its own deadline too.
        assert await strategy.score(INPUT, 0.05) == (None, "deadline")
        gated.gate.set()
        scores, fault = await strategy.score(INPUT, 10.0)
        assert fault is None
        assert scores is not None
    finally:
        strategy.close()
    assert gated.calls == 2  # the second request's deadline passed while it queued: its work was skipped


async def test_inference_thread_keeps_the_loop_free_while_the_classifier_works(gated: Gated) -> None:
    strategy = inference.ThreadInference(gated)
    try:
        pending = asyncio.ensure_future(strategy.score(INPUT, 10.0))
        await asyncio.sleep(0.01)
        assert not pending.done()  # the loop ran this coroutine while the worker waited at the gate
        gated.gate.set()
        scores, fault = await pending
        assert fault is None
        assert scores is not None
    finally:
        strategy.close()


async def test_inference_inline_discards_an_answer_later_than_the_deadline() -> None:
    strategy = inference.InlineInference(Slow(0.05))
    assert await strategy.score(INPUT, 0.01) == (None, "deadline")
    scores, fault = await strategy.score(INPUT, 10.0)
    assert fault is None
    assert scores is not None


@pytest.mark.parametrize(
    ("classifier", "expected"),
    [(Bounded(), inference.InlineInference), (FakeClassifier(), inference.ThreadInference)],
    ids=["bounded-engine-inline", "unknown-engine-thread"],
)
def test_inference_auto_runs_bounded_engines_inline(classifier: FakeClassifier, expected: type) -> None:
    strategy = inference.make("auto", classifier)
    try:
        assert isinstance(strategy, expected)
    finally:
        strategy.close()
