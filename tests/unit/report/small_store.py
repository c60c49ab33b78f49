"""A hand-computed store: fourteen decision records and their events, priced with round numbers.

Prices (USD per million tokens, input/output): route ``cheap`` 1/2 (its fallback step on cluster b 2/4), ``mid``
2/4, ``dear`` 10/20. Tier ``free`` may use cheap and mid, ``pro`` all three; the default route is ``cheap``.
``store.core_hour_usd`` is 3.6, so one microsecond of router CPU costs exactly $1e-9.

=====  ======  =====  ====  =========  ==============  =========  =====  ========  ==========================
id     hour    tier   route  cluster   tokens in/out   cost       task   p_strong  else
=====  ======  =====  ====  =========  ==============  =========  =====  ========  ==========================
d01    0       free   cheap  a          1000 / 500      0.002      code   0.30
d02    1       free   cheap  b          2000 / 1000     0.008      code   0.45      attempts 2: billed at b's 2/4
d03    2       free   mid    b          1000 / 1000     0.006      math   0.55
d04    3       pro    dear   b          1000 / 1000     0.03       math   0.85
d05    4       pro    cheap  a          4000 / 0        0.004      qa     0.20
d06    5       pro    mid    b           500 / 250      0.002      qa     0.60
d07    25      pro    dear   b         10000 / 5000     0.2        code   0.90
d08    26      free   cheap  a           100 / 100      0.0003     qa     0.10
d09    27      free   mid    b          3000 / 2000     0.014      math   0.70
d10    28      free   —      —             —            —          —      —         413 input_too_large
d11    29      free   cheap  a          1000 / 1000     0.003      —      —         failed open (deadline)
d12    30      pro    mid    b             —            —          summ.  0.50      503 after 2 attempts
d13    30      pro    cheap  a             —            —          class. 0.40      the provider's own 400
d14    30.5    pro    cheap  a            50 / 0        0.00005    qa     0.05
=====  ======  =====  ====  =========  ==============  =========  =====  ========  ==========================
"""

from __future__ import annotations

from typing import Any

T0 = 1_735_689_600_000  # 2025-01-01 00:00:00 UTC
H = 3_600_000

CONFIG_YAML = """
version: 1
clusters:
  a: {address: "127.0.0.1:1", provider: vllm}
  b: {address: "127.0.0.1:2", provider: openai}
routes:
  cheap:
    chain:
      - {cluster: a, model: m-a}
      - {cluster: b, model: m-b, price: {input_per_mtok: 2, output_per_mtok: 4}}
    price: {input_per_mtok: 1, output_per_mtok: 2}
  mid:
    chain: [{cluster: b, model: m-b}]
    price: {input_per_mtok: 2, output_per_mtok: 4}
  dear:
    chain: [{cluster: b, model: m-b-large}]
    price: {input_per_mtok: 10, output_per_mtok: 20}
default_route: cheap
default_tier: free
tiers:
  free: {routes: [cheap, mid], max_input_tokens: 8000}
  pro: {routes: [cheap, mid, dear]}
policy:
  ladder:
    - {route: cheap}
    - {route: mid, min_score: 0.5}
    - {route: dear, min_score: 0.8}
store: {core_hour_usd: 3.6}
"""


def _rec(
    n: int,
    hours: float,
    tier: str,
    route: str | None,
    us: int,
    *,
    task: str | None = None,
    p: float | None = None,
    cluster: str | None = None,
    attempts: int | None = None,
    tokens: tuple[int, int] | None = None,
    cost: float | None = None,
    status: int | None = 200,
    **extra: Any,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "decision_id": f"d{n:02d}",
        "time_unix_ms": T0 + int(hours * H),
        "endpoint": "openai.chat",
        "tier": tier,
        "route": route,
        "router_latency_us": us,
        "status": status,
        "cluster": cluster,
        "provider": {"a": "vllm", "b": "openai"}.get(cluster or ""),
        "model_answered": {"a": "m-a", "b": "m-b"}.get(cluster or ""),
        "attempts": attempts,
        "cost_usd": cost,
        **extra,
    }
    if task is not None:
        rec.update(task=task, p_strong=p, task_probability=0.9, classifier_version="v1")
    if tokens is not None:
        rec.update(input_tokens=tokens[0], output_tokens=tokens[1])
    return rec


