"""``triage store``: inspect and maintain a decision store.

    triage store stats   [--store DIR | --config FILE] [--json]     segments, bytes, lines per kind, time range
    triage store prune   [--store DIR | --config FILE] [--retention-days N] [--max-bytes N] [--dry-run]
    triage store compact [--store DIR | --config FILE] [--segment-seconds N]   closed JSON-lines segments → Parquet
    triage store ddl     [--database otel] [--ttl-days N] [--views-only] [--plain-views] [--backfill]
                         ClickHouse: the Collector's logs table, the decisions and events tables fed from it

``--config`` reads ``store:`` from a Triage configuration (its path, retention, size bound, segment length); an
option given on the command line wins.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from triage.config import StoreConfig
from triage.errors import ConfigError
from triage.store.capture import CAPTURED_DIR
from triage.store.schema import DECISIONS_DIR, EVENTS_DIR
from triage.store.writer import Segment, list_segments, prune

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_bytes(text: str) -> int:
    """``10G``, ``512M``, ``1048576`` → bytes (binary units; a trailing ``B``/``iB`` is allowed)."""
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = raw[-1:] if raw[-1:] in _UNITS else ""
    try:
        value = float(raw[: len(raw) - len(unit)])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 10G, 512M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a positive size: {text!r}")
    return int(value * _UNITS[unit])


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage store", description="Inspect and maintain a decision store.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", type=Path, help="the store's directory (default: store.path of --config)")
        p.add_argument("--config", type=Path, help="a Triage configuration file (its store: section)")

    p = sub.add_parser("stats", help="segments, bytes, records, events, captured inputs and time range")
    common(p)
    p.add_argument("--json", action="store_true", help="one JSON object")

    p = sub.add_parser("prune", help="apply the retention and the size bound now")
    common(p)
    p.add_argument("--retention-days", type=_positive, help="delete segments older than this")
    p.add_argument("--max-bytes", type=parse_bytes, help="then delete the oldest until the store fits (e.g. 10G)")
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")

    p = sub.add_parser("compact", help="rewrite closed JSON-lines segments as Parquet (faster queries, ~6x smaller)")
    common(p)
    p.add_argument("--segment-seconds", type=_positive, help="the writers' largest store.segment_seconds")

    p = sub.add_parser("ddl", help="print the ClickHouse DDL: the Collector's otel_logs table and the two views")
    p.add_argument("--database", default="otel")
    p.add_argument("--table", default="otel_logs")
    p.add_argument("--ttl-days", type=int, help="the table's TTL (the store's retention at scale)")
    p.add_argument("--views-only", action="store_true", help="not the logs table (the exporter creates it)")
    p.add_argument("--plain-views", action="store_true", help="views parsing otel_logs on every query, no typed tables")
    p.add_argument("--backfill", action="store_true", help="also copy the records already in otel_logs")
    return parser


def _store_config(args: argparse.Namespace) -> tuple[Path, StoreConfig]:
    cfg = StoreConfig()
    if args.config is not None:
        from triage.config import load_config  # noqa: PLC0415

        cfg = load_config(args.config).store
    path = args.store if args.store is not None else (Path(cfg.path) if cfg.path else None)
    if path is None:
        raise SystemExit("triage store: give --store DIR, or --config FILE with store.path set")
    return path, cfg


@dataclass(frozen=True, slots=True)
class Stats:
    store: str
    segments: int
    jsonl_segments: int
    parquet_segments: int
    bytes: int
    records: int
    events: int
    captured: int  # content capture lines (``store.capture``)
    first_ms: int | None
    last_ms: int | None
    torn_tails: int  # segments whose last line is incomplete (being written, or cut by a crash: skipped on read)


_CHUNK = 16 * 1024 * 1024
_EDGE = 64 * 1024  # the longest line whose time is read at either end


def _time_of(line: bytes) -> int | None:
    try:
        value = orjson.loads(line).get("time_unix_ms")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _edge_times(path: Path) -> tuple[int | None, int | None, int, bool]:
    """First and last complete line's time, the number of lines, and whether the file ends mid-line — without
    parsing the whole segment (lines are appended roughly in time order)."""
    lines = 0
    with path.open("rb") as fh:
        head = fh.read(_EDGE)
        fh.seek(0)
        while chunk := fh.read(_CHUNK):
            lines += chunk.count(b"\n")
        size = fh.tell()
        fh.seek(max(size - _EDGE, 0))
        tail = fh.read()
    torn = bool(tail) and not tail.endswith(b"\n")
    tail = tail[: tail.rfind(b"\n") + 1]
    first = _time_of(head[: head.find(b"\n")]) if b"\n" in head else None
    last = _time_of(tail[tail.rfind(b"\n", 0, len(tail) - 1) + 1 :]) if tail else None
    times = [t for t in (first, last) if t is not None]
    return (min(times) if times else None, max(times) if times else None, lines, torn)


def store_stats(path: Path) -> Stats:
    """What the store at ``path`` holds. Counts are lines (JSON) and rows (Parquet); the time range is read from
    the first and last lines of each segment (close, not exact: records are appended when they complete)."""
    segments = list_segments(path)
    counts = {DECISIONS_DIR: 0, EVENTS_DIR: 0, CAPTURED_DIR: 0}
    firsts: list[int] = []
    lasts: list[int] = []
    torn = 0
    parquet: list[Segment] = []
    for seg in segments:
        if seg.path.suffix == ".parquet":
            parquet.append(seg)
            continue
        try:
            first, last, lines, cut = _edge_times(seg.path)
        except FileNotFoundError:
            continue
        counts[seg.kind] += lines
        torn += cut
        firsts += [first] if first is not None else []
        lasts += [last] if last is not None else []
    if parquet:
        import duckdb  # noqa: PLC0415

        db = duckdb.connect()
        for kind in counts:
            files = [str(s.path) for s in parquet if s.kind == kind]
            if not files:
                continue
            row = db.execute(
                "SELECT count(*), min(time_unix_ms), max(time_unix_ms) FROM read_parquet(?)", [files]
            ).fetchone()
            if row is not None:
                counts[kind] += int(row[0])
                firsts += [int(row[1])] if row[1] is not None else []
                lasts += [int(row[2])] if row[2] is not None else []
        db.close()
    return Stats(
        store=str(path),
        segments=len(segments),
        jsonl_segments=len(segments) - len(parquet),
        parquet_segments=len(parquet),
        bytes=sum(s.size for s in segments),
        records=counts[DECISIONS_DIR],
        events=counts[EVENTS_DIR],
        captured=counts[CAPTURED_DIR],
        first_ms=min(firsts) if firsts else None,
        last_ms=max(lasts) if lasts else None,
        torn_tails=torn,
    )


def _when(ms: int | None) -> str:
    return "-" if ms is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _cmd_stats(args: argparse.Namespace) -> int:
    path, _ = _store_config(args)
    stats = store_stats(path)
    if args.json:
        print(orjson.dumps(asdict(stats)).decode())
        return 0
    print(f"store      {stats.store}")
    print(f"segments   {stats.segments} ({stats.jsonl_segments} JSON lines, {stats.parquet_segments} Parquet)")
    print(f"size       {_size(stats.bytes)}")
    print(f"records    {stats.records}")
    print(f"events     {stats.events}")
    if stats.captured:
        print(f"captured   {stats.captured} (content capture: the classifier's input text, store.capture)")
    print(f"from       {_when(stats.first_ms)}")
    print(f"to         {_when(stats.last_ms)}")
    if stats.torn_tails:
        print(f"note       {stats.torn_tails} segments end mid-line (being written, or cut by a crash; skipped)")
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    path, cfg = _store_config(args)
    retention = args.retention_days if args.retention_days is not None else cfg.retention_days
    max_bytes = args.max_bytes if args.max_bytes is not None else cfg.max_bytes
    if args.dry_run:
        now = time.time()
        segments = list_segments(path)
        total = sum(s.size for s in segments)
        for seg in segments:
            too_old = seg.mtime < now - retention * 86400
            if not too_old and total <= max_bytes:
                break
            total -= seg.size
            print(f"would delete {seg.path} ({_size(seg.size)}{', expired' if too_old else ''})")
        return 0
    done = prune(path, retention_days=retention, max_bytes=max_bytes)
    for deleted in done.deleted:
        print(f"deleted {deleted}")
    print(f"{len(done.deleted)} segments deleted, {_size(done.freed_bytes)} freed, {_size(done.remaining_bytes)} kept")
    return 0


def _cmd_compact(args: argparse.Namespace) -> int:
    from triage.store.query import compact  # noqa: PLC0415

    path, cfg = _store_config(args)
    seconds = args.segment_seconds if args.segment_seconds is not None else cfg.segment_seconds
    done = compact(path, segment_seconds=seconds)
    before = sum(c.bytes_before for c in done)
    after = sum(c.bytes_after for c in done)
    for c in done:
        print(f"{c.source.name} → {c.target.name} ({_size(c.bytes_before)} → {_size(c.bytes_after)})")
    print(f"{len(done)} segments compacted, {_size(before)} → {_size(after)}")
    return 0


def _cmd_ddl(args: argparse.Namespace) -> int:
    from triage.store.clickhouse import backfill_sql, otel_logs_ddl, views_ddl  # noqa: PLC0415

    source = f"{args.database}.{args.table}"
    statements = [] if args.views_only else [otel_logs_ddl(args.database, args.table, args.ttl_days)]
    statements += views_ddl(source, args.database, materialized=not args.plain_views, ttl_days=args.ttl_days)
    if args.backfill:
        statements += backfill_sql(source, args.database)
    print(";\n\n".join(statements) + ";")
    return 0


_COMMANDS = {"stats": _cmd_stats, "prune": _cmd_prune, "compact": _cmd_compact, "ddl": _cmd_ddl}


def main(argv: Sequence[str]) -> int:
    """Run ``triage store`` with ``argv``; return the exit code."""
    args = _parser().parse_args(list(argv))
    try:
        return _COMMANDS[args.command](args)
    except (FileNotFoundError, ConfigError) as err:
        print(f"triage store: {err}", file=sys.stderr)
        return 1
