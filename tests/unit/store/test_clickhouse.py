"""The at-scale engine: records as OTLP log records → the Collector's ``otel_logs`` table → the same views, the same
answers as DuckDB over the segments (chdb, in-process ClickHouse; skipped when it is not installed)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.store.conftest import make_traffic, rounded
from triage.record import DecisionRecord
from triage.store import Store
from triage.store.clickhouse import (
    attribute_text,
    backfill_sql,
    clickhouse_type,
    collector_rows,
    inline_params,
    otel_logs_ddl,
    views_ddl,
)
from triage.store.query import CLICKHOUSE, DUCKDB, Dialect
from triage.store.schema import Event
from triage.store.writer import OtlpLogSink, SegmentWriter
from triage.telemetry.recorder import record_line

chdb = pytest.importorskip("chdb")

from triage.store.clickhouse import ClickHouseStore  # noqa: E402

_databases = itertools.count()


def report_queries(d: Dialect) -> dict[str, str]:
    """What a cost report asks, written once: portable SQL plus the dialect's few functions."""
    large = "'large/gpt-4o'"
    return {
        "spend_by_route_per_day": (
            f"SELECT {d.day()} AS day, route, count(*) AS requests, sum(cost_usd) AS cost FROM decisions GROUP BY 1, 2"
        ),
        "spend_by_dimensions": (
            "SELECT tier, task, provider, COALESCE(model_answered, model_sent) AS model, count(*) AS requests, "
            "sum(cost_usd) AS cost, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens "
            "FROM decisions GROUP BY 1, 2, 3, 4"
        ),
        "top_1pct_share": (
            "SELECT sum(CASE WHEN rk <= ceil(n / 100.0) THEN cost_usd ELSE 0 END) / sum(cost_usd) AS share "
            "FROM (SELECT cost_usd, ROW_NUMBER() OVER (ORDER BY cost_usd DESC, decision_id) AS rk, "
            "count(*) OVER () AS n FROM decisions WHERE cost_usd IS NOT NULL) AS ranked"
        ),
        "rates": (
            "SELECT count(*) AS requests, sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS fallbacks, "
            "sum(CASE WHEN status >= 400 AND status < 500 AND error_code IS NOT NULL THEN 1 ELSE 0 END) AS rejected, "
            "sum(CASE WHEN stream THEN 1 ELSE 0 END) AS streams, sum(CASE WHEN completed THEN 1 ELSE 0 END) AS done "
            "FROM decisions"
        ),
        "feedback_join": (
            "SELECT d.route AS route, count(*) AS events, avg(e.value) AS value, sum(d.cost_usd) AS cost, "
            "min(e.signal) AS first_signal FROM decisions AS d JOIN events AS e ON d.decision_id = e.decision_id "
            "GROUP BY d.route"
        ),
        "shadow": (
            "SELECT tier, s.name AS candidate, s.route AS shadow_route, count(*) AS n, "
            "sum(CASE WHEN s.diverged THEN 1 ELSE 0 END) AS diverged, sum(s.cost_delta_usd) AS delta "
            f"FROM (SELECT tier, {d.unnest('shadow')} AS s FROM decisions) AS x GROUP BY 1, 2, 3"
        ),
        "latency_quantiles": (
            f"SELECT route, {d.quantile('router_latency_us', 0.5)} AS p50, "
            f"{d.quantile('router_latency_us', 0.99)} AS p99 FROM decisions GROUP BY route"
        ),
        "arrays": (
            f"SELECT {d.count_if(d.contains('chain', large))} AS via_large, sum({d.length('chain')}) AS steps, "
            f"min({d.hour()}) AS first_hour, max(time_unix_ms) AS last_ms, count(DISTINCT decision_id) AS ids "
            "FROM decisions"
        ),
        "events": (
            "SELECT kind, signal, count(*) AS n, sum(value) AS total, min(principal) AS who FROM events GROUP BY 1, 2"
        ),
    }


