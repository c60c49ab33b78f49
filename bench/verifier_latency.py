"""Answer verifier latency (``triage.escalation.verify``) on one CPU core, per answer shape.

One line per case, read by automation:

    verifier_latency case=2KB p50_us=31 p99_us=58

Cases: OpenAI chat answers of 2 KB, 64 KB and 1 MB without logprobs; a 2 KB answer with its ~500 token logprobs
(``2KB+logprobs``: most of its cost is decoding the 35 KB body) and the same handed over already decoded
(``2KB+logprobs/doc``, ``verify_document``); a 2 KB Anthropic answer; a 2 KB answer to a JSON-output request.
Usage: ``python bench/verifier_latency.py [--n 2000] [--repeats 3]``. The process pins itself to one core; the
machine is shared, so compare medians of repeats, not single runs.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from triage.escalation import RequestFacts, verify, verify_document

SENTENCE = "Reverse a list without changing it with reversed(xs), which returns an iterator over the items. "


def chat_answer(chars: int, logprobs: bool = False) -> bytes:
    text = (SENTENCE * (chars // len(SENTENCE) + 1))[:chars]
    tokens = [" " + w for w in text.split(" ")]
    content = [
        {"token": t, "logprob": -0.05 * (i % 9), "bytes": list(t.encode()), "top_logprobs": []}
        for i, t in enumerate(tokens)
    ]
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": {"content": content, "refusal": None} if logprobs else None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 40, "completion_tokens": len(tokens), "total_tokens": 40 + len(tokens)},
        }
    )


def anthropic_answer(chars: int) -> bytes:
    text = (SENTENCE * (chars // len(SENTENCE) + 1))[:chars]
    return orjson.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 40, "output_tokens": chars // 4},
        }
    )


def cases() -> dict[str, Callable[[], Any]]:
    chat = RequestFacts(api="openai.chat", task="code")
    json_chat = RequestFacts(api="openai.chat", json_output=True, task="extraction")
    anthropic = RequestFacts(api="anthropic.messages", task="code")
    small, medium, large = chat_answer(2048), chat_answer(64 * 1024), chat_answer(1024 * 1024)
    with_logprobs = chat_answer(2048, logprobs=True)
    decoded = orjson.loads(with_logprobs)
    as_json = orjson.dumps(
        {
            **orjson.loads(small),
            "choices": [{"index": 0, "message": {"content": orjson.dumps({"a": SENTENCE * 20}).decode()}}],
        }
    )
    claude = anthropic_answer(2048)
    return {
        "2KB": lambda: verify(small, chat),
        "64KB": lambda: verify(medium, chat),
        "1MB": lambda: verify(large, chat),
        "2KB+logprobs": lambda: verify(with_logprobs, chat),
        "2KB+logprobs/doc": lambda: verify_document(decoded, chat),
        "2KB-anthropic": lambda: verify(claude, anthropic),
        "2KB-json": lambda: verify(as_json, json_chat),
    }


def measure(run: Callable[[], Any], n: int) -> list[float]:
    for _ in range(50):
        run()
    gc.collect()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=2000, help="verifications per case and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    print(f"# {args.n} verifications x {args.repeats} repeats per case; one core; load {os.getloadavg()[0]:.2f}")
    for name, run in cases().items():
        n = max(50, args.n // 20) if name in ("1MB", "64KB") else args.n
        runs = [measure(run, n) for _ in range(args.repeats)]
        p50 = statistics.median(pct(r, 0.50) for r in runs)
        p99 = statistics.median(pct(r, 0.99) for r in runs)
        print(f"verifier_latency case={name} p50_us={p50:.0f} p99_us={p99:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
