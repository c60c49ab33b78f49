"""The store at scale: ClickHouse, fed by the OpenTelemetry Collector, read through the same two views.

Every Triage replica sends its records and events as OTLP log records (``store.otlp_logs``,
``triage.store.writer.OtlpLogSink``): the body is the record's JSON line, the attribute ``triage.kind`` says
decision or event. A Collector's ClickHouse exporter writes them into its ``otel_logs`` table (``Body``,
``LogAttributes``). Here, ``decisions`` and ``events`` are tables with ``schema.DECISION_COLUMNS`` and
``schema.EVENT_COLUMNS`` and their types, filled from ``otel_logs`` by materialized views as the rows arrive
(``materialized=True``, the default: queries read typed columns), or plain views that parse ``Body`` on every
query (``materialized=False``: nothing to set up, slow beyond a few million rows; ``docs/store.md`` has both
measured). Either way a report query written for ``triage.store.Store`` (DuckDB) runs unchanged (``query.Dialect``
has the few spellings that differ).

``ClickHouseStore`` runs them in process with chdb (offline: tests, benchmarks, a store exported from a server); on a
ClickHouse server, create them with ``triage store ddl``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from triage.store.query import CLICKHOUSE, Dialect, unique_events_sql
from triage.store.schema import (
    DECISION_COLUMNS,
    DECISIONS_DIR,
    EVENT_COLUMNS,
    EVENTS_DIR,
    OTEL_DECISION_ID,
    OTEL_KIND,
    OTEL_SCOPE,
)

DATABASE = "otel"
TABLE = "otel_logs"

# The Collector ClickHouse exporter's logs table: its columns and types (the ``otel_logs`` DDL of
# opentelemetry-collector-contrib's exporter/clickhouseexporter), its partitioning and sort key. The exporter
# creates it itself (``create_schema``); this is for chdb and for a server prepared by hand.
OTEL_LOGS_COLUMNS: dict[str, str] = {
    "Timestamp": "DateTime64(9) CODEC(Delta(8), ZSTD(1))",
    "TimestampTime": "DateTime DEFAULT toDateTime(Timestamp)",
    "TraceId": "String CODEC(ZSTD(1))",
    "SpanId": "String CODEC(ZSTD(1))",
    "TraceFlags": "UInt8",
    "SeverityText": "LowCardinality(String) CODEC(ZSTD(1))",
    "SeverityNumber": "UInt8",
    "ServiceName": "LowCardinality(String) CODEC(ZSTD(1))",
    "Body": "String CODEC(ZSTD(1))",
    "ResourceSchemaUrl": "LowCardinality(String) CODEC(ZSTD(1))",
    "ResourceAttributes": "Map(LowCardinality(String), String) CODEC(ZSTD(1))",
    "ScopeSchemaUrl": "LowCardinality(String) CODEC(ZSTD(1))",
    "ScopeName": "String CODEC(ZSTD(1))",
    "ScopeVersion": "LowCardinality(String) CODEC(ZSTD(1))",
    "ScopeAttributes": "Map(LowCardinality(String), String) CODEC(ZSTD(1))",
    "LogAttributes": "Map(LowCardinality(String), String) CODEC(ZSTD(1))",
}


def otel_logs_ddl(database: str = DATABASE, table: str = TABLE, ttl_days: int | None = None) -> str:
    """``CREATE TABLE`` for the exporter's logs table (``ttl_days``: the exporter's ``ttl``, the store's retention)."""
    columns = ",\n    ".join(f"{name} {sql}" for name, sql in OTEL_LOGS_COLUMNS.items())
    ttl = f"\nTTL TimestampTime + toIntervalDay({int(ttl_days)})" if ttl_days else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.{table} (\n    {columns}\n) ENGINE = MergeTree\n"
        "PARTITION BY toDate(TimestampTime)\nPRIMARY KEY (ServiceName, TimestampTime)\n"
        f"ORDER BY (ServiceName, TimestampTime, Timestamp){ttl}\n"
        "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"
    )