@pytest.fixture(params=[True, False], ids=["tables", "views"])
def ch(request: pytest.FixtureRequest) -> Iterator[ClickHouseStore]:
    """A chdb store in its own database: typed tables fed by materialized views, or plain views over otel_logs."""
    store = ClickHouseStore(database=f"test_{next(_databases)}", materialized=request.param)
    yield store
    store.execute(f"DROP DATABASE IF EXISTS {store.database}")


def otlp_requests(records: list[DecisionRecord], events: list[Event]) -> list[bytes]:
    """The OTLP requests the store's log sink sends for ``records`` and ``events``."""
    sent: list[bytes] = []
    sink = OtlpLogSink(sent.append, {"service.name": "triage", "triage.worker": 0})
    for rec in records:
        sink.record(rec, record_line(rec))
    for ev in events:
        sink.event(ev)
    sink.close()
    return sent


def through_collector(ch: ClickHouseStore, records: list[DecisionRecord], events: list[Event]) -> None:
    for request in otlp_requests(records, events):
        ch.insert_otlp(request)


def segment_store(path: Path, records: list[DecisionRecord], events: list[Event]) -> Path:
    w = SegmentWriter(path, host="h", pid=1)
    for rec in records:
        w.record(rec, record_line(rec))
    for ev in events:
        w.event(ev)
    w.close()
    return path


@pytest.mark.parametrize("name", sorted(report_queries(DUCKDB)))
def test_report_queries_give_the_same_answers_on_duckdb_and_clickhouse(
    name: str, tmp_path: Path, ch: ClickHouseStore
) -> None:
    records, events = make_traffic(300)
    duck = Store(segment_store(tmp_path, records, events))
    through_collector(ch, records, events)
    expected = rounded(duck.query(report_queries(DUCKDB)[name]))
    assert expected
    assert rounded(ch.query(report_queries(CLICKHOUSE)[name])) == expected


def test_clickhouse_views_give_back_every_column_of_every_record(tmp_path: Path, ch: ClickHouseStore) -> None:
    records, events = make_traffic(120)
    duck = Store(segment_store(tmp_path, records, events))
    through_collector(ch, records, events)
    for view in ("decisions", "events"):
        sql = f"SELECT * FROM {view}"
        assert rounded(ch.query(sql), 12) == rounded(duck.query(sql), 12)


def test_clickhouse_backfill_from_segments_matches_the_otlp_path(tmp_path: Path, ch: ClickHouseStore) -> None:
    records, events = make_traffic(100)
    segment_store(tmp_path, records, events)
    ch.load_segments(tmp_path)
    other = ClickHouseStore(database=f"test_{next(_databases)}")
    through_collector(other, records, events)
    for view in ("decisions", "events"):
        sql = f"SELECT * FROM {view}"
        assert rounded(ch.query(sql), 12) == rounded(other.query(sql), 12)
    other.execute(f"DROP DATABASE {other.database}")


def test_clickhouse_typed_tables_backfill_rows_already_in_otel_logs(ch: ClickHouseStore) -> None:
    records, events = make_traffic(30)
    through_collector(ch, records, events)
    if (
        ch.query("SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'decisions'")[0][
            "engine"
        ]
        == "View"
    ):
        return
    ch.execute("TRUNCATE TABLE decisions")
    for sql in backfill_sql(ch.source, ch.database):
        ch.execute(sql)
    assert ch.query("SELECT count() AS n FROM decisions") == [{"n": 30}]


