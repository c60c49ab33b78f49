"""SDK wiring, called once from the entry point (never from the request path).

Export is off unless an OTLP endpoint is configured (``telemetry.otlp_endpoint`` or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``). Exporter failures are logged by the SDK, never raised into routing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from triage import __version__
from triage.config import TelemetryConfig
from triage.telemetry import semconv as sc
from triage.telemetry.aggregate import MetricsStore, default_store

if TYPE_CHECKING:
    from triage.store.writer import OtlpLogSink

log = logging.getLogger("triage.telemetry")


def otlp_endpoint(cfg: TelemetryConfig) -> str | None:
    return cfg.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def setup_telemetry(
    cfg: TelemetryConfig, *, worker: int | None = None, store: MetricsStore | None = None
) -> Callable[[], None]:
    """Install the tracer and meter providers; return the flush-and-shutdown hook.

    Spans and metrics go over OTLP/gRPC when an endpoint is configured; metrics are also served for Prometheus
    at ``telemetry.metrics_listen`` (``/metrics``). With neither, the API's no-op providers stay in place.
    """
    endpoint = otlp_endpoint(cfg)
    if endpoint is None and cfg.metrics_listen is None:
        return lambda: None
    try:
        return _install(cfg, endpoint, worker, store if store is not None else default_store())
    except Exception:  # telemetry never stops routing: run without export, loudly
        log.exception(
            "telemetry: cannot set up export (OTLP %s, Prometheus %s); routing continues without it. If this is "
            "an ImportError about opentelemetry.proto, xds-protos overwrote opentelemetry-proto's files: "
            "reinstall it with `pip install --force-reinstall --no-deps opentelemetry-proto`",
            endpoint,
            cfg.metrics_listen,
        )
        return lambda: None


def with_histograms(metrics_data: MetricsData, store: MetricsStore) -> MetricsData:
    """``metrics_data`` plus the store's histograms (cumulative), in Triage's instrumentation scope of the first
    resource: the SDK has no observable histogram, so the request path's histograms join each collection here."""
    now = time.time_ns()
    extra = [
        Metric(
            name=h.name,
            description=h.description,
            unit=h.unit,
            data=Histogram(
                data_points=[
                    HistogramDataPoint(
                        attributes=dict(attributes),
                        start_time_unix_nano=store.start_ns,
                        time_unix_nano=now,
                        count=b.count,
                        sum=b.total,
                        bucket_counts=b.counts,
                        explicit_bounds=h.bounds,
                        min=b.low,
                        max=b.high,
                    )
                    for attributes, b in series
                ],
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
            ),
        )
        for h in list(store.histograms.values())
        if (series := h.snapshot())
    ]
    if not extra or not metrics_data.resource_metrics:
        return metrics_data
    first, *rest = metrics_data.resource_metrics
    scopes = list(first.scope_metrics)
    mine = next((i for i, s in enumerate(scopes) if s.scope.name == sc.INSTRUMENTATION_SCOPE), None)
    if mine is None:
        scope = InstrumentationScope(sc.INSTRUMENTATION_SCOPE, schema_url=sc.SCHEMA_URL)
        scopes.append(ScopeMetrics(scope=scope, metrics=extra, schema_url=sc.SCHEMA_URL))
    else:
        old = scopes[mine]
        scopes[mine] = ScopeMetrics(scope=old.scope, metrics=[*old.metrics, *extra], schema_url=old.schema_url)
    merged = ResourceMetrics(resource=first.resource, scope_metrics=scopes, schema_url=first.schema_url)
    return MetricsData(resource_metrics=[merged, *rest])


class _PeriodicReader(PeriodicExportingMetricReader):
    """The OTLP push reader, with the store's histograms in every export."""

    def __init__(self, exporter: Any, store: MetricsStore) -> None:
        super().__init__(exporter)
        self._store = store

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        super()._receive_metrics(with_histograms(metrics_data, self._store), timeout_millis, **kwargs)


def _prometheus_reader(listen: str, store: MetricsStore) -> tuple[MetricReader, Callable[[], None]]:
    """A reader that Prometheus scrapes over HTTP at ``listen`` (any path answers; ``/metrics`` by convention)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader  # noqa: PLC0415
    from prometheus_client import start_http_server  # noqa: PLC0415

    class Reader(PrometheusMetricReader):
        def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
            super()._receive_metrics(with_histograms(metrics_data, store), timeout_millis, **kwargs)

    host, port = listen.rsplit(":", 1)
    reader = Reader()
    server, thread = start_http_server(int(port), addr=host.strip("[]"))
    log.info("telemetry: Prometheus metrics at http://%s/metrics", listen)

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=2)

    return reader, stop


def _resource(cfg: TelemetryConfig, worker: int | None) -> Resource:
    service = os.environ.get("OTEL_SERVICE_NAME") or cfg.service_name
    attributes: dict[str, str | int] = {SERVICE_NAME: service, "service.namespace": "triage"}
    attributes["service.version"] = __version__
    if worker is not None:
        attributes["triage.worker"] = worker
    return Resource.create(attributes)


def store_log_sink(cfg: TelemetryConfig, *, worker: int | None = None) -> OtlpLogSink | None:
    """The decision store's OTLP log sink (``store.otlp_logs``): records and events as OTLP log records to the
    OTLP endpoint, with the same resource as the spans and metrics; None when no endpoint is configured.

    Not the SDK's logs pipeline: its per-record cost (``bench/store_bench.py write``, ``docs/store.md``) is too
    high for every decision; ``triage.store.writer.OtlpLogSink`` sends the record's JSON line as the body."""
    from triage.store.writer import OtlpLogSink, grpc_sender  # noqa: PLC0415

    endpoint = otlp_endpoint(cfg)
    if endpoint is None:
        return None
    resource = {k: v for k, v in _resource(cfg, worker).attributes.items() if isinstance(v, str | bool | int | float)}
    sink = OtlpLogSink(grpc_sender(endpoint, insecure=not endpoint.startswith("https://")), resource)
    log.info("telemetry: sending the decision store's records as OTLP log records to %s", endpoint)
    return sink


def _install(cfg: TelemetryConfig, endpoint: str | None, worker: int | None, store: MetricsStore) -> Callable[[], None]:
    resource = _resource(cfg, worker)
    service = str(resource.attributes[SERVICE_NAME])
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
        readers.append(_PeriodicReader(OTLPMetricExporter(endpoint=endpoint, insecure=insecure), store))
        log.info("telemetry: exporting spans and metrics over OTLP/gRPC to %s as service %r", endpoint, service)
    if cfg.metrics_listen is not None:
        reader, stop = _prometheus_reader(cfg.metrics_listen, store)
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
