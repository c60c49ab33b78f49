"""Soak: bounded mixed traffic through the real stack under a fault schedule; one line of figures at the end.

``python bench/soak.py [--seconds 120] [--rate 20] [--workers 4]`` (``make soak``). Everything runs on 127.0.0.1
with ephemeral ports: fake providers, Triage and Envoy (``triage.sim.stack.LocalStack``). Traffic is plain and
streaming chat requests on the ``pro`` tier, some of whose clients disconnect mid-stream. The schedule cycles,
one phase per slice of the run, with the first step of a chain misbehaving while the others stay healthy:

    calm → primary 503 → primary 429 + Retry-After → primary hangs 3 s → primary cuts streams →
    kill -9 Triage (and restart) → bad config save → good config save → calm

Printed figures: requests; lost (a 5xx or a connection error: every phase keeps a healthy step, so any is a
loss); fail-opens (answered without a Triage decision: Triage was down); records written vs responses that
carried a decision id; Triage's RSS at the start and the end (kB; after a restart, of the new process).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from triage.config import load_config
from triage.sim.faults import Fault
from triage.sim.jwt import mint_token
from triage.sim.stack import LocalStack

PHASES = ("calm", "503", "429", "hang", "cut", "kill", "bad_config", "good_config")
PROMPTS = (
    "Write a Python function that merges two sorted lists.",
    "Summarise the following meeting notes in three bullets: we agreed to ship on Friday and to hire two people.",
    "Prove that the square root of 2 is irrational.",
    "Translate 'see you tomorrow' into German.",
    "Give me five ideas for a team offsite.",
)


def rss_kb(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def one_request(url: str, token: str, r: random.Random) -> str:
    """Send one request; return its outcome: ok, decided_ok, lost, disconnected."""
    stream = r.random() < 0.4
    body = {"model": "auto", "messages": [{"role": "user", "content": r.choice(PROMPTS)}], "stream": stream}
    headers = {"authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            if not stream:
                resp = client.post("/v1/chat/completions", json=body, headers=headers)
                return _outcome(resp.status_code, "x-triage-decision-id" in resp.headers)
            with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as resp:
                decided = "x-triage-decision-id" in resp.headers
                if resp.status_code != 200:
                    return _outcome(resp.status_code, decided)
                if r.random() < 0.1:
                    next(resp.iter_bytes(), None)
                    return "disconnected"  # the client leaves mid-stream: not a loss
                for _ in resp.iter_bytes():
                    pass
                return _outcome(200, decided)
    except httpx.HTTPError:
        return "lost"


def _outcome(status: int, decided: bool) -> str:
    if status >= 500:
        return "lost"
    return "decided_ok" if decided else "fail_open_ok"


def apply_phase(stack: LocalStack, phase: str, base_config_text: str) -> None:
    primary = stack.providers["large"]  # the first step of the premium route; the others stay healthy
    for p in stack.providers.values():
        p.reset_faults()
        p.latency_s = 0.0
    if phase == "503":
        primary.set_fault(Fault(status=503))
    elif phase == "429":
        primary.set_fault(Fault(status=429, retry_after=1))
    elif phase == "hang":
        primary.latency_s = 3.0
    elif phase == "cut":
        primary.set_fault(Fault(close_after_chunks=2, probability=0.5))
    elif phase == "kill":  # in the background: traffic goes on (and fails open) while Triage is down

        def kill_and_restart() -> None:
            pid = stack.triage_pid
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            time.sleep(1.0)
            stack.start_triage()

        threading.Thread(target=kill_and_restart, daemon=True).start()
    elif phase == "bad_config":
        stack.triage_yaml.write_bytes(base_config_text.encode() + b"\nbroken: \xe9\n")
    elif phase == "good_config":
        stack.triage_yaml.write_text(base_config_text, encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--rate", type=float, default=20.0, help="requests per second (bounded)")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    p.add_argument("--phases", default=",".join(PHASES), help="comma-separated phases, cycled (default: all)")
    p.add_argument("--rss-every", type=float, default=60.0, help="sample Triage's RSS this often (seconds)")
    args = p.parse_args()
    phases = tuple(args.phases.split(","))
    unknown = set(phases) - set(PHASES)
    if unknown:
        p.error(f"unknown phases {sorted(unknown)}; known: {', '.join(PHASES)}")
    jwt = load_config().envoy.jwt
    assert jwt is not None
    assert jwt.hmac_secret is not None
    token = mint_token(jwt.hmac_secret, jwt.issuer, {"tier": "pro"}, ttl_s=int(args.seconds) + 3600)
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    with LocalStack() as stack:
        base_text = stack.triage_yaml.read_text(encoding="utf-8")
        rss_start = rss_kb(stack.triage_pid)
        started = time.monotonic()
        slice_s = args.seconds / len(phases)
        phase_index = -1
        rss_samples: list[tuple[int, int | None]] = []
        next_sample = 0.0
        r = random.Random(7)
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            sent = 0
            while (elapsed := time.monotonic() - started) < args.seconds:
                wanted = min(int(elapsed / slice_s), len(phases) - 1)
                if wanted != phase_index:
                    phase_index = wanted
                    apply_phase(stack, phases[phase_index], base_text)
                if elapsed >= next_sample:
                    rss_samples.append((int(elapsed), rss_kb(stack.triage_pid)))
                    next_sample += args.rss_every
                seed = r.random()

                def run(seed: float = seed) -> None:
                    outcome = one_request(stack.envoy_url, token, random.Random(seed))
                    with lock:
                        counts[outcome] += 1

                pool.submit(run)
                sent += 1
                time.sleep(max(0.0, started + sent / args.rate - time.monotonic()))
        apply_phase(stack, "calm", base_text)
        time.sleep(1.5)  # the decision log is flushed 4 times a second
        records = len(stack.decisions())
        rss_end = rss_kb(stack.triage_pid)
    decided = counts["decided_ok"] + counts["disconnected"]
    figures: dict[str, Any] = {
        "requests": sum(counts.values()),
        "lost": counts["lost"],
        "fail_opens": counts["fail_open_ok"],
        "client_disconnects": counts["disconnected"],
        "records_written": records,
        "responses_with_a_decision": decided,
        "rss_kb_start": rss_start,
        "rss_kb_end": rss_end,
        "seconds": args.seconds,
        "rate": args.rate,
    }
    if args.json is not None:
        figures["phases"] = list(phases)
        figures["rss_kb_samples"] = rss_samples
    print("soak " + " ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, list)), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if counts["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
