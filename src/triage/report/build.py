"""``build_report``: a store's window → every figure of ``triage report`` (``docs/report.md`` explains each).

The figures, and the record fields they come from:

- **spend and tokens** by route, tier, task, provider and model (``model_answered``, else ``model_sent``), in total
  and per hour or day bucket (UTC): ``cost_usd``, ``input_tokens``, ``output_tokens``.
- **savings** against two counterfactuals, each computed from the tokens a request actually used at the
  counterfactual route's *first-step* price: (a) every request on the most expensive route its tier allows (per
  request, the allowed route with the highest cost for its tokens), (b) every request on ``default_route``. Both
  are **net of the router's own cost**: each decision's ``router_latency_us`` (parse + features + classifier +
  policy, measured on the request path) is taken as its CPU time and priced at ``store.core_hour_usd``. That
  leaves out the ext_proc stream's own CPU (gRPC, the other phases), which a do-nothing ext_proc costs too.
- **the heavy tail**: requests with a cost ranked from the dearest; the share of spend in the top 1% and 10%
  (``ceil(n/100)`` and ``ceil(n/10)`` requests) and the routes they took; a Lorenz-style curve of 100 points.
- **rates**: fallback (``attempts`` > 1, of the requests that reached a provider), rejection (a 4xx with Triage's
  own ``error_code``, of all requests), failed open (``error_code`` deadline/error/message_timeout), escalation (a
  request billed on more than one model: the record's ``escalated`` field, set by confidence escalation;
  shown as 0 with a note while the store has no record carrying it).
- **cost vs quality**: requests with events (feedback and implicit signals, each a 0..1 ``value``; a request's
  value is the mean of its events), per route and per cost quintile: mean value against mean cost, with counts.
- **drift**: ``triage.report.drift``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

from triage.config import TriageConfig
from triage.report import drift as dr
from triage.report import sql
from triage.store.query import Dialect
from triage.store.schema import DECISION_COLUMNS

By = Literal["hour", "day"]
DIMENSIONS: tuple[str, ...] = ("route", "tier", "task", "provider", "model")
NONE_LABEL: dict[str, str] = {
    "route": "(none: refused)",
    "tier": "(none)",
    "task": "(not classified)",
    "provider": "(no response)",
    "model": "(none)",
}
ESCALATION_FIELD = "escalated"
COST_BUCKETS = 5


@dataclass
class Sums:
    """The additive figures of a group of records (one cube row, or any roll-up of them)."""

    requests: int = 0
    priced: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    with_usage: int = 0
    responded: int = 0
    fallbacks: int = 0
    rejected: int = 0
    failed_open: int = 0
    router_us: int = 0
    cf_max_usd: float = 0.0
    cf_default_usd: float = 0.0
    escalated: int = 0
    escalation_known: int = 0

    def add(self, row: Mapping[str, Any]) -> None:
        """Add a cube row (its ``s_<field>`` columns)."""
        for f in fields(self):
            key = "s_" + f.name
            if f.type == "int":
                setattr(self, f.name, getattr(self, f.name) + sql.as_int(row, key))
            else:
                setattr(self, f.name, getattr(self, f.name) + sql.as_float(row, key))


@dataclass(frozen=True)
class Line:
    """One row of a breakdown: a route (tier, task, ...) and what it used."""

    key: str
    requests: int
    cost_usd: float
    share: float  # of the window's spend
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Point:
    """One bucket of a time series: what one key (a route, a tier, ...) used in it."""

    bucket_ms: int
    key: str
    requests: int
    cost_usd: float
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Savings:
    baseline: Literal["most_expensive_allowed", "default_route"]
    description: str
    counterfactual_usd: float
    actual_usd: float
    gross_usd: float  # counterfactual − actual
    router_usd: float
    net_usd: float  # gross − router
    net_share: float | None  # net / counterfactual


@dataclass(frozen=True)
class Rate:
    name: str
    count: int
    of: int
    rate: float | None
    note: str = ""


@dataclass(frozen=True)
class Tail:
    priced: int
    spend_usd: float
    top1_requests: int
    top1_share: float | None
    top10_requests: int
    top10_share: float | None
    top1_routes: dict[str, dict[str, float]]  # route → {requests, cost_usd}
    top10_routes: dict[str, dict[str, float]]
    lorenz: list[float]  # lorenz[p]: the share of spend in the dearest p% of requests, p = 0..100


@dataclass(frozen=True)
class QualityPoint:
    label: str
    requests: int
    mean_cost_usd: float
    mean_value: float
    cost_from_usd: float
    cost_to_usd: float


@dataclass(frozen=True)
class Quality:
    requests: int  # requests of the window with at least one event
    events: int
    by_route: list[QualityPoint]
    by_cost: list[QualityPoint]


@dataclass
class Report:
    store: str
    config: str
    by: By
    since_ms: int | None
    until_ms: int | None
    first_ms: int | None
    last_ms: int | None
    core_hour_usd: float
    totals: Sums
    router_cpu_s: float
    router_cost_usd: float
    savings: list[Savings]
    breakdowns: dict[str, list[Line]]
    series: dict[str, list[Point]]
    buckets: list[int]
    tail: Tail
    rates: list[Rate]
    quality: Quality
    drift: dr.DriftResult | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``--json``); times as Unix ms and ISO-8601 UTC."""
        out = asdict(self)
        out["drift"] = self.drift.to_dict() if self.drift is not None else None
        out["window"] = {
            "since": iso(self.since_ms),
            "until": iso(self.until_ms),
            "first_record": iso(self.first_ms),
            "last_record": iso(self.last_ms),
        }
        out["buckets"] = [{"start_ms": b, "label": bucket_label(b, self.by)} for b in self.buckets]
        return out


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def bucket_label(ms: int, by: By) -> str:
    t = datetime.fromtimestamp(ms / 1000, UTC)
    return t.strftime("%Y-%m-%d") if by == "day" else t.strftime("%Y-%m-%d %H:00")


