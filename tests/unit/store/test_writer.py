"""The segment writer: lines buffered on the request path, written whole on flush, rotated, pruned, never raising."""

from __future__ import annotations

import multiprocessing
import os
import re
from pathlib import Path

import orjson
import pytest

from tests.unit.store.conftest import T0_MS, make_traffic
from triage.record import DecisionRecord
from triage.store import Store
from triage.store.schema import Event
from triage.store.writer import SegmentWriter, Sinks, list_segments, prune, segment_hour
from triage.telemetry.recorder import DecisionLog, Recorder, record_line

T0 = T0_MS / 1000  # 2026-01-01T00:00:00Z


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def writer(path: Path, clock: Clock, **kwargs: float) -> SegmentWriter:
    return SegmentWriter(path, host="hostA", pid=42, clock=clock, **kwargs)  # type: ignore[arg-type]


def record(i: int, time_ms: int = T0_MS) -> DecisionRecord:
    return DecisionRecord(decision_id=f"d{i}", time_unix_ms=time_ms, endpoint="/v1/chat/completions", route="economy")


def lines_of(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_segment_writer_writes_whole_lines_only_on_flush(tmp_path: Path) -> None:
    clock = Clock()
    w = writer(tmp_path, clock)
    for i in range(3):
        rec = record(i)
        w.record(rec, record_line(rec))
    w.event(Event("e1", "d1", T0_MS, "feedback", "thumbs_up", 1.0))
    assert list_segments(tmp_path) == []
    w.flush()
    [decisions] = list((tmp_path / "decisions").iterdir())
    [events] = list((tmp_path / "events").iterdir())
    assert [r["decision_id"] for r in lines_of(decisions)] == ["d0", "d1", "d2"]
    assert lines_of(events) == [
        {
            "event_id": "e1",
            "decision_id": "d1",
            "time_unix_ms": T0_MS,
            "kind": "feedback",
            "signal": "thumbs_up",
            "value": 1.0,
        }
    ]
    assert decisions.read_bytes().endswith(b"\n")
    assert (w.stats.records, w.stats.events) == (3, 1)


def test_segment_writer_names_segments_by_utc_hour_host_and_pid(tmp_path: Path) -> None:
    clock = Clock(T0 + 5 * 3600 + 12)
    w = writer(tmp_path, clock)
    w.record(record(0), record_line(record(0)))
    w.flush()
    assert [p.name for p in w.current] == ["20260101T05-hostA-42.jsonl"]
    assert segment_hour(T0) == "20260101T00"


def test_segment_writer_rotates_every_segment_seconds(tmp_path: Path) -> None:
    clock = Clock()
    w = writer(tmp_path, clock, segment_seconds=900)
    for minute in range(0, 61, 5):  # an hour and a minute: five windows of 15 min
        clock.now = T0 + minute * 60
        rec = record(minute)
        w.record(rec, record_line(rec))
        w.flush()
    names = sorted(p.name for p in (tmp_path / "decisions").iterdir())
    assert names == [
        "20260101T00-hostA-42-1.jsonl",
        "20260101T00-hostA-42-2.jsonl",
        "20260101T00-hostA-42-3.jsonl",
        "20260101T00-hostA-42.jsonl",
        "20260101T01-hostA-42.jsonl",
    ]
    assert len(lines_of(tmp_path / "decisions" / "20260101T00-hostA-42.jsonl")) == 3  # minutes 0, 5, 10


def test_segment_writer_never_appends_to_an_existing_file(tmp_path: Path) -> None:
    """A restarted process with the same pid (a container's pid 1) must not append after a line a crash tore."""
    (tmp_path / "decisions").mkdir()
    torn = tmp_path / "decisions" / "20260101T00-hostA-42.jsonl"
    torn.write_bytes(b'{"decision_id": "old"}\n{"decision_id": "to')
    w = writer(tmp_path, Clock())
    w.record(record(1), record_line(record(1)))
    w.flush()
    assert [p.name for p in w.current] == ["20260101T00-hostA-42-1.jsonl"]
    assert torn.read_bytes().endswith(b'"to')


def test_segment_writer_starts_a_new_segment_when_its_file_is_deleted(tmp_path: Path) -> None:
    w = writer(tmp_path, Clock())
    w.record(record(1), record_line(record(1)))
    w.flush()
    [first] = w.current
    first.unlink()  # another writer's size bound, or an operator
    w.record(record(2), record_line(record(2)))
    w.flush()
    [second] = w.current  # a new file (the name is free again)
    assert [r["decision_id"] for r in lines_of(second)] == ["d2"]
    assert w.stats.segments == 2


def test_segment_writer_never_raises_when_the_store_cannot_be_written(tmp_path: Path) -> None:
    blocked = tmp_path / "store"
    blocked.write_text("a file where the directory should be")
    w = writer(blocked, Clock())
    w.record(record(1), record_line(record(1)))
    w.event(Event("e1", "d1", T0_MS, "feedback", "thumbs_up", 1.0))
    w.flush()
    assert w.stats.dropped == 2
    assert w.stats.errors >= 2


def segment(tmp_path: Path, kind: str, name: str, size: int, mtime: float) -> Path:
    path = tmp_path / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * (size - 1) + b"\n")
    os.utime(path, (mtime, mtime))
    return path


def test_prune_deletes_segments_older_than_the_retention(tmp_path: Path) -> None:
    now = T0 + 40 * 86400
    old = segment(tmp_path, "decisions", "20260101T00-a-1.jsonl", 100, T0 + 3600)
    old_events = segment(tmp_path, "events", "20260101T00-a-1.jsonl", 100, T0 + 3600)
    recent = segment(tmp_path, "decisions", "20260201T00-a-1.jsonl", 100, now - 86400)
    done = prune(tmp_path, retention_days=30, max_bytes=10**9, now=now)
    assert sorted(done.deleted) == sorted([old, old_events])
    assert recent.exists()
    assert done.remaining_bytes == 100


