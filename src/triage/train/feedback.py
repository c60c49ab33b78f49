"""Feedback on routed requests → difficulty targets → a candidate bundle (``triage train --feedback STORE``).

The decision store (``triage.store``) says, per decision, which route served it and what was learnt about the
answer afterwards (feedback and implicit signals). That gives a *target* for the difficulty head — did this
request need the strong model? — but no *input*: the store holds no prompt text (DESIGN §2). Inputs come from a
**content capture** file that an operator turns on on purpose (``store.capture``, ``docs/retraining.md``), joined by
decision id; a target whose decision was not captured is counted and dropped. Tests and demos use a synthetic
store written with a capture file (``simulate``: prompts of the commercial-use outcome sources, one decision id
per prompt), so both paths are the same code.

**Which side of the ladder.** The ladder (``policy.ladder`` of ``--triage-config``, else inferred from the
records: the routes' recorded thresholds, then their prices) orders the routes from the cheapest step (the
*floor*) to the most expensive. A route below the top had a stronger model above it; a route above the floor
had a cheaper one below it. On a two-step ladder these are simply the weak and the strong route.

**One verdict per decision** (``judge``), the conflict rule: judgements (thumbs up/down, a score, accepted)
supersede behaviours (regenerated, retried, abandoned) on the same decision; per principal the latest judgement
wins (people change their mind); across principals their values are averaged. A value at or above
``Rules.positive_at`` is positive, at or below ``Rules.negative_at`` negative, anything between (a 0.5 score, or
principals who disagree) gives no target. A decision whose request failed or was aborted gives no target:
feedback on an error is about availability, not about the model.

**Targets** (``derive_targets``), with the weight each carries and why:

=================  ====================================================  ======  =====================================
rule               when                                                  target  weight
=================  ====================================================  ======  =====================================
``needed_strong``  negative on a route below the top                     1       evidence × the stronger routes'
                                                                                 positive rate in the bucket (only
                                                                                 when at least ``min_bucket`` of them
                                                                                 were rated, else 1)
``weak_sufficed``  positive on the floor                                 0       evidence
``over_served``    positive on a route above the floor, in a bucket      0       ``over_served_weight`` × evidence ×
                   whose floor-route decisions (at least ``min_bucket``          the floor's positive rate
                   rated) are positive at a rate ≥ ``agreement``
=================  ====================================================  ======  =====================================

*evidence* is the deciding signal's strength: 1 for a judgement, 0.5 for a regeneration or a retry (a user
asking again says less than a thumbs-down: they may want a variant), 0.25 for an abandonment (people leave for
many reasons). A negative on the top route and a positive above the floor without that agreement give no target:
neither says anything about the cheaper answer. ``needed_strong`` is discounted by how often the stronger routes
satisfy similar requests because RouteLLM's target is "the cheap answer is *worse than the strong one's*", not
"the cheap answer was bad": where the strong routes fail too, a thumbs-down on the cheap one proves less.
``over_served`` is a counterfactual (the floor never answered this request), so it weighs half a direct
observation, scaled by how surely the floor wins on similar requests. A *bucket* is the record's task label and
its input size (``Rules.size_edges`` in tokens); rates are Laplace-smoothed, ``(positives + 1) / (rated + 2)``.

**Training** (``fit_residual``): the candidate's difficulty logit is the base model's (retrained on the same
commercial-use data with the same seed, so it is the current model when the data and configuration are the same)
plus a residual head fitted on the feedback targets with the base logit as a fixed offset: L2 pulls every
residual weight towards zero (towards the base model) and *anchor* rows — base training prompts, never a prompt of
an outcome source, each with the base model's own ``p_strong`` as its target — hold the base model's scores where
no feedback speaks, so the candidate does not forget. The task head is untouched: feedback carries no task label.

**Content capture** (``triage.store.capture``: ``CAPTURE_FORMAT``, ``<store>/captured/*.jsonl``, written by the
server when ``store.capture`` is on and by ``simulate``): one line per decision with the ``RoutingInput`` the
classifier scored — the bounded windows, never the whole body or any completion — so a retrain sees exactly what
the router saw. ``origin`` is ``capture`` for real traffic and ``synthetic:<source>`` for a simulated store.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from triage.config import DEFAULT_TASK_BIAS, TriageConfig
from triage.requests.input import RoutingInput
from triage.store import capture as _capture
from triage.store.capture import (
    CAPTURE_FORMAT,  # noqa: F401  (this module's name for it before the move)
    CAPTURED_DIR,
    Captured,
    capture_line,
)
from triage.store.schema import DECISIONS_DIR, EVENTS_DIR, Event

if TYPE_CHECKING:
    from triage.classifier.base import Classifier, Scores
    from triage.policy import Compiled

log = logging.getLogger("triage.train.feedback")

# How much one signal says about the answer: judgements fully, a second try half, leaving a quarter.
SIGNAL_EVIDENCE: dict[str, float] = {
    "thumbs_up": 1.0,
    "thumbs_down": 1.0,
    "score": 1.0,
    "accepted": 1.0,
    "regenerated": 0.5,
    "retried": 0.5,
    "abandoned": 0.25,
}
JUDGEMENTS = frozenset({"thumbs_up", "thumbs_down", "score", "accepted"})
RuleName = Literal["needed_strong", "weak_sufficed", "over_served"]
RULES: tuple[RuleName, ...] = ("needed_strong", "weak_sufficed", "over_served")
F64 = npt.NDArray[np.float64]


class FeedbackError(ValueError):
    """The store, the capture or the options do not allow a retrain; the message says why."""


@dataclass(frozen=True)
class Rules:
    """How feedback becomes targets and how strongly the residual may move (see the module docstring)."""

    positive_at: float = 0.6
    negative_at: float = 0.4
    over_served_weight: float = 0.5
    agreement: float = 0.8  # the floor's smoothed positive rate from which a bucket says "the floor wins here"
    min_bucket: int = 20  # rated decisions on a side of a bucket before its rate counts
    size_edges: tuple[int, ...] = (256, 1024, 4096)  # input-token buckets
    anchor_share: float = 1.0  # total weight of the anchors relative to the feedback targets'
    max_anchors: int = 20_000
    l2: float = 1e-3
    max_iter: int = 300

    def size_bucket(self, tokens: int | None) -> str:
        if tokens is None:
            return "?"
        for edge in self.size_edges:
            if tokens < edge:
                return f"<{edge}"
        return f">={self.size_edges[-1]}" if self.size_edges else "all"


@dataclass(frozen=True)
class FeedbackOptions:
    """What ``triage train --feedback`` reads. Times are Unix milliseconds, ``until`` exclusive."""

    store: Path
    captured: Path | None = None  # a capture file or directory (default: <store>/captured when present)
    base: Path | None = None  # the current bundle, compared against (default: the shipped bundle)
    triage_config: Path | None = None  # the triage.yaml whose ladder, prices and task bias apply
    since_ms: int | None = None
    until_ms: int | None = None
    rules: Rules = field(default_factory=Rules)


# ---------------------------------------------------------------------------------------------- content capture


def read_captured(path: Path) -> dict[str, Captured]:
    """Captured inputs by decision id (``triage.store.capture.read_captured``); ``FeedbackError`` when ``path`` does
    not exist."""
    try:
        return _capture.read_captured(path)
    except FileNotFoundError as exc:
        raise FeedbackError(str(exc)) from None


# ----------------------------------------------------------------------------------------------------- the ladder


@dataclass(frozen=True)
class Ladder:
    """The routes a score climbs, cheapest first, with their thresholds and prices (USD per million tokens)."""

    routes: tuple[str, ...]
    thresholds: Mapping[str, float]
    prices: Mapping[str, tuple[float, float]]
    source: str

    def position(self, route: str | None) -> int | None:
        return self.routes.index(route) if route in self.routes else None

    def route_for(self, score: float) -> str:
        """The highest step whose threshold ``score`` reaches (the floor when none)."""
        best = self.routes[0]
        for route in self.routes:
            if self.thresholds.get(route, math.inf) <= score:
                best = route
        return best

    def cost(self, route: str, input_tokens: int | None, output_tokens: int | None) -> float | None:
        price = self.prices.get(route)
        if price is None or input_tokens is None or output_tokens is None:
            return None
        return (input_tokens * price[0] + output_tokens * price[1]) / 1e6

    @classmethod
    def from_config(cls, config: TriageConfig, source: str) -> Ladder:
        policy = config.live_policy
        routes = tuple(step.route for step in policy.ladder)
        prices = {}
        for route in routes:
            price = config.routes[route].price_of(None)
            prices[route] = (price.input_per_mtok, price.output_per_mtok)
        return cls(routes, {s.route: s.min_score for s in policy.ladder}, prices, f"policy.ladder of {source}")

    @classmethod
    def from_records(cls, decisions: Iterable[Decided]) -> Ladder:
        """Inferred from what was recorded: each route's threshold (the ladder step it was chosen at) and its
        price per token (least squares of ``cost_usd`` on input and output tokens). Routes are ordered by
        threshold, then by price; routes never chosen by a score are ordered by price after them."""
        rows = list(decisions)
        thresholds: dict[str, float] = {}
        costs: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
        for d in rows:
            if d.route is None:
                continue
            if d.threshold is not None and d.reason in ("classified", "uncertain"):
                thresholds[d.route] = min(d.threshold, thresholds.get(d.route, math.inf))
            if d.cost_usd is not None and d.input_tokens is not None and d.output_tokens is not None:
                costs[d.route].append((d.input_tokens, d.output_tokens, d.cost_usd))
        prices: dict[str, tuple[float, float]] = {}
        for route, obs in costs.items():
            a = np.array([[i, o] for i, o, _ in obs], dtype=np.float64) / 1e6
            b = np.array([c for _, _, c in obs], dtype=np.float64)
            sol = np.linalg.lstsq(a, b, rcond=None)[0]
            prices[route] = (max(0.0, float(sol[0])), max(0.0, float(sol[1])))
        typical = (
            float(np.mean([d.input_tokens for d in rows if d.input_tokens is not None] or [1])),
            float(np.mean([d.output_tokens for d in rows if d.output_tokens is not None] or [1])),
        )

        def blended(route: str) -> float:
            p = prices.get(route, (math.inf, math.inf))
            return p[0] * typical[0] + p[1] * typical[1]

        named = {d.route for d in rows if d.route is not None}
        order = sorted(named, key=lambda r: (thresholds.get(r, math.inf), blended(r), r))
        return cls(tuple(order), thresholds, prices, "inferred from the store (recorded thresholds, then prices)")


# -------------------------------------------------------------------------------------------- reading the store


@dataclass(frozen=True)
class Decided:
    """The fields of a decision record that retraining reads."""

    decision_id: str
    time_unix_ms: int
    route: str | None
    tier: str | None = None
    reason: str | None = None
    task: str | None = None
    threshold: float | None = None
    p_strong: float | None = None
    input_tokens_estimate: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    status: int | None = None
    aborted: bool = False

    @property
    def answered(self) -> bool:
        """The request got an answer the signals can be about: a 2xx response, not aborted."""
        return self.route is not None and self.status is not None and 200 <= self.status < 300 and not self.aborted

    @property
    def tokens(self) -> int | None:
        return self.input_tokens if self.input_tokens is not None else self.input_tokens_estimate


@dataclass(frozen=True)
class Signal:
    """One event about a decision (``triage.store.Event``), the fields the verdict reads."""

    signal: str
    value: float
    time_unix_ms: int
    principal: str | None = None


_DECIDED_FIELDS = [f.name for f in dataclasses.fields(Decided)]


def read_store(store: Path) -> tuple[list[Decided], dict[str, list[Signal]], int]:
    """Every decision of a store in time order (the last line of a repeated id wins), the events about them by
    decision id (whenever they arrived), and how many events name a decision the store does not hold."""
    from triage.store.query import Store  # noqa: PLC0415  (duckdb: only readers of a store need it)

    if not (store / DECISIONS_DIR).is_dir():
        raise FeedbackError(f"{store} is not a decision store (no {DECISIONS_DIR}/ directory)")
    db = Store(store)
    try:
        rows = db.query(f"SELECT {', '.join(_DECIDED_FIELDS)} FROM decisions")
        events = db.query("SELECT decision_id, signal, value, time_unix_ms, principal FROM events")
    finally:
        db.close()
    decided: dict[str, Decided] = {}
    for row in rows:
        row["aborted"] = bool(row["aborted"])
        row["time_unix_ms"] = int(row["time_unix_ms"] or 0)
        decided[row["decision_id"]] = Decided(**row)
    signals: dict[str, list[Signal]] = defaultdict(list)
    orphans = 0
    for ev in events:
        if ev["decision_id"] not in decided:
            orphans += 1
        elif ev["signal"] in SIGNAL_EVIDENCE and ev["value"] is not None:
            value = min(1.0, max(0.0, float(ev["value"])))
            signals[ev["decision_id"]].append(
                Signal(ev["signal"], value, int(ev["time_unix_ms"] or 0), ev["principal"])
            )
    ordered = sorted(decided.values(), key=lambda d: (d.time_unix_ms, d.decision_id))
    return ordered, dict(signals), orphans


# ------------------------------------------------------------------------------------------------------ verdicts


@dataclass(frozen=True)
class Verdict:
    """What the signals on one decision say: a value in [0, 1] and the strength of the evidence."""

    value: float
    evidence: float
    polarity: Literal["positive", "negative", "neutral"]


def judge(signals: Sequence[Signal], rules: Rules) -> Verdict | None:
    """The conflict rule of the module docstring; None when there is no signal."""
    if not signals:
        return None
    judgements = [s for s in signals if s.signal in JUDGEMENTS]
    if judgements:
        latest: dict[str | None, Signal] = {}
        for s in sorted(judgements, key=lambda s: s.time_unix_ms):
            latest[s.principal] = s
        value = float(np.mean([s.value for s in latest.values()]))
        evidence = 1.0
    else:
        value = float(np.mean([s.value for s in signals]))
        evidence = max(SIGNAL_EVIDENCE[s.signal] for s in signals)
    if value >= rules.positive_at:
        return Verdict(value, evidence, "positive")
    if value <= rules.negative_at:
        return Verdict(value, evidence, "negative")
    return Verdict(value, evidence, "neutral")


# ------------------------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """A difficulty target from feedback: 1 = the request needed a stronger model, 0 = a cheaper one sufficed."""

    decision_id: str
    target: float
    weight: float
    rule: RuleName
    route: str
    bucket: tuple[str, str]


@dataclass
class Targets:
    """The targets of a store, and the count of every decision that gave none, by why."""

    targets: list[Target]
    counts: Counter[str]
    buckets: dict[tuple[str, str], dict[int, tuple[int, int]]]  # bucket → ladder position → (rated, positives)


def _rate(rated: int, positives: int) -> float:
    return (positives + 1) / (rated + 2)


def derive_targets(
    decisions: Sequence[Decided], signals: Mapping[str, Sequence[Signal]], ladder: Ladder, rules: Rules
) -> Targets:
    """Every rated decision's target, by the rules of the module docstring."""
    counts: Counter[str] = Counter()
    rated: list[tuple[Decided, Verdict, int, tuple[str, str]]] = []
    stats: dict[tuple[str, str], dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for d in decisions:
        counts["decisions"] += 1
        verdict = judge(signals.get(d.decision_id, ()), rules)
        if verdict is None:
            continue
        counts["rated"] += 1
        if not d.answered:
            counts["no target: failed or aborted request"] += 1
            continue
        pos = ladder.position(d.route)
        if pos is None:
            counts["no target: route not on the ladder"] += 1
            continue
        if verdict.polarity == "neutral":
            counts["no target: neutral or conflicting signals"] += 1
            continue
        bucket = (d.task or "unknown", rules.size_bucket(d.tokens))
        cell = stats[bucket][pos]
        cell[0] += 1
        cell[1] += verdict.polarity == "positive"
        rated.append((d, verdict, pos, bucket))
    top = len(ladder.routes) - 1
    out: list[Target] = []
    for d, verdict, pos, bucket in rated:
        route = d.route or ""
        if verdict.polarity == "negative":
            if pos == top:
                counts["no target: negative on the top route"] += 1
                continue
            above = [stats[bucket][p] for p in stats[bucket] if p > pos]
            n_above, pos_above = sum(c[0] for c in above), sum(c[1] for c in above)
            factor = _rate(n_above, pos_above) if n_above >= rules.min_bucket else 1.0
            out.append(Target(d.decision_id, 1.0, verdict.evidence * factor, "needed_strong", route, bucket))
        elif pos == 0:
            out.append(Target(d.decision_id, 0.0, verdict.evidence, "weak_sufficed", route, bucket))
        else:
            n_floor, pos_floor = stats[bucket].get(0, [0, 0])
            if n_floor < rules.min_bucket:
                counts["no target: positive above the floor, too few floor decisions in its bucket"] += 1
                continue
            rate = _rate(n_floor, pos_floor)
            if rate < rules.agreement:
                counts["no target: positive above the floor, the floor does not win in its bucket"] += 1
                continue
            weight = rules.over_served_weight * verdict.evidence * rate
            out.append(Target(d.decision_id, 0.0, weight, "over_served", route, bucket))
    buckets = {b: {p: (c[0], c[1]) for p, c in cells.items()} for b, cells in stats.items()}
    return Targets(out, counts, buckets)


# -------------------------------------------------------------------------------------------- the feedback set


@dataclass
class FeedbackSet:
    """Everything read for one retrain: targets with their captured inputs, the window, the ladder, the counts."""

    options: FeedbackOptions
    ladder: Ladder
    decisions: dict[str, Decided]
    targets: list[Target]
    inputs: dict[str, Captured]
    counts: Counter[str]
    window: tuple[int, int] | None  # first and last decision time of the window (ms)
    captured_from: str
    compiled: Compiled | None = None
    task_bias: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TASK_BIAS))

    @property
    def trainable(self) -> list[Target]:
        """Targets whose decision has a captured input."""
        return [t for t in self.targets if t.decision_id in self.inputs]

    @property
    def origins(self) -> Counter[str]:
        return Counter(self.inputs[t.decision_id].origin for t in self.trainable)

    def arrays(self) -> tuple[list[RoutingInput], F64, F64]:
        rows = self.trainable
        return (
            [self.inputs[t.decision_id].input for t in rows],
            np.array([t.target for t in rows], dtype=np.float64),
            np.array([t.weight for t in rows], dtype=np.float64),
        )