def _label(dim: str, value: Any) -> str:
    return NONE_LABEL[dim] if value is None else str(value)


def _breakdown(rows: Iterable[Mapping[str, Any]], dim: str, spend: float) -> list[Line]:
    groups: dict[str, Sums] = defaultdict(Sums)
    for row in rows:
        groups[_label(dim, row[dim])].add(row)
    lines = [
        Line(k, s.requests, s.cost_usd, s.cost_usd / spend if spend else 0.0, s.input_tokens, s.output_tokens)
        for k, s in groups.items()
    ]
    lines.sort(key=lambda x: (-x.cost_usd, -x.requests, x.key))
    return lines


def _series(rows: Iterable[Mapping[str, Any]], dim: str) -> list[Point]:
    groups: dict[tuple[int, str], Sums] = defaultdict(Sums)
    for row in rows:
        groups[(sql.as_int(row, "bucket"), _label(dim, row[dim]))].add(row)
    points = [Point(b, k, s.requests, s.cost_usd, s.input_tokens, s.output_tokens) for (b, k), s in groups.items()]
    points.sort(key=lambda p: (p.bucket_ms, p.key))
    return points


def _rate(name: str, count: int, of: int, note: str = "") -> Rate:
    return Rate(name, count, of, count / of if of else None, note)


