"""Requests per second per core: the highest rate an ext_proc server sustains on a stated CPU budget with p99
under a stated bound, next to the do-nothing server's, and the scaling from 1 to 2 server processes, in one run.

The stack is ``envoy_overhead.py``'s (the same Envoy bootstraps generated from one Triage config, the same fake
providers, do-nothing servers and 1 KB chat bodies), started once. Configurations (``--configs``, any of
``envoy_overhead.py --list``): ``noop4`` and ``triage`` (one server process each), ``noop4-x2`` (two do-nothing
processes behind the ext_proc cluster) and ``triage-w2`` (``triage serve --workers 2`` behind the bootstrap
generated for 2 workers) by default; ``triage-x2`` (two separate ``triage serve``) and ``envoy`` (no ext_proc:
the ceiling of everything else) on request.

Only the ext_proc server processes are confined: each serving process gets its own CPU-quota cgroup (v1:
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, v2: ``cpu.max``), by default 0.25 CPU in 10 ms periods, 10x the
usual CPU weight, and is pinned to its own CPU (worker i on CPU i; a supervisor joins worker 0's group), so
that the server, not Envoy, the load generator or the fake providers sharing the rest of the machine, is what
runs out. Without a writable cgroup it says why and measures unconfined (marked).

Each configuration is swept closed loop (``bench/loadgen.py --closed N``) over 1, 2, 4, ... 32 connections,
level by level, the configurations interleaved (rotated each round); a configuration stops once a level is
over the p99 bound (or failed) and its throughput no longer grows; one level between the best passing and
the next one is then tried (``--no-refine``: not). A level disturbed by the rest of the machine (all CPUs
busy while the quota did not bind) is measured twice, the better kept. For every level: throughput, p50/p99,
non-200s and errors, Envoy's ext_proc failure counters (the filter fails open: a failing server answers
faster), Triage's own fail-opens (classifier deadline misses, from its decision log), the CPU per request
of the server (all its processes and threads, /proc), Envoy and the fake providers, the load generator's
CPU, the machine's busy share, the cgroups' throttling, and which of them was the limit.

The result per configuration and round: the highest throughput among valid levels (p99 <= ``--p99-ms``, no
failures); per core = that / the budget; ratios vs the do-nothing server with as many processes, in the same
round; scaling = the 2-process configuration / its 1-process one. Median (min–max) over rounds. One line per
configuration for automation::

    saturation config=triage procs=1 cpu_budget=0.25 confined=v1 max_rps=94.3 rps_per_core=377.4 p99_ms=29.95 \\
        p50_ms=20.15 conns=2 server_cpu_us=2674 envoy_cpu_us=1334 ratio_vs_noop=0.586 ref=noop4 scaling=- \\
        base=- limit=server limit_rounds=2/2 rounds=2 failed=0 status=ok

Usage: ``python bench/saturation.py`` (about 8-10 minutes), ``--quick`` (2 rounds, 3 s per level), ``--report
FILE`` prints a saved run again. Needs root for the cgroups. Everything started is stopped and every cgroup
removed on exit, on errors and on Ctrl-C; children get SIGTERM if the benchmark is killed, and cgroups left
by a killed run are removed by the next one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envoy_overhead as eo

DEFAULT_CONFIGS = ["noop4", "triage", "noop4-x2", "triage-w2"]
DEFAULT_LEVELS = [1, 2, 4, 8, 16, 32]
GROWTH = 1.05  # a level "grows" when its throughput is 5% over the best so far
REFINE_GAIN = 1.02  # refine between the best passing level and the next when that one had 2% more throughput
BUSY = 0.8  # a CPU consumer at 80% of what it can use is the limit
THROTTLED = 0.5  # a confined server throttled in half of the periods it ran in is out of its quota
MACHINE_BUSY = 0.85  # the machine's CPUs that busy (and the quota not binding): the server waits for a CPU
FAULT_SHARE = 0.001  # Triage's own fail-opens (classifier deadline/error) above this share disqualify a level


# -- cgroups ------------------------------------------------------------------------------------------------

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP_PREFIX = "triage-saturation-"


def _own_cgroup(controller: str | None) -> str:
    """This process's cgroup path for ``controller`` (v1), or its unified (v2) path with ``None``."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller is None and controllers == "") or (controller and controller in controllers.split(",")):
            return path
    return "/"


