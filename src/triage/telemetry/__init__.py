"""Telemetry: names (``semconv``), the request path's recorder (API only), and SDK wiring (``setup``)."""

from triage.telemetry.recorder import DecisionLog, Recorder, record_attributes

__all__ = ["DecisionLog", "Recorder", "record_attributes"]