def collect(opts: FeedbackOptions) -> FeedbackSet:
    """Read the store and the capture, derive the targets; raise ``FeedbackError`` when none can be trained on."""
    everything, signals, orphans = read_store(opts.store)
    decisions = [
        d
        for d in everything
        if (opts.since_ms is None or d.time_unix_ms >= opts.since_ms)
        and (opts.until_ms is None or d.time_unix_ms < opts.until_ms)
    ]
    if not decisions:
        raise FeedbackError(f"{opts.store}: no decisions in the window")
    in_window = {d.decision_id for d in decisions}
    orphans += sum(len(v) for k, v in signals.items() if k not in in_window)
    compiled = None
    task_bias: Mapping[str, float] = DEFAULT_TASK_BIAS
    if opts.triage_config is not None:
        from triage.config import load_config  # noqa: PLC0415
        from triage.policy import compile_policy  # noqa: PLC0415

        config = load_config(opts.triage_config)
        ladder = Ladder.from_config(config, str(opts.triage_config))
        compiled = compile_policy(config)
        task_bias = compiled.policy.task_bias
    else:
        ladder = Ladder.from_records(everything)  # the whole store: the ladder is the configuration's, not the window's
    if len(ladder.routes) < 2:
        raise FeedbackError(f"the ladder ({ladder.source}) has fewer than two routes: nothing to learn from")
    derived = derive_targets(decisions, signals, ladder, opts.rules)
    counts = derived.counts
    counts["events on decisions outside the window or unknown"] = orphans
    capture_path = opts.captured or opts.store / CAPTURED_DIR
    inputs = read_captured(capture_path) if opts.captured is not None or capture_path.exists() else {}
    for t in derived.targets:
        counts[f"target: {t.rule}"] += 1
        if t.decision_id not in inputs:
            counts["target without a captured input (dropped)"] += 1
    fs = FeedbackSet(
        options=opts,
        ladder=ladder,
        decisions={d.decision_id: d for d in decisions},
        targets=derived.targets,
        inputs={k: v for k, v in inputs.items() if k in in_window},
        counts=counts,
        window=(decisions[0].time_unix_ms, decisions[-1].time_unix_ms),
        captured_from=str(capture_path) if inputs else "",
        compiled=compiled,
        task_bias=dict(task_bias),
    )
    if not fs.trainable:
        hint = (
            "no capture was found: turn content capture on (store.capture: true, docs/retraining.md) or pass --captured"
            if not inputs
            else "the capture holds none of their decision ids"
        )
        raise FeedbackError(f"{len(derived.targets)} targets from feedback but none with a captured input: {hint}")
    return fs


