"""The Envoy bootstrap generated from the configuration: its structure, and Envoy's own validation of it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.helpers import envoy_binary, envoy_validate
from triage.config import TriageConfig, default_config_text, load_config, parse_config
from triage.contract import CHAIN_NAMESPACE as CHAIN_OVERRIDE_NAMESPACE
from triage.envoy.bootstrap import (
    API_CLUSTER,
    EXTPROC_CLUSTER,
    FEEDBACK_METHOD_ROUTE,
    FEEDBACK_ROUTE,
    OTEL_CLUSTER,
    build_bootstrap,
    build_snippet,
    render_bootstrap,
    render_snippet,
)

_PRIORITY_GROUP = "envoy.router.cluster_specifier_plugin.priority_group"
_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def _full_config() -> TriageConfig:
    """The default configuration plus every optional feature the generator knows."""
    data = yaml.safe_load(default_config_text())
    data["clusters"]["openai"] = {"address": "api.openai.com:443", "tls": True, "provider": "openai"}
    data["clusters"]["grpc-model"] = {"address": "10.0.0.7:9000", "protocol": "http2", "provider": "vllm"}
    data["clusters"]["ipv6"] = {"address": "[::1]:18009"}
    data["routes"]["cloud"] = {
        "chain": [
            {"cluster": "openai", "model": "gpt-4o"},
            {"cluster": "grpc-model", "model": "llama-70b"},
            {"cluster": "ipv6", "model": "tiny"},
        ]
    }
    data["tiers"]["pro"]["routes"].append("cloud")
    data["envoy"]["extproc"] = "unix:/tmp/triage-test/extproc.sock"
    data["envoy"]["tracing"] = {"collector": "127.0.0.1:4317", "service_name": "edge"}
    jwks = {"keys": [{"kty": "oct", "alg": "HS256", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}]}
    data["envoy"]["jwt"] = {"issuer": "https://issuer.example.com", "jwks_inline": json.dumps(jwks), "required": True}
    return parse_config(data)


def _hcm(boot: dict[str, Any]) -> dict[str, Any]:
    listeners = boot["static_resources"]["listeners"]
    assert len(listeners) == 1
    filters = listeners[0]["filter_chains"][0]["filters"]
    assert filters[0]["name"] == "envoy.filters.network.http_connection_manager"
    hcm: dict[str, Any] = filters[0]["typed_config"]
    return hcm


def _routes(boot: dict[str, Any]) -> list[dict[str, Any]]:
    """The routes to providers (Envoy answers ``/v1/models`` itself; the feedback routes go to Triage)."""
    hosts = _hcm(boot)["route_config"]["virtual_hosts"]
    assert len(hosts) == 1
    own = {"triage_models", FEEDBACK_ROUTE, FEEDBACK_METHOD_ROUTE}
    routes: list[dict[str, Any]] = [r for r in hosts[0]["routes"] if r["name"] not in own]
    return routes


def _filter_names(boot: dict[str, Any]) -> list[str]:
    return [f["name"] for f in _hcm(boot)["http_filters"]]


def _filter(boot: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [f["typed_config"] for f in _hcm(boot)["http_filters"] if f["name"] == name]
    assert len(found) == 1, name
    return found[0]


def _clusters(boot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in boot["static_resources"]["clusters"]}


def _priority_clusters(route: dict[str, Any]) -> list[str]:
    plugin = route["route"]["inline_cluster_specifier_plugin"]["extension"]
    assert plugin["name"] == _PRIORITY_GROUP
    groups = plugin["typed_config"]["priority_groups"]
    assert all(len(g["clusters"]) == 1 for g in groups)
    return [g["clusters"][0]["cluster_name"] for g in groups]


CONFIGS = {"default": load_config, "full": _full_config}


@pytest.fixture(params=sorted(CONFIGS))
def config(request: pytest.FixtureRequest) -> TriageConfig:
    return CONFIGS[request.param]()


def test_build_bootstrap_has_a_route_per_config_route(config: TriageConfig) -> None:
    routes = _routes(build_bootstrap(config))
    by_header = {}
    for route in routes[:-1]:
        # Matched on Triage's dynamic metadata, never on a header a client could forge.
        assert "headers" not in route["match"]
        (matcher,) = route["match"]["dynamic_metadata"]
        assert matcher["filter"] == "triage"
        assert matcher["path"] == [{"key": "route"}]
        assert route["match"]["prefix"] == "/"
        by_header[matcher["value"]["string_match"]["exact"]] = route
    assert set(by_header) == set(config.routes)
    for name, route_config in config.routes.items():
        assert _priority_clusters(by_header[name]) == [step.cluster for step in route_config.chain]


def test_build_bootstrap_routes_use_priority_groups_with_override_namespace(config: TriageConfig) -> None:
    for route in _routes(build_bootstrap(config)):
        action = route["route"]
        plugin = action["inline_cluster_specifier_plugin"]["extension"]["typed_config"]
        assert plugin["override_metadata_namespace"] == CHAIN_OVERRIDE_NAMESPACE
        assert action["retry_policy"]["refresh_cluster_on_retry"] is True
        assert action["retry_policy"]["num_retries"] >= len(plugin["priority_groups"]) - 1
        assert "cluster" not in action


def test_build_bootstrap_ends_with_a_catch_all_default_route(config: TriageConfig) -> None:
    last = _routes(build_bootstrap(config))[-1]
    assert last["match"] == {"prefix": "/"}
    default_chain = config.routes[config.default_route].chain
    assert _priority_clusters(last) == [step.cluster for step in default_chain]


def test_build_bootstrap_filter_order(config: TriageConfig) -> None:
    names = _filter_names(build_bootstrap(config))
    assert names[0] == "envoy.filters.http.header_mutation"
    assert names.index("envoy.filters.http.header_mutation") < names.index("envoy.filters.http.ext_proc")
    assert names[-1] == "envoy.filters.http.router"
    if config.envoy.jwt is not None:
        assert names.index("envoy.filters.http.header_mutation") < names.index("envoy.filters.http.jwt_authn")
        assert names.index("envoy.filters.http.jwt_authn") < names.index("envoy.filters.http.ext_proc")
    else:
        assert "envoy.filters.http.jwt_authn" not in names


def test_build_bootstrap_strips_client_triage_headers() -> None:
    mutation = _filter(build_bootstrap(load_config()), "envoy.filters.http.header_mutation")
    removed = {m["remove"] for m in mutation["mutations"]["request_mutations"]}
    assert {"x-triage-route", "x-triage-tier", "x-triage-decision-id"} <= removed


def test_build_bootstrap_strips_client_timeout_header() -> None:
    mutation = _filter(build_bootstrap(load_config()), "envoy.filters.http.header_mutation")
    assert {"remove": "x-envoy-upstream-rq-timeout-ms"} in mutation["mutations"]["request_mutations"]


def test_build_bootstrap_ext_proc_filter(config: TriageConfig) -> None:
    ext_proc = _filter(build_bootstrap(config), "envoy.filters.http.ext_proc")
    mode = ext_proc["processing_mode"]
    assert mode["request_header_mode"] == "SEND"
    assert mode["request_body_mode"] == "BUFFERED"
    assert mode["response_header_mode"] == "SKIP"  # attributes come with the first body chunk
    assert mode["response_body_mode"] == "STREAMED"
    assert ext_proc["mutation_rules"] == {"allow_envoy": True}
    assert ext_proc["allow_mode_override"] is True
    assert ext_proc["grpc_service"]["envoy_grpc"]["cluster_name"] == EXTPROC_CLUSTER
    assert ext_proc["failure_mode_allow"] is config.envoy.failure_mode_allow
    assert "xds.cluster_name" in ext_proc["response_attributes"]
    namespaces = ext_proc["metadata_options"]
    assert config.tier_source.metadata is not None
    assert config.tier_source.metadata.namespace in namespaces["forwarding_namespaces"]["untyped"]
    assert {"triage", CHAIN_OVERRIDE_NAMESPACE} <= set(namespaces["receiving_namespaces"]["untyped"])


def test_build_bootstrap_clusters(config: TriageConfig) -> None:
    clusters = _clusters(build_bootstrap(config))
    expected = set(config.clusters) | {EXTPROC_CLUSTER, API_CLUSTER}
    if config.envoy.tracing is not None:
        expected.add(OTEL_CLUSTER)
    assert set(clusters) == expected
    assert len(clusters) == len(build_bootstrap(config)["static_resources"]["clusters"])
    extproc = clusters[EXTPROC_CLUSTER]
    assert (
        "http2_protocol_options" in extproc["typed_extension_protocol_options"][_HTTP_OPTIONS]["explicit_http_config"]
    )
    for name, cluster_config in config.clusters.items():
        cluster = clusters[name]
        (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        address = endpoint["endpoint"]["address"]["socket_address"]
        assert (address["address"], address["port_value"]) == (cluster_config.host, cluster_config.port)
        http = cluster["typed_extension_protocol_options"][_HTTP_OPTIONS]["explicit_http_config"]
        wanted = "http2_protocol_options" if cluster_config.protocol == "http2" else "http_protocol_options"
        assert set(http) == {wanted}
        assert ("transport_socket" in cluster) is cluster_config.tls


def test_build_bootstrap_dns_and_tls_cluster() -> None:
    cluster = _clusters(build_bootstrap(_full_config()))["openai"]
    assert cluster["type"] == "STRICT_DNS"
    tls = cluster["transport_socket"]
    assert tls["name"] == "envoy.transport_sockets.tls"
    assert tls["typed_config"]["sni"] == "api.openai.com"


@pytest.mark.parametrize(("name", "kind"), [("small", "STATIC"), ("ipv6", "STATIC"), ("grpc-model", "STATIC")])
def test_build_bootstrap_ip_clusters_are_static(name: str, kind: str) -> None:
    cluster = _clusters(build_bootstrap(_full_config()))[name]
    assert cluster["type"] == kind
    assert "transport_socket" not in cluster


def test_build_bootstrap_unix_socket_extproc() -> None:
    extproc = _clusters(build_bootstrap(_full_config()))[EXTPROC_CLUSTER]
    (endpoint,) = extproc["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert endpoint["endpoint"]["address"] == {"pipe": {"path": "/tmp/triage-test/extproc.sock"}}


def test_build_bootstrap_tcp_extproc() -> None:
    extproc = _clusters(build_bootstrap(load_config()))[EXTPROC_CLUSTER]
    (endpoint,) = extproc["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert endpoint["endpoint"]["address"] == {"socket_address": {"address": "127.0.0.1", "port_value": 50051}}


def test_build_bootstrap_tracing_only_when_configured() -> None:
    default = build_bootstrap(load_config())
    assert "tracing" not in _hcm(default)
    assert OTEL_CLUSTER not in _clusters(default)
    full = build_bootstrap(_full_config())
    tracing = _hcm(full)["tracing"]
    assert tracing["provider"]["name"] == "envoy.tracers.opentelemetry"
    assert tracing["provider"]["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"] == OTEL_CLUSTER
    assert tracing["provider"]["typed_config"]["service_name"] == "edge"
    assert OTEL_CLUSTER in _clusters(full)


def test_build_bootstrap_jwt_inline_keys_in_metadata() -> None:
    config = _full_config()
    jwt = _filter(build_bootstrap(config), "envoy.filters.http.jwt_authn")
    provider = next(iter(jwt["providers"].values()))
    assert config.envoy.jwt is not None
    assert provider["local_jwks"] == {"inline_string": config.envoy.jwt.jwks_inline}
    assert provider["issuer"] == "https://issuer.example.com"
    assert config.tier_source.metadata is not None
    assert provider["payload_in_metadata"] == config.tier_source.metadata.path[0]
    assert "requires_any" not in jwt["rules"][0]["requires"]


def test_build_bootstrap_jwt_optional_lets_missing_and_failed_tokens_through_by_default() -> None:
    jwt = _filter(build_bootstrap(load_config()), "envoy.filters.http.jwt_authn")
    requirements = jwt["rules"][0]["requires"]["requires_any"]["requirements"]
    assert {"allow_missing_or_failed": {}} in requirements
    assert {"provider_name": "triage_jwt"} in requirements  # a verified token still puts its claims in metadata


def test_build_bootstrap_jwt_can_reject_failed_tokens() -> None:
    data = yaml.safe_load(default_config_text())
    data["envoy"]["jwt"]["invalid_token"] = "reject"
    jwt = _filter(build_bootstrap(parse_config(data, "t")), "envoy.filters.http.jwt_authn")
    requirements = jwt["rules"][0]["requires"]["requires_any"]["requirements"]
    assert {"allow_missing": {}} in requirements
    assert {"allow_missing_or_failed": {}} not in requirements


def test_render_bootstrap_is_yaml_of_build_bootstrap() -> None:
    config = load_config()
    text = render_bootstrap(config)
    assert text.startswith("#")
    assert yaml.safe_load(text) == json.loads(json.dumps(build_bootstrap(config)))


# -- Envoy's own validation -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_envoy_validates_the_rendered_bootstrap(name: str, tmp_path: Path) -> None:
    if envoy_binary() is None:
        pytest.skip("the envoy binary is not installed")
    path = tmp_path / "envoy.yaml"
    path.write_text(render_bootstrap(CONFIGS[name]()), encoding="utf-8")
    result = envoy_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr


def test_build_bootstrap_does_not_mutate_the_config() -> None:
    config = _full_config()
    before = copy.deepcopy(config.model_dump())
    build_bootstrap(config)
    assert config.model_dump() == before


def test_render_bootstrap_shipped_example_is_up_to_date() -> None:
    shipped = Path(__file__).parents[3] / "deploy" / "envoy-local.yaml"
    assert shipped.read_text() == render_bootstrap(load_config()), "regenerate: triage envoy-config -o " + str(shipped)


def test_render_bootstrap_quotes_values_envoy_would_read_as_booleans() -> None:
    data = yaml.safe_load(default_config_text())
    data["routes"]["n"] = data["routes"].pop("premium")
    for tier in data["tiers"].values():
        tier["routes"] = ["n" if r == "premium" else r for r in tier["routes"]]
    data["policy"]["ladder"][-1]["route"] = "n"
    text = render_bootstrap(parse_config(data))
    assert '"n"' in text
    assert yaml.safe_load(text) == build_bootstrap(parse_config(data))


def test_build_bootstrap_formats_every_envoy_error_as_json_but_leaves_triages_own_replies_alone() -> None:
    hcm = build_bootstrap(load_config())["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    mappers = hcm["typed_config"]["local_reply_config"]["mappers"]
    expressions = [m["filter"]["extension_filter"]["typed_config"]["expression"] for m in mappers]
    assert all('!response.code_details.startsWith("triage_")' in e for e in expressions)
    anthropic = [m for m, e in zip(mappers, expressions, strict=True) if "/v1/messages" in e]
    assert anthropic
    assert all(m["body_format_override"]["json_format"]["type"] == "error" for m in anthropic)
    assert expressions[-1].endswith("(true)")  # the last one catches every other Envoy error
    assert all(m["body_format_override"]["content_type"] == "application/json" for m in mappers)


def test_build_bootstrap_answers_models_itself_with_auto_and_the_routes() -> None:
    config = load_config()
    (models,) = [
        r
        for r in _hcm(build_bootstrap(config))["route_config"]["virtual_hosts"][0]["routes"]
        if r["name"] == "triage_models"
    ]
    assert models["match"]["path"] == "/v1/models"
    listed = json.loads(models["direct_response"]["body"]["inline_string"])
    assert [m["id"] for m in listed["data"]] == ["auto", *config.routes]


def test_envoy_md_snippet_is_what_the_generator_emits() -> None:
    text = (Path(__file__).resolve().parents[3] / "deploy" / "ENVOY.md").read_text(encoding="utf-8")
    block = text.split("<!-- generated: triage envoy-config --snippet")[1].split("<!-- end generated -->")[0]
    documented = yaml.safe_load(block.split("```yaml\n", 1)[1].rsplit("```", 1)[0])
    names = {"envoy.filters.http.header_mutation", "envoy.filters.http.ext_proc"}
    generated = [f for f in build_snippet(load_config())["http_filters"] if f["name"] in names]
    assert documented == json.loads(json.dumps({"http_filters": generated}))


def test_render_snippet_has_the_filters_routes_and_clusters_of_the_bootstrap() -> None:
    config = load_config()
    snippet = yaml.safe_load(render_snippet(config))
    boot = build_bootstrap(config)
    assert snippet["clusters"] == json.loads(json.dumps(boot["static_resources"]["clusters"]))
    assert snippet["http_filters"][-1]["name"] == "envoy.filters.http.router"
    assert {r["name"] for r in snippet["route_config"]["virtual_hosts"][0]["routes"]} >= {
        "triage_models",
        "triage_default",
    }


def test_build_bootstrap_grpc_clusters_by_dns_name_resolve_it() -> None:
    data = load_config().model_dump(mode="json", exclude_none=True)
    data["envoy"]["extproc"] = "triage.llm.svc.cluster.local:50051"
    data["envoy"]["tracing"] = {"collector": "jaeger:4317"}
    clusters = _clusters(build_bootstrap(parse_config(data, "dns")))
    for name, host in ((EXTPROC_CLUSTER, "triage.llm.svc.cluster.local"), (OTEL_CLUSTER, "jaeger")):
        assert clusters[name]["type"] == "STRICT_DNS"
        (endpoint,) = clusters[name]["load_assignment"]["endpoints"][0]["lb_endpoints"]
        assert endpoint["endpoint"]["address"]["socket_address"]["address"] == host
    assert _clusters(build_bootstrap(load_config()))[EXTPROC_CLUSTER]["type"] == "STATIC"
