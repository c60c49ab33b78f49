"""Confidence escalation simulated on routing outcomes: how good must a verifier be before it pays?

Escalation: a request routed to the cheap model gets its answer checked by a verifier; when the verifier doubts
it, the request is re-sent to the strong model and the client gets the strong answer; both calls are billed.
This module simulates it on prompts whose cheap and strong outcomes are known (``Traffic``), with a simulated
verifier of a given accuracy (``Verifier``), and measures four strategies as cost/quality curves:

- ``router``: the router alone, a sweep of the share of prompts sent to the strong model by score rank.
- ``verifier_only``: the router, then every cheap-routed answer is verified and escalated when flagged.
- ``bayes``: the router, then a cheap-routed answer is escalated when the posterior P(cheap answer wrong |
  router score, verifier flag) reaches a threshold; the prior is the router score calibrated to P(cheap wrong)
  (``Prior``), the likelihoods are the verifier's rates (cascade routing, arXiv 2410.10347: the ex-ante and
  the post-hoc estimate decide together). Two parameters: the routing share and the posterior threshold. The
  verifier is only called (and paid) where its flag changes the decision.
- ``bayes_gain``: the same, but the threshold is on the expected quality gain of escalating, E[strong - cheap |
  score, flag] = P(wrong | ...) P(strong right | cheap wrong, score) - P(right | ...) P(strong wrong | cheap
  right, score): a hard prompt's cheap answer is often wrong, but so is the strong one, and escalating it buys
  little. (The flag depends only on the cheap answer, so the two conditionals need no verifier.)
- ``cascade``: everything to the cheap model, every answer verified, flagged ones escalated (a single point).

Outcomes are in [0, 1]; a fractional outcome (a pass rate, a judge grade scaled to [0, 1], a pairwise tie) is
read as the probability that the answer is acceptable and drawn per seed, so that "the cheap answer is wrong"
is an event the verifier can see. Quality is the mean drawn outcome of the answer the client gets; cost is
relative to sending everything to the strong model (1.0).

Every strategy may mix two of its operating points at random, so its quality at a budget is the upper concave
envelope of its points (free disposal: at most the budget is spent). The envelope's vertices are chosen on the
mean over seeds, then each seed is read at those same vertices, so the spread over seeds is the verifier's and
the draws' noise, not a per-seed choice of the best threshold.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

ACCURACIES = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
BUDGETS = (0.3, 0.5)
SEEDS = (0, 1, 2, 3, 4)
ROUTE_POINTS = 40  # strong-share steps of the routing sweep (2.5% each)
POSTERIOR_GRID = tuple(round(0.02 * i, 2) for i in range(1, 50))  # 0.02 ... 0.98
AREA_STEPS = 200  # budget steps between the always-cheap and the always-strong cost for the area
STRATEGIES = ("router", "verifier_only", "bayes", "bayes_gain")


@dataclass(frozen=True)
class Verifier:
    """A simulated verifier: it flags a wrong cheap answer with probability ``tpr`` and a right one with ``fpr``."""

    tpr: float
    fpr: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.fpr < self.tpr <= 1.0):
            raise ValueError(f"a verifier needs 0 <= fpr < tpr <= 1 (got tpr {self.tpr}, fpr {self.fpr})")

    @classmethod
    def symmetric(cls, accuracy: float) -> Verifier:
        """Accuracy ``a`` on both kinds of answers: flags a wrong one with ``a``, a right one with ``1 - a``."""
        return cls(accuracy, round(1.0 - accuracy, 10))

    def posterior(self, p_wrong: F64, flagged: bool) -> F64:
        """P(cheap answer wrong | prior ``p_wrong``, the flag), by Bayes' rule."""
        like_wrong, like_right = (self.tpr, self.fpr) if flagged else (1.0 - self.tpr, 1.0 - self.fpr)
        num = like_wrong * p_wrong
        den = num + like_right * (1.0 - p_wrong)
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    def flags(self, cheap_right: Bools, uniform: F64) -> Bools:
        """The verifier's flags given which cheap answers are right, from one uniform draw per prompt (the same
        draws for every accuracy, so a better verifier flags a superset of the wrong answers)."""
        return np.where(cheap_right, uniform < self.fpr, uniform < self.tpr)


