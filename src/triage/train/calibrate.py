"""``triage calibrate``: ladder thresholds that send target shares of real traffic to each route.

Input: a JSONL sample of traffic, one request per line, in any of three shapes:

- ``{"prompt": "...", "system": "..."}``: one chat message (``system`` optional);
- ``{"messages": [...], ...}``: an OpenAI chat body, parsed exactly as the ext_proc server parses it;
- a line of Triage's decision log: its ``strong_score`` is used as is (``p_strong`` when the score is
  missing); ``skip_small`` lines count on the first step; other lines without a score (tier-forced,
  kill switch, budget rejections) are left out.

Requests smaller than ``policy.skip_below_tokens`` skip the classifier in production, so they count as
staying on the ladder's first step. Shares are fractions of the requests that reach the ladder.

``--share ROUTE=FRACTION`` is the share of requests that should end on that route. Every step but the first
needs one; the first takes the rest. A step's threshold is the score above which exactly the share of its
route and every step above it lies, halfway between the neighbouring scores; when ``policy.uncertainty``
escalates, requests within ``margin`` below a threshold climb too, so the threshold is raised by the margin
to keep the share. Thresholds are written with 4 decimals into the config file's ``policy.ladder``
(``triage.train.ladder_edit``), the rest of the file untouched.

Exit codes: 0 written (or printed with ``--dry-run``), 1 invalid configuration, 2 bad arguments or input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from triage.config import TriageConfig, load_config, parse_config
from triage.errors import ConfigError, ModelLoadError, TriageError
from triage.train.jsonl import read_objects
from triage.train.ladder_edit import LadderEditError, set_thresholds

EXIT_OK, EXIT_CONFIG, EXIT_USAGE = 0, 1, 2
SKIPPED = -math.inf  # the score of a request that never reaches the classifier


class CalibrationError(ValueError):
    """The shares, the traffic sample or the ladder do not allow a calibration."""


@dataclass(frozen=True)
class Calibration:
    """Thresholds per route and the shares they give on the sample (which differ from the targets by ties)."""

    thresholds: dict[str, float]
    target: dict[str, float]
    achieved: dict[str, float]
    n: int


def parse_shares(items: Sequence[str]) -> dict[str, float]:
    """``["premium=0.15", ...]`` → ``{"premium": 0.15}``; percentages like ``15%`` are accepted too."""
    out: dict[str, float] = {}
    for item in items:
        route, sep, value = item.partition("=")
        if not sep or not route.strip():
            raise CalibrationError(f"--share {item!r}: expected ROUTE=FRACTION")
        text = value.strip()
        try:
            share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError as exc:
            raise CalibrationError(f"--share {item!r}: {text!r} is not a number") from exc
        if not 0.0 < share < 1.0:
            raise CalibrationError(f"--share {item!r}: the share must be between 0 and 1 (exclusive)")
        out[route.strip()] = share
    return out


def _cut(descending: npt.NDArray[np.float64], k: int) -> float:
    """A threshold with exactly ``k`` of the scores at or above it (up to ties): halfway between neighbours."""
    if k <= 0:
        return 1.0
    if k >= len(descending):
        return 0.0
    above, below = descending[k - 1], descending[k]
    if not math.isfinite(below):
        below = 0.0
    return float((above + below) / 2)


def thresholds_for(
    scores: Iterable[float], ladder: Sequence[str], shares: Mapping[str, float], margin: float = 0.0
) -> Calibration:
    """Thresholds for every ladder step after the first, so each route gets its share of ``scores``."""
    s = np.sort(np.asarray(list(scores), dtype=np.float64))[::-1]
    if len(s) == 0:
        raise CalibrationError("the traffic sample has no scored requests")
    steps = list(ladder)
    unknown = sorted(set(shares) - set(steps))
    if unknown:
        raise CalibrationError(f"--share names route(s) not on policy.ladder: {unknown}; the ladder is {steps}")
    if steps[0] in shares:
        raise CalibrationError(f"{steps[0]!r} is the ladder's first step (threshold 0): it takes what is left")
    missing = [r for r in steps[1:] if r not in shares]
    if missing:
        raise CalibrationError(f"--share needed for every step but the first; missing {missing}")
    if sum(shares.values()) >= 1.0:
        raise CalibrationError("the shares of the upper steps must add up to less than 1")
    thresholds: dict[str, float] = {}
    cumulative = 0.0
    previous = 1.0 + margin
    for route in reversed(steps[1:]):
        cumulative += shares[route]
        t = min(_cut(s, round(cumulative * len(s))) + margin, 1.0)
        t = round(t, 4)
        if t >= previous:  # ties (or the margin near 1) would collapse two steps: keep them strictly ordered
            t = round(previous - 1e-4, 4)
        thresholds[route] = t
        previous = t
    achieved = _achieved(s, steps, thresholds, margin)
    target = {route: shares.get(route, round(1.0 - sum(shares.values()), 6)) for route in steps}
    return Calibration(dict(reversed(list(thresholds.items()))), target, achieved, len(s))


def _achieved(
    scores: npt.NDArray[np.float64], steps: Sequence[str], thresholds: Mapping[str, float], margin: float
) -> dict[str, float]:
    """The share of ``scores`` each route gets under ``thresholds`` (highest reached step wins)."""
    level = np.zeros(len(scores), dtype=np.int64)
    for i, route in enumerate(steps[1:], 1):
        level[scores >= thresholds[route] - margin] = i
    return {route: float(np.mean(level == i)) for i, route in enumerate(steps)}


def traffic_scores(path: Path, config: TriageConfig, model: Path | None) -> list[float]:
    """The policy's strong score of every request in the sample (``SKIPPED`` for skip-small requests)."""
    from triage.train.scoring import PolicyScorer  # noqa: PLC0415

    scorer: PolicyScorer | None = None
    out: list[float] = []
    for number, doc in read_objects(path, CalibrationError):
        logged = _logged_score(doc)
        if logged is not None:
            out.append(logged)
            continue
        if doc.get("reason") == "skip_small":  # logged small request: on the first step, as configured
            out.append(SKIPPED)
            continue
        if "prompt" not in doc and "messages" not in doc:
            continue  # a decision-log line decided before classification, or nothing to score
        if scorer is None:
            scorer = _scorer(config, model)
        inp = _routing_input(doc, path, number)
        out.append(SKIPPED if inp.input_tokens_estimate < config.policy.skip_below_tokens else scorer.score_input(inp))
    return out


