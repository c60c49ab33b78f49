"""Reading a store: the ``decisions`` and ``events`` views over its segments, queried with SQL.

``Store(path).query(sql)`` runs one statement over two views whose columns are ``schema.DECISION_COLUMNS`` and
``schema.EVENT_COLUMNS`` (DuckDB, in process); a segment being written while it is read contributes its complete
lines, and a compacted segment (Parquet, ``compact``) is read in place of the JSON lines it replaced.

The same views exist on the at-scale engine, ClickHouse, over the OpenTelemetry Collector's ``otel_logs`` table
(``triage.store.clickhouse.ClickHouseStore``). Both implement ``StoreReader``: ``query(sql, params)`` and a
``dialect`` holding the few spellings that differ (time buckets, quantiles, arrays), so that one report query
runs on both. Write portable SQL — ``GROUP BY``, ``CASE``, aggregates, joins, ``ROW_NUMBER() OVER`` — alias every
output column, use ``?`` for parameters, and ask the dialect for the rest. ``open_store(target)`` opens either.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from triage.store.schema import DECISION_COLUMNS, DECISIONS_DIR, EVENT_COLUMNS, EVENTS_DIR, LIST_COLUMNS

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class Dialect:
    """The SQL spellings that differ between the store's engines. Each method returns an expression."""

    name: Literal["duckdb", "clickhouse"]

    @property
    def clickhouse(self) -> bool:
        return self.name == "clickhouse"

    def bucket(self, column: str, width_ms: int) -> str:
        """The start (Unix ms, UTC, a BIGINT) of the ``width_ms`` bucket holding the Unix-ms ``column``."""
        width = int(width_ms)
        if self.clickhouse:
            return f"(intDiv({column}, {width}) * {width})"
        return f"(({column} // {width}) * {width})"

    def hour(self, column: str = "time_unix_ms") -> str:
        return self.bucket(column, HOUR_MS)

    def day(self, column: str = "time_unix_ms") -> str:
        return self.bucket(column, DAY_MS)

    def quantile(self, expr: str, q: float) -> str:
        """The exact ``q`` quantile of ``expr``, interpolated linearly between the two nearest values."""
        if self.clickhouse:
            return f"quantileExactInclusive({float(q)!r})({expr})"
        return f"quantile_cont({expr}, {float(q)!r})"

    def length(self, array: str) -> str:
        """The number of elements of a list column (``chain``, ``too_small``, ``shadow``; never NULL)."""
        return f"length({array})"

    def contains(self, array: str, value: str) -> str:
        """True when the list ``array`` holds ``value`` (an expression: quote a literal)."""
        if self.clickhouse:
            return f"(has({array}, {value}) = 1)"
        return f"list_contains({array}, {value})"

    def unnest(self, array: str) -> str:
        """In a select list: one row per element of ``array`` (rows with an empty list disappear). A ``shadow``
        element is a struct: select it ``AS s`` in a subquery, then ``s.name``, ``s.route``, ``s.diverged``,
        ``s.cost_delta_usd`` outside (and alias them)."""
        if self.clickhouse:
            return f"arrayJoin({array})"
        return f"unnest({array})"

    def count_if(self, condition: str) -> str:
        if self.clickhouse:
            return f"countIf({condition})"
        return f"count_if({condition})"

    def greatest(self, *args: str) -> str:
        return args[0] if len(args) == 1 else "greatest(" + ", ".join(args) + ")"


DUCKDB = Dialect("duckdb")
CLICKHOUSE = Dialect("clickhouse")