@dataclass(frozen=True)
class Traffic:
    """One source's prompts: router score (higher = strong), both outcomes in [0, 1], per-request prices."""

    name: str
    score: F64
    strong: F64
    weak: F64
    cost_strong: F64
    cost_weak: F64

    def __post_init__(self) -> None:
        n = len(self.score)
        if n == 0:
            raise ValueError(f"{self.name}: no prompts")
        if any(len(a) != n for a in (self.strong, self.weak, self.cost_strong, self.cost_weak)):
            raise ValueError(f"{self.name}: arrays of different lengths")
        for a in (self.strong, self.weak):
            if not (np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0):
                raise ValueError(f"{self.name}: outcomes must lie in [0, 1]")
        if not (np.isfinite(self.score).all()):
            raise ValueError(f"{self.name}: scores must be finite")
        if self.cost_strong.min() <= 0 or self.cost_weak.min() < 0:
            raise ValueError(f"{self.name}: prices must be positive")

    def __len__(self) -> int:
        return len(self.score)

    @property
    def cheap_cost(self) -> float:
        """Cost of sending everything to the cheap model, relative to everything to the strong one."""
        return float(self.cost_weak.sum() / self.cost_strong.sum())


def _fit_logistic(x: F64, y: F64, weight: F64, ridge: float = 1e-6, steps: int = 50) -> tuple[float, float]:
    """Intercept and slope of a weighted one-feature logistic regression on targets in [0, 1] (Newton)."""
    w = np.zeros(2)
    design = np.stack([np.ones_like(x), x], axis=1)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        grad = design.T @ (weight * (p - y)) + ridge * w
        hess = (design * (weight * p * (1 - p))[:, None]).T @ design + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    return float(w[0]), float(w[1])


def platt(score: F64, target: F64, weight: F64 | None = None, folds: int = 5, seed: int = 0) -> F64:
    """P(target | score) by Platt scaling on logit(score), cross-fitted: each prompt's value comes from a fit on
    the other folds, so the prior the Bayes rule uses never saw the prompt's own outcome. ``weight`` restricts
    the fit to a (soft) subset, e.g. the prompts whose cheap answer is wrong."""
    clipped = np.clip(score, 1e-6, 1 - 1e-6)
    x = np.log(clipped / (1 - clipped))
    x = (x - x.mean()) / (x.std() or 1.0)
    wt = np.ones(len(x)) if weight is None else weight
    fold = np.random.default_rng(seed).permutation(len(x)) % max(2, folds)
    out = np.empty(len(x))
    for k in np.unique(fold):
        held = fold == k
        if wt[~held].sum() <= 0:
            out[held] = float(np.average(target, weights=wt)) if wt.sum() > 0 else 0.5
            continue
        b0, b1 = _fit_logistic(x[~held], target[~held], wt[~held])
        out[held] = 1.0 / (1.0 + np.exp(-(b0 + b1 * x[held])))
    return np.clip(out, 1e-4, 1 - 1e-4)


@dataclass(frozen=True)
class Prior:
    """What the router score says about each prompt, calibrated and cross-fitted (``platt``)."""

    wrong: F64  # P(cheap answer wrong | score)
    rescue: F64  # P(strong answer right | cheap wrong, score)
    spoil: F64  # P(strong answer wrong | cheap right, score)

    @classmethod
    def calibrate(cls, t: Traffic) -> Prior:
        """Fractional outcomes count as probabilities, the two answers independent given the prompt."""
        return cls(
            platt(t.score, 1.0 - t.weak),
            platt(t.score, t.strong, weight=1.0 - t.weak),
            platt(t.score, 1.0 - t.strong, weight=t.weak),
        )

    def gain(self, posterior: F64) -> F64:
        """Expected quality gain of escalating, given P(cheap wrong) = ``posterior``."""
        return posterior * self.rescue - (1.0 - posterior) * self.spoil

    def ordered(self, order: npt.NDArray[np.intp]) -> Prior:
        return Prior(self.wrong[order], self.rescue[order], self.spoil[order])


@dataclass(frozen=True)
class SimConfig:
    accuracies: tuple[float, ...] = ACCURACIES
    seeds: tuple[int, ...] = SEEDS
    fpr: float | None = None  # None: symmetric verifier; else this false-positive rate at every accuracy
    verifier_cost: float = 0.0  # per verified request, in units of that request's cheap call
    budgets: tuple[float, ...] = BUDGETS
    route_points: int = ROUTE_POINTS
    posterior_grid: tuple[float, ...] = POSTERIOR_GRID

    def verifier(self, accuracy: float) -> Verifier:
        return Verifier.symmetric(accuracy) if self.fpr is None else Verifier(accuracy, self.fpr)


@dataclass(frozen=True)
class Points:
    """Operating points of one strategy: cost and quality per seed (rows) and point (columns)."""

    cost: F64
    quality: F64

    def __add__(self, other: Points) -> Points:
        return Points(np.hstack([self.cost, other.cost]), np.hstack([self.quality, other.quality]))


