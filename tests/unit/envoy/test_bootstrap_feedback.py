"""The feedback API in the generated bootstrap: the transcoder, the feedback route to Triage without ext_proc, the
principal from the verified claim only, errors as JSON; checked by the real Envoy."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from tests.unit.helpers import deep_merge, envoy_binary, envoy_validate
from triage.config import TriageConfig, default_config_text, load_config, parse_config
from triage.envoy.bootstrap import (
    API_CLUSTER,
    EXTPROC_CLUSTER,
    FEEDBACK_ERRORS_FILTER,
    FEEDBACK_METHOD_ROUTE,
    FEEDBACK_ROUTE,
    TRANSCODER_FILTER,
    build_bootstrap,
    build_snippet,
    render_bootstrap,
    render_snippet,
)
from triage.feedback.contract import HTTP_ERRORS, PRINCIPAL_HEADER, SERVICE

EXT_PROC = "envoy.filters.http.ext_proc"
JWT = "envoy.filters.http.jwt_authn"


def _config(**overrides: Any) -> TriageConfig:
    return parse_config(deep_merge(yaml.safe_load(default_config_text()), overrides), "test")


def _hcm(boot: dict[str, Any]) -> dict[str, Any]:
    hcm: dict[str, Any] = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm


def _filters(boot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in _hcm(boot)["http_filters"]}


def _route(boot: dict[str, Any], name: str) -> dict[str, Any]:
    (route,) = [r for r in _hcm(boot)["route_config"]["virtual_hosts"][0]["routes"] if r["name"] == name]
    return route


def _clusters(boot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in boot["static_resources"]["clusters"]}


def _http_rule(transcoder: dict[str, Any]) -> tuple[str, str]:
    files = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(transcoder["proto_descriptor_bin"])).file
    rule = files[-1].service[0].method[0].options.Extensions[annotations_pb2.http]
    return rule.post, rule.body


def test_bootstrap_feedback_filters_sit_after_jwt_and_before_ext_proc() -> None:
    names = [f["name"] for f in _hcm(build_bootstrap(load_config()))["http_filters"]]
    assert (
        names.index(JWT) < names.index(FEEDBACK_ERRORS_FILTER) < names.index(TRANSCODER_FILTER) < names.index(EXT_PROC)
    )


def test_bootstrap_feedback_transcoder() -> None:
    config = load_config()
    transcoder = _filters(build_bootstrap(config))[TRANSCODER_FILTER]["typed_config"]
    assert transcoder["services"] == [SERVICE]
    assert transcoder["match_incoming_request_route"] is True  # the feedback route applies, not the gRPC path's
    assert transcoder["max_request_body_size"] == config.feedback.max_event_bytes
    assert transcoder["print_options"]["preserve_proto_field_names"] is True
    assert _http_rule(transcoder) == (config.feedback.http_path, "*")


def test_bootstrap_feedback_error_mapper_is_off_except_on_the_feedback_route() -> None:
    boot = build_bootstrap(load_config())
    assert _filters(boot)[FEEDBACK_ERRORS_FILTER]["disabled"] is True
    per_route = _route(boot, FEEDBACK_ROUTE)["typed_per_filter_config"][FEEDBACK_ERRORS_FILTER]
    lua = per_route["config"]["source_code"]["inline_string"]
    table = dict(re.findall(r'\[(\d+)\] = \{(\d+), "', lua))
    assert {int(k): int(v) for k, v in table.items()} == {k: v[0] for k, v in HTTP_ERRORS.items()}
    assert "envoy_on_response" in lua


def test_bootstrap_feedback_statuses_map_as_clients_expect() -> None:
    http = {grpc: status for grpc, (status, _) in HTTP_ERRORS.items()}
    # INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, UNAUTHENTICATED
    assert (http[3], http[5], http[6], http[8], http[9], http[16]) == (400, 404, 409, 413, 400, 401)


def test_bootstrap_feedback_route_goes_to_triage_without_ext_proc() -> None:
    boot = build_bootstrap(load_config())
    route = _route(boot, FEEDBACK_ROUTE)
    assert route["match"]["path"] == "/v1/feedback"
    assert route["match"]["headers"] == [{"name": ":method", "string_match": {"exact": "POST"}}]
    assert route["route"]["cluster"] == API_CLUSTER
    assert route["typed_per_filter_config"][EXT_PROC]["disabled"] is True
    routes = [r["name"] for r in _hcm(boot)["route_config"]["virtual_hosts"][0]["routes"]]
    assert routes.index(FEEDBACK_ROUTE) < routes.index("triage_default")


def test_bootstrap_feedback_principal_comes_only_from_the_verified_claim() -> None:
    config = load_config()
    route = _route(build_bootstrap(config), FEEDBACK_ROUTE)
    # Envoy removes before it adds: a client's copy never survives, and without a verified claim there is none.
    assert route["request_headers_to_remove"] == [PRINCIPAL_HEADER]
    (add,) = route["request_headers_to_add"]
    assert add["header"] == {
        "key": PRINCIPAL_HEADER,
        "value": "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:sub)%",
    }
    assert add["append_action"] == "OVERWRITE_IF_EXISTS_OR_ADD"


def test_bootstrap_feedback_other_methods_get_405() -> None:
    route = _route(build_bootstrap(load_config()), FEEDBACK_METHOD_ROUTE)
    assert route["match"] == {"path": "/v1/feedback"}
    assert route["direct_response"]["status"] == 405
    assert route["typed_per_filter_config"][EXT_PROC]["disabled"] is True


def test_bootstrap_feedback_api_cluster_has_the_extproc_endpoints() -> None:
    clusters = _clusters(build_bootstrap(load_config()))
    api, extproc = clusters[API_CLUSTER], clusters[EXTPROC_CLUSTER]
    assert api["load_assignment"]["endpoints"] == extproc["load_assignment"]["endpoints"]
    assert api["typed_extension_protocol_options"] == extproc["typed_extension_protocol_options"]


def test_bootstrap_feedback_api_cluster_health_checks_each_worker_for_the_feedback_service() -> None:
    clusters = _clusters(build_bootstrap(_config(server={"workers": 3})))
    (check,) = clusters[API_CLUSTER]["health_checks"]
    assert check["grpc_health_check"] == {"service_name": SERVICE}
    assert len(clusters[API_CLUSTER]["load_assignment"]["endpoints"][0]["lb_endpoints"]) == 3


def test_bootstrap_feedback_custom_path() -> None:
    boot = build_bootstrap(_config(feedback={"http_path": "/api/feedback"}))
    assert _route(boot, FEEDBACK_ROUTE)["match"]["path"] == "/api/feedback"
    assert _http_rule(_filters(boot)[TRANSCODER_FILTER]["typed_config"]) == ("/api/feedback", "*")


def test_bootstrap_feedback_custom_principal_claim() -> None:
    principal = {"namespace": "envoy.filters.http.jwt_authn", "path": ["jwt_payload", "email"]}
    route = _route(build_bootstrap(_config(feedback={"principal": principal})), FEEDBACK_ROUTE)
    assert route["request_headers_to_add"][0]["header"]["value"] == (
        "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:email)%"
    )


def test_bootstrap_feedback_required_principal_makes_envoy_require_a_token_there() -> None:
    jwt = _filters(build_bootstrap(_config(feedback={"require_principal": True})))[JWT]["typed_config"]
    first, rest = jwt["rules"][0], jwt["rules"][1]
    assert first == {"match": {"path": "/v1/feedback"}, "requires": {"provider_name": "triage_jwt"}}
    assert rest["match"] == {"prefix": "/"}
    assert "requires_any" in rest["requires"]
    plain = _filters(build_bootstrap(load_config()))[JWT]["typed_config"]
    assert [r["match"] for r in plain["rules"]] == [{"prefix": "/"}]


def test_bootstrap_feedback_disabled_adds_nothing() -> None:
    boot = build_bootstrap(_config(feedback={"enabled": False}))
    assert {TRANSCODER_FILTER, FEEDBACK_ERRORS_FILTER}.isdisjoint(_filters(boot))
    routes = {r["name"] for r in _hcm(boot)["route_config"]["virtual_hosts"][0]["routes"]}
    assert {FEEDBACK_ROUTE, FEEDBACK_METHOD_ROUTE}.isdisjoint(routes)
    assert API_CLUSTER not in _clusters(boot)


def test_bootstrap_feedback_forwards_the_principal_namespace_to_ext_proc_for_implicit_signals() -> None:
    principal = {"namespace": "example.auth", "path": ["user"]}
    ext_proc = _filters(build_bootstrap(_config(feedback={"principal": principal})))[EXT_PROC]["typed_config"]
    forwarded = ext_proc["metadata_options"]["forwarding_namespaces"]["untyped"]
    assert forwarded == ["envoy.filters.http.jwt_authn", "example.auth"]
    default = _filters(build_bootstrap(load_config()))[EXT_PROC]["typed_config"]
    assert default["metadata_options"]["forwarding_namespaces"]["untyped"] == ["envoy.filters.http.jwt_authn"]


def test_snippet_has_the_feedback_pieces() -> None:
    snippet = build_snippet(load_config())
    assert {TRANSCODER_FILTER, FEEDBACK_ERRORS_FILTER} <= {f["name"] for f in snippet["http_filters"]}
    assert FEEDBACK_ROUTE in {r["name"] for r in snippet["route_config"]["virtual_hosts"][0]["routes"]}
    assert API_CLUSTER in {c["name"] for c in snippet["clusters"]}
    assert FEEDBACK_ROUTE in render_snippet(load_config())


def test_bootstrap_feedback_yaml_has_no_aliases() -> None:
    text = render_bootstrap(load_config())
    assert not re.search(r"[&*]id\d+", text)  # Envoy's YAML reader does not resolve aliases
    assert yaml.safe_load(text) == json.loads(json.dumps(build_bootstrap(load_config())))


VARIANTS = {
    "custom-path-and-claim": {
        "feedback": {
            "http_path": "/api/v2/feedback",
            "principal": {"namespace": "envoy.filters.http.jwt_authn", "path": ["jwt_payload", "email"]},
        }
    },
    "required-principal": {"feedback": {"require_principal": True}},
    "workers": {"server": {"workers": 2}},
    "disabled": {"feedback": {"enabled": False}},
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_envoy_validates_the_feedback_variants(name: str, tmp_path: Path) -> None:
    if envoy_binary() is None:
        pytest.skip("the envoy binary is not installed")
    path = tmp_path / "envoy.yaml"
    path.write_text(render_bootstrap(_config(**VARIANTS[name])), encoding="utf-8")
    result = envoy_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
