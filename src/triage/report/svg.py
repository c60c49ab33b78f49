"""Small inline SVG charts for the HTML report: no library, no script, no external reference.

Each function returns one ``<svg>`` element (no ``xmlns``: inline SVG in HTML needs none, and the page then names
no URL at all). Text is escaped here; callers pass plain strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

W, H = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 70, 130, 14, 44
PALETTE = ("#3b6fb6", "#e08a2e", "#4b9e5a", "#c24d4d", "#8161b3", "#8a6d3b", "#d16aa6", "#6b6b6b", "#2aa3a3")


def color(keys: Sequence[str]) -> dict[str, str]:
    """A stable colour per key (in the order given)."""
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}


def nice_ticks(top: float, n: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / n
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 2.5, 5, 10) if m * base >= raw)
    count = math.ceil(top / step - 1e-9)
    return [i * step for i in range(count + 1)]


def _fmt(v: float, unit: str) -> str:
    if unit == "$":
        if v == 0:
            return "$0"
        return f"${v:,.0f}" if v >= 100 else f"${v:.2f}" if v >= 0.1 else f"${v:.3g}"
    if unit == "%":
        return f"{v * 100:.0f}%"
    return f"{v:.3g}"


def _frame(
    x_labels: Sequence[tuple[float, str]], y_ticks: Sequence[float], y_to: Callable[[float], float], unit: str
) -> list[str]:
    out = [f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" class="axis"/>']
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" class="axis"/>')
    for v in y_ticks:
        y = y_to(v)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_fmt(v, unit))}</text>')
    for x, label in x_labels:
        out.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>')
    return out


def _legend(colors: Mapping[str, str]) -> list[str]:
    out = []
    for i, (k, c) in enumerate(colors.items()):
        y = TOP + 6 + i * 18
        out.append(f'<rect x="{W - RIGHT + 12}" y="{y}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{W - RIGHT + 30}" y="{y + 10}">{escape(k)}</text>')
    return out


def _svg(body: Sequence[str], title: str) -> str:
    return (
        f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _x_labels(labels: Sequence[str], x_at: Callable[[int], float], most: int = 8) -> list[tuple[float, str]]:
    if not labels:
        return []
    step = max(1, math.ceil(len(labels) / most))
    return [(x_at(i), labels[i]) for i in range(0, len(labels), step)]


def stacked_area(
    labels: Sequence[str], keys: Sequence[str], values: Mapping[tuple[int, str], float], title: str, unit: str = "$"
) -> str:
    """Series ``keys`` stacked over the buckets ``labels`` (``values[(i, key)]``): an area per key (a bar when
    there is a single bucket)."""
    n = len(labels)
    colors = color(keys)
    totals = [sum(values.get((i, k), 0.0) for k in keys) for i in range(n)]
    ticks = nice_ticks(max(totals, default=0.0))
    top = ticks[-1]
    width = W - LEFT - RIGHT

    def x_at(i: int) -> float:
        return LEFT + (width * (i + 0.5) / n if n == 1 else width * i / (n - 1))

    def y_to(v: float) -> float:
        return H - BOTTOM - (H - TOP - BOTTOM) * (v / top if top else 0.0)

    body = _frame(_x_labels(labels, x_at), ticks, y_to, unit)
    lower = [0.0] * n
    for k in keys:
        upper = [lower[i] + values.get((i, k), 0.0) for i in range(n)]
        if n == 1:
            x = x_at(0) - 20
            body.append(
                f'<rect x="{x:.1f}" y="{y_to(upper[0]):.1f}" width="40" '
                f'height="{y_to(lower[0]) - y_to(upper[0]):.1f}" fill="{colors[k]}"/>'
            )
        else:
            pts = [(x_at(i), y_to(upper[i])) for i in range(n)] + [
                (x_at(i), y_to(lower[i])) for i in reversed(range(n))
            ]
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            body.append(
                f'<polygon points="{path}" fill="{colors[k]}" fill-opacity="0.85"><title>{escape(k)}</title></polygon>'
            )
        lower = upper
    body += _legend(colors)
    return _svg(body, title)


def share_bars(labels: Sequence[str], keys: Sequence[str], values: Mapping[tuple[int, str], float], title: str) -> str:
    """100%-stacked bars: each bucket's split between ``keys``."""
    n = len(labels)
    colors = color(keys)
    width = W - LEFT - RIGHT
    slot = width / max(n, 1)

    def x_at(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    def y_to(v: float) -> float:
        return H - BOTTOM - (H - TOP - BOTTOM) * v

    body = _frame(_x_labels(labels, x_at), [0.0, 0.25, 0.5, 0.75, 1.0], y_to, "%")
    bar = max(slot * 0.8, 0.5)
    for i in range(n):
        total = sum(values.get((i, k), 0.0) for k in keys)
        acc = 0.0
        for k in keys:
            share = values.get((i, k), 0.0) / total if total else 0.0
            if share <= 0:
                continue
            body.append(
                f'<rect x="{x_at(i) - bar / 2:.1f}" y="{y_to(acc + share):.1f}" width="{bar:.1f}" '
                f'height="{y_to(acc) - y_to(acc + share):.1f}" fill="{colors[k]}"/>'
            )
            acc += share
    body += _legend(colors)
    return _svg(body, title)


def scatter(
    groups: Mapping[str, Sequence[tuple[float, float, int]]],
    line: Sequence[tuple[float, float]],
    title: str,
    colors: Mapping[str, str] | None = None,
) -> str:
    """Points ``(mean cost, mean value, count)`` per group (radius by count; ``colors`` per group, e.g. the routes'
    colours of the other charts), and a line through ``line`` (cost buckets). The cost axis is logarithmic when the
    costs span more than a factor of 20."""
    xs = [x for pts in groups.values() for x, _, _ in pts] + [x for x, _ in line]
    xs = [x for x in xs if x > 0] or [1e-6, 1e-3]
    lo, hi = min(xs), max(xs)
    log = hi / lo > 20
    lo_t: float
    hi_t: float
    if log:
        lo_t, hi_t = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    else:
        lo_t, hi_t = 0.0, nice_ticks(hi)[-1]
    width = W - LEFT - RIGHT

    def x_to(v: float) -> float:
        t = math.log10(max(v, 10**lo_t)) if log else v
        return LEFT + width * (t - lo_t) / ((hi_t - lo_t) or 1)

    def y_to(v: float) -> float:
        return H - BOTTOM - (H - TOP - BOTTOM) * v

    if log:
        ticks = [(x_to(10.0**e), _fmt(10.0**e, "$")) for e in range(int(lo_t), int(hi_t) + 1)]
    else:
        ticks = [(x_to(v), _fmt(v, "$")) for v in nice_ticks(hi)]
    body = _frame(ticks, [0.0, 0.25, 0.5, 0.75, 1.0], y_to, "")
    body.append(
        f'<text x="{LEFT + width / 2:.0f}" y="{H - 6}" text-anchor="middle">mean cost per request'
        f"{' (log scale)' if log else ''}</text>"
    )
    if len(line) > 1:
        path = " ".join(f"{x_to(x):.1f},{y_to(y):.1f}" for x, y in line)
        body.append(f'<polyline points="{path}" class="curve"/>')
    for x, y in line:
        body.append(f'<circle cx="{x_to(x):.1f}" cy="{y_to(y):.1f}" r="3" fill="#333"/>')
    given = dict(colors or {})
    others = [g for g in groups if g not in given]
    colors = {**given, **{g: PALETTE[(len(given) + i) % len(PALETTE)] for i, g in enumerate(others)}}
    colors = {g: colors[g] for g in groups}
    body.append(
        f'<text x="14" y="{TOP + (H - TOP - BOTTOM) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + (H - TOP - BOTTOM) / 2:.0f})">mean value (0..1)</text>'
    )
    biggest = max((c for pts in groups.values() for _, _, c in pts), default=1)
    for g, pts in groups.items():
        for x, y, c in pts:
            r = 4 + 10 * math.sqrt(c / biggest)
            body.append(
                f'<circle cx="{x_to(x):.1f}" cy="{y_to(y):.1f}" r="{r:.1f}" fill="{colors[g]}" fill-opacity="0.8">'
                f"<title>{escape(g)}: {c} requests, mean value {y:.3f}</title></circle>"
            )
    body += _legend({**colors, "cost quintiles": "#333"})
    return _svg(body, title)


def lorenz(curve: Sequence[float], title: str) -> str:
    """The share of spend (y) in the dearest share of requests (x), with the line of equal costs and marks at the
    top 1% and 10%."""
    width = W - LEFT - RIGHT

    def x_to(v: float) -> float:
        return LEFT + width * v

    def y_to(v: float) -> float:
        return H - BOTTOM - (H - TOP - BOTTOM) * v

    ticks = [(x_to(v), f"{v * 100:.0f}%") for v in (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 1.0) if v not in (0.01,)]
    body = _frame(ticks, [0.0, 0.25, 0.5, 0.75, 1.0], y_to, "%")
    body.append(f'<line x1="{x_to(0)}" y1="{y_to(0)}" x2="{x_to(1)}" y2="{y_to(1)}" class="grid"/>')
    n = len(curve) - 1
    if n > 0:
        path = " ".join(f"{x_to(i / n):.1f},{y_to(v):.1f}" for i, v in enumerate(curve))
        body.append(f'<polyline points="{path}" class="curve" stroke="{PALETTE[0]}"/>')
        for p in (1, 10):
            if p <= n:
                x, y = x_to(p / n), y_to(curve[p])
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{PALETTE[3]}"/>')
                body.append(f'<text x="{x + 8:.1f}" y="{y + 14:.1f}">top {p}%: {curve[p] * 100:.0f}% of spend</text>')
    body.append(
        f'<text x="{LEFT + width / 2:.0f}" y="{H - 6}" text-anchor="middle">share of requests, dearest first</text>'
    )
    return _svg(body, title)
