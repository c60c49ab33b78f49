"""``triage eval escalation``: confidence escalation simulated on every routing-outcome source.

Loads the outcome sources (``triage.train.outcome_sources``), the router's held-out scores of their prompts
(``--from-scores``: the JSONL ``triage train --oof-scores`` writes, each source scored by a model fitted without
it) or a bundle's scores (``--model``; the sources it trained on are left out, and so are prompts its
``trained_prompts.txt`` lists), prices every request (RouterBench: its real per-prompt costs of both models;
elsewhere ``--price-ratio``), and runs ``triage.train.escalation_sim`` for every verifier accuracy. Prints the
per-source facts, the strategies pooled over the measurable sources (``triage.train.protocol``'s rule) and the
break-even accuracy; ``--out`` writes all of it as JSON. docs/escalation-simulation.md reads the results.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from triage.train import benchmarks as bm
from triage.train import escalation_sim as es
from triage.train import fingerprints
from triage.train import outcome_sources as osrc
from triage.train.protocol import RANDOM_DRAWS, Baselines, prompt_length
from triage.train.routing_metrics import Outcomes, apgr, sweep

EXIT_OK = 0
ESCALATING = {  # strategy → its label in the table
    "verifier_only": "router + escalate every flagged answer",
    "bayes": "router + escalate on posterior P(cheap wrong | score, flag)",
    "bayes_gain": "router + escalate on expected gain E[strong - cheap | score, flag]",
}
ROUTERBENCH_STRONG_COST = f"{bm.DEFAULT_STRONG}|total_cost"
ROUTERBENCH_WEAK_COST = f"{osrc.ROUTERBENCH_WEAK}|total_cost"


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from exc


def add_parser(sub: Any) -> None:
    p = sub.add_parser("escalation", help="simulate confidence escalation: how good must a verifier be to pay?")
    p.add_argument("--data", type=Path, help="data root (default: ../shared/data beside the repository)")
    p.add_argument("--from-scores", type=Path, help="held-out scores (JSONL prompt/score, `triage train --oof-scores`)")
    p.add_argument(
        "--model",
        type=Path,
        help="bundle: scores the prompts without --from-scores; its fingerprints "
        "mark in-sample prompts either way (default: the shipped bundle)",
    )
    p.add_argument("--sources", help="comma-separated source names or prefixes (default: every source)")
    p.add_argument("--accuracies", type=_floats, default=es.ACCURACIES, help="verifier accuracies (default 0.6..0.95)")
    p.add_argument("--seeds", type=int, default=len(es.SEEDS), help="seeds 0..N-1 to average over (default 5)")
    p.add_argument("--fpr", type=float, help="asymmetric variant: this false-positive rate at every accuracy")
    p.add_argument("--verifier-cost", type=float, default=0.0, help="per verified request, in cheap calls (0)")
    p.add_argument("--price-ratio", type=float, default=20.0, help="strong/cheap price without real costs (20)")
    p.add_argument("--budgets", type=_floats, default=es.BUDGETS, help="budgets, share of always-strong cost")
    p.add_argument("--min-gain", type=float, default=0.005, help="smallest pooled PGR gain that counts (0.005)")
    p.add_argument("--out", type=Path, help="write every figure as JSON")


@dataclass(frozen=True)
class Prepared:
    """One source ready to simulate, with what the reader must know about it."""

    source: osrc.Source
    traffic: es.Traffic
    dropped: int  # prompts left out as in-sample for the scoring model
    costs: str
    measurable: bool
    router_apgr: float
    length_apgr: float
    brier_base: float
    brier_platt: float
    prior: es.Prior


def _csv_rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def routerbench_costs(root: Path) -> dict[str, tuple[float, float]]:
    """RouterBench prompt (as the file holds it, and as text) → (strong, cheap) cost in USD of that request."""
    out: dict[str, tuple[float, float]] = {}
    folder = root / "routing_outcomes" / "routerbench_subset"
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        for row in _csv_rows(path):
            try:
                cost = (float(row[ROUTERBENCH_STRONG_COST]), float(row[ROUTERBENCH_WEAK_COST]))
            except (KeyError, ValueError):
                continue
            if cost[0] > 0 and cost[1] > 0:
                out[row["prompt"]] = out[bm.prompt_text(row["prompt"])] = cost
    return out


def scores_from_file(
    path: Path, sources: Sequence[osrc.Source], wanted: Sequence[osrc.Source]
) -> tuple[dict[str, list[float]], str]:
    """The scores of the ``wanted`` sources from a ``--oof-scores`` file. Such a file lists every source's
    prompts (``sources``, in ``load_all`` order), so it is matched line by line: a prompt in two sources may
    have two held-out scores. Any other file is matched by prompt, and a prompt with two scores is an error."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    keys = [i.key for s in sources for i in s.items]
    if len(rows) == len(keys) and all(str(r["prompt"]) == k for r, k in zip(rows, keys, strict=True)):
        out, at = {}, 0
        for s in sources:
            out[s.name] = [float(r["score"]) for r in rows[at : at + len(s.items)]]
            at += len(s.items)
        return out, "matched line by line"
    by_prompt: dict[str, set[float]] = {}
    for r in rows:
        by_prompt.setdefault(str(r["prompt"]), set()).add(float(r["score"]))
    out = {}
    for s in wanted:
        found = []
        for item in s.items:
            got = by_prompt.get(item.key)
            if got is None or len(got) != 1:
                what = "no score" if got is None else f"{len(got)} different scores"
                raise bm.BenchmarkError(f"{path}: {what} for a prompt of {s.name}: {item.key!r:.80}")
            found.append(next(iter(got)))
        out[s.name] = found
    return out, "matched by prompt"


