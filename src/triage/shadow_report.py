"""``triage shadow``: what the shadow candidates would have done, from a decision store.

``triage shadow report --store DIR [--config FILE] [--since T] [--until T] [--candidate NAME] [--json FILE]
[--cases FILE] [--max-cases N] [--width W]`` prints, per candidate:

- its lifecycle state (``candidate`` → ``shadow`` → ``active`` → ``retired``) and description, from ``--config``;
- the divergence rate (routes that differ from the live one, refusals included) overall, by tier and by task;
- the predicted cost delta (the candidate's route at the tokens actually used, minus the actual cost; see
  ``triage.shadow``): its sum, its mean per request with a 95% confidence interval by the **normal approximation**
  over the per-request deltas (mean ± 1.96 · s/√n, s the sample standard deviation), the same projected per day at
  the observed daily rate, and how many more days of traffic at that rate would narrow the interval of the daily
  figure to ``--width`` (``1%``: ± 1% of the live daily spend, the default; ``5``: ± $5 a day);
- the quality signals (feedback and implicit events, from the ``events`` view) on the requests the candidate would
  have sent to a cheaper route (a negative cost delta) against the rest;

and writes with ``--cases`` a JSONL of disagreement cases, most important first: priority = |cost delta| × how far
apart the two routes are (rungs of the live ladder; 1 without ``--config``), refusals and unknown deltas last.

``triage shadow replay CASES --config FILE [--candidate NAME] [--json FILE]`` re-decides those cases offline under
the configuration's live policy and each case's candidate (or ``--candidate``: another candidate of the file, e.g.
an edited one), from the stored scores, and prints how often the replayed decisions agree with the recorded ones
and with each other. No prompt text is read or written anywhere: a case holds ids, sizes, scores, routes and costs.

Exit codes: 0 done, 2 bad arguments or an unreadable input.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from triage import policy
from triage.classifier.base import TASK_LABELS, Scores
from triage.config import TriageConfig, load_config
from triage.errors import ConfigError
from triage.requests.input import CHARS_PER_TOKEN, RoutingInput
from triage.store.schema import SIGNALS

EXIT_OK, EXIT_USAGE = 0, 2
Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
DAY_MS = 86_400_000
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": DAY_MS, "w": 7 * DAY_MS}


# -- arguments ------------------------------------------------------------------------------------------


def parse_time(text: str, now_ms: int | None = None) -> int:
    """Unix ms of ``text``: an ISO 8601 date or time (UTC unless it names its offset), or a duration before now
    (``30m``, ``12h``, ``7d``, ``2w``)."""
    m = _RELATIVE.match(text.strip())
    if m:
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        return now - int(float(m.group(1)) * _UNIT_MS[m.group(2)])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO 8601 time nor a duration such as 12h or 7d") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Width:
    """The target half-width of the daily cost-delta interval: a share of the live daily spend, or USD a day."""

    value: float
    relative: bool

    @classmethod
    def parse(cls, text: str) -> Width:
        t = text.strip().removeprefix("±").removeprefix("$")
        relative = t.endswith("%")
        try:
            value = float(t.removesuffix("%"))
        except ValueError:
            raise ValueError(
                f"--width {text!r}: expected a percentage of the live spend (1%) or USD a day (5)"
            ) from None
        if value <= 0 or not math.isfinite(value):
            raise ValueError(f"--width {text!r}: must be positive")
        return cls(value / 100 if relative else value, relative)

    def usd_per_day(self, live_daily_spend: float) -> float:
        return self.value * live_daily_spend if self.relative else self.value

    def describe(self) -> str:
        return f"±{self.value * 100:g}% of the live spend" if self.relative else f"±${self.value:g} a day"


# -- statistics -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CostDelta:
    """The predicted cost delta of one candidate over the requests whose delta is known."""

    n: int
    total: float
    mean: float | None
    sd: float | None  # sample standard deviation (n − 1)
    live_cost: float  # the actual spend on the same requests
    first_ms: int | None
    last_ms: int | None

    @property
    def half_width(self) -> float | None:
        """95% CI half-width of the mean per request (normal approximation)."""
        if self.sd is None or self.n < 2:
            return None
        return Z95 * self.sd / math.sqrt(self.n)

    @property
    def days(self) -> float | None:
        """The span of the traffic observed, in days (None below two distinct times)."""
        if self.first_ms is None or self.last_ms is None or self.last_ms <= self.first_ms:
            return None
        return (self.last_ms - self.first_ms) / DAY_MS

    @property
    def daily_rate(self) -> float | None:
        days = self.days
        return self.n / days if days else None

    def to_dict(self, width: Width) -> dict[str, Any]:
        hw, rate, days = self.half_width, self.daily_rate, self.days
        out: dict[str, Any] = {
            "requests": self.n,
            "sum_usd": self.total,
            "mean_usd": self.mean,
            "sd_usd": self.sd,
            "ci95_usd": None if hw is None or self.mean is None else [self.mean - hw, self.mean + hw],
            "method": "normal approximation: mean ± 1.96·s/√n over per-request deltas",
            "live_cost_usd": self.live_cost,
            "relative": self.total / self.live_cost if self.live_cost else None,
            "relative_ci95": (
                None
                if hw is None or self.mean is None or not self.live_cost
                else [(self.mean - hw) * self.n / self.live_cost, (self.mean + hw) * self.n / self.live_cost]
            ),
            "days_observed": days,
            "requests_per_day": rate,
        }
        out.update(self.narrowing(width))
        return out

    def narrowing(self, width: Width) -> dict[str, Any]:
        """The projected daily delta with its interval, and the days of traffic still needed for ``width``."""
        hw, rate, days = self.half_width, self.daily_rate, self.days
        if hw is None or rate is None or days is None or self.mean is None or self.sd is None:
            return {"daily_usd": None, "daily_ci95_usd": None, "width_usd_per_day": None, "more_days": None}
        target_day = width.usd_per_day(self.live_cost / days)
        daily = self.mean * rate
        if target_day <= 0:
            more: float | None = None
        else:
            target_mean = target_day / rate  # the same interval on the mean per request
            needed = (Z95 * self.sd / target_mean) ** 2
            more = max(0.0, needed - self.n) / rate
        return {
            "daily_usd": daily,
            "daily_ci95_usd": [daily - hw * rate, daily + hw * rate],
            "width_usd_per_day": target_day,
            "more_days": more,
        }


# -- the report -----------------------------------------------------------------------------------------

# The verdict rows: one per (decision, candidate), with what the report and the cases need of the decision. Portable
# SQL (DuckDB and ClickHouse, ``triage.store.query``): the one engine-specific spelling is the unnest, from the store's
# dialect; conditional counts are sums of CASE, the standard deviation comes from sums of squares.
_VERDICTS = """
SELECT decision_id, time_unix_ms, tier, task, task_probability, p_strong, strong_score, threshold, reason,
       input_tokens_estimate, input_tokens, output_tokens, live_route, cost_usd,
       s.name AS name, s.route AS cand_route, s.diverged AS diverged, s.cost_delta_usd AS delta
