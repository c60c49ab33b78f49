"""Content capture in the store: the writer's ``captured/`` segments (made at the flush, retained and size-bounded like
the others, counted by ``triage store stats``), the format the retrain reads, and the ``store.capture`` switch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.unit.store.conftest import T0_MS
from triage.config import StoreConfig
from triage.record import DecisionRecord
from triage.requests.input import RoutingInput
from triage.store.capture import CAPTURE_FORMAT, CAPTURED_DIR, capture_line, read_captured
from triage.store.cli import store_stats
from triage.store.writer import (
    KINDS,
    OtlpLogSink,
    SegmentWriter,
    Sinks,
    list_segments,
    make_sink,
    prune,
    segment_writer,
)
from triage.telemetry.recorder import record_line

T0 = T0_MS / 1000  # 2026-01-01T00:00:00Z
PROMPT = "Refactor this parser; the secret token is zebra-unicorn-7f3a"


def writer(path: Path, now: float = T0) -> SegmentWriter:
    return SegmentWriter(path, host="hostA", pid=42, clock=lambda: now)


def test_capture_lines_are_made_at_the_flush_in_their_own_segments(tmp_path: Path) -> None:
    w = writer(tmp_path)
    inp = RoutingInput.from_text(PROMPT, system="be brief")
    w.capture("d1", T0_MS, inp)
    rec = DecisionRecord(decision_id="d1", time_unix_ms=T0_MS, endpoint="/v1/chat/completions", route="economy")
    w.record(rec, record_line(rec))
    assert list_segments(tmp_path) == []  # nothing touches a file before the flush
    w.flush()
    assert sorted((s.kind, s.path.name) for s in list_segments(tmp_path)) == [
        (CAPTURED_DIR, "20260101T00-hostA-42.jsonl"),  # the same naming as every other segment
        ("decisions", "20260101T00-hostA-42.jsonl"),
    ]
    [line] = (tmp_path / CAPTURED_DIR / "20260101T00-hostA-42.jsonl").read_bytes().splitlines()
    assert orjson.loads(line) == orjson.loads(orjson.dumps(capture_line("d1", T0_MS, inp)))
    assert orjson.loads(line)["format"] == CAPTURE_FORMAT
    assert orjson.loads(line)["origin"] == "capture"
    assert (w.stats.records, w.stats.captured) == (1, 1)
    assert PROMPT not in (tmp_path / "decisions" / "20260101T00-hostA-42.jsonl").read_text()
    got = read_captured(tmp_path / CAPTURED_DIR)
    assert list(got) == ["d1"]
    assert got["d1"].input == inp


def test_a_writer_that_captures_nothing_writes_no_captured_segment(tmp_path: Path) -> None:
    w = writer(tmp_path)
    rec = DecisionRecord(decision_id="d1", time_unix_ms=T0_MS, endpoint="/v1/chat/completions")
    w.record(rec, record_line(rec))
    w.close()
    assert not (tmp_path / CAPTURED_DIR).exists()
    assert w.stats.captured == 0


def test_a_capture_line_orjson_refuses_is_dropped_alone(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.capture("bad", T0_MS, RoutingInput.from_text("lone surrogate \ud800"))
    w.capture("good", T0_MS, RoutingInput.from_text("fine"))
    w.flush()  # never raises
    assert list(read_captured(tmp_path / CAPTURED_DIR)) == ["good"]
    assert (w.stats.captured, w.stats.dropped) == (1, 1)


def test_read_captured_skips_a_torn_last_line(tmp_path: Path) -> None:
    line = orjson.dumps(capture_line("d1", T0_MS, RoutingInput.from_text("héllo wörld")))
    (tmp_path / "a.jsonl").write_bytes(line + b"\n" + line[:-8])  # a writer mid-append (a multi-byte char cut)
    assert list(read_captured(tmp_path)) == ["d1"]
    with pytest.raises(FileNotFoundError):
        read_captured(tmp_path / "nowhere")


def _segment(store: Path, kind: str, name: str, size: int, mtime: float) -> Path:
    path = store / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * (size - 1) + b"\n")
    os.utime(path, (mtime, mtime))
    return path


def test_prune_applies_retention_and_the_size_bound_to_captured_segments(tmp_path: Path) -> None:
    assert CAPTURED_DIR in KINDS
    now = T0 + 40 * 86400
    expired = _segment(tmp_path, CAPTURED_DIR, "20260101T00-h-1.jsonl", 100, T0)  # 40 days old
    oldest = _segment(tmp_path, CAPTURED_DIR, "20260201T00-h-1.jsonl", 1000, now - 3600)
    decisions = _segment(tmp_path, "decisions", "20260201T01-h-1.jsonl", 1000, now - 1800)
    done = prune(tmp_path, retention_days=30, max_bytes=1500, now=now)
    assert done.deleted == [expired, oldest]  # expired, then the oldest until the store fits
    assert decisions.exists()


def test_store_stats_counts_captured_lines(tmp_path: Path) -> None:
    w = writer(tmp_path, now=1_767_225_600.0)
    for i in range(3):
        w.capture(f"d{i}", T0_MS + i, RoutingInput.from_text(f"q{i}"))
    w.close()
    stats = store_stats(tmp_path)
    assert (stats.segments, stats.records, stats.events, stats.captured) == (1, 0, 0, 3)
    assert (stats.first_ms, stats.last_ms) == (T0_MS, T0_MS + 2)


def test_capture_goes_to_the_segment_writer_only_never_to_otlp(tmp_path: Path) -> None:
    otlp = OtlpLogSink(lambda _request: None)
    try:
        sink = make_sink(StoreConfig(path=str(tmp_path), capture=True), otlp=otlp)
        assert isinstance(sink, Sinks)
        assert isinstance(segment_writer(sink), SegmentWriter)
        assert not hasattr(otlp, "capture")  # the OTLP log sink has no way to receive content
        assert segment_writer(make_sink(StoreConfig(), otlp=otlp)) is None
        assert segment_writer(None) is None
    finally:
        otlp.close()


def test_the_server_never_imports_the_training_code() -> None:
    """The capture format lives in the store package: serving must not pull ``triage.train`` (heavy dependencies)."""
    code = (
        "import sys, triage.app, triage.extproc.processor, triage.store.writer\n"
        "print(sorted(m for m in sys.modules if m.startswith('triage.train')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
