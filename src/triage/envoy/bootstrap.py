"""Triage configuration → the complete Envoy bootstrap (one source of truth for routes, clusters, chains).

The parts, in request order (``deploy/ENVOY.md`` explains each and why):

- ``header_mutation`` drops client copies of Triage's headers and of Envoy's retry/timeout headers;
- ``jwt_authn`` (when ``envoy.jwt`` is set) verifies the client's token; its claims go to dynamic
  metadata, where Triage reads the tier;
- ``ext_proc`` calls Triage: request headers + buffered body (the decision), response headers + streamed
  body (usage, cost), each response chunk answered at once;
- routes match the route name Triage puts in dynamic metadata (``triage:route``; a header could be forged
  and Envoy selects the route before any filter runs) and hand the request to a priority-group cluster
  specifier over the route's chain; Triage overrides the order per request (``triage.chain``) and sets
  the retry count; retries re-run the specifier, so attempt N goes to step N;
- a catch-all route sends everything else (and everything when Triage is unreachable) down the default
  route's chain;
- every provider cluster runs a per-attempt upstream filter chain: drop client credentials, inject the
  provider's own (SDS file), rewrite the body's ``model`` for this provider (Lua, from ``triage:models``);
  with circuit breakers sized for retries and outlier detection (default panic threshold: ejection
  shows up in the admin API, and Triage reorders chains from it);
- Envoy's own error replies become OpenAI-style JSON; the access log and a per-attempt log carry the
  decision, the real cluster, attempts, flags and tokens;
- the feedback API (``feedback.enabled``): ``POST <feedback.http_path>`` with a JSON body is transcoded to
  ``triage.v1.Feedback/Submit`` (gRPC-JSON transcoder) and sent to Triage (``triage_api``: the same workers),
  without ext_proc; the route passes the verified principal as gRPC metadata and a Lua filter turns the service's
  gRPC errors into OpenAI-style JSON.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from typing import Any

from triage.config import ClusterConfig, RouteConfig, TriageConfig
from triage.contract import (
    CHAIN_NAMESPACE,
    CLIENT_CREDENTIAL_HEADERS,
    CLIENT_SESSION_HEADERS,
    ENVOY_CONTROL_HEADERS,
    EXT_PROC_SERVICE,
    HEADER_DECISION_ID,
    HEADER_ROUTE,
    METADATA_NAMESPACE,
    TRIAGE_HEADERS,
    step_name,
    worker_address,
)
from triage.feedback import contract as feedback

EXTPROC_CLUSTER = "triage_extproc"
API_CLUSTER = "triage_api"  # Triage's own gRPC APIs (feedback), same workers as EXTPROC_CLUSTER
OTEL_CLUSTER = "otel_collector"
JWT_PROVIDER = "triage_jwt"
JWT_PAYLOAD_KEY = "jwt_payload"
BUFFER_LIMIT_BYTES = 16 * 1024 * 1024  # whole prompts are buffered for ext_proc and for retries

_T = "type.googleapis.com/"
_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

# Per attempt: the model this provider expects, from the decision (triage:models[<cluster>]), or the
# cluster's own default when Triage did not decide (it failed open). Only the top-level "model" changes: a body
# Triage rewrote starts with it (the fast path); any other body is scanned as JSON (strings with their escapes,
# nesting) for the top-level key, so a nested "model" or one inside a string is never touched. The new name is
# written as a JSON string. content-length is always recomputed: a header set by an earlier attempt's filter
# persists into the next attempt, the body does not.
_LUA_MODEL = """local CLUSTER = %(cluster)s
local DEFAULT_MODEL = %(model)s

local function string_end(text, i)
  -- text:byte(i) is the opening quote of a JSON string: the index of its closing quote
  local n = #text
  local j = i + 1
  while j <= n do
    local d = text:byte(j)
    if d == 92 then j = j + 2 elseif d == 34 then return j else j = j + 1 end
  end
  return nil
end

