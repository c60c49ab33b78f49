"""Assembles a running Triage from a configuration: classifier, runtime, telemetry, server."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from triage import runtime
from triage.classifier.base import Classifier
from triage.config import ClassifierConfig, TelemetryConfig, TriageConfig
from triage.envoy.admin import AdminClient, ProviderHealth
from triage.extproc.server import TriageServer, run_until_signalled
from triage.runtime import Runtime, RuntimeHolder
from triage.store.writer import OtlpLogSink, make_sink, segment_writer
from triage.telemetry.recorder import DecisionLog, Recorder
from triage.telemetry.setup import setup_telemetry, store_log_sink

log = logging.getLogger("triage")


def load_classifier(cfg: ClassifierConfig) -> Classifier:
    """The configured classifier bundle ('builtin' = the one shipped in the package)."""
    from triage.classifier.onnx_model import OnnxClassifier, load_default  # noqa: PLC0415

    fast_path = cfg.engine == "auto"
    if cfg.model == "builtin":
        return load_default(fast_path=fast_path)
    return OnnxClassifier.load(Path(cfg.model), fast_path=fast_path)


def decision_log(cfg: TelemetryConfig) -> DecisionLog | None:
    if cfg.decision_log is None:
        return None
    if cfg.decision_log == "-":
        return DecisionLog(sys.stdout, buffered=True)
    path = Path(cfg.decision_log)
    path.parent.mkdir(parents=True, exist_ok=True)
    return DecisionLog(path.open("a", encoding="utf-8"), buffered=True)


def otlp_log_sink(config: TriageConfig, worker: int | None = None) -> OtlpLogSink | None:
    """The decision store's OTLP log records (``store.otlp_logs``), when an OTLP endpoint is configured."""
    if not config.store.otlp_logs:
        return None
    sink = store_log_sink(config.telemetry, worker=worker)
    if sink is None:
        log.warning("store.otlp_logs is set but no OTLP endpoint is (telemetry.otlp_endpoint): no log records sent")
    return sink


def build_runtime(config: TriageConfig, classifier: Classifier, otlp_logs: OtlpLogSink | None = None) -> Runtime:
    """``otlp_logs``: the store's OTLP log sink (``otlp_log_sink``), next to its segments (``store.path``)."""
    admin = AdminClient(config.envoy.admin, timeout=1.0) if config.envoy.health_poll_ms > 0 else None
    sink = make_sink(config.store, otlp=otlp_logs)
    # Content capture only ever goes to the local segments; whether it happens is the runtime's (store.capture).
    recorder = Recorder(decision_log(config.telemetry), sink=sink, capture=segment_writer(sink))
    health = ProviderHealth(admin, config.clusters, on_change=recorder.provider_health)
    return runtime.build(config, classifier, recorder, health)


def warm_up(classifier: Classifier) -> None:
    """Run the model and the request path's code a few times so the first real request does not pay for
    lazy initialisation."""
    from triage.requests import OPENAI_CHAT, parse_request  # noqa: PLC0415

    samples = ("Hello!", "Write a Python function that merges two sorted lists.", "x " * 2000)
    for _ in range(3):
        for text in samples:
            body = b'{"model":"auto","messages":[{"role":"user","content":"%s"}]}' % text.encode()
            classifier.score(parse_request(body, OPENAI_CHAT).input)


async def serve(
    config: TriageConfig,
    config_path: Path | None,
    *,
    watch_interval_s: float = 1.0,
    prepare: Callable[[TriageConfig], TriageConfig] = lambda c: c,
    worker: int | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT, then shut down gracefully. Returns the exit code.

    ``prepare``: redone on every reloaded configuration (see ``RuntimeHolder``); ``worker``: this process's
    index under ``triage serve --workers N`` (a resource attribute of its telemetry)."""
    flush = setup_telemetry(config.telemetry, worker=worker)
    otlp_logs = otlp_log_sink(config, worker)
    server = TriageServer(list(config.server.listen), engine=config.server.engine)
    await server.start()
    log.info("listening on %s, %s engine (NOT_SERVING until the model is warm)", ", ".join(server.bound), server.engine)
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    classifier = await loop.run_in_executor(None, load_classifier, config.classifier)
    await loop.run_in_executor(None, warm_up, classifier)
    holder = RuntimeHolder(build_runtime(config, classifier, otlp_logs), config_path, prepare)
    await server.ready(holder)
    log.info(
        "SERVING: classifier %s (%s) loaded and warm in %.0f ms; default route %r",
        classifier.version,
        getattr(classifier, "backend", type(classifier).__name__),
        (time.perf_counter() - started) * 1000,
        config.default_route,
    )
    recorder = holder.current.recorder
    tasks = [asyncio.create_task(recorder.flush_every(0.25))]
    if config_path is not None:
        tasks.append(asyncio.create_task(holder.watch(watch_interval_s)))
    if config.envoy.health_poll_ms > 0:
        tasks.append(asyncio.create_task(holder.current.health.watch(config.envoy.health_poll_ms / 1000)))
    await run_until_signalled(server, asyncio.Event())
    for task in tasks:
        task.cancel()

    def flush_all() -> None:
        recorder.flush()  # the decision log and the store's segments
        if otlp_logs is not None:
            otlp_logs.close()  # what is queued for the Collector, for at most 5 s
        flush()

    await server.shutdown(config.server.drain_seconds, flush_all)
    return 0
