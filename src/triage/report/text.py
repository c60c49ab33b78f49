"""The report as terminal tables (``triage report``'s default output)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from triage.report.build import DIMENSIONS, Point, Report, bucket_label, iso


def money(x: float) -> str:
    """Dollars with the precision the amount needs (tiny per-request costs stay readable)."""
    sign = "-" if x < 0 else ""
    a = abs(x)
    if a < 1e-12:  # zero, or the float noise of a difference of equal sums
        return "$0"
    if a >= 100:
        return f"{sign}${a:,.0f}"
    if a >= 1:
        return f"{sign}${a:,.2f}"
    if a >= 0.0001:
        return f"{sign}${a:.4f}"
    return f"{sign}${a:.2e}"


def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}%"


def count(n: float) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.1f}M"
    return f"{n:,.0f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Aligned columns: the first left-aligned, the others right-aligned."""
    widths = (
        [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
        if rows
        else [len(h) for h in headers]
    )
    out = []
    for row in (headers, *rows):
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append(indent + "  ".join(cells).rstrip())
    return out


def pivot(points: Sequence[Point], value: str) -> tuple[list[int], list[str], dict[tuple[int, str], float]]:
    """A series as (buckets, keys by total descending, {(bucket, key): value})."""
    cells: dict[tuple[int, str], float] = {}
    totals: dict[str, float] = defaultdict(float)
    for p in points:
        v = float(getattr(p, value))
        cells[(p.bucket_ms, p.key)] = v
        totals[p.key] += v
    buckets = sorted({p.bucket_ms for p in points})
    keys = sorted(totals, key=lambda k: (-totals[k], k))
    return buckets, keys, cells


Table = tuple[list[str], list[list[str]]]  # headers and rows: rendered as text here, as HTML by ``report.html``


def savings_table(rep: Report) -> Table:
    rows = [
        [
            s.description,
            money(s.counterfactual_usd),
            money(s.actual_usd),
            money(s.gross_usd),
            money(s.router_usd),
            money(s.net_usd),
            pct(s.net_share),
        ]
        for s in rep.savings
    ]
    return ["against", "would cost", "spent", "saved", "router", "net saved", "net %"], rows


def rates_table(rep: Report) -> Table:
    rows = [[r.name.replace("_", " "), pct(r.rate, 2), count(r.count), count(r.of), r.note] for r in rep.rates]
    return ["rate", "value", "count", "of", "what"], rows


def breakdown_table(rep: Report, dim: str) -> Table:
    rows = [
        [x.key, count(x.requests), money(x.cost_usd), pct(x.share), count(x.input_tokens), count(x.output_tokens)]
        for x in rep.breakdowns[dim]
    ]
    return [dim, "requests", "spend", "share", "in tokens", "out tokens"], rows


def tail_table(rep: Report) -> Table:
    tl = rep.tail

    def routes(d: dict[str, dict[str, float]]) -> str:
        return ", ".join(f"{k} {count(v['requests'])} ({money(v['cost_usd'])})" for k, v in d.items()) or "—"

    rows = [
        ["top 1%", count(tl.top1_requests), pct(tl.top1_share), routes(tl.top1_routes)],
        ["top 10%", count(tl.top10_requests), pct(tl.top10_share), routes(tl.top10_routes)],
    ]
    return ["slice", "requests", "share of spend", "routes taken"], rows


def quality_table(rep: Report) -> Table:
    q = rep.quality
    rows = [["route " + p.label, count(p.requests), money(p.mean_cost_usd), f"{p.mean_value:.3f}"] for p in q.by_route]
    rows += [
        [
            f"cost {p.label} ({money(p.cost_from_usd)}–{money(p.cost_to_usd)})",
            count(p.requests),
            money(p.mean_cost_usd),
            f"{p.mean_value:.3f}",
        ]
        for p in q.by_cost
    ]
    return ["group", "requests", "mean cost", "mean value (0..1)"], rows


def render_text(rep: Report) -> str:
    t = rep.totals
    lines: list[str] = []
    span = f"{iso(rep.first_ms) or '—'} → {iso(rep.last_ms) or '—'}"
    asked = ""
    if rep.since_ms is not None or rep.until_ms is not None:
        asked = f" (asked: {iso(rep.since_ms) or 'start'} → {iso(rep.until_ms) or 'end'})"
    lines.append(f"triage report · store {rep.store or '(given)'} · prices from {rep.config}")
    lines.append(f"window {span}{asked} · by {rep.by}")
    lines.append("")
    if not t.requests:
        lines.append("No decision records in this window.")
        return "\n".join(lines) + "\n"
    lines.append(
        f"{count(t.requests)} requests · {count(t.with_usage)} with token usage · spend {money(t.cost_usd)} · "
        f"tokens in {count(t.input_tokens)} / out {count(t.output_tokens)} · router CPU {rep.router_cpu_s:,.2f} s "
        f"at {money(rep.core_hour_usd)}/core-hour = {money(rep.router_cost_usd)}"
    )
    lines.append("")
    lines.append(
        "Savings, net of the router's own cost (counterfactuals: the tokens each request used, first-step price)"
    )
    lines += table(*savings_table(rep))
    lines.append("")
    lines.append("Rates")
    lines += table(*rates_table(rep))
    for dim in DIMENSIONS:
        lines.append("")
        lines.append(f"Spend by {dim}")
        lines += table(*breakdown_table(rep, dim))
    buckets, keys, cost = pivot(rep.series["route"], "cost_usd")
    _, _, reqs = pivot(rep.series["route"], "requests")
    lines.append("")
    lines.append(f"Spend per {rep.by} by route, and route shares of requests")
    rows = []
    for b in buckets:
        total = sum(reqs.get((b, k), 0.0) for k in keys)
        row = [bucket_label(b, rep.by)]
        row += [money(cost.get((b, k), 0.0)) for k in keys]
        row += [money(sum(cost.get((b, k), 0.0) for k in keys))]
        row += [pct(reqs.get((b, k), 0.0) / total if total else None, 0) for k in keys]
        rows.append(row)
    lines += table([rep.by, *keys, "total", *[f"{k} %" for k in keys]], rows)
    tl = rep.tail
    lines.append("")
    lines.append(f"Heavy tail ({count(tl.priced)} requests with a cost)")

    lines += table(*tail_table(rep))
    q = rep.quality
    lines.append("")
    if q.requests:
        lines.append(
            f"Cost vs quality ({count(q.requests)} requests with {count(q.events)} feedback or implicit events)"
        )
        lines += table(*quality_table(rep))
    else:
        lines.append("Cost vs quality: no feedback in this window")
    lines.append("")
    d = rep.drift
    if d is None:
        lines.append("Drift: no classified requests")
    else:
        lines.append(f"Drift: {d.verdict.upper()} — {d.why}")
        lines += table(
            ["distribution", "PSI", "reading", "n window", "n reference"],
            [
                ["task", _psi(d.tasks.psi), d.tasks.verdict, count(d.n_window), count(d.n_reference)],
                ["p_strong", _psi(d.p_strong.psi), d.p_strong.verdict, count(d.n_window), count(d.n_reference)],
            ],
        )
        lines.append("  PSI < 0.1 stable · 0.1–0.25 watch · > 0.25 retrain (`triage train`, then shadow the candidate)")
        lines += [f"  note: {n}" for n in d.notes]
    if rep.notes:
        lines.append("")
        lines += [f"note: {n}" for n in rep.notes]
    return "\n".join(lines) + "\n"


def _psi(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"
