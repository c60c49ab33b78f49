"""Reading a store: the ``decisions`` and ``events`` views over its segments, queried with SQL (DuckDB).

``Store(path).query(sql)`` runs one statement over two views whose columns are ``schema.DECISION_COLUMNS`` and
``schema.EVENT_COLUMNS``; a segment being written while it is read contributes its complete lines. Portable SQL
only where the report needs it (``Dialect`` holds the few functions that differ between DuckDB and ClickHouse), so
that the same queries run on the at-scale engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from triage.store.schema import DECISION_COLUMNS, DECISIONS_DIR, EVENT_COLUMNS, EVENTS_DIR


def _columns(spec: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{sql}'" for name, sql in spec.items()) + "}"


def _view(directory: Path, spec: dict[str, str]) -> str:
    files = sorted(str(p) for p in directory.glob("*.jsonl")) if directory.is_dir() else []
    if not files:  # an empty relation with the right columns
        cols = ", ".join(f"CAST(NULL AS {sql}) AS {name}" for name, sql in spec.items())
        return f"SELECT {cols} WHERE false"
    listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    # A line being written (or torn by a crash) reads as an all-NULL row: dropped.
    return (
        f"SELECT * FROM read_json({listed}, format = 'newline_delimited', columns = {_columns(spec)}, "
        "ignore_errors = true, maximum_object_size = 16777216) WHERE decision_id IS NOT NULL"
    )


class Store:
    """A store directory, read with DuckDB (an in-process engine: no server). Not thread-safe."""

    def __init__(self, path: str | Path) -> None:
        import duckdb  # noqa: PLC0415  (only the readers of a store need it, never the request path)

        self.path = Path(path)
        self._db = duckdb.connect()
        self.refresh()

    def refresh(self) -> None:
        """See the segments written since the views were made."""
        self._db.execute(f"CREATE OR REPLACE VIEW decisions AS {_view(self.path / DECISIONS_DIR, DECISION_COLUMNS)}")
        self._db.execute(f"CREATE OR REPLACE VIEW events AS {_view(self.path / EVENTS_DIR, EVENT_COLUMNS)}")

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql`` (over ``decisions`` and ``events``) as dicts."""
        cursor = self._db.execute(sql, params or [])
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        self._db.close()
