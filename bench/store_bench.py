"""The decision store, measured: what writing costs the request path, and how fast the report's queries run.

``write``: the cost of keeping records on the request path, in one run, store off and on (interleaved rounds):
  * µs per ``Recorder.finished`` (the record path: span-less, as without a tracer) with the decision log only
    (today's default), with the segment writer, with the segment writer and OTLP log records, and — for the
    record — with the OpenTelemetry SDK's logs pipeline instead (each field an attribute); µs per
    ``SegmentWriter.record``; the flush of 0.25 s of traffic at 1,500 decisions/s (375 records); CPU per record
    including the export threads, as a share of one core at that rate; the OTLP encoding per record.
  * ``--paced`` seconds: an asyncio loop running real decisions (parse + classifier + policy, 1 KB chat bodies)
    at 1,500/s with the server's 0.25 s flush task, store off and on alternately: decision latency, the rate
    reached, the flush times.
``query``: N synthetic records (a week of traffic, ~2% with feedback events, segment files written directly)
  queried by the cost report's questions on DuckDB over the JSON lines, DuckDB over Parquet (after
  ``triage store compact``), SQLite (the other embedded candidate) and ClickHouse (chdb) over the Collector's
  ``otel_logs`` table; median of 3 runs per query.

Usage::

    python bench/store_bench.py write [--rounds 5] [--paced 60]
    python bench/store_bench.py query [--records 10000000] [--data /tmp/triage-store-bench] [--engines ...]

One JSON file per run goes to ``bench/results/``. The machine is small (2 cores) and shared: compare figures
measured in the same run, and read the spreads.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from triage.record import DecisionRecord
from triage.store.query import CLICKHOUSE, DUCKDB, Dialect, Store, compact
from triage.store.schema import DECISION_COLUMNS, EVENT_COLUMNS, Event
from triage.store.writer import OtlpLogSink, SegmentWriter, Sinks
from triage.telemetry.recorder import DecisionLog, Recorder, record_line

RESULTS = Path(__file__).parent / "results"
RATE = 1500  # decisions per second, the target of issue 12
FLUSH_S = 0.25  # the server's flush period (app.serve: recorder.flush_every(0.25))

# --- synthetic traffic ---

ROUTES = {
    "economy": ("small/llama-3.1-8b-instruct", "medium/gpt-4o-mini"),
    "standard": ("medium/gpt-4o-mini", "large/gpt-4o"),
    "premium": ("large/gpt-4o", "medium/gpt-4o-mini"),
}
ROUTE_NAMES = tuple(ROUTES)
PRICES = {"small": (0.10, 0.30), "medium": (0.60, 2.40), "large": (2.50, 10.00)}  # USD per Mtok in, out
PROVIDERS = {"small": "vllm", "medium": "openai", "large": "openai"}
TIERS = ("free", "pro", "batch")
TIER_P = (0.55, 0.35, 0.10)
ROUTE_P = {"free": (0.75, 0.25, 0.0), "pro": (0.5, 0.3, 0.2), "batch": (0.6, 0.25, 0.15)}
TASKS = (
    "open_qa",
    "code",
    "summarization",
    "rewrite",
    "extraction",
    "reasoning",
    "translation",
    "classification",
    "math",
    "creative_writing",
    "brainstorming",
)
TASK_P = (0.24, 0.18, 0.12, 0.08, 0.08, 0.07, 0.06, 0.05, 0.05, 0.04, 0.03)
SIGNALS = ("thumbs_up", "thumbs_down", "score", "accepted", "regenerated", "retried")
SIGNAL_P = (0.35, 0.15, 0.1, 0.2, 0.1, 0.1)
WEEK_START_MS = 1_767_571_200_000  # Monday 2026-01-05 00:00 UTC
HOUR_MS = 3_600_000


def hour_weights() -> np.ndarray[Any, Any]:
    """Traffic per hour of the week: a day curve peaking mid-afternoon UTC, weekends at 40%."""
    hours = np.arange(7 * 24)
    day = 0.35 + 0.65 * np.clip(np.sin((hours % 24 - 6) / 24 * 2 * np.pi), 0, None)
    weekend = np.where(hours // 24 >= 5, 0.4, 1.0)
    weights = day * weekend
    return np.asarray(weights / weights.sum())


def _hex_ids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.bytes(16 * n).hex()
    return [raw[i : i + 32] for i in range(0, 32 * n, 32)]


def synthetic_records(rng: np.random.Generator, times_ms: np.ndarray[Any, Any]) -> list[bytes]:
    """One JSON line per time in ``times_ms``, shaped like ``DecisionRecord.to_dict()``: ~1.5% refused, ~0.3%
    failed open (the default route), ~4% fallbacks, 1% provider errors, 40% with a shadow candidate's verdict."""
    n = len(times_ms)
    ids, req_ids, trace_ids = _hex_ids(rng, n), _hex_ids(rng, n), _hex_ids(rng, n)
    tier_i = rng.choice(3, n, p=TIER_P)
    u_route = rng.random(n)
    task_i = rng.choice(len(TASKS), n, p=TASK_P)
    task_p = rng.uniform(0.3, 1.0, n).round(4)
    p_strong = rng.beta(2, 3, n).round(4)
    latency = rng.lognormal(np.log(150), 0.5, n).astype(int) + 20
    fate = rng.random(n)
    attempts = np.where(rng.random(n) < 0.04, 2, 1)
    tokens_in = np.minimum(rng.lognormal(np.log(500), 1.2, n), 120_000).astype(int) + 1
    tokens_out = np.minimum(rng.lognormal(np.log(250), 1.0, n), 16_000).astype(int) + 1
    stream = rng.random(n) < 0.6
    duration = rng.lognormal(np.log(1500), 0.8, n).round(3)
    shadow_u = rng.random(n)
    out = []
    for i in range(n):
        tier = TIERS[tier_i[i]]
        rec: dict[str, Any] = {
            "decision_id": ids[i],
            "time_unix_ms": int(times_ms[i]),
            "endpoint": "/v1/chat/completions",
            "request_id": req_ids[i],
            "trace_id": trace_ids[i],
            "tier": tier,
        }
        f = fate[i]
        if f < 0.015:  # refused: a budget or size rejection, no route
            rec["model_requested"] = "auto"
            rec["input_tokens_estimate"] = int(tokens_in[i]) * 8
            rec["router_latency_us"] = int(latency[i]) // 4
            rec["stream"] = bool(stream[i])
            rec["error_code"] = "context_length_exceeded" if f < 0.01 else "budget_exceeded"
            rec["status"] = 413 if f < 0.01 else 429
            out.append(orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE))
            continue
        p = ROUTE_P[tier]
        u = u_route[i]
        route = ROUTE_NAMES[0] if u < p[0] else ROUTE_NAMES[1] if u < p[0] + p[1] else ROUTE_NAMES[2]
        failed_open = f < 0.018
        if failed_open:
            route = "economy"
        chain = list(ROUTES[route])
        rec["route"] = route
        rec["chain"] = chain
        rec["reason"] = "deadline" if failed_open else "classified"
        rec["model_requested"] = "auto"
        rec["model_sent"] = chain[0].split("/", 1)[1]
        rec["input_tokens_estimate"] = int(tokens_in[i] * 1.1)
        if not failed_open:
            rec["task"] = TASKS[task_i[i]]
            rec["task_probability"] = float(task_p[i])
            rec["p_strong"] = float(p_strong[i])
            rec["strong_score"] = float(p_strong[i])
            rec["threshold"] = 0.5551
            rec["classifier_version"] = "2026-01-02-a"
        rec["estimated_cost_usd"] = round(float(tokens_in[i]) * 1e-6, 8)
        rec["router_latency_us"] = int(latency[i])
        rec["stream"] = bool(stream[i])
        if failed_open:
            rec["error_code"] = "deadline"
        tries = int(attempts[i])
        cluster, model = chain[tries - 1].split("/", 1)
        error = f > 0.99
        rec["status"] = 503 if error else 200
        rec["cluster"] = cluster
        rec["model_answered"] = model
        rec["provider"] = PROVIDERS[cluster]
        rec["attempts"] = tries
        if not error:
            pin, pout = PRICES[cluster]
            rec["input_tokens"] = int(tokens_in[i])
            rec["output_tokens"] = int(tokens_out[i])
            rec["cost_usd"] = (int(tokens_in[i]) * pin + int(tokens_out[i]) * pout) / 1e6
            rec["response_model"] = model
            rec["streamed"] = bool(stream[i])
            rec["completed"] = True
        rec["aborted"] = False
        rec["duration_ms"] = float(duration[i])
        if shadow_u[i] < 0.4:
            other = "economy" if shadow_u[i] < 0.34 else "standard"
            rec["shadow"] = [
                {
                    "name": "aggressive",
                    "route": other,
                    "diverged": other != route,
                    "cost_delta_usd": round(-0.3 * rec.get("cost_usd", 0.0), 9),
                }
            ]
        out.append(orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE))
    return out


