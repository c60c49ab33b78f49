"""``triage train`` end to end: load → leave-one-source-out protocol → choose → fit on everything → export.

Every figure written to ``metrics.json`` and the model card comes from ``triage.train.protocol``: each task
source and each outcome source is scored by a model fitted without a single row of it (sources the licence keeps
out of training are held out by construction), next to prompt length alone and random routing. The difficulty
setup is chosen by the protocol's rule; the shipped weights are then fitted on all trainable data.

With ``TrainOptions.feedback`` (``triage train --feedback STORE``) the same run writes a *candidate* instead: the
difficulty head gets a residual fitted on the decision store's feedback (``triage.train.feedback``), and the card
and ``metrics.json`` (``evaluation.feedback``) put its figures next to the current bundle's. Every bundle gets the
report's ``drift_reference.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
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
from triage.classifier.onnx_model import MANIFEST_FILE, default_bundle_dir
from triage.config import DEFAULT_TASK_BIAS
from triage.requests.input import RoutingInput
from triage.train import card, data, export, feedback, fingerprints, i18n, protocol, routing_eval, synth, synth_vocab
from triage.train import outcome_sources as osrc
from triage.train import task_sources as tsrc
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
from triage.train.scoring import write_scores

log = logging.getLogger("triage.train")

VERSION_BASE = "triage-clf-2.0.0"
METRICS_FILE = "metrics.json"
CARD_FILE = "MODEL_CARD.md"
MODEL_DOC = "Triage request classifier: task distribution and P(strong model needed)"
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TrainOptions:
    """What ``triage train`` was asked to do. The per-source caps shrink runs for tests."""

    data: Path
    out: Path
    seed: int = 0
    synth_per_template: int = 40
    i18n_per_template: int = 8
    t0_per_template: int | None = 30
    bbh_per_task: int | None = 40
    gsm8k_limit: int | None = 1500
    math_limit: int | None = 1500
    real_user_weight: float = 3.0  # per-example weight multiplier of the real users' own requests
    task_fit: FitConfig = field(default_factory=FitConfig)
    strong_fit: FitConfig = field(default_factory=lambda: FitConfig(epochs=1, lr=0.01, l2=1e-3))
    length_betas: tuple[float, ...] = (0.15, 0.3, 0.6)
    leave_one_source_out: bool = True
    measure_latency: bool = True
    features: FeatureConfig = field(default_factory=FeatureConfig)
    fp16: bool = True
    oof_scores: Path | None = None  # write every outcome source's held-out policy scores here (JSONL prompt/score)
    feedback: feedback.FeedbackOptions | None = None  # retrain from a decision store: writes a candidate bundle


DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")


def options_from_file(path: Path | None, *, data: Path, out: Path, **overrides: Any) -> TrainOptions:
    """``TrainOptions`` from a hyper-parameter file (``defaults.toml`` when None); ``overrides`` win."""
    raw = tomllib.loads((path or DEFAULTS_FILE).read_text(encoding="utf-8"))
    known = {"seed", "data", "task_fit", "strong_fit", "difficulty", "export"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    seed = int(raw.get("seed", 0))
    kwargs: dict[str, Any] = {"seed": seed, **raw.get("data", {})}
    if "length_betas" in raw.get("difficulty", {}):
        kwargs["length_betas"] = tuple(float(b) for b in raw["difficulty"]["length_betas"])
    for name in ("task_fit", "strong_fit"):
        if name in raw:
            kwargs[name] = FitConfig(**{"seed": seed, **raw[name]})
    kwargs.update(raw.get("export", {}))
    kwargs.update(overrides)
    return TrainOptions(data=data, out=out, **kwargs)


@dataclass
class Corpus:
    """Everything loaded for one run: labelled task examples and the outcome sources."""

    examples: list[data.Example]
    outcomes: list[osrc.Source]
    excluded: dict[str, str]


EXCLUDED = {
    "routing_outcomes/routerdc_7model": "licence unclear (RouterDC): evaluation only, each dataset a held-out source",
    "routing_outcomes/routerbench_subset": "licence unclear (RouterDC's packaging of RouterBench): evaluation only",
    "routing_outcomes/alpaca_eval": "non-commercial (NC): evaluation only",
    "tasks/chat_prompts/flask_*": "licence unclear",
    "tasks/chat_prompts/wizardlm_testset": "non-commercial (NC)",
    "tasks/self_instruct/user_oriented_instructions": "its authors ask that it not be trained on: evaluation only",
    "tasks/belle_zh/*": "licence unclear (BELLE restricts its data to research use): evaluation only",
    "tasks/translation_pairs/*": "all files are WMT21/WMT22 test sets (research use only); none is FLORES",
    "tasks/reasoning_bbh/word_sorting": "no task label fits (alphabetical sorting)",
    "tasks/t0_p3_prompts (some templates)": "question-generation and instruction-less templates; see labels.py",
    "arena-hard (non code/math clusters)": "cluster names do not settle the task",
}


def load_corpus(opts: TrainOptions) -> Corpus:
    """Read every permitted source under ``opts.data`` and generate the synthetic requests."""
    root = opts.data
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    seed = opts.seed
    rows = data.load_mmlu_outcomes(root)
    examples: list[data.Example] = list(data.mmlu_examples(rows, seeded(seed, "mmlu")))
    examples += data.load_gsm8k(root, seeded(seed, "gsm8k"), opts.gsm8k_limit)
    examples += data.load_math(root, seeded(seed, "math"), opts.math_limit)
    examples += data.load_bbh(root, seeded(seed, "bbh"), opts.bbh_per_task)
    examples += data.load_t0(root, seeded(seed, "t0"), opts.t0_per_template)
    examples += [e for e in data.load_arena_hard(root) if e.task is not None]
    examples += data.load_humaneval(seeded(seed, "humaneval"))
    examples += data.load_oasst1(root)
    examples += data.load_self_instruct_seed(root)
    passages = data.passages_from_t0(root, seeded(seed, "passages"))
    ctx = synth.SynthContext(
        passages=passages + list(synth_vocab.PASSAGES),
        english=data.english_sentences(passages) + list(synth_vocab.ENGLISH_SENTENCES),
        german=data.german_sources_from_bbh(root),
    )
    examples += synth.generate(ctx, seeded(seed, "synth"), opts.synth_per_template)
    examples += i18n.generate(seeded(seed, "i18n"), opts.i18n_per_template)
    return Corpus(examples=examples, outcomes=osrc.load_all(root), excluded=dict(EXCLUDED))


def task_unit(ex: data.Example) -> str:
    """The unit the protocol holds out whole: the source, and for the hand-written languages their family."""
    return f"i18n:{ex.extra}" if ex.source == "i18n" else ex.source


def language_of(ex: data.Example) -> str:
    """The language of an example's text where the source records it, else ``""``."""
    if ex.source == "oasst1":
        return ex.extra
    if ex.source == "i18n":
        return ex.group.split(":")[1]
    return ""


