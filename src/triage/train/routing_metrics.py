"""RouteLLM's routing-quality metrics: the PGR curve, APGR and CPT, plus the random and oracle references.

Definitions (arXiv 2406.18665, and the metric code in lm-sys/RouteLLM ``routellm/evals/benchmarks.py`` and
``evaluate.py``, which this module reproduces):

- A router gives each prompt a score (higher = prefer the strong model). The threshold sweep cuts the scores
  at their quantiles ``0, 1/k, ..., 1`` (``pandas.qcut(scores, k, retbins=True)``: linear interpolation, the
  same as ``numpy.quantile``'s default). At every cut but the last a prompt goes to the strong model when its
  score is ``>=`` the cut; at the last cut (the maximum) when it is ``>``, so the sweep runs from 100% to 0%
  strong calls. Tied scores move together, so a cut may send more or fewer than its nominal share.
- Quality at a cut is the mean outcome of the routed answers; PGR = (quality - q(weak)) / (q(strong) - q(weak)).
- APGR is the trapezoid area under quality vs strong-call share (share as a fraction), minus the weak model's
  area, over the strong-minus-weak area: ``(trapz(q) - q_w) / (q_s - q_w)`` on a sweep spanning 0..1.
- CPT(x) is the strong-call share at which PGR reaches ``x``. RouteLLM computes it with
  ``np.interp(target, quality, share)``, which assumes quality rises with share; here it is the smallest share
  at which the piecewise-linear curve reaches ``x``, which is the same number on a rising curve and still
  well defined on one that dips.

Outcomes are sums per prompt with a count of answers, so one prompt may carry several judged answers (MT-Bench:
both turns' judge scores count, as in RouteLLM, whose quality is the mean over all routed judgement rows).
The oracle sends the prompts with the largest strong-minus-weak gain to the strong model first; with a
fractional budget it takes the fractional part of the next prompt (RouteLLM's MMLU/GSM8K oracle does the same
for 0/1 outcomes).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

DEFAULT_POINTS = 10  # RouteLLM's num_results: 10 bins, 11 cuts


@dataclass(frozen=True)
class Outcomes:
    """Per-prompt outcome sums of the two models and the number of answers each sum covers."""

    strong: F64
    weak: F64
    count: F64

    def __post_init__(self) -> None:
        n = len(self.strong)
        if len(self.weak) != n or len(self.count) != n:
            raise ValueError("strong, weak and count must have the same length")
        if n == 0:
            raise ValueError("no outcomes")
        if float(self.count.min()) <= 0:
            raise ValueError("every prompt needs at least one answer")

    @classmethod
    def of(cls, strong: Sequence[float], weak: Sequence[float], count: Sequence[float] | None = None) -> Outcomes:
        s = np.asarray(strong, dtype=np.float64)
        w = np.asarray(weak, dtype=np.float64)
        c = np.ones(len(s), dtype=np.float64) if count is None else np.asarray(count, dtype=np.float64)
        return cls(s, w, c)

    def __len__(self) -> int:
        return len(self.strong)

    @property
    def strong_quality(self) -> float:
        return float(self.strong.sum() / self.count.sum())

    @property
    def weak_quality(self) -> float:
        return float(self.weak.sum() / self.count.sum())

    def routed_quality(self, to_strong: npt.NDArray[np.bool_]) -> float:
        return float(np.where(to_strong, self.strong, self.weak).sum() / self.count.sum())

    def oracle_quality(self, share: float) -> float:
        """The best quality any router reaches with ``share`` of the prompts on the strong model."""
        gain = np.sort(self.strong - self.weak)[::-1]
        gain = np.maximum(gain, 0.0)  # a prompt the weak model answers better stays on it
        budget = min(max(share, 0.0), 1.0) * len(gain)
        whole = math.floor(budget)
        extra = float(gain[:whole].sum())
        if whole < len(gain):
            extra += (budget - whole) * float(gain[whole])
        return float((self.weak.sum() + extra) / self.count.sum())


@dataclass(frozen=True)
class CurvePoint:
    """One cut of the sweep: the score threshold, the share of prompts sent strong, quality and PGR."""

    threshold: float
    strong_share: float
    quality: float
    pgr: float


@dataclass(frozen=True)
class RoutingReport:
    """Everything ``triage eval routing`` prints. Shares are fractions here; the CLI prints percent."""

    n: int
    strong_quality: float
    weak_quality: float
    curve: list[CurvePoint]
    apgr: float
    cpt50: float
    cpt80: float
    oracle_apgr: float
    oracle_cpt50: float
    oracle_cpt80: float
    random_apgr: float = 0.5
    oracle_curve: list[tuple[float, float]] = field(default_factory=list)


def pgr(quality: float, outcomes: Outcomes) -> float:
    gap = outcomes.strong_quality - outcomes.weak_quality
    if gap == 0:
        return math.nan
    return (quality - outcomes.weak_quality) / gap


def sweep(scores: Sequence[float] | F64, outcomes: Outcomes, points: int = DEFAULT_POINTS) -> list[CurvePoint]:
    """The threshold sweep at the ``points + 1`` quantile cuts of ``scores``, sorted by strong-call share."""
    s = np.asarray(scores, dtype=np.float64)
    if len(s) != len(outcomes):
        raise ValueError(f"{len(s)} scores for {len(outcomes)} outcomes")
    if points < 1:
        raise ValueError("points must be at least 1")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    cuts = np.quantile(s, np.linspace(0.0, 1.0, points + 1))
    out: list[CurvePoint] = []
    for i, cut in enumerate(cuts):
        to_strong = s > cut if i == points else s >= cut
        q = outcomes.routed_quality(to_strong)
        out.append(CurvePoint(float(cut), float(to_strong.mean()), q, pgr(q, outcomes)))
    out.sort(key=lambda p: (p.strong_share, p.quality))
    return out


def area(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Trapezoid area under ``ys`` over ``xs`` (sorted ascending)."""
    total = 0.0
    for i in range(1, len(xs)):
        total += (xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1]) / 2
    return total


