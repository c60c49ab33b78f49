"""The gRPC health names the chart's probes and Envoy Gateway's health check ask for are answered by the real
TriageServer on either engine: NOT_SERVING until the model is warm, SERVING after, NOT_SERVING again from shutdown."""

from __future__ import annotations

import io
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.unit.helm.chart import container, find, manifests, render_mode
from triage.classifier.fake import FakeClassifier
from triage.config import load_config
from triage.extproc.server import ServerEngine, TriageServer
from triage.runtime import RuntimeHolder, build
from triage.telemetry.recorder import DecisionLog, Recorder

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _asked_service_names() -> set[str]:
    names: set[str] = set()
    for mode in ("standalone", "envoy-gateway"):
        docs = manifests(render_mode(mode))
        pod = find(docs, "Deployment")["spec"]["template"]["spec"]
        triage = container(pod.get("initContainers", []) + pod["containers"], "triage")
        names |= {triage[p]["grpc"]["service"] for p in ("startupProbe", "readinessProbe", "livenessProbe")}
        if mode == "envoy-gateway":
            (ext_proc,) = find(docs, "EnvoyExtensionPolicy")["spec"]["extProc"]
            names.add(ext_proc["backendSettings"]["healthCheck"]["active"]["grpc"]["service"])
    return names


async def _status(channel: grpc.aio.Channel, service: str) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
    return int(reply.status)


@pytest.mark.parametrize("engine", ["wire", "grpcio"])
async def test_triage_server_answers_every_health_name_the_chart_asks_for(tmp_path: Path, engine: ServerEngine) -> None:
    names = _asked_service_names()
    assert names == {"", "envoy.service.ext_proc.v3.ExternalProcessor"}
    address = f"unix:{tmp_path}/triage.sock"
    server = TriageServer([address], engine)
    await server.start()
    runtime = build(load_config(), FakeClassifier(), Recorder(DecisionLog(io.StringIO())))
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            assert {n: await _status(channel, n) for n in names} == dict.fromkeys(names, NOT_SERVING)
            await server.ready(RuntimeHolder(runtime))
            assert {n: await _status(channel, n) for n in names} == dict.fromkeys(names, SERVING)
            await server.health.enter_graceful_shutdown()
            assert {n: await _status(channel, n) for n in names} == dict.fromkeys(names, NOT_SERVING)
    finally:
        await server.shutdown(0.1)
