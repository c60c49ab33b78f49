"""``triage serve --workers N``: N server processes behind one Envoy, started and supervised by this one.

Python runs one request at a time per process (the GIL), so a second core needs a second process. Each worker is
a whole ``triage serve`` with its own addresses (``contract.worker_address``: socket ``triage-i.sock`` or port
+ i, the metrics port + i); the generated Envoy bootstrap lists the same addresses as the endpoints of the
ext_proc cluster and balances streams over them, health-checking each one.

The supervisor does no request work. It restarts a worker that exits on its own (after a back-off that grows
while it keeps failing), forwards SIGTERM/SIGINT to every worker for a graceful drain, and exits once all have
stopped. Workers get SIGTERM if the supervisor itself dies (``PR_SET_PDEATHSIG``), so none is left behind.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from triage.config import TriageConfig
from triage.contract import worker_address

log = logging.getLogger("triage.workers")

RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # grows while a worker keeps failing
STABLE_AFTER_S = 30.0  # a worker that ran this long starts the back-off from the beginning again
_PR_SET_PDEATHSIG = 1


def worker_config(cfg: TriageConfig, index: int) -> TriageConfig:
    """The configuration worker ``index`` serves with: every listen address and the metrics port moved."""
    server = cfg.server.model_copy(update={"listen": [worker_address(a, index) for a in cfg.server.listen]})
    metrics = cfg.telemetry.metrics_listen
    telemetry = cfg.telemetry.model_copy(
        update={"metrics_listen": None if metrics is None else worker_address(metrics, index)}
    )
    return cfg.model_copy(update={"server": server, "telemetry": telemetry})


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor goes away, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Worker:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0  # exits in a row, each after less than STABLE_AFTER_S
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Runs ``command(i)`` for each worker until stopped; ``run()`` returns the exit code."""

    command: Callable[[int], Sequence[str]]
    workers: int
    drain_seconds: float
    poll_s: float = 0.2
    _stop: bool = field(default=False, init=False)
    _pool: list[_Worker] = field(default_factory=list, init=False)

    def stop(self, *_: object) -> None:
        self._stop = True

    def _start(self, worker: _Worker) -> None:
        worker.proc = subprocess.Popen(list(self.command(worker.index)), preexec_fn=_die_with_parent)  # noqa: PLW1509
        worker.started = time.monotonic()
        worker.restart_at = None
        log.info("worker %d started (pid %d)", worker.index, worker.proc.pid)

    def _check(self, worker: _Worker, now: float) -> None:
        """Restart a worker that exited although nobody asked it to, once its back-off has passed."""
        if worker.restart_at is not None:
            if now >= worker.restart_at:
                self._start(worker)
            return
        assert worker.proc is not None
        code = worker.proc.poll()
        if code is None:
            return
        lived = now - worker.started
        worker.failures = 1 if lived >= STABLE_AFTER_S else worker.failures + 1
        delay = RESTART_BACKOFF_S[min(worker.failures, len(RESTART_BACKOFF_S)) - 1]
        log.error(
            "worker %d (pid %d) exited with %s after %.1f s; restarting in %.1f s",
            worker.index,
            worker.proc.pid,
            code,
            lived,
            delay,
        )
        worker.restart_at = now + delay

    def _shutdown(self) -> int:
        """SIGTERM to every worker (each drains its streams), SIGKILL to any still running after the drain."""
        running = [w.proc for w in self._pool if w.proc is not None and w.proc.poll() is None]
        log.info("stopping %d worker(s)", len(running))
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.drain_seconds + 15.0
        code = 0
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker pid %d did not stop after its drain; killing it", proc.pid)
                proc.kill()
                proc.wait()
            if proc.returncode not in (0, -signal.SIGTERM):
                code = 1
        return code

    def run(self) -> int:
        """Install SIGTERM/SIGINT handlers (they stop the loop), then ``run_loop``."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.stop)
        return self.run_loop()

    def run_loop(self) -> int:
        self._pool = [_Worker(i) for i in range(self.workers)]
        try:
            for worker in self._pool:
                self._start(worker)
            while not self._stop:
                time.sleep(self.poll_s)
                now = time.monotonic()
                for worker in self._pool:
                    if not self._stop:
                        self._check(worker, now)
        finally:
            code = self._shutdown()
        log.info("all workers stopped")
        return code


def supervise(cfg: TriageConfig, serve_args: Sequence[str]) -> int:
    """Run ``cfg.server.workers`` workers, each ``python -m triage <serve_args> --worker-index i``."""

    def command(index: int) -> list[str]:
        return [sys.executable, "-m", "triage", *serve_args, "--worker-index", str(index)]

    log.info(
        "supervising %d workers on %s",
        cfg.server.workers,
        "; ".join(", ".join(worker_config(cfg, i).server.listen) for i in range(cfg.server.workers)),
    )
    return Supervisor(command, cfg.server.workers, cfg.server.drain_seconds).run()