def _baselines(prompts: Sequence[str], outcomes: Outcomes, seed: int = 0) -> Baselines:
    """``protocol.baselines`` without the oracle curves it does not need (same draws, same figures)."""
    rng = np.random.default_rng(seed)
    draws = [apgr(sweep(rng.random(len(prompts)), outcomes)) for _ in range(RANDOM_DRAWS)]
    return Baselines(apgr(sweep(prompt_length(prompts), outcomes)), float(np.mean(draws)), float(np.std(draws)))


def prepare(
    source: osrc.Source,
    scores: Sequence[float],
    keep: Sequence[bool],
    costs: dict[str, tuple[float, float]],
    price_ratio: float,
) -> Prepared | None:
    """A source's traffic (in-sample prompts left out), its calibrated prior and its baselines."""
    idx = [i for i, k in enumerate(keep) if k]
    if len(idx) < 10:
        return None
    items = [source.items[i] for i in idx]
    priced = [costs.get(i.key) or costs.get(i.prompt) for i in items]
    if source.name.startswith("routerbench:") and all(c is not None for c in priced):
        cs = np.array([c[0] for c in priced if c is not None])
        cw = np.array([c[1] for c in priced if c is not None])
        how = "per-prompt USD cost of both models (RouterBench)"
    else:
        cs, cw = np.ones(len(items)), np.full(len(items), 1.0 / price_ratio)
        how = f"strong = {price_ratio:g} x cheap per request"
    score = np.array([scores[i] for i in idx], dtype=np.float64)
    t = es.Traffic(
        source.name,
        score,
        np.array([i.strong / i.count for i in items]),
        np.array([i.weak / i.count for i in items]),
        cs,
        cw,
    )
    wrong = 1.0 - t.weak
    prior = es.Prior.calibrate(t)
    outcomes = Outcomes.of(t.strong.tolist(), t.weak.tolist())
    base = _baselines([i.prompt for i in items], outcomes)
    return Prepared(
        source=source,
        traffic=t,
        dropped=len(source.items) - len(items),
        costs=how,
        measurable=base.measurable and outcomes.strong_quality > outcomes.weak_quality,
        router_apgr=apgr(sweep(score, outcomes)),
        length_apgr=base.length_apgr,
        brier_base=float(np.mean((wrong - wrong.mean()) ** 2)),
        brier_platt=float(np.mean((wrong - prior.wrong) ** 2)),
        prior=prior,
    )


def _stats(per_seed: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, float | None]:
    def r(x: float) -> float | None:
        return None if math.isnan(x) else round(x, 4)

    return {"mean": r(float(np.mean(per_seed))), "std": r(float(np.std(per_seed)))}


def _curve_doc(c: es.Curve) -> dict[str, Any]:
    return {
        "area": _stats(c.area),
        **{f"quality@{b:g}": _stats(q) for b, q in c.quality.items()},
        **{f"pgr@{b:g}": _stats(p) for b, p in c.pgr.items()},
        "envelope": [[round(x, 4), round(y, 4)] for x, y in c.vertices],
    }