def _fit_task(x: sp.csr_matrix, ex: Sequence[data.Example], idx: npt.NDArray[np.intp], opts: TrainOptions) -> Head:
    labels = [ex[i].task or "" for i in idx]
    weights = balanced_weights(labels, [task_unit(ex[i]) for i in idx])
    real = np.array([ex[i].source in data.REAL_USER_SOURCES for i in idx])
    weights = np.where(real, weights * np.float32(opts.real_user_weight), weights).astype(np.float32)
    return fit_task_head(x[idx], labels, TASK_LABELS, weights, opts.task_fit)


def task_protocol(
    x: sp.csr_matrix, ex: list[data.Example], opts: TrainOptions, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Per trainable task source held out whole: the scores of a head fitted on every other source."""
    labelled = np.array([i for i, e in enumerate(ex) if e.task is not None], dtype=np.intp)
    units = np.array([task_unit(ex[i]) for i in labelled])
    out: dict[str, Any] = {}
    for unit in sorted(set(units.tolist())):
        held = units == unit
        head = _fit_task(x, ex, labelled[~held], opts)
        idx = labelled[held]
        pred = [TASK_LABELS[j] for j in predict_task(head, x[idx]).argmax(axis=1)]
        truth = [ex[i].task or "" for i in idx]
        row = protocol.task_scores(truth, pred, TASK_LABELS)
        langs = [language_of(ex[i]) for i in idx]
        if any(langs):
            row["by_language"] = protocol.by_language(truth, pred, langs, TASK_LABELS)
        row["real_user"] = unit in data.REAL_USER_SOURCES
        out[unit] = row
        progress(f"task source held out: {unit}: accuracy {row['accuracy']}, macro-F1 {row['macro_f1']} (n={row['n']})")
    return out


def eval_only_tasks(head: Head, featurizer: Featurizer, root: Path) -> dict[str, Any]:
    """The final task head on the evaluation-only real-user sets (never trained on)."""
    out: dict[str, Any] = {}
    for task_set in tsrc.load_eval_sets(root):
        x = design_matrix_of([t for t, _ in task_set.rows], featurizer)
        pred = [TASK_LABELS[j] for j in predict_task(head, x).argmax(axis=1)]
        row = protocol.task_scores([label for _, label in task_set.rows], pred, TASK_LABELS)
        row.update(language=task_set.language, licence=task_set.licence, real_user=True)
        out[task_set.name] = row
    return out


@dataclass(frozen=True)
class StrongSetup:
    """One way to build the difficulty logit: a length prior of weight ``beta`` per ln(token), plus (optionally) a
    head learned from the trainable outcome sources and (optionally) the GSM8K/MATH step priors."""

    name: str
    beta: float
    outcomes: bool
    steps: bool
    scale: float = 1.0  # the learned head's logit is multiplied by this before the prior is added
    numbers: float = 0.0  # prior weight per ln(1 + runs of digits)

    @property
    def prior(self) -> LengthPrior:
        return LengthPrior(beta=self.beta, numbers=self.numbers)

    @property
    def learned(self) -> tuple[bool, bool]:
        return self.outcomes, self.steps


def setups(betas: Sequence[float]) -> list[StrongSetup]:
    out = []
    for beta in betas:
        out.append(StrongSetup(f"length(b={beta})", beta, False, False))
        out.append(StrongSetup(f"length+numbers(b={beta})", beta, False, False, numbers=beta))
        out.append(StrongSetup(f"length(b={beta})+outcomes", beta, True, False))
        out.append(StrongSetup(f"length(b={beta})+outcomes/2", beta, True, False, 0.5))
        out.append(StrongSetup(f"length(b={beta})+outcomes+steps", beta, True, True))
    return out


@dataclass
class OutcomeData:
    """Outcome sources with their features and the final task head's probabilities of their prompts."""

    sources: list[osrc.Source]
    x: dict[str, sp.csr_matrix]
    task_probs: dict[str, F32]
    base: dict[str, protocol.Baselines]


def _strong_rows(
    od: OutcomeData, corpus: Corpus, x_task: sp.csr_matrix, without: str | None, steps: bool
) -> tuple[sp.csr_matrix, F32, F32]:
    """Training rows of a learned difficulty head: every trainable outcome source but ``without`` (each source
    weighs the same in total), plus the step priors when asked."""
    xs: list[sp.csr_matrix] = []
    ys: list[F32] = []
    ws: list[F32] = []
    for s in od.sources:
        if s.trainable and s.name != without:
            t = protocol.outcome_target(s.outcomes()).astype(np.float32)
            xs.append(od.x[s.name])
            ys.append(t)
            ws.append(np.full(len(t), 1.0 / len(t), dtype=np.float32))
    if steps:
        for source in ("gsm8k", "math"):
            idx = np.array([i for i, e in enumerate(corpus.examples) if e.source == source and e.strong is not None])
            if len(idx):
                xs.append(x_task[idx])
                ys.append(np.array([corpus.examples[i].strong for i in idx], dtype=np.float32))
                ws.append(np.full(len(idx), 1.0 / len(idx), dtype=np.float32))
    w = np.concatenate(ws)
    return sp.vstack(xs).tocsr(), np.concatenate(ys), (w * len(w) / w.sum()).astype(np.float32)


def fit_strong(
    setup: StrongSetup,
    od: OutcomeData,
    corpus: Corpus,
    x_task: sp.csr_matrix,
    opts: TrainOptions,
    without: str | None,
    dim: int,
) -> Head:
    """The difficulty head of ``setup``: learned (or zero) weights, then the length prior."""
    if setup.outcomes:
        x, y, w = _strong_rows(od, corpus, x_task, without, setup.steps)
        head = fit_strong_head(x, y.tolist(), w, dataclasses.replace(opts.strong_fit, seed=opts.seed))
        head = Head(head.weights * np.float32(setup.scale), head.bias * np.float32(setup.scale))
    else:
        head = Head(np.zeros((dim, 1), dtype=np.float32), np.zeros(1, dtype=np.float32))
    return add_length_prior(head, opts.features, setup.prior)


def policy_score(head: Head, x: sp.csr_matrix, task_probs: F32, bias: dict[str, float]) -> npt.NDArray[np.float64]:
    return routing_eval.policy_scores(task_probs, predict_strong(head, x).astype(np.float64), TASK_LABELS, bias)


def difficulty_protocol(
    od: OutcomeData,
    corpus: Corpus,
    x_task: sp.csr_matrix,
    opts: TrainOptions,
    dim: int,
    progress: Callable[[str], None],
) -> tuple[list[protocol.SetupResult], dict[str, dict[str, Any]]]:
    """Every setup on every outcome source, each source scored by a head fitted without it; also, per setup, the
    held-out policy scores (for ``--oof-scores``)."""
    results: list[protocol.SetupResult] = []
    held_scores: dict[str, dict[str, Any]] = {}
    learned_cache: dict[tuple[tuple[bool, bool], str | None], Head] = {}
    trainable = {s.name for s in od.sources if s.trainable}
    for setup in setups(opts.length_betas):

        def fit_without(name: str | None, setup: StrongSetup = setup) -> Head:
            key = (setup.learned, name)
            if key not in learned_cache:
                unit = dataclasses.replace(setup, beta=0.0, scale=1.0, numbers=0.0)
                learned_cache[key] = fit_strong(unit, od, corpus, x_task, opts, name, dim)
            head = learned_cache[key]
            scaled = Head(head.weights * np.float32(setup.scale), head.bias * np.float32(setup.scale))
            return add_length_prior(scaled, opts.features, setup.prior)

        heads = protocol.leave_one_out([s.name for s in od.sources], lambda n: n in trainable, fit_without)
        rows: dict[str, dict[str, Any]] = {}
        scores: dict[str, Any] = {}
        for s in od.sources:
            outcomes = s.outcomes()
            with_bias = policy_score(heads[s.name], od.x[s.name], od.task_probs[s.name], DEFAULT_TASK_BIAS)
            without = policy_score(heads[s.name], od.x[s.name], od.task_probs[s.name], {})
            rows[s.name] = {
                **protocol.routing_row(with_bias, outcomes),
                "without_task_bias": protocol.routing_row(without, outcomes)["apgr"],
            }
            scores[s.name] = with_bias
        result = protocol.summarise(setup.name, rows, od.base)
        results.append(result)
        held_scores[setup.name] = scores
        progress(
            f"difficulty setup {setup.name}: mean held-out APGR {result.mean_apgr} (length alone "
            f"{result.mean_length_apgr}), worst loss to length {result.worst_loss_vs_length} ({result.worst_source})"
        )
    return results, held_scores


def design_matrix_of(texts: Sequence[str], featurizer: Featurizer) -> sp.csr_matrix:
    """Features of texts sent as single chat messages, the shape ``triage eval`` scores."""
    examples = [data.Example(RoutingInput.from_text(t), None, "raw", "raw") for t in texts]
    return design_matrix(examples, featurizer)


def measure_serving(bundle: Path, runs: int = 2000, repeats: int = 3) -> dict[str, Any]:
    """Latency (featurize + score) and memory of the bundle, in a fresh interpreter."""
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


def _outcome_data(corpus: Corpus, featurizer: Featurizer, task_head: Head, seed: int) -> OutcomeData:
    x: dict[str, sp.csr_matrix] = {}
    probs: dict[str, F32] = {}
    base: dict[str, protocol.Baselines] = {}
    for s in corpus.outcomes:
        prompts = [i.prompt for i in s.items]
        x[s.name] = design_matrix_of(prompts, featurizer)
        probs[s.name] = predict_task(task_head, x[s.name])
        base[s.name] = protocol.baselines(prompts, s.outcomes(), seed)
    return OutcomeData(corpus.outcomes, x, probs, base)


def train(opts: TrainOptions, progress: Callable[[str], None] = log.info) -> dict[str, Any]:
    """Run the whole pipeline and write the bundle to ``opts.out``; return the metrics written."""
    started = time.monotonic()
    # Read the feedback first: a store that cannot give a candidate fails before the long part.
    fs = feedback.collect(opts.feedback) if opts.feedback is not None else None
    if fs is not None:
        progress(f"feedback: {dict(fs.counts)}; {len(fs.trainable)} targets with a captured input")
    corpus = load_corpus(opts)
    ex = corpus.examples
    progress(f"loaded {len(ex)} task examples: {dict(Counter(task_unit(e) for e in ex))}")
    progress(f"outcome sources: {', '.join(f'{s.name} ({len(s.items)})' for s in corpus.outcomes)}")
    featurizer = Featurizer(opts.features)
    x = design_matrix(ex, featurizer)
    progress(f"features: {x.shape[0]} x {x.shape[1]}, {x.nnz} non-zeros")

    task_loso = task_protocol(x, ex, opts, progress) if opts.leave_one_source_out else {}
    labelled = np.array([i for i, e in enumerate(ex) if e.task is not None], dtype=np.intp)
    task_head = _fit_task(x, ex, labelled, opts)
    task_eval_only = eval_only_tasks(task_head, featurizer, opts.data)
    for name, row in task_eval_only.items():
        progress(f"task, evaluation-only source {name}: accuracy {row['accuracy']}, macro-F1 {row['macro_f1']}")

    od = _outcome_data(corpus, featurizer, task_head, opts.seed)
    results, held_scores = difficulty_protocol(od, corpus, x, opts, featurizer.config.dim, progress)
    chosen, why = protocol.choose(results)
    progress(f"difficulty head: {why}")
    setup = next(s for s in setups(opts.length_betas) if s.name == chosen.name)
    strong_head = fit_strong(setup, od, corpus, x, opts, None, featurizer.config.dim)
    if opts.oof_scores is not None:
        prompts = [i.key for s in od.sources for i in s.items]
        write_scores(opts.oof_scores, prompts, np.concatenate([held_scores[setup.name][s.name] for s in od.sources]))

    candidate: dict[str, Any] | None = None
    if fs is not None:
        base_sha = _model_sha(task_head, strong_head, opts)
        strong_head, candidate = _feedback_candidate(
            fs, corpus, od, x, strong_head, held_scores[setup.name], opts, progress
        )
        candidate["base_part_sha256"] = base_sha

    table, bias = combine(task_head, strong_head)
    model = export.build_model(table, bias, fp16=opts.fp16, doc=MODEL_DOC)
    sha = hashlib.sha256(export.model_bytes(model)).hexdigest()
    version = f"{VERSION_BASE}+{sha[:8]}"
    units = Counter(task_unit(e) for e in ex if e.task is not None)
    metrics: dict[str, Any] = {
        "version": version,
        "seed": opts.seed,
        "evaluation": {
            "task": {"held_out_sources": task_loso, "evaluation_only_sources": task_eval_only},
            "difficulty": {
                "setups": {r.name: _setup_json(r) for r in results},
                "baselines": {
                    s.name: {
                        "n": len(s.items),
                        "kind": s.kind,
                        "trainable": s.trainable,
                        "licence": s.licence,
                        "pair": f"{s.strong} vs {s.weak}",
                        "length_apgr": protocol.finite(od.base[s.name].length_apgr),
                        "random_apgr": protocol.finite(od.base[s.name].random_apgr),
                        "random_spread": protocol.finite(od.base[s.name].random_spread),
                        "measurable": od.base[s.name].measurable,
                    }
                    for s in od.sources
                },
                "chosen": chosen.name,
                "why": why,
                "rule": (
                    f"beat prompt length alone on the mean of the measurable held-out sources and lose to it by at "
                    f"most {protocol.MAX_LOSS_VS_LENGTH} APGR on every one; among those the best mean"
                ),
            },
        },
        "training_examples": {
            "total": len(ex),
            "by_unit": dict(sorted(units.items())),
            "by_task": dict(sorted(Counter(e.task for e in ex if e.task).items())),
            "outcome_rows": {s.name: len(s.items) for s in od.sources if s.trainable},
        },
        "model": {
            "bytes": len(export.model_bytes(model)),
            "table_shape": list(table.shape),
            "dtype": "float16" if opts.fp16 else "float32",
        },
        "fit": {
            "task": asdict(opts.task_fit),
            "strong": asdict(opts.strong_fit),
            "real_user_weight": opts.real_user_weight,
            "length_betas": list(opts.length_betas),
            "length_beta": setup.beta,
        },
        "training_seconds": None,
        "serving": None,
    }
    manifest = {
        "version": version,
        "seed": opts.seed,
        "labels": list(TASK_LABELS),
        "sources": {k: v for k, v in data.LICENCES.items() if any(e.source == k for e in ex)}
        | {s.name: s.licence for s in od.sources if s.trainable},
        "examples_by_source": dict(sorted(Counter(e.source for e in ex).items())),
        "excluded": corpus.excluded,
        "difficulty_head": setup.name,
        "python": platform.python_version(),
    }
    trained_prompts = [i.prompt for s in od.sources if s.trainable for i in s.items] + [
        e.inp.prompt for e in ex if e.source in fingerprints.BENCHMARK_SOURCES
    ]
    extra = {
        METRICS_FILE: json.dumps(metrics, indent=2, sort_keys=True) + "\n",
        fingerprints.FINGERPRINTS_FILE: fingerprints.render(trained_prompts),
    }
    if fs is not None and candidate is not None:
        manifest["candidate"] = _candidate_manifest(fs, candidate)
    export.write_bundle(opts.out, model, TASK_LABELS, opts.features, manifest, extra)
    metrics["evaluation"]["chat_difficulty"] = routing_eval.chat_difficulty(opts.data, opts.out)
    if fs is not None and candidate is not None:
        metrics["evaluation"]["feedback"] = _compare_with_current(fs, candidate, metrics, opts.out)
        progress(f"feedback set: {metrics['evaluation']['feedback']['feedback_set']}")
    _write_drift_reference(opts.data, opts.out, progress)
    if opts.measure_latency:
        metrics["serving"] = measure_serving(opts.out)
        progress(f"serving: {metrics['serving']}")
    metrics["training_seconds"] = round(time.monotonic() - started, 1)
    final_manifest = json.loads((opts.out / MANIFEST_FILE).read_text(encoding="utf-8"))
    (opts.out / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (opts.out / CARD_FILE).write_text(card.render(metrics, final_manifest, asdict(opts.features)), encoding="utf-8")
    progress(f"wrote {opts.out} ({version}) in {metrics['training_seconds']} s")
    return metrics


def _model_sha(task_head: Head, strong_head: Head, opts: TrainOptions) -> str:
    """The sha256 of the model these heads export to (the base part of a candidate, to compare with --base)."""
    table, bias = combine(task_head, strong_head)
    return hashlib.sha256(
        export.model_bytes(export.build_model(table, bias, fp16=opts.fp16, doc=MODEL_DOC))
    ).hexdigest()


def _windowed_fingerprint(prompt: str) -> str:
    """The fingerprint of a prompt as the router sees it (windowed), so a captured input matches its source."""
    return fingerprints.fingerprint(RoutingInput.from_text(prompt).prompt)


def _feedback_candidate(
    fs: feedback.FeedbackSet,
    corpus: Corpus,
    od: OutcomeData,
    x: sp.csr_matrix,
    head: Head,
    held: dict[str, Any],
    opts: TrainOptions,
    progress: Callable[[str], None],
) -> tuple[Head, dict[str, Any]]:
    """The candidate's difficulty head (``head`` plus the residual fitted on the feedback, anchored on base training
    prompts that are in no outcome source) and its held-out routing figures: each outcome source's held-out policy
    scores of the base setup with the residual added (the residual never saw an outcome label)."""
    inputs, _, _ = fs.arrays()
    featurizer = Featurizer(opts.features)
    x_fb = design_matrix([data.Example(inp, None, "feedback", "feedback") for inp in inputs], featurizer)
    in_outcomes = {_windowed_fingerprint(i.prompt) for s in od.sources for i in s.items}
    exclude = np.array([fingerprints.fingerprint(e.inp.prompt) in in_outcomes for e in corpus.examples], dtype=bool)
    rules = fs.options.rules
    idx = feedback.anchor_rows(len(corpus.examples), exclude, rules.max_anchors, opts.seed)
    w64 = head.weights[:, 0].astype(np.float64)

    def logit(m: sp.csr_matrix) -> npt.NDArray[np.float64]:
        return np.asarray(m @ w64, dtype=np.float64) + float(head.bias[0])

    residual = feedback.fit_candidate(fs, x_fb, logit(x_fb), x[idx], logit(x[idx]))
    w, b = residual.dense(featurizer.config.dim)
    progress(
        f"feedback residual: {len(residual.columns)} features, bias {residual.bias:+.4f}, "
        f"{x_fb.shape[0]} targets, {len(idx)} anchors"
    )
    captured = {fingerprints.fingerprint(inp.prompt) for inp in inputs}
    rows: dict[str, dict[str, Any]] = {}
    for s in od.sources:
        outcomes = s.outcomes()
        scores = feedback.shifted(np.asarray(held[s.name], dtype=np.float64), residual.logit(od.x[s.name]))
        overlap = sum(_windowed_fingerprint(i.prompt) in captured for i in s.items)
        rows[s.name] = {
            "candidate": protocol.routing_row(scores, outcomes),
            "base_run_apgr": protocol.routing_row(np.asarray(held[s.name], dtype=np.float64), outcomes)["apgr"],
            "feedback_overlap": overlap,
        }
    stats = {
        "residual_features": len(residual.columns),
        "residual_bias": round(residual.bias, 6),
        "anchors": len(idx),
        "held_out": rows,
    }
    return Head(head.weights + w, head.bias + b), stats


def _candidate_manifest(fs: feedback.FeedbackSet, candidate: dict[str, Any]) -> dict[str, Any]:
    s = feedback.summary(fs)
    base = fs.options.base or default_bundle_dir()
    base_manifest = _read_json(base / MANIFEST_FILE)
    return {
        "state": "candidate: evaluate in shadow first (docs/retraining.md)",
        "base": str(base),
        "base_version": base_manifest.get("version"),
        "base_part_reproduces_base": base_manifest.get("model_sha256") == candidate["base_part_sha256"],
        "store": s["store"],
        "captured": s["captured"],
        "inputs": s["inputs"],
        "window_utc": s["window_utc"],
        "trainable_targets": s["trainable_targets"],
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _current_apgr(base_metrics: dict[str, Any]) -> dict[str, float | None]:
    """Held-out APGR per outcome source as the current bundle's own metrics.json records it (a candidate's own
    figures when the current bundle is itself a feedback candidate)."""
    ev = base_metrics.get("evaluation", {})
    if "feedback" in ev:
        return {k: v["candidate"]["apgr"] for k, v in ev["feedback"]["held_out"].items()}
    diff = ev.get("difficulty", {})
    chosen = diff.get("setups", {}).get(diff.get("chosen"), {})
    return {k: v.get("apgr") for k, v in chosen.get("sources", {}).items()}


def _compare_with_current(
    fs: feedback.FeedbackSet, candidate: dict[str, Any], metrics: dict[str, Any], out: Path
) -> dict[str, Any]:
    """The candidate next to the current bundle (``--base``): held-out routing per outcome source (with length
    alone and random), task macro-F1 per held-out source, and on the feedback set the p_strong each gives, the
    decisions routed differently and the predicted cost change."""
    from triage.classifier.onnx_model import OnnxClassifier  # noqa: PLC0415

    base = fs.options.base or default_bundle_dir()
    base_metrics = _read_json(base / METRICS_FILE)
    current = _current_apgr(base_metrics)
    diff = metrics["evaluation"]["difficulty"]
    held: dict[str, Any] = {}
    for name, row in candidate["held_out"].items():
        b = diff["baselines"][name]
        held[name] = {
            "n": b["n"],
            "trainable": b["trainable"],
            "measurable": b["measurable"],
            "length_apgr": b["length_apgr"],
            "random_apgr": b["random_apgr"],
            "current_apgr": current.get(name),
            "base_run_apgr": row["base_run_apgr"],
            "candidate": row["candidate"],
            "feedback_overlap": row["feedback_overlap"],
        }
    clean = [r for r in held.values() if r["measurable"] and not r["feedback_overlap"]]

    def mean(key: str) -> float | None:
        vals = [r[key] if key != "candidate" else r["candidate"]["apgr"] for r in clean]
        vals = [v for v in vals if v is not None]
        return round(float(np.mean(vals)), 4) if vals and len(vals) == len(clean) else None

    task_now = metrics["evaluation"]["task"]
    task_then = base_metrics.get("evaluation", {}).get("task", {})
    task: dict[str, Any] = {}
    for kind in ("held_out_sources", "evaluation_only_sources"):
        for name, row in task_now.get(kind, {}).items():
            task[name] = {
                "real_user": bool(row.get("real_user")) or kind == "evaluation_only_sources",
                "current_macro_f1": task_then.get(kind, {}).get(name, {}).get("macro_f1"),
                "candidate_macro_f1": row["macro_f1"],
            }
    base_manifest = _read_json(base / MANIFEST_FILE)
    return {
        **feedback.summary(fs),
        "base": str(base),
        "base_version": base_manifest.get("version"),
        "base_part_reproduces_base": base_manifest.get("model_sha256") == candidate["base_part_sha256"],
        "residual": {k: candidate[k] for k in ("residual_features", "residual_bias", "anchors")},
        "held_out": held,
        "held_out_mean": {
            "sources": sorted(n for n, r in held.items() if r in clean),
            "length": mean("length_apgr"),
            "current": mean("current_apgr"),
            "candidate": mean("candidate"),
        },
        "task": task,
        "feedback_set": feedback.feedback_set_figures(fs, OnnxClassifier.load(base), OnnxClassifier.load(out)),
    }


def _write_drift_reference(data_root: Path, bundle: Path, progress: Callable[[str], None]) -> None:
    """``drift_reference.json`` for ``triage report``'s drift check, by the report's own builder (the real-users
    sample of the data directory scored by this bundle); skipped, said so, when the builder or the sample is
    absent."""
    try:
        from triage.report.drift import REFERENCE_FILE  # noqa: PLC0415
        from triage.report.drift_reference import build_reference  # noqa: PLC0415
    except ImportError:
        progress("drift reference: triage.report.drift_reference is not available; not written")
        return
    reference = build_reference(data_root, bundle)
    if reference is None:
        progress(f"drift reference: no real-users sample under {data_root}; not written")
        return
    reference.write(bundle / REFERENCE_FILE)
    progress(f"drift reference: {bundle / REFERENCE_FILE} ({reference.n} requests)")


def _setup_json(r: protocol.SetupResult) -> dict[str, Any]:
    return {
        "sources": r.rows,
        "mean_apgr": protocol.finite(r.mean_apgr),
        "mean_length_apgr": protocol.finite(r.mean_length_apgr),
        "worst_loss_vs_length": protocol.finite(r.worst_loss_vs_length),
        "worst_source": r.worst_source,
        "passes": r.passes,
    }


__all__ = ["CARD_FILE", "METRICS_FILE", "Corpus", "TrainOptions", "load_corpus", "options_from_file", "train"]