FROM (
  SELECT decision_id, time_unix_ms, coalesce(tier, '') AS tier, coalesce(task, '') AS task, task_probability,
         p_strong, strong_score, threshold, reason, input_tokens_estimate, input_tokens, output_tokens,
         route AS live_route, cost_usd, {unnest} AS s
  FROM decisions WHERE time_unix_ms >= ? AND time_unix_ms < ?
) AS x
WHERE (? IS NULL OR s.name = ?)
"""


def _count(condition: str) -> str:
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


class _Source:
    """The verdict rows of a time range (and one candidate), as the CTE ``v`` of every query over a store."""

    def __init__(self, store: Any, since_ms: int, until_ms: int, candidate: str | None) -> None:
        self.store = store
        dialect = getattr(store, "dialect", None)
        unnest = dialect.unnest("shadow") if dialect is not None else "unnest(shadow)"
        self.cte = _VERDICTS.format(unnest=unnest)
        self.params: list[Any] = [since_ms, until_ms, candidate, candidate]

    def query(self, sql: str, extra: Sequence[Any] = ()) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.store.query(f"WITH v AS ({self.cte}) {sql}", [*self.params, *extra])
        return rows


def _rungs(config: TriageConfig | None) -> dict[str, int]:
    """Each route's rung on the live ladder (cheapest first), for how far apart two routes are."""
    if config is None:
        return {}
    return {step.route: i for i, step in enumerate(config.live_policy.ladder)}


