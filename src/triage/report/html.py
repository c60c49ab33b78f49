"""The report as one self-contained HTML page: inline CSS and inline SVG (``triage.report.svg``), no script, no
external reference of any kind, so the file can be mailed, archived or opened offline."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from triage.report import svg
from triage.report.build import DIMENSIONS, Report, bucket_label, iso
from triage.report.text import (
    breakdown_table,
    count,
    money,
    pct,
    pivot,
    quality_table,
    rates_table,
    savings_table,
    tail_table,
)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;margin:0 0 16px}table{border-collapse:collapse;margin:6px 0 12px}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f6f6f6;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:19px}.note{color:#666;font-size:13px}
.verdict{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.stable{background:#4b9e5a}.watch{background:#e08a2e}.retrain{background:#c24d4d}.no-data{background:#888}.too-few{background:#888}
svg{max-width:100%;height:auto;font-size:11px;fill:#333}svg .axis{stroke:#888}svg .grid{stroke:#eee}
svg .curve{fill:none;stroke:#333;stroke-width:2}.grid2{display:grid;grid-template-columns:1fr 1fr;gap:0 24px}
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(label: str, value: str) -> str:
    return f'<div class="card">{escape(label)}<b>{escape(value)}</b></div>'


def render_html(rep: Report) -> str:
    t = rep.totals
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>triage report {escape(iso(rep.first_ms) or '')}</title><style>{CSS}</style></head><body>",
        "<h1>triage report</h1>",
        f'<p class="meta">store {escape(rep.store or "(given)")} · prices from {escape(rep.config)} · window '
        f"{escape(iso(rep.first_ms) or '—')} → {escape(iso(rep.last_ms) or '—')} · by {rep.by}</p>",
    ]
    if not t.requests:
        parts.append("<p>No decision records in this window.</p></body></html>")
        return "".join(parts)
    best = rep.savings[0]
    parts.append('<div class="cards">')
    parts += [
        _card("requests", count(t.requests)),
        _card("spend", money(t.cost_usd)),
        _card("net saved vs dearest allowed", money(best.net_usd)),
        _card(
            f"net saved vs {rep.savings[1].description.rsplit('(', 1)[-1].rstrip(')')}", money(rep.savings[1].net_usd)
        ),
        _card("router's own cost", money(rep.router_cost_usd)),
    ]
    parts += [_card(f"{r.name.replace('_', ' ')} rate", pct(r.rate, 2)) for r in rep.rates]
    if rep.drift is not None:
        parts.append(_card("drift", rep.drift.verdict))
    parts.append("</div>")

    parts.append("<h2>Savings, net of the router's own cost</h2>")
    parts.append(_table(*savings_table(rep)))
    parts.append(
        f'<p class="note">Counterfactuals price the tokens each request actually used at the counterfactual route\'s '
        f"first-step price. The router's cost: {rep.router_cpu_s:,.2f} CPU seconds (the decisions' "
        f"router_latency_us) at {money(rep.core_hour_usd)} per core-hour.</p>"
    )

    buckets, keys, cost = pivot(rep.series["route"], "cost_usd")
    _, _, reqs = pivot(rep.series["route"], "requests")
    labels = [bucket_label(b, rep.by) for b in buckets]
    index = {b: i for i, b in enumerate(buckets)}
    by_i = {(index[b], k): v for (b, k), v in cost.items()}
    req_i = {(index[b], k): v for (b, k), v in reqs.items()}
    parts.append(f"<h2>Cost over time by route (per {rep.by})</h2>")
    parts.append(svg.stacked_area(labels, keys, by_i, f"spend per {rep.by} by route"))
    parts.append(f"<h2>Route shares of requests (per {rep.by})</h2>")
    parts.append(svg.share_bars(labels, keys, req_i, f"route shares per {rep.by}"))

    tl = rep.tail
    parts.append("<h2>The heavy tail</h2>")
    parts.append(svg.lorenz(tl.lorenz, "share of spend in the dearest requests"))

    parts.append(_table(*tail_table(rep)))

    q = rep.quality
    parts.append("<h2>Cost vs quality</h2>")
    if q.requests:
        groups = {p.label: [(p.mean_cost_usd, p.mean_value, p.requests)] for p in q.by_route}
        line = [(p.mean_cost_usd, p.mean_value) for p in q.by_cost]
        parts.append(svg.scatter(groups, line, "mean feedback value against mean cost", svg.color(keys)))
        parts.append(_table(*quality_table(rep)))
        parts.append(
            f'<p class="note">{count(q.requests)} requests with {count(q.events)} feedback or implicit events; a '
            "request's value is the mean of its events' values (1 = a good answer).</p>"
        )
    else:
        parts.append('<p class="note">No feedback or implicit signal on this window\'s requests.</p>')

    parts.append("<h2>Rates</h2>")
    parts.append(_table(*rates_table(rep)))

    d = rep.drift
    parts.append("<h2>Drift</h2>")
    if d is None:
        parts.append('<p class="note">No classified requests in this window.</p>')
    else:
        cls = d.verdict.replace(" ", "-")
        parts.append(f'<p><span class="verdict {cls}">{escape(d.verdict)}</span> {escape(d.why)}</p>')
        parts.append('<div class="grid2"><div>')
        parts.append(
            _table(
                ["task", "reference", "window", "PSI term"],
                [[s.bin, pct(s.expected), pct(s.actual), f"{s.term:.4f}"] for s in d.tasks.shifts],
            )
        )
        parts.append("</div><div>")
        parts.append(
            _table(
                ["p_strong bin", "reference", "window", "PSI term"],
                [[s.bin, pct(s.expected), pct(s.actual), f"{s.term:.4f}"] for s in d.p_strong.shifts],
            )
        )
        parts.append("</div></div>")
        parts.append(
            '<p class="note">PSI &lt; 0.1 stable · 0.1–0.25 watch · &gt; 0.25 retrain. '
            + " ".join(escape(n) for n in d.notes)
            + "</p>"
        )

    for dim in DIMENSIONS:
        parts.append(f"<h2>Spend and tokens by {escape(dim)}</h2>")
        parts.append(_table(*breakdown_table(rep, dim)))
    parts.append(f"<h2>Spend per {rep.by} by route</h2>")
    parts.append(
        _table(
            [rep.by, *keys, "total"],
            [
                [label, *[money(cost.get((b, k), 0.0)) for k in keys], money(sum(cost.get((b, k), 0.0) for k in keys))]
                for b, label in zip(buckets, labels, strict=True)
            ],
        )
    )
    if rep.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in rep.notes) + "</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)
