"""Synthetic decision stores for tests, demos and benchmarks of ``triage report``.

``write_week(dir, seed)`` writes a week of traffic (Monday 2025-03-03 00:00 UTC to the next Monday) in the store's
layout (``triage.store.schema``: hourly segments under ``decisions/`` and ``events/``), priced and routed with a
configuration (default: the embedded one):

- a daily cycle (quiet at night UTC, a peak mid-afternoon) and quieter weekends;
- tiers free / pro / batch (55 / 35 / 10%); a task mix that drifts towards ``code`` over the last two days (a new
  integration), ``p_strong`` per task around the shipped classifier's range; routes from the configuration's ladder
  and task bias within what each tier allows (``uncertain`` when escalated by the margin);
- log-normal input and output tokens, and a heavy tail of long-context requests (0.5%) on the dearest routes;
- fallbacks (3%: ``attempts`` 2, billed at the second step's price), provider failures (0.5%), aborted streams,
  fail-opens (0.3%, classifier deadline → the default route), rejections (free-tier inputs over
  ``max_input_tokens`` → 413, batch requests over ``max_cost_usd`` → 429);
- feedback on ~2% of the answered requests (thumbs, scores; better on dearer routes and easier requests), implicit
  ``retried`` signals on a few more, and, from Thursday on, a shadow candidate's verdicts in the records' ``shadow``;
- confidence escalation on the pro tier's non-streaming economy and standard answers: each checked (``escalated``
  false), ~8% of them sent again to premium and billed on both (``escalated`` true), a few kept by the budget.

``python -m triage.report.fixtures DIR [--seed 1] [--records N]`` writes one (``--records``: about N decisions
over the same week, for run-time measurements).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from triage import policy
from triage.classifier.base import TASK_LABELS, Scores
from triage.config import TriageConfig, load_config
from triage.store.schema import DECISIONS_DIR, EVENTS_DIR, SIGNAL_VALUE

WEEK_START_MS = 1_740_960_000_000  # Monday 2025-03-03 00:00:00 UTC
HOUR_MS = 3_600_000
HOURS = 7 * 24
PER_HOUR = 50  # the mean rate at the daily peak's level 1.0 (the week then holds about 5,300 decisions)
SHADOW_FROM_MS = WEEK_START_MS + 3 * 24 * HOUR_MS
DRIFT_FROM_MS = WEEK_START_MS + 5 * 24 * HOUR_MS

# Close to the shipped bundle's drift reference (its real-users sample), so the drift shows the last two days' shift.
TASK_MIX: dict[str, float] = {
    "open_qa": 0.39,
    "code": 0.21,
    "creative_writing": 0.12,
    "brainstorming": 0.11,
    "math": 0.058,
    "rewrite": 0.033,
    "extraction": 0.018,
    "summarization": 0.018,
    "classification": 0.018,
    "reasoning": 0.016,
    "translation": 0.012,
}
# p_strong: drawn uniformly within deciles like the shipped classifier's on real users' requests (its drift
# reference), moved a little per task; the code of the last two days scores higher (harder requests).
P_STRONG_DECILES: tuple[float, ...] = (0.39, 0.44, 0.452, 0.4627, 0.4779, 0.497, 0.5242, 0.5476, 0.5664, 0.5779, 0.63)
P_STRONG_SHIFT: dict[str, float] = {"code": 0.01, "math": 0.02, "reasoning": 0.02, "classification": -0.01}
TIERS: dict[str, float] = {"free": 0.55, "pro": 0.35, "batch": 0.10}
ESCALATING_TIER = "pro"  # its non-streaming answers on these routes are checked (confidence escalation)
ESCALATES = {"economy": "premium", "standard": "premium"}
SHADOW_NAME = "cheaper-ladder"


@dataclass(frozen=True)
class Written:
    """What a fixture wrote: counts and the span of its decisions' times."""

    decisions: int
    events: int
    first_ms: int
    last_ms: int


def _segment(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y%m%dT%H")


def write_store(
    directory: Path, decisions: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]] = ()
) -> None:
    """Append records and events to a store's layout: one segment per UTC hour of their ``time_unix_ms``, lines in
    the order given (a record's empty fields are left out, as ``DecisionRecord.to_dict`` does)."""
    for sub, items in ((DECISIONS_DIR, decisions), (EVENTS_DIR, events)):
        by_hour: dict[str, list[bytes]] = defaultdict(list)
        for item in items:
            clean = {k: v for k, v in item.items() if v is not None and v != []}
            by_hour[_segment(int(clean["time_unix_ms"]))].append(orjson.dumps(clean))
        folder = directory / sub
        folder.mkdir(parents=True, exist_ok=True)
        for hour, lines in by_hour.items():
            with (folder / f"{hour}-fixture-1.jsonl").open("ab") as fh:
                fh.write(b"\n".join(lines) + b"\n")