def _priority_sql(rungs: Mapping[str, int]) -> str:
    """SQL for a disagreement's priority: |delta| × rungs apart (1 when a route is off the ladder or refused)."""
    if not rungs:
        return "abs(delta)"
    cases = " ".join(f"WHEN '{r}' THEN {i}" for r, i in rungs.items())  # route names are [A-Za-z0-9_.-]
    rung = "(CASE {col} " + cases + " ELSE NULL END)"
    apart = f"greatest(1, coalesce(abs({rung.format(col='cand_route')} - {rung.format(col='live_route')}), 1))"
    return f"abs(delta) * {apart}"


def _sd(n: int, total: float, squares: float) -> float | None:
    """The sample standard deviation from a count, a sum and a sum of squares (None below two values)."""
    if n < 2:
        return None
    mean = total / n
    return math.sqrt(max(0.0, (squares - n * mean * mean) / (n - 1)))


def build_report(
    store: Any,
    config: TriageConfig | None,
    *,
    since_ms: int = 0,
    until_ms: int = 2**62,
    candidate: str | None = None,
    width: Width = Width(0.01, relative=True),
) -> dict[str, Any]:
    """The report as a dict (what ``--json`` writes); ``store``: anything with ``query(sql, params)`` over the
    ``decisions`` and ``events`` views (``triage.store.Store``, or the at-scale engine's reader)."""
    src = _Source(store, since_ms, until_ms, candidate)
    known = "delta IS NOT NULL"
    totals = {
        r["name"]: r
        for r in src.query(
            f"""SELECT name AS name, count(*) AS n_verdicts, {_count("diverged IS NOT NULL")} AS n_decided,
                 {_count("diverged")} AS n_diverged, {_count("diverged AND cand_route IS NULL")} AS n_refused,
                 {_count("diverged IS NULL")} AS n_errors, {_count(known)} AS n_delta,
                 sum(CASE WHEN {known} THEN delta ELSE 0 END) AS delta_sum,
                 sum(CASE WHEN {known} THEN delta * delta ELSE 0 END) AS delta_squares,
                 sum(CASE WHEN {known} THEN cost_usd ELSE 0 END) AS live,
                 min(CASE WHEN {known} THEN time_unix_ms ELSE NULL END) AS first_ms,
                 max(CASE WHEN {known} THEN time_unix_ms ELSE NULL END) AS last_ms
               FROM v GROUP BY name"""
        )
    }
    by: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for dim in ("tier", "task"):
        for r in src.query(
            f"""SELECT name AS name, {dim} AS key, count(*) AS n_decided, {_count("diverged")} AS n_diverged
                FROM v WHERE diverged IS NOT NULL GROUP BY name, {dim} ORDER BY name, n_decided DESC, key"""
        ):
            by.setdefault(r["name"], {}).setdefault(dim, []).append(
                {
                    dim: r["key"],
                    "decided": int(r["n_decided"]),
                    "diverged": int(r["n_diverged"]),
                    "rate": int(r["n_diverged"]) / int(r["n_decided"]),
                }
            )
    quality = _quality(src)
    configured = config.shadow.candidates if config is not None else {}
    names = [n for n in configured if candidate is None or n == candidate]
    names += sorted(n for n in totals if n not in configured)
    out: dict[str, Any] = {
        "window": {"since_ms": since_ms if since_ms > 0 else None, "until_ms": until_ms if until_ms < 2**62 else None},
        "width": width.describe(),
        "candidates": [],
    }
    for name in names:
        t = totals.get(name, {})
        cand = configured.get(name)
        decided, diverged = int(t.get("n_decided") or 0), int(t.get("n_diverged") or 0)
        n = int(t.get("n_delta") or 0)
        total = float(t.get("delta_sum") or 0.0)
        delta = CostDelta(
            n=n,
            total=total,
            mean=total / n if n else None,
            sd=_sd(n, total, float(t.get("delta_squares") or 0.0)),
            live_cost=float(t.get("live") or 0.0),
            first_ms=t.get("first_ms"),
            last_ms=t.get("last_ms"),
        )
        out["candidates"].append(
            {
                "name": name,
                "state": cand.state if cand is not None else None,
                "description": cand.description if cand is not None else None,
                "model": cand.model if cand is not None else None,
                "verdicts": int(t.get("n_verdicts") or 0),
                "decided": decided,
                "diverged": diverged,
                "refused": int(t.get("n_refused") or 0),
                "errors": int(t.get("n_errors") or 0),
                "divergence_rate": diverged / decided if decided else None,
                "by_tier": by.get(name, {}).get("tier", []),
                "by_task": by.get(name, {}).get("task", []),
                "cost_delta": delta.to_dict(width),
                "quality": quality.get(name, {}),
            }
        )
    return out


