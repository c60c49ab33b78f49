"""Latency Triage adds through Envoy, next to Envoy alone and to do-nothing ext_proc servers, in one run.

DESIGN §4: "latency Triage adds through Envoy vs the same Envoy without ext_proc (steady 200 req/s): within
20% of a do-nothing Python ext_proc with the same phases, measured in the same run". Every configuration
runs at the same time on the same machine (one Envoy per configuration, ``--concurrency 1``, all derived
from the bootstrap that ``triage.envoy.bootstrap.build_bootstrap`` generates from one Triage config), and the
measurements are interleaved: round 1 runs A, B, C ..., round 2 the same list rotated by one, and so on,
so machine noise hits every configuration alike. Latency is measured by ``bench/loadgen.py`` (a separate
process, open loop on a fixed clock, from the due time to the last byte) for a 1 KB OpenAI chat body,
``POST /v1/chat/completions`` with a JSON answer from the project's fake provider.

Configurations (``--configs`` picks some; ``--list`` describes them all):

    envoy       the generated bootstrap with the ext_proc filter removed (catch-all default route)
    noop2       + do-nothing ext_proc (bench/noop_extproc.py), request phases only (headers SEND, body
                BUFFERED; response SKIP/NONE); its body reply sets the route (header, metadata, clear_route_cache)
    noop4       + do-nothing ext_proc, all four phases as Triage uses them (+ response headers, STREAMED body)
    triage      + the real Triage (``python -m triage serve``), the generated bootstrap unchanged
    triage2     the real Triage with the response phases off (what Triage's response side costs)
    noop2-obs   noop2 + a second ext_proc filter in observability_mode reading response headers + body
    noop4-rw    noop4 served with grpc.aio context.read()/context.write() instead of an async generator
    noop4-sync  noop4 served by grpc's synchronous thread-pool server
    noop4-tcp   noop4 over TCP loopback instead of a Unix socket (same server process as noop4)
  optional:
    noop4-uvloop, noop4-x2 / triage-x2 (two server processes behind the cluster), triage-w2 (``triage serve
    --workers 2`` behind the bootstrap generated for 2 workers), noop4-ggrpc (Envoy's
    google_grpc client), noop4-nowait / triage-nowait (send_body_without_waiting_for_header_response),
    noop-body / noop-body4 (request headers SKIP), and triage-alt: a second Triage started by
    ``--alt-triage-cmd`` (e.g. ``bench/proto_triage.py``, candidate speed-ups) measured beside the real one;
    triage-shadow: the real Triage with two shadow candidates (a ladder and a model) decided after every reply;
    triage-escalation: the real Triage with confidence escalation (``escalation:``) on for every request sent,
    none of which escalates (the cost of checking an answer that ships); triage-escalation-lp: the same with the
    cheap answers' logprobs asked for (``escalation.logprobs_routes``) and stripped again.

Output: a table (per configuration: p50/p90/p99 as the median over rounds with min–max across rounds, the
latency added vs ``envoy`` in the same round, and the ratio of that to the do-nothing reference with the
same phases), then one machine-readable line per configuration::

    envoy_overhead config=triage p50_ms=5.1 p90_ms=6.0 p99_ms=9.8 added_p50_ms=3.2 added_p99_ms=4.0 \\
        ratio_vs_noop=1.07 ratio_p99_vs_noop=1.1 ref=noop4 server_cpu_us=2900 envoy_cpu_us=1100 rounds=3 n=2000 \\
        failed=0 saturated=0

The raw latencies are saved as JSON (``--out``; default ``bench/results/``); ``--report FILE`` prints the
table of a saved run again. Everything started (Envoys, servers, providers, load generators) is stopped on
exit, on Ctrl-C and on errors.

Usage: ``python bench/envoy_overhead.py`` (about 5-6 minutes) or ``--quick`` (about 1 minute).
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
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
PY = sys.executable
DEFAULT_RESULTS = BENCH / "results"
ROUTE = "economy"  # the route the do-nothing servers pick: the default route's chain, the same upstream
BODY_BYTES = 1024


# -- configurations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str
    server: str | None  # None: no ext_proc; "asyncgen" | "readwrite" | "sync" [-uvloop] [-xN]; "triage[-alt|-xN|-wN]"
    phases: str  # "none"; "2" request only; "4" + response; "2+obs" + an observer filter; "body"/"body4": no headers
    ref: str | None  # the do-nothing configuration with the same phases (the ratio's denominator)
    about: str
    transport: str = "uds"  # or "tcp"
    tweak: str | None = None  # a change to the ext_proc filter: "nowait", "google_grpc"


_V = Variant
VARIANTS = {
    v.name: v
    for v in (
        _V("envoy", None, "none", None, "Envoy alone: the generated bootstrap without the ext_proc filter"),
        _V("noop2", "asyncgen", "2", None, "do-nothing ext_proc, request headers + buffered body only"),
        _V("noop4", "asyncgen", "4", None, "do-nothing ext_proc, 4 phases as Triage (resp. body STREAMED)"),
        _V("triage", "triage", "4", "noop4", "the real Triage, the generated bootstrap unchanged"),
        _V("triage2", "triage", "2", "noop2", "the real Triage with the response phases off"),
        _V("noop2-obs", "asyncgen", "2+obs", "noop4", "noop2 + 2nd ext_proc in observability_mode (response)"),
        _V("noop4-rw", "readwrite", "4", "noop4", "noop4 served with context.read()/write()"),
        _V("noop4-sync", "sync", "4", "noop4", "noop4 served by the sync thread-pool grpc server"),
        _V("noop4-tcp", "asyncgen", "4", "noop4", "noop4 over TCP loopback (same process)", transport="tcp"),
        # optional
        _V("noop4-uvloop", "asyncgen-uvloop", "4", "noop4", "noop4 on uvloop (needs uvloop importable)"),
        _V("noop4-x2", "asyncgen-x2", "4", "noop4", "noop4 with 2 server processes behind the cluster"),
        _V("triage-x2", "triage-x2", "4", "noop4", "the real Triage, 2 processes behind the cluster"),
        _V("triage-w2", "triage-w2", "4", "noop4", "triage serve --workers 2 (generated 2-worker bootstrap)"),
        _V("noop4-wire", "wire", "4", "noop4", "noop4 served by Triage's own HTTP/2 server (triage.wire)"),
        _V("noop4-wire-x2", "wire-x2", "4", "noop4-wire", "noop4-wire with 2 server processes behind the cluster"),
        _V("triage-grpcio", "triage-grpcio", "4", "noop4", "the real Triage on the grpcio engine (server.engine)"),
        _V("triage-shadow", "triage-shadow", "4", "noop4", "the real Triage + 2 shadow candidates (shadow_candidates)"),
        _V("triage-escalation", "triage-escalation", "4", "noop4", "Triage + escalation: all checked, none sent"),
        _V("triage-escalation-lp", "triage-escalation-lp", "4", "noop4", "triage-escalation + logprobs asked+stripped"),
        _V("noop4-ggrpc", "asyncgen", "4", "noop4", "noop4 with Envoy's google_grpc client", tweak="google_grpc"),
        _V(
            "noop4-nowait",
            "asyncgen",
            "4",
            "noop4",
            "noop4 + send_body_without_waiting_for_header_resp.",
            tweak="nowait",
        ),
        _V(
            "triage-nowait", "triage", "4", "noop4-nowait", "triage + send_body_without_waiting_for_...", tweak="nowait"
        ),
        _V("noop-body", "asyncgen", "body", "noop2", "request headers SKIP, buffered body only (response off)"),
        _V("noop-body4", "asyncgen", "body4", "noop4", "request headers SKIP, buffered body + response phases"),
        _V("triage-alt", "triage-alt", "4", "noop4", "a second Triage from --alt-triage-cmd (a prototype)"),
    )
}
# triage-shadow: every request is also decided by a candidate ladder and by a candidate model (the shipped bundle
# loaded a second time, its scoring after the reply): the cost of shadow evaluation, against "triage" in the same run.
SHADOW_LADDER = [{"route": "economy"}, {"route": "standard", "min_score": 0.3}, {"route": "premium", "min_score": 0.5}]


def shadow_candidates() -> dict[str, Any]:
    import triage

    bundle = Path(triage.__file__).parent / "classifier" / "model"
    return {
        "bench-ladder": {"description": "lower thresholds", "policy": {"ladder": SHADOW_LADDER}},
        "bench-model": {"description": "the shipped bundle as a candidate model", "model": str(bundle)},
    }


# triage-escalation: confidence escalation on for every request this benchmark sends, and none escalating: what
# checking an answer that ships costs (Triage holds the answer until its last chunk, the verifier scores it, the
# budget counts it, the decision is recorded), against "triage" in the same run. See ``escalation_section``.
ESCALATION_EXPECTED_TOKENS = 32  # the fake providers answer 12 words: a task's usual length of 32 tokens is not short


def escalation_section(cfg: Any, via: str, logprobs: bool = False) -> dict[str, Any]:
    """``escalation:`` under which every request of this benchmark is checked and none escalates.

    The requests carry no token, so they get ``cfg.default_tier`` (builtin: ``free``, routes economy and standard);
    every route of that tier is mapped, each to the next in the tier's list (cheap → strong) and the last to the one
    before it, since a tier's escalation stays within its routes. With the builtin config all eight bodies route to
    standard, so it is ``standard → economy`` that makes them eligible: a target "downwards", which changes nothing
    for an answer that does not escalate (the target's steps are computed, no call is made). ``max_share`` 1.0: no
    answer is kept from escalating by the budget, so ``confident`` in every record means the verifier and the
    decision found nothing to doubt. The fake providers' answers are 12 words; with the verifier's default usual
    lengths (120-500 tokens) they are ``short`` and the code prompt's answer (1 in 8) would escalate (doubt ≈ 0.72
    with P(strong) 0.64), so every task's usual length is set to ``ESCALATION_EXPECTED_TOKENS`` instead of
    lengthening the answers of every configuration. ``via``: this configuration's Envoy listener (fixed port).
    ``logprobs``: the tier's routes ask their providers for token logprobs, stripped before the client gets the
    answer (``escalation.logprobs_routes``)."""
    from triage.classifier.base import TASK_LABELS

    tier_name, tier = cfg.tier(None)
    routes = list(tier.routes)
    if len(routes) < 2:
        raise BenchError(f"tier {tier_name!r} has one route: nothing to escalate to within it")
    mapping = {r: routes[i + 1] if i + 1 < len(routes) else routes[i - 1] for i, r in enumerate(routes)}
    section: dict[str, Any] = {
        "tiers": {tier_name: {"routes": mapping, "max_share": 1.0}},
        "tasks": {t: {"expected_output_tokens": ESCALATION_EXPECTED_TOKENS} for t in (*TASK_LABELS, "default")},
        "via": via,
    }
    if logprobs:
        section["logprobs_routes"] = routes
    return section


def with_escalation(cfg: Any, section: dict[str, Any]) -> Any:
    """``cfg`` with ``section`` as its ``escalation:`` and Envoy listening where ``section`` sends escalated
    requests (validated as a whole: the generated bootstrap follows ``escalation.timeout_ms``)."""
    from triage.config import parse_config

    data = cfg.model_dump(mode="json", exclude_none=True)
    data["escalation"] = section
    data["envoy"]["listen"] = section["via"]
    return parse_config(data, "triage-escalation")


DEFAULT_CONFIGS = ["envoy", "noop2", "noop4", "triage", "triage2", "noop2-obs", "noop4-rw", "noop4-sync", "noop4-tcp"]
QUICK_CONFIGS = ["envoy", "noop2", "noop4", "triage"]
THROUGHPUT_CONFIGS = ["envoy", "noop4", "triage"]


# -- processes ------------------------------------------------------------------------------------------


class BenchError(RuntimeError):
    pass


def _pdeathsig_prefix() -> list[str]:
    """Children get SIGTERM if this process dies without cleaning up (kill -9): ``setpriv`` when present."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