def task_shares(
    path: Path, config: TriageConfig, model: Path | None, thresholds: Mapping[str, float], margin: float
) -> dict[str, dict[str, dict[str, float]]]:
    """Route shares per task under ``thresholds``: by the classifier's top task (``predicted``) and, for lines that
    carry one, by their ``label`` (``labelled``). Each row holds ``n`` and the share of every ladder route."""
    scorer = _scorer(config, model)
    steps = [s.route for s in config.policy.ladder]
    groups: dict[str, dict[str, list[float]]] = {"predicted": {}, "labelled": {}}
    for number, doc in read_objects(path, CalibrationError):
        if "prompt" not in doc and "messages" not in doc:
            continue
        inp = _routing_input(doc, path, number)
        if inp.input_tokens_estimate < config.policy.skip_below_tokens:
            score, task = SKIPPED, "(skipped: small)"
        else:
            scores = scorer.classify(inp)
            score, task = scorer.score_input(inp), scores.task
        groups["predicted"].setdefault(task, []).append(score)
        if isinstance(doc.get("label"), str):
            groups["labelled"].setdefault(doc["label"], []).append(score)
    return {
        kind: {
            task: {"n": float(len(v)), **_achieved(np.array(v, dtype=np.float64), steps, thresholds, margin)}
            for task, v in sorted(rows.items())
        }
        for kind, rows in groups.items()
        if rows
    }