local function top_level_model(text)
  -- the first and last index of the top-level "model" value when it is a string, else nil
  if text:sub(1, 10) == '{"model":"' then
    local e = string_end(text, 10)
    if e ~= nil then return 10, e end
  end
  local n, depth, i, expect_key = #text, 0, 1, false
  while i <= n do
    local c = text:byte(i)
    if c == 34 then
      local j = string_end(text, i)
      if j == nil then return nil end
      if depth == 1 and expect_key then
        local key = text:sub(i + 1, j - 1):gsub("\\\\u00(%%x%%x)", function(h) return string.char(tonumber(h, 16)) end)
        local k = j + 1
        while k <= n and text:byte(k) ~= 58 do k = k + 1 end
        k = k + 1
        while k <= n and (text:byte(k) == 32 or text:byte(k) == 9 or text:byte(k) == 10 or text:byte(k) == 13) do
          k = k + 1
        end
        if key == "model" then
          if text:byte(k) ~= 34 then return nil end
          local e = string_end(text, k)
          if e == nil then return nil end
          return k, e
        end
        expect_key = false
        i = k
      else
        i = j + 1
      end
    elseif c == 123 or c == 91 then
      depth = depth + 1
      expect_key = (c == 123 and depth == 1)
      i = i + 1
    elseif c == 125 or c == 93 then
      depth = depth - 1
      i = i + 1
    elseif c == 44 then
      if depth == 1 then expect_key = true end
      i = i + 1
    else
      i = i + 1
    end
  end
  return nil
end

