"""The attempt log: one record per request a fake provider received, including the ones it failed.

An attempt is recorded as soon as its request has been read (``outcome="pending"``) and completed when
the answer is finished, so a test can see a request that is still being delayed or streamed. Each
completed attempt is also logged as one JSON line (sizes and metadata, never prompt text) to the logger
``triage.sim.<provider>`` and, when configured, appended to a file.

``AttemptLog`` is shared between the provider's event loop and test code on other threads or loops:
every method is thread-safe, and waiters on any event loop are woken without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from triage.sim.faults import Fault

Outcome = Literal["pending", "answered", "reset", "closed_mid_stream", "client_gone", "stopped"]
"""``answered``: a complete response was sent (any status). ``reset``: aborted with a TCP RST, no
response. ``closed_mid_stream``: a 200 was started and the connection closed before the body ended.
``client_gone``: the peer went away while we answered. ``stopped``: the provider stopped mid-request."""

# Headers worth a place in the log line: they correlate an attempt with Envoy's and Triage's records.
_LOGGED_HEADERS = ("x-request-id", "x-envoy-attempt-count", "x-triage-route", "x-triage-decision-id")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request as the provider saw it and what it answered.

    ``connection`` numbers the TCP connections the provider accepted (equal numbers: a reused
    keep-alive connection) and ``peer`` is the client's ``host:port``. ``logprobs``: the request asked for
    token logprobs (OpenAI chat's ``"logprobs": true``).
    ``status`` is the HTTP status sent, or ``None`` when no status line was sent (``outcome="reset"``).
    ``events`` counts SSE events written; ``duration_s`` runs from request read to answer finished.
    """

    seq: int
    provider: str
    monotonic: float
    wall: float
    connection: int
    peer: str
    method: str
    path: str
    model: str | None
    headers: Mapping[str, str]
    body_bytes: int
    stream: bool
    include_usage: bool
    logprobs: bool = False
    fault: Fault | None = None
    status: int | None = None
    outcome: Outcome = "pending"
    events: int = 0
    duration_s: float | None = None

    @property
    def finished(self) -> bool:
        return self.outcome != "pending"

    @property
    def envoy_attempt(self) -> int | None:
        """Envoy's ``x-envoy-attempt-count`` for this request, when Envoy sent one."""
        value = self.headers.get("x-envoy-attempt-count")
        return int(value) if value is not None and value.isdigit() else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``GET /_sim/attempts`` returns for each attempt)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["headers"] = dict(self.headers)
        data["fault"] = None if self.fault is None else self.fault.to_dict()
        return data


def _log_record(attempt: Attempt) -> dict[str, Any]:
    record: dict[str, Any] = {
        "provider": attempt.provider,
        "seq": attempt.seq,
        "wall": round(attempt.wall, 6),
        "connection": attempt.connection,
        "peer": attempt.peer,
        "method": attempt.method,
        "path": attempt.path,
        "model": attempt.model,
        "status": attempt.status,
        "outcome": attempt.outcome,
        "fault": None if attempt.fault is None else attempt.fault.to_dict(),
        "body_bytes": attempt.body_bytes,
        "stream": attempt.stream,
        "include_usage": attempt.include_usage,
        "logprobs": attempt.logprobs,
        "events": attempt.events,
        "duration_ms": None if attempt.duration_s is None else round(attempt.duration_s * 1000, 3),
    }
    for name in _LOGGED_HEADERS:
        if name in attempt.headers:
            record[name] = attempt.headers[name]
    return record


class AttemptLog:
    """Thread-safe list of attempts with blocking and async waits."""

    def __init__(self, provider: str, log_path: str | Path | None = None) -> None:
        self._provider = provider
        self._logger = logging.getLogger(f"triage.sim.{provider}")
        self._log_path = None if log_path is None else Path(log_path)
        self._cond = threading.Condition()
        self._file_lock = threading.Lock()
        self._items: dict[int, Attempt] = {}
        self._seq = 0
        self._watchers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def begin(self, **fields: Any) -> Attempt:
        """Record a request just read; ``fields`` are ``Attempt`` fields other than seq and provider."""
        with self._cond:
            self._seq += 1
            attempt = Attempt(seq=self._seq, provider=self._provider, **fields)
            self._items[attempt.seq] = attempt
        self._notify()
        return attempt

    def finish(self, attempt: Attempt, **changes: Any) -> Attempt:
        """Complete ``attempt`` with ``changes`` (status, outcome, ...), then log it."""
        done = dataclasses.replace(attempt, **changes)
        with self._cond:
            # A clear() in between drops the record from the list, but it is still logged.
            if done.seq in self._items:
                self._items[done.seq] = done
        self._notify()
        self._emit(done)
        return done

    def snapshot(self) -> list[Attempt]:
        with self._cond:
            return list(self._items.values())

    def clear(self) -> int:
        """Forget every recorded attempt (numbering continues); return how many were dropped."""
        with self._cond:
            dropped = len(self._items)
            self._items.clear()
        return dropped

    def wait(self, n: int, timeout: float, finished: bool = True) -> list[Attempt]:
        """Block until ``n`` attempts (finished ones, unless ``finished=False``) are recorded."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._reached(n, finished) is not None, timeout)
            got = self._reached(n, finished)
            if not ok or got is None:
                raise TimeoutError(self._timeout_message(n, timeout, finished))
            return got

    async def wait_async(self, n: int, finished: bool = True) -> list[Attempt]:
        """Like ``wait`` without blocking the calling event loop (which may be any loop) and without a
        deadline of its own: bound it with ``asyncio.timeout()``."""
        watcher = (asyncio.get_running_loop(), asyncio.Event())
        with self._cond:
            self._watchers.add(watcher)
        try:
            while True:
                watcher[1].clear()
                with self._cond:
                    got = self._reached(n, finished)
                if got is not None:
                    return got
                await watcher[1].wait()
        finally:
            with self._cond:
                self._watchers.discard(watcher)

    def _reached(self, n: int, finished: bool) -> list[Attempt] | None:
        items = list(self._items.values())
        counted = [a for a in items if a.finished] if finished else items
        return items if len(counted) >= n else None

    def _timeout_message(self, n: int, timeout: float, finished: bool) -> str:
        items = self.snapshot()
        done = sum(a.finished for a in items)
        what = "finished attempts" if finished else "attempts"
        return f"provider {self._provider!r}: wanted {n} {what} within {timeout}s, have {len(items)} ({done} finished)"

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()
            watchers = list(self._watchers)
        for loop, event in watchers:
            # The waiter's loop may have closed since it registered; it no longer needs waking.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def _emit(self, attempt: Attempt) -> None:
        line = orjson.dumps(_log_record(attempt)).decode()
        self._logger.info(line)
        if self._log_path is not None:
            with self._file_lock, self._log_path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
