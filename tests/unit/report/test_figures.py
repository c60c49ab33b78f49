"""Every figure of the report on the hand-computed store (``small_store``): spend, both savings net of the router's
cost, the tail, the rates, cost vs quality and the drift check, each worked out by hand from the table there."""

from __future__ import annotations

import math

import pytest

from tests.unit.report.small_store import REFERENCE, T0
from triage.config import TriageConfig
from triage.report.build import Report, build_report
from triage.report.drift import EPSILON, DriftReference
from triage.report.sql import Window
from triage.store.query import StoreReader

SPEND = 0.002 + 0.008 + 0.006 + 0.03 + 0.004 + 0.002 + 0.2 + 0.0003 + 0.014 + 0.003 + 0.00005  # 0.26935
ROUTER_US = 100 + 200 + 300 + 400 + 100 + 100 + 500 + 100 + 200 + 50 + 25000 + 100 + 100 + 100  # 27350
ROUTER_USD = ROUTER_US * 1e-9  # 3.6 $/core-hour = 1e-9 $/µs
# (b) every request with tokens on cheap's first step (1/2 per Mtok)
CF_DEFAULT = (2000 + 4000 + 3000 + 3000 + 4000 + 1000 + 20000 + 300 + 7000 + 3000 + 50) / 1e6  # 0.04735
# (a) free → mid (2/4) is the dearest it may use; pro → dear (10/20)
CF_FREE = (4000 + 8000 + 6000 + 600 + 14000 + 6000) / 1e6  # d01 d02 d03 d08 d09 d11
CF_PRO = (30000 + 40000 + 10000 + 200000 + 500) / 1e6  # d04 d05 d06 d07 d14
CF_MAX = CF_FREE + CF_PRO  # 0.3191


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-9, abs=1e-12)


@pytest.fixture
def report(small_store: StoreReader, small_config: TriageConfig) -> Report:
    return build_report(small_store, small_config, reference=DriftReference.from_dict(REFERENCE))


def test_report_totals_spend_tokens_and_router_cost(report: Report) -> None:
    t = report.totals
    assert (t.requests, t.priced, t.with_usage, t.responded) == (14, 11, 11, 13)
    assert t.cost_usd == approx(SPEND)
    assert (t.input_tokens, t.output_tokens) == (23650, 11850)
    assert t.router_us == ROUTER_US
    assert report.router_cpu_s == approx(0.02735)
    assert report.router_cost_usd == approx(ROUTER_USD)
    assert (report.first_ms, report.last_ms) == (T0, T0 + int(30.5 * 3_600_000))


def test_report_spend_by_route_tier_provider_model_and_task(report: Report) -> None:
    def spend(dim: str) -> dict[str, tuple[int, float]]:
        return {x.key: (x.requests, round(x.cost_usd, 10)) for x in report.breakdowns[dim]}

    assert spend("route") == {"dear": (2, 0.23), "mid": (4, 0.022), "cheap": (7, 0.01735), "(none: refused)": (1, 0.0)}
    assert [x.key for x in report.breakdowns["route"]] == ["dear", "mid", "cheap", "(none: refused)"]
    assert spend("tier") == {"pro": (7, 0.23605), "free": (7, 0.0333)}
    assert spend("provider") == {"openai": (7, 0.26), "vllm": (6, 0.00935), "(no response)": (1, 0.0)}
    assert spend("model") == {"m-b": (7, 0.26), "m-a": (6, 0.00935), "(none)": (1, 0.0)}
    assert spend("task")["code"] == (3, 0.21)
    assert spend("task")["(not classified)"] == (2, 0.003)
    dear = report.breakdowns["route"][0]
    assert (dear.input_tokens, dear.output_tokens) == (11000, 6000)
    assert dear.share == approx(0.23 / SPEND)


def test_report_savings_net_of_router_cost(report: Report) -> None:
    dearest, default = report.savings
    assert dearest.counterfactual_usd == approx(CF_MAX)
    assert dearest.actual_usd == approx(SPEND)
    assert dearest.gross_usd == approx(0.04975)
    assert dearest.router_usd == approx(ROUTER_USD)
    assert dearest.net_usd == approx(0.04975 - 0.00002735)
    assert dearest.net_share == approx((0.04975 - 0.00002735) / 0.3191)
    assert default.counterfactual_usd == approx(CF_DEFAULT)
    assert default.net_usd == approx(0.04735 - SPEND - ROUTER_USD)  # routing spends more than cheap-for-all would
    assert default.description == "every request on the default route (cheap)"


def test_report_tail_shares_and_routes(report: Report) -> None:
    tail = report.tail
    # 11 priced requests: the top 1% is ceil(0.11) = 1 request (d07), the top 10% ceil(1.1) = 2 (d07, d04)
    assert (tail.priced, tail.top1_requests, tail.top10_requests) == (11, 1, 2)
    assert tail.top1_share == approx(0.2 / SPEND)
    assert tail.top10_share == approx(0.23 / SPEND)
    assert tail.top1_routes == {"dear": {"requests": 1, "cost_usd": approx(0.2)}}
    assert tail.top10_routes == {"dear": {"requests": 2, "cost_usd": approx(0.23)}}
    # rank r lands in percentile floor((r - 1) * 100 / 11): ranks 1, 2, 3 in 0, 9, 18
    assert tail.lorenz[1] == approx(0.2 / SPEND)
    assert tail.lorenz[10] == approx(0.23 / SPEND)
    assert tail.lorenz[19] == approx(0.244 / SPEND)
    assert tail.lorenz[100] == approx(1.0)
    assert len(tail.lorenz) == 101


