"""The pure policy: ``plan``, ``decide`` and ``strong_score``, from tables over a small configuration."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.unit.helpers import deep_merge
from triage import policy
from triage.classifier.base import TASK_LABELS, Scores
from triage.config import TriageConfig, parse_config
from triage.policy import Decision, Fault, Rejection, decide, plan, strong_score
from triage.requests.input import RoutingInput

CHEAP_PRICE = {"input_per_mtok": 0.1, "output_per_mtok": 0.2}
MID_PRICE = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}
STRONG_PRICE = {"input_per_mtok": 10.0, "output_per_mtok": 20.0}

BASE: dict[str, Any] = {
    "clusters": {
        "c-cheap": {"address": "127.0.0.1:9001"},
        "c-mid": {"address": "127.0.0.1:9002"},
        "c-strong": {"address": "127.0.0.1:9003"},
    },
    "routes": {
        "cheap": {"chain": [{"cluster": "c-cheap", "model": "cheap-model"}], "price": CHEAP_PRICE},
        "mid": {
            "chain": [{"cluster": "c-mid", "model": "mid-model"}, {"cluster": "c-cheap", "model": "cheap-model"}],
            "price": MID_PRICE,
        },
        "strong": {
            "chain": [{"cluster": "c-strong", "model": "strong-model"}, {"cluster": "c-mid", "model": "mid-model"}],
            "price": STRONG_PRICE,
        },
    },
    "default_route": "cheap",
    "default_tier": "std",
    "tiers": {
        "std": {"routes": ["cheap", "mid", "strong"], "timeout_ms": 30000, "max_output_tokens": 256},
        "nocheap": {"routes": ["mid", "strong"]},
        "solo": {"routes": ["mid"], "timeout_ms": 5000},
        "limited": {"routes": ["cheap", "mid"], "max_input_tokens": 100},
        "capped": {"routes": ["cheap", "mid", "strong"], "max_cost_usd": 0.005},
        "broke": {"routes": ["mid", "strong"], "max_cost_usd": 0.0000001},
    },
    "policy": {
        "ladder": [{"route": "cheap"}, {"route": "mid", "min_score": 0.4}, {"route": "strong", "min_score": 0.7}],
        "task_bias": {},
        "uncertainty": {"margin": 0.05, "escalate": True},
    },
}


def make_config(**overrides: Any) -> TriageConfig:
    return parse_config(deep_merge(BASE, overrides))


def make_input(input_chars: int = 4000, max_tokens: int | None = None) -> RoutingInput:
    return RoutingInput(api="openai.chat", prompt="q", input_chars=input_chars, max_tokens=max_tokens)


def make_scores(p_strong: float, task: str = "open_qa") -> Scores:
    return Scores(task_probs={label: (1.0 if label == task else 0.0) for label in TASK_LABELS}, p_strong=p_strong)


@dataclass(frozen=True)
class Case:
    id: str
    route: str
    reason: str
    p_strong: float | None = 0.1
    tier: str | None = "std"
    expected_tier: str | None = None
    input_chars: int = 4000
    max_tokens: int | None = None
    fault: Fault | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


CASES = [
    # the ladder
    Case("ladder-floor", "cheap", "classified", p_strong=0.1),
    Case("ladder-zero-score", "cheap", "classified", p_strong=0.0),
    Case("ladder-second-step", "mid", "classified", p_strong=0.5),
    Case("ladder-at-threshold-climbs", "mid", "classified", p_strong=0.4),
    Case("ladder-below-threshold-outside-margin", "cheap", "classified", p_strong=0.34),
    Case("ladder-top", "strong", "classified", p_strong=0.9),
    Case("ladder-certain", "strong", "classified", p_strong=1.0),
    # tiers limit the ladder
    Case("tier-without-first-step-floor", "mid", "classified", p_strong=0.05, tier="nocheap"),
    Case("tier-without-first-step-top", "strong", "classified", p_strong=0.9, tier="nocheap"),
    Case("tier-without-top-step", "mid", "classified", p_strong=0.95, tier="limited", input_chars=100),
    # uncertainty
    Case("uncertain-within-margin", "strong", "uncertain", p_strong=0.67),
    Case("uncertain-within-margin-lower-step", "mid", "uncertain", p_strong=0.37),
    Case("not-uncertain-outside-margin", "mid", "classified", p_strong=0.64),
    Case(
        "uncertainty-not-escalating",
        "mid",
        "classified",
        p_strong=0.67,
        overrides={"policy": {"uncertainty": {"margin": 0.05, "escalate": False}}},
    ),
    Case(
        "uncertainty-zero-margin",
        "mid",
        "classified",
        p_strong=0.69,
        overrides={"policy": {"uncertainty": {"margin": 0.0, "escalate": True}}},
    ),
    Case("uncertain-nothing-above-top", "strong", "classified", p_strong=0.99),
    Case("uncertain-limited-to-tier", "mid", "classified", p_strong=0.69, tier="limited", input_chars=100),
    # kill switch
    Case(
        "kill-switch-all-tiers",
        "strong",
        "kill_switch",
        p_strong=0.1,
        overrides={"kill_switch": {"route": "strong"}},
    ),
    Case(
        "kill-switch-without-scores",
        "cheap",
        "kill_switch",
        p_strong=None,
        tier="nocheap",
        overrides={"kill_switch": {"route": "cheap", "tiers": []}},
    ),
    Case(
        "kill-switch-listed-tier",
        "cheap",
        "kill_switch",
        p_strong=0.9,
        tier="nocheap",
        overrides={"kill_switch": {"route": "cheap", "tiers": ["nocheap"]}},
    ),
    Case(
        "kill-switch-other-tier-untouched",
        "strong",
        "classified",
        p_strong=0.9,
        overrides={"kill_switch": {"route": "cheap", "tiers": ["nocheap"]}},
    ),
    # forced and skipped
    Case("tier-forced", "mid", "tier_forced", p_strong=0.99, tier="solo"),
    Case("tier-forced-without-scores", "mid", "tier_forced", p_strong=None, tier="solo"),
    Case(
        "skip-small",
        "cheap",
        "skip_small",
        p_strong=0.99,
        input_chars=40,
        overrides={"policy": {"skip_below_tokens": 50}},
    ),
    Case(
        "skip-small-tier-without-first-step",
        "mid",
        "skip_small",
        p_strong=0.99,
        tier="nocheap",
        input_chars=40,
        overrides={"policy": {"skip_below_tokens": 50}},
    ),
    Case(
        "skip-small-not-small-enough",
        "strong",
        "classified",
        p_strong=0.99,
        input_chars=200,
        overrides={"policy": {"skip_below_tokens": 50}},
    ),
    # cost budgets
    Case("budget-downgrades-to-cheaper-route", "mid", "budget", p_strong=0.9, tier="capped"),
    Case("budget-fits", "cheap", "classified", p_strong=0.1, tier="capped"),
    Case(
        "budget-client-max-tokens-fits",
        "strong",
        "classified",
        p_strong=0.9,
        tier="capped",
        input_chars=400,
        max_tokens=100,
    ),
    # faults
    Case("fault-deadline", "cheap", "deadline", p_strong=None, fault="deadline"),
    Case("fault-error", "cheap", "error", p_strong=None, fault="error"),
    Case("fault-with-scores-still-fails-open", "cheap", "deadline", p_strong=0.9, fault="deadline"),
    Case("no-scores-no-fault-is-error", "cheap", "error", p_strong=None),
    Case("fault-default-not-allowed", "mid", "deadline", p_strong=None, tier="nocheap", fault="deadline"),
    Case("fault-error-default-not-allowed", "mid", "error", p_strong=None, tier="nocheap", fault="error"),
    # tiers
    Case("unknown-tier-uses-default", "mid", "classified", p_strong=0.5, tier="gold", expected_tier="std"),
    Case("no-tier-uses-default", "mid", "classified", p_strong=0.5, tier=None, expected_tier="std"),
    Case("empty-tier-uses-default", "strong", "classified", p_strong=0.8, tier="", expected_tier="std"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decide_table(case: Case) -> None:
    config = make_config(**case.overrides)
    scores = None if case.p_strong is None else make_scores(case.p_strong)
    out = decide(make_input(case.input_chars, case.max_tokens), scores, case.tier, config, fault=case.fault)
    assert isinstance(out, Decision), out
    assert (out.route, out.reason) == (case.route, case.reason)
    assert out.tier == (case.expected_tier or case.tier)
    assert out.chain == tuple(config.routes[case.route].chain)
    assert out.model == config.routes[case.route].chain[0].model


REJECTIONS = [
    ("input-too-large", "limited", 404, None, {}, 413, "input_too_large", "invalid_request_error"),
    (
        "input-too-large-before-kill-switch",
        "limited",
        404,
        None,
        {"kill_switch": {"route": "cheap"}},
        413,
        "input_too_large",
        "invalid_request_error",
    ),
    ("cost-over-every-route", "broke", 4000, None, {}, 429, "cost_budget_exceeded", "insufficient_quota"),
    (
        "cost-over-forced-route",
        "solo",
        4000,
        None,
        {"tiers": {"solo": {"routes": ["mid"], "max_cost_usd": 0.0000001}}},
        429,
        "cost_budget_exceeded",
        "insufficient_quota",
    ),
]


@pytest.mark.parametrize(
    ("tier", "input_chars", "max_tokens", "overrides", "status", "code", "error_type"),
    [r[1:] for r in REJECTIONS],
    ids=[r[0] for r in REJECTIONS],
)
def test_decide_rejects_over_budget(
    tier: str,
    input_chars: int,
    max_tokens: int | None,
    overrides: dict[str, Any],
    status: int,
    code: str,
    error_type: str,
) -> None:
    out = decide(make_input(input_chars, max_tokens), make_scores(0.9), tier, make_config(**overrides))
    assert isinstance(out, Rejection), out
    assert (out.status, out.code, out.error_type, out.reason, out.tier) == (status, code, error_type, "budget", tier)
    assert out.message


def test_plan_input_at_the_token_limit_is_allowed() -> None:
    assert plan(make_input(400), "limited", make_config()) is None


def test_plan_input_over_the_token_limit_is_rejected_before_classifying() -> None:
    out = plan(make_input(401), "limited", make_config())
    assert isinstance(out, Rejection)
    assert (out.status, out.code) == (413, "input_too_large")
    assert "101" in out.message
    assert "100" in out.message


@pytest.mark.parametrize(
    ("tier", "input_chars", "overrides", "route", "reason"),
    [
        ("std", 4000, {}, None, None),
        ("nocheap", 4000, {}, None, None),
        ("solo", 4000, {}, "mid", "tier_forced"),
        ("std", 4000, {"kill_switch": {"route": "mid"}}, "mid", "kill_switch"),
        ("std", 40, {"policy": {"skip_below_tokens": 50}}, "cheap", "skip_small"),
        ("std", 200, {"policy": {"skip_below_tokens": 50}}, None, None),
    ],
    ids=["needs-classifier", "needs-classifier-limited-tier", "tier-forced", "kill-switch", "skip-small", "not-small"],
)
def test_plan_decides_what_needs_no_classifier(
    tier: str, input_chars: int, overrides: dict[str, Any], route: str | None, reason: str | None
) -> None:
    out = plan(make_input(input_chars), tier, make_config(**overrides))
    if route is None:
        assert out is None
        return
    assert isinstance(out, Decision)
    assert (out.route, out.reason, out.strong_score) == (route, reason, None)


def test_decide_classified_carries_score_threshold_and_tier_limits() -> None:
    out = decide(make_input(), make_scores(0.5), "std", make_config())
    assert isinstance(out, Decision)
    assert out.strong_score == pytest.approx(0.5)
    assert out.threshold == 0.4
    assert (out.timeout_ms, out.max_tokens_cap) == (30000, 256)


@pytest.mark.parametrize(
    ("tier", "p_strong", "overrides", "expected"),
    [
        ("std", 0.5, {}, 15000),  # mid: 2 steps in a 30 s budget
        ("std", 0.1, {}, None),  # cheap: one step, the whole budget is its own
        ("solo", 0.5, {}, 2500),  # tier-forced, 2 steps in 5 s
        ("nocheap", 0.5, {}, None),  # no tier budget: Envoy's route default
        ("std", 0.5, {"tiers": {"std": {"per_try_timeout_ms": 9000}}}, 9000),  # the tier's own wins
        ("std", 0.5, {"retries": {"per_try_timeout_ms": 10000}}, None),  # the default already fits
    ],
    ids=["derived", "one-step", "forced", "no-budget", "tier-own", "default-fits"],
)
def test_decide_per_try_timeout_leaves_room_for_every_step_of_the_chain(
    tier: str, p_strong: float, overrides: dict[str, Any], expected: int | None
) -> None:
    out = decide(make_input(), make_scores(p_strong), tier, make_config(**overrides))
    assert isinstance(out, Decision)
    assert out.per_try_timeout_ms == expected


def test_decide_tier_without_limits_sets_none() -> None:
    out = decide(make_input(), make_scores(0.5), "nocheap", make_config())
    assert isinstance(out, Decision)
    assert (out.timeout_ms, out.max_tokens_cap) == (None, None)


def test_decide_tier_forced_carries_the_tier_timeout() -> None:
    out = decide(make_input(), None, "solo", make_config())
    assert isinstance(out, Decision)
    assert out.timeout_ms == 5000


def test_decide_fault_has_no_score() -> None:
    out = decide(make_input(), None, "std", make_config(), fault="deadline")
    assert isinstance(out, Decision)
    assert (out.strong_score, out.threshold) == (None, None)
    assert (out.timeout_ms, out.max_tokens_cap) == (30000, 256)


@pytest.mark.parametrize(
    ("tier", "max_tokens", "route", "expected"),
    [
        ("std", None, "cheap", (1000 * 0.1 + 256 * 0.2) / 1e6),
        ("std", 100, "cheap", (1000 * 0.1 + 100 * 0.2) / 1e6),
        ("std", 9999, "cheap", (1000 * 0.1 + 256 * 0.2) / 1e6),
        ("nocheap", None, "mid", (1000 * 1.0 + 512 * 2.0) / 1e6),
    ],
    ids=["tier-cap-as-output", "client-max-tokens", "client-max-tokens-over-cap", "expected-output-default"],
)
def test_decide_estimated_cost(tier: str, max_tokens: int | None, route: str, expected: float) -> None:
    out = decide(make_input(4000, max_tokens), make_scores(0.1), tier, make_config())
    assert isinstance(out, Decision)
    assert out.route == route
    assert out.estimated_cost_usd == pytest.approx(expected)


def test_decide_estimated_cost_uses_the_first_step_price() -> None:
    routes = copy.deepcopy(BASE["routes"])
    routes["cheap"]["chain"][0]["price"] = {"input_per_mtok": 1.0, "output_per_mtok": 1.0}
    out = decide(make_input(4000), make_scores(0.1), "std", make_config(routes=routes))
    assert isinstance(out, Decision)
    assert out.estimated_cost_usd == pytest.approx((1000 + 256) / 1e6)


def test_decide_budget_downgrade_picks_the_most_expensive_route_that_fits() -> None:
    tiers = {"capped": {"routes": ["cheap", "mid", "strong"], "max_cost_usd": 0.1}}
    out = decide(make_input(40_000), make_scores(0.9), "capped", make_config(tiers=tiers))
    assert isinstance(out, Decision)
    assert (out.route, out.reason) == ("mid", "budget")
    assert out.estimated_cost_usd <= 0.1
    assert out.strong_score == pytest.approx(0.9)


def test_decide_task_bias_raises_code_above_translation() -> None:
    config = make_config(policy={"task_bias": {"code": 0.6, "translation": -0.5}})
    code = decide(make_input(), make_scores(0.6, "code"), "std", config)
    translation = decide(make_input(), make_scores(0.6, "translation"), "std", config)
    assert isinstance(code, Decision)
    assert isinstance(translation, Decision)
    assert code.strong_score is not None
    assert translation.strong_score is not None
    assert code.strong_score > 0.6 > translation.strong_score
    assert (code.route, translation.route) == ("strong", "mid")


@pytest.mark.parametrize("p_strong", [0.0, 0.01, 0.1, 0.3, 0.4, 0.5, 0.62, 0.7, 0.9, 0.99, 1.0])
def test_strong_score_without_bias_is_p_strong(p_strong: float) -> None:
    scores = make_scores(p_strong, "code")
    assert strong_score(scores, {}) == pytest.approx(p_strong, abs=1e-5)
    assert strong_score(scores, {"code": 0.0, "math": 2.0}) == pytest.approx(p_strong, abs=1e-5)


@pytest.mark.parametrize(
    ("bias", "direction"), [(0.6, 1), (-0.5, -1), (0.0, 0)], ids=["positive-raises", "negative-lowers", "zero-keeps"]
)
def test_strong_score_bias_direction(bias: float, direction: int) -> None:
    score = strong_score(make_scores(0.5, "math"), {"math": bias})
    assert (score > 0.5) - (score < 0.5) == direction


def test_strong_score_weighs_bias_by_task_probability() -> None:
    mixed = Scores(task_probs={"code": 0.5, "translation": 0.5}, p_strong=0.5)
    assert strong_score(mixed, {"code": 0.6, "translation": -0.6}) == pytest.approx(0.5)
    leaning = Scores(task_probs={"code": 0.8, "translation": 0.2}, p_strong=0.5)
    assert strong_score(leaning, {"code": 0.6, "translation": -0.6}) > 0.5


@pytest.mark.parametrize("threshold", [0.45, 0.9])
def test_decide_score_exactly_at_threshold_climbs(threshold: float) -> None:
    config = make_config(
        policy={
            "ladder": [{"route": "cheap"}, {"route": "strong", "min_score": threshold}],
            "uncertainty": {"margin": 0.0, "escalate": False},
        }
    )
    out = decide(make_input(), make_scores(threshold), "std", config)
    assert isinstance(out, Decision)
    assert out.route == "strong"


# -- this request's chain ---------------------------------------------------------------------------------


def _chain(decision: Decision | Rejection) -> list[str]:
    assert isinstance(decision, Decision)
    return [e.cluster for e in decision.chain]


@pytest.mark.parametrize(
    ("tier", "unhealthy", "chain", "steps", "retries"),
    [
        pytest.param({}, frozenset(), ["c-strong", "c-mid"], (0, 1), 1, id="as-configured"),
        pytest.param({}, frozenset({"c-strong"}), ["c-mid", "c-strong"], (1, 0), 1, id="ejected-goes-last"),
        pytest.param(
            {}, frozenset({"c-strong", "c-mid"}), ["c-strong", "c-mid"], (0, 1), 1, id="all-ejected-keep-order"
        ),
        pytest.param({"exclude_clusters": ["c-mid"]}, frozenset(), ["c-strong"], (0,), 1, id="tier-restricts"),
        pytest.param({"prefer_clusters": ["c-mid"]}, frozenset(), ["c-mid", "c-strong"], (1, 0), 1, id="tier-reorders"),
        pytest.param(
            {"prefer_clusters": ["c-mid"]},
            frozenset({"c-mid"}),
            ["c-strong", "c-mid"],
            (0, 1),
            1,
            id="health-beats-preference",
        ),
    ],
)
def test_decide_chain_follows_tier_and_provider_health(
    tier: dict[str, Any], unhealthy: frozenset[str], chain: list[str], steps: tuple[int, ...], retries: int
) -> None:
    config = make_config(tiers={"std": {**BASE["tiers"]["std"], **tier}})
    decision = decide(make_input(), make_scores(0.95), "std", config, unhealthy=unhealthy)
    assert isinstance(decision, Decision)
    assert decision.route == "strong"
    assert _chain(decision) == chain
    assert decision.steps == steps
    assert decision.model == decision.chain[0].model
    assert decision.max_retries == retries  # single-step chains get retries.single_step_retries (1)


def test_decide_max_retries_is_the_chain_length_minus_one() -> None:
    config = make_config(
        routes={"strong": {"chain": [{"cluster": c, "model": f"m-{c}"} for c in ("c-strong", "c-mid", "c-cheap")]}}
    )
    decision = decide(make_input(), make_scores(0.95), "std", config)
    assert isinstance(decision, Decision)
    assert decision.max_retries == 2


WINDOWS = {
    "routes": {
        "cheap": {"chain": [{"cluster": "c-cheap", "model": "cheap-model", "context_tokens": 8000}]},
        "mid": {
            "chain": [
                {"cluster": "c-mid", "model": "mid-model", "context_tokens": 32000},
                {"cluster": "c-cheap", "model": "cheap-model", "context_tokens": 8000},
            ]
        },
        "strong": {
            "chain": [
                {"cluster": "c-strong", "model": "strong-model", "context_tokens": 128000},
                {"cluster": "c-mid", "model": "mid-model", "context_tokens": 32000},
            ]
        },
    }
}


@pytest.mark.parametrize(
    ("tokens", "p_strong", "route", "reason", "chain", "skipped"),
    [
        (1_000, 0.5, "mid", "classified", ["mid-model", "cheap-model"], []),
        (20_000, 0.5, "mid", "classified", ["mid-model"], ["c-cheap/cheap-model"]),  # skip a step in the chain
        (20_000, 0.1, "mid", "context_window", ["mid-model"], ["c-cheap/cheap-model"]),  # cheap cannot: climb
        (100_000, 0.1, "strong", "context_window", ["strong-model"], ["c-mid/mid-model"]),
    ],
    ids=["fits-all", "skip-step", "climb-route", "climb-two"],
)
def test_decide_never_sends_a_request_to_a_step_it_does_not_fit(
    tokens: int, p_strong: float, route: str, reason: str, chain: list[str], skipped: list[str]
) -> None:
    config = make_config(**WINDOWS, tiers={"std": {"max_output_tokens": 256}})
    out = decide(make_input(input_chars=4 * tokens), make_scores(p_strong), "std", config)
    assert isinstance(out, Decision)
    assert (out.route, out.reason) == (route, reason)
    assert [e.model for e in out.chain] == chain
    assert list(out.too_small) == skipped


def test_decide_a_request_that_fits_no_window_is_a_413() -> None:
    config = make_config(**WINDOWS)
    out = decide(make_input(input_chars=4 * 200_000), make_scores(0.9), "std", config)
    assert isinstance(out, Rejection)
    assert (out.status, out.code, out.reason) == (413, "context_window_exceeded", "context_window")
    assert "128000" in out.message


def test_decide_the_output_bound_counts_toward_the_window() -> None:
    config = make_config(**WINDOWS)  # tier std caps the output at 256 tokens
    fits = decide(make_input(input_chars=4 * 7_700), make_scores(0.1), "std", config)
    assert isinstance(fits, Decision)
    assert (fits.route, fits.reason) == ("cheap", "classified")  # 7,700 + 256 <= 8,000
    over = decide(make_input(input_chars=4 * 7_900), make_scores(0.1), "std", config)
    assert isinstance(over, Decision)
    assert (over.route, over.reason) == ("mid", "context_window")  # 7,900 + 256 > 8,000


def test_compile_policy_decides_as_the_configuration_does() -> None:
    config = make_config()
    compiled = policy.compile_policy(config)
    for p_strong in (0.1, 0.38, 0.5, 0.69, 0.9):
        for tier in ("std", "nocheap", "solo", "capped", "unknown"):
            scores = make_scores(p_strong)
            assert policy.decide(make_input(), scores, tier, compiled) == policy.decide(
                make_input(), scores, tier, config
            )


def test_compile_policy_applies_the_policy_it_is_given() -> None:
    """A shadow candidate is the same configuration compiled with another policy: the same function decides."""
    config = make_config()
    candidate = config.policy.model_copy(
        update={
            "ladder": [s.model_copy(update={"min_score": 0.3}) if s.route == "mid" else s for s in config.policy.ladder]
        }
    )
    live = policy.decide(make_input(), make_scores(0.33), "std", policy.compile_policy(config))
    shadow = policy.decide(make_input(), make_scores(0.33), "std", policy.compile_policy(config, candidate))
    assert isinstance(live, policy.Decision)
    assert isinstance(shadow, policy.Decision)
    assert (live.route, shadow.route) == ("cheap", "mid")
