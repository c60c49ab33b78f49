"""``triage store``: stats, prune, compact, ddl."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

import triage
from tests.unit.store.conftest import make_traffic
from triage.store.cli import main, parse_bytes, store_stats
from triage.store.writer import SegmentWriter
from triage.telemetry.recorder import record_line


def fill(path: Path, n: int = 50, now: float | None = None) -> SegmentWriter:
    records, events = make_traffic(n)
    w = SegmentWriter(path, host="h", pid=1, clock=(lambda: now) if now is not None else time.time)
    for rec in records:
        w.record(rec, record_line(rec))
    for ev in events:
        w.event(ev)
    w.close()
    return w


def test_store_stats_counts_segments_records_events_and_time_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(tmp_path, 50)
    records, _ = make_traffic(50)
    stats = store_stats(tmp_path)
    assert (stats.segments, stats.records, stats.events, stats.torn_tails) == (2, 50, 5, 0)
    assert stats.first_ms is not None
    assert stats.last_ms is not None
    assert (
        min(r.time_unix_ms for r in records) <= stats.first_ms <= stats.last_ms <= max(r.time_unix_ms for r in records)
    )
    assert main(["stats", "--store", str(tmp_path), "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["records"] == 50


def test_store_stats_counts_compacted_segments(tmp_path: Path) -> None:
    fill(tmp_path, 50, now=time.time() - 5 * 3600)
    assert main(["compact", "--store", str(tmp_path)]) == 0
    stats = store_stats(tmp_path)
    assert (stats.parquet_segments, stats.jsonl_segments, stats.records, stats.events) == (2, 0, 50, 5)


def test_store_prune_applies_the_size_bound_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(tmp_path, 50)
    old = tmp_path / "decisions" / "20200101T00-h-1.jsonl"
    old.write_bytes(b"{}\n" * 1000)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert main(["prune", "--store", str(tmp_path), "--max-bytes", "1K", "--dry-run"]) == 0
    assert "would delete" in capsys.readouterr().out
    assert old.exists()
    assert main(["prune", "--store", str(tmp_path), "--max-bytes", "1K"]) == 0
    assert not old.exists()


def test_store_prune_reads_retention_from_the_config(tmp_path: Path) -> None:
    fill(tmp_path / "s", 10)
    old = tmp_path / "s" / "events" / "20200101T00-h-1.jsonl"
    old.write_bytes(b"{}\n")
    os.utime(old, (time.time() - 3 * 86400, time.time() - 3 * 86400))
    config = tmp_path / "triage.yaml"
    default = (Path(triage.__file__).parent / "defaults" / "triage.yaml").read_text()
    config.write_text(default + f"\nstore: {{path: {tmp_path / 's'}, retention_days: 2}}\n")
    assert main(["prune", "--config", str(config)]) == 0
    assert not old.exists()
    assert len(list((tmp_path / "s" / "decisions").iterdir())) == 1


def test_store_ddl_prints_the_logs_table_and_both_views(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ddl", "--database", "obs", "--ttl-days", "30"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE IF NOT EXISTS obs.otel_logs" in out
    assert "TTL TimestampTime + toIntervalDay(30)" in out
    assert "CREATE TABLE IF NOT EXISTS obs.decisions" in out
    assert "CREATE MATERIALIZED VIEW IF NOT EXISTS obs.events_mv TO obs.events_log" in out
    assert main(["ddl", "--views-only", "--plain-views", "--backfill"]) == 0
    out = capsys.readouterr().out
    assert "otel_logs (" not in out
    assert "CREATE OR REPLACE VIEW otel.decisions" in out
    assert "INSERT INTO otel.events" in out


def test_store_cli_needs_a_store(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="give --store"):
        main(["stats"])


def test_store_cli_reports_an_invalid_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("store: {retention_days: -1}\n")
    assert main(["stats", "--config", str(config)]) == 1
    assert "retention_days" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "size"),
    [("10G", 10 * 1024**3), ("512M", 512 * 1024**2), ("1.5KiB", 1536), ("2048", 2048)],
    ids=["G", "M", "KiB", "bytes"],
)
def test_parse_bytes_reads_binary_units(text: str, size: int) -> None:
    assert parse_bytes(text) == size
