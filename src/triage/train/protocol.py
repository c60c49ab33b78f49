"""The evaluation protocol: leave one *source* out, for both heads, every figure next to its baselines.

A router meets sources it never saw (another benchmark, another product's users, another language), so every
figure here is measured on a source held out whole: the model that scores it was fitted without a single row of
it. Sources the licence keeps out of training are held out by construction. Neighbours of the training data
(other subjects of one benchmark, other templates of one generator) are not held out sources and are never
reported as such.

- **Task head**: per held-out task source, accuracy and macro-F1 over the labels that source has, and the same
  per language where the source says it (``language_of``).
- **Difficulty**: per held-out outcome source, RouteLLM's APGR / CPT(50%) / CPT(80%) of the policy score, next
  to prompt length alone and random routing (mean and spread over random scores). A source whose two models
  differ too little for any router to be ranked (random APGR spread above ``MEASURABLE_SPREAD``) is reported but
  kept out of the means and of the selection rule.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from triage.train.evaluate import task_metrics
from triage.train.routing_metrics import Outcomes, report

F64 = npt.NDArray[np.float64]
MEASURABLE_SPREAD = 0.05  # random-routing APGR standard deviation above which a source cannot rank routers
RANDOM_DRAWS = 30
MAX_LOSS_VS_LENGTH = 0.02  # the shipped difficulty setup may lose at most this much APGR to length on any source


def task_scores(truth: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy and macro-F1 over the labels present in ``truth`` (a source's own label set), with the support."""
    m = task_metrics(truth, pred, labels)  # macro-F1 over the labels with support in ``truth``
    return {
        "n": len(truth),
        "accuracy": round(float(m["accuracy"]), 4),
        "macro_f1": round(float(m["macro_f1"]), 4),
        "labels": len(m["per_class"]),
        "predicted": dict(Counter(pred).most_common(5)),
        "per_class_f1": {k: round(float(v["f1"]), 3) for k, v in m["per_class"].items()},
    }


def by_language(
    truth: Sequence[str], pred: Sequence[str], langs: Sequence[str], labels: Sequence[str], min_n: int = 15
) -> dict[str, dict[str, Any]]:
    """``task_scores`` per language with at least ``min_n`` rows; ``non-en`` pools every other language."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(langs):
        if lang:
            groups[lang].append(i)
            if lang != "en":
                groups["non-en"].append(i)
    out: dict[str, dict[str, Any]] = {}
    for lang, idx in sorted(groups.items()):
        if len(idx) >= min_n:
            row = task_scores([truth[i] for i in idx], [pred[i] for i in idx], labels)
            out[lang] = {k: row[k] for k in ("n", "accuracy", "macro_f1", "labels")}
    return out


@dataclass(frozen=True)
class Baselines:
    """What a routing figure is read against on one source."""

    length_apgr: float
    random_apgr: float
    random_spread: float

    @property
    def measurable(self) -> bool:
        """Whether routers can be ranked here: the two models differ (APGR is defined) and random routing's
        spread is small enough that a difference between routers means something."""
        return not math.isnan(self.length_apgr) and self.random_spread <= MEASURABLE_SPREAD


def prompt_length(prompts: Sequence[str]) -> F64:
    """The simplest baseline score: the prompt's length (any increasing function of it ranks the same)."""
    return np.array([math.log1p(len(p)) for p in prompts], dtype=np.float64)


def baselines(prompts: Sequence[str], outcomes: Outcomes, seed: int = 0) -> Baselines:
    rng = np.random.default_rng(seed)
    draws = [report(rng.random(len(prompts)), outcomes).apgr for _ in range(RANDOM_DRAWS)]
    return Baselines(report(prompt_length(prompts), outcomes).apgr, float(np.mean(draws)), float(np.std(draws)))


