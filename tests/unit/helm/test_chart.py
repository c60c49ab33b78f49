"""The Helm chart, rendered with the real Helm engine for each mode's ci values: lint, golden files, Kubernetes schemas,
the embedded configuration, and the Envoy side checked by the real Envoy and against the generator."""

from __future__ import annotations

import copy
import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.helm.chart import (
    CHART,
    GOLDEN,
    K8S_VERSION,
    MODES,
    NAMESPACE,
    RELEASE,
    ci_values,
    container,
    find,
    golden_text,
    helm,
    manifests,
    render,
    render_mode,
    triage_yaml,
)
from tests.unit.helpers import envoy_binary, envoy_validate
from triage.cli import main as triage_main
from triage.config import parse_config
from triage.contract import TRIAGE_HEADERS
from triage.envoy.bootstrap import EXTPROC_CLUSTER, build_snippet
from triage.envoy.mesh import STRIP_REQUEST_HEADERS, render_chart_parts

kubernetes_validate = pytest.importorskip("kubernetes_validate")

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
# Kinds kubernetes-validate has no schema for: their apiVersion, kind and key fields are checked by the tests below.
CRD_KINDS = {
    "EnvoyFilter": "networking.istio.io/v1alpha3",
    "VirtualService": "networking.istio.io/v1",
    "DestinationRule": "networking.istio.io/v1",
    "ServiceEntry": "networking.istio.io/v1",
    "HTTPRoute": "gateway.networking.k8s.io/v1",
    "HTTPRouteFilter": "gateway.envoyproxy.io/v1alpha1",
    "EnvoyExtensionPolicy": "gateway.envoyproxy.io/v1alpha1",
    "BackendTrafficPolicy": "gateway.envoyproxy.io/v1alpha1",
    "ClientTrafficPolicy": "gateway.envoyproxy.io/v1alpha1",
    "Backend": "gateway.envoyproxy.io/v1alpha1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
}
# What each mode renders from its ci values (core kinds are schema-checked, the rest are CRDs).
EXPECTED_KINDS = {
    "standalone": {
        "ConfigMap": 2,  # triage.yaml and the SDS documents
        "Deployment": 1,
        "HorizontalPodAutoscaler": 1,
        "NetworkPolicy": 1,
        "PodDisruptionBudget": 1,
        "Service": 2,  # Envoy's listener, metrics
        "ServiceAccount": 1,
        "ServiceMonitor": 1,
    },
    "istio": {
        "ConfigMap": 1,
        "Deployment": 1,
        "HorizontalPodAutoscaler": 1,
        "NetworkPolicy": 1,
        "PodDisruptionBudget": 1,
        "Service": 2,  # Triage's gRPC, metrics
        "ServiceAccount": 1,
        "ServiceMonitor": 1,
        "Secret": 1,  # the feedback id key, from feedback.idKey.value
        "EnvoyFilter": 1,
        "VirtualService": 1,
        "DestinationRule": 4,  # one per cluster
        "ServiceEntry": 1,  # api.openai.com; the in-cluster Services are in Istio's registry already
    },
    "envoy-gateway": {
        "ConfigMap": 1,
        "Deployment": 1,
        "HorizontalPodAutoscaler": 1,
        "NetworkPolicy": 1,
        "PodDisruptionBudget": 1,
        "Service": 2,
        "ServiceAccount": 1,
        "HTTPRoute": 1,
        "HTTPRouteFilter": 2,  # host rewrite, openai's credential
        "Backend": 5,  # four primaries, small-b as a fallback
        "BackendTrafficPolicy": 5,  # one per rule (four routes and the default)
        "EnvoyExtensionPolicy": 1,
        "ClientTrafficPolicy": 1,
    },
}


def _docs(mode: str) -> list[dict[str, Any]]:
    return manifests(render_mode(mode))


