"""``triage report``: cost attribution per request, rolled up, from a decision store.

``triage report [--store DIR|chdb:DIR] [--config triage.yaml] [--since T] [--until T] [--by hour|day] [--json FILE|-]
[--html FILE] [--reference FILE] [--demo [--seed N]]``

Times: ISO-8601 (``2025-03-03``, ``2025-03-03T12:00``, UTC unless an offset is given), Unix milliseconds, or a
duration back from now (``90m``, ``24h``, ``7d``). The store defaults to the configuration's ``store.path``; the drift
reference to the configured classifier bundle's ``drift_reference.json``. ``--demo`` writes a week of synthetic
traffic (``triage.report.fixtures.write_week``) into a temporary store and reports on it.

Exit codes: 0 the report was written, 1 no store, an unreadable configuration or reference, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from triage.config import TriageConfig, load_config
from triage.errors import ConfigError
from triage.report import drift as dr
from triage.report.build import Report, build_report
from triage.report.sql import Window
from triage.store.query import REMOTE_PREFIXES

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
LOCAL_STORE = ".run/store"  # where `make run`'s stack keeps its store
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, now_ms: int | None = None) -> int:
    """``text`` as Unix milliseconds: an ISO-8601 date or time (UTC unless it says otherwise), Unix ms, or a
    duration back from ``now_ms`` (default: now). Raises ``ValueError`` with what was expected."""
    value = text.strip()
    m = _DURATION.match(value)
    if m:
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        return now - int(float(m.group(1)) * _UNIT_S[m.group(2)] * 1000)
    if value.isdigit() and len(value) >= 12:
        return int(value)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r}: expected an ISO-8601 time (2025-03-03T12:00Z), Unix ms, or a duration back from now (24h, 7d)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="triage report",
        description="What each route costs and saves, the heavy tail, the rates to watch, quality where feedback "
        "exists and the drift check, from a decision store.",
    )
    p.add_argument(
        "--store",
        help="the store: a segment directory, chdb:DIR for a chdb database of the Collector's otel_logs, or "
        "clickhouse://HOST[:8123]/DATABASE for a ClickHouse server's views (default: the configuration's store.path)",
    )
    p.add_argument("--config", "-c", type=Path, help="triage.yaml for prices, tiers and the default route")
    p.add_argument("--since", help="start of the window (ISO-8601, Unix ms, or 24h / 7d back from now)")
    p.add_argument("--until", help="end of the window, excluded (same forms)")
    p.add_argument("--by", choices=("hour", "day"), default="day", help="time buckets (UTC); default day")
    p.add_argument("--json", metavar="FILE|-", help="also write the report as JSON ('-': stdout, instead of the table)")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write one self-contained HTML page")
    p.add_argument("--reference", type=Path, help="the drift reference (default: the classifier bundle's)")
    p.add_argument("--demo", action="store_true", help="report on a week of synthetic traffic in a temporary store")
    p.add_argument("--seed", type=int, default=1, help="the --demo traffic's seed")
    return p


def bundle_reference(config: TriageConfig) -> tuple[Path, str]:
    """Where the configured classifier bundle's drift reference is, and how to name the bundle."""
    if config.classifier.model == "builtin":
        from triage.classifier.onnx_model import default_bundle_dir  # noqa: PLC0415

        return default_bundle_dir() / dr.REFERENCE_FILE, "the shipped classifier bundle"
    return Path(config.classifier.model) / dr.REFERENCE_FILE, f"the classifier bundle {config.classifier.model}"


def _reference(config: TriageConfig, explicit: Path | None) -> tuple[dr.DriftReference | None, str]:
    if explicit is not None:
        return dr.load_reference(explicit), ""
    path, bundle = bundle_reference(config)
    if not path.exists():
        return None, f"{bundle} carries no {dr.REFERENCE_FILE} (python -m triage.report.drift_reference writes one)"
    return dr.load_reference(path), ""


def run(args: argparse.Namespace, target: str, config: TriageConfig, config_name: str) -> Report:
    """The report on the store at ``target``: a segment directory, or ``chdb:DIR`` (``triage.store.open_store``)."""
    from triage.store.query import open_store  # noqa: PLC0415  (duckdb/chdb: only readers of a store need them)

    reference, note = _reference(config, args.reference)
    window = Window(
        parse_time(args.since) if args.since else None,
        parse_time(args.until) if args.until else None,
    )
    store = open_store(target)
    try:
        return build_report(
            store,
            config,
            window=window,
            by=args.by,
            reference=reference,
            reference_note=note,
            store_name=target,
            config_name=config_name,
        )
    finally:
        store.close()


def _emit(rep: Report, args: argparse.Namespace) -> None:
    from triage.report.html import render_html  # noqa: PLC0415
    from triage.report.text import render_text  # noqa: PLC0415

    if args.json == "-":
        sys.stdout.write(json.dumps(rep.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(rep))
        sys.stdout.flush()  # before the "wrote" lines on stderr
        if args.json:
            Path(args.json).write_text(json.dumps(rep.to_dict(), indent=2) + "\n", encoding="utf-8")
            print(f"wrote {args.json}", file=sys.stderr)
    if args.html:
        args.html.write_text(render_html(rep), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)


def main(argv: Sequence[str]) -> int:
    """Run ``triage report`` with ``argv``; return the exit code."""
    p = _parser()
    args = p.parse_args(list(argv))
    try:
        for name in ("since", "until"):
            if getattr(args, name):
                parse_time(getattr(args, name))
    except ValueError as err:
        p.error(f"--{name}: {err}")
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"triage report: {err}", file=sys.stderr)
        return EXIT_FAILURE
    config_name = str(args.config) if args.config else "the embedded triage.yaml"
    try:
        if args.demo:
            from triage.report.fixtures import write_week  # noqa: PLC0415

            with tempfile.TemporaryDirectory(prefix="triage-report-demo-") as tmp:
                written = write_week(Path(tmp), args.seed, config=config)
                print(
                    f"demo: a week of synthetic traffic ({written.decisions:,} decisions, {written.events:,} events) "
                    f"in {tmp}",
                    file=sys.stderr,
                )
                _emit(run(args, tmp, config, config_name), args)
            return EXIT_OK
        target = args.store or config.store.path
        if not target:
            hint = ""
            if Path(LOCAL_STORE).is_dir():
                hint = f" (the local stack's is here: triage report --store {LOCAL_STORE})"
            print(
                f"triage report: no store: give --store DIR or set store.path in the configuration{hint}; "
                "or try triage report --demo",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        if not target.startswith(REMOTE_PREFIXES) and not Path(target).is_dir():
            print(f"triage report: {target}: no such store directory", file=sys.stderr)
            return EXIT_FAILURE
        _emit(run(args, target, config, config_name), args)
    except dr.DriftReferenceError as err:
        print(f"triage report: drift reference: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except RuntimeError as err:  # a ClickHouse server that refused or could not be reached (ClickHouseError)
        print(f"triage report: {err}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