def generate(path: Path, records: int, seed: int = 12, writers: int = 2) -> dict[str, Any]:
    """A week of synthetic traffic as segment files (one per hour and writer), written directly."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    per_hour = rng.multinomial(records, hour_weights())
    decisions, events = path / "decisions", path / "events"
    decisions.mkdir(parents=True)
    events.mkdir(parents=True)
    n_events = 0
    event_lines: dict[int, list[bytes]] = {}
    for hour, count in enumerate(per_hour):
        start = WEEK_START_MS + hour * HOUR_MS
        times = np.sort(rng.integers(start, start + HOUR_MS, count))
        lines = synthetic_records(rng, times)
        name = time.strftime("%Y%m%dT%H", time.gmtime(start / 1000))
        for w in range(writers):
            (decisions / f"{name}-triage-{w}-{100 + w}.jsonl").write_bytes(b"".join(lines[w::writers]))
        chosen = np.flatnonzero(rng.random(count) < 0.02)  # ~2% get feedback
        for j in chosen:
            rec = orjson.loads(lines[j])
            sig = SIGNALS[rng.choice(len(SIGNALS), p=SIGNAL_P)]
            value = (
                float(round(rng.random(), 3)) if sig == "score" else (1.0 if sig in ("thumbs_up", "accepted") else 0.0)
            )
            at = rec["time_unix_ms"] + int(rng.integers(10_000, HOUR_MS))
            kind = "implicit" if sig in ("regenerated", "retried") else "feedback"
            ev = Event(f"ev{n_events:09d}", rec["decision_id"], at, kind, sig, value, principal=f"user-{j % 977}")
            event_lines.setdefault(at // HOUR_MS, []).append(
                orjson.dumps(ev.to_dict(), option=orjson.OPT_APPEND_NEWLINE)
            )
            n_events += 1
        print(f"\r  generating: hour {hour + 1}/{len(per_hour)}", end="", file=sys.stderr, flush=True)
    for h, lines in event_lines.items():
        name = time.strftime("%Y%m%dT%H", time.gmtime(h * 3600))
        (events / f"{name}-triage-0-100.jsonl").write_bytes(b"".join(lines))
    print(file=sys.stderr)
    manifest = {"records": records, "events": n_events, "seed": seed, "seconds": time.perf_counter() - started}
    (path / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def du(path: Path, suffix: str) -> int:
    return sum(p.stat().st_size for p in path.rglob(f"*{suffix}"))


# --- the report's questions ---


def queries(d: Dialect) -> dict[str, str]:
    """The cost report's questions, in portable SQL plus the dialect's few functions."""
    return {
        "spend by route per day": (
            f"SELECT {d.day()} AS day, route, count(*) AS requests, sum(cost_usd) AS cost, "
            "sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens FROM decisions GROUP BY 1, 2"
        ),
        "spend by tier/task/provider/model": (
            "SELECT tier, task, provider, COALESCE(model_answered, model_sent) AS model, count(*) AS requests, "
            "sum(cost_usd) AS cost FROM decisions GROUP BY 1, 2, 3, 4"
        ),
        "top 1% spend share": (
            "SELECT sum(CASE WHEN rk <= n / 100 THEN cost_usd ELSE 0 END) / sum(cost_usd) AS share "
            "FROM (SELECT cost_usd, ROW_NUMBER() OVER (ORDER BY cost_usd DESC) AS rk, count(*) OVER () AS n "
            "FROM decisions WHERE cost_usd IS NOT NULL) AS ranked"
        ),
        "fallback/rejection rates per tier per day": (
            f"SELECT {d.day()} AS day, tier, count(*) AS requests, "
            "sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS fallbacks, "
            "sum(CASE WHEN status >= 400 AND status < 500 AND error_code IS NOT NULL THEN 1 ELSE 0 END) AS rejected, "
            "sum(CASE WHEN error_code = 'deadline' THEN 1 ELSE 0 END) AS failed_open FROM decisions GROUP BY 1, 2"
        ),
        "route shares per hour": (
            f"SELECT {d.hour()} AS hour, route, count(*) AS requests FROM decisions GROUP BY 1, 2"
        ),
        "feedback join by route/task": (
            "SELECT d.route AS route, d.task AS task, count(*) AS events, avg(e.value) AS value, "
            "sum(d.cost_usd) AS cost FROM decisions AS d JOIN events AS e ON d.decision_id = e.decision_id "
            "GROUP BY 1, 2"
        ),
        "shadow divergence per tier": (
            "SELECT tier, s.name AS candidate, count(*) AS n, sum(CASE WHEN s.diverged THEN 1 ELSE 0 END) AS diverged, "
            f"sum(s.cost_delta_usd) AS delta FROM (SELECT tier, {d.unnest('shadow')} AS s FROM decisions) AS x "
            "GROUP BY 1, 2"
        ),
        "router latency p50/p99 per route": (
            f"SELECT route, {d.quantile('router_latency_us', 0.5)} AS p50, "
            f"{d.quantile('router_latency_us', 0.99)} AS p99 FROM decisions GROUP BY 1"
        ),
    }


def sqlite_queries() -> dict[str, str | None]:
    """The same questions for SQLite: lists are JSON text; it has no quantile function."""
    q = queries(DUCKDB)
    q["spend by route per day"] = q["spend by route per day"].replace("//", "/")
    q["fallback/rejection rates per tier per day"] = q["fallback/rejection rates per tier per day"].replace("//", "/")
    q["route shares per hour"] = q["route shares per hour"].replace("//", "/")
    q["shadow divergence per tier"] = (
        "SELECT tier, json_extract(s.value, '$.name') AS candidate, count(*) AS n, "
        "sum(CASE WHEN json_extract(s.value, '$.diverged') THEN 1 ELSE 0 END) AS diverged, "
        "sum(json_extract(s.value, '$.cost_delta_usd')) AS delta "
        "FROM decisions, json_each(decisions.shadow) AS s GROUP BY 1, 2"
    )
    out: dict[str, str | None] = dict(q)
    out["router latency p50/p99 per route"] = None
    return out


class SqliteStore:
    """The records in one SQLite table per view (lists and structs as JSON text)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.db.execute(sql).fetchall()


