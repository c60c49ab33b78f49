"""``triage eval routing`` and ``triage eval tasks``: measure a model bundle the way the live router uses it.

``routing`` loads a benchmark (``triage.train.benchmarks``), scores every prompt with the live policy's strong
score (``triage.train.scoring``) or reads precomputed scores (``--from-scores``, e.g. the out-of-fold scores
``triage train`` writes), and prints RouteLLM's metrics (``triage.train.routing_metrics``). ``tasks`` scores a
JSONL of ``{"text", "label"}`` lines and prints accuracy, macro-F1, per-class recall and the confusion matrix.

Exit codes: 0 done, 2 bad arguments or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from triage.errors import ModelLoadError
from triage.train import benchmarks as bm
from triage.train import escalation_cli, fingerprints
from triage.train.routing_metrics import DEFAULT_POINTS, RoutingReport, report

EXIT_OK, EXIT_USAGE = 0, 2

# RouteLLM's best published routers (arXiv 2406.18665, GPT-4-1106 vs Mixtral-8x7B), for the printed reference.
PUBLISHED_BEST = {
    "mt-bench": {"apgr": 0.802, "cpt50": 13.4, "cpt80": 31.3},
    "mmlu": {"apgr": 0.603, "cpt50": 35.4},
    "gsm8k": {"apgr": 0.622, "cpt50": 33.6},
}


def _routing_parser(sub: Any) -> None:
    p = sub.add_parser("routing", help="PGR curve, APGR and CPT on a routing benchmark (RouteLLM's metrics)")
    p.add_argument("--benchmark", required=True, choices=["mmlu", "gsm8k", "mt-bench", "outcomes"])
    p.add_argument("--data", type=Path, help="mmlu: directory of mmlu_<subject>.csv; gsm8k/outcomes: a CSV")
    p.add_argument("--questions", type=Path, help="mt-bench: question.jsonl")
    p.add_argument("--judgements", type=Path, help="mt-bench: judgements.jsonl")
    p.add_argument("--strong", default=bm.DEFAULT_STRONG, help=f"strong model column (default {bm.DEFAULT_STRONG})")
    p.add_argument("--weak", default=bm.DEFAULT_WEAK, help=f"weak model column (default {bm.DEFAULT_WEAK})")
    p.add_argument("--exclude", type=Path, help="contaminated_prompts.jsonl: prompts (eval_prompt) to leave out")
    p.add_argument("--model", type=Path, help="model bundle directory (default: the shipped bundle)")
    p.add_argument("--config", type=Path, help="take policy.task_bias from this triage.yaml (default: built-in)")
    p.add_argument("--no-task-bias", action="store_true", help="score with p_strong alone (no task shift)")
    p.add_argument("--from-scores", type=Path, help="read scores (JSONL prompt/score) instead of running a model")
    p.add_argument(
        "--scores", type=Path, help="write one JSON line {prompt, score} per evaluated prompt (prompt as in the file)"
    )
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.add_argument("--plot", type=Path, help="write a PNG of quality vs strong-call share")
    p.add_argument("--points", type=int, default=DEFAULT_POINTS, help="quantile bins of the sweep (default 10)")


def _tasks_parser(sub: Any) -> None:
    p = sub.add_parser("tasks", help="task-head accuracy, macro-F1, per-class recall, confusion matrix")
    p.add_argument("--data", type=Path, required=True, help='JSONL lines {"text": ..., "label": ...}')
    p.add_argument("--model", type=Path, help="model bundle directory (default: the shipped bundle)")
    p.add_argument("--json", type=Path, help="write the metrics as JSON")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="triage eval", description="Evaluate a classifier bundle.")
    sub = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    _routing_parser(sub)
    _tasks_parser(sub)
    escalation_cli.add_parser(sub)
    return p


def load_benchmark(args: argparse.Namespace) -> bm.Benchmark:
    exclude = bm.load_exclude(args.exclude)
    if args.benchmark == "mt-bench":
        if args.questions is None or args.judgements is None:
            raise bm.BenchmarkError("mt-bench needs --questions and --judgements")
        return bm.load_mt_bench(args.questions, args.judgements, args.strong, args.weak, exclude)
    if args.data is None:
        raise bm.BenchmarkError(f"{args.benchmark} needs --data")
    if args.benchmark == "mmlu":
        return bm.load_mmlu(args.data, args.strong, args.weak, exclude)
    if args.benchmark == "gsm8k":
        return bm.load_gsm8k(args.data, args.strong, args.weak, exclude)
    return bm.load_outcomes(args.data, args.strong, args.weak, exclude)


def _trained_on(args: argparse.Namespace, items: list[bm.Item]) -> int | None:
    """How many of the prompts the scoring model was trained on (None: scores from a file, or not recorded)."""
    if args.from_scores is not None:
        return None
    from triage.classifier.onnx_model import default_bundle_dir  # noqa: PLC0415

    return fingerprints.count_trained(args.model or default_bundle_dir(), [i.prompt for i in items])


def _scores(args: argparse.Namespace, items: list[bm.Item]) -> tuple[np.ndarray[Any, np.dtype[np.float64]], str]:
    prompts = [i.prompt for i in items]
    if args.from_scores is not None:
        from triage.train.scoring import read_scores  # noqa: PLC0415

        given = read_scores(args.from_scores)
        missing = [i.key for i in items if i.key not in given and i.prompt not in given]
        if missing:
            raise bm.BenchmarkError(
                f"{args.from_scores}: no score for {len(missing)} prompt(s), e.g. {missing[0]!r:.80}"
            )
        found = [given[i.key] if i.key in given else given[i.prompt] for i in items]
        return np.array(found, dtype=np.float64), f"scores from {args.from_scores}"
    from triage.train.scoring import PolicyScorer  # noqa: PLC0415

    scorer = PolicyScorer.load(args.model, args.config, task_bias=not args.no_task_bias)
    bias = "no task bias" if args.no_task_bias else f"task bias of {args.config or 'the default config'}"
    return scorer.score_all(prompts), f"{scorer.classifier.version}, policy strong score with {bias}"


def _pct(x: float) -> str:
    return "  n/a" if math.isnan(x) else f"{100 * x:5.1f}%"


def _quality(x: float, binary: bool) -> str:
    return f"{100 * x:6.2f}%" if binary else f"{x:7.3f}"


def print_report(
    rep: RoutingReport,
    bench: bm.Benchmark,
    source: str,
    args: argparse.Namespace,
    out: TextIO,
    trained_on: int | None = None,
) -> None:
    binary = all(i.count == 1 and i.strong in (0.0, 1.0) and i.weak in (0.0, 1.0) for i in bench.items)
    w = out.write
    w(
        f"routing quality on {bench.name}: n={rep.n} ({bench.excluded} excluded as contaminated, "
        f"{bench.skipped} without both outcomes)\n"
    )
    strong, weak = _quality(rep.strong_quality, binary), _quality(rep.weak_quality, binary)
    w(f"strong {args.strong}: {strong}; weak {args.weak}: {weak}\n")
    w(f"router: {source}\n\n")
    w(f"{'cut':>3} {'threshold':>10} {'strong':>7} {'quality':>8} {'PGR':>7} {'random':>7} {'oracle PGR':>10}\n")
    gap = rep.strong_quality - rep.weak_quality
    for i, p in enumerate(rep.curve):
        oracle_q = np.interp(p.strong_share, [s for s, _ in rep.oracle_curve], [q for _, q in rep.oracle_curve])
        oracle_pgr = (oracle_q - rep.weak_quality) / gap if gap else math.nan
        w(
            f"{i:>3} {p.threshold:>10.4f} {_pct(p.strong_share):>7} {_quality(p.quality, binary):>8} "
            f"{p.pgr:>7.3f} {p.strong_share:>7.3f} {oracle_pgr:>10.3f}\n"
        )
    w("\n")
    w(f"{'':8} {'APGR':>6} {'CPT(50%)':>9} {'CPT(80%)':>9}\n")
    w(f"{'router':8} {rep.apgr:>6.3f} {_pct(rep.cpt50):>9} {_pct(rep.cpt80):>9}\n")
    w(f"{'random':8} {rep.random_apgr:>6.3f} {_pct(0.5):>9} {_pct(0.8):>9}\n")
    w(f"{'oracle':8} {rep.oracle_apgr:>6.3f} {_pct(rep.oracle_cpt50):>9} {_pct(rep.oracle_cpt80):>9}\n")
    best = PUBLISHED_BEST.get(bench.name)
    if best is not None and not trained_on:  # a figure on training prompts is never printed beside a published one
        cpt80 = f"{best['cpt80']:.1f}%" if "cpt80" in best else "n/a"
        w(
            f"RouteLLM best published on {bench.name}: APGR {best['apgr']:.3f}, CPT(50%) {best['cpt50']:.1f}%, "
            f"CPT(80%) {cpt80}\n"
        )


GROUP_MIN = 20  # smaller groups (subjects, categories, splits) get a count but no APGR of their own


def group_apgr(bench: bm.Benchmark, scores: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, dict[str, Any]]:
    """Per group (MMLU subject, MT-Bench category, RouterBench split): n, and the APGR of routing inside it."""
    out: dict[str, dict[str, Any]] = {}
    names = sorted({i.group for i in bench.items})
    if len(names) < 2:
        return out
    for name in names:
        idx = [k for k, item in enumerate(bench.items) if item.group == name]
        row: dict[str, Any] = {"n": len(idx)}
        part = bm.Benchmark(name, [bench.items[k] for k in idx])
        outcomes = part.outcomes()
        if len(idx) >= GROUP_MIN and outcomes.strong_quality != outcomes.weak_quality:
            row["apgr"] = round(report(scores[idx], outcomes).apgr, 4)
        out[name] = row
    return out


def report_json(
    rep: RoutingReport,
    bench: bm.Benchmark,
    source: str,
    args: argparse.Namespace,
    scores: np.ndarray[Any, np.dtype[np.float64]],
) -> dict[str, Any]:
    """The ``--json`` document: shares and CPT in percent, APGR as a fraction; ``groups`` has the APGR of
    routing inside each group of at least ``GROUP_MIN`` prompts."""

    def pct(x: float) -> float | None:
        return None if math.isnan(x) else round(100 * x, 2)

    return {
        "benchmark": bench.name,
        "router": source,
        "strong_model": args.strong,
        "weak_model": args.weak,
        "n": rep.n,
        "excluded": bench.excluded,
        "skipped": bench.skipped,
        "strong_quality": rep.strong_quality,
        "weak_quality": rep.weak_quality,
        "apgr": round(rep.apgr, 4),
        "cpt50": pct(rep.cpt50),
        "cpt80": pct(rep.cpt80),
        "random": {"apgr": 0.5, "cpt50": 50.0, "cpt80": 80.0},
        "oracle": {"apgr": round(rep.oracle_apgr, 4), "cpt50": pct(rep.oracle_cpt50), "cpt80": pct(rep.oracle_cpt80)},
        "curve": [{**asdict(p), "strong_share": pct(p.strong_share), "pgr": round(p.pgr, 4)} for p in rep.curve],
        "groups": group_apgr(bench, scores),
        "published_best": PUBLISHED_BEST.get(bench.name),
    }


def run_routing(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    bench = load_benchmark(args)
    if not bench.items:
        raise bm.BenchmarkError(f"{bench.name}: no prompts left to evaluate")
    scores, source = _scores(args, bench.items)
    rep = report(scores, bench.outcomes(), args.points)
    trained_on = _trained_on(args, bench.items)
    # Files first: a reader that stops early (`| head`) must not cost the --json, --scores or --plot output.
    if args.scores is not None:
        from triage.train.scoring import write_scores  # noqa: PLC0415

        write_scores(args.scores, [i.key for i in bench.items], scores)
    if args.json is not None:
        doc = report_json(rep, bench, source, args, scores)
        doc["trained_on"] = trained_on
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if args.plot is not None:
        from triage.train.plot import plot_routing  # noqa: PLC0415

        plot_routing(rep, args.plot, title=f"{bench.name} (n={rep.n}): {source}")
    print_report(rep, bench, source, args, out, trained_on)
    if trained_on:
        out.write(
            f"\nnote: the model was trained on {trained_on} of these {len(bench.items)} prompts, so these figures are "
            "in-sample (memory, not routing quality), and no published number is shown beside them. For held-out "
            "figures score prompts the model never saw, e.g. `triage train --oof-scores FILE` (every outcome "
            "source scored by a model fitted without it) then `triage eval routing ... --from-scores FILE`.\n"
        )
    return EXIT_OK


def run_tasks(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from triage.train.task_eval import evaluate_tasks, format_task_metrics, load_task_file  # noqa: PLC0415

    rows = load_task_file(args.data)
    metrics = evaluate_tasks(rows, args.model)
    if args.json is not None:
        args.json.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    out.write(format_task_metrics(metrics))
    return EXIT_OK


def main(argv: Sequence[str]) -> int:
    """Entry point for ``triage eval ...`` (``argv`` without the leading ``eval``)."""
    args = parser().parse_args(list(argv))
    if getattr(args, "points", DEFAULT_POINTS) < 1:
        print("triage eval: --points must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.what == "escalation":
            return escalation_cli.run(args)
        return run_routing(args) if args.what == "routing" else run_tasks(args)
    except BrokenPipeError:  # the reader left (`| head`); the caller quiets stdout
        raise
    except (bm.BenchmarkError, ModelLoadError, OSError, json.JSONDecodeError, KeyError, ValueError) as exc:
        print(f"triage eval {args.what}: {exc}", file=sys.stderr)
        return EXIT_USAGE
