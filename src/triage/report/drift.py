"""The drift check: are recent requests still like the ones the classifier was trained and calibrated on?

Two distributions of the report's window are compared with a reference by the Population Stability Index
(PSI): the task distribution (the classifier's top label per request, the record's ``task``) and the
``p_strong`` distribution (P(strong model needed), the record's ``p_strong``, binned). Only classified records
count (a tier-forced, skip-small, rejected or failed-open request has no scores).

``PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)`` over the bins, with ``e`` the reference's shares and ``a`` the window's,
both floored at ``EPSILON`` (a bin empty on one side would otherwise be infinite). The usual reading, applied to
each PSI and the worse of the two giving the verdict: below 0.1 stable, 0.1 to 0.25 watch, above 0.25 retrain.

**The reference** (``drift_reference.json`` in a classifier bundle; ``DriftReference``) holds the task shares and
the ``p_strong`` histogram (bin edges and shares) of the sample the bundle was calibrated on, scored by the
bundle itself::

    {"format": "triage-drift-reference/1", "classifier_version": "triage-clf-...", "sample": "...", "n": 1541,
     "task_shares": {"code": 0.21, ...},
     "p_strong": {"edges": [0.0, 0.31, ..., 1.0], "shares": [0.1, ...]}}

``edges`` has one more entry than ``shares``; bin ``i`` is ``edges[i] <= p < edges[i+1]`` (the first bin takes
everything below, the last everything above, 1.0 included). ``reference_from_scores`` computes it from scored
requests (equal-count bins: deciles of the sample's own ``p_strong``) — the training code writes the same file
into each new bundle with it. Without a reference, the window's second half is compared with its first half
(bins: ten equal-width bins of [0, 1]), which tells a change *within* the window, never a drift from training.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

REFERENCE_FORMAT = "triage-drift-reference/1"
REFERENCE_FILE = "drift_reference.json"
EPSILON = 1e-4  # the floor of a share in the PSI sum
STABLE_BELOW = 0.1
RETRAIN_ABOVE = 0.25
FEW_REQUESTS = 500  # below this many classified requests a PSI is mostly noise: said in the notes
# Below this many, no verdict at all: with k bins a PSI of n requests from the very same distribution is already
# about (k - 1) / n, so 1 request of 10 bins reads "retrain".
MIN_REQUESTS = 100
EQUAL_WIDTH_EDGES: tuple[float, ...] = tuple(i / 10 for i in range(11))

Verdict = Literal["stable", "watch", "retrain", "no data", "too few"]
_RANK: dict[str, int] = {"no data": -2, "too few": -1, "stable": 0, "watch": 1, "retrain": 2}


class DriftReferenceError(ValueError):
    """A drift reference file that cannot be used; the message says why."""


@dataclass(frozen=True)
class DriftReference:
    """The distributions a classifier bundle expects of its traffic (see the module docstring)."""

    task_shares: Mapping[str, float]
    edges: tuple[float, ...]
    shares: tuple[float, ...]
    n: int
    classifier_version: str | None = None
    sample: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REFERENCE_FORMAT,
            "classifier_version": self.classifier_version,
            "sample": self.sample,
            "n": self.n,
            "task_shares": dict(self.task_shares),
            "p_strong": {"edges": list(self.edges), "shares": list(self.shares)},
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> DriftReference:
        """Parse and check a reference document; raises ``DriftReferenceError`` naming the first problem."""
        if doc.get("format") != REFERENCE_FORMAT:
            raise DriftReferenceError(f"format is {doc.get('format')!r}, expected {REFERENCE_FORMAT!r}")
        tasks = doc.get("task_shares")
        hist = doc.get("p_strong")
        if not isinstance(tasks, Mapping) or not tasks:
            raise DriftReferenceError("task_shares must be a non-empty mapping of label to share")
        if not isinstance(hist, Mapping):
            raise DriftReferenceError("p_strong must hold edges and shares")
        edges = tuple(float(e) for e in hist.get("edges", ()))
        shares = tuple(float(s) for s in hist.get("shares", ()))
        if len(edges) < 2 or len(edges) != len(shares) + 1:
            raise DriftReferenceError("p_strong.edges needs one more entry than p_strong.shares (and at least 2)")
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise DriftReferenceError("p_strong.edges must strictly increase")
        for name, values in (("task_shares", [float(v) for v in tasks.values()]), ("p_strong.shares", shares)):
            if any(v < 0 for v in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-3):
                raise DriftReferenceError(f"{name} must be non-negative and sum to 1")
        version = doc.get("classifier_version")
        return cls(
            task_shares={str(k): float(v) for k, v in tasks.items()},
            edges=edges,
            shares=shares,
            n=int(doc.get("n") or 0),
            classifier_version=str(version) if version else None,
            sample=str(doc.get("sample") or ""),
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")


def load_reference(path: Path) -> DriftReference:
    """Read a ``drift_reference.json``; raises ``DriftReferenceError`` (unreadable, not JSON, or invalid)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DriftReferenceError(f"{path}: cannot read: {err.strerror or err}") from None
    except ValueError as err:
        raise DriftReferenceError(f"{path}: not JSON: {err}") from None
    if not isinstance(doc, Mapping):
        raise DriftReferenceError(f"{path}: expected a JSON object")
    try:
        return DriftReference.from_dict(doc)
    except DriftReferenceError as err:
        raise DriftReferenceError(f"{path}: {err}") from None