# Each evaluated verdict, and whether the candidate would have sent the request to a cheaper route (a negative
# predicted delta); the events are summed per decision first, so that a request without any counts as 0 on any engine.
_QUALITY = f"""
, q AS (SELECT DISTINCT decision_id, name, CASE WHEN diverged AND delta < 0 THEN 1 ELSE 0 END AS cheaper
        FROM v WHERE diverged IS NOT NULL)
, ev AS (SELECT decision_id, count(*) AS n, sum(value) AS total, {_count("value < 0.5")} AS neg
         FROM events GROUP BY decision_id)
"""


def _quality(src: _Source) -> dict[str, dict[str, Any]]:
    """Per candidate, the events on requests it would have sent to a cheaper route and on the rest."""
    rows = src.query(
        _QUALITY
        + f"""SELECT q.name AS name, q.cheaper AS cheaper, count(*) AS requests,
                     {_count("ev.n > 0")} AS with_events, sum(coalesce(ev.n, 0)) AS events,
                     sum(coalesce(ev.total, 0)) AS value_sum, sum(coalesce(ev.neg, 0)) AS negative_events,
                     {_count("ev.neg > 0")} AS negative_requests
              FROM q LEFT JOIN ev ON ev.decision_id = q.decision_id
              GROUP BY q.name, q.cheaper"""
    )
    signals = src.query(
        _QUALITY
        + """SELECT q.name AS name, q.cheaper AS cheaper, e.signal AS signal, count(*) AS n
             FROM q JOIN events AS e ON e.decision_id = q.decision_id GROUP BY q.name, q.cheaper, e.signal"""
    )
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        events = int(r["events"] or 0)
        out.setdefault(r["name"], {})["cheaper" if r["cheaper"] else "rest"] = {
            "requests": int(r["requests"]),
            "with_events": int(r["with_events"] or 0),
            "events": events,
            "mean_value": float(r["value_sum"]) / events if events else None,
            "negative_events": int(r["negative_events"] or 0),
            "negative_requests": int(r["negative_requests"] or 0),
            "signals": {},
        }
    for r in signals:
        out[r["name"]]["cheaper" if r["cheaper"] else "rest"]["signals"][r["signal"]] = int(r["n"])
    return out


