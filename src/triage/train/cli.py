"""``triage train [--data DIR] [--out DIR] [--seed N]``: retrain the classifier bundle.

``triage train --feedback STORE [--captured FILE] [--base BUNDLE] [--out DIR]`` retrains from the feedback in a
decision store (``triage.train.feedback``, docs/retraining.md): a *candidate* bundle, written to a new directory
(default ``candidates/<name>``; never the shipped bundle, never ``--base``, never an existing directory), and the
configuration lines that put it in shadow.

``main`` takes the arguments after ``train`` and returns an exit code: 0 on success, 2 on bad arguments,
a missing data directory, or feedback that cannot give a candidate.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage.classifier.onnx_model import default_bundle_dir


def repo_root() -> Path:
    """The checkout this module runs from (src layout), or the working directory when installed."""
    here = Path(__file__).resolve().parents[3]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="triage train", description="Train the request classifier bundle.")
    p.add_argument("--data", type=Path, default=None, help="data root (default: ../shared/data from the repo root)")
    p.add_argument("--out", type=Path, default=None, help="bundle directory (default: the shipped bundle)")
    p.add_argument(
        "--config", type=Path, default=None, help="hyper-parameter file (default: triage/train/defaults.toml)"
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the config's, 0)")
    p.add_argument(
        "--oof-scores", type=Path, default=None, help="write every outcome source's held-out scores (JSONL) here"
    )
    p.add_argument("--no-loso", action="store_true", help="skip the task head's leave-one-source-out fits")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    f = p.add_argument_group("retraining from feedback (docs/retraining.md)")
    f.add_argument("--feedback", type=Path, metavar="STORE", help="decision store: write a candidate bundle from it")
    f.add_argument(
        "--captured", type=Path, metavar="FILE", help="content capture (file or directory; default STORE/captured)"
    )
    f.add_argument("--base", type=Path, metavar="BUNDLE", help="the current bundle (default: the shipped one)")
    f.add_argument(
        "--triage-config", type=Path, metavar="FILE", help="triage.yaml: ladder, prices, task bias (default: inferred)"
    )
    f.add_argument("--since", help="first decision time (ISO 8601, UTC unless stated)")
    f.add_argument("--until", help="decision times before this (ISO 8601)")
    f.add_argument("--min-bucket", type=int, help="rated decisions before a bucket's rate counts (default 20)")
    f.add_argument("--name", help="the shadow candidate's name (default fb-<today>)")
    return p


def _feedback_options(args: argparse.Namespace) -> Any:
    """``FeedbackOptions`` from the arguments; raises ``FeedbackError`` on a bad one."""
    from triage.train import feedback  # noqa: PLC0415

    rules = feedback.Rules()
    if args.min_bucket is not None:
        if args.min_bucket < 1:
            raise feedback.FeedbackError("--min-bucket must be at least 1")
        rules = feedback.Rules(min_bucket=args.min_bucket)
    if not args.feedback.is_dir():
        raise feedback.FeedbackError(f"--feedback {args.feedback}: not a directory")
    return feedback.FeedbackOptions(
        store=args.feedback.resolve(),
        captured=args.captured.resolve() if args.captured else None,
        base=(args.base or default_bundle_dir()).resolve(),
        triage_config=args.triage_config,
        since_ms=feedback.parse_time(args.since) if args.since else None,
        until_ms=feedback.parse_time(args.until) if args.until else None,
        rules=rules,
    )


def _candidate_out(args: argparse.Namespace, name: str) -> Path:
    """Where the candidate goes: ``--out``, or a new ``candidates/<name>[-k]`` under the working directory."""
    if args.out is not None:
        return Path(args.out).resolve()
    out = Path.cwd() / "candidates" / name
    k = 2
    while out.exists():
        out = out.with_name(f"{name}-{k}")
        k += 1
    return out.resolve()


def shadow_snippet(name: str, out: Path, description: str) -> str:
    """The configuration lines that evaluate the candidate in shadow (never straight to active)."""
    return (
        "shadow:\n"
        "  candidates:\n"
        f"    {name}:\n"
        "      state: shadow\n"
        f"      model: {json.dumps(str(out))}\n"
        f"      description: {json.dumps(description, ensure_ascii=False)}\n"
    )


def main(argv: list[str]) -> int:
    args_list = argv[1:] if argv[:1] == ["train"] else argv
    args = _parser().parse_args(args_list)
    data = (args.data or repo_root() / ".." / "shared" / "data").resolve()
    if not data.is_dir():
        print(f"triage train: data directory {data} does not exist (use --data)", file=sys.stderr)
        return 2
    feedback_only = ("captured", "base", "triage_config", "since", "until", "min_bucket", "name")
    if args.feedback is None and any(getattr(args, k) is not None for k in feedback_only):
        print("triage train: --captured, --base, --since, ... need --feedback STORE", file=sys.stderr)
        return 2
    fb_opts = None
    name = args.name or f"fb-{datetime.now(tz=UTC):%Y%m%d}"  # a config name: [A-Za-z0-9][A-Za-z0-9_.-]*
    if args.feedback is not None:
        from triage.train.feedback import FeedbackError  # noqa: PLC0415

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            print(f"triage train: --name {name!r} is not a configuration name ([A-Za-z0-9_.-])", file=sys.stderr)
            return 2

        try:
            fb_opts = _feedback_options(args)
        except FeedbackError as exc:
            print(f"triage train: {exc}", file=sys.stderr)
            return 2
        out = _candidate_out(args, name)
        if args.out is None:
            name = out.name
        shipped = default_bundle_dir().resolve()
        if out in (shipped, fb_opts.base) or (out.exists() and any(out.iterdir())):
            print(
                f"triage train: --out {out} is the shipped bundle, the base, or an existing directory; a candidate "
                "goes to a new directory",
                file=sys.stderr,
            )
            return 2
    else:
        out = (args.out or default_bundle_dir()).resolve()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    # Imported here: the training stack (scipy, onnx) is an optional extra the service never needs.
    from triage.train.pipeline import options_from_file, train  # noqa: PLC0415

    overrides = {"seed": args.seed} if args.seed is not None else {}
    try:
        opts = options_from_file(
            args.config,
            data=data,
            out=out,
            leave_one_source_out=not args.no_loso,
            measure_latency=not args.no_latency,
            oof_scores=args.oof_scores,
            feedback=fb_opts,
            **overrides,
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"triage train: bad --config: {exc}", file=sys.stderr)
        return 2
    if fb_opts is None:
        metrics = train(opts, progress=lambda msg: print(msg, file=sys.stderr))
        print(f"{metrics['version']}: {metrics['evaluation']['difficulty']['why']}; bundle at {out}")
        return 0
    from triage.errors import ConfigError  # noqa: PLC0415
    from triage.train.feedback import FeedbackError  # noqa: PLC0415

    try:
        metrics = train(opts, progress=lambda msg: print(msg, file=sys.stderr))
    except (FeedbackError, ConfigError) as exc:
        print(f"triage train: {exc}", file=sys.stderr)
        return 2
    fb = metrics["evaluation"]["feedback"]
    fs, mean = fb["feedback_set"], fb["held_out_mean"]
    window = " – ".join(fb["window_utc"] or [])
    print(
        f"candidate {metrics['version']} at {out}: {sum(fb['trainable_targets'].values())} feedback targets "
        f"({window}); held-out APGR {mean['candidate']} (current {mean['current']}, length {mean['length']}); "
        f"on the feedback set {fs['routed_differently']} of {fs['n']} decisions routed differently, predicted cost "
        f"change {fs['cost_delta_usd']:+.4f} USD. Card: {out / 'MODEL_CARD.md'}"
    )
    print("\nEvaluate it in shadow first (add to triage.yaml; promotion to active is a later edit):\n")
    print(shadow_snippet(name, out, f"retrained from feedback {window}"), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
