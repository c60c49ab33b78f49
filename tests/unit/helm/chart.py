"""Rendering the chart with the real Helm engine, offline: helm-python-sdk binds Helm's Go SDK (libhelm_c, shipped in
its wheel) through ctypes, so no helm binary, cluster or network is involved."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

CHART = Path(__file__).resolve().parents[3] / "helm" / "triage"
GOLDEN = Path(__file__).resolve().parent / "golden"
MODES = ("standalone", "istio", "envoy-gateway")
RELEASE = "triage"
NAMESPACE = "llm"
# The Kubernetes version the core manifests are checked against (kubernetes-validate's schemas).
K8S_VERSION = "1.33.0"

helm = pytest.importorskip("helm_python")


def ci_values(mode: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "ci" / f"{mode}-values.yaml").read_text(encoding="utf-8"))
    return values


@functools.cache
def _render_cached(key: str) -> dict[str, str]:
    values = yaml.safe_load(key)
    with helm.Chart.load(str(CHART)) as chart:
        out: dict[str, str] = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return out


def render(values: dict[str, Any]) -> dict[str, str]:
    """Template path → rendered text (NOTES.txt included)."""
    return dict(_render_cached(yaml.safe_dump(values, sort_keys=True)))


def render_mode(mode: str) -> dict[str, str]:
    return render(ci_values(mode))


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(rendered):
        if path.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(rendered[path]) if d]
    return docs


def golden_text(rendered: dict[str, str]) -> str:
    return "".join(
        f"# Source: {path}\n{rendered[path].strip()}\n---\n" for path in sorted(rendered) if rendered[path].strip()
    )


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    hits = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(hits) == 1, f"{len(hits)} {kind} {name or ''}"
    return copy.deepcopy(hits[0])


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def triage_yaml(docs: list[dict[str, Any]]) -> str:
    text: str = find(docs, "ConfigMap", f"{RELEASE}-config")["data"]["triage.yaml"]
    return text


def container(containers: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (hit,) = [c for c in containers if c["name"] == name]
    return hit
