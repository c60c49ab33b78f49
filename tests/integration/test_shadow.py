"""Shadow candidates through the real Envoy and the real Triage: every record carries each candidate's verdict, the
live routes are exactly what the live policy alone decides, the metrics are exported, and promoting a candidate is a
config edit that the running Triage picks up."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import chat, token
from tests.integration.test_routing import CODE, HARD_MATH, TRANSLATION
from triage import policy, router
from triage.classifier.onnx_model import default_bundle_dir, load_default
from triage.config import TriageConfig, load_config, parse_config
from triage.requests import OPENAI_CHAT, parse_request
from triage.sim.stack import LocalStack, wait_until

pytestmark = pytest.mark.integration

PROMPTS = [
    TRANSLATION,
    CODE,
    HARD_MATH,
    "What is the capital of Australia?",
    "Summarize in one sentence: the meeting moved to Thursday because the room was booked.",
    "Write a haiku about autumn rain.",
    "Explain why the sky is blue to a ten-year-old.",
    "Classify the sentiment of this review: 'The battery died after two days.'",
]
EAGER = [{"route": "economy"}, {"route": "standard", "min_score": 0.2}, {"route": "premium", "min_score": 0.35}]
CANDIDATES: dict[str, Any] = {
    "eager": {"description": "climbs early", "policy": {"ladder": EAGER, "uncertainty": {"escalate": False}}},
    "economy-only": {"description": "never climbs", "policy": {"ladder": [{"route": "economy"}]}},
    "own-model": {"description": "the shipped bundle as a candidate model", "model": str(default_bundle_dir())},
}


def _config(state: str = "shadow") -> TriageConfig:
    data = load_config().model_dump(mode="json", exclude_none=True)
    data["policy"]["deadline_ms"] = 2000  # a loaded machine never fails a request open: routes stay comparable
    data["shadow"] = {"candidates": {**CANDIDATES, "eager": {**CANDIDATES["eager"], "state": state}}}
    return parse_config(data)


@pytest.fixture(scope="module")
def shadow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(config=_config(), workdir=tmp_path_factory.mktemp("shadow")) as s:
        yield s


def _send(client: httpx.Client, text: str) -> httpx.Response:
    resp = client.post("/v1/chat/completions", json=chat(text), headers={"authorization": f"Bearer {token('pro')}"})
    assert resp.status_code == 200, resp.text
    return resp


def _route(outcome: policy.Decision | policy.Rejection) -> str | None:
    return outcome.route if isinstance(outcome, policy.Decision) else None


def test_shadow_verdicts_in_the_records_live_routes_unchanged_metric_exported(shadow_stack: LocalStack) -> None:
    cfg = shadow_stack.running_config
    assert cfg is not None
    classifier = load_default()
    live = policy.compile_policy(cfg)
    assert live.policy == cfg.policy  # no active candidate: the file's policy routes
    candidates = {n: policy.compile_policy(cfg, cfg.policy_with(c.policy)) for n, c in cfg.shadow.candidates.items()}
    diverged = 0
    with httpx.Client(base_url=shadow_stack.envoy_url, timeout=60) as client:
        for text in PROMPTS:
            resp = _send(client, text)
            record = shadow_stack.wait_for_decision(resp.headers["x-triage-decision-id"])
            inp = parse_request(_body(text), OPENAI_CHAT).input
            alone = router.decide_now(live, classifier, inp, "pro")
            # The live route is what the live policy alone decides for this request: shadow changes nothing.
            assert record["route"] == _route(alone.outcome) == resp.headers["x-triage-route"]
            verdicts = {v["name"]: v for v in record["shadow"]}
            assert sorted(verdicts) == ["eager", "economy-only", "own-model"]
            for name, verdict in verdicts.items():
                expected = _route(router.decide_now(candidates[name], classifier, inp, "pro").outcome)
                assert verdict["route"] == expected, (name, text[:30])
                assert verdict["diverged"] is (expected != record["route"])
                diverged += verdict["diverged"]
                if not verdict["diverged"]:
                    assert verdict["cost_delta_usd"] == 0.0
                elif expected is not None:  # the fake provider reports usage: the delta is known (first step's price)
                    price = cfg.routes[expected].chain[0].price or cfg.routes[expected].price
                    predicted = price.cost(record["input_tokens"], record["output_tokens"])
                    assert verdict["cost_delta_usd"] == pytest.approx(predicted - record["cost_usd"], abs=1e-8)
            assert verdicts["own-model"]["diverged"] is False  # the same bundle and policy as the live router
    assert diverged > 0  # the prompts cross the candidates' thresholds
    url = shadow_stack.metrics_url()
    assert url is not None

    def exported() -> bool:
        text = httpx.get(url, timeout=10).text
        return _sample(text, "triage_shadow_decisions", "eager") >= len(PROMPTS)

    wait_until("shadow metrics exported", exported, 30)
    text = httpx.get(url, timeout=10).text
    assert _sample(text, "triage_shadow_decisions", "economy-only") >= len(PROMPTS)
    assert _sample(text, "triage_shadow_divergences", "economy-only") >= 1
    assert re.search(r'^triage_shadow_cost_delta\w*\{[^}]*triage_shadow_candidate="eager"', text, re.M), text[:2000]


def _body(text: str) -> bytes:
    return json.dumps(chat(text)).encode()


def _sample(exposition: str, metric: str, candidate: str) -> float:
    """The value of ``metric`` (a counter: ``_total`` added by the exporter) for ``candidate``; 0 when absent."""
    pattern = rf'^{metric}(?:_total)?\{{[^}}]*triage_shadow_candidate="{re.escape(candidate)}"[^}}]*\}} (\S+)$'
    return sum(float(m.group(1)) for m in re.finditer(pattern, exposition, re.M))


def _reloads(log: Path) -> int:
    return log.read_text(errors="replace").count("configuration reloaded") if log.exists() else 0


def test_shadow_promotion_is_a_config_edit_the_running_triage_follows(shadow_stack: LocalStack) -> None:
    text = next(t for t in PROMPTS if _eager_diverges(shadow_stack, t))
    with httpx.Client(base_url=shadow_stack.envoy_url, timeout=60) as client:
        before = shadow_stack.wait_for_decision(_send(client, text).headers["x-triage-decision-id"])
        eager = next(v for v in before["shadow"] if v["name"] == "eager")
        assert eager["diverged"]
        try:
            _apply(shadow_stack, _config("active"))
            after = shadow_stack.wait_for_decision(_send(client, text).headers["x-triage-decision-id"])
            assert after["route"] == eager["route"]  # the promoted candidate now routes
            assert "eager" not in {v["name"] for v in after["shadow"]}  # and is no longer shadowed
        finally:
            _apply(shadow_stack, _config("shadow"))
        again = shadow_stack.wait_for_decision(_send(client, text).headers["x-triage-decision-id"])
        assert again["route"] == before["route"]


def _eager_diverges(stack: LocalStack, text: str) -> bool:
    cfg = stack.running_config
    assert cfg is not None
    inp = parse_request(_body(text), OPENAI_CHAT).input
    classifier = load_default()
    live = _route(router.decide_now(policy.compile_policy(cfg), classifier, inp, "pro").outcome)
    cand = policy.compile_policy(cfg, cfg.policy_with(cfg.shadow.candidates["eager"].policy))
    return live != _route(router.decide_now(cand, classifier, inp, "pro").outcome)


def _apply(stack: LocalStack, cfg: TriageConfig) -> None:
    """Write ``cfg`` (with the stack's own addresses) as the running Triage's file and wait for the reload."""
    running = stack.running_config
    assert running is not None
    seen = _reloads(stack.triage_log)
    stack.write_triage_config(running.model_copy(update={"shadow": cfg.shadow}))
    wait_until("configuration reloaded", lambda: _reloads(stack.triage_log) > seen, 30, (stack.triage_log,))
