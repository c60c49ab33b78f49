"""The generator's pieces that the Helm chart's mesh modes (Istio, Envoy Gateway) put into the mesh's own objects.

In a mesh Triage does not own the Envoy bootstrap: the chart inserts Triage's header scrub and ext_proc filter into
the mesh's Envoy (an Istio ``EnvoyFilter``) or describes them in the mesh's API (an Envoy Gateway
``EnvoyExtensionPolicy`` and ``ClientTrafficPolicy``). Helm cannot run Python, so the chart reads this module's
output, ``helm/triage/files/envoy-parts.json``, and fills in only the fields that depend on the user's
configuration (``CONFIG_FIELDS``). The parts are cut from ``build_snippet``, so they cannot drift from the
standalone bootstrap; a unit test keeps the file equal to ``render_chart_parts()``.

Regenerate with ``python -m triage.envoy.mesh > helm/triage/files/envoy-parts.json``.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from triage.config import ClusterConfig, EnvoyConfig, RetryConfig, TriageConfig, load_config
from triage.contract import (
    CLIENT_CREDENTIAL_HEADERS,
    CLIENT_SESSION_HEADERS,
    ENVOY_CONTROL_HEADERS,
    HEADER_ROUTE,
    TRIAGE_HEADERS,
)
from triage.envoy.bootstrap import build_snippet

EXT_PROC_FILTER = "envoy.filters.http.ext_proc"
HEADER_MUTATION_FILTER = "envoy.filters.http.header_mutation"
# Client copies of these are removed before routing in every mode: a client never picks its route, tier,
# timeout or retry count.
STRIP_REQUEST_HEADERS = TRIAGE_HEADERS + ENVOY_CONTROL_HEADERS
# The ext_proc fields the chart fills from ``config`` (the rest is the same for every configuration).
CONFIG_FIELDS = (
    "grpc_service",  # the mesh's name for the Triage Service
    "failure_mode_allow",  # envoy.failure_mode_allow
    "message_timeout",  # envoy.message_timeout_ms
    "metadata_options.forwarding_namespaces.untyped",  # tier_source.metadata.namespace
)

# Envoy Gateway accepts only these attribute prefixes (its CRD's pattern); ``xds.cluster_name`` is not one.
_EG_ATTRIBUTE = re.compile(
    r"^(connection\.|source\.|destination\.|request\.|response\.|upstream\.|xds\.route_)[a-z_1-9]*$"
)
_EG_BODY_MODE = {
    "BUFFERED": "Buffered",
    "STREAMED": "Streamed",
    "BUFFERED_PARTIAL": "BufferedPartial",
    "FULL_DUPLEX_STREAMED": "FullDuplexStreamed",
}


def http_filter(cfg: TriageConfig, name: str) -> dict[str, Any]:
    """The named HTTP filter exactly as the generated bootstrap has it."""
    for item in build_snippet(cfg)["http_filters"]:
        if item["name"] == name:
            found: dict[str, Any] = item
            return found
    raise KeyError(name)


def _eg_mode(mode: dict[str, Any], attributes: list[str], prefix: str) -> dict[str, Any] | None:
    """One direction of Envoy Gateway's ``processingMode``: present when headers or a body are sent."""
    body = mode.get(f"{prefix}_body_mode", "NONE")
    if mode.get(f"{prefix}_header_mode") != "SEND" and body == "NONE":
        return None
    out: dict[str, Any] = {}
    if body != "NONE":
        out["body"] = _EG_BODY_MODE[body]
    kept = [a for a in attributes if _EG_ATTRIBUTE.match(a)]
    if kept:
        out["attributes"] = kept
    return out


def envoy_gateway_ext_proc(ext_proc: dict[str, Any]) -> dict[str, Any]:
    """The ``EnvoyExtensionPolicy`` ``extProc`` fields that mirror the ext_proc filter's ``typed_config``, and what
    Envoy Gateway cannot express (``not_expressible``; docs/kubernetes.md says what each costs)."""
    mode = ext_proc["processing_mode"]
    processing: dict[str, Any] = {"allowModeOverride": bool(ext_proc.get("allow_mode_override", False))}
    for prefix in ("request", "response"):
        direction = _eg_mode(mode, ext_proc.get(f"{prefix}_attributes", []), prefix)
        if direction is not None:
            processing[prefix] = direction
    attributes = ext_proc.get("request_attributes", []) + ext_proc.get("response_attributes", [])
    lost = [f"attribute {a}" for a in attributes if not _EG_ATTRIBUTE.match(a)]
    lost += [key for key in ("max_message_timeout", "mutation_rules") if key in ext_proc]
    if mode.get("response_header_mode") == "SKIP" and "response" in processing:
        lost.append("response_header_mode SKIP (Envoy Gateway sends response headers with the response body)")
    return {
        "processingMode": processing,
        "metadata": {"writableNamespaces": list(ext_proc["metadata_options"]["receiving_namespaces"]["untyped"])},
        "not_expressible": lost,
    }


def config_defaults() -> dict[str, Any]:
    """The defaults of the settings the chart reads when ``config`` leaves them out (from the schema itself)."""
    envoy = EnvoyConfig().model_dump(include={"failure_mode_allow", "message_timeout_ms", "request_timeout_ms"})
    cluster = ClusterConfig(address="default:1").model_dump(exclude={"address", "credential", "sni"})
    return {"envoy": envoy, "retries": RetryConfig().model_dump(mode="json"), "cluster": cluster}


def chart_parts(cfg: TriageConfig | None = None) -> dict[str, Any]:
    """What the chart reads from ``files/envoy-parts.json``. ``cfg`` defaults to the embedded configuration;
    the chart overrides ``CONFIG_FIELDS`` from its own ``config``."""
    cfg = load_config() if cfg is None else cfg
    ext_proc = copy.deepcopy(http_filter(cfg, EXT_PROC_FILTER))
    return {
        "route_header": HEADER_ROUTE,
        "config_defaults": config_defaults(),
        "strip_request_headers": list(STRIP_REQUEST_HEADERS),
        # Never sent to a provider (credentials unless the cluster passes them on), as the per-attempt scrub does.
        "client_credential_headers": list(CLIENT_CREDENTIAL_HEADERS),
        "client_session_headers": list(CLIENT_SESSION_HEADERS),
        "header_removal_filter": http_filter(cfg, HEADER_MUTATION_FILTER),
        "ext_proc_filter": ext_proc,
        "ext_proc_config_fields": list(CONFIG_FIELDS),
        "envoy_gateway_ext_proc": envoy_gateway_ext_proc(ext_proc["typed_config"]),
    }


def render_chart_parts() -> str:
    return json.dumps(chart_parts(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render_chart_parts(), end="")