def quantile_edges(values: Sequence[float], bins: int = 10, decimals: int = 4) -> tuple[float, ...]:
    """Edges of (up to) ``bins`` equal-count bins of ``values``, from 0 to 1, rounded to ``decimals`` (the records'
    ``p_strong`` precision). An edge that would leave a bin empty (many equal values) is dropped."""
    ordered = sorted(values)
    n = len(ordered)
    inner: list[float] = []
    for k in range(1, bins):
        idx = round(k * n / bins)
        if not 0 < idx < n:
            continue
        edge = round((ordered[idx - 1] + ordered[idx]) / 2, decimals)
        below = bisect.bisect_left(ordered, edge) - bisect.bisect_left(ordered, inner[-1] if inner else -math.inf)
        if 0.0 < edge < 1.0 and (not inner or edge > inner[-1]) and below > 0:
            inner.append(edge)
    if inner and bisect.bisect_left(ordered, inner[-1]) == n:  # nothing at or above the last edge
        inner.pop()
    return (0.0, *inner, 1.0)


def bin_index(value: float, edges: Sequence[float]) -> int:
    """The bin of ``value``: ``edges[i] <= value < edges[i+1]``; below the first edge → 0, at or above the last → the
    last bin. The SQL the report runs (``sql.bin_case``) assigns the same."""
    for i in range(1, len(edges) - 1):
        if value < edges[i]:
            return i - 1
    return len(edges) - 2