# ------------------------------------------------------------------------------------------------- the residual


@dataclass(frozen=True)
class Residual:
    """A sparse correction of the difficulty logit: ``x[:, columns] @ weights + bias``."""

    columns: npt.NDArray[np.int64]
    weights: F64
    bias: float

    def logit(self, x: sp.csr_matrix) -> F64:
        if not len(self.columns):
            return np.full(x.shape[0], self.bias, dtype=np.float64)
        return np.asarray(x[:, self.columns] @ self.weights, dtype=np.float64) + self.bias

    def dense(self, dim: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """As a ``[dim, 1]`` weight column and a ``[1]`` bias (the export table's difficulty column)."""
        w = np.zeros((dim, 1), dtype=np.float32)
        w[self.columns, 0] = self.weights.astype(np.float32)
        return w, np.array([self.bias], dtype=np.float32)


def fit_residual(x: sp.csr_matrix, offset: F64, target: F64, weight: F64, l2: float, max_iter: int = 300) -> Residual:
    """Weighted logistic regression of ``target`` on ``x`` with ``offset`` as a fixed part of the logit and an L2
    penalty on the weights (not the bias), by L-BFGS in float64: deterministic for the same inputs."""
    from scipy.optimize import minimize  # noqa: PLC0415

    columns = np.unique(x.indices).astype(np.int64)
    xs = x[:, columns].tocsr().astype(np.float64)
    xt = xs.T.tocsr()
    w = weight / weight.sum()
    m = len(columns)

    def objective(theta: F64) -> tuple[float, F64]:
        beta, b = theta[:m], theta[m]
        z = offset + xs @ beta + b
        loss = float(np.dot(w, np.logaddexp(0.0, z) - target * z)) + 0.5 * l2 * float(np.dot(beta, beta))
        g = w * (1.0 / (1.0 + np.exp(-z)) - target)
        grad = np.empty(m + 1, dtype=np.float64)
        grad[:m] = xt @ g + l2 * beta
        grad[m] = g.sum()
        return loss, grad

    result = minimize(objective, np.zeros(m + 1), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    theta = np.asarray(result.x, dtype=np.float64)
    return Residual(columns, theta[:m], float(theta[m]))


def anchor_rows(n: int, exclude: npt.NDArray[np.bool_], limit: int, seed: int) -> npt.NDArray[np.intp]:
    """Up to ``limit`` row indices of ``n`` base training rows, never an excluded one, drawn with ``seed``."""
    idx = np.flatnonzero(~exclude)
    if len(idx) > limit:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=limit, replace=False))
    return idx.astype(np.intp)