def test_report_rates_fallback_rejection_escalation(report: Report) -> None:
    rates = {r.name: (r.count, r.of) for r in report.rates}
    # fallbacks: d02 and d12 (attempts 2) of the 13 that reached a provider; rejected: d10 only (d13's 400 is the
    # provider's own, d11 failed open)
    assert rates == {"fallback": (2, 13), "rejection": (1, 14), "escalation": (0, 14), "failed_open": (1, 14)}
    escalation = next(r for r in report.rates if r.name == "escalation")
    assert escalation.rate == 0.0
    assert "escalated" in escalation.note
    assert any("escalated" in n for n in report.notes)


def test_report_cost_vs_quality_per_route_and_cost_bucket(report: Report) -> None:
    q = report.quality
    assert (q.requests, q.events) == (5, 6)  # d10's event has no cost, zz joins nothing
    routes = {p.label: (p.requests, p.mean_cost_usd, p.mean_value) for p in q.by_route}
    assert routes == {
        "cheap": (2, approx((0.002 + 0.0003) / 2), approx((0.75 + 0.0) / 2)),
        "mid": (1, approx(0.014), approx(1.0)),
        "dear": (2, approx((0.03 + 0.2) / 2), approx((0.0 + 0.9) / 2)),
    }
    assert [p.label for p in q.by_route] == ["cheap", "mid", "dear"]  # cheapest first
    assert [(p.mean_cost_usd, p.mean_value) for p in q.by_cost] == [
        (approx(0.0003), approx(0.0)),
        (approx(0.002), approx(0.75)),
        (approx(0.014), approx(1.0)),
        (approx(0.03), approx(0.0)),
        (approx(0.2), approx(0.9)),
    ]


def _term(expected: float, actual: float) -> float:
    e, a = max(expected, EPSILON), max(actual, EPSILON)
    return (a - e) * math.log(a / e)


def test_report_drift_psi_against_a_given_reference(report: Report) -> None:
    d = report.drift
    assert d is not None
    assert (d.against, d.n_window, d.n_reference) == ("reference", 12, 100)
    # 12 classified: code 3, math 3, open_qa 4, summarization 1, classification 1 (the last two absent from it)
    task_psi = _term(0.5, 3 / 12) + _term(0.25, 3 / 12) + _term(0.25, 4 / 12) + 2 * _term(0.0, 1 / 12)
    assert d.tasks.psi == approx(task_psi)
    assert d.tasks.verdict == "retrain"  # ≈ 1.317
    # p_strong: 6 below 0.5 and 6 at or above (d12's 0.50 counts above), as the reference: PSI 0
    assert d.p_strong.psi == approx(0.0)
    assert d.p_strong.verdict == "stable"
    assert d.verdict == "too few"  # each PSI has its reading; 12 requests are too few for advice
    assert d.why.startswith("too few classified requests")
    assert d.tasks.shifts[0].bin in ("summarization", "classification")  # the largest terms first


def test_report_drift_without_reference_compares_the_halves(
    small_store: StoreReader, small_config: TriageConfig
) -> None:
    d = build_report(small_store, small_config, reference=None, reference_note="no reference here").drift
    assert d is not None
    assert d.against == "first half"
    # split at T0 + 15.25 h: d01–d06 (all classified) before, d07 d08 d09 d12 d13 d14 after
    assert (d.n_reference, d.n_window) == (6, 6)
    first = {"code": 2 / 6, "math": 2 / 6, "open_qa": 2 / 6}
    second = {"code": 1 / 6, "math": 1 / 6, "open_qa": 2 / 6, "summarization": 1 / 6, "classification": 1 / 6}
    labels = set(first) | set(second)
    assert d.tasks.psi == approx(sum(_term(first.get(t, 0.0), second.get(t, 0.0)) for t in labels))
    assert "no reference here" in d.notes
    assert any("first half" in n for n in d.notes)


def test_report_window_filters_records(small_store: StoreReader, small_config: TriageConfig) -> None:
    day2 = build_report(small_store, small_config, window=Window(since_ms=T0 + 24 * 3_600_000))
    assert day2.totals.requests == 8
    assert day2.totals.cost_usd == approx(0.2 + 0.0003 + 0.014 + 0.003 + 0.00005)
    day1 = build_report(small_store, small_config, window=Window(until_ms=T0 + 24 * 3_600_000))
    assert day1.totals.requests == 6
    assert day1.totals.cost_usd == approx(0.052)
    assert day1.quality.requests == 2  # d01, d04


def test_report_by_hour_and_day_buckets(small_store: StoreReader, small_config: TriageConfig) -> None:
    by_day = build_report(small_store, small_config, by="day")
    assert by_day.buckets == [T0, T0 + 24 * 3_600_000]
    day_spend = {}
    for p in by_day.series["route"]:
        day_spend[p.bucket_ms] = day_spend.get(p.bucket_ms, 0.0) + p.cost_usd
    assert day_spend == {T0: approx(0.052), T0 + 24 * 3_600_000: approx(0.21735)}
    by_hour = build_report(small_store, small_config, by="hour")
    assert len(by_hour.buckets) == 12  # hours 0-5 and 25-30 (d12, d13, d14 share hour 30)
