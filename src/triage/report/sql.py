"""The report's queries: portable SQL over the store's ``decisions`` and ``events`` views.

Standard ``GROUP BY``, aggregates, ``CASE`` and one window function (``ROW_NUMBER() OVER``) only, so that the same
statements run on the embedded engine (DuckDB) and on the at-scale one (ClickHouse, e.g. through chdb); the few
spellings that differ are the store's ``Dialect`` (``triage.store.query``). A computed output column's alias is no
column's name (ClickHouse would read the column's later uses as the alias). Every literal is a number computed
here or a name the configuration validated (``[A-Za-z0-9][A-Za-z0-9_.-]*``), quoted anyway: no statement takes user
text.

The report runs four queries: the cube (every additive figure, grouped by time bucket and the dimensions), the tail
(requests ranked by cost), the feedback join and the drift counts. On DuckDB they read one temporary table of the
window (``materialize``: the JSON-lines segments are parsed once, not four times); on ClickHouse, the views.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.config import Price, TriageConfig
from triage.store.query import DUCKDB, Dialect, StoreReader

# error codes a record carries when Triage failed open (the request went on to the default route): not rejections
FAIL_OPEN_CODES: tuple[str, ...] = ("deadline", "error", "message_timeout")
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
Queryable = StoreReader  # ``triage.store.Store`` (DuckDB) or ``triage.store.clickhouse.ClickHouseStore``


def dialect_of(store: StoreReader) -> Dialect:
    """The store's dialect (``triage.store.query.Dialect``: DuckDB's for a segment store, ClickHouse's at scale)."""
    found = getattr(store, "dialect", None)
    return found if isinstance(found, Dialect) else DUCKDB


def quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True)
class Window:
    """The report's time range: ``since <= time_unix_ms < until`` (Unix ms, either end open when None)."""

    since_ms: int | None = None
    until_ms: int | None = None

    def where(self, prefix: str = "") -> str:
        col = f"{prefix}time_unix_ms"
        parts = ["1 = 1"]
        if self.since_ms is not None:
            parts.append(f"{col} >= {int(self.since_ms)}")
        if self.until_ms is not None:
            parts.append(f"{col} < {int(self.until_ms)}")
        return " AND ".join(parts)


def price_cost(price: Price) -> str:
    """SQL for a request's cost at ``price`` from the tokens it used (0 for a request without usage)."""
    return (
        f"(COALESCE(input_tokens, 0) * {price.input_per_mtok!r} + COALESCE(output_tokens, 0) * "
        f"{price.output_per_mtok!r}) / 1000000.0"
    )


def first_step_price(config: TriageConfig, route: str) -> Price:
    """A route's price as a counterfactual: the price of its first step (what a request sent there pays unless it
    falls back)."""
    cfg = config.routes[route]
    return cfg.chain[0].price or cfg.price


def counterfactual_max(config: TriageConfig, dialect: Dialect) -> str:
    """SQL for each request's cost on the most expensive route its tier allows, for the tokens it used: the largest
    of the allowed routes' first-step costs (a record of an unknown tier gets the default tier's routes, as the
    policy would give it)."""

    def expr(routes: Sequence[str]) -> str:
        return dialect.greatest(*[price_cost(first_step_price(config, r)) for r in routes])

    default_name, default_tier = config.tier(None)
    whens = " ".join(
        f"WHEN tier = {quote(name)} THEN {expr(tier.routes)}"
        for name, tier in config.tiers.items()
        if name != default_name
    )
    fallback = expr(default_tier.routes)
    return f"CASE {whens} ELSE {fallback} END" if whens else fallback


def rejected() -> str:
    """SQL: the record is a request Triage refused (a 4xx with Triage's own error code; a fail-open code is not one).
    A provider's 4xx carries no ``error_code`` (the code is only ever set by Triage)."""
    codes = ", ".join(quote(c) for c in FAIL_OPEN_CODES)
    return f"(status >= 400 AND status < 500 AND error_code IS NOT NULL AND error_code NOT IN ({codes}))"


def failed_open() -> str:
    codes = ", ".join(quote(c) for c in FAIL_OPEN_CODES)
    return f"(error_code IN ({codes}))"


CUBE_KEYS: tuple[str, ...] = ("bucket", "route", "tier", "task", "provider", "model")