function envoy_on_request(handle)
  local body = handle:body()
  if body == nil then return end
  local text = body:getBytes(0, body:length())
  local model = DEFAULT_MODEL
  local md = handle:streamInfo():dynamicMetadata():get("%(namespace)s")
  if md ~= nil and md["models"] ~= nil and md["models"][CLUSTER] ~= nil then model = md["models"][CLUSTER] end
  if model ~= nil then
    local s, e = top_level_model(text)
    if s ~= nil then
      local quoted = '"' .. model:gsub('[\\\\"]', '\\\\%%0') .. '"'
      local out = text:sub(1, s - 1) .. quoted .. text:sub(e + 1)
      if out ~= text then
        body:setBytes(out)
        text = out
      end
    end
  end
  handle:headers():replace("content-length", tostring(#text))
end
"""


FEEDBACK_ROUTE = "triage_feedback"
FEEDBACK_METHOD_ROUTE = "triage_feedback_method"
FEEDBACK_ERRORS_FILTER = "triage.feedback_errors"  # Lua, off except on the feedback route
TRANSCODER_FILTER = "envoy.filters.http.grpc_json_transcoder"
EXT_PROC_FILTER = "envoy.filters.http.ext_proc"

# On the feedback route only, after the transcoder (it sees the transcoded response): the service's gRPC status
# becomes the HTTP status and an OpenAI-style JSON error; the message's leading code (``unknown_decision: ...``)
# becomes the error's ``code``. Errors arrive as trailers-only responses (grpc-status in the headers). grpc-message is
# percent-encoded on the wire; the JSON string escapes quotes, backslashes and control characters.
_LUA_FEEDBACK_ERRORS = r"""local HTTP = {@HTTP_ERRORS@}

local function unpercent(text)
  return (text:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function quote(text)
  local escaped = text:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' end
    return string.format('\\u%04x', c:byte())
  end)
  return '"' .. escaped .. '"'
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local status = headers:get("grpc-status")
  local message = unpercent(headers:get("grpc-message") or "")
  headers:remove("grpc-status")
  headers:remove("grpc-message")
  headers:remove("grpc-accept-encoding")
  if status == nil or status == "0" then return end
  local http = HTTP[tonumber(status)]
  if http == nil then
    local code = tonumber(headers:get(":status")) or 500
    http = {code, code < 500 and "invalid_request_error" or "upstream_error"}
  end
  local code, text = message:match("^([a-z_]+): (.*)$")
  if code == nil then code, text = "grpc_status_" .. status, message end
  local body = '{"error":{"message":' .. quote(text) .. ',"type":' .. quote(http[2])
    .. ',"param":null,"code":' .. quote(code) .. '}}'
  handle:body(true):setBytes(body)
  headers:replace(":status", tostring(http[1]))
  headers:replace("content-type", "application/json")
end
"""


def _feedback_errors_lua() -> str:
    table = ", ".join(f'[{grpc}] = {{{http}, "{kind}"}}' for grpc, (http, kind) in sorted(feedback.HTTP_ERRORS.items()))
    return _LUA_FEEDBACK_ERRORS.replace("@HTTP_ERRORS@", table)


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


def _filter(name: str, type_name: str, **config: Any) -> dict[str, Any]:
    return {"name": name, "typed_config": {"@type": _T + type_name, **config}}


def _protocol_options(http2: bool, upstream_filters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "@type": _T + _HTTP_OPTIONS,
        "explicit_http_config": {"http2_protocol_options" if http2 else "http_protocol_options": {}},
    }
    if upstream_filters:
        options["http_filters"] = upstream_filters
    return {_HTTP_OPTIONS: options}


def _file_log(path: str, fields: dict[str, str]) -> dict[str, Any]:
    return _filter(
        "envoy.access_loggers.file",
        "envoy.extensions.access_loggers.file.v3.FileAccessLog",
        path=path,
        log_format={"json_format": fields},
    )


def _md(key: str) -> str:
    return f"%DYNAMIC_METADATA({METADATA_NAMESPACE}:{key})%"


def _access_log(path: str) -> dict[str, Any]:
    return _file_log(
        path,
        {
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
            "decision_id": _md("decision_id"),
            "route": _md("route"),
            "reason": _md("reason"),
            "tier": _md("tier"),
            "task": _md("task"),
            "model": _md("model_answered"),  # the answering step's model (a fallback's own)
            "model_sent": _md("model_sent"),  # what the first step was sent
            "input_tokens": _md("input_tokens"),
            "output_tokens": _md("output_tokens"),
            "cost_usd": _md("cost_usd"),
            "bytes_sent": "%BYTES_SENT%",
            "duration_ms": "%DURATION%",
            "trace_id": "%TRACE_ID%",
            "request_id": "%REQ(X-REQUEST-ID)%",
        },
    )


def _attempt_log(path: str) -> dict[str, Any]:
    return _file_log(
        path,
        {
            "start": "%START_TIME%",
            "request_id": "%REQ(X-REQUEST-ID)%",
            # The upstream log sees the attempt's request, not the downstream dynamic metadata.
            "decision_id": "%REQ(X-TRIAGE-DECISION-ID)%",
            "attempt": "%REQ(X-ENVOY-ATTEMPT-COUNT)%",
            "cluster": "%UPSTREAM_CLUSTER%",
            "upstream_host": "%UPSTREAM_HOST%",
            "code": "%RESPONSE_CODE%",
            "flags": "%RESPONSE_FLAGS%",
            "upstream_failure": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
            "duration_ms": "%DURATION%",
        },
    )


def _retry_policy(cfg: TriageConfig, steps: int) -> dict[str, Any]:
    """Retry on the configured failure classes; Triage overrides the count per request with
    ``x-envoy-max-retries`` (the count here applies when Triage failed open)."""
    retries = cfg.retries
    policy: dict[str, Any] = {
        "retry_on": ",".join(retries.retry_on),
        "num_retries": steps - 1 if steps > 1 else retries.single_step_retries,
        "refresh_cluster_on_retry": True,
        "per_try_timeout": _duration(retries.per_try_timeout_ms),
        "retry_back_off": {
            "base_interval": _duration(retries.backoff_base_ms),
            "max_interval": _duration(retries.backoff_max_ms),
        },
    }
    if retries.retriable_status_codes:
        policy["retriable_status_codes"] = list(retries.retriable_status_codes)
    if retries.retry_after.honour:
        policy["rate_limited_retry_back_off"] = {
            "reset_headers": [
                {"name": "retry-after", "format": "SECONDS"},
                {"name": "x-ratelimit-reset", "format": "UNIX_TIMESTAMP"},
            ],
            "max_interval": _duration(retries.retry_after.max_s * 1000),
        }
    return policy


def _chain_action(cfg: TriageConfig, route: RouteConfig) -> dict[str, Any]:
    groups = [
        {"name": step_name(i), "clusters": [{"cluster_name": entry.cluster, "weight": 1}]}
        for i, entry in enumerate(route.chain)
    ]
    return {
        "inline_cluster_specifier_plugin": {
            "extension": {
                "name": "envoy.router.cluster_specifier_plugin.priority_group",
                "typed_config": {
                    "@type": _T + "envoy.extensions.router.cluster_specifiers.priority_group.v3."
                    "PriorityGroupClusterSpecifier",
                    "priority_groups": groups,
                    "override_metadata_namespace": CHAIN_NAMESPACE,
                },
            }
        },
        "timeout": _duration(cfg.envoy.request_timeout_ms),
        "retry_policy": _retry_policy(cfg, len(route.chain)),
    }


MODELS_PATH = "/v1/models"
AUTO_MODEL = "auto"


def models_list(cfg: TriageConfig) -> dict[str, Any]:
    """``GET /v1/models``: what a client may ask for. ``auto`` (Triage picks the route), then each route by name
    (Triage still decides: the names say what exists); OpenAI's list shape."""
    data = [{"id": AUTO_MODEL, "object": "model", "created": 0, "owned_by": "triage", "description": "routed"}]
    for name, route in cfg.routes.items():
        desc = route.description or " → ".join(f"{e.cluster}/{e.model}" for e in route.chain)
        data.append({"id": name, "object": "model", "created": 0, "owned_by": "triage", "description": desc})
    return {"object": "list", "data": data}


def _models_route(cfg: TriageConfig) -> dict[str, Any]:
    return {
        "name": "triage_models",
        "match": {"path": MODELS_PATH, "headers": [{"name": ":method", "string_match": {"exact": "GET"}}]},
        "direct_response": {"status": 200, "body": {"inline_string": json.dumps(models_list(cfg))}},
        "response_headers_to_add": [
            {
                "header": {"key": "content-type", "value": "application/json"},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
    }


def _routes(cfg: TriageConfig) -> list[dict[str, Any]]:
    routes = [
        {
            "name": f"triage_{name}",
            # Matched on the dynamic metadata Triage sets, not on the x-triage-route header: Envoy picks a
            # route before any filter runs, so a client's forged header would stick if Triage failed open.
            "match": {
                "prefix": "/",
                "dynamic_metadata": [
                    {
                        "filter": METADATA_NAMESPACE,
                        "path": [{"key": "route"}],
                        "value": {"string_match": {"exact": name}},
                    }
                ],
            },
            "route": _chain_action(cfg, route),
        }
        for name, route in cfg.routes.items()
    ]
    routes[0:0] = [_models_route(cfg), *_feedback_routes(cfg)]  # models: answered by Envoy itself
    routes.append(
        {"name": "triage_default", "match": {"prefix": "/"}, "route": _chain_action(cfg, cfg.routes[cfg.default_route])}
    )
    return routes


def _feedback_filters(cfg: TriageConfig) -> list[dict[str, Any]]:
    """The error mapper (off by default, on at the feedback route) then the transcoder, before ext_proc. The
    transcoder only acts on ``POST <feedback.http_path>`` (the rule in its descriptor set); it routes on the incoming
    path (``match_incoming_request_route``), so the feedback route below is the one that applies."""
    if not cfg.feedback.enabled:
        return []
    errors = {
        "name": FEEDBACK_ERRORS_FILTER,
        "typed_config": {"@type": _T + "envoy.extensions.filters.http.lua.v3.Lua"},
        "disabled": True,
    }
    transcoder = _filter(
        TRANSCODER_FILTER,
        "envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
        proto_descriptor_bin=base64.b64encode(feedback.descriptor_set(cfg.feedback.http_path)).decode(),
        services=[feedback.SERVICE],
        match_incoming_request_route=True,
        # The JSON body over the event limit is refused by Envoy itself (413), before Triage sees it.
        max_request_body_size=cfg.feedback.max_event_bytes,
        print_options={"preserve_proto_field_names": True, "always_print_primitive_fields": True},
        convert_grpc_status=False,
    )
    return [errors, transcoder]


def _feedback_routes(cfg: TriageConfig) -> list[dict[str, Any]]:
    """``POST <http_path>`` → Triage (the transcoded ``Submit``, ``API_CLUSTER``); any other method → 405."""
    fb = cfg.feedback
    if not fb.enabled:
        return []

    def no_ext_proc() -> dict[str, Any]:  # a new dict each time: YAML would write a shared one as an alias
        return {
            EXT_PROC_FILTER: {
                "@type": _T + "envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute",
                "disabled": True,
            }
        }

    principal = ":".join([fb.principal.namespace, *fb.principal.path])
    submit = {
        "name": FEEDBACK_ROUTE,
        "match": {"path": fb.http_path, "headers": [{"name": ":method", "string_match": {"exact": "POST"}}]},
        "route": {
            "cluster": API_CLUSTER,
            "timeout": "5s",
            # Safe to retry: a connection that never reached a worker, or a worker still loading (UNAVAILABLE).
            "retry_policy": {"retry_on": "connect-failure,refused-stream,unavailable", "num_retries": 2},
        },
        # Who sent it, from the verified claim only: any client copy is removed first (Envoy removes before it adds),
        # and with no verified claim the header stays absent.
        "request_headers_to_remove": [feedback.PRINCIPAL_HEADER],
        "request_headers_to_add": [
            {
                "header": {"key": feedback.PRINCIPAL_HEADER, "value": f"%DYNAMIC_METADATA({principal})%"},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
        "typed_per_filter_config": {
            **no_ext_proc(),
            FEEDBACK_ERRORS_FILTER: {
                "@type": _T + "envoy.config.route.v3.FilterConfig",
                "config": {
                    "@type": _T + "envoy.extensions.filters.http.lua.v3.LuaPerRoute",
                    "source_code": {"inline_string": _feedback_errors_lua()},
                },
            },
        },
    }
    other_methods = {
        "name": FEEDBACK_METHOD_ROUTE,
        "match": {"path": fb.http_path},
        "direct_response": {
            "status": 405,
            "body": {"inline_string": f"Send feedback as POST {fb.http_path} with a JSON body."},
        },
        "response_headers_to_add": [
            {"header": {"key": "allow", "value": "POST"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
        ],
        "typed_per_filter_config": no_ext_proc(),
    }
    return [submit, other_methods]


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
    rules: list[dict[str, Any]] = []
    if not jwt.required:
        # A verified token still puts its claims in metadata; a missing one (and with ``default_tier`` a failed
        # one) lets the request through with none, so on the default tier.
        fallback = "allow_missing" if jwt.invalid_token == "reject" else "allow_missing_or_failed"
        if cfg.feedback.enabled and cfg.feedback.require_principal:
            # Feedback needs a principal: Envoy answers 401 itself to a request without a valid token.
            rules.append({"match": {"path": cfg.feedback.http_path}, "requires": {"provider_name": JWT_PROVIDER}})
        requirement = {"requires_any": {"requirements": [requirement, {fallback: {}}]}}
    rules.append({"match": {"prefix": "/"}, "requires": requirement})
    return _filter(
        "envoy.filters.http.jwt_authn",
        "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        providers={
            JWT_PROVIDER: {
                "issuer": jwt.issuer,
                "local_jwks": jwks,
                "payload_in_metadata": JWT_PAYLOAD_KEY,
                "forward": False,
                "require_expiration": jwt.require_expiration,
            }
        },
        rules=rules,
    )


def _extproc_filter(cfg: TriageConfig) -> dict[str, Any]:
    forwarding = []
    if cfg.tier_source.metadata is not None:
        forwarding.append(cfg.tier_source.metadata.namespace)
    principal = cfg.feedback.principal.namespace
    if cfg.feedback.enabled and cfg.feedback.implicit.enabled and principal not in forwarding:
        forwarding.append(principal)  # implicit signals are per principal
    return _filter(
        EXT_PROC_FILTER,
        "envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
        grpc_service={"envoy_grpc": {"cluster_name": EXTPROC_CLUSTER}},
        failure_mode_allow=cfg.envoy.failure_mode_allow,
        processing_mode={
            "request_header_mode": "SEND",
            "request_body_mode": "BUFFERED",
            "request_trailer_mode": "SKIP",
            # Response headers are not sent: status, real cluster and attempts come as attributes with the
            # first body chunk, and Envoy adds the decision headers itself (one blocking round trip less).
            "response_header_mode": "SKIP",
            # STREAMED, each chunk answered at once: BUFFERED would hold an SSE stream until it ends.
            "response_body_mode": "STREAMED",
            "response_trailer_mode": "SKIP",
        },
        message_timeout=_duration(cfg.envoy.message_timeout_ms),
        # What Triage may ask for (override_message_timeout) while it holds an answer and asks a stronger route:
        # the escalated call's limit and a margin. Other messages keep message_timeout.
        max_message_timeout=f"{-(-max_message_timeout_ms(cfg) // 1000)}s",
        allow_mode_override=True,
        response_attributes=["xds.cluster_name", "response.code", "upstream.request_attempt_count"],
        metadata_options={
            "forwarding_namespaces": {"untyped": forwarding},
            "receiving_namespaces": {"untyped": [METADATA_NAMESPACE, CHAIN_NAMESPACE]},
        },
        # Lets Triage set x-envoy-upstream-rq-timeout-ms, x-envoy-max-retries, ... (else dropped silently).
        mutation_rules={"allow_envoy": True},
    )


def max_message_timeout_ms(cfg: TriageConfig) -> int:
    """The ext_proc filter's ``max_message_timeout``: what Triage may ask Envoy to wait while it escalates."""
    if not cfg.escalation.tiers:
        return 5000
    return max(5000, cfg.escalation.timeout_ms + 1000)


def _header_removal(headers: tuple[str, ...]) -> dict[str, Any]:
    return _filter(
        "envoy.filters.http.header_mutation",
        "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
        mutations={"request_mutations": [{"remove": h} for h in headers]},
    )


def _cluster_model(cfg: TriageConfig, cluster: str) -> str | None:
    """The model a cluster gets when Triage did not decide: its step in the default route, else its
    first step anywhere."""
    for entry in cfg.routes[cfg.default_route].chain:
        if entry.cluster == cluster:
            return entry.model
    return next((e.model for r in cfg.routes.values() for e in r.chain if e.cluster == cluster), None)


def _upstream_filters(cfg: TriageConfig, name: str, cluster: ClusterConfig) -> list[dict[str, Any]]:
    """Run once per attempt to this provider, in order."""
    filters = []
    scrub = (
        CLIENT_SESSION_HEADERS
        if cluster.pass_client_credentials
        else CLIENT_CREDENTIAL_HEADERS + CLIENT_SESSION_HEADERS
    )
    filters.append(_header_removal(scrub))
    if cluster.credential is not None:
        filters.append(
            _filter(
                "envoy.filters.http.credential_injector",
                "envoy.extensions.filters.http.credential_injector.v3.CredentialInjector",
                overwrite=True,
                credential={
                    "name": "envoy.http.injected_credentials.generic",
                    "typed_config": {
                        "@type": _T + "envoy.extensions.http.injected_credentials.generic.v3.Generic",
                        "credential": {
                            "name": cluster.credential.secret_name,
                            "sds_config": {"path_config_source": {"path": cluster.credential.secret_file}},
                        },
                        "header": cluster.credential.header,
                    },
                },
            )
        )
    model = _cluster_model(cfg, name)
    code = _LUA_MODEL % {
        "cluster": json.dumps(name),
        "model": json.dumps(model) if model is not None else "nil",
        "namespace": METADATA_NAMESPACE,
    }
    filters.append(
        _filter(
            "envoy.filters.http.lua",
            "envoy.extensions.filters.http.lua.v3.Lua",
            default_source_code={"inline_string": code},
        )
    )
    filters.append(
        _filter("envoy.filters.http.upstream_codec", "envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec")
    )
    return filters


def _provider_cluster(cfg: TriageConfig, name: str, cluster: ClusterConfig) -> dict[str, Any]:
    limits, outlier = cluster.limits, cluster.outlier
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
        "typed_extension_protocol_options": _protocol_options(
            cluster.protocol == "http2", _upstream_filters(cfg, name, cluster)
        ),
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": limits.max_connections,
                    "max_pending_requests": limits.max_pending_requests,
                    "max_requests": limits.max_requests,
                    "max_retries": limits.max_retries,
                }
            ]
        },
        # The default panic threshold stays: with 0, an ejected single-host step fails requests with
        # "no healthy upstream", which Envoy never retries. Ejection still shows in the admin API.
        "outlier_detection": {
            "consecutive_5xx": outlier.consecutive_5xx,
            "consecutive_gateway_failure": outlier.consecutive_gateway_failure,
            "split_external_local_origin_errors": True,
            "consecutive_local_origin_failure": outlier.consecutive_local_origin_failure,
            "interval": _duration(outlier.interval_ms),
            "base_ejection_time": _duration(outlier.base_ejection_time_ms),
            "max_ejection_percent": 100,
        },
        "metadata": {"filter_metadata": {METADATA_NAMESPACE: {"provider": cluster.provider}}},
    }
    if not _is_ip(cluster.host):
        out["dns_lookup_family"] = "V4_PREFERRED"
    if cluster.tls:
        out["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": _T + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": cluster.sni or cluster.host,
                "common_tls_context": {
                    "validation_context": {"trusted_ca": {"filename": "/etc/ssl/certs/ca-certificates.crt"}}
                },
            },
        }
    return out


def _grpc_cluster(name: str, address: str) -> dict[str, Any]:
    """Triage or the OTLP collector: a Unix socket, an IP, or a DNS name (a Service, a compose service)."""
    return _grpc_cluster_of(name, [address])


def _grpc_cluster_of(name: str, addresses: list[str]) -> dict[str, Any]:
    host = "" if addresses[0].startswith("unix:") else addresses[0].rsplit(":", 1)[0].strip("[]")
    dns = bool(host) and not _is_ip(host)
    return {
        "name": name,
        "type": "STRICT_DNS" if dns else "STATIC",
        **({"dns_lookup_family": "V4_PREFERRED"} if dns else {}),
        "connect_timeout": "1s",
        "typed_extension_protocol_options": _protocol_options(http2=True),
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket_address(a)}} for a in addresses]}],
        },
    }