_SCALARS = {"VARCHAR": "String", "BIGINT": "Int64", "DOUBLE": "Float64", "BOOLEAN": "Bool"}
_STRUCT = re.compile(r"STRUCT\((.*)\)", re.DOTALL)


def clickhouse_type(sql: str) -> str:
    """The ClickHouse type of a ``schema`` column type (a scalar is Nullable; a list never is)."""
    if sql.endswith("[]"):
        inner = sql[:-2]
        match = _STRUCT.fullmatch(inner)
        if match is None:
            return f"Array({_SCALARS[inner]})"
        fields = [f.strip().split(" ", 1) for f in match.group(1).split(",")]
        return "Array(Tuple(" + ", ".join(f"{n} Nullable({_SCALARS[t.strip()]})" for n, t in fields) + "))"
    return f"Nullable({_SCALARS[sql]})"


def select_from_logs(view: str, columns: dict[str, str], source: str) -> str:
    """``SELECT`` the columns of the ``decision`` or ``event`` records in the logs table ``source``, parsed from
    each row's ``Body`` (a missing key reads as NULL, a missing list as ``[]``)."""
    exprs = []
    for column, sql in columns.items():
        if column == "time_unix_ms":
            expr = "toUnixTimestamp64Milli(Timestamp)"
        else:
            expr = f"JSONExtract(Body, '{column}', '{clickhouse_type(sql)}')"
        exprs.append(f"{expr} AS {column}")
    return (
        "SELECT " + ",\n       ".join(exprs) + f"\nFROM {source}\n"
        f"WHERE ScopeName = '{OTEL_SCOPE}' AND LogAttributes['{OTEL_KIND}'] = '{view}'"
    )


# (what queries read, the log records' kind, the columns, the table or view holding every row of that kind): events
# are read through ``query.unique_events_sql`` over ``events_log``, so that a repeated feedback event counts once.
_VIEWS = (
    ("decisions", "decision", DECISION_COLUMNS, "decisions"),
    ("events", "event", EVENT_COLUMNS, "events_log"),
)