def _logged_score(doc: Mapping[str, Any]) -> float | None:
    for key in ("strong_score", "p_strong"):
        value = doc.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _scorer(config: TriageConfig, model: Path | None) -> Any:
    from triage.app import load_classifier  # noqa: PLC0415
    from triage.classifier.onnx_model import OnnxClassifier  # noqa: PLC0415
    from triage.train.scoring import PolicyScorer  # noqa: PLC0415

    classifier = OnnxClassifier.load(model) if model is not None else load_classifier(config.classifier)
    return PolicyScorer.for_config(classifier, config)


def _routing_input(doc: Mapping[str, Any], path: Path, number: int) -> Any:
    from triage.requests import OPENAI_CHAT, RoutingInput, parse_request  # noqa: PLC0415

    if "messages" in doc:
        try:
            return parse_request(json.dumps(doc).encode(), OPENAI_CHAT, "application/json").input
        except TriageError as exc:
            raise CalibrationError(f"{path}:{number}: not a valid chat request: {exc}") from exc
    prompt = doc["prompt"]
    if not isinstance(prompt, str):
        raise CalibrationError(f"{path}:{number}: 'prompt' must be a string")
    return RoutingInput.from_text(prompt, system=str(doc.get("system") or ""))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="triage calibrate",
        description="Set policy.ladder thresholds so target shares of a traffic sample go to each route.",
    )
    p.add_argument("--config", "-c", type=Path, required=True, help="triage.yaml to calibrate (edited in place)")
    p.add_argument("--traffic", type=Path, required=True, help="JSONL sample: prompts, chat bodies or decision log")
    p.add_argument(
        "--share", action="append", default=[], metavar="ROUTE=FRACTION", help="target share of a route (repeat)"
    )
    p.add_argument("--model", type=Path, help="model bundle (default: the config's classifier.model)")
    p.add_argument("--output", "-o", type=Path, help="write the calibrated config here instead of in place")
    p.add_argument("--dry-run", action="store_true", help="print the thresholds, write nothing")
    p.add_argument(
        "--by-task", action="store_true", help="also print the route shares per task (predicted, and by 'label')"
    )
    return p


def main(argv: Sequence[str]) -> int:
    """Entry point for ``triage calibrate ...`` (``argv`` without the leading ``calibrate``)."""
    args = _parser().parse_args(list(argv))
    try:
        config = load_config(args.config)
        shares = parse_shares(args.share)
        scores = traffic_scores(args.traffic, config, args.model)
        unc = config.policy.uncertainty
        cal = thresholds_for(
            scores, [s.route for s in config.policy.ladder], shares, unc.margin if unc.escalate else 0.0
        )
        text = set_thresholds(args.config.read_text(encoding="utf-8"), cal.thresholds)
        import yaml  # noqa: PLC0415

        parse_config(yaml.safe_load(text), str(args.config))  # the result must still be a valid config
    except ConfigError as exc:
        print(f"triage calibrate: invalid configuration — {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (CalibrationError, LadderEditError, ModelLoadError, OSError) as exc:
        print(f"triage calibrate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"calibrated on {cal.n} requests from {args.traffic}")
    print(f"{'route':<12} {'min_score':>9} {'target':>7} {'achieved':>8}")
    for route, target in cal.target.items():
        t = cal.thresholds.get(route, 0.0)
        print(f"{route:<12} {t:>9.4f} {100 * target:>6.1f}% {100 * cal.achieved[route]:>7.1f}%")
    if args.by_task:
        margin = unc.margin if unc.escalate else 0.0
        routes = [s.route for s in config.policy.ladder]
        for kind, rows in task_shares(args.traffic, config, args.model, cal.thresholds, margin).items():
            print(f"\nroute shares by {kind} task")
            print(f"{'task':<18} {'n':>5} " + " ".join(f"{r:>9}" for r in routes))
            for task, row in rows.items():
                cells = " ".join(f"{100 * row[r]:>8.1f}%" for r in routes)
                print(f"{task:<18} {int(row['n']):>5} {cells}")
    if args.dry_run:
        return EXIT_OK
    out = args.output or args.config
    out.write_text(text, encoding="utf-8")
    print(f"wrote policy.ladder to {out}")
    return EXIT_OK