@dataclass
class CpuGroup:
    """One CPU-quota cgroup: the ext_proc server processes of one configuration."""

    path: Path
    version: int
    cpus: float
    pids: list[int] = field(default_factory=list)

    def add(self, pids: list[int]) -> tuple[int, int]:
        """Move these processes, every thread, in; returns (processes, threads) inside."""
        for p in pids:
            # cgroup.procs moves the whole thread group (all threads); later threads and children inherit it
            (self.path / "cgroup.procs").write_text(str(p))
            self.pids.append(p)
        inside = {
            int(t) for t in (self.path / ("tasks" if self.version == 1 else "cgroup.threads")).read_text().split()
        }
        threads = {int(t.name) for p in self.pids for t in Path(f"/proc/{p}/task").glob("*")}
        if missing := threads - inside:
            raise eo.BenchError(f"threads {sorted(missing)} did not move into {self.path}")
        return len(self.pids), len(inside)

    def throttling(self) -> dict[str, float]:
        """Periods, throttled periods and throttled seconds so far."""
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if " " in line)
        throttled_s = int(stat.get("throttled_time", 0)) / 1e9 + int(stat.get("throttled_usec", 0)) / 1e6
        return {"periods": int(stat["nr_periods"]), "throttled": int(stat["nr_throttled"]), "throttled_s": throttled_s}

    def remove(self) -> None:
        """Move whatever still runs in it back to the parent, then remove it."""
        for _ in range(50):
            with contextlib.suppress(OSError):
                for p in (self.path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (self.path.parent / "cgroup.procs").write_text(p)
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        print(f"warning: could not remove cgroup {self.path}", file=sys.stderr)


class CpuLimiter:
    """Creates CPU-quota cgroups (v1 ``cpu`` controller or v2 ``cpu.max``) and removes them all at the end."""

    def __init__(self, period_us: int, enabled: bool) -> None:
        self.period_us = period_us
        self.groups: list[CpuGroup] = []
        self.version, self.parent, self.why = 0, CGROUP_ROOT, ""
        if not enabled:
            self.why = "--no-cgroup"
            return
        try:
            self._detect()
        except OSError as err:
            self.version, self.why = 0, f"{type(err).__name__}: {err}"

    @property
    def mode(self) -> str:
        return f"v{self.version}" if self.version else "no"

    def _detect(self) -> None:
        v2 = CGROUP_ROOT / "cgroup.controllers"
        if v2.exists():  # the unified hierarchy alone (a hybrid setup keeps cpu in v1 below)
            if "cpu" not in v2.read_text().split():
                self.why = "cgroup v2 without the cpu controller"
                return
            self.parent = CGROUP_ROOT / _own_cgroup(None).lstrip("/")
            if "cpu" not in (self.parent / "cgroup.subtree_control").read_text().split():
                (self.parent / "cgroup.subtree_control").write_text("+cpu")
            self.version = 2
        elif (CGROUP_ROOT / "cpu" / "cpu.cfs_quota_us").exists():
            self.parent = CGROUP_ROOT / "cpu" / _own_cgroup("cpu").lstrip("/")
            self.version = 1
        else:
            self.why = f"no cgroup CPU controller under {CGROUP_ROOT}"
            return
        self._remove_stale()
        probe = self._make(f"{GROUP_PREFIX}{os.getpid()}-probe", 0.5)  # raises when not writable
        probe.remove()

    def _remove_stale(self) -> None:
        """Groups of earlier runs that were killed (their owner pid is gone and nothing runs in them)."""
        for path in self.parent.glob(GROUP_PREFIX + "*"):
            owner = path.name[len(GROUP_PREFIX) :].split("-", 1)[0]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                with contextlib.suppress(OSError):
                    path.rmdir()

    def _make(self, name: str, cpus: float) -> CpuGroup:
        quota = round(cpus * self.period_us)
        if quota < 1000:
            raise eo.BenchError(f"a quota of {quota} µs per period is below the kernel's 1,000 µs: raise --period-us")
        path = self.parent / name
        path.mkdir(exist_ok=True)
        group = CpuGroup(path, self.version, cpus)
        self.groups.append(group)
        # 10x a plain process's CPU weight: when the machine is busy the server still gets its budget whenever it
        # can run, so the quota, not the neighbours (Envoy, the load generator, other users), is what limits it
        if self.version == 1:
            (path / "cpu.cfs_quota_us").write_text("-1")  # the period may not go below an existing quota's
            (path / "cpu.cfs_period_us").write_text(str(self.period_us))
            (path / "cpu.cfs_quota_us").write_text(str(quota))
            (path / "cpu.shares").write_text(str(10 * 1024))
        else:
            (path / "cpu.max").write_text(f"{quota} {self.period_us}")
            (path / "cpu.weight").write_text(str(10 * 100))
        return group

    def confine(self, name: str, roots: list[int], cpus: float, pin: bool) -> list[CpuGroup]:
        """One group of ``cpus`` CPUs per serving process of ``roots`` (a supervisor's workers, each; the
        supervisor joins the first), each process pinned to its own CPU with ``pin``; [] when unconfined."""
        if not self.version:
            return []
        serving, supervisors = serving_processes(roots)
        cpu_ids = sorted(os.sched_getaffinity(0))
        groups = []
        for i, pid in enumerate(serving):
            group = self._make(f"{GROUP_PREFIX}{os.getpid()}-{name}-{i}", cpus)
            members = [pid, *(supervisors if i == 0 else [])]
            procs, threads = group.add(members)
            where = ""
            if pin:
                cpu = cpu_ids[i % len(cpu_ids)]
                for p in members:
                    pin_threads(p, cpu)
                where = f", pinned to CPU {cpu}"
            print(f"  {name}: pid {pid} ({procs} process(es), {threads} threads): {cpus:g} CPU{where}", flush=True)
            groups.append(group)
        return groups

    def cleanup(self) -> None:
        while self.groups:
            self.groups.pop().remove()


def serving_processes(roots: list[int]) -> tuple[list[int], list[int]]:
    """The processes that serve streams (a started process, or a supervisor's children) and the supervisors."""
    serving: list[int] = []
    supervisors: list[int] = []
    for root in roots:
        tree = eo.process_tree(root)
        if len(tree) > 1:
            supervisors.append(root)
            serving += sorted(tree[1:])
        else:
            serving.append(root)
    return serving, supervisors


def pin_threads(pid: int, cpu: int) -> None:
    """Every thread of ``pid`` on ``cpu`` (threads started later inherit their creator's affinity)."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), {cpu})


# -- what is measured ---------------------------------------------------------------------------------------


def processes(name: str) -> int:
    server = eo.VARIANTS[name].server
    return eo.server_processes(server) if server else 0


def reference(name: str) -> str | None:
    """The do-nothing configuration with as many server processes (the ratio's denominator)."""
    v = eo.VARIANTS[name]
    n = processes(name)
    if n == 0:
        return None
    ref = v.ref if n == 1 else (f"noop4-x{n}" if v.phases == "4" else None)
    return ref if ref in eo.VARIANTS and ref != name else None


def base(name: str) -> str | None:
    """The 1-process configuration a multi-process one scales from (``triage-w2`` → ``triage``)."""
    head, _, last = name.rpartition("-")
    if processes(name) > 1 and last[:1] in ("x", "w") and last[1:].isdigit() and head in eo.VARIANTS:
        return head
    return None


def _proc_stat() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])
    return total - idle, total


