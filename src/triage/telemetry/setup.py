"""SDK wiring, called once from the entry point (never from the request path).

Export is off unless an OTLP endpoint is configured (``telemetry.otlp_endpoint`` or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``). Exporter failures are logged by the SDK, never raised into routing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from triage import __version__
from triage.config import TelemetryConfig

log = logging.getLogger("triage.telemetry")


def otlp_endpoint(cfg: TelemetryConfig) -> str | None:
    return cfg.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def setup_telemetry(cfg: TelemetryConfig, *, worker: int | None = None) -> Callable[[], None]:
    """Install the tracer and meter providers; return the flush-and-shutdown hook.

    Spans and metrics go over OTLP/gRPC when an endpoint is configured; metrics are also served for Prometheus
    at ``telemetry.metrics_listen`` (``/metrics``). With neither, the API's no-op providers stay in place.
    """
    endpoint = otlp_endpoint(cfg)
    if endpoint is None and cfg.metrics_listen is None:
        return lambda: None
    try:
        return _install(cfg, endpoint, worker)
    except Exception:  # telemetry never stops routing: run without export, loudly
        log.exception(
            "telemetry: cannot set up export (OTLP %s, Prometheus %s); routing continues without it. If this is "
            "an ImportError about opentelemetry.proto, xds-protos overwrote opentelemetry-proto's files: "
            "reinstall it with `pip install --force-reinstall --no-deps opentelemetry-proto`",
            endpoint,
            cfg.metrics_listen,
        )
        return lambda: None


def _prometheus_reader(listen: str) -> tuple[MetricReader, Callable[[], None]]:
    """A reader that Prometheus scrapes over HTTP at ``listen`` (any path answers; ``/metrics`` by convention)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader  # noqa: PLC0415
    from prometheus_client import start_http_server  # noqa: PLC0415

    host, port = listen.rsplit(":", 1)
    reader = PrometheusMetricReader()
    server, thread = start_http_server(int(port), addr=host.strip("[]"))
    log.info("telemetry: Prometheus metrics at http://%s/metrics", listen)

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=2)

    return reader, stop


def _install(cfg: TelemetryConfig, endpoint: str | None, worker: int | None) -> Callable[[], None]:
    service = os.environ.get("OTEL_SERVICE_NAME") or cfg.service_name
    attributes: dict[str, str | int] = {SERVICE_NAME: service, "service.namespace": "triage"}
    attributes["service.version"] = __version__
    if worker is not None:
        attributes["triage.worker"] = worker
    resource = Resource.create(attributes)
    readers: list[MetricReader] = []
    stops: list[Callable[[], None]] = []
    providers: list[TracerProvider | MeterProvider] = []
    if endpoint is not None:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter  # noqa: PLC0415
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

        insecure = not endpoint.startswith("https://")
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=insecure)))
        trace.set_tracer_provider(tracer_provider)
        providers.append(tracer_provider)
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, insecure=insecure)))
        log.info("telemetry: exporting spans and metrics over OTLP/gRPC to %s as service %r", endpoint, service)
    if cfg.metrics_listen is not None:
        reader, stop = _prometheus_reader(cfg.metrics_listen)
        readers.append(reader)
        stops.append(stop)
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(meter_provider)
    providers.append(meter_provider)

    def shutdown() -> None:
        for provider in providers:
            try:
                provider.shutdown()
            except Exception:
                log.exception("telemetry shutdown failed (ignored)")
        for stop in stops:
            stop()

    return shutdown
