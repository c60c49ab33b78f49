"""How the request path runs the classifier: one strategy per ``classifier.inference`` choice.

Each strategy answers ``await score(inp, deadline_s)`` with ``(scores, None)`` or ``(None, fault)``: a fault is
``"deadline"`` (no answer within ``deadline_s``) or ``"error"`` (the classifier raised; logged here). Either way
the request then fails open to the default route, and the fault is counted and traced by the caller.

- ``thread``: the classifier runs on one dedicated worker thread while the event loop goes on serving other
  streams; the request stops waiting at its deadline. The hand-off is a deque, a semaphore and one
  ``call_soon_threadsafe`` back: about half the CPU of ``loop.run_in_executor`` with ``asyncio.timeout``, whose
  futures, executor queue and timeout context cost ~400 µs of CPU per request on a small VM with cold caches
  (``bench/README.md``). A request stuck behind a slow one still gets its answer — the fallback — at its deadline.
- ``inline``: the classifier runs on the event loop (no thread hand-off, the cheapest). The deadline is checked
  after the fact: a late answer is discarded and the request fails open exactly as with ``thread``; what inline
  cannot do is let other streams run during a slow classification.
- ``auto`` (the default): ``inline`` for the built-in engines, whose work is bounded by the feature windows and
  measured at ~0.1 ms (the hand-off would cost several times the classification), ``thread`` for anything else.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from typing import Literal, Protocol

from triage.classifier.base import Classifier, Scores
from triage.requests.input import RoutingInput

log = logging.getLogger("triage.inference")

Fault = Literal["deadline", "error"]
Result = tuple[Scores, None] | tuple[None, Fault]


class Inference(Protocol):
    """Scores one input for the request path; never raises."""

    async def score(self, inp: RoutingInput, deadline_s: float) -> Result: ...

    def close(self) -> None:
        """Stop any thread the strategy owns (the server's shutdown calls it once)."""


class InlineInference:
    """The classifier on the event loop, its deadline checked when it returns."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier

    async def score(self, inp: RoutingInput, deadline_s: float) -> Result:
        started = time.perf_counter()
        try:
            scores = self.classifier.score(inp)
        except Exception:
            log.exception("classifier failed (failing open)")
            return None, "error"
        if time.perf_counter() - started > deadline_s:
            return None, "deadline"
        return scores, None

    def close(self) -> None:
        pass


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Scores]", RoutingInput]


def _settle(future: asyncio.Future[Scores], scores: Scores | None, error: BaseException | None) -> None:
    """On the loop: hand the worker's answer to a request still waiting for it (not one past its deadline)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert scores is not None
        future.set_result(scores)


def _expire(future: asyncio.Future[Scores]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class ThreadInference:
    """The classifier on one worker thread; each request waits for it at most its deadline."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self._jobs: collections.deque[_Job | None] = collections.deque()
        self._wake = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._work, name="triage-infer", daemon=True)
        self._thread.start()

    async def score(self, inp: RoutingInput, deadline_s: float) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Scores] = loop.create_future()
        self._jobs.append((loop, future, inp))
        self._wake.release()
        timer = loop.call_later(deadline_s, _expire, future)
        try:
            return await future, None
        except TimeoutError:
            return None, "deadline"
        except Exception:
            log.exception("classifier failed (failing open)")
            return None, "error"
        finally:
            timer.cancel()

    def _work(self) -> None:
        while True:
            self._wake.acquire()
            job = self._jobs.popleft()
            if job is None:
                return
            loop, future, inp = job
            if future.done():  # its deadline passed while it queued behind a slow one: skip the work
                continue
            scores: Scores | None = None
            error: BaseException | None = None
            try:
                scores = self.classifier.score(inp)
            except Exception as err:  # raised on the loop, where it is logged and turned into a fail-open
                error = err
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, scores, error)

    def close(self) -> None:
        """Let the worker finish its current job and stop; waits for it."""
        self._jobs.append(None)
        self._wake.release()
        self._thread.join(timeout=5)


# Engines whose cost per request is bounded and small (``OnnxClassifier.backend``): ``auto`` runs them inline.
BOUNDED_ENGINES = frozenset({"native", "numpy"})


def make(mode: Literal["auto", "thread", "inline"], classifier: Classifier) -> Inference:
    """The strategy ``classifier.inference`` names; ``auto`` is ``inline`` for a bounded engine, else ``thread``."""
    if mode == "auto":
        mode = "inline" if getattr(classifier, "backend", None) in BOUNDED_ENGINES else "thread"
    return ThreadInference(classifier) if mode == "thread" else InlineInference(classifier)