def build_sqlite(source: Path, target: Path) -> None:
    """Load the store at ``source`` (via DuckDB, Parquet) into SQLite at ``target``."""
    kinds = {"decisions": DECISION_COLUMNS, "events": EVENT_COLUMNS}
    types = {"VARCHAR": "TEXT", "BIGINT": "INTEGER", "DOUBLE": "REAL", "BOOLEAN": "INTEGER"}
    store = Store(source)
    db = sqlite3.connect(target)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    for view, spec in kinds.items():
        cols = ", ".join(f"{c} {types.get(t, 'TEXT')}" for c, t in spec.items())
        db.execute(f"CREATE TABLE {view} ({cols})")
        select = ", ".join(f"to_json({c})::VARCHAR" if t.endswith("[]") else c for c, t in spec.items())
        cursor = store._db.execute(f"SELECT {select} FROM {view}")
        marks = ", ".join("?" for _ in spec)
        while rows := cursor.fetchmany(100_000):
            db.executemany(f"INSERT INTO {view} VALUES ({marks})", rows)
        db.commit()
    db.execute("ANALYZE")
    db.close()
    store.close()


def timed(run: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        run()
        out.append(time.perf_counter() - t0)
    return out


Runner = Callable[[str], Any]


def _duckdb(path: Path) -> Runner:
    store = Store(path)
    store.query("SET enable_progress_bar = false")
    return store.query


def _parquet_copy(jsonl: Path, parquet: Path) -> None:
    """The store compacted (``triage store compact``) into ``parquet``, from hard links to the JSON-lines files."""
    if (parquet / "done").exists():
        return
    shutil.rmtree(parquet, ignore_errors=True)
    for kind in ("decisions", "events"):
        (parquet / kind).mkdir(parents=True)
        for f in (jsonl / kind).iterdir():
            os.link(f, parquet / kind / f.name)
    compact(parquet, now=time.time() + 10 * 365 * 86400)
    (parquet / "done").write_text("")


def _chdb(data: Path, jsonl: Path, materialized: bool) -> tuple[Runner, int]:
    """ClickHouse in process over the Collector's ``otel_logs`` (loaded from the segments as the Collector would have
    inserted them): typed tables fed by materialized views, or plain views parsing ``Body`` per query."""
    from triage.store.clickhouse import ClickHouseStore, views_ddl

    ch = ClickHouseStore(data / "chdb")  # database ``otel``: otel_logs, and the typed tables fed as rows arrive
    if not ch.query("SELECT count() AS n FROM otel.otel_logs")[0]["n"]:
        ch.load_segments(jsonl)
        ch.execute("OPTIMIZE TABLE otel.otel_logs FINAL")
        ch.execute("OPTIMIZE TABLE otel.decisions FINAL")
    database = "otel" if materialized else "otel_views"
    if not materialized:
        ch.execute("CREATE DATABASE IF NOT EXISTS otel_views")
        for ddl in views_ddl("otel.otel_logs", "otel_views", materialized=False):
            ch.execute(ddl)
    tables = "('decisions', 'events')" if materialized else "('otel_logs')"
    size = ch.query(
        f"SELECT sum(bytes_on_disk) AS b FROM system.parts WHERE database = 'otel' AND table IN {tables} AND active"
    )[0]["b"]

    def run(sql: str) -> Any:
        ch.execute(f"USE {database}")
        return ch.query(sql)

    return run, int(size or 0)


def cmd_query(args: argparse.Namespace) -> dict[str, Any]:
    data: Path = args.data / f"r{args.records}"
    jsonl = data / "jsonl"
    manifest_path = jsonl / "manifest.json"
    if not manifest_path.exists() or json.loads(manifest_path.read_text())["records"] != args.records:
        shutil.rmtree(data, ignore_errors=True)
        print(f"# generating {args.records:,} records into {jsonl}", file=sys.stderr)
        generate(jsonl, args.records)
    manifest = json.loads(manifest_path.read_text())
    print(f"# {manifest['records']:,} records, {manifest['events']:,} events, generated in {manifest['seconds']:.0f} s")
    result: dict[str, Any] = {"records": manifest["records"], "events": manifest["events"], "engines": {}}
    sizes = {"duckdb-jsonl": du(jsonl, ".jsonl")}
    names = list(queries(DUCKDB))
    for engine in (e.strip() for e in args.engines.split(",")):
        t0 = time.perf_counter()
        sqls: dict[str, str | None] = dict(queries(DUCKDB))
        if engine == "duckdb-jsonl":
            run = _duckdb(jsonl)
        elif engine == "duckdb-parquet":
            _parquet_copy(jsonl, data / "parquet")
            sizes[engine] = du(data / "parquet", ".parquet")
            run = _duckdb(data / "parquet")
        elif engine == "sqlite":
            target = data / "store.sqlite"
            if not target.exists():
                _parquet_copy(jsonl, data / "parquet")
                build_sqlite(data / "parquet", data / "tmp.sqlite")
                (data / "tmp.sqlite").rename(target)
            sizes[engine] = target.stat().st_size
            run = SqliteStore(target).query
            sqls = sqlite_queries()
        elif engine in ("chdb", "chdb-views"):
            run, sizes[engine] = _chdb(data, jsonl, materialized=engine == "chdb")
            sqls = dict(queries(CLICKHOUSE))
        else:
            raise SystemExit(f"unknown engine {engine}")
        setup_s = time.perf_counter() - t0
        print(f"# {engine}: ready in {setup_s:.0f} s", flush=True)
        per_query: dict[str, Any] = {}
        for name in names:
            sql = sqls.get(name)
            if sql is None:
                per_query[name] = None
                print(f"{engine:15s} {name:45s}      n/a")
                continue
            runs = timed(partial(run, sql), args.views_repeats if engine == "chdb-views" else args.repeats)
            per_query[name] = {"median_s": statistics.median(runs), "runs_s": runs}
            spread = ", ".join(f"{r:.2f}" for r in runs)
            print(f"{engine:15s} {name:45s} {statistics.median(runs):8.2f} s  (runs {spread})", flush=True)
        result["engines"][engine] = {"setup_s": setup_s, "queries": per_query}
    result["bytes"] = sizes
    for engine, size in sizes.items():
        print(f"# {engine}: {size / 1e9:.2f} GB on disk")
    return result


# --- the write path ---


def sample_records(n: int, seed: int = 3) -> list[DecisionRecord]:
    """Completed decision records like the synthetic store's, as the request path holds them."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.integers(WEEK_START_MS, WEEK_START_MS + HOUR_MS, n))
    out = []
    for line in synthetic_records(rng, times):
        doc = orjson.loads(line)
        out.append(DecisionRecord(**doc))
    return out


def _sdk_attributes(record: DecisionRecord) -> dict[str, Any]:
    """The record's fields as log attributes ``triage.<column>`` (the design measured against, ``docs/store.md``)."""
    attrs: dict[str, Any] = {"triage.kind": "decision"}
    for column in DECISION_COLUMNS:
        value = getattr(record, column)
        if value is None or value == [] or column == "time_unix_ms":
            continue
        attrs["triage." + column] = orjson.dumps(value).decode() if column == "shadow" else value
    return attrs


class SdkLogSink:
    """The OpenTelemetry SDK's logs pipeline, as first designed: ``Logger.emit`` per record with each field as an
    attribute, a batch processor, and an exporter that encodes each batch as the OTLP exporter does (protobuf) then
    drops it instead of sending it (the process pays for everything but the network)."""

    def __init__(self) -> None:
        from opentelemetry._logs import SeverityNumber
        from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as sdk_encode
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult

        class Discard(LogRecordExporter):
            def export(self, batch: Any) -> LogRecordExportResult:
                sdk_encode(batch).SerializeToString()
                return LogRecordExportResult.SUCCESS

            def force_flush(self, timeout_millis: int = 30_000) -> bool:
                return True

            def shutdown(self) -> None:
                pass

        self.provider = LoggerProvider()
        self.provider.add_log_record_processor(BatchLogRecordProcessor(Discard(), max_queue_size=8192))
        self.logger = self.provider.get_logger("triage.store")
        self.info = SeverityNumber.INFO

    def record(self, record: DecisionRecord, line: bytes) -> None:
        self.logger.emit(
            timestamp=record.time_unix_ms * 1_000_000,
            severity_number=self.info,
            body="triage.decision",
            attributes=_sdk_attributes(record),
        )

    def event(self, event: Event) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.provider.force_flush()
        self.provider.shutdown()


def encode_us(records: list[DecisionRecord]) -> dict[str, float]:
    """µs per record to encode OTLP log records: this store's (the line as the body) and the SDK exporter's (each
    field an attribute), the work of the export thread."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as sdk_encode
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    from triage.store.writer import _Item, encode_logs

    items = [_Item("decision", r.time_unix_ms, r.decision_id, r.trace_id, record_line(r)) for r in records]
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("triage.store")
    for rec in records:
        logger.emit(timestamp=rec.time_unix_ms * 1_000_000, body="triage.decision", attributes=_sdk_attributes(rec))
    logs = list(exporter.get_finished_logs())
    best = {"store": float("inf"), "sdk": float("inf")}
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(0, len(items), 512):
            encode_logs(items[i : i + 512], {"service.name": "triage"}, "0", time.time_ns())
        best["store"] = min(best["store"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(0, len(logs), 512):
            sdk_encode(logs[i : i + 512]).SerializeToString()
        best["sdk"] = min(best["sdk"], time.perf_counter() - t0)
    provider.shutdown()
    return {k: v / len(records) * 1e6 for k, v in best.items()}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def record_path(records: list[DecisionRecord], config: str, tmp: Path, n_round: int) -> dict[str, Any]:
    """Time ``Recorder.finished`` per record and each flush of 375 records, for one configuration."""
    log_file = (tmp / f"decisions-{config}-{n_round}.log").open("a", encoding="utf-8")
    sink: Any = None
    closers: list[Callable[[], None]] = []
    if config in ("log+store", "log+store+otlp"):
        sink = SegmentWriter(tmp / f"store-{config}")
    if config == "log+store+otlp":
        otlp = OtlpLogSink(lambda _request: None)  # encoded on its thread, then dropped: all but the network
        closers.append(otlp.close)
        sink = Sinks(sink, otlp)
    if config == "log+sdk-logs":
        sdk = SdkLogSink()
        closers.append(sdk.close)
        sink = sdk
    recorder = Recorder(DecisionLog(log_file, buffered=True), sink=sink)
    per_flush = int(RATE * FLUSH_S)
    finish: list[float] = []
    flushes: list[float] = []
    gc.collect()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    for i, rec in enumerate(records):
        t0 = time.perf_counter_ns()
        recorder.finished(None, rec)
        finish.append((time.perf_counter_ns() - t0) / 1000)
        if (i + 1) % per_flush == 0:
            t0 = time.perf_counter_ns()
            recorder.flush()
            flushes.append((time.perf_counter_ns() - t0) / 1000)
    for close in closers:  # the export threads' work counts
        close()
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    log_file.close()
    return {
        "finished_p50_us": pct(finish, 0.5),
        "finished_p99_us": pct(finish, 0.99),
        "finished_mean_us": statistics.fmean(finish),
        "flush_p50_us": pct(flushes, 0.5),
        "flush_p99_us": pct(flushes, 0.99),
        "flush_mean_us": statistics.fmean(flushes),
        "cpu_us_per_record": cpu / len(records) * 1e6,
        "wall_us_per_record": wall / len(records) * 1e6,
    }


def sink_record_us(records: list[DecisionRecord], tmp: Path) -> float:
    """µs per ``SegmentWriter.record`` (the line already made)."""
    writer = SegmentWriter(tmp / "store-append")
    lines = [record_line(r) for r in records]
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for rec, line in zip(records, lines, strict=True):
            writer.record(rec, line)
        best = min(best, time.perf_counter() - t0)
        writer.flush()
    return best / len(records) * 1e6


async def paced(
    seconds: float, store_on: bool, tmp: Path, bodies: list[bytes], compiled: Any, classifier: Any
) -> dict[str, Any]:
    """Real decisions at RATE per second on the event loop with the server's flush task; per-decision latency
    (parse + decide + record) and the flush times."""
    from triage import policy, router
    from triage.requests import OPENAI_CHAT, parse_request

    writer = SegmentWriter(tmp / "paced-store") if store_on else None
    log_file = (tmp / f"paced-{store_on}.log").open("a", encoding="utf-8")
    recorder = Recorder(DecisionLog(log_file, buffered=True), sink=writer)
    flushes: list[float] = []

    async def flusher() -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            t0 = time.perf_counter_ns()
            recorder.flush()
            flushes.append((time.perf_counter_ns() - t0) / 1000)

    task = asyncio.create_task(flusher())
    decide: list[float] = []
    total: list[float] = []
    n = int(seconds * RATE)
    start = time.perf_counter()
    cpu0 = time.process_time()
    for i in range(n):
        due = start + i / RATE
        delay = due - time.perf_counter()
        if delay > 0.001:
            await asyncio.sleep(delay)
        elif i % 64 == 0:
            await asyncio.sleep(0)
        body = bodies[i % len(bodies)]
        t0 = time.perf_counter_ns()
        parsed = parse_request(body, OPENAI_CHAT, "application/json")
        decided = router.decide_now(compiled, classifier, parsed.input, "pro")
        t1 = time.perf_counter_ns()
        rec = DecisionRecord(
            decision_id=f"{i:032x}", time_unix_ms=int(time.time() * 1000), endpoint="/v1/chat/completions"
        )
        rec.decided(parsed.input, decided.outcome, decided.scores, decided.latency_us, classifier.version)
        if isinstance(decided.outcome, policy.Decision):
            cluster = decided.outcome.chain_names[0].split("/", 1)[0]
            rec.responded(200, cluster, "openai", 1)
        recorder.finished(None, rec)
        t2 = time.perf_counter_ns()
        decide.append((t1 - t0) / 1000)
        total.append((t2 - t0) / 1000)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    task.cancel()
    recorder.flush()
    log_file.close()
    return {
        "store": store_on,
        "rate": n / elapsed,
        "cpu_share": cpu / elapsed,
        "decide_p50_us": pct(decide, 0.5),
        "decide_p99_us": pct(decide, 0.99),
        "decide_plus_record_p50_us": pct(total, 0.5),
        "decide_plus_record_p99_us": pct(total, 0.99),
        "flush_p50_us": pct(flushes, 0.5) if flushes else None,
        "flush_p99_us": pct(flushes, 0.99) if flushes else None,
        "flush_max_us": max(flushes) if flushes else None,
    }


def cmd_write(args: argparse.Namespace) -> dict[str, Any]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as decision_latency.py
    tmp = Path(tempfile.mkdtemp(prefix="triage-store-bench-"))
    result: dict[str, Any] = {}
    try:
        records = sample_records(args.n)
        configs = ("log-only", "log+store", "log+store+otlp", "log+sdk-logs")
        rounds: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
        for r in range(args.rounds):
            for config in configs if r % 2 == 0 else reversed(configs):
                rounds[config].append(record_path(records, config, tmp, r))
        print(f"# record path: {args.n} records x {args.rounds} rounds per configuration, interleaved; one core")
        summary: dict[str, Any] = {}
        for config, runs in rounds.items():
            med = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
            spread = {k: (min(run[k] for run in runs), max(run[k] for run in runs)) for k in runs[0]}
            summary[config] = {"median": med, "spread": spread}
            share = (med["cpu_us_per_record"] * RATE) / 1e6
            print(
                f"{config:15s} finished p50 {med['finished_p50_us']:.1f} us p99 {med['finished_p99_us']:.1f} us; "
                f"flush of {int(RATE * FLUSH_S)} p50 {med['flush_p50_us']:.0f} us p99 {med['flush_p99_us']:.0f} us; "
                f"cpu {med['cpu_us_per_record']:.1f} us/record = {share:.1%} of a core at {RATE}/s"
                f"  # p50 spread {spread['finished_p50_us'][0]:.1f}-{spread['finished_p50_us'][1]:.1f}"
            )
        result["record_path"] = summary
        result["segment_writer_record_us"] = sink_record_us(records, tmp)
        result["otlp_encode_us_per_record"] = encode_us(records[: min(len(records), 10_000)])
        enc = result["otlp_encode_us_per_record"]
        print(f"SegmentWriter.record: {result['segment_writer_record_us']:.2f} us per call (list append under a lock)")
        print(f"OTLP encoding per record (export thread): this store {enc['store']:.1f} us, SDK {enc['sdk']:.1f} us")
        if args.paced > 0:
            from triage import policy
            from triage.app import load_classifier
            from triage.config import load_config

            sys.path.insert(0, str(Path(__file__).parent))
            from decision_latency import make_body

            compiled = policy.compile_policy(load_config())
            classifier = load_classifier(compiled.config.classifier)
            bodies = [make_body(1024, v) for v in range(8)]
            half = args.paced / 4
            paced_runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
            for r in range(2):
                for on in (False, True) if r == 0 else (True, False):
                    paced_runs["on" if on else "off"].append(
                        asyncio.run(paced(half, on, tmp, bodies, compiled, classifier))
                    )
            print(f"# paced: {RATE} decisions/s of 1 KB chat bodies on the event loop, 4 x {half:.0f} s, store off/on")
            for key, runs in paced_runs.items():
                med = {k: statistics.median(float(run[k] or 0) for run in runs) for k in runs[0] if k != "store"}
                print(
                    f"store {key:3s}: rate {med['rate']:.0f}/s, cpu {med['cpu_share']:.0%}; decide p50 "
                    f"{med['decide_p50_us']:.0f} us p99 {med['decide_p99_us']:.0f} us; decide+record p50 "
                    f"{med['decide_plus_record_p50_us']:.0f} us p99 {med['decide_plus_record_p99_us']:.0f} us; flush "
                    f"p50 {med['flush_p50_us']:.0f} us p99 {med['flush_p99_us']:.0f} us "
                    f"max {med['flush_max_us']:.0f} us"
                )
            result["paced"] = paced_runs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="the request path's cost of keeping records")
    w.add_argument("--n", type=int, default=30_000, help="records per round and configuration")
    w.add_argument("--rounds", type=int, default=5)
    w.add_argument("--paced", type=float, default=60, help="seconds of paced real decisions (0: skip)")
    q = sub.add_parser("query", help="the report's queries over N synthetic records, per engine")
    q.add_argument("--records", type=int, default=10_000_000)
    q.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "triage-store-bench")
    q.add_argument("--engines", default="duckdb-jsonl,duckdb-parquet,sqlite,chdb,chdb-views")
    q.add_argument("--repeats", type=int, default=3)
    q.add_argument("--views-repeats", type=int, default=1, help="runs per query of chdb-views (the slow variant)")
    args = parser.parse_args()
    started = time.time()
    result = cmd_write(args) if args.command == "write" else cmd_query(args)
    result["command"] = " ".join(sys.argv)
    result["seconds"] = time.time() - started
    result["load_average"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"store-{args.command}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"# {result['seconds']:.0f} s; load average {os.getloadavg()[0]:.2f}; {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