class DecisionTail:
    """New lines of Triage's decision log(s): decisions made and faults (classifier deadline or error: the
    request failed open to the default route, cheaper than a classified one)."""

    def __init__(self, paths: list[Path]) -> None:
        self.pos = {p: (p.stat().st_size if p.exists() else 0) for p in paths}

    def take(self) -> tuple[int, int]:
        decisions = faults = 0
        for path, pos in self.pos.items():
            if not path.exists():
                continue
            with path.open("rb") as f:
                f.seek(pos)
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.pos[path] = pos + end
            for line in data[:end].splitlines():
                with contextlib.suppress(ValueError, AttributeError):
                    reason = json.loads(line).get("reason")
                    decisions += 1
                    faults += reason in ("deadline", "error")
        return decisions, faults


@dataclass
class Target:
    """One configuration under test: its Envoy, servers, budget and cgroup."""

    name: str
    envoy: eo.EnvoyProc
    server_pids: list[int]
    budget: float | None  # CPUs of the quota; None: unconfined (or no server)
    groups: list[CpuGroup]
    decisions: DecisionTail

    def throttling(self) -> dict[str, float] | None:
        """Summed over the groups: periods, throttled periods, throttled seconds."""
        if not self.groups:
            return None
        stats = [g.throttling() for g in self.groups]
        return {k: sum(st[k] for st in stats) for k in stats[0]}


def limit_of(level: dict[str, Any], budget: float | None, procs: int) -> str:
    """Which consumer ran out of CPU at this level (``none``: none did; the connections were too few).

    A confined server is the limit when the quota throttles it, not when its CPU use is near its budget: with
    the machine busy it can use less than its budget without being throttled (it waits for a CPU instead)."""
    if procs and budget is not None and level.get("throttled_share", 0.0) >= THROTTLED:
        return "server"  # the quota is what stops it
    if procs and budget is None and level["server_cores"] >= BUSY * procs:
        return "server"  # unconfined: a Python server process uses about one core at most
    for key, who in (("envoy_cores", "envoy"), ("client_cores", "loadgen"), ("provider_cores", "provider")):
        if level[key] >= BUSY:  # each of these is one busy thread at most
            return who
    if level["machine_busy"] >= MACHINE_BUSY:
        return "machine"  # all CPUs busy: the server waits for a CPU, not for its quota
    return "none"