def fit_candidate(
    fs: FeedbackSet,
    x_feedback: sp.csr_matrix,
    base_logit_feedback: F64,
    x_anchor: sp.csr_matrix,
    base_logit_anchor: F64,
) -> Residual:
    """The residual on the feedback targets plus the anchors (the base model's own ``p_strong`` as their target,
    ``anchor_share`` of the feedback's total weight, spread evenly)."""
    _, y, w = fs.arrays()
    rules = fs.options.rules
    n_anchor = x_anchor.shape[0]
    if n_anchor and rules.anchor_share > 0:
        anchor_w = np.full(n_anchor, rules.anchor_share * w.sum() / n_anchor, dtype=np.float64)
        x = sp.vstack([x_feedback, x_anchor]).tocsr()
        offset = np.concatenate([base_logit_feedback, base_logit_anchor])
        target = np.concatenate([y, 1.0 / (1.0 + np.exp(-base_logit_anchor))])
        weight = np.concatenate([w, anchor_w])
    else:
        x, offset, target, weight = x_feedback, base_logit_feedback, y, w
    return fit_residual(x.tocsr(), offset, target, weight, rules.l2, rules.max_iter)


# ------------------------------------------------------------------------------------------------------ figures


def _logit(p: F64) -> F64:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def shifted(scores: F64, residual_logit: F64) -> F64:
    """Policy scores with the residual added to the difficulty logit (the task shift is additive in logit space)."""
    return np.asarray(1.0 / (1.0 + np.exp(-(_logit(scores) + residual_logit))), dtype=np.float64)