def _extproc_cluster(cfg: TriageConfig) -> dict[str, Any]:
    """One endpoint per Triage worker (``server.workers``), balanced round robin stream by stream. With more than
    one, Envoy health-checks each worker over gRPC so that one restarting, or still loading its model, gets no
    streams (with a single endpoint there is nothing to fail over to: the filter's failure mode decides)."""
    return _triage_cluster(cfg, EXTPROC_CLUSTER, EXT_PROC_SERVICE)


def _api_cluster(cfg: TriageConfig) -> dict[str, Any]:
    """The same workers for Triage's own APIs (the transcoded feedback route): a cluster of its own, so that API
    calls neither share the ext_proc streams' connections nor depend on its name (a mesh renames that one)."""
    return _triage_cluster(cfg, API_CLUSTER, feedback.SERVICE)


def _triage_cluster(cfg: TriageConfig, name: str, health_service: str) -> dict[str, Any]:
    workers = cfg.server.workers
    cluster = _grpc_cluster_of(name, [worker_address(cfg.envoy.extproc, i) for i in range(workers)])
    if workers > 1:
        cluster["health_checks"] = [
            {
                "timeout": "1s",
                "interval": "1s",
                "no_traffic_interval": "1s",
                "unhealthy_threshold": 1,
                "healthy_threshold": 1,
                "grpc_health_check": {"service_name": health_service},
            }
        ]
        cluster["common_lb_config"] = {"healthy_panic_threshold": {"value": 0}}  # never to a worker known down
    return cluster