def views_ddl(
    source: str = f"{DATABASE}.{TABLE}",
    database: str | None = None,
    *,
    materialized: bool = True,
    ttl_days: int | None = None,
) -> list[str]:
    """The DDL of ``decisions`` and ``events`` over the logs table ``source``: typed tables (``decisions``,
    ``events_log``) filled by materialized views (``materialized``; ``ttl_days``: their retention), or plain views;
    ``events`` is a view over ``events_log`` that drops repeated feedback events (``query.unique_events_sql``)."""
    prefix = f"{database}." if database else ""
    out = []
    for name, view, columns, rows in _VIEWS:
        select = select_from_logs(view, columns, source)
        if not materialized:
            out.append(f"CREATE OR REPLACE VIEW {prefix}{rows} AS\n{select}")
        else:
            cols = ",\n    ".join(
                f"{c} {'Int64' if c == 'time_unix_ms' else clickhouse_type(t)}" for c, t in columns.items()
            )
            ttl = f"\nTTL toDateTime(intDiv(time_unix_ms, 1000)) + toIntervalDay({int(ttl_days)})" if ttl_days else ""
            out.append(
                f"CREATE TABLE IF NOT EXISTS {prefix}{rows} (\n    {cols}\n) ENGINE = MergeTree\n"
                f"PARTITION BY intDiv(time_unix_ms, 86400000)\nORDER BY (time_unix_ms, decision_id){ttl}\n"
                "SETTINGS allow_nullable_key = 1"
            )
            out.append(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {prefix}{name}_mv TO {prefix}{rows} AS\n{select}")
        if rows != name:  # what queries read: the rows without repeated feedback events
            out.append(f"CREATE OR REPLACE VIEW {prefix}{name} AS\n{unique_events_sql(prefix + rows)}")
    return out


def backfill_sql(source: str = f"{DATABASE}.{TABLE}", database: str | None = None) -> list[str]:
    """``INSERT ... SELECT`` of the records already in ``source`` into the typed tables (a materialized view only
    sees the rows inserted after it was created)."""
    prefix = f"{database}." if database else ""
    return [f"INSERT INTO {prefix}{rows}\n{select_from_logs(view, cols, source)}" for _, view, cols, rows in _VIEWS]


# --- what the Collector does with a log record ---


def attribute_text(value: Any) -> str:
    """A log attribute's value as the Collector's ClickHouse exporter stores it (pdata ``Value.AsString``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, (list, tuple)):
        return orjson.dumps(list(value)).decode()
    return orjson.dumps(value).decode()


def _float_text(value: float) -> str:
    """A double as JavaScript (ES6) prints it, the exporter's format: shortest digits, exponent outside 1e-6..1e21."""
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, exponent = repr(value).split("e")
        return f"{mantissa}e{exponent[0]}{exponent[1:].lstrip('0') or '0'}"
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def _any(value: Any) -> Any:
    """An OTLP ``AnyValue`` message as a Python value."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def collector_rows(request: Any) -> list[dict[str, Any]]:
    """The ``otel_logs`` rows the Collector's ClickHouse exporter makes of an OTLP ``ExportLogsServiceRequest``
    (decoded with ``opentelemetry-proto``), ``Timestamp`` in Unix nanoseconds: what a Collector would insert."""
    rows = []
    for rl in request.resource_logs:
        resource = {kv.key: _any(kv.value) for kv in rl.resource.attributes}
        for sl in rl.scope_logs:
            scope_attrs = {kv.key: attribute_text(_any(kv.value)) for kv in sl.scope.attributes}
            for lr in sl.log_records:
                rows.append(
                    {
                        "Timestamp": lr.time_unix_nano or lr.observed_time_unix_nano,
                        "TraceId": lr.trace_id.hex(),
                        "SpanId": lr.span_id.hex(),
                        "TraceFlags": lr.flags & 0xFF,
                        "SeverityText": lr.severity_text,
                        "SeverityNumber": lr.severity_number,
                        "ServiceName": str(resource.get("service.name", "")),
                        "Body": attribute_text(_any(lr.body)) if lr.HasField("body") else "",
                        "ResourceSchemaUrl": rl.schema_url,
                        "ResourceAttributes": {k: attribute_text(v) for k, v in resource.items()},
                        "ScopeSchemaUrl": sl.schema_url,
                        "ScopeName": sl.scope.name,
                        "ScopeVersion": sl.scope.version,
                        "ScopeAttributes": scope_attrs,
                        "LogAttributes": {kv.key: attribute_text(_any(kv.value)) for kv in lr.attributes},
                    }
                )
    return rows


_ROW_STRUCTURE = ", ".join(
    f"{name} {'Int64' if name == 'Timestamp' else sql.split(' CODEC')[0]}"
    for name, sql in OTEL_LOGS_COLUMNS.items()
    if name != "TimestampTime"
)
_ROW_COLUMNS = [name for name in OTEL_LOGS_COLUMNS if name != "TimestampTime"]
_MAX_INSERT = 200_000  # bytes of rows per statement (ClickHouse parses at most max_query_size, 256 KiB, of one)


class ClickHouseStore:
    """The store's two views over an ``otel_logs`` table, in process with chdb (in-process ClickHouse): a
    ``StoreReader``. ``path``: a chdb data directory (kept), or None for memory. chdb runs one engine per process,
    on one path: every instance of a process shares it, each in its own ``database`` (the table and the views).
    ``materialized``: typed tables filled as rows arrive (the default), or views parsing every row per query."""

    dialect: Dialect = CLICKHOUSE

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        database: str = DATABASE,
        table: str = TABLE,
        materialized: bool = True,
    ) -> None:
        # a dev dependency (tests, benchmarks, offline reads), partly typed: used through ``Any``
        session: Any = importlib.import_module("chdb.session")

        self.path = None if path is None else Path(path)
        self.database = database
        self.source = f"{database}.{table}"
        self._session: Any = session.Session(str(path)) if path is not None else session.Session()
        self.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        self.execute(otel_logs_ddl(database, table))
        for ddl in views_ddl(self.source, database, materialized=materialized):
            self.execute(ddl)
        self.execute(f"USE {database}")  # the session's queries name the views without a database

    def execute(self, sql: str) -> None:
        self._session.query(sql, "CSV")

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql`` (over ``decisions`` and ``events``) as dicts; ``?`` placeholders take ``params``."""
        if params:
            sql = inline_params(sql, params)
        table = self._session.query(sql, "ArrowTable")
        rows: list[dict[str, Any]] = table.to_pylist()
        return rows

    def insert_rows(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert ``otel_logs`` rows (``collector_rows``' shape); returns how many."""
        cols = ", ".join(_ROW_COLUMNS)
        select = ", ".join("fromUnixTimestamp64Nano(Timestamp)" if c == "Timestamp" else c for c in _ROW_COLUMNS)
        count = 0
        batch: list[bytes] = []
        size = 0

        def insert() -> None:
            data = b"\n".join(batch).decode()
            if "$$" in data:
                raise ValueError("a row holds '$$'")
            self.execute(
                f"INSERT INTO {self.source} ({cols}) SELECT {select} "
                f"FROM format(JSONEachRow, '{_ROW_STRUCTURE}', $${data}\n$$)"
            )

        for row in rows:
            line = orjson.dumps({c: row[c] for c in _ROW_COLUMNS})
            if batch and size + len(line) > _MAX_INSERT:
                insert()
                batch, size = [], 0
            batch.append(line)
            size += len(line)
            count += 1
        if batch:
            insert()
        return count

    def insert_otlp(self, request: bytes) -> int:
        """Insert an encoded OTLP ``ExportLogsServiceRequest`` as a Collector's ClickHouse exporter would."""
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2  # noqa: PLC0415

        message = logs_service_pb2.ExportLogsServiceRequest()
        message.ParseFromString(request)
        return self.insert_rows(collector_rows(message))

    def load_segments(self, store: str | Path, service: str = "triage") -> None:
        """Copy a segment store's JSON lines into ``otel_logs`` as the Collector would have written them (a backfill,
        and how the benchmark loads its synthetic records): one ``INSERT ... SELECT`` per kind, inside ClickHouse."""
        for kind, view in ((DECISIONS_DIR, "decision"), (EVENTS_DIR, "event")):
            if not any((Path(store) / kind).glob("*.jsonl")):
                continue
            pattern = _quote(str(Path(store) / kind / "*.jsonl"))
            self.execute(
                f"INSERT INTO {self.source} (Timestamp, TraceId, SeverityText, SeverityNumber, ServiceName, Body, "
                "ResourceAttributes, ScopeName, LogAttributes) "
                "SELECT fromUnixTimestamp64Milli(JSONExtract(line, 'time_unix_ms', 'Int64')), "
                f"JSONExtractString(line, 'trace_id'), 'INFO', 9, '{service}', line, map('service.name', '{service}'), "
                f"'{OTEL_SCOPE}', map('{OTEL_KIND}', '{view}', '{OTEL_DECISION_ID}', "
                "JSONExtractString(line, 'decision_id')) "
                f"FROM file('{pattern}', 'LineAsString', 'line String') "
                "WHERE isValidJSON(line) AND JSONHas(line, 'decision_id')"
            )

    def close(self) -> None:
        self._session.close()


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def sql_literal(value: Any) -> str:
    """``value`` as a ClickHouse literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + _quote(value) + "'"
    raise TypeError(f"cannot inline a {type(value).__name__} parameter")


def inline_params(sql: str, params: Sequence[Any]) -> str:
    """``sql`` with each ``?`` outside quotes replaced by the next of ``params`` as a literal."""
    out: list[str] = []
    values = iter(params)
    quote: str | None = None
    i = 0
    while i < len(sql):
        ch = sql[i]
        if quote is not None:
            out.append(ch)
            if ch == "\\" and i + 1 < len(sql):
                out.append(sql[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            out.append(ch)
        elif ch == "?":
            try:
                out.append(sql_literal(next(values)))
            except StopIteration:
                raise ValueError("fewer parameters than placeholders") from None
        else:
            out.append(ch)
        i += 1
    if next(values, _END) is not _END:
        raise ValueError("more parameters than placeholders")
    return "".join(out)


_END = object()
