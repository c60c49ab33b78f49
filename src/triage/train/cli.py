"""``triage train [--data DIR] [--out DIR] [--seed N]``: retrain the classifier bundle.

``main`` takes the arguments after ``train`` and returns an exit code: 0 on success, 2 on bad arguments
or a missing data directory.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

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
    return p


def main(argv: list[str]) -> int:
    args_list = argv[1:] if argv[:1] == ["train"] else argv
    args = _parser().parse_args(args_list)
    data = (args.data or repo_root() / ".." / "shared" / "data").resolve()
    out = (args.out or default_bundle_dir()).resolve()
    if not data.is_dir():
        print(f"triage train: data directory {data} does not exist (use --data)", file=sys.stderr)
        return 2
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
            **overrides,
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"triage train: bad --config: {exc}", file=sys.stderr)
        return 2
    metrics = train(opts, progress=lambda msg: print(msg, file=sys.stderr))
    print(f"{metrics['version']}: {metrics['evaluation']['difficulty']['why']}; bundle at {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
