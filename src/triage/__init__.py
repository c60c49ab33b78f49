"""Triage: an LLM request router that runs as an Envoy ext_proc sidecar."""

__version__ = "0.1.0"