@dataclass
class Procs:
    """Every child process started, stopped in reverse order by ``stop_all``."""

    workdir: Path
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], capture: bool = True) -> subprocess.Popen[bytes]:
        """Start ``cmd``; stderr goes to ``<name>.log``, stdout too unless ``capture`` (a readiness line)."""
        log = (self.workdir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            _pdeathsig_prefix() + cmd,
            stdout=subprocess.PIPE if capture else log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        self.children.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop_all(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in reversed(self.children):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.children.clear()


def _read_line(proc: subprocess.Popen[bytes], prefix: str, what: str, procs: Procs, timeout: float = 60) -> str:
    """The first stdout line starting with ``prefix`` (the child's readiness signal)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), True)
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode(errors="replace")
        if not line:
            raise BenchError(f"{what} exited ({proc.poll()}):\n{procs.log_tail(what)}")
        if line.startswith(prefix):
            return line.strip()
    raise BenchError(f"{what}: no '{prefix}' line within {timeout:.0f} s")


def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise BenchError(f"{what} not ready after {timeout:.0f} s")


def start_provider(procs: Procs, name: str, model: str | None) -> int:
    cmd = [PY, "-m", "triage.sim", "--name", name, "--port", "0", "--quiet"]
    if model:
        cmd += ["--default-model", model]
    proc = procs.start(f"provider-{name}", cmd)
    line = _read_line(proc, "listening", f"provider-{name}", procs)
    return int(line.rsplit("port=", 1)[1])


def replicas(server: str) -> int:
    """Server keys end in ``-x<N>`` for N processes behind one Envoy cluster (e.g. ``triage-x2``)."""
    return _suffix_count(server, "x")


def workers(server: str) -> int:
    """Server keys end in ``-w<N>`` for ``triage serve --workers N``: one supervisor, N worker processes."""
    return _suffix_count(server, "w")


def _suffix_count(server: str, letter: str) -> int:
    last = server.rsplit("-", 1)[-1]
    return int(last[1:]) if last.startswith(letter) and last[1:].isdigit() else 1


def server_processes(server: str) -> int:
    """How many processes serve ext_proc streams for this server key (a supervisor does none)."""
    return replicas(server) * workers(server)


def start_noop(procs: Procs, style: str, listen: list[str], name: str) -> list[str]:
    parts = style.split("-")
    loop = "uvloop" if "uvloop" in parts else "asyncio"
    cmd = [PY, str(BENCH / "noop_extproc.py"), "--style", parts[0], "--route", ROUTE, "--loop", loop]
    for address in listen:
        cmd += ["--listen", address]
    proc = procs.start(name, cmd)
    return _read_line(proc, "listening", name, procs).split()[1:]


def triage_serving(target: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def start_triage(
    procs: Procs, cmd: list[str], config_path: Path, target: str | list[str], name: str = "triage", timeout: float = 180
) -> None:
    """Start Triage and wait until every address in ``target`` (one per worker) answers its health check."""
    proc = procs.start(name, [*cmd, "--config", str(config_path)], capture=False)
    targets = [target] if isinstance(target, str) else target

    def up() -> bool:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode}:\n{procs.log_tail(name)}")
        return all(triage_serving(t) for t in targets)

    _wait(name, up, timeout)


@dataclass
class EnvoyProc:
    variant: str
    proc: subprocess.Popen[bytes]
    admin_file: Path
    url: str = ""
    admin: str = ""

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.admin + path, timeout=5) as resp:
            return str(resp.read().decode())

    def stats(self, contains: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.get("/stats?filter=" + contains).splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name] = int(value)
        return out


def launch_envoy(procs: Procs, variant: str, bootstrap: dict[str, Any]) -> EnvoyProc:
    from triage.sim.stack import find_envoy

    cfg_path = procs.workdir / f"envoy-{variant}.json"
    cfg_path.write_text(json.dumps(bootstrap, indent=1))
    admin_file = procs.workdir / f"envoy-{variant}.admin"
    admin_file.unlink(missing_ok=True)
    cmd = [find_envoy(), "-c", str(cfg_path), "--concurrency", "1", "--disable-hot-restart"]
    cmd += ["--admin-address-path", str(admin_file), "-l", "warning", "--drain-time-s", "1"]
    return EnvoyProc(variant, procs.start(f"envoy-{variant}", cmd, capture=False), admin_file)


def wait_envoy(procs: Procs, envoy: EnvoyProc) -> None:
    def admin_known() -> bool:
        if envoy.proc.poll() is not None:
            raise BenchError(f"envoy-{envoy.variant} exited:\n{procs.log_tail('envoy-' + envoy.variant)}")
        return envoy.admin_file.exists() and bool(envoy.admin_file.read_text().strip())

    _wait(f"envoy-{envoy.variant}", admin_known, 60)
    envoy.admin = "http://" + envoy.admin_file.read_text().strip()

    def ready() -> bool:
        try:
            return envoy.get("/ready").strip() == "LIVE"
        except OSError:
            return False

    _wait(f"envoy-{envoy.variant}", ready, 60)
    listeners = json.loads(envoy.get("/listeners?format=json"))
    sock = listeners["listener_statuses"][0]["local_address"]["socket_address"]
    envoy.url = f"http://{sock['address']}:{sock['port_value']}/v1/chat/completions"


# -- bootstraps -----------------------------------------------------------------------------------------

EXT_PROC = "envoy.filters.http.ext_proc"


def _observer_filter(cluster: str) -> dict[str, Any]:
    """A second ext_proc that reads the response without holding it (see reference/envoy/02-*.yaml)."""
    return {
        "name": EXT_PROC,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
            "stat_prefix": "observer",
            "grpc_service": {"envoy_grpc": {"cluster_name": cluster}},
            "observability_mode": True,
            "deferred_close_timeout": "10s",
            "failure_mode_allow": True,
            "processing_mode": {
                "request_header_mode": "SKIP",
                "request_body_mode": "NONE",
                "request_trailer_mode": "SKIP",
                "response_header_mode": "SEND",
                "response_body_mode": "STREAMED",
                "response_trailer_mode": "SKIP",
            },
            "response_attributes": ["xds.cluster_name"],
        },
    }


def _endpoint(address: str) -> dict[str, Any]:
    if address.startswith("unix:"):
        return {"endpoint": {"address": {"pipe": {"path": address[len("unix:") :]}}}}
    host, port = address.rsplit(":", 1)
    return {"endpoint": {"address": {"socket_address": {"address": host, "port_value": int(port)}}}}


def bootstrap_for(variant: Variant, cfg: Any, extproc: list[str] | None, access_log: Path) -> dict[str, Any]:
    """The generated bootstrap for ``cfg``, post-processed for ``variant``; ``extproc``: its server(s)."""
    from triage.envoy.bootstrap import EXTPROC_CLUSTER, build_bootstrap

    envoy_cfg = cfg.envoy.model_copy(update={"access_log": str(access_log)})
    if extproc:
        envoy_cfg = envoy_cfg.model_copy(update={"extproc": extproc[0]})
    update: dict[str, Any] = {"envoy": envoy_cfg}
    if variant.phases == "none":  # Envoy alone: no Triage, so no feedback route to its API either
        update["feedback"] = cfg.feedback.model_copy(update={"enabled": False})
    boot = build_bootstrap(cfg.model_copy(update=update))
    if extproc and len(extproc) > 1:  # several server processes behind one cluster, round robin
        cluster = next(c for c in boot["static_resources"]["clusters"] if c["name"] == EXTPROC_CLUSTER)
        cluster["load_assignment"]["endpoints"] = [{"lb_endpoints": [_endpoint(a) for a in extproc]}]
    hcm = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    filters = hcm["http_filters"]
    index = next(i for i, f in enumerate(filters) if f["name"] == EXT_PROC)
    if variant.phases == "none":
        del filters[index]
        clusters = boot["static_resources"]["clusters"]
        boot["static_resources"]["clusters"] = [c for c in clusters if c["name"] != EXTPROC_CLUSTER]
        return boot
    typed = filters[index]["typed_config"]
    if variant.tweak == "nowait":
        typed["send_body_without_waiting_for_header_response"] = True
    elif variant.tweak == "google_grpc":
        assert extproc
        typed["grpc_service"] = {"google_grpc": {"target_uri": extproc[0], "stat_prefix": "triage_extproc"}}
    mode = typed["processing_mode"]
    if variant.phases in ("2", "2+obs", "body"):
        mode["response_header_mode"] = "SKIP"
        mode["response_body_mode"] = "NONE"
    if variant.phases in ("body", "body4"):
        mode["request_header_mode"] = "SKIP"
        typed["request_attributes"] = ["request.path", "request.method", "request.id"]
    if variant.phases == "2+obs":
        filters.insert(index + 1, _observer_filter(EXTPROC_CLUSTER))
    return boot


# -- request bodies -------------------------------------------------------------------------------------

PROMPTS = (
    "Summarise the incident report below for the on-call channel in five bullet points.",
    "Find the bug in the following Python code and explain the fix.",
    "Translate the following paragraph into German, keeping the formatting.",
    "Extract every date, amount and counterparty from this contract as JSON.",
    "Write a short story that continues from this passage.",
    "Classify each of these support tickets as billing, bug, feature request or other.",
    "Prove the statement below or give a counterexample.",
    "What is the capital of Australia, and why is it not Sydney?",
)
FILLER = (
    "At 14:02 UTC the connection pool to the primary database was exhausted and retries amplified the load; "
    "def merge(a, b): return sorted(a + b)  # the reviewer asked for a linear-time version. "
    "Der Vertrag tritt am 1. März in Kraft; die Zahlung ist innerhalb von 30 Tagen fällig. "
)


def make_bodies(n: int = len(PROMPTS), size: int = BODY_BYTES) -> list[bytes]:
    """``n`` OpenAI chat bodies of exactly ``size`` bytes (different tasks, so routes differ)."""
    out = []
    for i in range(n):
        doc: dict[str, Any] = {
            "model": "auto",
            "messages": [
                {"role": "system", "content": "You are a careful assistant for an engineering team."},
                {"role": "user", "content": PROMPTS[i % len(PROMPTS)] + "\n\n"},
            ],
            "max_tokens": 256,
        }
        base = len(json.dumps(doc, ensure_ascii=False).encode())
        text = (FILLER * (size // len(FILLER) + 2)).encode()[: max(0, size - base)].decode(errors="ignore")
        doc["messages"][1]["content"] += text
        body = json.dumps(doc, ensure_ascii=False).encode()
        while len(body) < size:  # a multi-byte character was cut off: pad with spaces
            doc["messages"][1]["content"] += " "
            body = json.dumps(doc, ensure_ascii=False).encode()
        out.append(body)
    return out


# -- load -----------------------------------------------------------------------------------------------


def run_loadgen(procs: Procs, url: str, body_files: list[Path], extra: list[str], cpu: int | None) -> dict[str, Any]:
    cmd = [PY, str(BENCH / "loadgen.py"), "--url", url]
    for path in body_files:
        cmd += ["--body", str(path)]
    cmd += extra
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    proc = procs.start("loadgen", cmd)
    try:
        out, _ = proc.communicate(timeout=600)
    finally:
        procs.children = [(n, p) for n, p in procs.children if p is not proc]
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise BenchError(f"loadgen failed ({proc.returncode}):\n{procs.log_tail('loadgen')}")
    result: dict[str, Any] = json.loads(out)
    return result


# -- statistics -----------------------------------------------------------------------------------------

PCTS = (50, 90, 99)
SATURATED_LATE_MS = 5.0  # median send lateness: the requests waited for a free connection


def saturated(res: dict[str, Any], rate: float) -> bool:
    """The configuration could not keep up with the offered rate in this measurement (queues grew)."""
    return bool(res["late_ms_p50"] > SATURATED_LATE_MS or res["achieved_rate"] < 0.97 * rate)


FAILURE_STATS = ("streams_failed", "failure_mode_allowed", "message_timeouts")


def percentiles(latencies: list[float]) -> dict[str, float]:
    arr = np.asarray([x for x in latencies if not math.isnan(x)], dtype=float)  # drop NaN (failed requests)
    if arr.size == 0:
        return {f"p{p}": float("nan") for p in PCTS}
    return {f"p{p}": float(np.percentile(arr, p)) for p in PCTS}


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median, min and max of the values that are not NaN (NaN x3 when none is)."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(vals), min(vals), max(vals)


def summarise(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per configuration: median/min/max over rounds of each percentile, of the added latency, of the ratio."""
    rounds: list[dict[str, dict[str, Any]]] = raw["rounds"]
    names = raw["configs"]
    per_round = [{name: percentiles(r[name]["latencies_ms"]) for name in names if name in r} for r in rounds]
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        variant = VARIANTS[name]
        row: dict[str, Any] = {"about": variant.about, "phases": variant.phases, "ref": variant.ref}
        for p in PCTS:
            key = f"p{p}"
            row[key] = spread([pr[name][key] for pr in per_round if name in pr])
            if "envoy" in names and name != "envoy":
                row[f"added_{key}"] = spread([pr[name][key] - pr["envoy"][key] for pr in per_round if name in pr])
        ref = variant.ref
        if ref in names and "envoy" in names:
            for p in (50, 99):
                key = f"p{p}"
                ratios = []
                for pr in per_round:
                    if name in pr and ref in pr:
                        ref_added = pr[ref][key] - pr["envoy"][key]
                        ratios.append((pr[name][key] - pr["envoy"][key]) / ref_added if ref_added > 0 else float("nan"))
                row[f"ratio_{key}"] = spread(ratios)
        total = sum(len(r[name]["latencies_ms"]) for r in rounds if name in r)
        failed = sum(
            r[name]["error_count"]
            + sum(c for s, c in r[name]["statuses"].items() if s != "200")
            + max([0, *(v for k, v in r[name].get("ext_proc", {}).items() if k in FAILURE_STATS)])
            for r in rounds
            if name in r
        )
        row["requests"], row["failed"] = total, failed
        row["saturated"] = sum(1 for r in rounds if name in r and saturated(r[name], raw["meta"]["rate"]))
        row["late_p50_ms"] = statistics.median(r[name]["late_ms_p50"] for r in rounds if name in r)
        for key in ("server_cpu_us", "envoy_cpu_us"):
            row[key] = spread([r[name].get(key, float("nan")) for r in rounds if name in r])
        row["checks"] = raw.get("checks", {}).get(name, {})
        out[name] = row
    return out


def fmt_spread(values: tuple[float, float, float], digits: int = 2) -> str:
    """``median (min–max)`` of a ``spread``; ``-`` when there is nothing."""
    med, lo, hi = values
    if math.isnan(med):
        return "-"
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def print_report(raw: dict[str, Any]) -> None:
    summary = summarise(raw)
    w = max(13, *(len(n) for n in raw["configs"]))  # the configuration names' column
    meta = raw["meta"]
    nan3 = (float("nan"),) * 3
    print()
    print(
        f"envoy_overhead: {meta['rounds']} rounds x {meta['n']} requests per configuration at {meta['rate']:.0f} req/s "
        f"(+{meta['warmup']} warm-up), 1 KB chat body, {meta['date']}, load average "
        f"{meta.get('loadavg_start', float('nan')):.1f} → {meta.get('loadavg_end', float('nan')):.1f}"
    )
    print(
        "latency at the client in ms: median over rounds (min–max across rounds); added = minus envoy in the same "
        "round;\nratio = added / added of the do-nothing server with the same phases (ref); cpu = CPU time per "
        "request of the ext_proc server process and of Envoy (µs, median over rounds)"
    )
    header = (
        f"{'config':<{w}} {'phases':<6} {'p50':<18} {'p90':<18} {'p99':<20} {'added p50':<18} {'added p99':<20} "
        f"{'ratio p50':<24} {'cpu srv':>7} {'envoy':>6}  ok"
    )
    print(header)
    print("-" * len(header))
    for name, row in summary.items():
        ratio = fmt_spread(row["ratio_p50"]) + f" /{row['ref']}" if "ratio_p50" in row else "-"
        ok = "yes" if row["failed"] == 0 else f"{row['failed']} FAILED"
        if row["saturated"]:
            ok += f", saturated in {row['saturated']}/{len(raw['rounds'])} rounds"
        print(
            f"{name:<{w}} {row['phases']:<6} {fmt_spread(row['p50']):<18} {fmt_spread(row['p90']):<18} "
            f"{fmt_spread(row['p99']):<20} "
            f"{fmt_spread(row.get('added_p50', nan3)):<18} {fmt_spread(row.get('added_p99', nan3)):<20} {ratio:<24} "
            f"{row['server_cpu_us'][0]:>7.0f} {row['envoy_cpu_us'][0]:>6.0f}  {ok}"
        )
    print()
    for name, row in summary.items():
        checks = row["checks"]
        if checks:
            print(f"  {name:<{w}} " + " ".join(f"{k}={v}" for k, v in checks.items()))
        routes = str(checks.get("envoy_routes", ""))
        if row["phases"] != "none" and routes and all(r.startswith("triage_default:") for r in routes.split(",")):
            print(f"  WARNING {name}: no request was re-routed on the body (does the route table match the reply?)")
    print_against_triage(raw)
    escalation = raw.get("escalation") or {}
    if escalation:
        print("\nconfidence escalation, from the decision log (warm-up included; threshold 0.5):")
    for name, e in escalation.items():
        tiers = "; ".join(
            f"{t}: " + ", ".join(f"{a}→{b}" for a, b in tier["routes"].items())
            for t, tier in e["config"]["tiers"].items()
        )
        outcomes = " ".join(f"{k}={v}" for k, v in e["outcomes"].items())
        signals = " ".join(f"{k}={v}" for k, v in e["signals"].items())
        print(
            f"  {name:<{w}} [{tiers}] outcomes: {outcomes}; escalated={e['escalated']}; verifier signals: {signals}; "
            f"doubt max {e['doubt_max']:.3f}, acceptable min {e['acceptable_min']:.3f}"
        )
        if set(e["outcomes"]) != {"confident"} or e["escalated"]:
            print(
                f"  WARNING {name}: not every request was checked and shipped as confident (not a check's cost alone)"
            )
    if raw.get("throughput"):
        print("\nmax throughput, closed loop (a Python client: client-bound for Envoy alone):")
        for name, res in raw["throughput"].items():
            print(f"  {name:<{w}} {res['throughput_rps']:.0f} req/s with {res['workers']} connections")
    print()
    for name, row in summary.items():
        parts = [f"envoy_overhead config={name}"]
        parts += [f"{k}_ms={row[k][0]:.3f}" for k in ("p50", "p90", "p99")]
        for k in ("added_p50", "added_p99"):
            if k in row:
                parts.append(f"{k}_ms={row[k][0]:.3f}")
        if "ratio_p50" in row:
            parts.append(f"ratio_vs_noop={row['ratio_p50'][0]:.3f} ratio_p99_vs_noop={row['ratio_p99'][0]:.3f}")
            parts.append(f"ref={row['ref']}")
        parts.append(f"server_cpu_us={row['server_cpu_us'][0]:.0f} envoy_cpu_us={row['envoy_cpu_us'][0]:.0f}")
        parts.append(f"rounds={meta['rounds']} n={meta['n']} failed={row['failed']} saturated={row['saturated']}")
        print(" ".join(parts))
    for name, e in escalation.items():
        outcomes = " ".join(f"{k.replace('-', 'none')}={v}" for k, v in e["outcomes"].items())
        print(f"envoy_overhead_escalation config={name} {outcomes} escalated={e['escalated']}")


def print_against_triage(raw: dict[str, Any]) -> None:
    """Each other real-Triage configuration against ``triage`` in the same round: the difference of p50, p99 and
    server CPU per request, median (min–max) over rounds."""
    names = [n for n in raw["configs"] if n != "triage" and str(VARIANTS[n].server).startswith("triage")]
    if "triage" not in raw["configs"] or not names:
        return
    print("\nagainst triage in the same round, median (min–max) over rounds (+: more than triage):")
    for name in names:
        d50, d99, dcpu = [], [], []
        for r in raw["rounds"]:
            if name not in r or "triage" not in r:
                continue
            mine, base = percentiles(r[name]["latencies_ms"]), percentiles(r["triage"]["latencies_ms"])
            d50.append(mine["p50"] - base["p50"])
            d99.append(mine["p99"] - base["p99"])
            dcpu.append(r[name]["server_cpu_us"] - r["triage"]["server_cpu_us"])
        print(
            f"  {name:<20} p50 {fmt_spread(spread(d50), 3)} ms   p99 {fmt_spread(spread(d99), 2)} ms   "
            f"server CPU {fmt_spread(spread(dcpu), 0)} µs/request"
        )


# -- the run --------------------------------------------------------------------------------------------


def model_present(cfg: Any) -> bool:
    if cfg.classifier.model != "builtin":
        return Path(cfg.classifier.model, "model.onnx").exists()
    import triage

    return (Path(triage.__file__).parent / "classifier" / "model" / "model.onnx").exists()


def envoy_checks(envoy: EnvoyProc, variant: Variant) -> dict[str, int]:
    """Proof that a configuration did what it says: ext_proc streams opened, none failed or timed out.

    The generated filter fails open (``failure_mode_allow``): a broken ext_proc stream still gets the client
    a 200, faster than a working one, so these counters are what tells a valid measurement from a bogus one.
    """
    checks: dict[str, int] = {}
    if variant.phases != "none":
        stats = envoy.stats("ext_proc")
        for key in ("streams_started", "streams_closed", *FAILURE_STATS):
            checks[key] = sum(v for k, v in stats.items() if k.endswith("." + key))
    return checks


def routes_taken(access_log: Path) -> str:
    """Envoy route names from the access log with their counts (routing on the body really happened)."""
    routes: dict[str, int] = {}
    if access_log.exists():
        for line in access_log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                route = json.loads(line).get("envoy_route") or "-"
                routes[route] = routes.get(route, 0) + 1
    return ",".join(f"{k}:{v}" for k, v in sorted(routes.items()))


def escalation_outcomes(logs: list[Path]) -> dict[str, Any]:
    """What confidence escalation did with each request of a configuration, from its Triage's decision logs (warm-up
    requests included): ``escalation.outcome`` counted (``-``: a record without one, an answer that was not held),
    the records with ``escalated: true``, the verifier's signals (``none``: it found nothing), the highest doubt
    and the lowest ``acceptable`` score."""
    outcomes: dict[str, int] = {}
    signals: dict[str, int] = {}
    escalated = 0
    doubts: list[float] = []
    scores: list[float] = []
    for path in logs:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict) or "decision_id" not in rec:
                continue
            esc = rec.get("escalation") or {}
            outcome = str(esc.get("outcome", "-"))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            escalated += rec.get("escalated") is True
            if esc:
                for sig in esc.get("signals") or ["none"]:
                    signals[str(sig)] = signals.get(str(sig), 0) + 1
            if isinstance(esc.get("doubt"), int | float):
                doubts.append(float(esc["doubt"]))
            if isinstance(esc.get("acceptable"), int | float):
                scores.append(float(esc["acceptable"]))
    return {
        "outcomes": dict(sorted(outcomes.items())),
        "escalated": escalated,
        "signals": dict(sorted(signals.items())),
        "doubt_max": max(doubts, default=float("nan")),
        "acceptable_min": min(scores, default=float("nan")),
    }


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run like Ctrl-C does (so the cleanup in ``finally`` runs)."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its living descendants (``triage serve --workers N``: the supervisor and its workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU time so far of these processes and of their descendants (a server's workers included)."""
    return sum(cpu_seconds(p) for pid in pids for p in process_tree(pid))


@dataclass
class Stack:
    """Everything one run starts: providers, ext_proc servers, one Envoy per configuration."""

    procs: Procs
    names: list[str]
    envoys: dict[str, EnvoyProc] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    server_pids: dict[str, list[int]] = field(default_factory=dict)  # configuration → its ext_proc servers
    body_files: list[Path] = field(default_factory=list)
    decision_logs: dict[str, list[Path]] = field(default_factory=dict)  # configuration → Triage's decision logs
    escalation: dict[str, dict[str, Any]] = field(default_factory=dict)  # server → its ``escalation:`` section


def _write_triage_config(base: Any, procs: Procs, socket: str) -> tuple[Any, Path]:
    """Start the fake providers and write the Triage config pointing at them; Triage listens on ``socket``."""
    from triage.config import parse_config

    data = base.model_dump(mode="json", exclude_none=True)
    for cname, cluster in base.clusters.items():
        if cluster.host not in ("127.0.0.1", "localhost"):
            continue
        models = [e.model for r in base.routes.values() for e in r.chain if e.cluster == cname]
        port = start_provider(procs, cname, models[0] if models else None)
        data["clusters"][cname]["address"] = f"127.0.0.1:{port}"
    data.setdefault("server", {}).update({"listen": [socket], "workers": 1})  # -wN configurations: --workers N
    telemetry = data.setdefault("telemetry", {})
    telemetry["decision_log"] = str(procs.workdir / "decisions.jsonl")
    if telemetry.get("metrics_listen"):  # a free port each: several servers at once, and other users' 9464
        telemetry["metrics_listen"] = telemetry["metrics_listen"].rsplit(":", 1)[0] + ":0"
    envoy_data = data.setdefault("envoy", {})
    envoy_data.update({"listen": "127.0.0.1:0", "admin": "127.0.0.1:0", "extproc": socket})
    cfg = parse_config(data, "bench")
    import yaml

    path = procs.workdir / "triage-base.yaml"  # not "triage.yaml": the replica named "triage" writes that one
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True), sort_keys=False))
    return cfg, path


