"""CPU and wall time of one ``OnnxClassifier.score``, split featurize vs ONNX, hot and with calls spaced out.

In production a call comes every ~5 ms (200 req/s) and Envoy, the providers and the gRPC server run in
between, so the classifier mostly runs with cold caches: a tight loop under-states its cost several times.
For a 60-character, a 600-character and a 3 KB prompt this measures, per call, the thread CPU time
(``time.thread_time_ns``) and the wall time of ``featurizer.featurize`` and of ``run`` (the numpy bag, or the
ONNX session under ``classifier.engine: onnxruntime``), in three modes:

- ``hot``: back-to-back calls;
- ``cold``: one call every ``--gap-ms`` (4 ms; ``asyncio.sleep`` between calls, as the server does);
- ``thrash``: as ``cold``, with a neighbour process on the same core streaming through a 64 MB array
  (evicts L1/L2 and most of L3 while we sleep, like the rest of the request path does).

Backends (``--backends``, default ``native,numpy``), measured in the same process on the same inputs:

- ``numpy``: ``featurizer.featurize`` then ``run`` as above (what serves when the C extension is absent or
  ``TRIAGE_NATIVE=0``);
- ``native``: the one C call that featurizes and evaluates the bag (``OnnxClassifier.native_scorer``); it
  cannot be split, so its ``featurize_us`` and ``onnx_us`` are 0 and ``total_us`` is the call. Skipped, with
  a note, when the classifier has no native path (extension not built, ``TRIAGE_NATIVE=0``, older trees).

It prints one line per size, mode, backend and clock, read by automation::

    classifier_cost size=600 mode=cold backend=numpy clock=cpu featurize_us=120 onnx_us=80 total_us=205 \
featurize_p99_us=300 onnx_p99_us=190 total_p99_us=480

(``total`` is featurize + ONNX of the same call; p50 unless named p99.)

Usage::

    python bench/classifier_cost.py [--n 600] [--sizes 60,600,3K] [--modes hot,cold,thrash] [--backends native]
    python bench/classifier_cost.py --compare /tmp/before/src --rounds 5   # A/B, alternating processes

``--compare DIR`` runs this benchmark in child processes, alternately with ``src`` of this checkout and
with ``DIR`` on ``PYTHONPATH`` (e.g. ``git archive HEAD src | tar -x -C /tmp/before``), ``--rounds`` times,
and prints the median and min-max over rounds of every p50/p99. The machine is shared: compare medians
of rounds measured in the same run, never single numbers across runs. The process pins itself to one core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent.parent / "src"
PARTS = ("featurize", "onnx", "total")
TASK = "Find the bug in the following code and explain the fix, step by step."
FILLER = (
    "The service handled 1,204 requests per second at peak, with p99 latency of 83 ms; at 14:02 UTC the "
    "connection pool to the primary database was exhausted and retries amplified the load. "
    "def merge(a, b):\n    out = []\n    while a and b:\n        out.append(a.pop(0) if a[0] < b[0] else b.pop(0))\n"
    "Der Vertrag tritt am 1. März in Kraft; die Zahlung von 12.500 EUR ist innerhalb von 30 Tagen fällig. "
)
SIZES = {"60": 60, "600": 600, "3K": 3072}
# A neighbour that streams through 64 MB (reads and writes), so our caches are cold after each sleep.
THRASHER = (
    "import os, sys\nimport numpy as np\nos.sched_setaffinity(0, {int(sys.argv[1])})\n"
    "a = np.ones(8 << 20)\nwhile True:\n    a += 1.0\n"
)


def prompt_of(size: int) -> str:
    text = TASK + "\n\n" + FILLER * (size // len(FILLER) + 1)
    return text[:size]


def body_of(prompt: str) -> bytes:
    return json.dumps(
        {
            "model": "auto",
            "messages": [
                {"role": "system", "content": "You are a careful assistant for an engineering team."},
                {"role": "user", "content": prompt},
            ],
        }
    ).encode()


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(clf: Any, inp: Any, n: int, gap_s: float, backend: str = "numpy") -> dict[str, list[float]]:
    """``n`` calls; per call the CPU and wall microseconds of featurize, ONNX and both.

    ``backend="native"``: the native scorer's one call, reported as ``total`` (featurize and ONNX are 0).
    """
    featurize, run = clf.featurizer.featurize, clf.run
    scorer = clf.native_scorer.score if backend == "native" else None
    cpu, wall = time.thread_time_ns, time.perf_counter_ns
    out: dict[str, list[float]] = {f"{clock}_{part}": [] for clock in ("cpu", "wall") for part in PARTS}
    gc.collect()
    for _ in range(n):
        if gap_s:
            await asyncio.sleep(gap_s)
        if scorer is not None:
            w0, c0 = wall(), cpu()
            scorer(inp)
            w1, c1 = w2, c2 = wall(), cpu()
        else:
            w0, c0 = wall(), cpu()
            ids, vals = featurize(inp)
            w1, c1 = wall(), cpu()
            run(ids, vals)
            w2, c2 = wall(), cpu()
        for clock, (a, b, c) in (("cpu", (c0, c1, c2)), ("wall", (w0, w1, w2))):
            split = scorer is None  # the native call cannot be split: featurize and onnx are 0
            out[f"{clock}_featurize"].append((b - a) / 1000 if split else 0.0)
            out[f"{clock}_onnx"].append((c - b) / 1000 if split else 0.0)
            out[f"{clock}_total"].append((c - a) / 1000)
    return out


@contextlib.contextmanager
def neighbour(cpu: int) -> Iterator[None]:
    """Run the cache-thrashing neighbour on ``cpu`` for the duration (stopped by its pid on exit)."""
    proc = subprocess.Popen([sys.executable, "-c", THRASHER, str(cpu)])
    try:
        time.sleep(0.5)  # let it allocate and start streaming
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_once(args: argparse.Namespace) -> tuple[str, list[dict[str, Any]]]:
    """Measure every mode and size; return a description of what was measured, and one row per pair."""
    # Imported here, so that --compare's parent never imports triage (each child picks its own src).
    import triage
    from triage.app import load_classifier
    from triage.config import load_config
    from triage.requests import OPENAI_CHAT, parse_request

    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})
    clf = load_classifier(load_config().classifier)
    backend = getattr(clf, "backend", "onnxruntime")  # older trees have no numpy fast path
    backends = [b.strip() for b in args.backends.split(",")]
    if "native" in backends and getattr(clf, "native_scorer", None) is None:
        backends.remove("native")  # not built, TRIAGE_NATIVE=0, or an older tree
        print(f"# no native path (classifier backend={backend}): measuring {backends}", file=sys.stderr, flush=True)
    info = f"classifier {clf.version} from {Path(triage.__file__).parent}, backend={backend}, cpu {cpu}"
    sizes = [s.strip() for s in args.sizes.split(",")]
    inputs = {s: parse_request(body_of(prompt_of(SIZES[s])), OPENAI_CHAT).input for s in sizes}
    results: list[dict[str, Any]] = []
    for mode in [m.strip() for m in args.modes.split(",")]:
        gap = 0.0 if mode == "hot" else args.gap_ms / 1000
        n = args.n * 4 if mode == "hot" else args.n
        ctx = neighbour(cpu) if mode == "thrash" else contextlib.nullcontext()
        with ctx:
            for size in sizes:
                for name in backends:
                    asyncio.run(measure(clf, inputs[size], 50, 0.0, name))  # lazy paths, allocator
                    samples = asyncio.run(measure(clf, inputs[size], n, gap, name))
                    row: dict[str, Any] = {"size": size, "mode": mode, "backend": name}
                    for key, values in samples.items():
                        row[f"{key}_p50"] = pct(values, 0.5)
                        row[f"{key}_p99"] = pct(values, 0.99)
                    results.append(row)
    return info, results


def line(row: dict[str, Any], clock: str, fmt: Any = lambda v: f"{v:.0f}") -> str:
    p50 = " ".join(f"{part}_us={fmt(row[f'{clock}_{part}_p50'])}" for part in PARTS)
    p99 = " ".join(f"{part}_p99_us={fmt(row[f'{clock}_{part}_p99'])}" for part in PARTS)
    return f"size={row['size']} mode={row['mode']} backend={row.get('backend', 'numpy')} clock={clock} {p50} {p99}"


def compare(args: argparse.Namespace) -> int:
    """Alternate child processes (this checkout, then ``--compare``) and summarise over rounds."""
    impls = {"after": str(SRC), "before": args.compare}
    child = [sys.executable, __file__, "--json", "--n", str(args.n), "--sizes", args.sizes, "--modes", args.modes]
    child += ["--gap-ms", str(args.gap_ms), "--backends", args.backends]
    rounds: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in impls}
    infos: dict[str, str] = {}
    for r in range(args.rounds):
        order = list(impls) if r % 2 == 0 else list(reversed(impls))
        for name in order:
            env = {**os.environ, "PYTHONPATH": impls[name]}
            out = json.loads(subprocess.run(child, env=env, capture_output=True, text=True, check=True).stdout)
            infos[name] = out["info"]
            rounds[name].append(out["rows"])
            print(f"# round {r + 1}/{args.rounds} {name} done", file=sys.stderr, flush=True)
    print(f"# {args.rounds} rounds, alternating; value = median over rounds [min-max]")
    for name in ("before", "after"):
        print(f"# {name}: {infos[name]}")
        runs = rounds[name]
        for i, first in enumerate(runs[0]):
            for clock in ("cpu", "wall"):
                summary = {"size": first["size"], "mode": first["mode"], "backend": first.get("backend", "numpy")}
                for key in first:
                    if key.startswith(clock):
                        vals = [run[i][key] for run in runs]
                        summary[key] = (statistics.median(vals), min(vals), max(vals))
                text = line(summary, clock, lambda v: f"{v[0]:.0f}[{v[1]:.0f}-{v[2]:.0f}]")
                print(f"classifier_cost impl={name} {text}", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=600, help="spaced calls per size and mode (hot: 4x)")
    parser.add_argument("--sizes", default="60,600,3K", help=f"among {','.join(SIZES)}")
    parser.add_argument("--modes", default="hot,cold,thrash")
    parser.add_argument("--gap-ms", type=float, default=4.0)
    parser.add_argument("--backends", default="native,numpy", help="among native,numpy (native skipped if absent)")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON (for --compare)")
    parser.add_argument("--compare", metavar="SRC_DIR", help="A/B against another src tree, alternating")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per implementation with --compare")
    args = parser.parse_args()
    if args.compare:
        return compare(args)
    info, results = run_once(args)
    if args.json:
        print(json.dumps({"info": info, "rows": results}))
        return 0
    print(f"# {info}; hot: {args.n * 4} calls, cold/thrash: {args.n} calls {args.gap_ms:g} ms apart", flush=True)
    for row in results:
        for clock in ("cpu", "wall"):
            print(f"classifier_cost {line(row, clock)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
