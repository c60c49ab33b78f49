"""The chart's feedback id key (one Secret for every replica, never the demo key, never in the ConfigMap) and the
decision store (a volume at config.store.path, the OTLP log records), rendered with the real Helm engine."""

from __future__ import annotations

import base64
import copy
from importlib import resources
from typing import Any

import pytest
import yaml

from tests.unit.helm.chart import (
    CHART,
    MODES,
    RELEASE,
    ci_values,
    container,
    find,
    helm,
    manifests,
    of_kind,
    render,
    triage_yaml,
)
from triage.config import parse_config
from triage.contract import HEADER_DECISION_ID, HEADER_ROUTE
from triage.envoy.bootstrap import build_snippet

KEY_DIR = "/var/run/secrets/triage-feedback"
STORE_PATH = "/var/lib/triage/store"
A_KEY = "0123456789abcdef" * 4


def _demo_id_secret() -> str:
    text = resources.files("triage.defaults").joinpath("triage.yaml").read_text(encoding="utf-8")
    secret: str = yaml.safe_load(text)["feedback"]["id_secret"]
    return secret


def _config(docs: list[dict[str, Any]]) -> dict[str, Any]:
    cfg: dict[str, Any] = yaml.safe_load(triage_yaml(docs))
    return cfg


def _pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = find(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def _triage(pod: dict[str, Any]) -> dict[str, Any]:
    return container(pod.get("initContainers", []) + pod["containers"], "triage")


def _volume(pod: dict[str, Any], name: str) -> dict[str, Any]:
    hits: list[dict[str, Any]] = [v for v in pod["volumes"] if v["name"] == name]
    (hit,) = hits
    return hit


def _annotations(docs: list[dict[str, Any]]) -> dict[str, str]:
    annotations = find(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    return dict(annotations or {})


def _with(mode: str, **changes: Any) -> dict[str, Any]:
    values = ci_values(mode)
    for key, value in changes.items():
        values[key] = value
    return values


def _no_key(mode: str) -> dict[str, Any]:
    return _with(mode, feedback={"idKey": {"existingSecret": "", "value": "", "key": "id-key"}})


# -- the feedback id key -----------------------------------------------------------------------------------------------


def test_chart_feedback_key_from_an_existing_secret_is_mounted_and_referenced() -> None:
    docs = manifests(render(ci_values("standalone")))  # feedback.idKey.existingSecret: triage-feedback-id
    assert of_kind(docs, "Secret") == []  # the user's Secret: the chart makes none
    pod = _pod(docs)
    volume = _volume(pod, "feedback-id-key")["secret"]
    assert volume["secretName"] == "triage-feedback-id"
    assert volume["items"] == [{"key": "id-key", "path": "id-key"}]
    mount = {"name": "feedback-id-key", "mountPath": KEY_DIR, "readOnly": True}
    assert mount in _triage(pod)["volumeMounts"]
    cfg = parse_config(_config(docs))
    assert cfg.feedback.enabled is True
    assert cfg.feedback.id_secret_file == f"{KEY_DIR}/id-key"
    assert cfg.feedback.id_secret is None
    assert "id_secret" not in _config(docs)["feedback"]
    assert "checksum/feedback-id-key" in _annotations(docs)


def test_chart_feedback_key_value_becomes_one_secret_for_every_replica() -> None:
    docs = manifests(render(_with("standalone", feedback={"idKey": {"value": A_KEY, "key": "k"}})))
    (secret,) = of_kind(docs, "Secret")
    assert secret["metadata"]["name"] == f"{RELEASE}-feedback-id"
    assert base64.b64decode(secret["data"]["k"]).decode() == A_KEY
    pod = _pod(docs)
    assert _volume(pod, "feedback-id-key")["secret"]["secretName"] == f"{RELEASE}-feedback-id"
    assert _config(docs)["feedback"] == {"id_secret_file": f"{KEY_DIR}/k"}
    assert A_KEY not in triage_yaml(docs)
    # Triage reads the key at start: another key rolls the pods, the same one does not.
    other = manifests(render(_with("standalone", feedback={"idKey": {"value": A_KEY[::-1], "key": "k"}})))
    same = manifests(render(_with("standalone", feedback={"idKey": {"value": A_KEY, "key": "k"}})))
    assert _annotations(other)["checksum/feedback-id-key"] != _annotations(docs)["checksum/feedback-id-key"]
    assert _annotations(same) == _annotations(docs)


@pytest.mark.parametrize("mode", MODES)
def test_chart_never_renders_the_demo_id_secret(mode: str) -> None:
    demo = _demo_id_secret()
    for values in (ci_values(mode), _no_key(mode)):
        rendered = render(values)
        assert not [path for path, text in rendered.items() if demo in text]
        assert parse_config(_config(manifests(rendered))).feedback.id_secret is None


def test_chart_refuses_the_demo_key_and_any_inline_key() -> None:
    demo = _demo_id_secret()
    for secret in (demo, A_KEY):
        values = ci_values("standalone")
        values["config"]["feedback"] = {"id_secret": secret}
        with pytest.raises(helm.HelmRenderError, match=r"config\.feedback\.id_secret would put"):
            render(values)
    values = ci_values("standalone")
    values["config"]["feedback"] = {"id_secret_file": "/etc/triage/key"}
    with pytest.raises(helm.HelmRenderError, match=r"config\.feedback\.id_secret_file is set by the chart"):
        render(values)
    # The demo key as the chart's own value: refused by the schema (too short) or the template, whichever comes first.
    with pytest.raises((helm.HelmValuesError, helm.HelmRenderError)):
        render(_with("standalone", feedback={"idKey": {"value": demo, "key": "id-key"}}))
    # The template's copy of the demo key is the embedded configuration's.
    helpers = (CHART / "templates" / "_helpers.tpl").read_text(encoding="utf-8")
    assert f'{{{{- define "triage.demoIdSecret" -}}}}{demo}{{{{- end -}}}}' in helpers


@pytest.mark.parametrize("mode", MODES)
def test_chart_without_a_key_turns_feedback_off_and_says_so(mode: str) -> None:
    rendered = render(_no_key(mode))
    docs = manifests(rendered)
    feedback = _config(docs)["feedback"]
    assert feedback["enabled"] is False
    assert not {"id_secret", "id_secret_file"} & set(feedback)
    assert "feedback-id-key" not in {v["name"] for v in _pod(docs)["volumes"]}
    assert "checksum/feedback-id-key" not in _annotations(docs)
    assert "WARNING: the feedback API is OFF" in rendered[f"{RELEASE}/templates/NOTES.txt"]
    # Turned off on purpose: no warning.
    values = _no_key(mode)
    values["config"]["feedback"] = {"enabled": False}
    assert "WARNING" not in render(values)[f"{RELEASE}/templates/NOTES.txt"]
    # Asked for without a key: an error, not a feedback API that refuses other replicas' ids.
    values["config"]["feedback"] = {"enabled": True}
    with pytest.raises(helm.HelmRenderError, match=r"config\.feedback\.enabled is true but no key"):
        render(values)


def test_chart_default_values_render_feedback_off() -> None:
    rendered = render({})
    assert _config(manifests(rendered))["feedback"] == {"enabled": False}
    assert "WARNING: the feedback API is OFF" in rendered[f"{RELEASE}/templates/NOTES.txt"]


def test_chart_refuses_two_key_sources() -> None:
    values = _with("standalone", feedback={"idKey": {"existingSecret": "mine", "value": A_KEY, "key": "id-key"}})
    with pytest.raises(helm.HelmRenderError, match="existingSecret or value, not both"):
        render(values)


def test_chart_feedback_route_change_rolls_standalone_pods() -> None:
    def checksum(values: dict[str, Any]) -> str:
        return _annotations(manifests(render(values)))["checksum/envoy-config"]

    base = ci_values("standalone")
    path = copy.deepcopy(base)
    path["config"]["feedback"] = {"http_path": "/v1/ratings"}
    age = copy.deepcopy(base)
    age["config"]["feedback"] = {"max_age_days": 7}  # Triage's side only
    assert checksum(path) != checksum(base)
    assert checksum(age) == checksum(base)
    assert checksum(_no_key("standalone")) != checksum(base)  # the feedback route goes away


@pytest.mark.parametrize("namespace", ["envoy.filters.http.jwt_authn", "corp.auth"])
def test_chart_mesh_ext_proc_forwards_the_principal_namespace_like_the_generator(namespace: str) -> None:
    """Implicit signals are per principal: ext_proc must forward the principal claim's namespace, as standalone does."""
    values = ci_values("istio")
    values["config"]["feedback"]["principal"] = {"namespace": namespace, "path": ["sub"]}
    docs = manifests(render(values))
    generated = build_snippet(parse_config(_config(docs)))["http_filters"]
    (ext_proc,) = [f for f in generated if f["name"] == "envoy.filters.http.ext_proc"]
    want = ext_proc["typed_config"]["metadata_options"]["forwarding_namespaces"]["untyped"]
    patch = find(docs, "EnvoyFilter")["spec"]["configPatches"][1]["patch"]["value"]
    assert patch["typed_config"]["metadata_options"]["forwarding_namespaces"]["untyped"] == want
    assert namespace in want


def test_chart_mesh_feedback_callers_reach_the_grpc_port() -> None:
    docs = manifests(render(ci_values("istio")))
    rules = find(docs, "NetworkPolicy")["spec"]["ingress"]
    callers = [r for r in rules if r["from"] == [{"podSelector": {"matchLabels": {"app": "chat-backend"}}}]]
    assert [r["ports"] for r in callers] == [[{"port": "grpc", "protocol": "TCP"}]]
    service = find(docs, "Service", RELEASE)["spec"]["ports"]
    assert service == [{"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "grpc"}]


def test_chart_istio_returns_the_decision_id_to_the_client() -> None:
    """Feedback names the decision id: every VirtualService rule echoes the request headers Triage set (the ext_proc
    filter skips response headers, so Triage cannot add them itself as it does behind Envoy Gateway)."""
    http = find(manifests(render(ci_values("istio"))), "VirtualService")["spec"]["http"]
    for rule in http:
        assert rule["headers"]["response"]["set"] == {
            HEADER_DECISION_ID: f"%REQ({HEADER_DECISION_ID})%",
            HEADER_ROUTE: f"%REQ({HEADER_ROUTE})%",
        }, rule["name"]


# -- the decision store ------------------------------------------------------------------------------------------------


def test_chart_store_enabled_renders_the_path_on_an_emptydir() -> None:
    docs = manifests(render(ci_values("standalone")))  # store.enabled, maxBytes 2Gi
    pod = _pod(docs)
    assert {"name": "store", "mountPath": STORE_PATH} in _triage(pod)["volumeMounts"]
    assert _volume(pod, "store") == {"name": "store", "emptyDir": {"sizeLimit": "4Gi"}}  # twice maxBytes
    cfg = parse_config(_config(docs))
    assert cfg.store.path == STORE_PATH
    assert cfg.store.max_bytes == 2 * 1024**3
    assert (cfg.store.retention_days, cfg.store.segment_seconds, cfg.store.otlp_logs) == (30, 600, False)
    # Only Triage writes it.
    for c in pod["initContainers"] + pod["containers"]:
        assert ("store" in {m["name"] for m in c["volumeMounts"]}) == (c["name"] == "triage"), c["name"]


def test_chart_store_on_a_claim_with_otlp_logs() -> None:
    docs = manifests(render(ci_values("istio")))  # PVC triage-store, otlpLogs
    pod = _pod(docs)
    assert _volume(pod, "store") == {"name": "store", "persistentVolumeClaim": {"claimName": "triage-store"}}
    cfg = parse_config(_config(docs))
    assert cfg.store.path == STORE_PATH
    assert cfg.store.otlp_logs is True
    assert cfg.telemetry.otlp_endpoint


def test_chart_store_sizes_and_switches() -> None:
    def store_volume(store: dict[str, Any]) -> Any:
        return _volume(_pod(manifests(render(_with("standalone", store=store)))), "store")["emptyDir"]

    assert store_volume({"enabled": True, "maxBytes": 1000}) == {"sizeLimit": "1Mi"}
    assert store_volume({"enabled": True, "maxBytes": "300Mi"}) == {"sizeLimit": "600Mi"}
    assert store_volume({"enabled": True, "volume": {"sizeLimit": "3Gi"}}) == {"sizeLimit": "3Gi"}
    with pytest.raises(helm.HelmRenderError, match=r"store\.volume\.sizeLimit \(1Gi\) must be larger"):
        render(_with("standalone", store={"enabled": True, "maxBytes": "1Gi", "volume": {"sizeLimit": "1Gi"}}))
    # Off: no volume, no path.
    docs = manifests(render(_with("standalone", store={"enabled": False})))
    assert "store" not in {v["name"] for v in _pod(docs)["volumes"]}
    assert "store" not in _config(docs)
    # OTLP log records alone (many replicas): no volume, the records go to the Collector.
    docs = manifests(render(_with("istio", store={"enabled": False, "otlpLogs": True})))
    assert "store" not in {v["name"] for v in _pod(docs)["volumes"]}
    assert _config(docs)["store"] == {"otlp_logs": True}


def test_chart_store_refusals() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"store\.otlpLogs .* config\.telemetry\.otlp_endpoint"):
        render(_with("standalone", store={"otlpLogs": True}))
    for key in ("path", "max_bytes", "otlp_logs"):
        values = ci_values("standalone")
        values["config"]["store"] = {key: {"path": "/data", "max_bytes": 1, "otlp_logs": True}[key]}
        with pytest.raises(helm.HelmRenderError, match=rf"config\.store\.{key} is set by the chart"):
            render(values)
    values = _with("standalone", store={"enabled": False})
    values["config"]["store"] = {"capture": True}  # content capture writes to the segments
    with pytest.raises(helm.HelmRenderError, match=r"config\.store\.capture .* set store\.enabled"):
        render(values)
    values = ci_values("standalone")
    values["config"]["store"] = {"core_hour_usd": 0.1}  # not the chart's: passed through
    assert _config(manifests(render(values)))["store"]["core_hour_usd"] == 0.1


# -- the schema --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"feedback": {"idKey": {"value": "change-me", "key": "id-key"}}}, "value"),
        ({"feedback": {"idKey": {"secret": "mine", "key": "id-key"}}}, "secret"),
        ({"feedback": {"idKey": {"existingSecret": "mine", "key": "id key"}}}, "key"),
        ({"store": {"maxBytes": "1GB"}}, "maxBytes"),
        ({"store": {"maxBytes": 0}}, "maxBytes"),
        ({"store": {"retentionDays": 0}}, "retentionDays"),
        ({"store": {"volume": {"sizeLimit": "lots"}}}, "sizeLimit"),
        ({"store": {"volume": {"hostPath": "/data"}}}, "hostPath"),
        ({"store": {"path": "/data"}}, "path"),
        ({"networkPolicy": {"feedbackFrom": {"podSelector": {}}}}, "feedbackFrom"),
    ],
)
def test_chart_schema_rejects_bad_feedback_and_store_values(values: dict[str, Any], field: str) -> None:
    with helm.Chart.load(str(CHART)) as chart:
        good = ci_values("standalone")
        chart.validate_schema(good)
        bad = copy.deepcopy(good)
        for section, settings in values.items():
            bad[section] = {**bad.get(section, {}), **settings}
        with pytest.raises(helm.HelmValuesError, match=field):
            chart.validate_schema(bad)
