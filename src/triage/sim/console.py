"""What ``triage run`` prints: where to send requests, and one line per decision."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from triage.sim.jwt import mint_token

if TYPE_CHECKING:
    from triage.sim.stack import LocalStack


def describe_stack(stack: LocalStack) -> str:
    cfg = stack.running_config
    assert cfg is not None
    lines = [
        "",
        f"Triage is routing behind Envoy at {stack.envoy_url}",
        "",
        "  providers (fake, on 127.0.0.1):",
    ]
    for name, provider in stack.providers.items():
        lines.append(f"    {name:<8} :{provider.port}")
    lines += ["", "  routes:"]
    for name, route in cfg.routes.items():
        chain = " → ".join(f"{e.cluster}/{e.model}" for e in route.chain)
        price = f"${route.price.input_per_mtok:.2f}/${route.price.output_per_mtok:.2f} per Mtok in/out"
        lines.append(f"    {name:<9} {chain}   ({price})")
    lines += [
        "",
        "  try:",
        f"    curl -s {stack.envoy_url}/v1/chat/completions -H 'content-type: application/json' \\",
        """      -d '{"model":"auto","messages":[{"role":"user","content":"Prove that sqrt(2) is irrational."}]}'""",
        "  (curl -si shows x-triage-route and x-triage-decision-id among the response headers)",
    ]
    jwt = cfg.envoy.jwt
    if jwt is not None and jwt.hmac_secret is not None:
        tiers = ", ".join(f"{t} (default)" if t == cfg.default_tier else t for t in cfg.tiers)
        widest = max(cfg.tiers, key=lambda t: len(cfg.tiers[t].routes))
        token = mint_token(jwt.hmac_secret, jwt.issuer, {"tier": widest}, ttl_s=7 * 24 * 3600)
        lines += [
            f"  tiers: {tiers}. The tier comes from a verified JWT's 'tier' claim, never from a header;",
            f"  this demo token (tier={widest}, valid 7 days) allows every route:",
            f"    -H 'authorization: Bearer {token}'",
        ]
    first = next(iter(stack.providers.values()), None)
    if first is not None:
        lines += [
            "  make a provider misbehave (Envoy fails over; see the attempts in the decision lines):",
            f"""    curl -s -XPOST 127.0.0.1:{first.port}/_sim/faults -d '{{"fault": {{"status": 503}}}}'"""
            "   # also retry_after, delay_s, reset, close_after_chunks",
            f"    curl -s -XPOST 127.0.0.1:{first.port}/_sim/faults"
            """ -d '{"fault": {"answer": {"logprob_mean": -2}}}'"""
            "   # doubtful answers; also finish_reason, refusal, empty, invalid_json, words, text",
            f"    curl -s -XDELETE 127.0.0.1:{first.port}/_sim/faults     # healthy again",
        ]
    if cfg.feedback.enabled:
        lines += [
            "  feedback on a decision (ID: the x-triage-decision-id of a response):",
            f"    curl -s {stack.envoy_url}{cfg.feedback.http_path} -H 'content-type: application/json' \\",
            """      -d '{"decision_id": "ID", "signal": "thumbs_up", "idempotency_key": "any-new-key"}'""",
        ]
    metrics = stack.metrics_url()
    if metrics is not None:
        lines += [f"  Prometheus metrics: curl -s {metrics} | grep ^triage_"]
    if cfg.store.path is not None:
        lines += [f"  cost report from the decision store: triage report --store {cfg.store.path}  (make report)"]
    lines += [
        "",
        f"  files in {stack.dir}: triage.yaml (edit it: Triage reloads it), envoy.yaml (generated),",
        "    decisions.jsonl, store/ (the decision store), access.log and attempts.log (Envoy), triage.log, envoy.log,",
        "    provider-*.jsonl",
        "",
        "  Ctrl-C (or SIGTERM) stops everything. Decisions follow:",
        "",
    ]
    return "\n".join(lines)


def format_decision(record: dict[str, Any]) -> str:
    """One human line per decision record."""
    head = f"{record.get('decision_id', '?')[:8]} {record.get('endpoint', '')}"
    if record.get("route") is None:
        return f"{head}  rejected {record.get('status')} {record.get('error_code')}"
    task = record.get("task")
    scored = f" task={task} p_strong={record.get('p_strong')}" if task else ""
    outcome = (
        f" → {record.get('status')} {record.get('cluster', '?')} attempts={record.get('attempts', '?')}"
        f" tokens={record.get('input_tokens', '?')}/{record.get('output_tokens', '?')}"
        f" cost=${record.get('cost_usd', 0):.6f}"
    )
    esc = record.get("escalation")
    if isinstance(esc, dict):  # confidence escalation: what the check said, and whose answer the client got
        strong = esc.get("strong") or {}
        outcome += f" escalation={esc.get('outcome')} acceptable={esc.get('acceptable')}"
        if record.get("escalated"):
            outcome += f" → {esc.get('to')} {strong.get('status', '-')} answer={esc.get('answer')}"
    return (
        f"{head}  route={record['route']} ({record.get('reason')}){scored} tier={record.get('tier')}"
        f" {record.get('router_latency_us', '?')}µs{outcome}"
    )