def apgr(curve: Sequence[CurvePoint]) -> float:
    """Area under PGR vs share, normalised by the share range the sweep spans (0..1 for a full sweep)."""
    xs = [p.strong_share for p in curve]
    span = xs[-1] - xs[0]
    if span <= 0:
        return math.nan
    return area(xs, [p.pgr for p in curve]) / span


def cpt(curve: Sequence[CurvePoint], target: float) -> float:
    """The smallest strong-call share at which the piecewise-linear PGR curve reaches ``target``; NaN if never."""
    pts = [(p.strong_share, p.pgr) for p in curve]
    if pts[0][1] >= target:
        return pts[0][0]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if y1 >= target > y0:
            return x0 + (x1 - x0) * (target - y0) / (y1 - y0)
    return math.nan


def _oracle_curve(outcomes: Outcomes, steps: int = 200) -> list[CurvePoint]:
    out = []
    for i in range(steps + 1):
        share = i / steps
        q = outcomes.oracle_quality(share)
        out.append(CurvePoint(math.nan, share, q, pgr(q, outcomes)))
    return out


def report(scores: Sequence[float] | F64, outcomes: Outcomes, points: int = DEFAULT_POINTS) -> RoutingReport:
    """The full RouteLLM-style report for one router's scores on one benchmark."""
    curve = sweep(scores, outcomes, points)
    oracle = _oracle_curve(outcomes)
    return RoutingReport(
        n=len(outcomes),
        strong_quality=outcomes.strong_quality,
        weak_quality=outcomes.weak_quality,
        curve=curve,
        apgr=apgr(curve),
        cpt50=cpt(curve, 0.5),
        cpt80=cpt(curve, 0.8),
        oracle_apgr=apgr(oracle),
        oracle_cpt50=cpt(oracle, 0.5),
        oracle_cpt80=cpt(oracle, 0.8),
        oracle_curve=[(p.strong_share, p.quality) for p in oracle],
    )
