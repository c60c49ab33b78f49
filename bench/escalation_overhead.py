"""What confidence escalation costs a request that escalates, beyond the two calls it makes, through the real stack.

The local stack (``triage.sim.stack.LocalStack``: fake providers in this process, the real Triage and the real
Envoy as child processes) with ``escalation:`` on for tier ``pro`` (``economy → premium``, ``max_share`` 1.0, the
cheap route asked for logprobs: the configuration of ``tests/integration/test_escalation.py``), and a tier ``plain``
that is ``pro`` without escalation. One client sends a plain factual question (routed to economy), one request at
a time over a keep-alive connection, in three kinds of batches, interleaved in rounds (the order rotated each
round so that machine noise hits every kind alike):

    plain       tier ``plain``: no escalation configured (nothing held, nothing checked)
    confident   tier ``pro``: the cheap answer is held, checked, found confident and shipped (one provider call)
    escalated   tier ``pro`` with the cheap provider (``small``) answering a refusal
                (``Fault(answer=Answer(refusal=...))``): the verifier doubts it, Triage sends the request again
                through Envoy to premium (``large``) and the client gets that answer (two provider calls)

Per request: the client's latency (send to last byte), and from the decision record ``duration_ms`` (Triage's
view: request headers to the last reply) and, when escalated, ``escalation.strong.duration_ms`` (the escalated call
as Triage timed it: its HTTP request through Envoy's listener, the second ext_proc stream and the strong provider).
Per round, from the medians of that round::

    escalation overhead = escalated latency - (confident latency + strong call duration)
    check cost          = confident latency - plain latency

— what escalating adds beyond the cheap call and the strong call themselves (the verifier, asking Envoy to wait,
the marker, the connection to the listener, the strong answer replacing the held one), and what checking an
answer that ships adds. Reported as the median (min–max) over rounds, with the fake providers' own time per call
(``--provider-latency-ms`` adds a fixed delay to each; default 0: keep them fast), Triage's and Envoy's CPU per
request, and every record's ``escalation.outcome`` counted. The raw rows are saved as JSON in ``bench/results/``
(``--out``); ``--report FILE`` prints a saved run again.

Usage: ``python bench/escalation_overhead.py`` (under a minute here: 7 rounds x 3 kinds x 300 requests, each batch
after 30 warm-up requests).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
DEFAULT_RESULTS = BENCH / "results"
KINDS = ("plain", "confident", "escalated")
CHEAP = "small"  # economy's first step: where a plain factual question goes
STRONG = "large"  # premium's first step
CHEAP_MODEL = "llama-3.1-8b-instruct"
STRONG_MODEL = "gpt-4o"
REFUSAL = "I'm sorry, but I can't help with that."
PROMPT = "What is the capital of France?"  # the same text each time: classified alike, routed to economy


# -- the stack ------------------------------------------------------------------------------------------


def stack_config(logprobs: bool) -> Any:
    """The builtin configuration with escalation for tier ``pro`` (economy → premium, every doubtful answer sent)
    and a tier ``plain`` identical to ``pro`` without it."""
    from triage.config import load_config, parse_config

    data = load_config().model_dump(mode="json", exclude_none=True)
    data["policy"]["deadline_ms"] = 2000  # a busy machine never fails a request open to the default route here
    data["tiers"]["plain"] = dict(data["tiers"]["pro"])
    data["escalation"] = {"tiers": {"pro": {"routes": {"economy": "premium"}, "max_share": 1.0}}}
    if logprobs:
        data["escalation"]["logprobs_routes"] = ["economy"]
    return parse_config(data, "escalation_overhead")


def tokens() -> dict[str, str]:
    from triage.config import load_config
    from triage.sim.jwt import mint_token

    jwt = load_config().envoy.jwt
    assert jwt is not None
    assert jwt.hmac_secret is not None
    return {
        kind: mint_token(jwt.hmac_secret, jwt.issuer, {"tier": "plain" if kind == "plain" else "pro"}, 86400)
        for kind in KINDS
    }


def cpu_seconds(pid: int | None) -> float:
    """CPU time of a process so far, all its threads, in nanosecond resolution (``/proc/<pid>/task/*/schedstat``:
    ``/proc/<pid>/stat`` counts in clock ticks of 10 ms, too coarse for a batch of a few hundred requests); NaN
    when it is gone. Threads that ended during a batch are not counted."""
    if pid is None:
        return float("nan")
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[0])
    except OSError:
        return float("nan")
    return total / 1e9


# -- the load -------------------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection to Envoy; ``ask`` times one request from send to last byte."""

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
        self.host, self.port = host, int(port)
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def ask(self, token: str, text: str) -> tuple[float, int, str, dict[str, Any] | None]:
        """(latency ms, status, decision id, the answer's JSON)."""
        body = json.dumps({"model": "auto", "messages": [{"role": "user", "content": text}]}).encode()
        headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request("POST", "/v1/chat/completions", body, headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):  # Envoy closed the idle connection: once more, anew
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
                continue
            latency_ms = (time.perf_counter() - started) * 1000
            try:
                answer = json.loads(data)
            except ValueError:
                answer = None
            return latency_ms, response.status, response.getheader("x-triage-decision-id") or "", answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def set_kind(stack: Any, kind: str) -> None:
    """The cheap provider answers a refusal for ``escalated`` and normally otherwise."""
    from triage.sim.answers import Answer
    from triage.sim.faults import Fault

    for provider in stack.providers.values():
        provider.reset_faults()
    if kind == "escalated":
        stack.providers[CHEAP].set_fault(Fault(answer=Answer(refusal=REFUSAL)))


def batch(args: argparse.Namespace, stack: Any, client: Client, token: str, kind: str, r: int) -> dict[str, Any]:
    """``args.warmup`` then ``args.n`` requests of one kind; the rows, CPU and the providers' own time per call."""
    set_kind(stack, kind)
    for _ in range(args.warmup):
        client.ask(token, PROMPT)
    seen = {name: len(p.attempts) for name, p in stack.providers.items()}
    envoy_pid = stack._envoy.pid if stack._envoy is not None else None  # the stack keeps no public handle on it
    cpu0 = (cpu_seconds(stack.triage_pid), cpu_seconds(envoy_pid))
    rows = []
    for _ in range(args.n):
        latency, status, decision_id, answer = client.ask(token, PROMPT)
        model = answer.get("model") if isinstance(answer, dict) else None
        rows.append(
            {"kind": kind, "round": r, "latency_ms": latency, "status": status, "id": decision_id, "model": model}
        )
    cpu1 = (cpu_seconds(stack.triage_pid), cpu_seconds(envoy_pid))
    calls: dict[str, list[float]] = {}
    for name, provider in stack.providers.items():
        new = provider.attempts[seen[name] :]
        calls[name] = [a.duration_s * 1000 for a in new if a.duration_s is not None]
    return {
        "rows": rows,
        "triage_cpu_us": (cpu1[0] - cpu0[0]) / args.n * 1e6,
        "envoy_cpu_us": (cpu1[1] - cpu0[1]) / args.n * 1e6,
        "provider_ms": calls,
    }


def attach_records(stack: Any, rows: list[dict[str, Any]], timeout_s: float = 30.0) -> int:
    """Each row gets its decision record's ``duration_ms``, route and ``escalation``; returns the rows without one."""
    wanted = {row["id"] for row in rows if row["id"]}
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError):
            for line in stack.decision_log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    rec = json.loads(line)
                    if rec.get("decision_id") in wanted and "status" in rec:
                        found[rec["decision_id"]] = rec
        if len(found) >= len(wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.3)  # Triage flushes its decision log a few times a second
    missing = 0
    for row in rows:
        rec = found.get(row["id"])
        if rec is None:
            missing += 1
            continue
        esc = rec.get("escalation") or {}
        strong = esc.get("strong") or {}
        row.update(
            route=rec.get("route"),
            duration_ms=rec.get("duration_ms"),
            escalated=rec.get("escalated"),
            outcome=esc.get("outcome"),
            answer=esc.get("answer"),
            signals=esc.get("signals"),
            strong_ms=strong.get("duration_ms"),
            strong_status=strong.get("status"),
        )
    return missing


# -- statistics -----------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(vals) if vals else float("nan")


def quantile(values: list[float], q: float) -> float:
    vals = sorted(v for v in values if v is not None and not math.isnan(v))
    if not vals:
        return float("nan")
    return vals[min(len(vals) - 1, int(q * len(vals)))]


def spread(values: list[float]) -> tuple[float, float, float]:
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(vals), min(vals), max(vals)


def fmt(values: tuple[float, float, float], digits: int = 2) -> str:
    med, lo, hi = values
    if math.isnan(med):
        return "-"
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Per round: each kind's medians, the overhead and the check cost; then median (min–max) over rounds."""
    per_round: list[dict[str, float]] = []
    for rnd in raw["rounds"]:
        m: dict[str, float] = {}
        for kind in KINDS:
            b = rnd[kind]
            rows = b["rows"]
            m[f"{kind}_p50"] = median([x["latency_ms"] for x in rows])
            m[f"{kind}_p90"] = quantile([x["latency_ms"] for x in rows], 0.9)
            m[f"{kind}_record"] = median([x.get("duration_ms") or float("nan") for x in rows])
            m[f"{kind}_triage_cpu"] = b["triage_cpu_us"]
            m[f"{kind}_envoy_cpu"] = b["envoy_cpu_us"]
            m[f"{kind}_cheap_call"] = median(b["provider_ms"].get(CHEAP, []))
        esc_rows = rnd["escalated"]["rows"]
        m["strong_call"] = median([x.get("strong_ms") or float("nan") for x in esc_rows])
        m["strong_provider"] = median(rnd["escalated"]["provider_ms"].get(STRONG, []))
        # the same, request by request: the escalated request's latency less its own strong call
        m["escalated_less_strong"] = median(
            [x["latency_ms"] - x["strong_ms"] for x in esc_rows if isinstance(x.get("strong_ms"), int | float)]
        )
        m["overhead"] = m["escalated_p50"] - (m["confident_p50"] + m["strong_call"])
        m["overhead_record"] = m["escalated_record"] - (m["confident_record"] + m["strong_call"])
        m["check"] = m["confident_p50"] - m["plain_p50"]
        per_round.append(m)
    keys = per_round[0].keys() if per_round else []
    out: dict[str, Any] = {k: spread([m[k] for m in per_round]) for k in keys}
    counts: dict[str, dict[str, int]] = {}
    bad: dict[str, int] = {}
    for kind in KINDS:
        c: dict[str, int] = {}
        wrong = 0
        want_model = STRONG_MODEL if kind == "escalated" else CHEAP_MODEL
        want_outcome = {"plain": None, "confident": "confident", "escalated": "escalate"}[kind]
        for rnd in raw["rounds"]:
            for x in rnd[kind]["rows"]:
                key = f"{x.get('outcome') or '-'}/{x.get('answer') or '-'}"
                c[key] = c.get(key, 0) + 1
                ok = x["status"] == 200 and x.get("model") == want_model and x.get("route") == "economy"
                wrong += not ok or x.get("outcome") != want_outcome
        counts[kind], bad[kind] = dict(sorted(c.items())), wrong
    out["outcomes"], out["unexpected"], out["per_round"] = counts, bad, per_round
    return out


def print_report(raw: dict[str, Any]) -> None:
    s = summarise(raw)
    meta = raw["meta"]
    print()
    print(
        f"escalation_overhead: {meta['rounds']} rounds x {meta['n']} requests per kind (+{meta['warmup']} warm-up), "
        f"sequential over one keep-alive connection, providers' added latency {meta['provider_latency_ms']:.0f} ms, "
        f"logprobs {'asked' if meta['logprobs'] else 'off'}, {meta['date']}, load average "
        f"{meta['loadavg_start']:.1f} → {meta['loadavg_end']:.1f}"
    )
    print("ms unless stated; each cell: median over rounds of the round's median (min–max across rounds)")
    header = (
        f"{'kind':<10} {'client p50':<20} {'client p90':<20} {'record duration':<20} {'cheap call (provider)':<22} "
        f"{'Triage CPU µs':<18} {'Envoy CPU µs':<18}"
    )
    print(header)
    print("-" * len(header))
    for kind in KINDS:
        print(
            f"{kind:<10} {fmt(s[f'{kind}_p50']):<20} {fmt(s[f'{kind}_p90']):<20} {fmt(s[f'{kind}_record']):<20} "
            f"{fmt(s[f'{kind}_cheap_call'], 3):<22} {fmt(s[f'{kind}_triage_cpu'], 0):<18} "
            f"{fmt(s[f'{kind}_envoy_cpu'], 0):<18}"
        )
    print()
    print(f"strong call (record: escalation.strong.duration_ms)  {fmt(s['strong_call'])}")
    print(f"  of which the strong provider's own time              {fmt(s['strong_provider'], 3)}")
    print(f"escalated latency less its own strong call            {fmt(s['escalated_less_strong'])}")
    print(f"ESCALATION OVERHEAD = escalated − (confident + strong) {fmt(s['overhead'])}")
    print(f"  the same from the records (Triage's duration_ms)     {fmt(s['overhead_record'])}")
    print(f"check cost = confident − plain                        {fmt(s['check'])}")
    print()
    for kind in KINDS:
        outcomes = " ".join(f"{k}={v}" for k, v in s["outcomes"][kind].items())
        flag = f"  WARNING: {s['unexpected'][kind]} unexpected" if s["unexpected"][kind] else ""
        print(f"  {kind:<10} outcome/answer: {outcomes}{flag}")
    if any(s["unexpected"].values()):
        print(
            "  (unexpected: not a 200, not routed to economy, the wrong model answered, or an outcome other than "
            "none / confident / escalate)"
        )
    print()
    print(
        f"escalation_overhead overhead_ms={s['overhead'][0]:.3f} overhead_min_ms={s['overhead'][1]:.3f} "
        f"overhead_max_ms={s['overhead'][2]:.3f} check_ms={s['check'][0]:.3f} plain_p50_ms={s['plain_p50'][0]:.3f} "
        f"confident_p50_ms={s['confident_p50'][0]:.3f} escalated_p50_ms={s['escalated_p50'][0]:.3f} "
        f"strong_call_ms={s['strong_call'][0]:.3f} rounds={meta['rounds']} n={meta['n']} "
        f"unexpected={sum(s['unexpected'].values())}"
    )


# -- the run --------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from triage.sim.stack import LocalStack, StackError

    options = {"latency_s": args.provider_latency_ms / 1000}
    config = stack_config(args.logprobs)
    raw: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "rounds": args.rounds,
            "n": args.n,
            "warmup": args.warmup,
            "provider_latency_ms": args.provider_latency_ms,
            "logprobs": args.logprobs,
            "escalation": config.escalation.model_dump(mode="json", exclude_none=True),
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg()[0],
        },
        "rounds": [],
    }
    if os.getloadavg()[0] > 1.0:
        print(f"note: load average {os.getloadavg()[0]:.1f} before starting: other work shares these CPUs", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="esc-", dir=args.workdir))
    print(f"workdir {workdir}; starting the local stack (fake providers, Triage, Envoy) ...", flush=True)
    stack = LocalStack(config=config, workdir=workdir, provider_options=dict.fromkeys(config.clusters, options))
    try:
        stack.start()
        client = Client(stack.envoy_url)
        keys = tokens()
        probe = client.ask(keys["confident"], PROMPT)[2]
        route = stack.wait_for_decision(probe).get("route")
        if route != "economy":
            raise StackError(f"the prompt was routed to {route!r}, not economy: the measurement needs the cheap route")
        try:
            for r in range(args.rounds):
                order = KINDS[r % len(KINDS) :] + KINDS[: r % len(KINDS)]
                results: dict[str, Any] = {}
                for kind in order:
                    results[kind] = batch(args, stack, client, keys[kind], kind, r)
                    lat = [x["latency_ms"] for x in results[kind]["rows"]]
                    print(
                        f"round {r + 1}/{args.rounds} {kind:<10} p50={median(lat):.2f} p90={quantile(lat, 0.9):.2f} ms "
                        f"Triage CPU {results[kind]['triage_cpu_us']:.0f} µs/req",
                        flush=True,
                    )
                raw["rounds"].append(results)
        finally:
            client.close()
            set_kind(stack, "plain")
        missing = attach_records(stack, [x for rnd in raw["rounds"] for k in KINDS for x in rnd[k]["rows"]])
        raw["meta"]["records_missing"] = missing
        if missing:
            print(f"warning: {missing} requests have no decision record", file=sys.stderr)
        raw["meta"]["loadavg_end"] = os.getloadavg()[0]
        return raw
    finally:
        stack.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (each: one batch of every kind)")
    parser.add_argument("--n", type=int, default=300, help="measured requests per kind per round")
    parser.add_argument("--warmup", type=int, default=30, help="discarded requests before each batch")
    parser.add_argument("--provider-latency-ms", type=float, default=0.0, help="fixed delay of every provider answer")
    parser.add_argument(
        "--logprobs", action=argparse.BooleanOptionalAction, default=True, help="ask the cheap route for logprobs"
    )
    parser.add_argument("--out", type=Path, default=None, help="raw results JSON (default: bench/results/...)")
    parser.add_argument("--report", type=Path, default=None, help="print the report of a saved run and exit")
    parser.add_argument("--workdir", default="/tmp", help="parent of the temporary directory (short: Unix sockets)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs)")
    args = parser.parse_args(argv)
    if args.report is not None:
        print_report(json.loads(args.report.read_text()))
        return 0
    from triage.sim.stack import StackError, stop_on_signals

    with stop_on_signals():
        try:
            raw = run(args)
        except KeyboardInterrupt:
            print("\ninterrupted: everything started was stopped", file=sys.stderr)
            return 130
        except StackError as err:
            print(f"escalation_overhead: {err}", file=sys.stderr)
            return 1
    out = args.out or DEFAULT_RESULTS / f"escalation_overhead-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(raw))
    print_report(raw)
    print(f"\nraw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
