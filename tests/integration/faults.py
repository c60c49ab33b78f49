"""A configuration for failover tests: routes whose chains cross the three fake providers with different
model names, one route starting at a provider that is down, and tiers that force each route."""

from __future__ import annotations

from typing import Any

import httpx
import yaml

from tests.integration.conftest import chat, token
from triage.config import TriageConfig, default_config_text, parse_config
from triage.sim.stack import LocalStack

MODELS = {"small": "small-model", "medium": "medium-model", "large": "large-model"}


def fault_config(*, consecutive_5xx: int = 1000, health_poll_ms: int = 200, **extra: Any) -> TriageConfig:
    data = yaml.safe_load(default_config_text())
    outlier = {"consecutive_5xx": consecutive_5xx, "consecutive_gateway_failure": consecutive_5xx}
    for cluster in data["clusters"].values():
        cluster["outlier"] = outlier
    data["clusters"]["dead"] = {"address": "127.0.0.1:9", "outlier": outlier}
    data["routes"]["triple"] = {
        "chain": [{"cluster": c, "model": m} for c, m in MODELS.items()],
        "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
    }
    data["routes"]["deadfirst"] = {
        "chain": [{"cluster": "dead", "model": "dead-model"}, {"cluster": "small", "model": "small-model"}]
    }
    data["tiers"]["triple"] = {"routes": ["triple"]}
    data["tiers"]["deadfirst"] = {"routes": ["deadfirst"]}
    data["tiers"]["hurry"] = {"routes": ["triple"], "timeout_ms": 1500}
    data["envoy"]["health_poll_ms"] = health_poll_ms
    data.update(extra)
    return parse_config(data)


def send(stack: LocalStack, tier: str, text: str = "hello there", **body: Any) -> httpx.Response:
    with httpx.Client(base_url=stack.envoy_url, timeout=60) as client:
        return client.post(
            "/v1/chat/completions", json=chat(text, **body), headers={"authorization": f"Bearer {token(tier)}"}
        )


def attempts(stack: LocalStack) -> dict[str, int]:
    """How many requests each provider received."""
    return {name: len(p.attempts) for name, p in stack.providers.items()}