class StoreReader(Protocol):
    """What a report needs of a store, whatever the engine: the ``decisions`` and ``events`` views."""

    @property
    def dialect(self) -> Dialect: ...

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql`` as dicts (integers, floats, strings, bools, lists, dicts for structs, None)."""
        ...

    def close(self) -> None: ...


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def select_columns(spec: dict[str, str], present: set[str] | None = None) -> str:
    """A select list giving exactly ``spec``'s columns and types: a column missing from the source (``present``)
    reads as NULL, a list column as an empty list when absent."""
    out = []
    for name, sql in spec.items():
        expr = name if present is None or name in present else f"CAST(NULL AS {sql})"
        if name in LIST_COLUMNS:
            expr = f"COALESCE({expr}, CAST([] AS {sql}))"
        out.append(f"{expr} AS {name}")
    return ", ".join(out)


def _json_columns(spec: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{sql}'" for name, sql in spec.items()) + "}"


def read_json_sql(files: list[str], spec: dict[str, str]) -> str:
    """A relation of the JSON-lines ``files`` with ``spec``'s columns; a torn or partial line is dropped."""
    listed = "[" + ", ".join(_literal(f) for f in files) + "]"
    # A line being written (or torn by a crash) reads as an all-NULL row: dropped by the id filter.
    key = "decision_id"
    return (
        f"SELECT {select_columns(spec)} FROM read_json({listed}, format = 'newline_delimited', "
        f"columns = {_json_columns(spec)}, ignore_errors = true, maximum_object_size = 16777216) "
        f"WHERE {key} IS NOT NULL"
    )


def unique_events_sql(relation: str) -> str:
    """The events of ``relation`` (a table name or a parenthesised ``SELECT``) without repeats: one row per
    (principal, idempotency key), the first to arrive. The feedback service answers a repeated key with the first
    event's id and appends nothing, but only within one process's memory; a repeat that reaches another worker or
    replica, or comes after a restart, is appended and dropped here. Events without a key (implicit signals) are
    each their own. Portable SQL: the same text runs on DuckDB and ClickHouse."""
    cols = ", ".join(EVENT_COLUMNS)
    return (
        f"SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY COALESCE(principal, ''), "
        "COALESCE(idempotency_key, event_id) ORDER BY time_unix_ms, event_id) AS first_seen "
        f"FROM {relation} AS all_events) AS ranked_events WHERE first_seen = 1"
    )


def segment_files(directory: Path) -> tuple[list[str], list[str]]:
    """The JSON-lines and Parquet segments of one kind; a JSON-lines segment whose Parquet copy exists (a compaction
    between its rename and its delete) is left out."""
    if not directory.is_dir():
        return [], []
    names = os.listdir(directory)
    parquet = sorted(n for n in names if n.endswith(".parquet"))
    compacted = {n[: -len(".parquet")] for n in parquet}
    jsonl = sorted(n for n in names if n.endswith(".jsonl") and n[: -len(".jsonl")] not in compacted)
    return [str(directory / n) for n in jsonl], [str(directory / n) for n in parquet]


