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
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from triage import __version__
from triage.config import TelemetryConfig

log = logging.getLogger("triage.telemetry")


def otlp_endpoint(cfg: TelemetryConfig) -> str | None:
    return cfg.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def setup_telemetry(cfg: TelemetryConfig) -> Callable[[], None]:
    """Install tracer and meter providers exporting over OTLP/gRPC; return the flush-and-shutdown hook.

    With no endpoint nothing is installed and the API's no-op providers stay in place.
    """
    endpoint = otlp_endpoint(cfg)
    if endpoint is None:
        return lambda: None
    try:
        return _install(cfg, endpoint)
    except Exception:  # telemetry never stops routing: run without export, loudly
        log.exception(
            "telemetry: cannot set up OTLP export to %s; routing continues without it. If this is an "
            "ImportError about opentelemetry.proto, xds-protos overwrote opentelemetry-proto's files: "
            "reinstall it with `pip install --force-reinstall --no-deps opentelemetry-proto`",
            endpoint,
        )
        return lambda: None


def _install(cfg: TelemetryConfig, endpoint: str) -> Callable[[], None]:
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter  # noqa: PLC0415
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

    service = os.environ.get("OTEL_SERVICE_NAME") or cfg.service_name
    resource = Resource.create({SERVICE_NAME: service, "service.namespace": "triage", "service.version": __version__})
    insecure = not endpoint.startswith("https://")
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=insecure)))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, insecure=insecure))
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)
    log.info("telemetry: exporting spans and metrics over OTLP/gRPC to %s as service %r", endpoint, service)

    def shutdown() -> None:
        for provider in (tracer_provider, meter_provider):
            try:
                provider.shutdown()
            except Exception:
                log.exception("telemetry shutdown failed (ignored)")

    return shutdown