def cube(
    config: TriageConfig, window: Window, width_ms: int, dialect: Dialect, escalated: bool, source: str = "decisions"
) -> str:
    """Every additive figure, by time bucket × route × tier × task × provider × model (``model_answered``, else the
    model the request was sent to), each named ``s_<Sums field>``: an alias never reuses a column's name (ClickHouse
    would read the column's later uses as the alias). ``escalated``: the store has the ``escalated`` column."""
    esc = (
        "SUM(CASE WHEN escalated THEN 1 ELSE 0 END) AS s_escalated, "
        "SUM(CASE WHEN escalated IS NOT NULL THEN 1 ELSE 0 END) AS s_escalation_known"
        if escalated
        else "0 AS s_escalated, 0 AS s_escalation_known"
    )
    default = first_step_price(config, config.default_route)
    return f"""
SELECT {dialect.bucket("time_unix_ms", width_ms)} AS bucket, route AS route, tier AS tier, task AS task,
       provider AS provider,
       COALESCE(model_answered, model_sent) AS model,
       COUNT(*) AS s_requests,
       SUM(CASE WHEN cost_usd IS NOT NULL THEN 1 ELSE 0 END) AS s_priced,
       SUM(COALESCE(cost_usd, 0)) AS s_cost_usd,
       SUM(COALESCE(input_tokens, 0)) AS s_input_tokens,
       SUM(COALESCE(output_tokens, 0)) AS s_output_tokens,
       SUM(CASE WHEN input_tokens IS NOT NULL OR output_tokens IS NOT NULL THEN 1 ELSE 0 END) AS s_with_usage,
       SUM(CASE WHEN attempts IS NOT NULL THEN 1 ELSE 0 END) AS s_responded,
       SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS s_fallbacks,
       SUM(CASE WHEN {rejected()} THEN 1 ELSE 0 END) AS s_rejected,
       SUM(CASE WHEN {failed_open()} THEN 1 ELSE 0 END) AS s_failed_open,
       SUM(COALESCE(router_latency_us, 0)) AS s_router_us,
       SUM({counterfactual_max(config, dialect)}) AS s_cf_max_usd,
       SUM({price_cost(default)}) AS s_cf_default_usd,
       {esc},
       MIN(time_unix_ms) AS s_first_ms,
       MAX(time_unix_ms) AS s_last_ms
FROM {source}
WHERE {window.where()}
GROUP BY 1, 2, 3, 4, 5, 6
"""


def tail(window: Window, priced: int, source: str = "decisions") -> str:
    """Requests with a cost ranked from the dearest (ties by decision id), grouped into 100 equal-count percentiles
    (percentile ``p`` holds ranks ``r`` with ``floor((r - 1) · 100 / n) = p``, so percentile 0 is exactly the top
    ``ceil(n / 100)`` requests and percentiles 0–9 the top ``ceil(n / 10)``), by route."""
    n = max(int(priced), 1)
    return f"""
SELECT FLOOR((rk - 1) * 100.0 / {n}) AS pct, route AS route, COUNT(*) AS s_requests, SUM(cost) AS s_cost_usd
FROM (SELECT route AS route, cost_usd AS cost, ROW_NUMBER() OVER (ORDER BY cost_usd DESC, decision_id) AS rk
      FROM {source} WHERE cost_usd IS NOT NULL AND {window.where()}) AS ranked
GROUP BY 1, 2
"""


def quality(window: Window, source: str = "decisions") -> str:
    """Each decision of the window that has events: its route, cost and the mean ``value`` of its events."""
    return f"""
SELECT d.decision_id AS decision_id, d.route AS route, d.cost_usd AS cost,
       AVG(e.value) AS mean_value, COUNT(*) AS n_events
FROM {source} AS d JOIN events AS e ON d.decision_id = e.decision_id
WHERE d.cost_usd IS NOT NULL AND e.value IS NOT NULL AND {window.where("d.")}
GROUP BY d.decision_id, d.route, d.cost_usd
"""


def bin_case(column: str, edges: Sequence[float]) -> str:
    """SQL for the bin of ``column`` among ``edges`` (``drift.bin_index``'s rule)."""
    inner = edges[1:-1]
    if not inner:
        return "0"
    whens = " ".join(f"WHEN {column} < {e!r} THEN {i}" for i, e in enumerate(inner))
    return f"CASE {whens} ELSE {len(inner)} END"


def drift(window: Window, edges: Sequence[float], split_ms: int | None, source: str = "decisions") -> str:
    """Classified requests by classifier version, task and ``p_strong`` bin (and by half of the window, the second
    from ``split_ms`` on, when given)."""
    half = f"CASE WHEN time_unix_ms >= {int(split_ms)} THEN 1 ELSE 0 END" if split_ms is not None else "0"
    return f"""
SELECT classifier_version AS classifier_version, {half} AS half, task AS task, {bin_case("p_strong", edges)} AS bin,
       COUNT(*) AS requests
FROM {source}
WHERE task IS NOT NULL AND p_strong IS NOT NULL AND {window.where()}
GROUP BY 1, 2, 3, 4
"""


# The columns the report reads (``escalated`` too when the store has it).
REPORT_COLUMNS: tuple[str, ...] = (
    "decision_id",
    "time_unix_ms",
    "route",
    "tier",
    "task",
    "provider",
    "model_answered",
    "model_sent",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "attempts",
    "status",
    "error_code",
    "router_latency_us",
    "p_strong",
    "classifier_version",
)
WINDOW_TABLE = "triage_report_window"


def materialize(window: Window, columns: Sequence[str]) -> str:
    """DuckDB only: a temporary table of the window's records and the columns the report reads, which the four
    queries then scan instead of ``decisions`` (whose segments are JSON lines, parsed again by every scan: one parse
    instead of four). ClickHouse reads its own columnar tables: the report does not call it there."""
    return (
        f"CREATE OR REPLACE TEMP TABLE {WINDOW_TABLE} AS SELECT {', '.join(columns)} "
        f"FROM decisions WHERE {window.where()}"
    )


def as_int(row: Mapping[str, Any], key: str) -> int:
    value = row.get(key)
    return int(value) if value is not None else 0


def as_float(row: Mapping[str, Any], key: str) -> float:
    value = row.get(key)
    return float(value) if value is not None else 0.0