def test_prune_keeps_the_size_bound_oldest_first_across_writers_never_the_current_file(tmp_path: Path) -> None:
    now = T0 + 10 * 3600
    a0 = segment(tmp_path, "decisions", "20260101T00-a-1.jsonl", 1000, T0 + 3600)
    b0 = segment(tmp_path, "decisions", "20260101T00-b-7.jsonl", 1000, T0 + 3700)
    e0 = segment(tmp_path, "events", "20260101T01-a-1.jsonl", 1000, T0 + 7200)
    a1 = segment(tmp_path, "decisions", "20260101T09-a-1.jsonl", 1000, now - 60)  # a's current file
    b1 = segment(tmp_path, "decisions", "20260101T09-b-7.jsonl", 1000, now - 1)  # b is writing it right now
    done = prune(tmp_path, retention_days=30, max_bytes=1500, now=now, protect=[a1])
    assert done.deleted == [a0, b0, e0]
    assert a1.exists()
    assert b1.exists()
    assert done.remaining_bytes == 2000  # over the bound: what is left is being written


def test_segment_writer_applies_retention_once_per_interval_not_on_every_flush(tmp_path: Path) -> None:
    clock = Clock(T0 + 40 * 86400)
    w = writer(tmp_path, clock, maintain_every_s=60)
    w.flush()  # the first flush prunes
    old = segment(tmp_path, "decisions", "20260101T00-z-1.jsonl", 10, T0)
    clock.now += 30
    w.flush()
    assert old.exists()
    clock.now += 31
    w.flush()
    assert not old.exists()
    assert w.stats.pruned == 1


def test_segment_writer_size_bound_never_deletes_its_own_current_segments(tmp_path: Path) -> None:
    clock = Clock()
    w = writer(tmp_path, clock, max_bytes=1, maintain_every_s=0)
    for i in range(3):
        w.record(record(i), record_line(record(i)))
        w.event(Event(f"e{i}", f"d{i}", T0_MS, "feedback", "thumbs_up", 1.0))
        w.flush()
    assert len(lines_of(w.current[0])) == 3
    assert w.stats.pruned == 0


def _write_many(path: str, worker: int, n: int) -> None:
    w = SegmentWriter(path, host="shared", pid=1000 + worker)
    records, _ = make_traffic(n, seed=worker)
    for i, rec in enumerate(records):
        w.record(rec, record_line(rec))
        if i % 37 == 0:
            w.flush()
    w.close()


def test_two_processes_write_one_store_at_once_without_torn_lines(tmp_path: Path) -> None:
    n = 3000
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), k, n)) for k in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    files = sorted((tmp_path / "decisions").iterdir())
    assert [re.sub(r"^\d{8}T\d{2}-", "", f.name) for f in files] == ["shared-1001.jsonl", "shared-1002.jsonl"]
    ids = [r["decision_id"] for f in files for r in lines_of(f)]  # every line parses
    assert len(ids) == len(set(ids)) == 2 * n
    store = Store(tmp_path)
    assert store.query("SELECT count(*) AS n, count(DISTINCT decision_id) AS ids FROM decisions") == [
        {"n": 2 * n, "ids": 2 * n}
    ]


class FakeSink:
    """Keeps what it is given."""

    def __init__(self) -> None:
        self.records: list[tuple[DecisionRecord, bytes]] = []
        self.events: list[Event] = []
        self.flushes = 0

    def record(self, record: DecisionRecord, line: bytes) -> None:
        self.records.append((record, line))

    def event(self, event: Event) -> None:
        self.events.append(event)

    def flush(self) -> None:
        self.flushes += 1


class BrokenSink(FakeSink):
    def record(self, record: DecisionRecord, line: bytes) -> None:
        raise RuntimeError("disk on fire")


def test_recorder_serializes_a_record_once_for_the_decision_log_and_the_sink(tmp_path: Path) -> None:
    import io

    stream = io.StringIO()
    sink = FakeSink()
    recorder = Recorder(DecisionLog(stream), sink=sink)
    rec = record(7)
    rec.responded(200, "small", "vllm", 1)
    recorder.finished(None, rec)
    [(got, line)] = sink.records
    assert got is rec
    assert stream.getvalue().encode() == line
    assert orjson.loads(line) == rec.to_dict()


def test_sinks_give_every_sink_each_record_even_when_one_fails() -> None:
    good = FakeSink()
    both = Sinks(BrokenSink(), good)
    rec = record(1)
    both.record(rec, record_line(rec))
    both.event(Event("e1", "d1", T0_MS, "feedback", "thumbs_up", 1.0))
    both.flush()
    assert len(good.records) == 1
    assert len(good.events) == 1
    assert good.flushes == 1


@pytest.mark.parametrize("otlp", [False, True], ids=["segments", "segments+otlp"])
def test_make_sink_builds_what_the_store_config_asks_for(tmp_path: Path, otlp: bool) -> None:
    from triage.config import StoreConfig
    from triage.store.writer import OtlpLogSink, make_sink

    assert make_sink(StoreConfig()) is None
    logs = OtlpLogSink(lambda _request: None) if otlp else None
    sink = make_sink(StoreConfig(path=str(tmp_path), segment_seconds=600), otlp=logs)
    if logs is not None:
        assert isinstance(sink, Sinks)
        assert [type(s) for s in sink] == [SegmentWriter, OtlpLogSink]
        logs.close()
    else:
        assert isinstance(sink, SegmentWriter)
        assert sink.segment_seconds == 600