def routing_row(scores: F64, outcomes: Outcomes) -> dict[str, Any]:
    rep = report(scores, outcomes)

    def pct(x: float) -> float | None:
        return None if math.isnan(x) else round(100 * x, 1)

    return {"apgr": finite(rep.apgr), "cpt50": pct(rep.cpt50), "cpt80": pct(rep.cpt80)}


def finite(x: float, digits: int = 4) -> float | None:
    """``x`` rounded, or None when it is undefined (NaN): metrics.json stays valid JSON."""
    return None if math.isnan(x) else round(x, digits)


def outcome_target(outcomes: Outcomes) -> F64:
    """The difficulty target of each prompt: 0.5 + half the strong model's advantage per answer, in [0, 1].

    APGR rewards ranking prompts by the strong model's expected gain, so that gain (not "the weak model failed")
    is what the head learns: 1 where only the strong model is right, 0.5 where both agree, 0 where only the weak
    one is."""
    gain = (outcomes.strong - outcomes.weak) / outcomes.count
    return np.clip(0.5 + 0.5 * gain, 0.0, 1.0)


@dataclass(frozen=True)
class SetupResult:
    """One difficulty setup over every source: per-source rows and the summary the selection rule reads."""

    name: str
    rows: dict[str, dict[str, Any]]
    mean_apgr: float
    mean_length_apgr: float
    worst_loss_vs_length: float
    worst_source: str

    @property
    def passes(self) -> bool:
        return self.mean_apgr > self.mean_length_apgr and self.worst_loss_vs_length <= MAX_LOSS_VS_LENGTH


def summarise(name: str, rows: dict[str, dict[str, Any]], base: Mapping[str, Baselines]) -> SetupResult:
    measured = [s for s in rows if base[s].measurable]
    losses = {s: base[s].length_apgr - rows[s]["apgr"] for s in measured}
    worst = max(losses, key=lambda s: losses[s]) if losses else ""
    return SetupResult(
        name,
        rows,
        round(float(np.mean([rows[s]["apgr"] for s in measured])), 4) if measured else math.nan,
        round(float(np.mean([base[s].length_apgr for s in measured])), 4) if measured else math.nan,
        round(losses[worst], 4) if worst else math.nan,
        worst,
    )


def choose(results: Sequence[SetupResult]) -> tuple[SetupResult, str]:
    """The rule, fixed before any number was seen: among setups that beat prompt length alone on the mean of the
    measurable held-out sources and lose to it by at most ``MAX_LOSS_VS_LENGTH`` on every one, the best mean;
    when none does, the setup with the smallest worst-source loss (the honest fallback), said so."""
    passing = [r for r in results if r.passes]
    if passing:
        best = max(passing, key=lambda r: r.mean_apgr)
        return best, (
            f"{best.name}: mean held-out APGR {best.mean_apgr} against prompt length alone {best.mean_length_apgr}, "
            f"worst loss to length {best.worst_loss_vs_length} ({best.worst_source})"
        )
    best = min(results, key=lambda r: (r.worst_loss_vs_length, -r.mean_apgr))
    return best, (
        f"no setup met the rule (beat length on the mean and lose at most {MAX_LOSS_VS_LENGTH} on every source); "
        f"shipped the smallest worst-source loss: {best.name}, mean {best.mean_apgr} vs length "
        f"{best.mean_length_apgr}, worst loss {best.worst_loss_vs_length} ({best.worst_source})"
    )


def leave_one_out(
    units: Sequence[str], trainable: Callable[[str], bool], fit_without: Callable[[str | None], Any]
) -> dict[str, Any]:
    """The fitted model each unit is scored by: fitted without that unit when it is trainable, else the model
    fitted on everything trainable (fitted once and shared)."""
    models: dict[str, Any] = {}
    shared: Any = None
    for unit in units:
        if trainable(unit):
            models[unit] = fit_without(unit)
        else:
            if shared is None:
                shared = fit_without(None)
            models[unit] = shared
    return models