def _metrics(c: es.Curve) -> dict[str, np.ndarray[Any, np.dtype[np.float64]]]:
    return {"area": c.area, **{f"@{b:g}": p for b, p in c.pgr.items()}}


def pooled(sims: Sequence[es.SourceSim], cfg: es.SimConfig, min_gain: float) -> dict[str, Any]:
    """Per-seed means over the given sources of every strategy's PGR figures, their gains over the router
    alone, the cascade point, and the break-even accuracy per figure."""

    def mean_of(rows: list[dict[str, np.ndarray[Any, np.dtype[np.float64]]]]) -> dict[str, Any]:
        return {k: np.mean([r[k] for r in rows], axis=0) for k in rows[0]}

    router = mean_of([_metrics(s.router) for s in sims])
    cheap = float(np.mean([s.cheap_cost for s in sims]))
    out: dict[str, Any] = {
        "sources": [s.name for s in sims],
        "router": {k: _stats(v) for k, v in router.items()},
        "random": {"area": 0.5, **{f"@{b:g}": round((b - cheap) / (1 - cheap), 4) for b in cfg.budgets}},
    }
    gains: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for name in ESCALATING:
        rows: dict[str, Any] = {}
        for a in cfg.accuracies:
            m = mean_of([_metrics(getattr(s, name)[a]) for s in sims])
            g = {k: m[k] - router[k] for k in m}
            rows[f"{a:g}"] = {"pgr": {k: _stats(v) for k, v in m.items()}, "gain": {k: _stats(v) for k, v in g.items()}}
            for k, v in g.items():
                gains.setdefault(name, {}).setdefault(k, []).append((float(np.mean(v)), float(np.std(v))))
        out[name] = rows
    cascade: dict[str, Any] = {}
    for a in cfg.accuracies:
        cost = np.mean([s.cascade[a][0] for s in sims], axis=0)
        gaps = [np.where(s.q_strong != s.q_weak, s.q_strong - s.q_weak, np.nan) for s in sims]
        pgr = np.mean([(s.cascade[a][1] - s.q_weak) / gap for s, gap in zip(sims, gaps, strict=True)], axis=0)
        cascade[f"{a:g}"] = {"cost": _stats(cost), "pgr": _stats(pgr)}
    out["cascade"] = cascade
    out["break_even"] = {
        name: {k: es.break_even(cfg.accuracies, [m for m, _ in v], [s for _, s in v], min_gain) for k, v in per.items()}
        for name, per in gains.items()
    }
    return out


def _data_root(args: argparse.Namespace) -> Path:
    if args.data is not None:
        return Path(args.data)
    from triage.train.cli import repo_root  # noqa: PLC0415

    return (repo_root() / ".." / "shared" / "data").resolve()


def _select(sources: Sequence[osrc.Source], spec: str | None) -> list[osrc.Source]:
    if not spec:
        return list(sources)
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    return [s for s in sources if any(s.name == w or s.name.startswith(w) for w in wanted)]


def load(args: argparse.Namespace) -> tuple[list[Prepared], str]:
    """The prepared sources and what scored them."""
    root = _data_root(args)
    if not (root / "routing_outcomes").is_dir():
        raise bm.BenchmarkError(f"{root}: no routing_outcomes folder (use --data)")
    everything = osrc.load_all(root)
    from triage.classifier.onnx_model import default_bundle_dir  # noqa: PLC0415

    trained = fingerprints.load(args.model or default_bundle_dir()) or frozenset()
    chosen = _select(everything, args.sources)
    keep: dict[str, list[bool]] = {}
    for s in chosen:  # a held-out source keeps every prompt; any other loses those the scoring model trained on
        held_out = args.from_scores is not None and s.trainable
        keep[s.name] = [held_out or fingerprints.fingerprint(i.prompt) not in trained for i in s.items]
    if args.from_scores is not None:
        scores, how = scores_from_file(args.from_scores, everything, chosen)
        what = f"held-out policy scores from {args.from_scores} ({how})"
    else:
        from triage.train.scoring import PolicyScorer  # noqa: PLC0415

        chosen = [s for s in chosen if not s.trainable]  # the bundle learned from these: in-sample
        scorer = PolicyScorer.load(args.model)
        scores = {
            s.name: [scorer.score(i.prompt) if k else math.nan for i, k in zip(s.items, keep[s.name], strict=True)]
            for s in chosen
        }
        what = f"policy scores of bundle {scorer.classifier.version} (sources it trained on left out)"
    costs = routerbench_costs(root)
    prepared = [prepare(s, scores[s.name], keep[s.name], costs, args.price_ratio) for s in chosen]
    return [p for p in prepared if p is not None], what