def _suffix(a: F64) -> F64:
    """Along the last axis: ``out[..., k] = a[..., k:].sum()``, with ``out[..., n] = 0``."""
    rev = np.cumsum(a[..., ::-1], axis=-1)[..., ::-1]
    return np.concatenate([rev, np.zeros((*a.shape[:-1], 1))], axis=-1)


def _prefix(a: F64) -> F64:
    return np.concatenate([[0.0], np.cumsum(a)])


@dataclass(frozen=True)
class _Draw:
    """One seed's realised outcomes and verifier uniforms, in descending router-score order."""

    strong: F64
    weak: F64
    uniform: F64
    cost_strong: F64
    cost_weak: F64
    prior: Prior
    ks: npt.NDArray[np.intp]

    def points(self, escalate: Bools, checked: Bools, verifier_cost: float) -> tuple[F64, F64]:
        """Cost and quality of every (escalation rule row, routing cut k): the top ``k`` by score go strong, the
        others cheap and, where ``escalate``, on to the strong model; ``checked`` rows pay the verifier."""
        cheap_q = np.where(escalate, self.strong, self.weak)
        cheap_c = self.cost_weak * (1.0 + verifier_cost * checked) + escalate * self.cost_strong
        n, total = len(self.strong), float(self.cost_strong.sum())
        quality = (_prefix(self.strong)[self.ks] + _suffix(cheap_q)[:, self.ks]) / n
        cost = (_prefix(self.cost_strong)[self.ks] + _suffix(cheap_c)[:, self.ks]) / total
        return cost.ravel(), quality.ravel()


def _draw(t: Traffic, prior: Prior, seed: int, route_points: int) -> _Draw:
    rng = np.random.default_rng([seed, zlib.crc32(t.name.encode("utf-8"))])
    strong = (rng.random(len(t)) < t.strong).astype(np.float64)
    weak = (rng.random(len(t)) < t.weak).astype(np.float64)
    uniform = rng.random(len(t))
    order = np.argsort(-t.score, kind="stable")
    ks = np.unique(np.round(np.linspace(0, len(t), route_points + 1)).astype(np.intp))
    return _Draw(
        strong[order], weak[order], uniform[order], t.cost_strong[order], t.cost_weak[order], prior.ordered(order), ks
    )


def upper_envelope(x: Sequence[float] | F64, y: Sequence[float] | F64) -> list[int]:
    """Indices of the vertices of the upper concave envelope of the points, from the cheapest point to the first
    one of the highest quality: what random mixing of two operating points reaches at each budget."""
    order = sorted(range(len(x)), key=lambda i: (x[i], -y[i]))
    hull: list[int] = []
    for i in order:
        if hull and x[hull[-1]] == x[i]:
            continue
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            if (x[a] - x[o]) * (y[i] - y[o]) - (y[a] - y[o]) * (x[i] - x[o]) >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    best = max(range(len(hull)), key=lambda j: (y[hull[j]], -j))
    return hull[: best + 1]


@dataclass(frozen=True)
class Curve:
    """A strategy's envelope, per seed: quality (absolute and as PGR) at each budget and the area."""

    area: F64  # per seed: mean PGR over budgets from the always-cheap to the always-strong cost
    quality: dict[float, F64]  # budget → per-seed quality (NaN below the always-cheap cost)
    pgr: dict[float, F64]  # budget → per-seed PGR: 0 = always-cheap quality, 1 = always-strong quality
    vertices: list[tuple[float, float]]  # (mean cost, mean quality) of the envelope's vertices


def curve(points: Points, cheap_cost: float, q_weak: F64, q_strong: F64, budgets: Sequence[float]) -> Curve:
    """Read a strategy's points as an envelope (chosen on the mean over seeds) and evaluate every seed on it."""
    mx, my = points.cost.mean(axis=0), points.quality.mean(axis=0)
    verts = upper_envelope(mx, my)
    xs, ys = mx[verts], points.quality[:, verts]
    gap = q_strong - q_weak
    safe_gap = np.where(gap != 0, gap, np.nan)

    def at(budget: float) -> F64:
        if budget < xs[0] - 1e-12:
            return np.full(len(ys), math.nan)
        return np.array([np.interp(budget, xs, row) for row in ys])

    grid = np.linspace(cheap_cost, 1.0, AREA_STEPS + 1)
    mean_q = np.array([np.interp(grid, xs, row).mean() for row in ys])
    quality = {b: at(b) for b in budgets}
    return Curve(
        area=(mean_q - q_weak) / safe_gap,
        quality=quality,
        pgr={b: (q - q_weak) / safe_gap for b, q in quality.items()},
        vertices=[(float(a), float(b)) for a, b in zip(xs, my[verts], strict=True)],
    )