def _tail(rows: Sequence[Mapping[str, Any]], priced: int) -> Tail:
    by_pct: dict[int, float] = defaultdict(float)
    top1: dict[str, dict[str, float]] = {}
    top10: dict[str, dict[str, float]] = {}
    n1 = n10 = 0
    c1 = c10 = 0.0
    for row in rows:
        pct, route = int(sql.as_float(row, "pct")), _label("route", row["route"])
        n, cost = sql.as_int(row, "s_requests"), sql.as_float(row, "s_cost_usd")
        by_pct[pct] += cost
        for limit, into in ((1, top1), (10, top10)):
            if pct < limit:
                slot = into.setdefault(route, {"requests": 0, "cost_usd": 0.0})
                slot["requests"] += n
                slot["cost_usd"] += cost
        if pct < 1:
            n1, c1 = n1 + n, c1 + cost
        if pct < 10:
            n10, c10 = n10 + n, c10 + cost
    spend = sum(by_pct.values())
    lorenz = [0.0]
    running = 0.0
    for p in range(100):
        running += by_pct.get(p, 0.0)
        lorenz.append(running / spend if spend else 0.0)

    def ordered(d: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return dict(sorted(d.items(), key=lambda kv: (-kv[1]["cost_usd"], kv[0])))

    return Tail(
        priced=priced,
        spend_usd=spend,
        top1_requests=n1,
        top1_share=c1 / spend if spend else None,
        top10_requests=n10,
        top10_share=c10 / spend if spend else None,
        top1_routes=ordered(top1),
        top10_routes=ordered(top10),
        lorenz=lorenz,
    )


def _points(label: str, rows: Sequence[Mapping[str, Any]]) -> QualityPoint:
    costs = [sql.as_float(r, "cost") for r in rows]
    values = [sql.as_float(r, "mean_value") for r in rows]
    return QualityPoint(label, len(rows), sum(costs) / len(rows), sum(values) / len(rows), min(costs), max(costs))


def _quality(rows: Sequence[Mapping[str, Any]]) -> Quality:
    by_route: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_route[_label("route", row["route"])].append(row)
    routes = sorted((_points(k, v) for k, v in by_route.items()), key=lambda q: (q.mean_cost_usd, q.label))
    ranked = sorted(rows, key=lambda r: (sql.as_float(r, "cost"), str(r["decision_id"])))
    k = min(COST_BUCKETS, len(ranked))
    by_cost = []
    for i in range(k):  # equal-count buckets, cheapest first
        part = ranked[i * len(ranked) // k : (i + 1) * len(ranked) // k]
        by_cost.append(_points(f"q{i + 1}", part))
    return Quality(len(rows), sum(sql.as_int(r, "n_events") for r in rows), routes, by_cost)


def _drift(
    store: sql.Queryable,
    window: sql.Window,
    source: str,
    reference: dr.DriftReference | None,
    first_ms: int | None,
    last_ms: int | None,
    reference_note: str,
) -> dr.DriftResult:
    notes = [reference_note] if reference_note else []
    if reference is not None:
        rows = store.query(sql.drift(window, reference.edges, None, source))
        versions = sorted({str(r["classifier_version"]) for r in rows if r["classifier_version"] is not None})
        if reference.classifier_version in versions:
            others = sum(
                sql.as_int(r, "requests") for r in rows if r["classifier_version"] != reference.classifier_version
            )
            if others:
                notes.append(
                    f"{others} requests scored by another classifier version than the reference's "
                    f"({reference.classifier_version}) left out"
                )
            rows = [r for r in rows if r["classifier_version"] == reference.classifier_version]
        elif rows and reference.classifier_version is not None:
            notes.append(
                f"no request in the window was scored by the reference's classifier {reference.classifier_version} "
                f"(seen: {', '.join(versions) or 'none'}): the p_strong comparison mixes two models"
            )
        tasks, bins = _counts(rows, len(reference.edges) - 1)
        return dr.check(tasks, bins, reference, notes=notes)
    edges = dr.EQUAL_WIDTH_EDGES
    split = None if first_ms is None or last_ms is None else first_ms + (last_ms - first_ms + 1) // 2
    rows = store.query(sql.drift(window, edges, split, source))
    first_tasks, first_bins = _counts([r for r in rows if sql.as_int(r, "half") == 0], len(edges) - 1)
    second_tasks, second_bins = _counts([r for r in rows if sql.as_int(r, "half") == 1], len(edges) - 1)
    notes.append(
        f"no drift reference: the window's second half (from {iso(split)}) is compared with its first half, which "
        "shows a change within the window, not a drift from the training data"
    )
    base = dr.reference_from_counts(first_tasks, first_bins, edges)
    if not first_tasks:
        notes.append("the window's first half has no classified request: nothing to compare with")
        return dr.check({}, [0] * (len(edges) - 1), base, against="first half", notes=notes)
    return dr.check(second_tasks, second_bins, base, against="first half", notes=notes)


def _counts(rows: Iterable[Mapping[str, Any]], n_bins: int) -> tuple[dict[str, int], list[int]]:
    tasks: dict[str, int] = defaultdict(int)
    bins = [0] * n_bins
    for r in rows:
        n = sql.as_int(r, "requests")
        tasks[str(r["task"])] += n
        bins[min(max(sql.as_int(r, "bin"), 0), n_bins - 1)] += n
    return dict(tasks), bins


def build_report(
    store: sql.Queryable,
    config: TriageConfig,
    *,
    window: sql.Window | None = None,
    by: By = "day",
    reference: dr.DriftReference | None = None,
    reference_note: str = "",
    store_name: str = "",
    config_name: str = "",
    columns: Mapping[str, str] = DECISION_COLUMNS,
) -> Report:
    """Every figure of the report over ``window`` of ``store``, priced with ``config``. ``reference``: the drift
    reference (None: the window's halves are compared); ``columns``: the store's decision columns (the escalation
    rate needs ``escalated``)."""
    window = window_asked = window or sql.Window()
    dialect = sql.dialect_of(store)
    has_escalation = ESCALATION_FIELD in columns
    source = "decisions"
    if dialect.name == "duckdb":  # parse the segments once (``sql.materialize``)
        store.query("SET enable_progress_bar = false")  # DuckDB draws one on stderr for a long query
        wanted = [*sql.REPORT_COLUMNS, *([ESCALATION_FIELD] if has_escalation else [])]
        store.query(sql.materialize(window, wanted))
        source, window = sql.WINDOW_TABLE, sql.Window()
    try:
        return _build(
            store,
            config,
            window,
            window_asked,
            by,
            reference,
            reference_note,
            dialect,
            has_escalation,
            source,
            store_name,
            config_name,
        )
    finally:
        if source != "decisions":
            store.query(f"DROP TABLE IF EXISTS {source}")


def _build(
    store: sql.Queryable,
    config: TriageConfig,
    window: sql.Window,
    asked: sql.Window,
    by: By,
    reference: dr.DriftReference | None,
    reference_note: str,
    dialect: Dialect,
    has_escalation: bool,
    source: str,
    store_name: str,
    config_name: str,
) -> Report:
    width = sql.HOUR_MS if by == "hour" else sql.DAY_MS
    rows = store.query(sql.cube(config, window, width, dialect, has_escalation, source))
    totals = Sums()
    for row in rows:
        totals.add(row)
    firsts = [sql.as_int(r, "s_first_ms") for r in rows if r.get("s_first_ms") is not None]
    lasts = [sql.as_int(r, "s_last_ms") for r in rows if r.get("s_last_ms") is not None]
    first_ms, last_ms = (min(firsts), max(lasts)) if firsts else (None, None)
    spend = totals.cost_usd
    router_cpu_s = totals.router_us / 1e6
    router_usd = router_cpu_s / 3600 * config.store.core_hour_usd

    def saving(baseline: Literal["most_expensive_allowed", "default_route"], text: str, cf: float) -> Savings:
        gross = cf - spend
        return Savings(
            baseline, text, cf, spend, gross, router_usd, gross - router_usd, (gross - router_usd) / cf if cf else None
        )

    savings = [
        saving(
            "most_expensive_allowed",
            "every request on the most expensive route its tier allows",
            totals.cf_max_usd,
        ),
        saving("default_route", f"every request on the default route ({config.default_route})", totals.cf_default_usd),
    ]
    notes: list[str] = []
    if has_escalation and totals.escalation_known:
        esc_note = "billed on more than one model"
    else:
        esc_note = "no record in the window carries `escalated` (no answer was checked: no tier has `escalation:`)"
        notes.append(
            f"escalation rate: no record in the window carries the `{ESCALATION_FIELD}` field (checked answers do: "
            "`escalation:` in the configuration); it reads 0"
        )
    rates = [
        _rate("fallback", totals.fallbacks, totals.responded, "attempts > 1, of the requests that reached a provider"),
        _rate("rejection", totals.rejected, totals.requests, "4xx with Triage's own error code, of all requests"),
        _rate("escalation", totals.escalated, totals.requests, esc_note),
        _rate("failed_open", totals.failed_open, totals.requests, "classifier deadline or internal fault"),
    ]
    tail_rows = store.query(sql.tail(window, totals.priced, source)) if totals.priced else []
    quality_rows = store.query(sql.quality(window, source))
    if not quality_rows:
        notes.append("no feedback or implicit signal on the window's requests: no cost-vs-quality curve")
    drift_result = (
        _drift(store, window, source, reference, first_ms, last_ms, reference_note) if totals.requests else None
    )
    buckets = sorted({sql.as_int(r, "bucket") for r in rows})
    return Report(
        store=store_name,
        config=config_name,
        by=by,
        since_ms=asked.since_ms,
        until_ms=asked.until_ms,
        first_ms=first_ms,
        last_ms=last_ms,
        core_hour_usd=config.store.core_hour_usd,
        totals=totals,
        router_cpu_s=router_cpu_s,
        router_cost_usd=router_usd,
        savings=savings,
        breakdowns={dim: _breakdown(rows, dim, spend) for dim in DIMENSIONS},
        series={dim: _series(rows, dim) for dim in DIMENSIONS},
        buckets=buckets,
        tail=_tail(tail_rows, totals.priced),
        rates=rates,
        quality=_quality(quality_rows),
        drift=drift_result,
        notes=notes,
    )
