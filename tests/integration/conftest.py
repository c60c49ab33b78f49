"""Real Envoy + real Triage + fake providers on 127.0.0.1, shared by the integration tests.

The session stack is reused across tests (start-up costs seconds on this machine); each test starts with
healthy providers and empty attempt logs. Tests that stop or reconfigure components use ``fresh_stack``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.otlp import OtlpCollector
from triage.config import load_config
from triage.sim.jwt import mint_token
from triage.sim.stack import LocalStack

pytestmark = pytest.mark.integration


def _env(collector: OtlpCollector) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
    }


@pytest.fixture(scope="session")
def collector() -> Iterator[OtlpCollector]:
    c = OtlpCollector().start()
    yield c
    c.stop()


@pytest.fixture(scope="session")
def stack(collector: OtlpCollector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    s = LocalStack(
        workdir=tmp_path_factory.mktemp("stack"), triage_env=_env(collector), envoy_tracing=collector.address
    )
    with s:
        yield s


@pytest.fixture
def fresh_stack(collector: OtlpCollector, tmp_path: Path) -> Iterator[LocalStack]:
    s = LocalStack(workdir=tmp_path / "stack", triage_env=_env(collector))
    with s:
        yield s


@pytest.fixture(autouse=True)
def _healthy_providers(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "stack" in request.fixturenames:
        s: LocalStack = request.getfixturevalue("stack")
        for p in s.providers.values():
            p.reset_faults()
            p.chunk_interval_s = 0.0
            p.clear()


@pytest.fixture
def client(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.envoy_url, timeout=60) as c:
        yield c


def token(tier: str) -> str:
    jwt = load_config().envoy.jwt
    assert jwt is not None
    assert jwt.hmac_secret is not None
    return mint_token(jwt.hmac_secret, jwt.issuer, {"tier": tier})


def chat(text: str, **extra: object) -> dict[str, object]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}], **extra}
