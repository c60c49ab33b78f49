"""Each provider receives its own credential on every attempt, injected by Envoy from an SDS file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.faults import fault_config, send
from triage.config import parse_config
from triage.sim import Fault
from triage.sim.stack import LocalStack

pytestmark = pytest.mark.integration


def _secret(path: Path, name: str, value: str) -> None:
    doc = {
        "resources": [
            {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
                "name": name,
                "generic_secret": {"secret": {"inline_string": value}},
            }
        ]
    }
    path.write_text(yaml.safe_dump(doc))


def test_credentials_each_attempt_carries_its_own_provider_key(tmp_path: Path) -> None:
    base = fault_config().model_dump(mode="json", exclude_none=True)
    for name, header in (("small", "authorization"), ("medium", "x-api-key")):
        secret = tmp_path / f"{name}.yaml"
        _secret(secret, f"{name}_key", f"Bearer sk-{name}" if header == "authorization" else f"key-{name}")
        base["clusters"][name]["credential"] = {
            "header": header,
            "secret_file": str(secret),
            "secret_name": f"{name}_key",
        }

    with LocalStack(config=parse_config(base), workdir=tmp_path / "s", absent=frozenset({"dead"})) as stack:
        stack.providers["small"].set_fault(Fault(status=503))
        resp = send(stack, "triple")  # small fails, medium answers: two attempts, two providers
        assert resp.status_code == 200
        (small,) = stack.providers["small"].attempts
        (medium,) = stack.providers["medium"].attempts
        assert small.headers["authorization"] == "Bearer sk-small"
        assert "x-api-key" not in small.headers
        assert medium.headers["x-api-key"] == "key-medium"
        assert "authorization" not in medium.headers  # neither small's key nor the client's token