def histogram(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """Shares of ``values`` in the bins of ``edges`` (all zeros when ``values`` is empty)."""
    counts = [0] * (len(edges) - 1)
    for v in values:
        counts[bin_index(v, edges)] += 1
    total = len(values)
    return [c / total if total else 0.0 for c in counts]


def reference_from_scores(
    tasks: Sequence[str],
    p_strong: Sequence[float],
    *,
    labels: Sequence[str] = (),
    bins: int = 10,
    classifier_version: str | None = None,
    sample: str = "",
) -> DriftReference:
    """The drift reference of a scored sample: each request's top task and ``p_strong`` (as the bundle scores them).

    ``labels``: every label of the bundle, so that a task absent from the sample is written with share 0; ``bins``:
    how many equal-count ``p_strong`` bins (fewer when many scores are equal)."""
    if not tasks or len(tasks) != len(p_strong):
        raise ValueError("need one task and one p_strong per scored request, and at least one request")
    n = len(tasks)
    counts: dict[str, int] = dict.fromkeys(labels, 0)
    for t in tasks:
        counts[t] = counts.get(t, 0) + 1
    rounded = [round(float(p), 4) for p in p_strong]
    edges = quantile_edges(rounded, bins)
    shares = tuple(round(s, 6) for s in histogram(rounded, edges))
    return DriftReference(
        task_shares={t: round(c / n, 6) for t, c in counts.items()},
        edges=edges,
        shares=shares,
        n=n,
        classifier_version=classifier_version,
        sample=sample,
    )


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """The Population Stability Index of ``actual`` shares against ``expected`` shares (same bins)."""
    total = 0.0
    for exp, act in zip(expected, actual, strict=True):
        e, a = max(exp, EPSILON), max(act, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def reading(value: float | None) -> Verdict:
    """The usual reading of a PSI: < 0.1 stable, 0.1–0.25 watch, > 0.25 retrain."""
    if value is None:
        return "no data"
    if value < STABLE_BELOW:
        return "stable"
    return "watch" if value <= RETRAIN_ABOVE else "retrain"


@dataclass(frozen=True)
class Shift:
    """One bin's part in a PSI: its share in the reference and in the window, and its term of the sum."""

    bin: str
    expected: float
    actual: float
    term: float


@dataclass(frozen=True)
class Comparison:
    """One distribution compared: its PSI, the reading, and every bin's shift (largest term first)."""

    psi: float | None
    verdict: Verdict
    shifts: tuple[Shift, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "psi": self.psi,
            "verdict": self.verdict,
            "bins": [s.__dict__ for s in self.shifts],
        }


def compare(names: Sequence[str], expected: Sequence[float], actual_counts: Sequence[int]) -> Comparison:
    """PSI of ``actual_counts`` (one per bin, in the order of ``names``) against ``expected`` shares."""
    n = sum(actual_counts)
    if n == 0:
        return Comparison(None, "no data", ())
    actual = [c / n for c in actual_counts]
    shifts = []
    for name, e, a in zip(names, expected, actual, strict=True):
        fe, fa = max(e, EPSILON), max(a, EPSILON)
        shifts.append(Shift(name, e, a, (fa - fe) * math.log(fa / fe)))
    value = psi(expected, actual)
    shifts.sort(key=lambda s: (-s.term, s.bin))
    return Comparison(value, reading(value), tuple(shifts))


@dataclass(frozen=True)
class DriftResult:
    """The drift check of a report: both comparisons, the verdict (the worse of the two) and why."""

    against: Literal["reference", "first half"]
    reference_version: str | None
    n_reference: int
    n_window: int
    tasks: Comparison
    p_strong: Comparison
    edges: tuple[float, ...]
    verdict: Verdict
    why: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "reference_classifier_version": self.reference_version,
            "n_reference": self.n_reference,
            "n_window": self.n_window,
            "task": self.tasks.to_dict(),
            "p_strong": {**self.p_strong.to_dict(), "edges": list(self.edges)},
            "verdict": self.verdict,
            "why": self.why,
            "notes": list(self.notes),
        }


def bin_names(edges: Sequence[float]) -> list[str]:
    return [f"[{a:.4g}, {b:.4g})" for a, b in itertools.pairwise(edges)]


ADVICE: dict[str, str] = {
    "stable": "no action: recent traffic looks like the reference",
    "watch": "watch: the traffic is moving away from the reference; retrain if it keeps moving or passes 0.25",
    "retrain": "retrain: the traffic has moved away from the reference (`triage train`, then shadow the candidate)",
    "no data": "no classified requests to compare",
    "too few": f"too few classified requests for a verdict (fewer than {MIN_REQUESTS}): widen the window",
}


def _why(tasks: Comparison, scores: Comparison, against: str, verdict: Verdict) -> str:
    """The advice for ``verdict``, then each PSI against its reading and the bins that moved most."""
    parts = []
    for what, comp in (("task", tasks), ("p_strong", scores)):
        if comp.psi is None:
            continue
        moved = [s for s in comp.shifts[:2] if s.term >= 0.01]
        detail = "; ".join(f"{s.bin} {s.expected:.1%} → {s.actual:.1%}" for s in moved)
        parts.append(f"{what} PSI {comp.psi:.3f} ({comp.verdict})" + (f": {detail}" if detail else ""))
    return f"{ADVICE[verdict]}. Against the {against}: " + ", ".join(parts) if parts else ADVICE[verdict]


def check(
    task_counts: Mapping[str, int],
    bin_counts: Sequence[int],
    reference: DriftReference,
    *,
    against: Literal["reference", "first half"] = "reference",
    notes: Sequence[str] = (),
) -> DriftResult:
    """Compare the window's task counts and ``p_strong`` bin counts (bins of ``reference.edges``) with ``reference``."""
    labels = list(reference.task_shares) + sorted(set(task_counts) - set(reference.task_shares))
    tasks = compare(
        labels, [reference.task_shares.get(t, 0.0) for t in labels], [task_counts.get(t, 0) for t in labels]
    )
    scores = compare(bin_names(reference.edges), reference.shares, bin_counts)
    verdict: Verdict = max((tasks.verdict, scores.verdict), key=lambda v: _RANK[v])
    n_window = sum(task_counts.values())
    if 0 < n_window < MIN_REQUESTS:
        verdict = "too few"
    all_notes = list(notes)
    if 0 < n_window < FEW_REQUESTS:
        all_notes.append(f"only {n_window} classified requests in the window: a PSI this small a sample is noisy")
    return DriftResult(
        against=against,
        reference_version=reference.classifier_version,
        n_reference=reference.n,
        n_window=n_window,
        tasks=tasks,
        p_strong=scores,
        edges=tuple(reference.edges),
        verdict=verdict,
        why=_why(tasks, scores, "reference" if against == "reference" else "window's first half", verdict),
        notes=tuple(all_notes),
    )


def reference_from_counts(
    task_counts: Mapping[str, int], bin_counts: Sequence[int], edges: Sequence[float]
) -> DriftReference:
    """A reference made of observed counts (the window's first half, when no bundle reference exists)."""
    n_tasks, n_bins = sum(task_counts.values()), sum(bin_counts)
    return DriftReference(
        task_shares={t: c / n_tasks for t, c in task_counts.items()} if n_tasks else {},
        edges=tuple(edges),
        shares=tuple(c / n_bins if n_bins else 0.0 for c in bin_counts),
        n=n_tasks,
    )
