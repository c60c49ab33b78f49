"""Request-path metrics kept in the process and exported through OpenTelemetry at collection: counters as
observable counters, histograms merged into each collection, both with the attributes and values recorded."""

from __future__ import annotations

import io
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Histogram, InMemoryMetricReader, MetricsData, Sum

from triage.record import DecisionRecord
from triage.telemetry import semconv as sc
from triage.telemetry.aggregate import LocalHistogram, MetricsStore
from triage.telemetry.recorder import DecisionLog, Recorder
from triage.telemetry.setup import with_histograms


class _Reader(InMemoryMetricReader):
    """The in-memory reader with the store's histograms merged in, as ``setup`` does for its readers."""

    def __init__(self, store: MetricsStore) -> None:
        super().__init__()
        self._store = store

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        super()._receive_metrics(with_histograms(metrics_data, self._store), timeout_millis, **kwargs)


def _metrics(reader: InMemoryMetricReader) -> dict[str, Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return {m.name: m.data for rm in data.resource_metrics for s in rm.scope_metrics for m in s.metrics}


@pytest.mark.parametrize(
    ("value", "bucket"),
    [(0.5, 0), (1.0, 0), (1.5, 1), (2.0, 1), (2.5, 2), (1e9, 2)],
    ids=["below", "at-first-bound", "between", "at-second-bound", "above-last", "far-above"],
)
def test_aggregate_histogram_buckets_hold_values_up_to_their_bound(value: float, bucket: int) -> None:
    histogram = LocalHistogram("h", "s", "", (1.0, 2.0))
    histogram.record(value, (("k", "v"),))
    [(_, series)] = histogram.snapshot()
    assert series.counts == [int(i == bucket) for i in range(3)]
    assert (series.count, series.total, series.low, series.high) == (1, value, value, value)


def _record(route: str, task: str, tokens: tuple[int, int], latency_us: int) -> DecisionRecord:
    return DecisionRecord(
        decision_id="d",
        time_unix_ms=0,
        endpoint="openai.chat",
        tier="free",
        route=route,
        reason="classified",
        task=task,
        router_latency_us=latency_us,
        cluster="small",
        provider="vllm",
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_usd=0.25,
        attempts=2,
    )


def test_aggregate_recorder_metrics_reach_an_opentelemetry_reader() -> None:
    store = MetricsStore()
    reader = _Reader(store)
    recorder = Recorder(DecisionLog(io.StringIO()), MeterProvider(metric_readers=[reader]), store)
    for record in (_record("economy", "code", (10, 5), 100), _record("economy", "code", (30, 7), 300)):
        recorder.decided(None, record)
        recorder.finished(None, record)
    recorder.decided(None, _record("premium", "math", (1, 1), 50))
    metrics = _metrics(reader)

    decisions = metrics[sc.METRIC_DECISIONS]
    assert isinstance(decisions, Sum)
    assert decisions.is_monotonic
    points = {(p.attributes[sc.ROUTE], p.attributes[sc.TASK]): p.value for p in decisions.data_points}
    assert points == {("economy", "code"): 2, ("premium", "math"): 1}

    duration = metrics[sc.METRIC_DECISION_DURATION]
    assert isinstance(duration, Histogram)
    [point] = duration.data_points
    assert (point.count, point.min, point.max) == (3, 50e-6, 300e-6)
    assert point.sum == pytest.approx(450e-6)
    assert sum(point.bucket_counts) == 3
    assert list(point.explicit_bounds) == list(sc.DECISION_DURATION_BUCKETS)

    tokens = metrics[sc.METRIC_TOKEN_USAGE]
    assert isinstance(tokens, Histogram)
    by_kind = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: (p.count, p.sum) for p in tokens.data_points}
    assert by_kind == {"input": (2, 40), "output": (2, 12)}

    cost, fallbacks = metrics[sc.METRIC_COST], metrics[sc.METRIC_FALLBACKS]
    assert isinstance(cost, Sum)
    assert isinstance(fallbacks, Sum)
    assert [p.value for p in cost.data_points] == [0.5]
    assert [p.value for p in fallbacks.data_points] == [2]


def test_aggregate_collections_are_cumulative() -> None:
    store = MetricsStore()
    reader = _Reader(store)
    recorder = Recorder(None, MeterProvider(metric_readers=[reader]), store)
    recorder.decided(None, _record("economy", "code", (1, 1), 10))
    first = _metrics(reader)[sc.METRIC_DECISION_DURATION]
    recorder.decided(None, _record("economy", "code", (1, 1), 20))
    second = _metrics(reader)[sc.METRIC_DECISION_DURATION]
    assert [p.count for p in first.data_points] == [1]
    assert [p.count for p in second.data_points] == [2]
    assert second.data_points[0].start_time_unix_nano == first.data_points[0].start_time_unix_nano