@dataclass
class SourceSim:
    """Everything simulated on one source."""

    name: str
    n: int
    cheap_cost: float
    q_weak: F64  # per seed
    q_strong: F64
    router: Curve
    verifier_only: dict[float, Curve] = field(default_factory=dict)
    bayes: dict[float, Curve] = field(default_factory=dict)
    bayes_gain: dict[float, Curve] = field(default_factory=dict)
    cascade: dict[float, tuple[F64, F64]] = field(default_factory=dict)  # accuracy → per-seed (cost, quality)


def _threshold_rule(value_flag: F64, value_pass: F64, grid: F64, flagged: Bools) -> tuple[Bools, Bools]:
    """Escalate where the value (posterior or gain) given the flag reaches each threshold of ``grid`` (rows);
    the verifier is called only where its flag decides (the value is above the threshold with one flag only)."""
    above_flag, above_pass = value_flag[None, :] >= grid, value_pass[None, :] >= grid
    return np.where(flagged, above_flag, above_pass), above_flag & ~above_pass


def simulate(t: Traffic, prior: Prior, cfg: SimConfig) -> SourceSim:
    """Every strategy on one source, for every verifier accuracy of ``cfg``, over its seeds."""
    draws = [_draw(t, prior, seed, cfg.route_points) for seed in cfg.seeds]
    n = len(t)
    none = np.zeros((1, n), dtype=bool)

    def stack(rows: list[tuple[F64, F64]]) -> Points:
        return Points(np.array([c for c, _ in rows]), np.array([q for _, q in rows]))

    router = stack([d.points(none, none, 0.0) for d in draws])
    q_weak, q_strong = router.quality[:, 0], router.quality[:, -1]
    anchors = Points(router.cost[:, [0, -1]], router.quality[:, [0, -1]])
    budgets = cfg.budgets
    sim = SourceSim(t.name, n, t.cheap_cost, q_weak, q_strong, curve(router, t.cheap_cost, q_weak, q_strong, budgets))
    every = np.ones((1, n), dtype=bool)
    post_grid = np.array(cfg.posterior_grid)[:, None]
    gain_grid = np.concatenate([[0.0], cfg.posterior_grid])[:, None]
    for accuracy in cfg.accuracies:
        v = cfg.verifier(accuracy)
        rows: dict[str, list[tuple[F64, F64]]] = {"only": [], "post": [], "gain": []}
        for d in draws:
            flagged = v.flags(d.weak > 0.5, d.uniform)[None, :]
            rows["only"].append(d.points(flagged, every, cfg.verifier_cost))
            post_flag, post_pass = v.posterior(d.prior.wrong, True), v.posterior(d.prior.wrong, False)
            escalate, checked = _threshold_rule(post_flag, post_pass, post_grid, flagged)
            rows["post"].append(d.points(escalate, checked, cfg.verifier_cost))
            gain_flag, gain_pass = d.prior.gain(post_flag), d.prior.gain(post_pass)
            escalate, checked = _threshold_rule(gain_flag, gain_pass, gain_grid, flagged)
            rows["gain"].append(d.points(escalate, checked, cfg.verifier_cost))
        only = stack(rows["only"])
        sim.cascade[accuracy] = (only.cost[:, 0], only.quality[:, 0])
        sim.verifier_only[accuracy] = curve(only + anchors, t.cheap_cost, q_weak, q_strong, budgets)
        sim.bayes[accuracy] = curve(stack(rows["post"]) + router, t.cheap_cost, q_weak, q_strong, budgets)
        sim.bayes_gain[accuracy] = curve(stack(rows["gain"]) + router, t.cheap_cost, q_weak, q_strong, budgets)
    return sim


def break_even(
    accuracies: Sequence[float], gain_mean: Sequence[float], gain_std: Sequence[float], min_gain: float
) -> float | None:
    """The lowest accuracy from which on (it and every higher one) the gain over the router alone is above both
    ``min_gain`` and twice its spread over seeds; None when even the highest accuracy does not get there."""
    found: float | None = None
    for a, m, s in sorted(zip(accuracies, gain_mean, gain_std, strict=True), reverse=True):
        if math.isfinite(m) and m > max(min_gain, 2.0 * s):
            found = a
        else:
            break
    return found