class Store:
    """A store directory, read with DuckDB (an in-process engine: no server). Not thread-safe."""

    dialect = DUCKDB

    def __init__(self, path: str | Path) -> None:
        import duckdb  # noqa: PLC0415  (only the readers of a store need it, never the request path)

        self.path = Path(path)
        self._db = duckdb.connect()
        self.refresh()

    def _view(self, directory: Path, spec: dict[str, str]) -> str:
        jsonl, parquet = segment_files(directory)
        parts = []
        if jsonl:
            parts.append(read_json_sql(jsonl, spec))
        if parquet:
            listed = "[" + ", ".join(_literal(f) for f in parquet) + "]"
            source = f"read_parquet({listed}, union_by_name = true)"
            present = {r[0] for r in self._db.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            parts.append(f"SELECT {select_columns(spec, present)} FROM {source}")
        if not parts:  # an empty relation with the right columns
            cols = ", ".join(f"CAST(NULL AS {sql}) AS {name}" for name, sql in spec.items())
            return f"SELECT {cols} WHERE false"
        return " UNION ALL ".join(parts)

    def refresh(self) -> None:
        """See the segments written (and compacted) since the views were made."""
        self._db.execute(
            f"CREATE OR REPLACE VIEW decisions AS {self._view(self.path / DECISIONS_DIR, DECISION_COLUMNS)}"
        )
        events = self._view(self.path / EVENTS_DIR, EVENT_COLUMNS)
        self._db.execute(f"CREATE OR REPLACE VIEW events AS {unique_events_sql(f'({events})')}")

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql`` (over ``decisions`` and ``events``) as dicts."""
        cursor = self._db.execute(sql, params or [])
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        self._db.close()


CLICKHOUSE_SCHEMES = ("clickhouse://", "clickhouses://")  # a ClickHouse server, over HTTP (or HTTPS)
REMOTE_PREFIXES = ("chdb:", *CLICKHOUSE_SCHEMES)  # stores ``open_store`` opens that are not a local directory


def open_store(target: str | Path) -> StoreReader:
    """The store at ``target``: a directory of segments (DuckDB); ``chdb:DIR`` — a chdb (in-process ClickHouse)
    database holding the Collector's ``otel_logs`` table (``triage.store.clickhouse``); or
    ``clickhouse://HOST[:PORT]/DATABASE`` (``clickhouses://`` for TLS) — a ClickHouse server's views, over HTTP."""
    text = str(target)
    if text.startswith(CLICKHOUSE_SCHEMES):
        from triage.store.clickhouse_http import ClickHouseHttpStore  # noqa: PLC0415

        return ClickHouseHttpStore(text)
    if text.startswith("chdb:"):
        from triage.store.clickhouse import ClickHouseStore  # noqa: PLC0415

        return ClickHouseStore(text[len("chdb:") :] or None)
    return Store(text)


# --- compaction ---


@dataclass(frozen=True, slots=True)
class Compacted:
    source: Path
    target: Path
    bytes_before: int
    bytes_after: int


def closed(name: str, now: float, segment_seconds: float, grace_s: float) -> bool:
    """True when no writer can append to the segment ``name`` any more: its window (which starts within the hour its
    name gives and lasts ``segment_seconds``, the largest of the writers') ended more than ``grace_s`` ago."""
    from triage.store.writer import hour_of  # noqa: PLC0415

    start = hour_of(name)
    return start is not None and start + 3600 + segment_seconds + grace_s < now


def compact(
    path: str | Path,
    *,
    segment_seconds: float = 3600,
    grace_s: float = 300,
    now: float | None = None,
) -> list[Compacted]:
    """Rewrite each closed JSON-lines segment of the store at ``path`` as a Parquet file (zstd, sorted by time) of
    the same name, which keeps the original's modification time (retention reads it), then delete the original.
    Readers never see a segment twice (``segment_files``) nor half a file (written aside, then renamed)."""
    import duckdb  # noqa: PLC0415

    now = time.time() if now is None else now
    done: list[Compacted] = []
    db = duckdb.connect()
    try:
        for kind, spec in ((DECISIONS_DIR, DECISION_COLUMNS), (EVENTS_DIR, EVENT_COLUMNS)):
            directory = Path(path) / kind
            if not directory.is_dir():
                continue
            for stale in directory.glob("*.parquet.tmp"):  # a compaction that died half-way
                if stale.stat().st_mtime < now - grace_s:
                    stale.unlink(missing_ok=True)
            jsonl, _ = segment_files(directory)
            for file in map(Path, jsonl):
                if not closed(file.name, now, segment_seconds, grace_s):
                    continue
                target = file.with_suffix(".parquet")
                tmp = file.with_suffix(".parquet.tmp")
                st = file.stat()
                db.execute(
                    f"COPY ({read_json_sql([str(file)], spec)} ORDER BY time_unix_ms) TO {_literal(str(tmp))} "
                    "(FORMAT parquet, COMPRESSION zstd)"
                )
                with tmp.open("rb") as fh:
                    os.fsync(fh.fileno())
                os.utime(tmp, (st.st_atime, st.st_mtime))
                tmp.rename(target)
                file.unlink()
                done.append(Compacted(file, target, st.st_size, target.stat().st_size))
    finally:
        db.close()
    return done
