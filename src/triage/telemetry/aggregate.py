"""Request-path metrics aggregated in plain dictionaries, read by OpenTelemetry at collection time.

Why not the SDK's synchronous instruments: on the hardware Triage targets, one ``Counter.add`` or
``Histogram.record`` of the OpenTelemetry Python SDK costs ~25 µs (attribute cleaning, hashing and a lock per
call), and a request records five of them — more than the classifier itself. Here an event is a dictionary
update under a lock (~1 µs), with the attribute set given as a tuple that the caller builds once.

How the values leave the process (``triage.telemetry.setup`` wires it; the request path never sees the SDK):

- counters become OpenTelemetry *observable* counters whose callbacks read the cumulative totals;
- histograms are added to each collection by ``MetricsStore.histogram_metrics`` (the SDK has no observable
  histogram), called from the metric readers that ``setup`` builds.

Both are cumulative, the temporality Prometheus expects and the OTLP exporter's default.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from opentelemetry.metrics import CallbackOptions, Observation

# An attribute set as (name, value) pairs. A metric's callers always list the names in the same order, so equal
# sets are equal tuples without sorting on the request path.
Key = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Buckets:
    counts: list[int]
    total: float = 0.0
    count: int = 0
    low: float = float("inf")
    high: float = float("-inf")


@dataclass(slots=True)
class LocalCounter:
    """A monotonic sum per attribute set."""

    name: str
    unit: str
    description: str
    values: dict[Key, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, amount: float, attributes: Key) -> None:
        with self.lock:
            self.values[attributes] = self.values.get(attributes, 0) + amount

    def snapshot(self) -> list[tuple[Key, float]]:
        with self.lock:
            return list(self.values.items())

    def observe(self, _options: CallbackOptions) -> list[Observation]:
        """The callback of the observable counter that exports this one: every cumulative total."""
        return [Observation(value, dict(attributes)) for attributes, value in self.snapshot()]


@dataclass(slots=True)
class LocalHistogram:
    """Explicit-bucket histograms per attribute set (bucket ``i`` counts values ``<= bounds[i]``, the last one
    the rest), with sum, count, min and max: the shape of an OpenTelemetry histogram data point."""

    name: str
    unit: str
    description: str
    bounds: tuple[float, ...]
    series: dict[Key, _Buckets] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, value: float, attributes: Key) -> None:
        index = bisect.bisect_left(self.bounds, value)
        with self.lock:
            series = self.series.get(attributes)
            if series is None:
                series = self.series[attributes] = _Buckets([0] * (len(self.bounds) + 1))
            series.counts[index] += 1
            series.total += value
            series.count += 1
            series.low = min(series.low, value)
            series.high = max(series.high, value)

    def snapshot(self) -> list[tuple[Key, _Buckets]]:
        with self.lock:
            return [(k, _Buckets(list(b.counts), b.total, b.count, b.low, b.high)) for k, b in self.series.items()]


class MetricsStore:
    """The request path's counters and histograms by name, and when they started (their cumulative start time).
    Asking twice for the same name returns the same instrument."""

    def __init__(self) -> None:
        self.start_ns = time.time_ns()
        self.counters: dict[str, LocalCounter] = {}
        self.histograms: dict[str, LocalHistogram] = {}

    def counter(self, name: str, unit: str, description: str) -> LocalCounter:
        if name not in self.counters:
            self.counters[name] = LocalCounter(name, unit, description)
        return self.counters[name]

    def histogram(self, name: str, unit: str, description: str, bounds: Sequence[float]) -> LocalHistogram:
        if name not in self.histograms:
            self.histograms[name] = LocalHistogram(name, unit, description, tuple(bounds))
        return self.histograms[name]


_DEFAULT = MetricsStore()


def default_store() -> MetricsStore:
    """The process's store: the one ``triage serve``'s recorder writes and its metric readers read."""
    return _DEFAULT