# Envoy's own replies (jwt_authn's 401, a body over the buffer limit, no healthy upstream, timeouts, ...) by kind:
# (CEL condition beyond "Envoy's own error", OpenAI-style error type, code; None: Envoy's response code details).
_LOCAL_REPLY_KINDS: tuple[tuple[str, str, str | None], ...] = (
    ("response.code == 401", "authentication_error", "invalid_token"),
    ("response.code == 403", "permission_error", None),
    ("response.code == 413", "invalid_request_error", "request_too_large"),
    ("response.code < 500", "invalid_request_error", None),
    ("true", "upstream_error", None),
)
# Triage's own replies carry response code details starting with this, and are JSON already.
_ENVOY_OWN_ERROR = 'response.code >= 400 && !response.code_details.startsWith("triage_")'
_ANTHROPIC_PATH = 'request.path.contains("/v1/messages")'


def _cel(expression: str) -> dict[str, Any]:
    return {
        "extension_filter": {
            "name": "envoy.access_loggers.extension_filters.cel",
            "typed_config": {
                "@type": _T + "envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
                "expression": expression,
            },
        }
    }


def _local_replies() -> dict[str, Any]:
    """Every error reply Envoy makes itself as JSON in the client's API style: Anthropic's
    ``{"type": "error", "error": {...}}`` on ``/v1/messages``, OpenAI's ``{"error": {...}}`` everywhere else.

    Triage's own replies are left alone: they are JSON already and their response code details start with
    ``triage_``. The message is Envoy's own text; the code is the kind of failure (or Envoy's details).
    """
    mappers = []
    for anthropic in (True, False):
        for condition, error_type, code in _LOCAL_REPLY_KINDS:
            code_text = code if code is not None else "%RESPONSE_CODE_DETAILS%"
            if anthropic:
                body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": "%LOCAL_REPLY_BODY%"}}
            else:
                body = {
                    "error": {"message": "%LOCAL_REPLY_BODY%", "type": error_type, "param": None, "code": code_text}
                }
            expression = f"{_ENVOY_OWN_ERROR} && ({condition})"
            if anthropic:
                expression += f" && {_ANTHROPIC_PATH}"
            mappers.append(
                {
                    "filter": _cel(expression),
                    "body_format_override": {"json_format": body, "content_type": "application/json"},
                }
            )
    return {"mappers": mappers}