def _generated_bootstrap(mode: str, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """What the standalone init container writes: the generator run with the init container's own arguments on the
    rendered ConfigMap's triage.yaml of ``mode`` (the two pod paths mapped into tmp_path)."""
    docs = _docs(mode)
    pod = find(_docs("standalone"), "Deployment")["spec"]["template"]["spec"]
    init = container(pod["initContainers"], "envoy-config")
    args = list(init["args"])
    config_file, out_file = tmp_path / "triage.yaml", tmp_path / "envoy.yaml"
    config_file.write_text(triage_yaml(docs), encoding="utf-8")
    args[args.index("-c") + 1] = str(config_file)
    args[args.index("-o") + 1] = str(out_file)
    assert triage_main(args) == 0
    boot: dict[str, Any] = yaml.safe_load(out_file.read_text(encoding="utf-8"))
    return boot, out_file


def _http_filters(boot: dict[str, Any]) -> list[dict[str, Any]]:
    hcm = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    filters: list[dict[str, Any]] = hcm["http_filters"]
    return filters


# -- the engine's own checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_chart_helm_lint_strict_is_clean(mode: str) -> None:
    report = helm.lint(str(CHART), ci_values(mode), strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    # Severity 1 is INFO (only "icon is recommended"); 2 WARNING and 3 ERROR fail --strict.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_chart_values_schema_rejects_a_typo_and_an_unknown_mode() -> None:
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(ci_values("standalone"))
        with pytest.raises(helm.HelmValuesError, match="mode"):
            chart.validate_schema({"mode": "sidecar"})
        with pytest.raises(helm.HelmValuesError, match="replicas"):
            chart.validate_schema({"replicas": 3})


@pytest.mark.parametrize("mode", MODES)
def test_chart_render_matches_golden_file(mode: str) -> None:
    text = golden_text(render_mode(mode))
    path = GOLDEN / f"{mode}.yaml"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "rendered"))
    assert not diff, f"the chart renders differently (UPDATE_GOLDEN=1 regenerates the golden file):\n{diff}"


def test_chart_parts_file_is_what_the_generator_writes() -> None:
    path = CHART / "files" / "envoy-parts.json"
    if UPDATE:
        path.write_text(render_chart_parts(), encoding="utf-8")
    assert path.read_text(encoding="utf-8") == render_chart_parts(), "regenerate: python -m triage.envoy.mesh"


# -- Kubernetes schemas ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_chart_core_manifests_are_valid_kubernetes_objects(mode: str) -> None:
    docs = _docs(mode)
    counts: dict[str, int] = {}
    for doc in docs:
        counts[doc["kind"]] = counts.get(doc["kind"], 0) + 1
        if doc["kind"] in CRD_KINDS:
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            assert doc["apiVersion"] == CRD_KINDS[doc["kind"]], doc["kind"]
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
    assert counts == EXPECTED_KINDS[mode]


@pytest.mark.parametrize("mode", MODES)
def test_chart_config_map_holds_a_valid_triage_config(mode: str) -> None:
    cfg = parse_config(yaml.safe_load(triage_yaml(_docs(mode))), f"{mode} ConfigMap")
    assert cfg.telemetry.metrics_listen == "0.0.0.0:9464"
    if mode == "standalone":
        assert cfg.server.listen == ["unix:/var/run/triage/triage.sock", "0.0.0.0:50051"]
        assert cfg.envoy.extproc == "unix:/var/run/triage/triage.sock"
        assert cfg.envoy.health_poll_ms > 0  # Envoy's admin API is on the pod's loopback
    else:
        assert cfg.server.listen == ["0.0.0.0:50051"]
        assert cfg.envoy.health_poll_ms == 0  # a mesh gateway's admin API is out of Triage's reach


def test_chart_default_values_render_a_valid_config() -> None:
    docs = manifests(render({}))
    parse_config(yaml.safe_load(triage_yaml(docs)), "default values")


def test_chart_refuses_a_config_key_it_owns() -> None:
    values = ci_values("standalone")
    values["config"]["server"] = {"listen": ["127.0.0.1:50051"]}
    with pytest.raises(helm.HelmRenderError, match=r"config\.server\.listen is set by the chart"):
        render(values)


