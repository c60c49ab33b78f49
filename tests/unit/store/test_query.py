"""Reading a store with DuckDB: torn lines, the events join, compacted segments, the dialect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.store.conftest import T0_MS, make_traffic, rounded
from triage.record import DecisionRecord
from triage.store import Store
from triage.store.query import CLICKHOUSE, DUCKDB, compact, open_store, segment_files
from triage.store.schema import Event
from triage.store.writer import SegmentWriter
from triage.telemetry.recorder import record_line

T0 = T0_MS / 1000


def fill(path: Path, records: list[DecisionRecord], events: list[Event], now: float = T0) -> SegmentWriter:
    w = SegmentWriter(path, host="h", pid=1, clock=lambda: now)
    for rec in records:
        w.record(rec, record_line(rec))
    for ev in events:
        w.event(ev)
    w.flush()
    return w


def test_store_ignores_a_torn_last_line(tmp_path: Path) -> None:
    records, _ = make_traffic(20)
    w = fill(tmp_path, records, [])
    [current] = w.current
    with current.open("ab") as fh:
        fh.write(b'{"decision_id": "cut-by-a-crash", "time_unix_ms": 17')
    store = Store(tmp_path)
    rows = store.query("SELECT decision_id FROM decisions")
    assert len(rows) == 20
    assert "cut-by-a-crash" not in {r["decision_id"] for r in rows}


def test_store_joins_events_to_decisions_by_id(tmp_path: Path) -> None:
    records, events = make_traffic(50)
    fill(tmp_path, records, events)
    rows = Store(tmp_path).query(
        "SELECT d.decision_id AS id, d.route AS route, e.signal AS signal, e.value AS value "
        "FROM decisions AS d JOIN events AS e ON d.decision_id = e.decision_id ORDER BY e.event_id"
    )
    by_id = {r.decision_id: r for r in records}
    assert len(rows) == len(events) == 5
    for row, ev in zip(rows, sorted(events, key=lambda e: e.event_id), strict=True):
        assert row["id"] == ev.decision_id
        assert row["route"] == by_id[ev.decision_id].route
        assert (row["signal"], row["value"]) == (ev.signal, ev.value)


def test_store_reads_list_columns_as_empty_lists_never_null(tmp_path: Path) -> None:
    rec = DecisionRecord(decision_id="d1", time_unix_ms=T0_MS, endpoint="/v1/chat/completions", status=413)
    fill(tmp_path, [rec], [])
    [row] = Store(tmp_path).query("SELECT chain, too_small, shadow, route FROM decisions")
    assert row == {"chain": [], "too_small": [], "shadow": [], "route": None}


def test_store_with_no_segments_has_empty_views(tmp_path: Path) -> None:
    store = Store(tmp_path / "nothing-yet")
    assert store.query("SELECT count(*) AS n FROM decisions") == [{"n": 0}]
    assert store.query("SELECT count(*) AS n FROM events") == [{"n": 0}]


QUERY = (
    "SELECT route, count(*) AS requests, sum(cost_usd) AS cost, sum(length(chain)) AS steps, "
    "count(shadow[1].name) AS shadowed FROM decisions GROUP BY route"
)


def test_compact_rewrites_closed_segments_as_parquet_with_the_same_answers(tmp_path: Path) -> None:
    records, events = make_traffic(200)
    fill(tmp_path, records, events)
    before = rounded(Store(tmp_path).query(QUERY))
    done = compact(tmp_path, now=T0 + 3 * 3600)
    assert {c.target.suffix for c in done} == {".parquet"}
    assert len(done) == 2
    jsonl, parquet = segment_files(tmp_path / "decisions")
    assert (jsonl, len(parquet)) == ([], 1)
    store = Store(tmp_path)
    assert rounded(store.query(QUERY)) == before
    assert store.query("SELECT count(*) AS n FROM events") == [{"n": 20}]


def test_compact_leaves_segments_that_may_still_be_written(tmp_path: Path) -> None:
    records, _ = make_traffic(10)
    fill(tmp_path, records, [])
    assert compact(tmp_path, now=T0 + 3600) == []  # the hour's window (plus grace) has not ended
    assert len(segment_files(tmp_path / "decisions")[0]) == 1


def test_compact_keeps_each_segments_time_for_retention(tmp_path: Path) -> None:
    records, _ = make_traffic(10)
    w = fill(tmp_path, records, [])
    [source] = w.current
    os.utime(source, (T0 + 1800, T0 + 1800))
    [done] = compact(tmp_path, now=T0 + 3 * 3600)
    assert done.target.stat().st_mtime == T0 + 1800


def test_store_reads_a_segment_once_while_a_compaction_replaces_it(tmp_path: Path) -> None:
    records, _ = make_traffic(30)
    w = fill(tmp_path, records, [])
    [source] = w.current
    keep = source.read_bytes()
    compact(tmp_path, now=T0 + 3 * 3600)
    source.write_bytes(keep)  # the instant between the Parquet file's rename and the original's delete
    assert Store(tmp_path).query("SELECT count(*) AS n FROM decisions") == [{"n": 30}]


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (DUCKDB, "((time_unix_ms // 3600000) * 3600000)"),
        (CLICKHOUSE, "(intDiv(time_unix_ms, 3600000) * 3600000)"),
    ],
    ids=["duckdb", "clickhouse"],
)
def test_dialect_spells_hour_buckets_per_engine(dialect: object, expected: str) -> None:
    assert dialect.hour() == expected  # type: ignore[attr-defined]


def test_dialect_functions_run_on_duckdb(tmp_path: Path) -> None:
    records, _ = make_traffic(100)
    fill(tmp_path, records, [])
    d = DUCKDB
    via_large = d.count_if(d.contains("chain", "'large/gpt-4o'"))
    [row] = Store(tmp_path).query(
        f"SELECT min({d.day()}) AS day, {d.quantile('router_latency_us', 0.5)} AS p50, "
        f"{via_large} AS via_large FROM decisions"
    )
    assert row["day"] == T0_MS
    assert 60 <= row["p50"] <= 900
    assert row["via_large"] == sum("large/gpt-4o" in r.chain for r in records)


def test_open_store_opens_a_directory_with_duckdb(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert store.dialect is DUCKDB
    assert store.query("SELECT count(*) AS n FROM decisions") == [{"n": 0}]
    store.close()