def _tracing(cfg: TriageConfig) -> dict[str, Any] | None:
    tracing = cfg.envoy.tracing
    if tracing is None:
        return None
    return {
        "random_sampling": {"value": 100},
        "spawn_upstream_span": True,
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": _T + "envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": OTEL_CLUSTER}, "timeout": "1s"},
                "service_name": tracing.service_name,
            },
        },
    }


def build_bootstrap(cfg: TriageConfig) -> dict[str, Any]:
    """The Envoy bootstrap for ``cfg`` as a plain dict (serialise with YAML or JSON)."""
    envoy = cfg.envoy
    http_filters = [_header_removal(TRIAGE_HEADERS + ENVOY_CONTROL_HEADERS)]
    jwt = _jwt_filter(cfg)
    if jwt is not None:
        http_filters.append(jwt)
    http_filters += _feedback_filters(cfg)
    http_filters.append(_extproc_filter(cfg))
    router: dict[str, Any] = {}
    if envoy.attempt_log is not None:
        router["upstream_log"] = [_attempt_log(envoy.attempt_log)]
    http_filters.append(
        _filter("envoy.filters.http.router", "envoy.extensions.filters.http.router.v3.Router", **router)
    )
    hcm: dict[str, Any] = {
        "@type": _T + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "triage",
        "generate_request_id": True,
        # A client's own x-request-id is kept for correlation but never decides whether the request is traced.
        "request_id_extension": {
            "typed_config": {
                "@type": _T + "envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig",
                "use_request_id_for_trace_sampling": False,
            }
        },
        "stream_idle_timeout": "600s",
        "request_timeout": "0s",
        "access_log": [_access_log(envoy.access_log)],
        "local_reply_config": _local_replies(),
        "route_config": {
            "name": "triage_routes",
            "virtual_hosts": [
                {
                    "name": "llm",
                    "domains": ["*"],
                    "include_request_attempt_count": True,
                    "include_attempt_count_in_response": True,
                    # The decision, for the client: from the metadata Triage set (absent when it did not decide).
                    "response_headers_to_add": [
                        {
                            "header": {"key": name, "value": _md(field)},
                            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                        }
                        for name, field in ((HEADER_DECISION_ID, "decision_id"), (HEADER_ROUTE, "route"))
                    ],
                    "routes": _routes(cfg),
                }
            ],
        },
        "http_filters": http_filters,
    }
    clusters = [_provider_cluster(cfg, name, c) for name, c in cfg.clusters.items()]
    clusters.append(_extproc_cluster(cfg))
    if cfg.feedback.enabled:
        clusters.append(_api_cluster(cfg))
    tracing = _tracing(cfg)
    if tracing is not None:
        assert envoy.tracing is not None
        hcm["tracing"] = tracing
        clusters.append(_grpc_cluster(OTEL_CLUSTER, envoy.tracing.collector))
    return {
        "node": {"id": envoy.node_id, "cluster": "triage"},  # SDS (credential files) needs a node
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


def _dump(doc: Any) -> str:
    """YAML text with every string quoted (Envoy's YAML 1.1 reads a bare ``n`` or ``on`` as a boolean)."""
    import yaml  # noqa: PLC0415

    class _Quoted(yaml.SafeDumper):
        def represent_dict(self, data: Any) -> yaml.MappingNode:
            # Keys are Envoy's own field names: plain. Values are quoted by the str representer below.
            items = [
                (self.represent_scalar("tag:yaml.org,2002:str", str(k)), self.represent_data(v))
                for k, v in data.items()
            ]
            return yaml.MappingNode("tag:yaml.org,2002:map", items)

    _Quoted.add_representer(dict, _Quoted.represent_dict)
    _Quoted.add_representer(
        str, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|" if "\n" in v else '"')
    )
    return yaml.dump(doc, Dumper=_Quoted, sort_keys=False, width=120, allow_unicode=True)


def render_bootstrap(cfg: TriageConfig) -> str:
    """The bootstrap as YAML text, with a header saying where it came from."""
    header = "# Generated by `triage envoy-config` from Triage's configuration. Do not edit: regenerate.\n"
    return header + _dump(build_bootstrap(cfg))


def build_snippet(cfg: TriageConfig) -> dict[str, Any]:
    """The parts an existing Envoy needs to run Triage, cut from the same bootstrap: the HTTP filters in order
    (the router last), the route table, the local replies, and the Triage and provider clusters."""
    boot = build_bootstrap(cfg)
    hcm = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return {
        "http_filters": hcm["http_filters"],
        "route_config": hcm["route_config"],
        "local_reply_config": hcm["local_reply_config"],
        "clusters": boot["static_resources"]["clusters"],
    }


def render_snippet(cfg: TriageConfig) -> str:
    """``build_snippet`` as YAML text (``triage envoy-config --snippet``)."""
    header = (
        "# Generated by `triage envoy-config --snippet`: the pieces of the bootstrap an existing Envoy needs.\n"
        "# Put http_filters in your HTTP connection manager (in this order, the router last), merge the routes\n"
        "# and local replies, and add the clusters.\n"
    )
    return header + _dump(build_snippet(cfg))