def test_collector_rows_keep_the_body_attributes_trace_and_resource() -> None:
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

    records, events = make_traffic(3)
    records[0].trace_id = "0af7651916cd43dd8448eb211c80319c"
    [request] = otlp_requests(records, events[:1])
    message = logs_service_pb2.ExportLogsServiceRequest()
    message.ParseFromString(request)
    rows = collector_rows(message)
    assert len(rows) == 4
    first = rows[0]
    assert first["Body"] == record_line(records[0]).decode().rstrip("\n")
    assert first["LogAttributes"] == {"triage.kind": "decision", "triage.decision_id": records[0].decision_id}
    assert first["TraceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert first["Timestamp"] == records[0].time_unix_ms * 1_000_000
    assert (first["ScopeName"], first["ServiceName"], first["SeverityText"]) == ("triage.store", "triage", "INFO")
    assert first["ResourceAttributes"] == {"service.name": "triage", "triage.worker": "0"}
    assert rows[-1]["LogAttributes"]["triage.kind"] == "event"


def test_clickhouse_store_takes_question_mark_parameters(ch: ClickHouseStore) -> None:
    assert ch.query("SELECT ? AS a, ? AS b, '?' AS c", [3, "it's"]) == [{"a": 3, "b": "it's", "c": "?"}]


def test_inline_params_refuses_a_count_mismatch() -> None:
    with pytest.raises(ValueError, match="fewer"):
        inline_params("SELECT ?, ?", [1])
    with pytest.raises(ValueError, match="more"):
        inline_params("SELECT ?", [1, 2])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("economy", "economy"),
        (True, "true"),
        (413, "413"),
        (0.1, "0.1"),
        (3.0, "3"),
        (1.5e-7, "1.5e-7"),
        (2.5e21, "2.5e+21"),
        (123456.789, "123456.789"),
        (["small/llama", "medium/gpt"], '["small/llama","medium/gpt"]'),
    ],
    ids=["str", "bool", "int", "float", "integral-float", "tiny-float", "huge-float", "plain-float", "list"],
)
def test_attribute_text_renders_values_as_the_collector_exporter_does(value: object, text: str) -> None:
    assert attribute_text(value) == text


def test_views_ddl_maps_every_schema_type() -> None:
    assert clickhouse_type("VARCHAR") == "Nullable(String)"
    assert clickhouse_type("VARCHAR[]") == "Array(String)"
    assert clickhouse_type("STRUCT(name VARCHAR, diverged BOOLEAN)[]") == (
        "Array(Tuple(name Nullable(String), diverged Nullable(Bool)))"
    )
    table, mv, *_ = views_ddl("otel.otel_logs", "otel", ttl_days=30)
    assert table.startswith("CREATE TABLE IF NOT EXISTS otel.decisions (")
    assert "TTL toDateTime(intDiv(time_unix_ms, 1000)) + toIntervalDay(30)" in table
    assert mv.startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS otel.decisions_mv TO otel.decisions AS")
    decisions, events_log, events = views_ddl("otel.otel_logs", "otel", materialized=False)
    assert decisions.startswith("CREATE OR REPLACE VIEW otel.decisions AS")
    assert "LogAttributes['triage.kind'] = 'event'" in events_log
    assert events.startswith("CREATE OR REPLACE VIEW otel.events AS")
    assert "FROM otel.events_log" in events
    assert "Timestamp DateTime64(9)" in otel_logs_ddl()
    assert "LogAttributes Map(LowCardinality(String), String)" in otel_logs_ddl()


def test_a_feedback_event_repeated_by_another_process_counts_once_on_both_engines(
    tmp_path: Path, ch: ClickHouseStore
) -> None:
    """The feedback service remembers idempotency keys per process: a retried POST that reaches another worker or
    replica is appended again. Both engines read (principal, idempotency key) once, the first to arrive; events
    without a key (implicit signals) and the same key from another principal stay."""
    records, _ = make_traffic(3)
    first, again, other = (
        Event("ev-1", records[0].decision_id, 1_000, "feedback", "thumbs_down", 0.0, "alice", "k1"),
        Event("ev-2", records[0].decision_id, 2_000, "feedback", "thumbs_down", 0.0, "alice", "k1"),
        Event("ev-3", records[0].decision_id, 3_000, "feedback", "thumbs_up", 1.0, "bob", "k1"),
    )
    implicit = [Event(f"im-{i}", records[1].decision_id, 4_000, "implicit", "retried", 0.0, "alice") for i in (1, 2)]
    segment_store(tmp_path, records, [first, other, *implicit])
    w = SegmentWriter(tmp_path, host="h", pid=2)  # the repeat, written by another process
    w.event(again)
    w.close()
    through_collector(ch, records, [first, other, *implicit])
    through_collector(ch, [], [again])
    sql = "SELECT event_id FROM events ORDER BY event_id"
    expected = [{"event_id": e} for e in ("ev-1", "ev-3", "im-1", "im-2")]
    assert Store(tmp_path).query(sql) == expected
    assert ch.query(sql) == expected