def measure_level(args: argparse.Namespace, stack: eo.Stack, t: Target, conns: int, cpu: int | None) -> dict[str, Any]:
    """One closed-loop level: throughput, latency, failures and everyone's CPU."""
    variant = eo.VARIANTS[t.name]
    providers = [p.pid for n, p in stack.procs.children if n.startswith("provider-")]
    checks0 = eo.envoy_checks(t.envoy, variant)
    t.decisions.take()
    server0, envoy0 = eo.tree_cpu_seconds(t.server_pids), eo.cpu_seconds(t.envoy.proc.pid)
    prov0 = [eo.cpu_seconds(p) for p in providers]
    thr0 = t.throttling()
    busy0, total0 = _proc_stat()
    load = ["--closed", str(conns), "--duration", str(args.duration), "--timeout", str(args.timeout)]
    res = eo.run_loadgen(stack.procs, t.envoy.url, stack.body_files, load, cpu)
    busy1, total1 = _proc_stat()
    server1, envoy1 = eo.tree_cpu_seconds(t.server_pids), eo.cpu_seconds(t.envoy.proc.pid)
    prov1 = [eo.cpu_seconds(p) for p in providers]
    thr1 = t.throttling()
    checks1 = eo.envoy_checks(t.envoy, variant)
    time.sleep(0.35)  # Triage flushes its decision log four times a second
    decisions, faults = t.decisions.take()

    rps = float(res["throughput_rps"])
    total = max(1, int(res["total_done"]))  # warm-up included: the CPU deltas cover the whole run
    per_req = {
        "server_cpu_us": (server1 - server0) / total * 1e6,
        "envoy_cpu_us": (envoy1 - envoy0) / total * 1e6,
        "provider_cpu_us": sum(b - a for a, b in zip(prov0, prov1, strict=True)) / total * 1e6,
    }
    busiest_provider = max([b - a for a, b in zip(prov0, prov1, strict=True)] or [0.0]) / total * 1e6
    level: dict[str, Any] = {
        "conns": conns,
        "rps": rps,
        "done": res["done"],
        "total_done": total,
        "p50_ms": res["p50_ms"],
        "p90_ms": res["p90_ms"],
        "p99_ms": res["p99_ms"],
        "max_ms": res["max_ms"],
        **per_req,
        "server_cores": rps * per_req["server_cpu_us"] / 1e6,
        "envoy_cores": rps * per_req["envoy_cpu_us"] / 1e6,
        "provider_cores": rps * busiest_provider / 1e6,
        "client_cores": float(res["client_cpu_s"]) / args.duration,
        "machine_busy": (busy1 - busy0) / (total1 - total0) if total1 > total0 else float("nan"),
        "errors": int(res["error_count"]) + sum(c for s, c in res["statuses"].items() if s != "200"),
        "statuses": res["statuses"],
        "ext_proc": {k: checks1[k] - checks0.get(k, 0) for k in checks1},
        "decisions": decisions,
        "faults": faults,
        "decision_log": bool(t.decisions.pos),
    }
    level["failed_open"] = max([0, *(level["ext_proc"].get(k, 0) for k in eo.FAILURE_STATS)])
    if thr0 is not None and thr1 is not None:
        periods = thr1["periods"] - thr0["periods"]
        level["throttled_share"] = (thr1["throttled"] - thr0["throttled"]) / periods if periods else 0.0
        level["throttled_s"] = thr1["throttled_s"] - thr0["throttled_s"]
    level["limit"] = limit_of(level, t.budget, processes(t.name))
    level["problems"] = problems(level, args.p99_ms)
    return level


def problems(level: dict[str, Any], bound_ms: float) -> list[str]:
    """Why a level does not count as sustained (empty: it does)."""
    out = []
    if level["failed_open"]:
        out.append(f"FAILED: {level['failed_open']} ext_proc streams failed/failed open {level['ext_proc']}")
    if level["errors"]:
        out.append(f"FAILED: {level['errors']} errors or non-200 {level['statuses']}")
    if level["faults"] > FAULT_SHARE * max(1, level["decisions"]):
        out.append(f"FAILED: {level['faults']} of {level['decisions']} decisions failed open (classifier deadline)")
    if level.get("decision_log") and level["decisions"] < level["done"] // 2:
        out.append(f"FAILED: {level['decisions']} decisions logged for {level['done']} requests (Triage not deciding?)")
    p99 = level["p99_ms"]
    if p99 is None or p99 > bound_ms:
        out.append("p99 over the bound")
    return out


def failed(level: dict[str, Any]) -> bool:
    return any(p.startswith("FAILED") for p in level["problems"])


def best_level(levels: list[dict[str, Any]]) -> dict[str, Any] | None:
    valid = [lv for lv in levels if not lv["problems"]]
    return max(valid, key=lambda lv: lv["rps"]) if valid else None