def test_chart_refuses_a_credential_without_a_secret() -> None:
    values = ci_values("standalone")
    values["credentials"] = {}
    with pytest.raises(helm.HelmRenderError, match=r"credentials\.openai"):
        render(values)


# -- the pod -------------------------------------------------------------------------------------------------------


def _pod(mode: str) -> dict[str, Any]:
    spec: dict[str, Any] = find(_docs(mode), "Deployment")["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("mode", MODES)
def test_chart_every_container_runs_restricted(mode: str) -> None:
    pod = _pod(mode)
    containers = pod.get("initContainers", []) + pod["containers"]
    assert {c["name"] for c in containers} == (
        {"envoy-config", "triage", "envoy"} if mode == "standalone" else {"triage"}
    )
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    for c in containers:
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True, c["name"]
        assert sc["runAsUser"] == 10001, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["capabilities"] == {"drop": ["ALL"]}, c["name"]
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, c["name"]
        assert c["resources"]["requests"], c["name"]
        assert c["resources"]["limits"], c["name"]


@pytest.mark.parametrize("mode", MODES)
def test_chart_triage_has_grpc_probes_and_a_directory_config_mount(mode: str) -> None:
    pod = _pod(mode)
    triage = container(pod.get("initContainers", []) + pod["containers"], "triage")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert triage[probe]["grpc"]["port"] == 50051, probe
    assert triage["readinessProbe"]["grpc"]["service"] == "envoy.service.ext_proc.v3.ExternalProcessor"
    if mode == "standalone":
        assert triage["restartPolicy"] == "Always"  # a native sidecar: Envoy starts after its startup probe
    mounts = [m for c in pod.get("initContainers", []) + pod["containers"] for m in c["volumeMounts"]]
    assert all("subPath" not in m for m in mounts)  # a subPath mount never sees a ConfigMap update
    assert {"name": "config", "mountPath": "/etc/triage", "readOnly": True} in triage["volumeMounts"]


def test_chart_standalone_secrets_reach_only_the_container_that_uses_them() -> None:
    """Provider keys reach only Envoy; the feedback id key only Triage."""
    pod = _pod("standalone")
    by_name = {c["name"]: c for c in pod["initContainers"] + pod["containers"]}
    secret_volumes = {v["name"] for v in pod["volumes"] if "secret" in v}
    assert secret_volumes == {"key-openai", "feedback-id-key"}
    for name, spec in by_name.items():
        mounted = {m["name"] for m in spec["volumeMounts"]} & secret_volumes
        assert mounted == {"envoy": {"key-openai"}, "triage": {"feedback-id-key"}}.get(name, set()), name


# -- standalone: the bootstrap the init container writes ------------------------------------------------------------


def test_chart_standalone_bootstrap_passes_envoy_validate(tmp_path: Path) -> None:
    if envoy_binary() is None:
        pytest.skip("the envoy binary is not installed")
    docs = _docs("standalone")
    boot, path = _generated_bootstrap("standalone", tmp_path)
    envoy = container(_pod("standalone")["containers"], "envoy")
    assert envoy["args"][:2] == ["-c", "/etc/envoy/envoy.yaml"]
    # The SDS documents the chart renders, where the Envoy container mounts them, pointing at the mounted Secret key.
    sds = find(docs, "ConfigMap", f"{RELEASE}-sds")["data"]
    mounts = {m["name"]: m["mountPath"] for m in envoy["volumeMounts"]}
    text = path.read_text(encoding="utf-8")
    for file, doc in sds.items():
        assert f'"{mounts["sds"]}/{file}"' in text  # the bootstrap's credential.secret_file
        key_path = yaml.safe_load(doc)["resources"][0]["generic_secret"]["secret"]["filename"]
        assert key_path.startswith(mounts["key-openai"] + "/")
        local_key = tmp_path / "keys" / Path(key_path).name
        local_key.parent.mkdir(exist_ok=True)
        local_key.write_text("Bearer sk-test", encoding="utf-8")
        (tmp_path / file).write_text(doc.replace(key_path, str(local_key)), encoding="utf-8")
        text = text.replace(f"{mounts['sds']}/{file}", str(tmp_path / file))
    path.write_text(text, encoding="utf-8")
    assert _http_filters(boot)[0]["name"] == "envoy.filters.http.header_mutation"
    result = envoy_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_chart_checksum_rolls_pods_for_a_route_change_not_for_a_policy_change() -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = find(manifests(render(values)), "Deployment")
        value: str = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/envoy-config"]
        return value

    base = ci_values("standalone")
    route = copy.deepcopy(base)
    route["config"]["routes"]["frontier"]["chain"][0]["model"] = "gpt-4.1"
    policy = copy.deepcopy(base)
    policy["config"]["policy"] = {"ladder": [{"route": "economy"}, {"route": "standard", "min_score": 0.6}]}
    tier = copy.deepcopy(base)
    tier["config"]["tiers"]["free"] = {"routes": ["economy"], "timeout_ms": 20000}
    assert checksum(route) != checksum(base)
    assert checksum(policy) == checksum(base)
    assert checksum(tier) == checksum(base)


# -- every mode: a client never picks its route or tier -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_chart_strips_client_triage_headers_before_routing(mode: str, tmp_path: Path) -> None:
    docs = _docs(mode)
    if mode == "standalone":
        boot, _ = _generated_bootstrap(mode, tmp_path)
        first = _http_filters(boot)[0]
        removed = [m["remove"] for m in first["typed_config"]["mutations"]["request_mutations"]]
    elif mode == "istio":
        patch = find(docs, "EnvoyFilter")["spec"]["configPatches"][0]
        assert patch["patch"]["operation"] == "INSERT_FIRST"
        removed = [m["remove"] for m in patch["patch"]["value"]["typed_config"]["mutations"]["request_mutations"]]
    else:
        removed = find(docs, "ClientTrafficPolicy")["spec"]["headers"]["earlyRequestHeaders"]["remove"]
    assert set(TRIAGE_HEADERS) <= set(removed)
    assert removed == list(STRIP_REQUEST_HEADERS)
    # The tier is read only from verified-JWT metadata.
    cfg = parse_config(yaml.safe_load(triage_yaml(docs)))
    assert cfg.tier_source.header is None
    assert cfg.tier_source.metadata is not None
    assert cfg.tier_source.metadata.namespace == "envoy.filters.http.jwt_authn"


# -- istio ------------------------------------------------------------------------------------------------------------


def _envoy_filter_values(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    patches = find(docs, "EnvoyFilter")["spec"]["configPatches"]
    assert [p["applyTo"] for p in patches] == ["HTTP_FILTER", "HTTP_FILTER"]
    assert [p["match"]["context"] for p in patches] == ["GATEWAY", "GATEWAY"]
    assert patches[1]["patch"]["operation"] == "INSERT_BEFORE"
    assert patches[1]["match"]["listener"]["filterChain"]["filter"]["subFilter"]["name"] == "envoy.filters.http.router"
    return patches[0]["patch"]["value"], patches[1]["patch"]["value"]


def test_chart_istio_filters_equal_the_generators_apart_from_the_grpc_target() -> None:
    docs = _docs("istio")
    scrub, ext_proc = _envoy_filter_values(docs)
    generated = {f["name"]: f for f in build_snippet(parse_config(yaml.safe_load(triage_yaml(docs))))["http_filters"]}
    assert scrub == generated["envoy.filters.http.header_mutation"]
    target = ext_proc["typed_config"].pop("grpc_service")
    assert target == {"envoy_grpc": {"cluster_name": f"outbound|50051||{RELEASE}.{NAMESPACE}.svc.cluster.local"}}
    expected = copy.deepcopy(generated["envoy.filters.http.ext_proc"])
    del expected["typed_config"]["grpc_service"]
    assert ext_proc == expected
    selector = find(docs, "EnvoyFilter")["spec"]["workloadSelector"]["labels"]
    rule = find(docs, "NetworkPolicy")["spec"]["ingress"][0]
    assert rule["from"][0]["podSelector"]["matchLabels"] == selector
    assert rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]


def test_chart_istio_filters_pass_envoy_validate(tmp_path: Path) -> None:
    """The EnvoyFilter's two filters in place of the generator's, with the Istio cluster name, in a real Envoy."""
    if envoy_binary() is None:
        pytest.skip("the envoy binary is not installed")
    docs = _docs("istio")
    scrub, ext_proc = _envoy_filter_values(docs)
    boot, path = _generated_bootstrap("istio", tmp_path)
    filters = _http_filters(boot)
    names = [f["name"] for f in filters]
    filters[names.index("envoy.filters.http.header_mutation")] = scrub
    filters[names.index("envoy.filters.http.ext_proc")] = ext_proc
    cluster_name = ext_proc["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"]
    for cluster in boot["static_resources"]["clusters"]:
        if cluster["name"] == EXTPROC_CLUSTER:
            cluster["name"] = cluster["load_assignment"]["cluster_name"] = cluster_name
    path.write_text(json.dumps(boot), encoding="utf-8")
    result = envoy_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_chart_istio_routes_match_the_route_header_and_fall_back_to_the_default_route() -> None:
    docs = _docs("istio")
    cfg = parse_config(yaml.safe_load(triage_yaml(docs)))
    http = find(docs, "VirtualService")["spec"]["http"]
    by_header = {r["match"][0]["headers"]["x-triage-route"]["exact"]: r for r in http if "match" in r}
    assert set(by_header) == set(cfg.routes)
    assert "match" not in http[-1]  # the catch-all: no header (Triage down or failed open) → default_route
    first = cfg.clusters[cfg.routes[cfg.default_route].chain[0].cluster]
    assert http[-1]["route"][0]["destination"] == {"host": first.host, "port": {"number": first.port}}
    openai = find(docs, "DestinationRule", f"{RELEASE}-openai")["spec"]["trafficPolicy"]
    assert openai["tls"] == {"mode": "SIMPLE", "sni": "api.openai.com"}
    assert openai["connectionPool"]["http"]["maxRetries"] == cfg.clusters["openai"].limits.max_retries
    assert openai["outlierDetection"]["consecutive5xxErrors"] == cfg.clusters["openai"].outlier.consecutive_5xx
    entry = find(docs, "ServiceEntry")["spec"]
    assert entry["hosts"] == ["api.openai.com"]
    assert entry["location"] == "MESH_EXTERNAL"


# -- envoy-gateway ----------------------------------------------------------------------------------------------------

_EG_BODY = {"BUFFERED": "Buffered", "STREAMED": "Streamed"}


def test_chart_envoy_gateway_ext_proc_mirrors_the_generators_filter() -> None:
    docs = _docs("envoy-gateway")
    cfg = parse_config(yaml.safe_load(triage_yaml(docs)))
    filters = {f["name"]: f for f in build_snippet(cfg)["http_filters"]}
    generated = filters["envoy.filters.http.ext_proc"]["typed_config"]
    policy = find(docs, "EnvoyExtensionPolicy")["spec"]
    assert policy["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": RELEASE}]
    (ext_proc,) = policy["extProc"]
    assert ext_proc["backendRefs"] == [{"group": "", "kind": "Service", "name": RELEASE, "port": 50051}]
    assert ext_proc["failOpen"] is generated["failure_mode_allow"]
    assert ext_proc["messageTimeout"] == f"{cfg.envoy.message_timeout_ms}ms"
    mode, pm = generated["processing_mode"], ext_proc["processingMode"]
    assert pm["allowModeOverride"] is generated["allow_mode_override"]
    assert pm["request"]["body"] == _EG_BODY[mode["request_body_mode"]]
    assert mode["request_header_mode"] == "SEND"  # EG sends request headers whenever `request` is present
    assert pm["response"]["body"] == _EG_BODY[mode["response_body_mode"]]
    assert set(pm["response"]["attributes"]) == set(generated["response_attributes"]) - {"xds.cluster_name"}
    md = generated["metadata_options"]
    assert ext_proc["metadata"]["accessibleNamespaces"] == md["forwarding_namespaces"]["untyped"]
    assert ext_proc["metadata"]["writableNamespaces"] == md["receiving_namespaces"]["untyped"]
    health = ext_proc["backendSettings"]["healthCheck"]["active"]
    assert health["type"] == "GRPC"
    assert health["grpc"]["service"] == "envoy.service.ext_proc.v3.ExternalProcessor"


