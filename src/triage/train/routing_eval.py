"""Routing quality measured by ``triage train``: out-of-fold MMLU by subject, RouterBench as a second yardstick,
and the difficulty score against the annotated difficulty of real-user-style instructions (FLASK, WizardLM).

Both use the metric code of ``triage.train.routing_metrics`` and the live policy's score
(``sigmoid(logit(p_strong) + Σ P(task)·bias)``), with and without the task bias, so the model card shows what
the bias is worth. RouterBench (GPT-4-1106 vs Mixtral-8x7B-chat outcomes on ARC-Challenge, MBPP and
Winogrande, test splits) has an unclear licence: it is read here for evaluation only, never trained on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from triage.config import DEFAULT_TASK_BIAS
from triage.train import benchmarks as bm
from triage.train import fingerprints
from triage.train.evaluate import spearman
from triage.train.jsonl import read_objects
from triage.train.routing_metrics import Outcomes, RoutingReport, report

ROUTERBENCH_WEAK = "mistralai/mixtral-8x7b-chat"
ROUTERBENCH_FILES = ("arc_challenge_test.csv", "mbpp_test.csv", "winograde_test.csv")


def policy_scores(
    task_probs: npt.NDArray[np.float32],
    p_strong: npt.NDArray[np.float64],
    labels: Sequence[str],
    bias: Mapping[str, float],
) -> npt.NDArray[np.float64]:
    """The policy's strong score for rows of task probabilities and ``p_strong`` (vectorised ``strong_score``)."""
    shift = np.asarray(task_probs, dtype=np.float64) @ np.array([bias.get(label, 0.0) for label in labels])
    p = np.clip(np.asarray(p_strong, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.asarray(1.0 / (1.0 + np.exp(-(np.log(p / (1 - p)) + shift))), dtype=np.float64)


def summary(rep: RoutingReport) -> dict[str, Any]:
    """APGR and CPT (percent) of a report, rounded for metrics.json."""

    def pct(x: float) -> float | None:
        return None if math.isnan(x) else round(100 * x, 1)

    return {"n": rep.n, "apgr": round(rep.apgr, 4), "cpt50": pct(rep.cpt50), "cpt80": pct(rep.cpt80)}


def mmlu_outcomes(strong_correct: Sequence[bool], weak_correct: Sequence[bool]) -> Outcomes:
    return Outcomes.of([float(s) for s in strong_correct], [float(w) for w in weak_correct])


def bundle_scores(bundle: Path, prompts: Sequence[str]) -> dict[str, npt.NDArray[np.float64]]:
    """The bundle's policy score of every prompt with the default task bias (``with_task_bias``) and without
    (``without_task_bias``, i.e. ``p_strong``): one model load, one classification per prompt."""
    from triage.classifier.onnx_model import OnnxClassifier  # noqa: PLC0415
    from triage.requests.input import RoutingInput  # noqa: PLC0415

    classifier = OnnxClassifier.load(bundle)
    scores = [classifier.score(RoutingInput.from_text(p)) for p in prompts]
    p_strong = np.array([s.p_strong for s in scores], dtype=np.float64)
    probs = np.array([[s.task_probs.get(label, 0.0) for label in classifier.labels] for s in scores], dtype=np.float32)
    return {
        "with_task_bias": policy_scores(probs, p_strong, classifier.labels, DEFAULT_TASK_BIAS),
        "without_task_bias": p_strong,
    }


def routerbench(root: Path, bundle: Path) -> dict[str, Any]:
    """APGR/CPT of the bundle on RouterBench's test splits, with and without the default task bias."""
    folder = root / "routing_outcomes" / "routerbench_subset"
    items: list[bm.Item] = []
    for name in ROUTERBENCH_FILES:
        if (folder / name).exists():
            items += bm.load_outcomes(folder / name, bm.DEFAULT_STRONG, ROUTERBENCH_WEAK, set()).items
    if not items:
        return {}
    bench = bm.Benchmark("routerbench_test", items)
    out: dict[str, Any] = {"files": list(ROUTERBENCH_FILES), "weak": ROUTERBENCH_WEAK}
    for key, scores in bundle_scores(bundle, [i.prompt for i in items]).items():
        out[key] = summary(report(scores, bench.outcomes()))
    return out


# FLASK's per-instruction difficulty, as an ordinal scale (its annotation levels).
FLASK_LEVELS = {
    "simple lifestyle knowledge": 1,
    "advanced lifestyle knowledge": 2,
    "formal education knowledge": 3,
    "major level knowledge": 4,
    "expert level knowledge": 5,
}


def _chat_prompts(root: Path) -> dict[str, tuple[list[str], list[float]]]:
    """(prompts, annotated difficulty) of the real-user-style instruction sets that are present."""
    folder = root / "tasks" / "chat_prompts"
    out: dict[str, tuple[list[str], list[float]]] = {}
    flask = folder / "flask_evaluation.jsonl"
    if flask.exists():
        rows = [doc for _, doc in read_objects(flask, ValueError) if doc.get("difficulty") in FLASK_LEVELS]
        out["flask"] = ([str(r["instruction"]) for r in rows], [float(FLASK_LEVELS[r["difficulty"]]) for r in rows])
    wizard = folder / "wizardlm_testset.jsonl"
    if wizard.exists():
        rows = [doc for _, doc in read_objects(wizard, ValueError) if isinstance(doc.get("Difficulty"), int | float)]
        out["wizardlm"] = ([str(r["Instruction"]) for r in rows], [float(r["Difficulty"]) for r in rows])
    return out


def chat_difficulty(root: Path, bundle: Path) -> dict[str, Any]:
    """Spearman correlation between the bundle's scores and the annotated difficulty of real-user-style
    instructions (FLASK 1-5, WizardLM test set 1-10), next to prompt length alone. Their licences (unclear, NC)
    allow evaluation only: these files are never trained on."""
    out: dict[str, Any] = {}
    for name, (prompts, difficulty) in _chat_prompts(root).items():
        if len(prompts) < 3:
            continue
        scores = bundle_scores(bundle, prompts)
        out[name] = {
            "n": len(prompts),
            "spearman_policy": spearman(scores["with_task_bias"], difficulty),
            "spearman_p_strong": spearman(scores["without_task_bias"], difficulty),
            "spearman_length_only": spearman([math.log(1 + len(p)) for p in prompts], difficulty),
        }
    return out


# GSM8K outcome pair for the proxy check: the same 7B base model before and after math tuning, so the gap is
# math skill (the only GSM8K outcomes on hand; RouterDC, licence unclear: evaluation only).
GSM8K_PROXY_STRONG = "meta-math/MetaMath-Mistral-7B"
GSM8K_PROXY_WEAK = "mistralai/Mistral-7B-v0.1"


def gsm8k_proxy(root: Path, bundle: Path) -> dict[str, Any]:
    """APGR/CPT of the bundle on RouterDC's GSM8K-train outcomes for a 7B pair, on the questions the model was
    not trained on (by the bundle's ``trained_prompts.txt``). Not RouteLLM's GPT-4/Mixtral pair, so a check
    of direction next to their 0.622, not a comparison."""
    trained = fingerprints.load(bundle) or frozenset()
    path = root / "routing_outcomes" / "routerdc_7model" / "gsm8k-train.json"
    if not path.exists():
        return {}
    rows = json.loads(path.read_text(encoding="utf-8"))
    items = [
        bm.Item(str(r["question"]), float(r["scores"][GSM8K_PROXY_STRONG]), float(r["scores"][GSM8K_PROXY_WEAK]))
        for r in rows
        if fingerprints.fingerprint(str(r["question"])) not in trained
        and GSM8K_PROXY_STRONG in r.get("scores", {})
        and GSM8K_PROXY_WEAK in r.get("scores", {})
    ]
    if len(items) < 10:
        return {}
    bench = bm.Benchmark("gsm8k_proxy", items)
    prompts = [i.prompt for i in items]
    out: dict[str, Any] = {"strong": GSM8K_PROXY_STRONG, "weak": GSM8K_PROXY_WEAK}
    for key, scores in bundle_scores(bundle, prompts).items():
        out[key] = summary(report(scores, bench.outcomes()))
    lengths = np.array([math.log(1 + len(p)) for p in prompts])
    out["length_only"] = summary(report(lengths, bench.outcomes()))
    return out
