"""Triage configuration → the complete Envoy bootstrap (one source of truth for routes, clusters, chains).

The parts, in request order:
- a ``header_mutation`` filter that drops client copies of ``x-triage-*`` (so no client can pick a route,
  even when Triage is down and Envoy fails open);
- ``jwt_authn`` when ``envoy.jwt`` is set: verified claims go to dynamic metadata, where Triage reads
  the tier;
- the ``ext_proc`` filter (request headers + buffered body, response headers + streamed body);
- routes matching ``x-triage-route``, each a priority-group cluster specifier over the route's chain,
  retried on the next step (``refresh_cluster_on_retry``); a catch-all route to the default chain;
- one cluster per provider, the Triage cluster (HTTP/2, TCP or Unix socket), the OTLP collector.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from typing import Any

from triage.config import ClusterConfig, RouteConfig, TriageConfig

EXTPROC_CLUSTER = "triage_extproc"
OTEL_CLUSTER = "otel_collector"
CHAIN_OVERRIDE_NAMESPACE = "triage.chain"
JWT_PROVIDER = "triage_jwt"
JWT_PAYLOAD_KEY = "jwt_payload"
# Headers only Triage sets: a client's copy is removed before anything else runs.
TRIAGE_HEADERS = ("x-triage-route", "x-triage-tier", "x-triage-decision-id", "x-envoy-upstream-rq-timeout-ms")
BUFFER_LIMIT_BYTES = 16 * 1024 * 1024  # whole prompts are buffered for ext_proc and for retries

_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def _duration(ms: int | float) -> str:
    return f"{ms / 1000:.3f}s"


def _socket_address(address: str) -> dict[str, Any]:
    if address.startswith("unix:"):
        return {"pipe": {"path": address[len("unix:") :]}}
    host, port = address.rsplit(":", 1)
    return {"socket_address": {"address": host.strip("[]"), "port_value": int(port)}}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _protocol_options(http2: bool, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "@type": f"type.googleapis.com/{_HTTP_OPTIONS}",
        "explicit_http_config": {"http2_protocol_options" if http2 else "http_protocol_options": {}},
    }
    options.update(extra or {})
    return {_HTTP_OPTIONS: options}


def _access_log(path: str) -> list[dict[str, Any]]:
    fields = {
        "start": "%START_TIME%",
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(:PATH)%",
        "code": "%RESPONSE_CODE%",
        "flags": "%RESPONSE_FLAGS%",
        "details": "%RESPONSE_CODE_DETAILS%",
        "envoy_route": "%ROUTE_NAME%",
        "cluster": "%UPSTREAM_CLUSTER%",
        "upstream_host": "%UPSTREAM_HOST%",
        "attempts": "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
        "upstream_failure": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
        "decision_id": "%DYNAMIC_METADATA(triage:decision_id)%",
        "route": "%DYNAMIC_METADATA(triage:route)%",
        "reason": "%DYNAMIC_METADATA(triage:reason)%",
        "tier": "%DYNAMIC_METADATA(triage:tier)%",
        "task": "%DYNAMIC_METADATA(triage:task)%",
        "model": "%DYNAMIC_METADATA(triage:model_sent)%",
        "input_tokens": "%DYNAMIC_METADATA(triage:input_tokens)%",
        "output_tokens": "%DYNAMIC_METADATA(triage:output_tokens)%",
        "cost_usd": "%DYNAMIC_METADATA(triage:cost_usd)%",
        "duration_ms": "%DURATION%",
        "trace_id": "%TRACE_ID%",
        "request_id": "%REQ(X-REQUEST-ID)%",
    }
    return [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": path,
                "log_format": {"json_format": fields},
            },
        }
    ]


def _retry_policy(steps: int) -> dict[str, Any]:
    return {
        "retry_on": "5xx,reset,connect-failure,retriable-status-codes",
        "retriable_status_codes": [429],
        "num_retries": max(steps - 1, 1),
        "refresh_cluster_on_retry": True,
        "retry_back_off": {"base_interval": "0.05s", "max_interval": "0.5s"},
        "rate_limited_retry_back_off": {
            "reset_headers": [
                {"name": "retry-after", "format": "SECONDS"},
                {"name": "x-ratelimit-reset", "format": "UNIX_TIMESTAMP"},
            ],
            "max_interval": "10s",
        },
    }


def _chain_action(route: RouteConfig, timeout_ms: int) -> dict[str, Any]:
    groups = [
        {"name": f"step{i}", "clusters": [{"cluster_name": entry.cluster, "weight": 1}]}
        for i, entry in enumerate(route.chain)
    ]
    return {
        "inline_cluster_specifier_plugin": {
            "extension": {
                "name": "envoy.router.cluster_specifier_plugin.priority_group",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.router.cluster_specifiers.priority_group.v3."
                    "PriorityGroupClusterSpecifier",
                    "priority_groups": groups,
                    "override_metadata_namespace": CHAIN_OVERRIDE_NAMESPACE,
                },
            }
        },
        "timeout": _duration(timeout_ms),
        "retry_policy": _retry_policy(len(route.chain)),
    }


def _routes(cfg: TriageConfig) -> list[dict[str, Any]]:
    timeout = cfg.envoy.request_timeout_ms
    routes = [
        {
            "name": f"triage_{name}",
            # Matched on the dynamic metadata Triage sets, not on the x-triage-route header: Envoy picks a
            # route before any filter runs, so a client's forged header would stick if Triage failed open.
            "match": {
                "prefix": "/",
                "dynamic_metadata": [
                    {"filter": "triage", "path": [{"key": "route"}], "value": {"string_match": {"exact": name}}}
                ],
            },
            "route": _chain_action(route, timeout),
        }
        for name, route in cfg.routes.items()
    ]
    routes.append(
        {
            "name": "triage_default",
            "match": {"prefix": "/"},
            "route": _chain_action(cfg.routes[cfg.default_route], timeout),
        }
    )
    return routes


def _jwt_filter(cfg: TriageConfig) -> dict[str, Any] | None:
    jwt = cfg.envoy.jwt
    if jwt is None:
        return None
    if jwt.hmac_secret is not None:
        key = base64.urlsafe_b64encode(jwt.hmac_secret.encode()).decode().rstrip("=")
        jwks: dict[str, Any] = {"inline_string": json.dumps({"keys": [{"kty": "oct", "alg": "HS256", "k": key}]})}
    elif jwt.jwks_inline is not None:
        jwks = {"inline_string": jwt.jwks_inline}
    else:
        jwks = {"filename": jwt.jwks_file}
    requirement: dict[str, Any] = {"provider_name": JWT_PROVIDER}
    if not jwt.required:
        requirement = {"requires_any": {"requirements": [requirement, {"allow_missing": {}}]}}
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {
                JWT_PROVIDER: {
                    "issuer": jwt.issuer,
                    "local_jwks": jwks,
                    "payload_in_metadata": JWT_PAYLOAD_KEY,
                    "forward": False,
                }
            },
            "rules": [{"match": {"prefix": "/"}, "requires": requirement}],
        },
    }


def _extproc_filter(cfg: TriageConfig) -> dict[str, Any]:
    forwarding = []
    if cfg.tier_source.metadata is not None:
        forwarding.append(cfg.tier_source.metadata.namespace)
    return {
        "name": "envoy.filters.http.ext_proc",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
            "grpc_service": {"envoy_grpc": {"cluster_name": EXTPROC_CLUSTER}},
            "failure_mode_allow": cfg.envoy.failure_mode_allow,
            "processing_mode": {
                "request_header_mode": "SEND",
                "request_body_mode": "BUFFERED",
                "request_trailer_mode": "SKIP",
                "response_header_mode": "SEND",
                # STREAMED, each chunk answered at once: BUFFERED would hold an SSE stream until it ends.
                "response_body_mode": "STREAMED",
                "response_trailer_mode": "SKIP",
            },
            "message_timeout": _duration(cfg.envoy.message_timeout_ms),
            "max_message_timeout": "5s",
            "allow_mode_override": True,
            "response_attributes": ["xds.cluster_name"],
            "metadata_options": {
                "forwarding_namespaces": {"untyped": forwarding},
                "receiving_namespaces": {"untyped": ["triage", CHAIN_OVERRIDE_NAMESPACE]},
            },
            "mutation_rules": {"allow_envoy": True},
        },
    }


def _strip_client_headers() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.header_mutation",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
            "mutations": {"request_mutations": [{"remove": h} for h in TRIAGE_HEADERS]},
        },
    }


def _provider_cluster(name: str, cluster: ClusterConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "type": "STATIC" if _is_ip(cluster.host) else "STRICT_DNS",
        "connect_timeout": _duration(cluster.connect_timeout_ms),
        "per_connection_buffer_limit_bytes": BUFFER_LIMIT_BYTES,
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": _socket_address(cluster.address), "hostname": cluster.host}}
                    ]
                }
            ],
        },
        "typed_extension_protocol_options": _protocol_options(cluster.protocol == "http2"),
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": 1024,
                    "max_pending_requests": 1024,
                    "max_requests": 1024,
                    "max_retries": 64,
                }
            ]
        },
        "metadata": {"filter_metadata": {"triage": {"provider": cluster.provider}}},
    }
    if not _is_ip(cluster.host):
        out["dns_lookup_family"] = "V4_PREFERRED"
    if cluster.tls:
        out["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": cluster.sni or cluster.host,
                "common_tls_context": {
                    "validation_context": {"trusted_ca": {"filename": "/etc/ssl/certs/ca-certificates.crt"}}
                },
            },
        }
    return out


def _grpc_cluster(name: str, address: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": _protocol_options(http2=True),
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket_address(address)}}]}],
        },
    }


def build_bootstrap(cfg: TriageConfig) -> dict[str, Any]:
    """The Envoy bootstrap for ``cfg`` as a plain dict (serialise with YAML or JSON)."""
    envoy = cfg.envoy
    http_filters = [_strip_client_headers()]
    jwt = _jwt_filter(cfg)
    if jwt is not None:
        http_filters.append(jwt)
    http_filters.append(_extproc_filter(cfg))
    http_filters.append(
        {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
        }
    )
    hcm: dict[str, Any] = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
        "HttpConnectionManager",
        "stat_prefix": "triage",
        "generate_request_id": True,
        "stream_idle_timeout": "600s",
        "request_timeout": "0s",
        "access_log": _access_log(envoy.access_log),
        "route_config": {
            "name": "triage_routes",
            "virtual_hosts": [
                {
                    "name": "llm",
                    "domains": ["*"],
                    "include_request_attempt_count": True,
                    "include_attempt_count_in_response": True,
                    "routes": _routes(cfg),
                }
            ],
        },
        "http_filters": http_filters,
    }
    clusters = [_provider_cluster(name, c) for name, c in cfg.clusters.items()]
    clusters.append(_grpc_cluster(EXTPROC_CLUSTER, envoy.extproc))
    if envoy.tracing is not None:
        hcm["tracing"] = {
            "random_sampling": {"value": 100},
            "spawn_upstream_span": True,
            "provider": {
                "name": "envoy.tracers.opentelemetry",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                    "grpc_service": {"envoy_grpc": {"cluster_name": OTEL_CLUSTER}, "timeout": "1s"},
                    "service_name": envoy.tracing.service_name,
                },
            },
        }
        clusters.append(_grpc_cluster(OTEL_CLUSTER, envoy.tracing.collector))
    return {
        "admin": {"address": _socket_address(envoy.admin)},
        "static_resources": {
            "listeners": [
                {
                    "name": "triage_listener",
                    "address": _socket_address(envoy.listen),
                    "per_connection_buffer_limit_bytes": BUFFER_LIMIT_BYTES,
                    "filter_chains": [
                        {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
                    ],
                }
            ],
            "clusters": clusters,
        },
    }


def render_bootstrap(cfg: TriageConfig) -> str:
    """The bootstrap as YAML text, with a header saying where it came from."""
    import yaml  # noqa: PLC0415

    header = "# Generated by `triage envoy-config` from Triage's configuration. Do not edit: regenerate.\n"
    return header + yaml.safe_dump(build_bootstrap(cfg), sort_keys=False, width=120)