def _config(args: argparse.Namespace) -> es.SimConfig:
    low = 0.5 if args.fpr is None else args.fpr
    if args.fpr is not None and not 0.0 <= args.fpr < 1.0:
        raise ValueError("--fpr must lie in [0, 1)")
    if not args.accuracies or not all(low < a <= 1.0 for a in args.accuracies):
        raise ValueError(f"--accuracies must lie in ({low:g}, 1] (above the false-positive rate)")
    if args.seeds < 1 or args.price_ratio <= 0 or args.verifier_cost < 0:
        raise ValueError("--seeds must be at least 1, --price-ratio positive, --verifier-cost not negative")
    if not args.budgets or not all(0.0 < b <= 1.0 for b in args.budgets):
        raise ValueError("--budgets must lie in (0, 1]")
    return es.SimConfig(
        accuracies=tuple(sorted(args.accuracies)),
        seeds=tuple(range(args.seeds)),
        fpr=args.fpr,
        verifier_cost=args.verifier_cost,
        budgets=tuple(args.budgets),
    )


def _source_doc(p: Prepared, sim: es.SourceSim, cfg: es.SimConfig, min_gain: float) -> dict[str, Any]:
    s = p.source
    return {
        "kind": s.kind,
        "strong": s.strong,
        "weak": s.weak,
        "trainable": s.trainable,
        "licence": s.licence,
        "n": sim.n,
        "dropped_in_sample": p.dropped,
        "costs": p.costs,
        "cheap_cost": round(sim.cheap_cost, 5),
        "weak_quality": round(float(sim.q_weak.mean()), 4),
        "strong_quality": round(float(sim.q_strong.mean()), 4),
        "measurable": p.measurable,
        "router_apgr": round(p.router_apgr, 4),
        "length_apgr": round(p.length_apgr, 4),
        "calibration": {
            "base_rate_wrong": round(float(np.mean(1 - p.traffic.weak)), 4),
            "brier_base_rate": round(p.brier_base, 5),
            "brier_platt": round(p.brier_platt, 5),
        },
        "router": _curve_doc(sim.router),
        **{name: {f"{a:g}": _curve_doc(c) for a, c in getattr(sim, name).items()} for name in ESCALATING},
        "cascade": {f"{a:g}": {"cost": _stats(c), "quality": _stats(q)} for a, (c, q) in sim.cascade.items()},
        "break_even": pooled([sim], cfg, min_gain)["break_even"],
    }


def _ms(stat: dict[str, float | None], width: int = 12) -> str:
    m, s = stat["mean"], stat["std"]
    text = "n/a" if m is None else f"{m:+.3f}" if width < 0 else f"{m:.3f}"
    if m is not None and s:
        text += f"±{s:.3f}"
    return f"{text:>{abs(width)}}"


def _be(a: float | None, lowest: float) -> str:
    """A break-even accuracy for the table: ``<=`` when the lowest one tried already wins, ``>`` when none does."""
    if a is None:
        return "> max"
    return f"<={a:g}" if a <= lowest else f"{a:g}"


