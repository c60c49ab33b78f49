"""``triage demo``: the local stack, the built-in prompt mix sent through Envoy, a table, the totals."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from triage.config import TriageConfig, load_config
from triage.sim.jwt import mint_token
from triage.sim.prompts import DEMO_PROMPTS, DemoPrompt
from triage.sim.stack import LocalStack, StackError, stop_on_signals


def _widest_tier(cfg: TriageConfig) -> str:
    return max(cfg.tiers, key=lambda t: (len(cfg.tiers[t].routes), t == cfg.default_tier))


def _send(url: str, prompt: DemoPrompt, token: str | None) -> tuple[int, dict[str, str], dict[str, Any]]:
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    messages.append({"role": "user", "content": prompt.text})
    body = json.dumps({"model": "auto", "messages": messages}).encode()
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url + "/v1/chat/completions", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, json.loads(err.read() or b"{}")


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def run_demo(config_path: Path | None) -> int:
    cfg = load_config(config_path)
    tier = _widest_tier(cfg) if cfg.tiers else None
    print(f"starting the local stack (fake providers, Triage, Envoy) and sending {len(DEMO_PROMPTS)} prompts ...")
    try:
        with stop_on_signals(), LocalStack(config=cfg) as stack:
            jwt = cfg.envoy.jwt
            token = None
            if jwt is not None and jwt.hmac_secret is not None and tier is not None:
                token = mint_token(jwt.hmac_secret, jwt.issuer, {"tier": tier})
            sent = [(p, *_send(stack.envoy_url, p, token)) for p in DEMO_PROMPTS]
            records = {}
            for _, _, headers, _ in sent:
                decision_id = headers.get("x-triage-decision-id")
                if decision_id:
                    records[decision_id] = stack.wait_for_decision(decision_id)
    except StackError as err:
        print(f"triage demo: {err}", file=sys.stderr)
        return 1
    return _report(cfg, tier, sent, records)


def _report(
    cfg: TriageConfig,
    tier: str | None,
    sent: list[tuple[DemoPrompt, int, dict[str, str], dict[str, Any]]],
    records: dict[str, dict[str, Any]],
) -> int:
    top_route = max(cfg.routes, key=lambda r: cfg.routes[r].price.input_per_mtok + cfg.routes[r].price.output_per_mtok)
    top_price = cfg.routes[top_route].price
    header = (
        f"{'#':>2}  {'prompt':<44} {'task':<16} {'P(strong)':>9} {'route':<9} {'answered by':<12} "
        f"{'tokens':>9} {'cost $':>10} {'router':>8}"
    )
    print(f"\ntier: {tier or cfg.default_tier}\n")
    print(header)
    print("-" * len(header))
    total = baseline = 0.0
    failures = agreed = 0
    per_route: dict[str, int] = {}
    for i, (prompt, status, headers, _) in enumerate(sent, 1):
        rec = records.get(headers.get("x-triage-decision-id", ""), {})
        if status != 200:
            failures += 1
        route = rec.get("route", "-")
        per_route[route] = per_route.get(route, 0) + 1
        tokens_in, tokens_out = rec.get("input_tokens") or 0, rec.get("output_tokens") or 0
        cost = rec.get("cost_usd") or 0.0
        total += cost
        baseline += top_price.cost(tokens_in, tokens_out)
        agreed += rec.get("task") == prompt.task
        p_strong = rec.get("p_strong")
        latency = rec.get("router_latency_us")
        print(
            f"{i:>2}  {_clip(prompt.text, 44):<44} {rec.get('task') or '-':<16} "
            f"{'-' if p_strong is None else f'{p_strong:.2f}':>9} {route:<9} "
            f"{rec.get('cluster') or str(status):<12} {f'{tokens_in}/{tokens_out}':>9} {cost:>10.6f} "
            f"{'-' if latency is None else f'{latency / 1000:.2f} ms':>8}"
        )
    print("-" * len(header))
    saved = 100 * (1 - total / baseline) if baseline else 0.0
    mix = ", ".join(f"{r} {n}" for r, n in sorted(per_route.items()))
    print(f"routes: {mix}")
    print(f"total cost ${total:.6f} vs ${baseline:.6f} with everything on {top_route}: {saved:.1f}% saved")
    print(f"task label agreed with the demo's own label on {agreed}/{len(sent)} prompts")
    if failures:
        print(f"{failures} request(s) failed", file=sys.stderr)
        return 1
    return 0