def print_level(r: int, rounds: int, name: str, lv: dict[str, Any], budget: float | None) -> None:
    cap = f"/{budget:g}" if budget is not None else ""
    thr = f" thr {lv['throttled_share']:.0%}" if "throttled_share" in lv else ""
    p99 = lv["p99_ms"] if lv["p99_ms"] is not None else float("nan")
    p50 = lv["p50_ms"] if lv["p50_ms"] is not None else float("nan")
    flags = [p for p in lv["problems"] if p != "p99 over the bound"]
    print(
        f"round {r + 1}/{rounds} {name:<10} c={lv['conns']:<3} {lv['rps']:7.1f} req/s p50 {p50:6.1f} p99 {p99:7.1f} ms"
        f" | server {lv['server_cpu_us']:5.0f} µs/req {lv['server_cores']:.2f}{cap} cpu{thr}"
        f" | envoy {lv['envoy_cores']:.2f} loadgen {lv['client_cores']:.2f} provider {lv['provider_cores']:.2f}"
        f" machine {lv['machine_busy']:.0%} | limit {lv['limit']}"
        + (" (p99 > bound)" if "p99 over the bound" in lv["problems"] else "")
        + ("  " + "; ".join(flags) if flags else ""),
        flush=True,
    )


def sweep_round(
    args: argparse.Namespace, stack: eo.Stack, targets: dict[str, Target], r: int, cpu: int | None
) -> dict[str, Any]:
    """One round: every configuration through the levels, level by level, in rotated order."""
    names = list(targets)
    order = names[r % len(names) :] + names[: r % len(names)]
    levels: dict[str, list[dict[str, Any]]] = {n: [] for n in order}
    disturbed: dict[str, list[dict[str, Any]]] = {n: [] for n in order}
    active = list(order)

    def run_one(name: str, conns: int) -> dict[str, Any]:
        top = max((lv["rps"] for lv in levels[name]), default=0.0)
        lv = measure_level(args, stack, targets[name], conns, cpu)
        print_level(r, args.rounds, name, lv, targets[name].budget)
        if lv["limit"] == "machine" and not failed(lv) and (lv["problems"] or lv["rps"] < GROWTH * top):
            # The machine was busy and the quota did not bind: the neighbours, not the server, set this figure.
            print(f"{'':>10} the machine was busy and {name} was not throttled: measuring c={conns} again", flush=True)
            again = measure_level(args, stack, targets[name], conns, cpu)
            print_level(r, args.rounds, name, again, targets[name].budget)
            keep, drop = sorted((lv, again), key=lambda x: (not x["problems"], x["rps"]), reverse=True)
            disturbed[name].append(drop)
            lv = keep
        levels[name].append(lv)
        return lv

    for conns in args.levels:
        for name in list(active):
            top = max((lv["rps"] for lv in levels[name]), default=0.0)
            lv = run_one(name, conns)
            if failed(lv) or (lv["problems"] and lv["rps"] < GROWTH * top):
                active.remove(name)  # failing, or over the bound and no longer growing: more connections only queue
        if not active:
            break
    if args.refine:  # one level between the best passing one and the next, when that one had more throughput
        for name in order:
            best = best_level(levels[name])
            if best is None:
                continue
            above = sorted((lv for lv in levels[name] if lv["conns"] > best["conns"]), key=lambda lv: lv["conns"])
            if above and not failed(above[0]) and above[0]["rps"] > REFINE_GAIN * best["rps"]:
                mid = (best["conns"] + above[0]["conns"]) // 2
                if mid not in (best["conns"], above[0]["conns"]):
                    run_one(name, mid)
    out: dict[str, Any] = {}
    for name in order:
        best = best_level(levels[name])
        out[name] = {"levels": sorted(levels[name], key=lambda lv: lv["conns"]), "best": best}
        out[name]["disturbed"] = disturbed[name]  # the worse of two measurements of a level, not used
    return out


# -- report -------------------------------------------------------------------------------------------------


def _per_round(raw: dict[str, Any], name: str, key: str) -> list[float]:
    out = []
    for rnd in raw["rounds"]:
        best = rnd.get(name, {}).get("best")
        out.append(float(best[key]) if best and best.get(key) is not None else float("nan"))
    return out


def _ratio(raw: dict[str, Any], name: str, other: str | None) -> tuple[float, float, float] | None:
    """Same-round ratio of max throughputs, median (min–max) over rounds."""
    if other is None or other not in raw["configs"]:
        return None
    mine, theirs = _per_round(raw, name, "rps"), _per_round(raw, other, "rps")
    return eo.spread([a / b if b > 0 else float("nan") for a, b in zip(mine, theirs, strict=True)])