def print_report(doc: dict[str, Any], out: TextIO) -> None:
    w = out.write
    cfg = doc["settings"]
    lowest = min(cfg["accuracies"])
    verifier = (
        "symmetric verifier (flags a wrong cheap answer with a, a right one with 1-a)"
        if cfg["fpr"] is None
        else f"asymmetric verifier (flags a wrong cheap answer with a, a right one with {cfg['fpr']:g})"
    )
    w(f"confidence escalation simulated: {verifier}; verifier cost {cfg['verifier_cost']:g} x the cheap call\n")
    w(f"seeds {cfg['seeds']}; router score: {doc['scores']}\n")
    w(f"prices: RouterBench per-prompt costs; elsewhere strong = {cfg['price_ratio']:g} x cheap\n\n")
    w(
        f"{'source':26} {'n':>5} {'drop':>5} {'cheap$':>7} {'q cheap':>7} {'q strong':>8} {'APGR':>6} "
        f"{'length':>6} {'brier':>11} {'train':>5} {'pooled':>6} {'b-e flag':>8} {'b-e gain':>8}\n"
    )
    for name, s in doc["sources"].items():
        cal = s["calibration"]
        w(
            f"{name:26} {s['n']:>5} {s['dropped_in_sample']:>5} {s['cheap_cost']:>7.4f} {s['weak_quality']:>7.3f} "
            f"{s['strong_quality']:>8.3f} {s['router_apgr']:>6.3f} {s['length_apgr']:>6.3f} "
            f"{cal['brier_base_rate']:>5.3f}>{cal['brier_platt']:<5.3f} {'yes' if s['trainable'] else 'no':>5} "
            f"{'yes' if s['measurable'] else 'no':>6} {_be(s['break_even']['verifier_only']['area'], lowest):>8} "
            f"{_be(s['break_even']['bayes_gain']['area'], lowest):>8}\n"
        )
    pool = doc.get("pooled")
    if not pool:
        w("\nno measurable source: nothing pooled\n")
        return
    budgets = [k for k in pool["router"] if k != "area"]
    w(
        f"\npooled over {len(pool['sources'])} measurable sources, in PGR (0 = always-cheap quality, 1 = always-strong)"
        "; area = mean PGR over budgets from always-cheap to always-strong cost; @x = at x of always-strong cost; "
        "mean±std over seeds\n"
    )
    head = "".join(f"{k:>13}" for k in ["area", *budgets])
    w(f"{'strategy':32}{head}\n")
    for label, row in (("router alone", pool["router"]),):
        w(f"{label:32}" + "".join(_ms(row[k], 13) for k in ["area", *budgets]) + "\n")
    rnd = pool["random"]
    w(f"{'random routing':32}" + "".join(f"{rnd[k]:>13.3f}" for k in ["area", *budgets]) + "\n")
    for name, label in ESCALATING.items():
        w(f"\n{label}: PGR | gain over the router alone\n")
        w(f"{'a':>5}{head}   |{head}\n")
        for a, row in pool[name].items():
            left = "".join(_ms(row["pgr"][k], 13) for k in ["area", *budgets])
            right = "".join(_ms(row["gain"][k], -13) for k in ["area", *budgets])
            w(f"{a:>5}{left}   |{right}\n")
    w("\npure cascade (everything cheap, verify, escalate flagged): relative cost and PGR\n")
    for a, row in pool["cascade"].items():
        w(f"{a:>5} cost {_ms(row['cost'], 12)}  PGR {_ms(row['pgr'], 12)}\n")
    w(
        f"\nbreak-even accuracy (lowest a from which the pooled gain over the router alone exceeds "
        f"max({doc['settings']['min_gain']:g}, 2 std)):\n"
    )
    for name in ESCALATING:
        be = pool["break_even"][name]
        w(f"  {name:14}" + "  ".join(f"{k} {_be(v, lowest)}" for k, v in be.items()) + "\n")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    cfg = _config(args)
    prepared, what = load(args)
    if not prepared:
        raise bm.BenchmarkError("no outcome source left to simulate")
    sims = {p.source.name: es.simulate(p.traffic, p.prior, cfg) for p in prepared}
    measurable = [sims[p.source.name] for p in prepared if p.measurable]
    doc: dict[str, Any] = {
        "scores": what,
        "settings": {
            "accuracies": list(cfg.accuracies),
            "seeds": list(cfg.seeds),
            "fpr": cfg.fpr,
            "verifier_cost": cfg.verifier_cost,
            "price_ratio": args.price_ratio,
            "budgets": list(cfg.budgets),
            "min_gain": args.min_gain,
            "route_points": cfg.route_points,
            "posterior_grid": list(cfg.posterior_grid),
        },
        "sources": {p.source.name: _source_doc(p, sims[p.source.name], cfg, args.min_gain) for p in prepared},
        "pooled": pooled(measurable, cfg, args.min_gain) if measurable else None,
    }
    if args.out is not None:  # the file first: a reader that stops early (`| head`) must not cost it
        args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print_report(doc, out)
    return EXIT_OK