class Router:
    """Re-decides a captured request's route with given scores: the live ``decide`` when a configuration is known,
    else the ladder's thresholds on the policy score with the default task bias (decisions the policy did not make
    from a score — tier-forced, kill switch, budget, faults — keep their recorded route)."""

    def __init__(self, fs: FeedbackSet) -> None:
        self.fs = fs

    def route(self, d: Decided, inp: RoutingInput, scores: Scores) -> str | None:
        from triage.policy import Decision, decide, strong_score  # noqa: PLC0415

        if self.fs.compiled is not None:
            outcome = decide(inp, scores, d.tier, self.fs.compiled)
            return outcome.route if isinstance(outcome, Decision) else None
        if d.reason not in ("classified", "uncertain", "context_window") or not self.fs.ladder.thresholds:
            return d.route
        return self.fs.ladder.route_for(strong_score(scores, self.fs.task_bias))


def feedback_set_figures(fs: FeedbackSet, current: Classifier, candidate: Classifier) -> dict[str, Any]:
    """On the rated decisions with a captured input: mean ``p_strong`` of each model per target rule, how many
    decisions the candidate routes differently (and which way), and the predicted cost change at the tokens each
    request actually used and the routes' prices."""
    router = Router(fs)
    by_rule: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"current": [], "candidate": []})
    target_of = {t.decision_id: t for t in fs.targets}
    moved: Counter[str] = Counter()
    changed_by_rule: Counter[str] = Counter()
    delta = 0.0
    spent = 0.0
    priced = 0
    n = 0
    for decision_id, cap in sorted(fs.inputs.items()):
        d = fs.decisions.get(decision_id)
        if d is None or decision_id not in target_of:
            continue
        n += 1
        t = target_of[decision_id]
        s_cur, s_cand = current.score(cap.input), candidate.score(cap.input)
        by_rule[t.rule]["current"].append(s_cur.p_strong)
        by_rule[t.rule]["candidate"].append(s_cand.p_strong)
        r_cur, r_cand = router.route(d, cap.input, s_cur), router.route(d, cap.input, s_cand)
        if r_cur is None or r_cand is None:
            continue
        c_cur = fs.ladder.cost(r_cur, d.input_tokens, d.output_tokens)
        c_cand = fs.ladder.cost(r_cand, d.input_tokens, d.output_tokens)
        if c_cur is not None and c_cand is not None:
            priced += 1
            spent += c_cur
            delta += c_cand - c_cur
        if r_cur != r_cand:
            p_cur, p_cand = fs.ladder.position(r_cur), fs.ladder.position(r_cand)
            up = p_cur is not None and p_cand is not None and p_cand > p_cur
            moved["up" if up else "down"] += 1
            changed_by_rule[t.rule] += 1
    p_strong = {
        rule: {
            "n": len(v["current"]),
            "current": round(float(np.mean(v["current"])), 4),
            "candidate": round(float(np.mean(v["candidate"])), 4),
        }
        for rule, v in sorted(by_rule.items())
    }
    return {
        "n": n,
        "p_strong_by_rule": p_strong,
        "routed_differently": sum(moved.values()),
        "moved_up": moved["up"],
        "moved_down": moved["down"],
        "routed_differently_by_rule": dict(sorted(changed_by_rule.items())),
        "router": "the live policy of the configuration" if fs.compiled is not None else "the inferred ladder",
        "priced": priced,
        "cost_current_usd": round(spent, 6),
        "cost_delta_usd": round(delta, 6),
        "cost_delta_pct": round(100 * delta / spent, 2) if spent else None,
    }