def _classifier_version() -> str:
    from triage.classifier.onnx_model import default_bundle_dir  # noqa: PLC0415

    try:
        manifest = json.loads((default_bundle_dir() / "manifest.json").read_text(encoding="utf-8"))
        return str(manifest["version"])
    except (OSError, ValueError, KeyError):
        return "triage-clf-fixture"


def _rate(hour: int) -> float:
    """The traffic level of hour ``hour`` of the week (0 = Monday 00:00 UTC), 1.0 at a weekday's peak."""
    h = hour % 24
    daily = 0.3 + 0.7 * (0.5 - 0.5 * math.cos(2 * math.pi * (h - 3) / 24))
    return daily * (0.6 if hour >= 5 * 24 else 1.0)


class _Week:
    """One fixture's generator: the configuration compiled into what each request needs."""

    def __init__(self, config: TriageConfig, seed: int) -> None:
        self.config = config
        self.r = random.Random(f"report-week:{seed}")
        self.esc = random.Random(f"report-week-escalation:{seed}")  # its own draws: the rest of the week unchanged
        self.version = _classifier_version()
        self.ladder = [(s.route, s.min_score) for s in config.policy.ladder]
        self.margin = config.policy.uncertainty.margin if config.policy.uncertainty.escalate else 0.0
        self.n = 0

    def _id(self) -> str:
        return f"{self.r.getrandbits(128):032x}"

    def _tasks(self, ms: int) -> tuple[list[str], list[float]]:
        mix = dict(TASK_MIX)
        if ms >= DRIFT_FROM_MS:  # a new integration sends code
            mix["code"] += 0.25
        return list(mix), list(mix.values())

    def _route(self, tier: str, score: float) -> tuple[str, str, float]:
        allowed = set(self.config.tier(tier)[1].routes)
        ladder = [(r, t) for r, t in self.ladder if r in allowed] or [
            (r, 0.0) for r in self.config.tier(tier)[1].routes
        ]
        index = max((i for i, (_, t) in enumerate(ladder) if t <= score), default=0)
        reason = "classified"
        if index + 1 < len(ladder) and 0 < ladder[index + 1][1] - score <= self.margin:
            index, reason = index + 1, "uncertain"
        return ladder[index][0], reason, ladder[index][1]

    def decision(self, ms: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One record and its events."""
        r, cfg = self.r, self.config
        tier = r.choices(list(TIERS), list(TIERS.values()))[0]
        tier_cfg = cfg.tier(tier)[1]
        labels, weights = self._tasks(ms)
        task = r.choices(labels, weights)[0]
        tp = round(r.uniform(0.45, 0.99), 4)
        k = r.randrange(len(P_STRONG_DECILES) - 1)
        p = r.uniform(P_STRONG_DECILES[k], P_STRONG_DECILES[k + 1]) + P_STRONG_SHIFT.get(task, 0.0)
        if task == "code" and ms >= DRIFT_FROM_MS:
            p += 0.04
        p_strong = round(min(max(p, 0.01), 0.99), 4)
        rest = (1.0 - tp) / (len(TASK_LABELS) - 1)
        scores = Scores({t: (tp if t == task else rest) for t in TASK_LABELS}, p_strong)
        score = round(policy.strong_score(scores, cfg.policy.task_bias), 4)
        long_context = r.random() < 0.005
        in_tokens = int(min(max(r.lognormvariate(math.log(450), 1.1), 5), 20000))
        if task == "summarization":
            in_tokens *= 3
        if long_context:
            in_tokens = r.randint(35_000, 110_000)
        out_cap = tier_cfg.max_output_tokens or 4096
        out_tokens = int(min(max(r.lognormvariate(math.log(220 if task != "code" else 420), 0.9), 1), out_cap))
        rec: dict[str, Any] = {
            "decision_id": self._id(),
            "time_unix_ms": ms,
            "endpoint": r.choices(["openai.chat", "anthropic.messages", "openai.completions"], [0.8, 0.15, 0.05])[0],
            "request_id": self._id(),
            "tier": tier,
            "model_requested": "auto",
            "input_tokens_estimate": int(in_tokens * r.uniform(0.9, 1.1)),
            "stream": r.random() < 0.4,
            "router_latency_us": int(min(r.lognormvariate(math.log(140), 0.5), 25_000)),
        }
        self.n += 1
        if tier_cfg.max_input_tokens is not None and rec["input_tokens_estimate"] > tier_cfg.max_input_tokens:
            rec.update(status=413, reason="budget", error_code="input_too_large", duration_ms=0.3)
            return rec, []
        if r.random() < 0.003:  # the classifier missed its deadline: fail open to the default route
            route, reason, threshold = cfg.default_route, "deadline", None
            rec["error_code"] = "deadline"
        else:
            route, reason, threshold = self._route(tier, score)
            if long_context and tier != "free":
                route = tier_cfg.routes[-1]
            rec.update(
                task=task,
                task_probability=tp,
                p_strong=p_strong,
                strong_score=score,
                threshold=threshold,
                classifier_version=self.version,
            )
        chain = cfg.routes[route].chain
        first_price = chain[0].price or cfg.routes[route].price
        estimate = round(first_price.cost(rec["input_tokens_estimate"], out_cap if tier == "free" else 512), 8)
        if tier_cfg.max_cost_usd is not None and estimate > tier_cfg.max_cost_usd:
            cheaper = [x for x in tier_cfg.routes if x != route]
            fits = [
                x
                for x in cheaper
                if (cfg.routes[x].chain[0].price or cfg.routes[x].price).cost(rec["input_tokens_estimate"], 512)
                <= tier_cfg.max_cost_usd
            ]
            if not fits:
                rec.update(status=429, reason="budget", error_code="cost_budget_exceeded", duration_ms=0.4)
                return rec, []
            route, reason = fits[-1], "budget"
            chain = cfg.routes[route].chain
        rec.update(
            route=route,
            reason=reason,
            chain=[f"{e.cluster}/{e.model}" for e in chain],
            model_sent=chain[0].model,
            estimated_cost_usd=estimate,
        )
        if ms >= SHADOW_FROM_MS and rec.get("task"):
            rec["shadow"] = [self._shadow(rec, route, score, in_tokens, out_tokens)]
        roll = r.random()
        if roll < 0.005:  # every step failed
            step = chain[-1]
            rec.update(status=r.choice([502, 503]), cluster=step.cluster, attempts=len(chain), duration_ms=30_000.0)
            rec["provider"] = cfg.clusters[step.cluster].provider
            rec["model_answered"] = step.model
            return rec, []
        attempts = 2 if roll < 0.035 and len(chain) > 1 else 1
        step = chain[attempts - 1]
        price = step.price or cfg.routes[route].price
        aborted = bool(rec["stream"] and r.random() < 0.02)
        if aborted:
            out_tokens = max(1, out_tokens // 3)
        rec.update(
            status=200,
            cluster=step.cluster,
            provider=cfg.clusters[step.cluster].provider,
            model_answered=step.model,
            attempts=attempts,
            input_tokens=in_tokens,
            output_tokens=out_tokens,
            cost_usd=round(price.cost(in_tokens, out_tokens), 8),
            response_model=step.model,
            streamed=rec["stream"],
            completed=not aborted,
            aborted=aborted,
            duration_ms=round(200 + out_tokens * r.uniform(8, 25), 1),
        )
        if tier == ESCALATING_TIER and not rec["stream"] and route in ESCALATES:
            self._escalation(rec, ESCALATES[route], in_tokens, out_tokens)
        return rec, self._events(rec, route, p_strong)

    def _escalation(self, rec: dict[str, Any], target: str, in_tokens: int, out_tokens: int) -> None:
        """Confidence escalation on the pro tier's cheap routes: every answer checked, ~8% sent again to ``target``
        and billed on both (``escalated``, ``escalation``, the totals the sums), a few kept by the budget."""
        e, cfg = self.esc, self.config
        acceptable = round(e.betavariate(2.2, 1.0), 4)
        info: dict[str, Any] = {"to": target, "acceptable": acceptable, "answer": "cheap", "signals": []}
        if acceptable >= 0.35 or e.random() < 0.15:
            rec["escalated"] = False
            rec["escalation"] = {**info, "outcome": "confident" if acceptable >= 0.35 else "budget_share"}
            return
        step = cfg.routes[target].chain[0]
        strong_out = max(1, int(out_tokens * e.uniform(0.8, 1.6)))
        cost = round((step.price or cfg.routes[target].price).cost(in_tokens, strong_out), 8)
        failed = e.random() < 0.05
        rec["escalated"] = True
        rec["escalation"] = {
            **info,
            "outcome": "strong_failed" if failed else "escalate",
            "answer": "cheap" if failed else "strong",
            "signals": [e.choice(["refusal", "short", "logprobs", "truncated"])],
            "strong": {"status": 503 if failed else 200, "cluster": step.cluster, "cost_usd": 0.0 if failed else cost},
        }
        if not failed:
            rec["cost_usd"] = round(rec["cost_usd"] + cost, 8)
            rec["input_tokens"] += in_tokens
            rec["output_tokens"] += strong_out

    def _shadow(self, rec: Mapping[str, Any], route: str, score: float, tin: int, tout: int) -> dict[str, Any]:
        """A candidate whose ladder sits 0.02 higher: it sends the borderline requests one step down."""
        routes = [x for x, _ in self.ladder]
        cand, _, _ = self._route(str(rec["tier"]), score - 0.02)
        cfg = self.config
        if route not in routes or cand == route:
            return {"name": SHADOW_NAME, "route": route, "diverged": False, "cost_delta_usd": 0.0}
        now = cfg.routes[route].chain[0].price or cfg.routes[route].price
        then = cfg.routes[cand].chain[0].price or cfg.routes[cand].price
        delta = round(then.cost(tin, tout) - now.cost(tin, tout), 8)
        return {"name": SHADOW_NAME, "route": cand, "diverged": True, "cost_delta_usd": delta}

    def _events(self, rec: Mapping[str, Any], route: str, p_strong: float) -> list[dict[str, Any]]:
        r = self.r
        ms = int(rec["time_unix_ms"])
        rank = [s for s, _ in self.ladder].index(route) if route in [s for s, _ in self.ladder] else 0
        p_good = min(max(0.62 + 0.12 * rank - 1.5 * (p_strong - 0.5), 0.05), 0.97)
        out: list[dict[str, Any]] = []
        roll = r.random()
        if roll < 0.02:
            signal = r.choices(["thumbs_up", "score", "accepted"], [0.5, 0.3, 0.2])[0]
            good = r.random() < p_good
            if signal == "score":
                value = round(min(max(r.gauss(0.8 if good else 0.35, 0.12), 0.0), 1.0), 2)
            elif signal == "thumbs_up":
                signal = "thumbs_up" if good else "thumbs_down"
                value = SIGNAL_VALUE[signal]
            else:
                signal = "accepted" if good else "regenerated"
                value = SIGNAL_VALUE[signal]
            out.append(self._event(rec, ms, "feedback", signal, value, f"user-{r.randint(1, 400)}"))
        elif roll < 0.025 and r.random() > p_good:
            out.append(self._event(rec, ms, "implicit", "retried", SIGNAL_VALUE["retried"], None))
        return out

    def _event(
        self, rec: Mapping[str, Any], ms: int, kind: str, signal: str, value: float, principal: str | None
    ) -> dict[str, Any]:
        return {
            "event_id": self._id(),
            "decision_id": rec["decision_id"],
            "time_unix_ms": ms + self.r.randint(5_000, 1_800_000),
            "kind": kind,
            "signal": signal,
            "value": value,
            "principal": principal,
            "idempotency_key": self._id() if principal else None,
        }


def week_traffic(
    seed: int = 1, *, per_hour: float = PER_HOUR, config: TriageConfig | None = None
) -> Iterable[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """The week hour by hour: each hour's records (in time order) and their events."""
    week = _Week(config or load_config(), seed)
    r = week.r
    for hour in range(HOURS):
        level = per_hour * _rate(hour)
        n = max(0, round(r.gauss(level, math.sqrt(level))))
        start = WEEK_START_MS + hour * HOUR_MS
        times = sorted(start + r.randrange(HOUR_MS) for _ in range(n))
        records: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for ms in times:
            rec, evs = week.decision(ms)
            records.append(rec)
            events.extend(evs)
        yield records, events


def write_week(
    directory: Path, seed: int = 1, *, per_hour: float = PER_HOUR, config: TriageConfig | None = None
) -> Written:
    """Write a week of synthetic traffic into ``directory`` (a new store; see the module docstring). Deterministic
    in ``seed`` and ``per_hour`` (the mean rate at the daily peak)."""
    n_dec = n_ev = 0
    first = last = None
    for records, events in week_traffic(seed, per_hour=per_hour, config=config):
        write_store(directory, records, events)
        n_dec += len(records)
        n_ev += len(events)
        if records:
            first = records[0]["time_unix_ms"] if first is None else first
            last = records[-1]["time_unix_ms"]
    return Written(n_dec, n_ev, int(first or WEEK_START_MS), int(last or WEEK_START_MS))


MEAN_LEVEL = sum(_rate(h) for h in range(HOURS)) / HOURS


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m triage.report.fixtures", description="Write a synthetic week store.")
    p.add_argument("dir", type=Path)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--records", type=int, help=f"about this many decisions (default: ~{PER_HOUR * MEAN_LEVEL * HOURS:,.0f})"
    )
    args = p.parse_args(list(argv) if argv is not None else None)
    per_hour = args.records / (HOURS * MEAN_LEVEL) if args.records else PER_HOUR
    written = write_week(args.dir, args.seed, per_hour=per_hour)
    print(f"wrote {written.decisions:,} decisions and {written.events:,} events to {args.dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
