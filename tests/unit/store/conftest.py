"""A small deterministic traffic fixture for the store's tests: decision records and feedback events."""

from __future__ import annotations

import random
from typing import Any

import pytest

from triage.record import DecisionRecord
from triage.store.schema import Event

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ROUTES = {
    "economy": ["small/llama-3.1-8b-instruct", "medium/gpt-4o-mini"],
    "standard": ["medium/gpt-4o-mini", "large/gpt-4o"],
    "premium": ["large/gpt-4o", "medium/gpt-4o-mini"],
}
PRICES = {"small": (0.10, 0.30), "medium": (0.60, 2.40), "large": (2.50, 10.00)}
PROVIDERS = {"small": "vllm", "medium": "openai", "large": "openai"}
TASKS = ("code", "math", "open_qa", "summarization", "translation", "extraction")


def make_record(rng: random.Random, i: int, t0_ms: int = T0_MS, span_ms: int = 3 * 86_400_000) -> DecisionRecord:
    """One realistic record: mostly answered on the first step, some fallbacks, rejections and fail-opens."""
    rec = DecisionRecord(
        decision_id=f"{rng.getrandbits(128):032x}",
        time_unix_ms=t0_ms + rng.randrange(span_ms),
        endpoint="/v1/chat/completions",
        request_id=f"req-{i}",
        tier=rng.choice(("free", "pro", "batch")),
    )
    roll = rng.random()
    if roll < 0.05:  # refused: no route
        rec.error_code = "context_length_exceeded"
        rec.status = 413
        rec.router_latency_us = rng.randrange(20, 80)
        return rec
    route = rng.choice(tuple(ROUTES))
    rec.route, rec.chain = route, list(ROUTES[route])
    rec.reason = "deadline" if roll < 0.07 else "classified"
    if rec.reason == "deadline":
        rec.error_code = "deadline"
    rec.task = rng.choice(TASKS)
    rec.task_probability = round(rng.uniform(0.3, 1), 4)
    rec.p_strong = round(rng.random(), 4)
    rec.router_latency_us = rng.randrange(60, 900)
    rec.classifier_version = "v3"
    rec.stream = rng.random() < 0.5
    rec.model_sent = rec.chain[0].split("/", 1)[1]
    attempts = 2 if rng.random() < 0.1 else 1
    step = rec.chain[attempts - 1]
    cluster, model = step.split("/", 1)
    rec.responded(200, cluster, PROVIDERS[cluster], attempts)
    rec.model_answered = model
    rec.input_tokens = int(rng.lognormvariate(6, 1))
    rec.output_tokens = int(rng.lognormvariate(5, 1))
    pin, pout = PRICES[cluster]
    rec.cost_usd = (rec.input_tokens * pin + rec.output_tokens * pout) / 1e6
    rec.streamed, rec.completed = rec.stream, True
    rec.duration_ms = round(rng.uniform(100, 5000), 3)
    if rng.random() < 0.5:
        other = rng.choice(tuple(ROUTES))
        rec.shadow = [
            {
                "name": "cheaper",
                "route": other,
                "diverged": other != route,
                "cost_delta_usd": round(-rec.cost_usd / 2, 9),
            }
        ]
    return rec


def make_traffic(n: int = 300, seed: int = 7) -> tuple[list[DecisionRecord], list[Event]]:
    rng = random.Random(seed)
    records = [make_record(rng, i) for i in range(n)]
    events = []
    for j, rec in enumerate(records[::10]):  # feedback on every tenth decision
        signal = rng.choice(("thumbs_up", "thumbs_down", "score"))
        value = {"thumbs_up": 1.0, "thumbs_down": 0.0}.get(signal, round(rng.random(), 3))
        events.append(
            Event(f"ev-{j}", rec.decision_id, rec.time_unix_ms + 60_000, "feedback", signal, value, principal="alice")
        )
    return records, events


@pytest.fixture
def traffic() -> tuple[list[DecisionRecord], list[Event]]:
    return make_traffic()


def rounded(rows: list[dict[str, Any]], places: int = 9) -> list[dict[str, Any]]:
    """Rows with floats rounded (engines sum in different orders) and 0/1 flags as bools, sorted."""

    def norm(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, places)
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return v

    out = [{k: norm(v) for k, v in row.items()} for row in rows]
    return sorted(out, key=lambda r: repr(sorted(r.items())))
