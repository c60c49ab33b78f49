"""Decision latency inside Triage: parse + features + ONNX + policy, on one CPU core.

For each body size it runs the same steps as the ext_proc request-body phase (``parse_request`` →
``router.decide_now``: plan, classify, decide) over realistic OpenAI chat bodies, and prints
one line per size, read by automation:

    decision_latency size=64KB p50_us=412 p99_us=870

then, for information, the same with the body rewrite (model, stream options) that follows a decision.
Usage: ``python bench/decision_latency.py [--n 2000] [--repeats 3] [--sizes 1KB,64KB,1MB]``.
The process pins itself to one core; the machine is shared, so compare medians of repeats, not single runs.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

import orjson

from triage import policy, router
from triage.app import load_classifier
from triage.classifier.base import Classifier
from triage.config import load_config
from triage.requests import OPENAI_CHAT, parse_request, rewrite_body

SIZES = {"1KB": 1024, "64KB": 64 * 1024, "1MB": 1024 * 1024}
TASKS = (
    "Summarise the incident report below for the on-call channel in five bullet points.",
    "Find the bug in the following code and explain the fix.",
    "Translate the following text into German, keeping the formatting.",
    "Extract every date, amount and counterparty from this contract as JSON.",
    "Write a short story that continues from this passage.",
    "Classify each of these support tickets as billing, bug, feature request or other.",
    "Prove the statement below or give a counterexample.",
    "Answer the question at the end using only the document.",
)
FILLER = (
    "The service handled 1,204 requests per second at peak, with p99 latency of 83 ms; at 14:02 UTC the "
    "connection pool to the primary database was exhausted and retries amplified the load. "
    "def merge(a, b):\n    out = []\n    while a and b:\n        out.append(a.pop(0) if a[0] < b[0] else b.pop(0))\n"
    "Der Vertrag tritt am 1. März in Kraft; die Zahlung von 12.500 EUR ist innerhalb von 30 Tagen fällig. "
)


def make_body(size: int, variant: int) -> bytes:
    """An OpenAI chat body of about ``size`` bytes: system prompt, a short history, a long last turn."""
    task = TASKS[variant % len(TASKS)]
    skeleton = {
        "model": "auto",
        "stream": variant % 2 == 0,
        "messages": [
            {"role": "system", "content": "You are a careful assistant for an engineering team."},
            {"role": "user", "content": "Hi, can you help me with something?"},
            {"role": "assistant", "content": "Of course. What do you need?"},
            {"role": "user", "content": task + "\n\n"},
        ],
    }
    room = max(size - len(orjson.dumps(skeleton)), 0)
    filler = (FILLER * (room // len(FILLER) + 1))[variant : variant + room]
    skeleton["messages"][-1]["content"] += filler  # type: ignore[index]
    return orjson.dumps(skeleton)


def decide_once(body: bytes, compiled: policy.Compiled, classifier: Classifier, rewrite: bool) -> None:
    parsed = parse_request(body, OPENAI_CHAT, "application/json")
    outcome = router.decide_now(compiled, classifier, parsed.input, "pro").outcome
    if rewrite and isinstance(outcome, policy.Decision):
        rewrite_body(parsed, model=outcome.model, include_usage=True, max_tokens_cap=outcome.max_tokens_cap)


def measure(bodies: list[bytes], n: int, config: policy.Compiled, classifier: Classifier, rewrite: bool) -> list[float]:
    for body in bodies:  # warm caches and lazy paths
        for _ in range(20):
            decide_once(body, config, classifier, rewrite)
    samples = []
    gc.collect()
    for i in range(n):
        body = bodies[i % len(bodies)]
        t0 = time.perf_counter_ns()
        decide_once(body, config, classifier, rewrite)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=2000, help="decisions per size and repeat (>= 1000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="1KB,64KB,1MB")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    config = policy.compile_policy(load_config())
    classifier = load_classifier(config.config.classifier)
    sizes = [s.strip() for s in args.sizes.split(",")]
    print(f"# classifier {classifier.version}; {args.n} decisions x {args.repeats} repeats per size; one core")
    for label, rewrite in (("decision_latency", False), ("decision_plus_rewrite", True)):
        for size in sizes:
            bodies = [make_body(SIZES[size], v) for v in range(8)]
            runs = [measure(bodies, args.n, config, classifier, rewrite) for _ in range(args.repeats)]
            p50s = [pct(r, 0.50) for r in runs]
            p99s = [pct(r, 0.99) for r in runs]
            p50, p99 = statistics.median(p50s), statistics.median(p99s)
            print(
                f"{label} size={size} p50_us={p50:.0f} p99_us={p99:.0f}"
                f"  # repeats p50 {min(p50s):.0f}-{max(p50s):.0f} p99 {min(p99s):.0f}-{max(p99s):.0f}"
                if label != "decision_latency"
                else f"{label} size={size} p50_us={p50:.0f} p99_us={p99:.0f}",
                flush=True,
            )
            if label == "decision_latency":
                print(f"#   repeats: p50 {min(p50s):.0f}-{max(p50s):.0f} us, p99 {min(p99s):.0f}-{max(p99s):.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
