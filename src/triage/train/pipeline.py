"""``triage train`` end to end: load → measure by group folds → fit on everything → export the bundle.

The numbers written to ``metrics.json`` and the model card come from out-of-fold predictions (whole
templates, subjects, tasks and clusters held out) and from leave-one-source-out fits; the shipped
weights are then fitted on all the data with the same settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import platform
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from triage.classifier.base import TASK_LABELS
from triage.classifier.features import FeatureConfig, Featurizer
from triage.classifier.onnx_model import MANIFEST_FILE
from triage.config import DEFAULT_TASK_BIAS
from triage.requests.input import RoutingInput
from triage.train import card, data, export, fingerprints, routing_eval, synth, synth_vocab
from triage.train.evaluate import accuracy_by, group_folds, roc_auc, spearman, task_metrics
from triage.train.model import (
    FitConfig,
    Head,
    LengthPrior,
    add_length_prior,
    balanced_weights,
    combine,
    design_matrix,
    fit_strong_head,
    fit_task_head,
    predict_strong,
    predict_task,
    seeded,
)
from triage.train.routing_metrics import Outcomes, report
from triage.train.scoring import write_scores

log = logging.getLogger("triage.train")

VERSION_BASE = "triage-clf-1.0.0"
METRICS_FILE = "metrics.json"
CARD_FILE = "MODEL_CARD.md"
WEAK_WEIGHT = 0.5  # per-example weight of soft difficulty priors, against 1.0 for a real MMLU outcome
EASY_STRONG_PRIOR = 0.15  # synthetic templates at or below this prior form the "easy" sanity set


@dataclass(frozen=True)
class TrainOptions:
    """What ``triage train`` was asked to do. ``synth_per_template`` and the caps shrink runs for tests."""

    data: Path
    out: Path
    seed: int = 0
    folds: int = 5
    synth_per_template: int = 60
    t0_per_template: int | None = 60
    bbh_per_task: int | None = 70
    gsm8k_limit: int | None = 3000
    math_limit: int | None = 2500
    task_fit: FitConfig = field(default_factory=FitConfig)
    strong_fit: FitConfig = field(default_factory=lambda: FitConfig(epochs=1, lr=0.01, l2=1e-3))
    length_prior: LengthPrior = field(default_factory=lambda: LengthPrior(beta=0.2, cap_chars=1024, ref_chars=256))
    selection_seeds: int = 3  # held-out MMLU APGR of each difficulty setup is the mean over this many seeds
    leave_one_source_out: bool = True
    measure_latency: bool = True
    features: FeatureConfig = field(default_factory=FeatureConfig)
    fp16: bool = True
    oof_scores: Path | None = None  # write out-of-fold MMLU policy scores here (JSONL prompt/score)


DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")


def options_from_file(path: Path | None, *, data: Path, out: Path, **overrides: Any) -> TrainOptions:
    """``TrainOptions`` from a hyper-parameter file (``defaults.toml`` when None); ``overrides`` win."""
    raw = tomllib.loads((path or DEFAULTS_FILE).read_text(encoding="utf-8"))
    known = {"seed", "folds", "selection_seeds", "data", "task_fit", "strong_fit", "length_prior", "export"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    seed = int(raw.get("seed", 0))
    kwargs: dict[str, Any] = {"seed": seed, "folds": int(raw.get("folds", 5)), **raw.get("data", {})}
    if "selection_seeds" in raw:
        kwargs["selection_seeds"] = int(raw["selection_seeds"])
    if "length_prior" in raw:
        kwargs["length_prior"] = LengthPrior(**raw["length_prior"])
    for name in ("task_fit", "strong_fit"):
        if name in raw:
            kwargs[name] = FitConfig(**{"seed": seed, **raw[name]})
    kwargs.update(raw.get("export", {}))
    kwargs.update(overrides)
    return TrainOptions(data=data, out=out, **kwargs)


@dataclass
class Corpus:
    """Everything loaded for one run: task examples, MMLU outcome rows under both labelings."""

    examples: list[data.Example]
    mmlu_weak_wrong: list[float]
    mmlu_strong_only: list[float]
    excluded: dict[str, str]
    mmlu_rows: list[data.MmluRow] = field(default_factory=list)

    def mmlu_outcomes(self) -> Outcomes:
        """Both models' MMLU outcomes, in ``mmlu_rows`` order (the raw prompts' order)."""
        return routing_eval.mmlu_outcomes(
            [r.strong_correct for r in self.mmlu_rows], [r.weak_correct for r in self.mmlu_rows]
        )


def load_corpus(opts: TrainOptions) -> Corpus:
    """Read every permitted source under ``opts.data`` and generate the synthetic requests."""
    root = opts.data
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    seed = opts.seed
    rows = data.load_mmlu_outcomes(root)
    mmlu = data.mmlu_examples(rows, seeded(seed, "mmlu"))
    examples: list[data.Example] = list(mmlu)
    examples += data.load_gsm8k(root, seeded(seed, "gsm8k"), opts.gsm8k_limit)
    examples += data.load_math(root, seeded(seed, "math"), opts.math_limit)
    examples += data.load_bbh(root, seeded(seed, "bbh"), opts.bbh_per_task)
    examples += data.load_t0(root, seeded(seed, "t0"), opts.t0_per_template)
    examples += data.load_arena_hard(root)
    examples += data.load_humaneval(seeded(seed, "humaneval"))
    passages = data.passages_from_t0(root, seeded(seed, "passages"))
    ctx = synth.SynthContext(
        passages=passages + list(synth_vocab.PASSAGES),
        english=data.english_sentences(passages) + list(synth_vocab.ENGLISH_SENTENCES),
        german=data.german_sources_from_bbh(root),
    )
    examples += synth.generate(ctx, seeded(seed, "synth"), opts.synth_per_template)
    excluded = {
        "routing_outcomes/routerdc_7model": (
            "licence unclear (RouterDC): not trained on; its 7B-model GSM8K outcomes only checked the GSM8K target"
        ),
        "routing_outcomes/routerbench_subset": (
            "licence unclear (RouterDC's packaging of RouterBench has no licence): evaluation only"
        ),
        "routing_outcomes/alpaca_eval": "non-commercial (NC)",
        "tasks/chat_prompts/flask_*": "licence unclear",
        "tasks/chat_prompts/wizardlm_testset": "non-commercial (NC)",
        "tasks/translation_pairs/*": "all files are WMT21/WMT22 test sets (research use only); none is FLORES",
        "tasks/reasoning_bbh/word_sorting": "no task label fits (alphabetical sorting)",
        "tasks/t0_p3_prompts (some templates)": "question-generation and instruction-less templates; see labels.py",
        "arena-hard (non code/math clusters)": "cluster names do not settle the task",
    }
    return Corpus(
        examples=examples,
        mmlu_weak_wrong=[float(not r.weak_correct) for r in rows],
        mmlu_strong_only=[float(r.strong_correct and not r.weak_correct) for r in rows],
        excluded=excluded,
        mmlu_rows=rows,
    )


def _fit_task(x: sp.csr_matrix, ex: Sequence[data.Example], idx: npt.NDArray[np.intp], cfg: FitConfig) -> Head:
    labels = [ex[i].task or "" for i in idx]
    weights = balanced_weights(labels, [ex[i].source for i in idx])
    return fit_task_head(x[idx], labels, TASK_LABELS, weights, cfg)


@dataclass(frozen=True)
class RawMmlu:
    """MMLU prompts exactly as the benchmark files hold them, aligned with the corpus's MMLU examples.

    ``index[j]`` is the corpus row of raw prompt ``j`` (same subject, same fold), so out-of-fold predictions
    on the raw prompts measure what ``triage eval routing --benchmark mmlu`` would on unseen subjects.
    """

    x: sp.csr_matrix
    index: npt.NDArray[np.intp]


def evaluate_task_head(
    x: sp.csr_matrix,
    ex: list[data.Example],
    folds: npt.NDArray[np.intp],
    opts: TrainOptions,
    raw: RawMmlu | None = None,
) -> tuple[dict[str, Any], npt.NDArray[np.float32] | None]:
    """Out-of-fold task predictions (groups held out) and leave-one-source-out accuracy; with ``raw``, also
    the out-of-fold task probabilities of the raw MMLU prompts."""
    labelled = np.array([i for i, e in enumerate(ex) if e.task is not None], dtype=np.intp)
    pred = np.empty(len(ex), dtype=object)
    raw_probs = np.zeros((raw.x.shape[0], len(TASK_LABELS)), dtype=np.float32) if raw is not None else None
    for f in range(opts.folds):
        train = labelled[folds[labelled] != f]
        test = labelled[folds[labelled] == f]
        if len(test) == 0:
            continue
        head = _fit_task(x, ex, train, opts.task_fit)
        probs = predict_task(head, x[test])
        pred[test] = [TASK_LABELS[j] for j in probs.argmax(axis=1)]
        if raw is not None and raw_probs is not None:
            held = folds[raw.index] == f
            raw_probs[held] = predict_task(head, raw.x[held])
        log.info("task fold %d/%d done", f + 1, opts.folds)
    truth = [ex[i].task or "" for i in labelled]
    guess = [str(pred[i]) for i in labelled]
    result = task_metrics(truth, guess, TASK_LABELS)
    result["by_source"] = accuracy_by([ex[i].source for i in labelled], truth, guess)
    by_group = accuracy_by([ex[i].group for i in labelled], truth, guess)
    sizable = [kv for kv in by_group.items() if kv[1]["n"] >= 20]  # tiny groups say little
    result["worst_groups"] = dict(sorted(sizable, key=lambda kv: kv[1]["accuracy"])[:15])
    result["by_source_and_task"] = accuracy_by([f"{ex[i].source}/{ex[i].task}" for i in labelled], truth, guess)
    if opts.leave_one_source_out:
        loso: dict[str, Any] = {}
        for source in sorted({ex[i].source for i in labelled}):
            mask = np.array([ex[i].source == source for i in labelled])
            head = _fit_task(x, ex, labelled[~mask], opts.task_fit)
            probs = predict_task(head, x[labelled[mask]])
            got = [TASK_LABELS[j] for j in probs.argmax(axis=1)]
            want = [ex[i].task or "" for i in labelled[mask]]
            loso[source] = {
                "n": int(mask.sum()),
                "accuracy": round(float(np.mean([a == b for a, b in zip(got, want, strict=True)])), 4),
                "predicted": dict(Counter(got).most_common(4)),
            }
            log.info("leave-one-source-out %s: %.3f", source, loso[source]["accuracy"])
        result["leave_one_source_out"] = loso
    return result, raw_probs


@dataclass(frozen=True)
class StrongSetup:
    """One way to train the difficulty head: the MMLU label rule, and which sources' soft priors join in
    with what weight per example (a real MMLU outcome weighs 1)."""

    name: str
    mmlu_target: str  # "weak_wrong" or "strong_only"
    priors: tuple[tuple[str, float], ...] = ()  # (source, weight per example)


_ALL_PRIORS = (("math", WEAK_WEIGHT), ("gsm8k", WEAK_WEIGHT), ("synth", WEAK_WEIGHT))
# GSM8K's solution-length targets alone, weighted up: the within-math ranking MMLU cannot teach.
_GSM8K = (("gsm8k", 2.0),)
# ... plus the arena-hard prompts as "usually needs the strong model": the only real chat prompts with a
# difficulty signal among the commercial-use sources (500 of them, so weighted up as well).
_GSM8K_ARENA = (("gsm8k", 2.0), ("arena_hard", 3.0))
STRONG_SETUPS = (
    StrongSetup("mmlu_weak_wrong", "weak_wrong"),
    StrongSetup("mmlu_strong_only", "strong_only"),
    StrongSetup("mmlu_weak_wrong+priors", "weak_wrong", _ALL_PRIORS),
    StrongSetup("mmlu_strong_only+priors", "strong_only", _ALL_PRIORS),
    StrongSetup("mmlu_weak_wrong+gsm8k", "weak_wrong", _GSM8K),
    StrongSetup("mmlu_strong_only+gsm8k", "strong_only", _GSM8K),
    StrongSetup("mmlu_weak_wrong+gsm8k+arena", "weak_wrong", _GSM8K_ARENA),
    StrongSetup("mmlu_strong_only+gsm8k+arena", "strong_only", _GSM8K_ARENA),
)


def _strong_rows(
    corpus: Corpus, setup: StrongSetup
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(row indices, targets, weights) of the examples that supervise the difficulty head."""
    target = corpus.mmlu_weak_wrong if setup.mmlu_target == "weak_wrong" else corpus.mmlu_strong_only
    prior_weight = dict(setup.priors)
    idx: list[int] = []
    ys: list[float] = []
    ws: list[float] = []
    n_mmlu = 0
    for i, ex in enumerate(corpus.examples):
        if ex.hard_strong:
            idx.append(i)
            ys.append(target[n_mmlu])
            ws.append(1.0)
            n_mmlu += 1
        elif ex.strong is not None and ex.source in prior_weight:
            idx.append(i)
            ys.append(ex.strong)
            ws.append(prior_weight[ex.source])
    return np.array(idx, dtype=np.intp), np.array(ys, dtype=np.float32), np.array(ws, dtype=np.float32)