RECORDS: list[dict[str, Any]] = [
    _rec(1, 0, "free", "cheap", 100, task="code", p=0.30, cluster="a", attempts=1, tokens=(1000, 500), cost=0.002),
    _rec(2, 1, "free", "cheap", 200, task="code", p=0.45, cluster="b", attempts=2, tokens=(2000, 1000), cost=0.008),
    _rec(3, 2, "free", "mid", 300, task="math", p=0.55, cluster="b", attempts=1, tokens=(1000, 1000), cost=0.006),
    _rec(4, 3, "pro", "dear", 400, task="math", p=0.85, cluster="b", attempts=1, tokens=(1000, 1000), cost=0.03),
    _rec(5, 4, "pro", "cheap", 100, task="open_qa", p=0.20, cluster="a", attempts=1, tokens=(4000, 0), cost=0.004),
    _rec(6, 5, "pro", "mid", 100, task="open_qa", p=0.60, cluster="b", attempts=1, tokens=(500, 250), cost=0.002),
    _rec(7, 25, "pro", "dear", 500, task="code", p=0.90, cluster="b", attempts=1, tokens=(10000, 5000), cost=0.2),
    _rec(8, 26, "free", "cheap", 100, task="open_qa", p=0.10, cluster="a", attempts=1, tokens=(100, 100), cost=0.0003),
    _rec(9, 27, "free", "mid", 200, task="math", p=0.70, cluster="b", attempts=1, tokens=(3000, 2000), cost=0.014),
    _rec(10, 28, "free", None, 50, status=413, error_code="input_too_large", reason="budget"),
    _rec(
        11,
        29,
        "free",
        "cheap",
        25000,
        cluster="a",
        attempts=1,
        tokens=(1000, 1000),
        cost=0.003,
        reason="deadline",
        error_code="deadline",
    ),
    _rec(12, 30, "pro", "mid", 100, task="summarization", p=0.50, cluster="b", attempts=2, status=503),
    _rec(13, 30, "pro", "cheap", 100, task="classification", p=0.40, cluster="a", attempts=1, status=400),
    _rec(14, 30.5, "pro", "cheap", 100, task="open_qa", p=0.05, cluster="a", attempts=1, tokens=(50, 0), cost=0.00005),
]


def _event(n: int, decision: str, signal: str, value: float, kind: str = "feedback") -> dict[str, Any]:
    return {
        "event_id": f"e{n:02d}",
        "decision_id": decision,
        "time_unix_ms": T0 + 40 * H + n,
        "kind": kind,
        "signal": signal,
        "value": value,
    }


EVENTS: list[dict[str, Any]] = [
    _event(1, "d01", "thumbs_up", 1.0),
    _event(2, "d01", "score", 0.5),
    _event(3, "d04", "thumbs_down", 0.0),
    _event(4, "d07", "score", 0.9),
    _event(5, "d08", "retried", 0.0, kind="implicit"),
    _event(6, "d09", "accepted", 1.0),
    _event(7, "d10", "thumbs_down", 0.0),  # on a refused request: no cost, not on the curve
    _event(8, "zz", "thumbs_up", 1.0),  # an unknown decision: joins nothing
]

REFERENCE: dict[str, Any] = {
    "format": "triage-drift-reference/1",
    "classifier_version": "v1",
    "sample": "hand-made",
    "n": 100,
    "task_shares": {"code": 0.5, "math": 0.25, "open_qa": 0.25},
    "p_strong": {"edges": [0.0, 0.5, 1.0], "shares": [0.5, 0.5]},
}