def summary(fs: FeedbackSet) -> dict[str, Any]:
    """The feedback set for metrics.json, the manifest and the card."""
    rules = fs.options.rules
    trainable = fs.trainable
    weight: dict[str, float] = defaultdict(float)
    for t in trainable:
        weight[t.rule] += t.weight
    return {
        "store": str(fs.options.store),
        "captured": fs.captured_from,
        "triage_config": str(fs.options.triage_config) if fs.options.triage_config else None,
        "inputs": dict(sorted(fs.origins.items())),
        "window_utc": [_iso(ms) for ms in fs.window] if fs.window else None,
        "since_utc": _iso(fs.options.since_ms) if fs.options.since_ms is not None else None,
        "until_utc": _iso(fs.options.until_ms) if fs.options.until_ms is not None else None,
        "ladder": {"routes": list(fs.ladder.routes), "source": fs.ladder.source},
        "counts": dict(sorted(fs.counts.items())),
        "trainable_targets": {rule: sum(1 for t in trainable if t.rule == rule) for rule in RULES},
        "trainable_weight": {rule: round(weight[rule], 3) for rule in RULES},
        "rules": dataclasses.asdict(rules),
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> int:
    """Unix ms of an ISO 8601 date or date-time (UTC unless it says otherwise)."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FeedbackError(f"not an ISO 8601 date or time: {text!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


# ------------------------------------------------------------------------------ a synthetic store (tests, demos)


@dataclass(frozen=True)
class Traffic:
    """One simulated request: its input, where it went, what it used, and the signals that came back."""

    decision_id: str
    time_unix_ms: int
    input: RoutingInput
    route: str
    tier: str = "default"
    task: str | None = None
    p_strong: float | None = None
    strong_score: float | None = None
    threshold: float | None = None
    reason: str = "classified"
    input_tokens: int = 100
    output_tokens: int = 200
    cost_usd: float | None = None
    status: int = 200
    signals: tuple[tuple[str, float], ...] = ()  # (signal, value), one event each, a second apart
    principal: str | None = "user"
    principals: tuple[str | None, ...] = ()  # one per signal when they come from different people
    origin: str = "synthetic"
    captured: bool = True  # whether the input is in the capture file


def write_store(path: Path, traffic: Sequence[Traffic]) -> None:
    """A store directory in the layout of ``triage.store.schema`` (decision records, events, and the capture file
    of the captured requests), from simulated traffic. Segment names follow the writer's (``<hour>-<host>-<pid>``)."""
    from triage.record import DecisionRecord  # noqa: PLC0415

    start = min((t.time_unix_ms for t in traffic), default=0)
    name = datetime.fromtimestamp(start / 1000, tz=UTC).strftime("%Y%m%dT%H") + "-synthetic-0.jsonl"
    decisions, events, captured = [], [], []
    for t in traffic:
        rec = DecisionRecord(decision_id=t.decision_id, time_unix_ms=t.time_unix_ms, endpoint=t.input.api)
        rec.tier, rec.route, rec.reason, rec.task = t.tier, t.route, t.reason, t.task
        rec.p_strong, rec.strong_score, rec.threshold = t.p_strong, t.strong_score, t.threshold
        rec.input_tokens_estimate = t.input.input_tokens_estimate
        rec.status, rec.attempts, rec.completed = t.status, 1, True
        rec.input_tokens, rec.output_tokens, rec.cost_usd = t.input_tokens, t.output_tokens, t.cost_usd
        decisions.append(json.dumps(rec.to_dict(), sort_keys=True))
        for k, (signal, value) in enumerate(t.signals):
            ev = Event(
                event_id=f"{t.decision_id}-{k}",
                decision_id=t.decision_id,
                time_unix_ms=t.time_unix_ms + 1000 * (k + 1),
                kind="feedback" if signal in JUDGEMENTS or signal == "abandoned" else "implicit",
                signal=signal,
                value=value,
                principal=t.principals[k] if k < len(t.principals) else t.principal,
            )
            events.append(json.dumps(ev.to_dict(), sort_keys=True))
        if t.captured:
            captured.append(json.dumps(capture_line(t.decision_id, t.time_unix_ms, t.input, t.origin)))
    for sub, lines in ((DECISIONS_DIR, decisions), (EVENTS_DIR, events), (CAPTURED_DIR, captured)):
        (path / sub).mkdir(parents=True, exist_ok=True)
        if lines:
            (path / sub / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class SimulationOptions:
    """``simulate``: which outcome sources become traffic, and how people react to the answers."""

    data: Path
    out: Path
    sources: tuple[str, ...] = ("oasst1_pairwise", "arena_bench_v1")
    base: Path | None = None
    triage_config: Path | None = None  # default: the embedded configuration
    tier: str = "pro"
    feedback_rate: float = 0.5  # share of answers someone reacts to
    regenerate_share: float = 0.3  # of the negative reactions, the share that is a regeneration, not a thumbs-down
    start: str = "2025-01-06"
    days: int = 7
    seed: int = 0


def simulate(opts: SimulationOptions, progress: Callable[[str], None] = log.info) -> dict[str, int]:
    """A synthetic store from the prompts of commercial-use outcome sources: each prompt is routed by the base
    bundle with the configuration's live policy; the floor route's answer is the source's weak model's, every
    route above it the strong model's; a share of the answers gets a reaction that follows that model's outcome
    (thumbs up when it was right or judged at least as good, else a thumbs-down or a regeneration). Deterministic
    in ``seed``."""
    from triage.classifier.onnx_model import OnnxClassifier, default_bundle_dir  # noqa: PLC0415
    from triage.config import load_config  # noqa: PLC0415
    from triage.policy import Decision, compile_policy, decide  # noqa: PLC0415
    from triage.train import outcome_sources  # noqa: PLC0415

    sources = {s.name: s for s in outcome_sources.load_all(opts.data)}
    missing = [name for name in opts.sources if name not in sources]
    if missing:
        raise FeedbackError(f"no outcome source {missing} under {opts.data} (have {sorted(sources)})")
    not_allowed = [name for name in opts.sources if not sources[name].trainable]
    if not_allowed:
        raise FeedbackError(f"{not_allowed}: their licence keeps them out of training (evaluation only)")
    classifier = OnnxClassifier.load(opts.base or default_bundle_dir())
    config = load_config(opts.triage_config)
    compiled = compile_policy(config)
    floor = config.live_policy.ladder[0].route
    rng = random.Random(f"{opts.seed}:simulate")
    start_ms = parse_time(opts.start)
    span_ms = opts.days * 86_400_000
    traffic: list[Traffic] = []
    for name in opts.sources:
        for i, item in enumerate(sources[name].items):
            inp = RoutingInput.from_text(item.prompt)
            scores = classifier.score(inp)
            outcome = decide(inp, scores, opts.tier, compiled)
            if not isinstance(outcome, Decision):
                continue
            digest = hashlib.blake2b(f"{opts.seed}:{name}:{i}".encode(), digest_size=16).hexdigest()
            out_tokens = rng.randint(80, 700)
            in_tokens = inp.input_tokens_estimate
            quality = (item.weak if outcome.route == floor else item.strong) / item.count
            signals: tuple[tuple[str, float], ...] = ()
            if rng.random() < opts.feedback_rate:
                if quality >= 0.5:
                    signals = (("thumbs_up", 1.0),)
                elif rng.random() < opts.regenerate_share:
                    signals = (("regenerated", 0.0),)
                else:
                    signals = (("thumbs_down", 0.0),)
            price = config.routes[outcome.route].price_of(outcome.chain[0].cluster)
            traffic.append(
                Traffic(
                    decision_id=digest,
                    time_unix_ms=start_ms + rng.randrange(span_ms),
                    input=inp,
                    route=outcome.route,
                    tier=outcome.tier,
                    task=scores.task,
                    p_strong=round(scores.p_strong, 4),
                    strong_score=None if outcome.strong_score is None else round(outcome.strong_score, 4),
                    threshold=outcome.threshold,
                    reason=outcome.reason,
                    input_tokens=in_tokens,
                    output_tokens=out_tokens,
                    cost_usd=round(price.cost(in_tokens, out_tokens), 8),
                    signals=signals,
                    principal=f"user-{rng.randrange(50)}",
                    origin=f"synthetic:{name}",
                )
            )
    traffic.sort(key=lambda t: (t.time_unix_ms, t.decision_id))
    write_store(opts.out, traffic)
    counts = Counter(t.route for t in traffic)
    rated = sum(1 for t in traffic if t.signals)
    progress(f"wrote {opts.out}: {len(traffic)} decisions ({dict(counts)}), {rated} with a reaction")
    return {"decisions": len(traffic), "rated": rated}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m triage.train.feedback simulate --data DIR --out STORE [...]``: write a synthetic store."""
    p = argparse.ArgumentParser(prog="python -m triage.train.feedback", description="Feedback stores for retraining.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("simulate", help="a synthetic store (and capture) from commercial-use outcome sources")
    s.add_argument("--data", type=Path, default=Path("../shared/data"))
    s.add_argument("--out", type=Path, required=True, help="store directory to write (must not exist)")
    s.add_argument("--sources", default=",".join(SimulationOptions.sources), help="outcome sources, comma-separated")
    s.add_argument("--base", type=Path, help="the bundle that routes the traffic (default: the shipped one)")
    s.add_argument("--triage-config", type=Path, help="triage.yaml whose policy routes (default: the embedded one)")
    s.add_argument("--tier", default=SimulationOptions.tier)
    s.add_argument("--rate", type=float, default=SimulationOptions.feedback_rate, help="share of answers rated")
    s.add_argument("--seed", type=int, default=0)
    args = p.parse_args(list(argv) if argv is not None else None)
    if args.out.exists():
        print(f"simulate: {args.out} exists; choose a new directory", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    opts = SimulationOptions(
        data=args.data,
        out=args.out,
        sources=tuple(x for x in args.sources.split(",") if x),
        base=args.base,
        triage_config=args.triage_config,
        tier=args.tier,
        feedback_rate=args.rate,
        seed=args.seed,
    )
    try:
        simulate(opts)
    except FeedbackError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