def _sanity_sets(ex: Sequence[data.Example]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Hard (MATH levels 4-5) and easy (low-prior synthetic requests) rows for a ranking check."""
    hard = [i for i, e in enumerate(ex) if e.source == "math" and e.extra in {"level4", "level5"}]
    easy = [
        i for i, e in enumerate(ex) if e.source == "synth" and e.strong is not None and e.strong <= EASY_STRONG_PRIOR
    ]
    return np.array(hard, dtype=np.intp), np.array(easy, dtype=np.intp)


def fit_strong(
    x: sp.csr_matrix, ys: npt.NDArray[np.float32], ws: npt.NDArray[np.float32], opts: TrainOptions, seed: int
) -> Head:
    """The difficulty head as shipped: a logistic fit of the soft targets, then the length prior."""
    head = fit_strong_head(x, ys.tolist(), ws, dataclasses.replace(opts.strong_fit, seed=seed))
    return add_length_prior(head, opts.features, opts.length_prior)


def evaluate_strong_head(
    x: sp.csr_matrix, corpus: Corpus, folds: npt.NDArray[np.intp], opts: TrainOptions, raw: RawMmlu
) -> tuple[dict[str, Any], dict[str, npt.NDArray[np.float64]]]:
    """Per setup, out of fold: MMLU AUC (both outcome labels) and APGR on the raw prompts of held-out subjects
    (APGR as the mean over ``opts.selection_seeds`` seeds: single runs differ by about 0.01), the rank
    correlation of GSM8K predictions with solution length, and the hard-vs-easy AUC. Also returns each setup's
    out-of-fold ``p_strong`` of the raw MMLU prompts under the run's own seed."""
    ex = corpus.examples
    mmlu_idx = np.array([i for i, e in enumerate(ex) if e.hard_strong], dtype=np.intp)
    gsm8k = np.array([i for i, e in enumerate(ex) if e.source == "gsm8k" and e.strong is not None], dtype=np.intp)
    hard, easy = _sanity_sets(ex)
    outcomes = corpus.mmlu_outcomes()
    seeds = [opts.seed + k for k in range(max(1, opts.selection_seeds))]
    results: dict[str, Any] = {}
    raw_oof: dict[str, npt.NDArray[np.float64]] = {}
    for setup in STRONG_SETUPS:
        rows, ys, ws = _strong_rows(corpus, setup)
        apgrs: list[float] = []
        for seed in seeds:
            oof = np.full(len(ex), np.nan, dtype=np.float64)
            raw_p = np.full(raw.x.shape[0], np.nan, dtype=np.float64)
            for f in range(opts.folds):
                train = folds[rows] != f
                if not train.any():
                    continue
                head = fit_strong(x[rows[train]], ys[train], ws[train], opts, seed)
                test = np.flatnonzero(folds == f)
                oof[test] = predict_strong(head, x[test])
                held = folds[raw.index] == f
                raw_p[held] = predict_strong(head, raw.x[held])
            apgrs.append(report(raw_p, outcomes).apgr)
            if seed == opts.seed:
                first_oof, raw_oof[setup.name] = oof, raw_p
        mmlu_scores = first_oof[mmlu_idx]
        sanity = np.concatenate([first_oof[hard], first_oof[easy]])
        sanity_y = np.concatenate([np.ones(len(hard)), np.zeros(len(easy))])
        results[setup.name] = {
            "mmlu_auc_vs_weak_wrong": round(roc_auc(corpus.mmlu_weak_wrong, mmlu_scores), 4),
            "mmlu_auc_vs_strong_only": round(roc_auc(corpus.mmlu_strong_only, mmlu_scores), 4),
            "mmlu_apgr": round(float(np.mean(apgrs)), 4),
            "mmlu_apgr_by_seed": [round(a, 4) for a in apgrs],
            "gsm8k_spearman_vs_solution_lines": spearman(first_oof[gsm8k], [ex[i].strong or 0.0 for i in gsm8k]),
            "hard_vs_easy_auc": round(roc_auc(sanity_y, sanity), 4),
            "mean_p_hard": round(float(np.nanmean(first_oof[hard])), 4) if len(hard) else math.nan,
            "mean_p_easy": round(float(np.nanmean(first_oof[easy])), 4) if len(easy) else math.nan,
        }
        log.info("strong head %s: %s", setup.name, results[setup.name])
    return results, raw_oof


def within_subject_folds(corpus: Corpus, folds: npt.NDArray[np.intp], k: int, seed: int) -> npt.NDArray[np.intp]:
    """``folds`` with the MMLU rows re-dealt *inside* each subject (every subject in every fold): RouteLLM's
    protocol, which trains on labelled questions of the same subjects it is tested on."""
    out = folds.copy()
    by_subject: dict[str, list[int]] = {}
    rows = iter(corpus.mmlu_rows)
    for i, ex in enumerate(corpus.examples):
        if ex.hard_strong:
            by_subject.setdefault(next(rows).subject, []).append(i)
    for subject in sorted(by_subject):
        idx = by_subject[subject]
        seeded(seed, f"within:{subject}").shuffle(idx)
        for j, i in enumerate(idx):
            out[i] = j % k
    return out


def _mmlu_within_subject(
    x: sp.csr_matrix,
    corpus: Corpus,
    folds: npt.NDArray[np.intp],
    opts: TrainOptions,
    setup: StrongSetup,
    raw: RawMmlu,
    task_probs: npt.NDArray[np.float32],
) -> dict[str, Any]:
    """APGR of the chosen setup when the test subjects were seen in training (other questions of them)."""
    within = within_subject_folds(corpus, folds, opts.folds, opts.seed)
    rows, ys, ws = _strong_rows(corpus, setup)
    raw_p = np.full(raw.x.shape[0], np.nan, dtype=np.float64)
    for f in range(opts.folds):
        train = within[rows] != f
        held = within[raw.index] == f
        if train.any() and held.any():
            raw_p[held] = predict_strong(fit_strong(x[rows[train]], ys[train], ws[train], opts, opts.seed), raw.x[held])
    outcomes = corpus.mmlu_outcomes()
    with_bias = routing_eval.policy_scores(task_probs, raw_p, TASK_LABELS, DEFAULT_TASK_BIAS)
    return {
        "method": f"{opts.folds}-fold cross-validation inside each MMLU subject (RouteLLM's protocol); {setup.name}",
        "with_task_bias": routing_eval.summary(report(with_bias, outcomes)),
        "without_task_bias": routing_eval.summary(report(raw_p, outcomes)),
    }


APGR_TOLERANCE = 0.01  # about the spread of held-out-subject APGR across seeds and folds: closer is a tie


def choose_strong_setup(results: dict[str, Any]) -> tuple[StrongSetup, str]:
    """Among the setups within ``APGR_TOLERANCE`` of the best held-out-subject MMLU APGR (mean over seeds), pick
    the one that ranks GSM8K problems best by solution length (the within-math signal MMLU cannot teach), then
    the best hard-vs-easy ranking."""
    best = max(results[s.name]["mmlu_apgr"] for s in STRONG_SETUPS)
    close = [s for s in STRONG_SETUPS if results[s.name]["mmlu_apgr"] >= best - APGR_TOLERANCE]

    def key(s: StrongSetup) -> tuple[float, float]:
        rho = results[s.name]["gsm8k_spearman_vs_solution_lines"]
        return (-1.0 if rho is None else rho, results[s.name]["hard_vs_easy_auc"])

    chosen = max(close, key=key)
    row = results[chosen.name]
    return chosen, (
        f"{chosen.name}: held-out-subject MMLU APGR {row['mmlu_apgr']} (best of all setups {best}, tolerance "
        f"{APGR_TOLERANCE}), the best GSM8K ranking by solution length among those "
        f"(Spearman {row['gsm8k_spearman_vs_solution_lines']}), hard-vs-easy AUC {row['hard_vs_easy_auc']}"
    )


def design_matrix_of(texts: Sequence[str], featurizer: Featurizer) -> sp.csr_matrix:
    """Features of texts sent as single chat messages, the shape ``triage eval routing`` scores."""
    examples = [data.Example(RoutingInput.from_text(t), None, "raw", "raw") for t in texts]
    return design_matrix(examples, featurizer)


def _mmlu_routing(
    corpus: Corpus, task_probs: npt.NDArray[np.float32], p_strong: npt.NDArray[np.float64], opts: TrainOptions
) -> dict[str, Any]:
    """RouteLLM metrics of the out-of-fold policy scores on MMLU, with and without the default task bias;
    the out-of-fold scores go to ``opts.oof_scores`` for ``triage eval routing --from-scores``."""
    outcomes = corpus.mmlu_outcomes()
    with_bias = routing_eval.policy_scores(task_probs, p_strong, TASK_LABELS, DEFAULT_TASK_BIAS)
    without = routing_eval.policy_scores(task_probs, p_strong, TASK_LABELS, {})
    if opts.oof_scores is not None:
        write_scores(opts.oof_scores, [r.prompt for r in corpus.mmlu_rows], with_bias)
    return {
        "method": f"{opts.folds}-fold cross-validation by MMLU subject; raw benchmark prompts; policy score",
        "with_task_bias": routing_eval.summary(report(with_bias, outcomes)),
        "without_task_bias": routing_eval.summary(report(without, outcomes)),
    }


def measure_serving(bundle: Path, runs: int = 2000, repeats: int = 3) -> dict[str, Any]:
    """Latency (featurize + session.run) and memory of the bundle, in a fresh interpreter."""
    code = (
        "import json,sys,time\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "def rss_kb():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS:'): return int(line.split()[1])\n"
        "    return 0\n"
        "from triage.classifier.onnx_model import OnnxClassifier\n"
        "from triage.requests.input import RoutingInput\n"
        "import_kb=rss_kb()\n"
        "clf=OnnxClassifier.load(Path(sys.argv[1])); clf.warmup()\n"
        "loaded_kb=rss_kb()\n"
        "base='Summarize the following meeting notes and list the action items with owners. '\n"
        "texts={'short_60c':'Write a Python function that merges two sorted lists.',\n"
        "       'chat_600c':(base*8)[:600],'window_3kc':(base*40)[:3000]}\n"
        "out={'rss_mb_after_import':round(import_kb/1024,1),'rss_mb_after_load':round(loaded_kb/1024,1)}\n"
        "for name,t in texts.items():\n"
        "    inp=RoutingInput.from_text(t,system='You are a helpful assistant.')\n"
        "    f=clf.featurizer.featurize; r=clf.run\n"
        "    p50=[];p99=[]\n"
        "    for _ in range(int(sys.argv[3])):\n"
        "        ts=[]\n"
        "        for _ in range(int(sys.argv[2])):\n"
        "            t0=time.perf_counter_ns(); r(*f(inp)); ts.append(time.perf_counter_ns()-t0)\n"
        "        p50.append(float(np.percentile(ts,50))/1000); p99.append(float(np.percentile(ts,99))/1000)\n"
        "    out[name]={'p50_us':[round(min(p50),1),round(float(np.median(p50)),1),round(max(p50),1)],\n"
        "               'p99_us':[round(min(p99),1),round(float(np.median(p99)),1),round(max(p99),1)]}\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(bundle), str(runs), str(repeats)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    result["note"] = f"µs as [min, median, max] of {repeats} repeats of {runs} runs; one core of a shared machine"
    return result


def train(opts: TrainOptions, progress: Callable[[str], None] = log.info) -> dict[str, Any]:
    """Run the whole pipeline and write the bundle to ``opts.out``; return the metrics written."""
    started = time.monotonic()
    corpus = load_corpus(opts)
    ex = corpus.examples
    progress(f"loaded {len(ex)} examples: {dict(Counter(e.source for e in ex))}")
    featurizer = Featurizer(opts.features)
    x = design_matrix(ex, featurizer)
    progress(f"features: {x.shape[0]} x {x.shape[1]}, {x.nnz} non-zeros")
    folds = group_folds(ex, opts.folds, opts.seed)

    mmlu_idx = np.array([i for i, e in enumerate(ex) if e.hard_strong], dtype=np.intp)
    raw = RawMmlu(design_matrix_of([r.prompt for r in corpus.mmlu_rows], featurizer), mmlu_idx)

    task_eval, raw_task = evaluate_task_head(x, ex, folds, opts, raw)
    progress(
        f"task head, {opts.folds}-fold by group: accuracy {task_eval['accuracy']}, macro-F1 {task_eval['macro_f1']}"
    )
    strong_eval, raw_oof = evaluate_strong_head(x, corpus, folds, opts, raw)
    setup, why = choose_strong_setup(strong_eval)
    progress(f"difficulty head: {why}")
    assert raw_task is not None  # evaluate_task_head was given the raw prompts
    routing = _mmlu_routing(corpus, raw_task, raw_oof[setup.name], opts)
    progress(f"MMLU by held-out subject: {routing}")

    labelled = np.array([i for i, e in enumerate(ex) if e.task is not None], dtype=np.intp)
    task_head = _fit_task(x, ex, labelled, opts.task_fit)
    within = _mmlu_within_subject(x, corpus, folds, opts, setup, raw, raw_task)
    progress(f"MMLU within subjects (RouteLLM's protocol): {within}")
    rows, ys, ws = _strong_rows(corpus, setup)
    strong_head = fit_strong(x[rows], ys, ws, opts, opts.seed)
    table, bias = combine(task_head, strong_head)
    model = export.build_model(
        table, bias, fp16=opts.fp16, doc="Triage request classifier: task distribution and P(strong model needed)"
    )
    sha = hashlib.sha256(export.model_bytes(model)).hexdigest()
    version = f"{VERSION_BASE}+{sha[:8]}"

    counts = Counter(f"{e.source}/{e.task}" for e in ex if e.task is not None)
    metrics: dict[str, Any] = {
        "version": version,
        "seed": opts.seed,
        "evaluation": {
            "task": {"method": f"{opts.folds}-fold cross-validation holding out whole groups", **task_eval},
            "difficulty": {"setups": strong_eval, "chosen": setup.name, "why": why},
            "routing": {"mmlu_held_out_subjects": routing, "mmlu_within_subjects": within},
        },
        "training_examples": {
            "total": len(ex),
            "by_source": dict(sorted(Counter(e.source for e in ex).items())),
            "by_task": dict(sorted(Counter(e.task for e in ex if e.task).items())),
            "by_source_and_task": dict(sorted(counts.items())),
            "difficulty_rows": len(rows),
        },
        "model": {
            "bytes": len(export.model_bytes(model)),
            "table_shape": list(table.shape),
            "dtype": "float16" if opts.fp16 else "float32",
        },
        "fit": {
            "task": asdict(opts.task_fit),
            "strong": asdict(opts.strong_fit),
            "length_prior": asdict(opts.length_prior),
            "selection_seeds": opts.selection_seeds,
        },
        "training_seconds": None,
        "serving": None,
    }
    manifest = {
        "version": version,
        "seed": opts.seed,
        "labels": list(TASK_LABELS),
        "sources": {k: v for k, v in data.LICENCES.items() if any(e.source == k for e in ex)},
        "examples_by_source": dict(sorted(Counter(e.source for e in ex).items())),
        "excluded": corpus.excluded,
        "difficulty_head": setup.name,
        "python": platform.python_version(),
    }
    metrics["training_seconds"] = round(time.monotonic() - started, 1)
    benchmark_prompts = [r.prompt for r in corpus.mmlu_rows] + [
        e.inp.prompt for e in ex if e.source in fingerprints.BENCHMARK_SOURCES and e.source != "mmlu"
    ]
    extra = {
        METRICS_FILE: json.dumps(metrics, indent=2, sort_keys=True) + "\n",
        fingerprints.FINGERPRINTS_FILE: fingerprints.render(benchmark_prompts),
    }
    export.write_bundle(opts.out, model, TASK_LABELS, opts.features, manifest, extra)
    metrics["evaluation"]["routing"]["routerbench_test"] = routing_eval.routerbench(opts.data, opts.out)
    progress(f"RouterBench test (evaluation only): {metrics['evaluation']['routing']['routerbench_test']}")
    metrics["evaluation"]["routing"]["gsm8k_proxy"] = routing_eval.gsm8k_proxy(opts.data, opts.out)
    progress(f"GSM8K, 7B pair, unseen questions (evaluation only): {metrics['evaluation']['routing']['gsm8k_proxy']}")
    metrics["evaluation"]["chat_difficulty"] = routing_eval.chat_difficulty(opts.data, opts.out)
    progress(f"real-user prompts, difficulty (evaluation only): {metrics['evaluation']['chat_difficulty']}")
    if opts.measure_latency:
        metrics["serving"] = measure_serving(opts.out)
        progress(f"serving: {metrics['serving']}")
    metrics["training_seconds"] = round(time.monotonic() - started, 1)
    final_manifest = json.loads((opts.out / MANIFEST_FILE).read_text(encoding="utf-8"))
    (opts.out / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (opts.out / CARD_FILE).write_text(card.render(metrics, final_manifest, asdict(opts.features)), encoding="utf-8")
    progress(f"wrote {opts.out} ({version}) in {metrics['training_seconds']} s")
    return metrics