def summarise(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    meta = raw["meta"]
    out: dict[str, dict[str, Any]] = {}
    for name in raw["configs"]:
        budget = meta["budgets"].get(name)
        row: dict[str, Any] = {"procs": processes(name), "budget": budget, "ref": reference(name), "base": base(name)}
        for key in ("rps", "p99_ms", "p50_ms", "conns", "server_cpu_us", "envoy_cpu_us", "server_cores"):
            row[key] = eo.spread(_per_round(raw, name, key))
        if budget:
            row["per_core"] = eo.spread([x / budget for x in _per_round(raw, name, "rps")])
        else:  # unconfined: per core of the CPU the server really used at that level
            cores = _per_round(raw, name, "server_cores")
            row["per_core"] = eo.spread(
                [x / c if c > 0 else float("nan") for x, c in zip(_per_round(raw, name, "rps"), cores, strict=True)]
            )
        row["ratio"] = _ratio(raw, name, row["ref"])
        row["scaling"] = _ratio(raw, name, row["base"])
        rounds = [rnd[name] for rnd in raw["rounds"] if name in rnd]
        row["failed"] = sum(1 for rnd in rounds for lv in rnd["levels"] if failed(lv))
        row["none_valid"] = sum(1 for rnd in rounds if rnd["best"] is None)
        # FAILED: a level at or below the chosen one failed (a broken server, not an overload), or none passed
        row["status"] = "ok"
        for rnd in rounds:
            chosen = rnd["best"]["conns"] if rnd["best"] else math.inf
            if rnd["best"] is None or any(failed(lv) and lv["conns"] <= chosen for lv in rnd["levels"]):
                row["status"] = "FAILED"
        limits = [rnd["best"]["limit"] for rnd in rounds if rnd["best"]]
        row["limit"] = max(sorted(set(limits)), key=limits.count) if limits else "-"
        row["limit_rounds"] = f"{limits.count(row['limit'])}/{len(rounds)}" if limits else "0"
        row["limits"] = limits
        row["notes"] = notes(name, rounds, budget)
        out[name] = row
    return out


def notes(name: str, rounds: list[dict[str, Any]], budget: float | None) -> list[str]:
    """Where the server was not the limit: at the chosen level, or where throughput stopped growing."""
    out = []
    for r, rnd in enumerate(rounds):
        best = rnd["best"] if processes(name) else None  # no server (``envoy``): nothing to say about it
        if best and best["limit"] != "server":
            cap = f" of its {budget:g}" if budget else ""
            out.append(
                f"{name} round {r + 1}: at its best level (c={best['conns']}) the server used "
                f"{best['server_cores']:.2f}{cap} CPU, limit: {best['limit']} (envoy {best['envoy_cores']:.2f}, "
                f"loadgen {best['client_cores']:.2f}, provider {best['provider_cores']:.2f}, machine "
                f"{best['machine_busy']:.0%}) — the bottleneck is not the server"
                + (
                    " (too few connections to fill the server before p99 passed the bound)"
                    if best["limit"] == "none"
                    else ""
                )
            )
        prev = None
        for lv in rnd["levels"]:
            stalled = prev and lv["rps"] < GROWTH * prev["rps"] and lv["limit"] != "server" and not failed(lv)
            if stalled and processes(name):
                out.append(
                    f"{name} round {r + 1}: throughput stopped growing at c={lv['conns']} ({prev['rps']:.0f} → "
                    f"{lv['rps']:.0f} req/s) with the server at {lv['server_cores']:.2f} CPU: limit {lv['limit']}"
                )
            prev = lv
        out += [
            f"{name} round {r + 1} c={lv['conns']}: " + "; ".join(lv["problems"]) for lv in rnd["levels"] if failed(lv)
        ]
    return out


def print_report(raw: dict[str, Any]) -> None:
    meta = raw["meta"]
    summary = summarise(raw)
    confined = meta["confined"]
    print()
    print(
        f"saturation: {meta['rounds']} rounds, closed loop at {','.join(map(str, meta['levels']))} connections, "
        f"{meta['duration']:g} s per level (+ warm-up), p99 bound {meta['p99_ms']:g} ms, 1 KB chat body, "
        f"{meta['date']}, load average {meta['loadavg_start']:.1f} → {meta.get('loadavg_end', float('nan')):.1f}"
    )
    if confined != "no":
        print(
            f"ext_proc servers confined to {meta['cpu_per_process']:g} CPU per server process (cgroup {confined}, "
            f"quota {round(meta['cpu_per_process'] * meta['period_us'])} µs per {meta['period_us']} µs period"
            + (", server process i pinned to CPU i" if meta.get("pin") else "")
            + "); Envoy, the load generator and the providers share the rest"
        )
    else:
        print(f"UNCONFINED ({meta['unconfined_why']}): req/s per core uses the CPU the server really used")
    print(
        "max req/s = the highest throughput among levels with p99 <= bound and no failure; median (min–max) over "
        "rounds;\nratio = / the do-nothing server with as many processes (ref), scaling = / the 1-process "
        "configuration (base), both per round"
    )
    header = (
        f"{'config':<10} {'procs':>5} {'cpu':>5} {'max req/s':<22} {'req/s/core':<22} {'p99 ms @max':<20} "
        f"{'conns':<12} {'srv µs/req':>10} {'ratio vs ref':<26} {'scaling vs base':<26} {'limit':<12} ok"
    )
    print(header)
    print("-" * len(header))
    for name, row in summary.items():
        budget = f"{row['budget']:g}" if row["budget"] else "-"
        ratio = eo.fmt_spread(row["ratio"]) + f" /{row['ref']}" if row["ratio"] else "-"
        scaling = eo.fmt_spread(row["scaling"]) + f" /{row['base']}" if row["scaling"] else "-"
        print(
            f"{name:<10} {row['procs']:>5} {budget:>5} {eo.fmt_spread(row['rps'], 0):<22} "
            f"{eo.fmt_spread(row['per_core'], 0):<22} {eo.fmt_spread(row['p99_ms'], 1):<20} "
            f"{eo.fmt_spread(row['conns'], 0):<12} {row['server_cpu_us'][0]:>10.0f} {ratio:<26} {scaling:<26} "
            f"{row['limit'] + ' ' + row['limit_rounds']:<12} {row['status']}"
        )
    if raw.get("routes"):
        print("\nEnvoy routes taken (access logs): " + "; ".join(f"{n} {r or '-'}" for n, r in raw["routes"].items()))
    all_notes = [n for row in summary.values() for n in row["notes"]]
    for name, routes in raw.get("routes", {}).items():  # the body reply must re-route, as Triage's does
        if routes and all(r.startswith("triage_default:") for r in routes.split(",")):
            all_notes.append(f"WARNING {name}: no request was re-routed on the body ({routes})")
    if all_notes:
        print()
        for note in all_notes:
            print("  note: " + note)
    print()
    for name, row in summary.items():
        parts = [f"saturation config={name} procs={row['procs']}"]
        parts.append(f"cpu_budget={row['budget']:g}" if row["budget"] else "cpu_budget=none")
        parts.append(f"confined={confined}")
        parts.append(f"max_rps={row['rps'][0]:.1f} rps_per_core={row['per_core'][0]:.1f}")
        parts.append(f"p99_ms={row['p99_ms'][0]:.2f} p50_ms={row['p50_ms'][0]:.2f} conns={row['conns'][0]:g}")
        parts.append(f"server_cpu_us={row['server_cpu_us'][0]:.0f} envoy_cpu_us={row['envoy_cpu_us'][0]:.0f}")
        parts.append(
            f"ratio_vs_noop={row['ratio'][0]:.3f} ref={row['ref']}" if row["ratio"] else "ratio_vs_noop=- ref=-"
        )
        parts.append(f"scaling={row['scaling'][0]:.3f} base={row['base']}" if row["scaling"] else "scaling=- base=-")
        parts.append(f"limit={row['limit']} limit_rounds={row['limit_rounds']} rounds={len(raw['rounds'])}")
        parts.append(f"failed={row['failed']} status={row['status']}")
        print(" ".join(parts))


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP ignored for the duration (the cleanup), then handled as before."""
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


# -- the run ------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from triage.config import load_config

    base_cfg = load_config(args.config)
    names: list[str] = args.configs
    real = [n for n in names if (eo.VARIANTS[n].server or "").startswith("triage")]
    if real and not args.custom_triage and not eo.model_present(base_cfg):
        print("warning: the classifier bundle (model.onnx) is missing: skipping the real Triage", file=sys.stderr)
        names = [n for n in names if n not in real]
    limiter = CpuLimiter(args.period_us, args.cgroup)
    if not limiter.version:
        print(f"no CPU quota ({limiter.why}): measuring UNCONFINED, the servers compete for the whole machine")
    workdir = Path(tempfile.mkdtemp(prefix="sat-", dir=args.workdir))
    procs = eo.Procs(workdir)
    print(f"workdir {workdir}", flush=True)
    if os.getloadavg()[0] > 1.0:
        print(f"note: load average {os.getloadavg()[0]:.1f} before starting: other work shares these CPUs", flush=True)
    try:
        stack = eo.start_stack(args, base_cfg, procs, names)
        targets: dict[str, Target] = {}
        budgets: dict[str, float | None] = {}
        for name in names:
            pids = stack.server_pids.get(name, [])
            groups = limiter.confine(name, pids, args.cpu_per_process, args.pin) if pids else []
            budgets[name] = args.cpu_per_process * len(groups) if groups else None
            logs = stack.decision_logs.get(name, [])
            targets[name] = Target(name, stack.envoys[name], pids, budgets[name], groups, DecisionTail(logs))
        cpu = None if args.loadgen_cpu < 0 else args.loadgen_cpu
        raw: dict[str, Any] = {
            "meta": {
                "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                "rounds": args.rounds,
                "levels": args.levels,
                "duration": args.duration,
                "p99_ms": args.p99_ms,
                "cpu_per_process": args.cpu_per_process,
                "period_us": args.period_us,
                "pin": args.pin,
                "confined": limiter.mode,
                "unconfined_why": limiter.why,
                "budgets": budgets,
                "loadgen_cpu": cpu,
                "triage_cmd": args.triage_cmd,
                "cpus": os.cpu_count(),
                "loadavg_start": os.getloadavg()[0],
            },
            "configs": names,
            "rounds": [],
        }
        started = time.monotonic()
        for r in range(args.rounds):
            raw["rounds"].append(sweep_round(args, stack, targets, r, cpu))
        raw["meta"]["measure_seconds"] = round(time.monotonic() - started, 1)
        raw["meta"]["loadavg_end"] = os.getloadavg()[0]
        with signals_ignored():
            procs.stop_all()  # Envoy flushes its access logs on exit: which routes the requests took
        raw["routes"] = {n: eo.routes_taken(stack.logs[n]) for n in names if eo.VARIANTS[n].server}
        return raw
    finally:
        with signals_ignored():  # a second Ctrl-C (or a signal to the whole process group) must not skip this
            try:
                procs.stop_all()
            finally:
                limiter.cleanup()
                if not args.keep:
                    shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2 rounds, 3 s per level")
    parser.add_argument(
        "--configs",
        help=f"comma-separated (default {','.join(DEFAULT_CONFIGS)}); any of envoy_overhead.py --list, e.g. "
        "triage-x2 (two `triage serve` replicas), noop4-sync, envoy (no ext_proc: the ceiling of the rest)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=float, default=None, help="measured seconds per level (default 5)")
    parser.add_argument("--levels", default=",".join(map(str, DEFAULT_LEVELS)), help="closed-loop connections")
    parser.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True, help="one level in between")
    parser.add_argument("--p99-ms", type=float, default=50.0, help="the p99 bound a sustained level stays under")
    parser.add_argument("--cpu-per-process", type=float, default=0.25, help="CPU budget per ext_proc server process")
    parser.add_argument(
        "--period-us", type=int, default=10_000, help="CFS period (short: throttling stalls stay short)"
    )
    parser.add_argument("--cgroup", action=argparse.BooleanOptionalAction, default=True, help="--no-cgroup: unconfined")
    parser.add_argument(
        "--pin", action=argparse.BooleanOptionalAction, default=True, help="confined server process i on CPU i"
    )
    parser.add_argument("--loadgen-cpu", type=int, default=-1, help="pin the load generator to this CPU; -1: no")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout of the load generator, s")
    parser.add_argument("--triage-cmd", default=None, help="command that starts Triage ('--config FILE' appended)")
    parser.add_argument("--config", type=Path, default=None, help="Triage config to derive from (default: builtin)")
    parser.add_argument("--out", type=Path, default=None, help="raw results JSON (default: bench/results/...)")
    parser.add_argument("--report", type=Path, default=None, help="print the report of a saved run and exit")
    parser.add_argument("--workdir", default="/tmp", help="parent of the temporary directory (short: Unix sockets)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs)")
    args = parser.parse_args(argv)
    if args.report is not None:
        print_report(json.loads(args.report.read_text()))
        return 0
    args.configs = args.configs.split(",") if args.configs else list(DEFAULT_CONFIGS)
    unknown = [n for n in args.configs if n not in eo.VARIANTS or n == "triage-alt"]
    if unknown:
        parser.error(f"unknown configurations {unknown}; choose from {[n for n in eo.VARIANTS if n != 'triage-alt']}")
    args.levels = sorted({int(x) for x in args.levels.split(",")})
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.duration = args.duration or (3.0 if args.quick else 5.0)
    args.custom_triage = args.triage_cmd is not None
    args.triage_cmd = args.triage_cmd or shlex.join([eo.PY, "-m", "triage", "serve"])
    args.alt_triage_cmd = None
    with eo.signals_raise():
        try:
            raw = run(args)
        except KeyboardInterrupt:
            print("\ninterrupted: everything started was stopped, the cgroups removed", file=sys.stderr)
            return 130
        except eo.BenchError as err:
            print(f"saturation: {err}", file=sys.stderr)
            return 1
    out = args.out or eo.DEFAULT_RESULTS / f"saturation-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(raw))
    print_report(raw)
    print(f"\nraw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
