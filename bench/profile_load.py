"""Where Triage's CPU goes under load: py-spy samples ``triage serve`` behind the real Envoy, shares per phase.

Mixed plain and streaming chat requests (8 client threads, closed loop) go through the local stack while
``py-spy record`` samples the Triage process (every thread) for ``--seconds``. Each sampled stack is put in one
phase by the first rule that matches (request headers, body parse, classifier, policy, rewrite, response chunks,
telemetry, decision log, inference-thread hand-off, gRPC machinery, idle), and the share of samples per phase is
printed. Sampling shares, not times: compare shares between runs of the same script on the same machine.

Usage: ``python bench/profile_load.py [--seconds 30] [--raw FILE]`` (needs ``py-spy``, a dev dependency).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from triage.sim.stack import LocalStack

# (phase, substrings of a collapsed stack); the first match wins, so the more specific rules come first.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("classifier", ("onnx_model.py", "features.py", "native.py")),
    ("inference thread, waiting", ("concurrent/futures/thread.py",)),
    ("decision log", ("DecisionLog",)),
    ("telemetry: spans, metrics", ("recorder.py", "aggregate.py", "opentelemetry")),
    ("request headers", ("_on_request_headers",)),
    ("request body: parse", ("parse.py",)),
    ("request body: rewrite", ("rewrite.py", "splice.py")),
    ("request body: policy, replies", ("policy.py", "mutations.py", "router.py")),
    (
        "request body: the processor and the inference call (a thread hand-off with inference: thread)",
        ("_on_request_body", "inference.py"),
    ),
    ("response chunks", ("_on_response_body", "usage.py")),
    ("processor, other", ("processor.py",)),
    ("gRPC server machinery: Triage's wire server (HTTP/2, gRPC framing)", ("wire/",)),
    ("gRPC server machinery: grpcio", ("grpc", "server.py")),
)


def phase(stack: str) -> str:
    last = stack.rsplit(";", 1)[-1]
    # A thread blocked waiting (the event loop in epoll, an idle executor or metrics-server thread) is idle, whatever
    # called it.
    if any(k in last for k in ("select", "epoll", "poll", "wait")) or last.startswith("_worker "):
        return "idle (waiting for work)"
    for name, keys in RULES:
        if any(k in stack for k in keys):
            return name
    if last.startswith("Handle._run "):  # a loop callback running native code: grpcio's completion callbacks
        return "event-loop callbacks in native code (socket I/O; grpcio aio's completion callbacks)"
    if last.startswith("Thread.run "):
        return "other threads in native code (gRPC pollers, metrics server)"
    return "other"


IDLE = ("idle (waiting for work)", "inference thread, waiting")


def shares(raw: Path) -> list[tuple[str, float, float]]:
    """(phase, % of all samples, % of the samples not idle) per phase, largest first."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, n = line.rpartition(" ")
        if n.isdigit():
            counts[phase(stack)] += int(n)
    total = sum(counts.values()) or 1
    busy = sum(n for name, n in counts.items() if name not in IDLE) or 1
    return [(name, 100 * n / total, 0.0 if name in IDLE else 100 * n / busy) for name, n in counts.most_common()]


def _print(raw: Path) -> None:
    print("    all   busy  phase")
    for name, share, busy in shares(raw):
        print(f"  {share:5.1f}% {busy:5.1f}%  {name}")


def _load(client: httpx.Client, stop: threading.Event) -> int:
    sent = 0
    while not stop.is_set():
        stream = sent % 3 == 0
        text = f"Explain recursion to a child, with example number {sent}."
        body = {"model": "auto", "messages": [{"role": "user", "content": text}], "stream": stream}
        if stream:
            with client.stream("POST", "/v1/chat/completions", json=body) as resp:
                for _ in resp.iter_bytes():
                    pass
        else:
            client.post("/v1/chat/completions", json=body)
        sent += 1
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument("--classify", type=Path, help="only print the shares of an earlier --raw file")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        print("py-spy not found (pip install py-spy)", file=sys.stderr)
        return 2
    if args.classify is not None:
        _print(args.classify)
        return 0
    raw = args.raw or Path(tempfile.mkdtemp(prefix="profile-")) / "stacks.txt"
    with LocalStack() as stack, httpx.Client(base_url=stack.envoy_url, timeout=30) as client:
        pid = stack.triage_pid
        assert pid is not None
        stop = threading.Event()
        with cf.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(_load, client, stop) for _ in range(8)]
            time.sleep(3)  # warm
            started = time.monotonic()
            try:
                subprocess.run(
                    [spy, "record", "-p", str(pid), "-d", str(args.seconds), "-r", "200", "-f", "raw", "-o", str(raw)],
                    check=True,
                    capture_output=True,
                )
            finally:
                stop.set()
            elapsed = time.monotonic() - started
            sent = sum(f.result() for f in futures)
    print(f"profile_load requests={sent} seconds={elapsed:.0f} stacks={raw}")
    _print(raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
