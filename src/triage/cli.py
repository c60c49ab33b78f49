"""``triage`` command line: argv → configuration → command; every command returns an exit code.

Commands: serve, check-config, envoy-config, explain, run (the local stack), demo, train, eval, calibrate, report,
shadow, store.
Heavy modules are imported inside the command that needs them, so ``--help`` and ``check-config`` stay fast.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from triage import __version__
from triage.config import TriageConfig, load_config
from triage.errors import ConfigError, ModelLoadError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", type=Path, help="triage.yaml (default: the embedded default configuration)")


def _workers_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=int,
        choices=range(1, 65),
        metavar="N",
        help="override server.workers: N server processes, one per core (serve and envoy-config must agree)",
    )


def _with_overrides(cfg: TriageConfig, args: argparse.Namespace) -> TriageConfig:
    update: dict[str, object] = {}
    if getattr(args, "listen", None):
        update["listen"] = args.listen
    if getattr(args, "workers", None):
        update["workers"] = args.workers
    return cfg.model_copy(update={"server": cfg.server.model_copy(update=update)}) if update else cfg


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage", description="LLM request router for Envoy (ext_proc sidecar).")
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the ext_proc server")
    _config_arg(p)
    p.add_argument("--listen", action="append", help="override server.listen (host:port or unix:/path)")
    _workers_arg(p)
    p.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)  # set by the supervisor for its workers

    p = sub.add_parser("check-config", help="validate a configuration file and report every problem")
    p.add_argument("file", type=Path)

    p = sub.add_parser("envoy-config", help="write the Envoy bootstrap generated from the configuration")
    _config_arg(p)
    p.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    p.add_argument(
        "--snippet", action="store_true", help="only the filters, routes and clusters to add to an existing Envoy"
    )
    _workers_arg(p)

    p = sub.add_parser("explain", help="show the decision for a prompt and why, without Envoy")
    _config_arg(p)
    p.add_argument("prompt")
    p.add_argument("--tier")
    p.add_argument("--system", default="", help="a system prompt to send along")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("run", help="start Envoy + Triage + three fake providers on 127.0.0.1 until Ctrl-C")
    _config_arg(p)
    p.add_argument(
        "--port-offset", type=int, default=0, help="move every local port of the stack by this much (ports taken)"
    )

    p = sub.add_parser("demo", help="start the local stack, send ~40 prompts through Envoy, print the table")
    _config_arg(p)

    p = sub.add_parser("train", help="train the classifier bundle from ../shared/data", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)

    p = sub.add_parser("eval", help="routing quality (APGR, CPT) and task accuracy of a bundle", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)

    p = sub.add_parser("calibrate", help="set policy.ladder thresholds for target route shares", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)

    p = sub.add_parser(
        "report", help="cost and savings per route, tier, task and provider from a decision store", add_help=False
    )
    p.add_argument("args", nargs=argparse.REMAINDER)

    p = sub.add_parser(
        "shadow", help="what shadow candidate policies would have done (`triage shadow report`)", add_help=False
    )
    p.add_argument("args", nargs=argparse.REMAINDER)

    p = sub.add_parser("store", help="inspect and maintain a decision store", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _load(path: Path | None) -> TriageConfig:
    return load_config(path)


def _cmd_check_config(args: argparse.Namespace) -> int:
    cfg = load_config(args.file)
    print(
        f"{args.file}: OK — {len(cfg.routes)} routes, {len(cfg.clusters)} clusters, {len(cfg.tiers)} tiers, "
        f"default route {cfg.default_route!r}"
    )
    return EXIT_OK


def _cmd_envoy_config(args: argparse.Namespace) -> int:
    from triage.envoy.bootstrap import render_bootstrap, render_snippet  # noqa: PLC0415

    text = (render_snippet if args.snippet else render_bootstrap)(_with_overrides(_load(args.config), args))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    from triage.app import serve  # noqa: PLC0415
    from triage.workers import supervise, worker_config  # noqa: PLC0415

    index: int | None = args.worker_index

    def prepare(cfg: TriageConfig) -> TriageConfig:
        cfg = _with_overrides(cfg, args)
        return cfg if index is None else worker_config(cfg, index)

    cfg = prepare(_load(args.config))
    if index is None and cfg.server.workers > 1:
        child = ["--log-level", args.log_level, "serve", "--workers", str(cfg.server.workers)]
        child += ["--config", str(args.config)] if args.config is not None else []
        child += [f"--listen={a}" for a in args.listen or ()]
        return supervise(cfg, child)
    return asyncio.run(serve(cfg, args.config, prepare=prepare, worker=index))


def _cmd_explain(args: argparse.Namespace) -> int:
    from triage.app import load_classifier  # noqa: PLC0415
    from triage.explain import explain, format_explanation  # noqa: PLC0415

    cfg = _load(args.config)
    if args.tier is not None and args.tier not in cfg.tiers:
        known = ", ".join(sorted(cfg.tiers)) or "(none)"
        print(f"triage explain: unknown tier {args.tier!r} (tiers: {known})", file=sys.stderr)
        return EXIT_USAGE
    classifier = load_classifier(cfg.classifier)
    out = explain(args.prompt, cfg, classifier, tier=args.tier, system=args.system)
    print(json.dumps(out, ensure_ascii=False) if args.json else format_explanation(out))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from triage.sim.stack import run_forever  # noqa: PLC0415

    return int(run_forever(args.config, args.port_offset))


def _cmd_demo(args: argparse.Namespace) -> int:
    from triage.sim.demo import run_demo  # noqa: PLC0415

    return int(run_demo(args.config))


# Commands whose options belong to their own parser (``main(argv) -> int`` in their module), not to this one; the
# module is imported only when its command runs.
_DELEGATED_MODULES = {
    "train": "triage.train.cli",
    "eval": "triage.train.eval_cli",
    "calibrate": "triage.train.calibrate",
    "report": "triage.report.cli",
    "shadow": "triage.shadow_report",
    "store": "triage.store.cli",
}


def _cmd_delegated(args: argparse.Namespace) -> int:
    module = importlib.import_module(_DELEGATED_MODULES[args.command])
    return int(module.main(args.args))


_COMMANDS = {
    "serve": _cmd_serve,
    "check-config": _cmd_check_config,
    "envoy-config": _cmd_envoy_config,
    "explain": _cmd_explain,
    "run": _cmd_run,
    "demo": _cmd_demo,
    **dict.fromkeys(_DELEGATED_MODULES, _cmd_delegated),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in _DELEGATED_MODULES:
        try:
            return _cmd_delegated(argparse.Namespace(command=argv[0], args=argv[1:]))
        except BrokenPipeError:
            _quiet_stdout()
            return EXIT_OK
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.command in ("run", "demo"):  # attempts are in the providers' files; keep the console readable
        logging.getLogger("triage.sim").setLevel(logging.WARNING)
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # `triage explain ... | head`: the reader left; not an error worth a traceback
        _quiet_stdout()
        return EXIT_OK
    except ConfigError as err:
        print(f"triage: invalid configuration — {err}", file=sys.stderr)
        return EXIT_FAILURE
    except ModelLoadError as err:
        print(f"triage: cannot load the classifier — {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise BrokenPipeError again."""
    import os  # noqa: PLC0415

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