def _start_triage_replica(
    procs: Procs,
    cmd: str,
    config_path: Path,
    workdir: Path,
    name: str,
    n_workers: int = 1,
    engine: str | None = None,
    shadow: bool = False,
    escalation: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """One Triage (``triage serve``, or with ``n_workers`` > 1 ``--workers N``: a supervisor and its workers,
    worker i on ``contract.worker_address(socket, i)``) on ``engine`` (None: the configuration's ``server.engine``),
    with ``shadow_candidates()`` evaluated after each reply when ``shadow`` and ``escalation`` as its ``escalation:``
    section (``escalation_section``) when given; returns its socket and the pid started."""
    from triage.contract import worker_address

    socket = f"unix:{workdir}/{name}.sock"
    path = config_path.with_name(f"{name}.yaml")
    text = config_path.read_text().replace(f"unix:{workdir}/triage.sock", socket)
    if engine is not None or shadow or escalation is not None:
        import yaml

        data = yaml.safe_load(text)
        if engine is not None:
            data["server"]["engine"] = engine
        if shadow:
            data["shadow"] = {"candidates": shadow_candidates()}
        if escalation is not None:
            data["escalation"] = escalation
        text = yaml.safe_dump(data, sort_keys=False)
    path.write_text(text.replace("decisions.jsonl", f"decisions-{name}.jsonl"))
    # Children run in the work directory: make relative paths in the command absolute.
    argv = [str(Path(a).absolute()) if "/" in a and Path(a).exists() else a for a in shlex.split(cmd)]
    if n_workers > 1:
        argv += ["--workers", str(n_workers)]
    start_triage(procs, argv, path, [worker_address(socket, i) for i in range(n_workers)], name=name)
    return socket, procs.children[-1][1].pid


def start_stack(args: argparse.Namespace, base: Any, procs: Procs, names: list[str]) -> Stack:
    stack = Stack(procs, names)
    workdir = procs.workdir
    cfg, config_path = _write_triage_config(base, procs, f"unix:{workdir}/triage.sock")
    addresses: dict[tuple[str, str], list[str]] = {}
    pids: dict[str, list[int]] = {}
    logs: dict[str, list[Path]] = {}
    servers = sorted({s for n in names if (s := VARIANTS[n].server) is not None})
    for server in servers:
        if server.startswith("triage-escalation"):  # its Envoy on a fixed port: escalated requests go through it
            from triage.sim.runner import free_port

            section = escalation_section(cfg, f"127.0.0.1:{free_port()}", logprobs=server.endswith("-lp"))
            stack.escalation[server] = section
            with_escalation(cfg, section)  # refused here rather than by Triage at start-up
        for i in range(replicas(server)):
            name = server if i == 0 else f"{server}.{i}"
            if server.startswith("triage"):
                cmd = args.alt_triage_cmd if server == "triage-alt" else args.triage_cmd
                n_workers = workers(server)
                more = f" --workers {n_workers}" if n_workers > 1 else ""
                print(f"starting {name}: {cmd}{more} (loads and warms the classifier) ...", flush=True)
                engine = "grpcio" if server == "triage-grpcio" else None
                socket, pid = _start_triage_replica(
                    procs,
                    cmd,
                    config_path,
                    workdir,
                    name,
                    n_workers,
                    engine,
                    shadow=server == "triage-shadow",
                    escalation=stack.escalation.get(server),
                )
                addresses.setdefault((server, "uds"), []).append(socket)
                logs.setdefault(server, []).append(workdir / f"decisions-{name}.jsonl")
            else:
                listen = [f"unix:{workdir}/noop-{name}.sock"]
                if any(VARIANTS[n].server == server and VARIANTS[n].transport == "tcp" for n in names):
                    listen.append("127.0.0.1:0")
                for address in start_noop(procs, server, listen, f"noop-{name}"):
                    addresses.setdefault((server, "uds" if address.startswith("unix:") else "tcp"), []).append(address)
                pid = procs.children[-1][1].pid
            pids.setdefault(server, []).append(pid)
    for name in names:  # one Envoy per configuration, started together
        v = VARIANTS[name]
        extproc = addresses[(v.server, v.transport)] if v.server else None
        stack.logs[name] = workdir / f"access-{name}.log"
        # ``triage serve --workers N``: the generated bootstrap for N workers (one health-checked endpoint each)
        n_workers = workers(v.server) if v.server else 1
        vcfg = cfg.model_copy(update={"server": cfg.server.model_copy(update={"workers": n_workers})})
        if v.server in stack.escalation:  # its listener where Triage sends escalated requests; the longer wait
            vcfg = with_escalation(vcfg, stack.escalation[v.server])
        stack.envoys[name] = launch_envoy(procs, name, bootstrap_for(v, vcfg, extproc, stack.logs[name]))
        if v.server is not None:
            stack.server_pids[name] = pids[v.server]
            stack.decision_logs[name] = logs.get(v.server, [])
    for envoy in stack.envoys.values():
        wait_envoy(procs, envoy)
    for i, body in enumerate(make_bodies()):
        path = workdir / f"body-{i}.json"
        path.write_bytes(body)
        stack.body_files.append(path)
    return stack


def measure(args: argparse.Namespace, stack: Stack, name: str, load: list[str], cpu: int | None) -> dict[str, Any]:
    """One open-loop measurement of one configuration, with its ext_proc counters and CPU use."""
    envoy = stack.envoys[name]
    servers = stack.server_pids.get(name, [])
    before = envoy_checks(envoy, VARIANTS[name])
    cpu_before = (cpu_seconds(envoy.proc.pid), tree_cpu_seconds(servers))
    res = run_loadgen(stack.procs, envoy.url, stack.body_files, load, cpu)
    cpu_after = (cpu_seconds(envoy.proc.pid), tree_cpu_seconds(servers))
    after = envoy_checks(envoy, VARIANTS[name])
    res["ext_proc"] = {k: after[k] - before.get(k, 0) for k in after}
    sent = args.n + args.warmup
    res["envoy_cpu_us"] = (cpu_after[0] - cpu_before[0]) / sent * 1e6
    res["server_cpu_us"] = (cpu_after[1] - cpu_before[1]) / sent * 1e6
    return res


def run(args: argparse.Namespace) -> dict[str, Any]:
    from triage.config import load_config

    base = load_config(args.config)
    names: list[str] = args.configs
    real = (
        "triage",
        "triage-x2",
        "triage-w2",
        "triage-grpcio",
        "triage-shadow",
        "triage-escalation",
        "triage-escalation-lp",
    )
    if any(VARIANTS[n].server in real for n in names) and not args.custom_triage and not model_present(base):
        print("warning: the classifier bundle (model.onnx) is missing: skipping the real Triage", file=sys.stderr)
        names = [n for n in names if VARIANTS[n].server not in real]
    workdir = Path(tempfile.mkdtemp(prefix="eo-", dir=args.workdir))
    procs = Procs(workdir)
    print(f"workdir {workdir}", flush=True)
    if os.getloadavg()[0] > 1.0:
        print(f"note: load average {os.getloadavg()[0]:.1f} before starting: other work shares these CPUs", flush=True)
    try:
        stack = start_stack(args, base, procs, names)
        cpu = None if args.loadgen_cpu < 0 else args.loadgen_cpu
        load = ["--rate", str(args.rate), "--n", str(args.n), "--warmup", str(args.warmup), "--pool", str(args.pool)]
        raw: dict[str, Any] = {
            "meta": {
                "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                "rounds": args.rounds,
                "n": args.n,
                "warmup": args.warmup,
                "rate": args.rate,
                "pool": args.pool,
                "loadgen_cpu": cpu,
                "triage_cmd": args.triage_cmd,
                "alt_triage_cmd": args.alt_triage_cmd,
                "body_bytes": BODY_BYTES,
                "cpus": os.cpu_count(),
                "loadavg_start": os.getloadavg()[0],
            },
            "configs": names,
            "rounds": [],
        }
        started = time.monotonic()
        w = max(13, *(len(n) for n in names))
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            results: dict[str, Any] = {}
            for name in order:
                res = measure(args, stack, name, load, cpu)
                failed_open = max([0, *(res["ext_proc"].get(k, 0) for k in FAILURE_STATS)])
                p = percentiles(res["latencies_ms"])
                bad = res["error_count"] + sum(c for s, c in res["statuses"].items() if s != "200") + failed_open
                print(
                    f"round {r + 1}/{args.rounds} {name:<{w}} p50={p['p50']:.2f} p90={p['p90']:.2f} "
                    f"p99={p['p99']:.2f} ms  rate={res['achieved_rate']:.0f}/s  cpu/req: envoy "
                    f"{res['envoy_cpu_us']:.0f} us, ext_proc server {res['server_cpu_us']:.0f} us"
                    + (f"  FAILED={bad} {res['statuses']} {res['ext_proc']} {res['errors'][:2]}" if bad else "")
                    + ("  SATURATED (could not keep up: queueing)" if saturated(res, args.rate) else ""),
                    flush=True,
                )
                results[name] = res
            raw["rounds"].append(results)
        raw["meta"]["measure_seconds"] = round(time.monotonic() - started, 1)
        raw["meta"]["loadavg_end"] = os.getloadavg()[0]
        if args.throughput:
            raw["throughput"] = {}
            for name in [n for n in THROUGHPUT_CONFIGS if n in names]:
                closed = ["--closed", str(args.throughput_conns), "--duration", str(args.throughput_seconds)]
                raw["throughput"][name] = run_loadgen(procs, stack.envoys[name].url, stack.body_files, closed, cpu)
        raw["checks"] = {n: envoy_checks(stack.envoys[n], VARIANTS[n]) for n in names}
        procs.stop_all()  # Envoy flushes its access logs on exit
        for n in names:
            raw["checks"][n]["envoy_routes"] = routes_taken(stack.logs[n])
        escalating = [n for n in names if VARIANTS[n].server in stack.escalation]
        if escalating:
            raw["escalation"] = {
                n: {"config": stack.escalation[str(VARIANTS[n].server)], **escalation_outcomes(stack.decision_logs[n])}
                for n in escalating
            }
        return raw
    finally:
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about a minute: 4 configurations, fewer requests")
    parser.add_argument("--configs", help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--list", action="store_true", help="describe the configurations and exit")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    parser.add_argument("--n", type=int, default=None, help="measured requests per configuration per round")
    parser.add_argument("--warmup", type=int, default=None, help="discarded requests before each measurement")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop request rate (req/s)")
    parser.add_argument("--pool", type=int, default=8, help="keep-alive connections of the load generator")
    parser.add_argument("--loadgen-cpu", type=int, default=1, help="CPU the load generator is pinned to; -1: none")
    parser.add_argument("--throughput", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--throughput-conns", type=int, default=16)
    parser.add_argument("--throughput-seconds", type=float, default=3.0)
    parser.add_argument(
        "--triage-cmd",
        default=None,
        help="command that starts Triage, '--config FILE' is appended (default: python -m triage serve)",
    )
    parser.add_argument(
        "--alt-triage-cmd",
        default=None,
        help="a second Triage (e.g. a prototype under bench/) measured as configuration triage-alt, same run",
    )
    parser.add_argument("--config", type=Path, default=None, help="Triage config to derive from (default: builtin)")
    parser.add_argument("--out", type=Path, default=None, help="raw results JSON (default: bench/results/...)")
    parser.add_argument("--report", type=Path, default=None, help="print the report of a saved run and exit")
    parser.add_argument("--workdir", default="/tmp", help="parent of the temporary directory (short: Unix sockets)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs)")
    args = parser.parse_args(argv)
    if args.list:
        for v in VARIANTS.values():
            print(f"{v.name:<20} phases={v.phases:<6} server={v.server or '-':<16} {v.about}")
        return 0
    if args.report is not None:
        print_report(json.loads(args.report.read_text()))
        return 0
    quick = args.quick
    args.configs = args.configs.split(",") if args.configs else (QUICK_CONFIGS if quick else DEFAULT_CONFIGS)
    unknown = [n for n in args.configs if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown configurations {unknown}; choose from {list(VARIANTS)}")
    args.custom_triage = args.triage_cmd is not None
    args.triage_cmd = args.triage_cmd or shlex.join([PY, "-m", "triage", "serve"])
    if args.alt_triage_cmd and "triage-alt" not in args.configs:
        args.configs = [*args.configs, "triage-alt"]
    args.rounds = args.rounds or 3
    args.n = args.n or (600 if quick else 2000)
    args.warmup = args.warmup if args.warmup is not None else (100 if quick else 200)
    args.throughput = (not quick) if args.throughput is None else args.throughput
    with signals_raise():
        try:
            raw = run(args)
        except KeyboardInterrupt:
            print("\ninterrupted: everything started was stopped", file=sys.stderr)
            return 130
        except BenchError as err:
            print(f"envoy_overhead: {err}", file=sys.stderr)
            return 1
    out = args.out or DEFAULT_RESULTS / f"envoy_overhead-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(raw))
    print_report(raw)
    print(f"\nraw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