def test_chart_envoy_gateway_routes_retries_and_fallbacks_follow_the_config() -> None:
    docs = _docs("envoy-gateway")
    cfg = parse_config(yaml.safe_load(triage_yaml(docs)))
    route = find(docs, "HTTPRoute")["spec"]
    rules = {r["name"]: r for r in route["rules"]}
    assert set(rules) == {f"route-{n}" for n in cfg.routes} | {"triage-default"}
    assert "headers" not in rules["triage-default"]["matches"][0]
    economy = rules["route-economy"]
    assert economy["matches"][0]["headers"] == [{"type": "Exact", "name": "x-triage-route", "value": "economy"}]
    # small-b serves the same model: a fallback; medium serves another model: left out (no per-attempt rewrite).
    assert [b["name"] for b in economy["backendRefs"]] == [f"{RELEASE}-small", f"{RELEASE}-small-b-fallback"]
    assert find(docs, "Backend", f"{RELEASE}-small-b-fallback")["spec"]["fallback"] is True
    assert find(docs, "Backend", f"{RELEASE}-openai")["spec"]["tls"]["sni"] == "api.openai.com"
    btp = find(docs, "BackendTrafficPolicy", f"{RELEASE}-route-economy")["spec"]
    assert btp["targetRefs"][0]["sectionName"] == "route-economy"
    assert btp["retry"] == {
        "numRetries": 1,
        "numAttemptsPerPriority": 1,
        "retryOn": {
            "triggers": list(cfg.retries.retry_on),
            "httpStatusCodes": list(cfg.retries.retriable_status_codes),
        },
        "perRetry": {"timeout": "120s", "backOff": {"baseInterval": "50ms", "maxInterval": "500ms"}},
    }
    frontier = rules["route-frontier"]
    scrub = frontier["filters"][0]["requestHeaderModifier"]["remove"]
    assert "authorization" not in scrub  # the injected key's header
    assert {"x-api-key", "cookie"} <= set(scrub)
    assert frontier["filters"][-1]["extensionRef"]["name"] == f"{RELEASE}-openai-credential"
    rule = find(docs, "NetworkPolicy")["spec"]["ingress"][0]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "envoy-gateway-system"
    }


def test_chart_envoy_gateway_client_policy_targets_the_gateway_in_its_namespace() -> None:
    ctp = find(_docs("envoy-gateway"), "ClientTrafficPolicy")
    assert ctp["metadata"]["namespace"] == "gateways"
    assert ctp["spec"]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "llm-gateway"}
    ]
    assert ctp["spec"]["connection"]["bufferLimit"] == "16Mi"


@pytest.mark.parametrize("mode", MODES)
def test_chart_metrics_reach_prometheus_only(mode: str) -> None:
    docs = _docs(mode)
    ingress = find(docs, "NetworkPolicy")["spec"]["ingress"]
    ports = [p["port"] for rule in ingress for p in rule["ports"]]
    # istio's ci values let one feedback caller in on the gRPC port (networkPolicy.feedbackFrom).
    assert ports == {"standalone": ["http", "metrics"], "istio": ["grpc", "grpc", "metrics"]}.get(
        mode, ["grpc", "metrics"]
    )
    assert find(docs, "Service", f"{RELEASE}-metrics")["spec"]["ports"][0]["port"] == 9464