def disagreement_cases(
    store: Any,
    config: TriageConfig | None,
    *,
    since_ms: int = 0,
    until_ms: int = 2**62,
    candidate: str | None = None,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """The divergent verdicts, most important first (see the module docstring), each with its feedback events."""
    src = _Source(store, since_ms, until_ms, candidate)
    rows = src.query(
        f"""SELECT decision_id AS decision_id, time_unix_ms AS time_unix_ms, name AS candidate, tier AS tier,
                   task AS task, task_probability AS task_probability, p_strong AS p_strong,
                   strong_score AS strong_score, threshold AS threshold, reason AS reason, live_route AS live_route,
                   cand_route AS candidate_route, input_tokens_estimate AS input_tokens_estimate,
                   input_tokens AS input_tokens, output_tokens AS output_tokens, cost_usd AS cost_usd,
                   delta AS cost_delta_usd, {_priority_sql(_rungs(config))} AS priority
            FROM v WHERE diverged
            ORDER BY priority DESC NULLS LAST, time_unix_ms DESC, decision_id, candidate
            LIMIT ?""",
        [limit],
    )
    feedback: dict[str, list[dict[str, Any]]] = {}
    if rows:
        for e in src.query(
            """SELECT e.decision_id AS decision_id, e.kind AS kind, e.signal AS signal, e.value AS value,
                      e.time_unix_ms AS time_unix_ms
               FROM events AS e WHERE e.decision_id IN (SELECT decision_id FROM v WHERE diverged)
               ORDER BY e.time_unix_ms, e.event_id"""
        ):
            feedback.setdefault(e.pop("decision_id"), []).append(e)
    cases = []
    for r in rows:
        delta, cost = r["cost_delta_usd"], r["cost_usd"]
        r["time"] = datetime.fromtimestamp(r["time_unix_ms"] / 1000, UTC).isoformat(timespec="seconds")
        r["candidate_cost_usd"] = None if delta is None or cost is None else round(cost + delta, 10)
        r["refused"] = r["candidate_route"] is None
        r["feedback"] = feedback.get(r["decision_id"], [])
        cases.append(r)
    return cases


# -- printing -------------------------------------------------------------------------------------------


def _usd(x: float | None, digits: int = 6) -> str:
    return "-" if x is None else f"{'-' if x < 0 else ''}${abs(x):.{digits}f}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def format_report(report: Mapping[str, Any]) -> str:
    lines: list[str] = []
    if not report["candidates"]:
        return "no shadow candidates: none in the configuration and no verdicts in the store\n"
    for c in report["candidates"]:
        state = c["state"] or "not in the configuration (pass --config)"
        lines.append(f"candidate {c['name']}  [{state}]" + (f"  {c['description']}" if c["description"] else ""))
        if c["model"]:
            lines.append(f"  model: {c['model']}")
        if not c["verdicts"]:
            why = {"candidate": "declared, not evaluated yet", "retired": "retired"}.get(c["state"] or "", "")
            lines.append("  no verdicts in this window" + (f" ({why})" if why else ""))
            lines.append("")
            continue
        lines.append(
            f"  decisions {c['decided']}  diverged {c['diverged']} ({_pct(c['divergence_rate'])})  "
            f"of which refused {c['refused']}  errors {c['errors']}"
        )
        for dim in ("tier", "task"):
            parts = [f"{g[dim] or '-'} {g['diverged']}/{g['decided']} ({_pct(g['rate'])})" for g in c[f"by_{dim}"]]
            lines.append(f"  divergence by {dim}: " + ("  ".join(parts) or "-"))
        lines += _format_delta(c["cost_delta"], report["width"])
        lines += _format_quality(c["quality"])
        lines.append("")
    return "\n".join(lines)


def _format_delta(d: Mapping[str, Any], width: str) -> list[str]:
    if not d["requests"]:
        return ["  predicted cost delta: no request with known tokens"]
    ci = d["ci95_usd"]
    out = [
        f"  predicted cost delta over {_n(d['requests'], 'request')} with known tokens: sum {_usd(d['sum_usd'])} "
        f"({_pct(d['relative'])} of the live spend {_usd(d['live_cost_usd'])})",
        f"    mean per request {_usd(d['mean_usd'], 8)}"
        + (f", 95% CI [{_usd(ci[0], 8)}, {_usd(ci[1], 8)}] (normal approximation)" if ci else " (one request: no CI)"),
    ]
    if d["daily_usd"] is not None:
        lo, hi = d["daily_ci95_usd"]
        out.append(
            f"    per day at {d['requests_per_day']:.1f} requests/day ({d['days_observed']:.2f} days observed): "
            f"{_usd(d['daily_usd'], 4)}, 95% CI [{_usd(lo, 4)}, {_usd(hi, 4)}]"
        )
        more = d["more_days"]
        target = f"{width} (±{_usd(d['width_usd_per_day'], 4)}/day)"
        if more is None:
            out.append(f"    narrowing to {target}: undefined (no live spend)")
        elif more == 0:
            out.append(f"    already within {target}")
        else:
            out.append(f"    to narrow to {target}: {more:.1f} more days of traffic at this rate")
    return out


def _format_quality(q: Mapping[str, Any]) -> list[str]:
    if not q:
        return []
    head = f"  {'quality signals':<22}{'requests':>9}{'w/ events':>10}{'events':>7}{'mean':>7}{'neg. req':>9}  signals"
    out = [head]
    for group, label in (("cheaper", "on a cheaper route"), ("rest", "the rest")):
        g = q.get(group)
        if g is None:
            continue
        order = [s for s in SIGNALS if s in g["signals"]] + sorted(set(g["signals"]) - set(SIGNALS))
        sig = " ".join(f"{s}={g['signals'][s]}" for s in order)
        mean = "-" if g["mean_value"] is None else f"{g['mean_value']:.2f}"
        out.append(
            f"  {label:<22}{g['requests']:>9}{g['with_events']:>10}{g['events']:>7}{mean:>7}"
            f"{g['negative_requests']:>9}  {sig or '-'}"
        )
    return out


# -- replay ---------------------------------------------------------------------------------------------


def _peaked(task: str, probability: float) -> dict[str, float]:
    labels = TASK_LABELS if task in TASK_LABELS else (*TASK_LABELS, task)
    rest = (1.0 - probability) / (len(labels) - 1)
    return {label: probability if label == task else rest for label in labels}


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def case_scores(case: Mapping[str, Any], live_bias: Mapping[str, float]) -> Scores | None:
    """The scores a case was decided with, as far as the record keeps them: the top task and its probability
    (the rest spread evenly), and a ``p_strong`` chosen so that the live policy's strong score is the recorded one
    (exact replays of the live decision; a candidate with another ``task_bias`` is approximated by the top task)."""
    p, task = case.get("p_strong"), case.get("task")
    if p is None or not task:
        return None
    probs = _peaked(task, float(case.get("task_probability") or 1.0))
    recorded = case.get("strong_score")
    if recorded is not None:
        shift = sum(q * live_bias.get(label, 0.0) for label, q in probs.items())
        p = 1.0 / (1.0 + math.exp(-(_logit(float(recorded)) - shift)))
    return Scores(probs, float(p))


def case_input(case: Mapping[str, Any]) -> RoutingInput:
    """A routing input with the case's size and nothing else (no text is stored)."""
    tokens = int(case.get("input_tokens_estimate") or 1)
    return RoutingInput(api="openai.chat", prompt="", input_chars=tokens * CHARS_PER_TOKEN)


def _route(outcome: policy.Decision | policy.Rejection) -> str | None:
    return outcome.route if isinstance(outcome, policy.Decision) else None


def replay(cases: Iterable[Mapping[str, Any]], config: TriageConfig, candidate: str | None = None) -> dict[str, Any]:
    """Re-decide ``cases`` under ``config``'s live policy and each case's candidate (or ``candidate``)."""
    live = policy.compile_policy(config)
    compiled: dict[str, policy.Compiled] = {}
    rows: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for case in cases:
        name = candidate or case.get("candidate")
        cand = config.shadow.candidates.get(name) if isinstance(name, str) else None
        if cand is None or not isinstance(name, str):
            skipped[str(name)] = skipped.get(str(name), 0) + 1
            continue
        if name not in compiled:
            compiled[name] = policy.compile_policy(config, config.policy_with(cand.policy))
        inp, tier = case_input(case), case.get("tier") or None
        scores = case_scores(case, live.policy.task_bias)
        fault: policy.Fault | None = None if scores is not None else "error"
        live_route = _route(policy.decide(inp, scores, tier, live, fault=fault))
        cand_route = _route(policy.decide(inp, scores, tier, compiled[name], fault=fault))
        rows.append(
            {
                "decision_id": case.get("decision_id"),
                "candidate": name,
                "model_candidate": cand.model is not None,
                "recorded_live": case.get("live_route"),
                "recorded_candidate": case.get("candidate_route"),
                "replayed_live": live_route,
                "replayed_candidate": cand_route,
            }
        )
    by: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = by.setdefault(
            r["candidate"],
            {"cases": 0, "live_as_recorded": 0, "candidate_as_recorded": 0, "agree": 0, "model_candidate": False},
        )
        s["cases"] += 1
        s["live_as_recorded"] += r["replayed_live"] == r["recorded_live"]
        s["candidate_as_recorded"] += r["replayed_candidate"] == r["recorded_candidate"]
        s["agree"] += r["replayed_live"] == r["replayed_candidate"]
        s["model_candidate"] |= r["model_candidate"]
        moves = s.setdefault("moves", {})
        key = f"{r['replayed_live']} -> {r['replayed_candidate'] or 'refused'}"
        moves[key] = moves.get(key, 0) + 1
    return {"candidates": by, "skipped": skipped, "cases": rows}


def format_replay(result: Mapping[str, Any]) -> str:
    lines = []
    for name, s in result["candidates"].items():
        n = s["cases"]
        lines.append(f"candidate {name}: {_n(n, 'case')} replayed from their stored scores")
        lines.append(f"  live policy as recorded:      {s['live_as_recorded']}/{n} ({_pct(s['live_as_recorded'] / n)})")
        lines.append(
            f"  candidate as recorded:        {s['candidate_as_recorded']}/{n} ({_pct(s['candidate_as_recorded'] / n)})"
            + ("  (a model candidate: replayed on the live model's scores)" if s["model_candidate"] else "")
        )
        lines.append(f"  live and candidate agree:     {s['agree']}/{n} ({_pct(s['agree'] / n)})")
        for move, count in sorted(s["moves"].items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {move}: {count}")
    for name, count in result["skipped"].items():
        lines.append(f"skipped {count} cases of {name!r}: not a candidate of this configuration")
    return "\n".join(lines) + "\n" if lines else "no cases\n"


# -- command line ---------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage shadow", description="What the shadow candidates would have done, from a decision store."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("report", help="divergence, predicted cost delta and quality signals per candidate")
    p.add_argument(
        "--store",
        required=True,
        help="the decision store: its directory (store.path), chdb:DIR or clickhouse://HOST/DB",
    )
    p.add_argument("--config", type=Path, help="triage.yaml: candidates' states and descriptions, the live ladder")
    p.add_argument("--since", help="ISO 8601 time (UTC unless it says) or a duration before now: 12h, 7d")
    p.add_argument("--until", help="the same, exclusive")
    p.add_argument("--candidate", help="only this candidate")
    p.add_argument("--json", type=Path, help="also write the report as JSON to this file ('-': stdout only)")
    p.add_argument("--cases", type=Path, help="write the disagreement cases, most important first, as JSONL")
    p.add_argument("--max-cases", type=int, default=10_000, help="at most this many cases (default 10000)")
    p.add_argument(
        "--width",
        default="1%",
        help="target half-width of the daily cost-delta interval: a share of the live spend (1%%, the default) "
        "or USD a day (5)",
    )
    p = sub.add_parser("replay", help="re-decide disagreement cases under the live and the candidate policy")
    p.add_argument("cases", type=Path, help="a JSONL written by `triage shadow report --cases`")
    p.add_argument("--config", type=Path, required=True, help="triage.yaml with the live policy and the candidates")
    p.add_argument("--candidate", help="replay every case under this candidate (default: each case's own)")
    p.add_argument("--json", type=Path, help="also write the result (with every case) as JSON")
    return parser


def _write_json(path: Path, data: Any, out: TextIO) -> None:
    text = json.dumps(data, indent=2, default=str)
    if str(path) == "-":
        out.write(text + "\n")
    else:
        path.write_text(text + "\n", encoding="utf-8")


def _open_store(target: str) -> Any:
    """A directory of segments (DuckDB), ``chdb:DIR`` (in-process ClickHouse) or ``clickhouse://HOST/DB`` (a server)."""
    from triage.store.query import REMOTE_PREFIXES, open_store  # noqa: PLC0415  (DuckDB: only when a store is read)

    if not target.startswith(REMOTE_PREFIXES) and not Path(target).is_dir():
        raise ValueError(f"--store {target}: not a directory")
    return open_store(target)


def _cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    width = Width.parse(args.width)
    since = parse_time(args.since) if args.since else 0
    until = parse_time(args.until) if args.until else 2**62
    config = load_config(args.config) if args.config is not None else None
    store = _open_store(args.store)
    try:
        report = build_report(store, config, since_ms=since, until_ms=until, candidate=args.candidate, width=width)
        if args.cases is not None:
            cases = disagreement_cases(
                store, config, since_ms=since, until_ms=until, candidate=args.candidate, limit=args.max_cases
            )
            with args.cases.open("w", encoding="utf-8") as f:
                for case in cases:
                    f.write(json.dumps(case, default=str) + "\n")
            report["cases_file"] = {"path": str(args.cases), "cases": len(cases)}
    finally:
        store.close()
    if args.json is not None and str(args.json) == "-":
        _write_json(args.json, report, out)
        return EXIT_OK
    out.write(format_report(report))
    if args.cases is not None:
        out.write(f"wrote {report['cases_file']['cases']} disagreement cases to {args.cases}\n")
    if args.json is not None:
        _write_json(args.json, report, out)
    return EXIT_OK


def _cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    if args.candidate is not None and args.candidate not in config.shadow.candidates:
        raise ValueError(f"--candidate {args.candidate!r} is not a candidate of {args.config}")
    with args.cases.open(encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    result = replay(cases, config, args.candidate)
    out.write(format_replay(result))
    if args.json is not None:
        _write_json(args.json, result, out)
    return EXIT_OK


def main(argv: Sequence[str], out: TextIO | None = None) -> int:
    """Run ``triage shadow`` with ``argv``; return the exit code."""
    stream = out if out is not None else sys.stdout
    args = _parser().parse_args(list(argv))
    try:
        return _cmd_report(args, stream) if args.command == "report" else _cmd_replay(args, stream)
    except ConfigError as err:
        print(f"triage shadow: invalid configuration — {err}", file=sys.stderr)
    except (OSError, ValueError) as err:
        print(f"triage shadow: {err}", file=sys.stderr)
    return EXIT_USAGE
