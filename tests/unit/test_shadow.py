"""Shadow candidates: verdicts on the same inputs after the reply, cost deltas from the tokens used, model candidates,
metrics, promotion by a reloaded config, and ``triage shadow report``/``replay`` against a hand-computed store."""

from __future__ import annotations

import io
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.unit.extproc.test_processor import JSON_RESPONSE, request_body, request_headers, response_body
from tests.unit.extproc.test_processor import chat as chat_body
from tests.unit.extproc.test_processor import response_headers as upstream_headers
from tests.unit.helpers import deep_merge
from triage import policy, router, shadow_report
from triage.classifier.base import TASK_LABELS, Scores
from triage.classifier.fake import FakeClassifier
from triage.classifier.onnx_model import default_bundle_dir
from triage.config import TriageConfig, parse_config
from triage.extproc.processor import Processor
from triage.record import DecisionRecord
from triage.requests.input import RoutingInput
from triage.runtime import Runtime, RuntimeHolder, build
from triage.shadow import BundleCache, Shadow
from triage.store.query import Store
from triage.telemetry import semconv as sc
from triage.telemetry.aggregate import MetricsStore
from triage.telemetry.recorder import DecisionLog, Recorder

BASE: dict[str, Any] = {
    "clusters": {
        "small": {"address": "127.0.0.1:18001"},
        "medium": {"address": "127.0.0.1:18002"},
        "large": {"address": "127.0.0.1:18003"},
    },
    "routes": {
        "economy": {
            "chain": [{"cluster": "small", "model": "small-1"}, {"cluster": "medium", "model": "medium-1"}],
            "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.3},
        },
        "premium": {
            "chain": [
                {"cluster": "large", "model": "large-1"},
                {"cluster": "medium", "model": "medium-1", "price": {"input_per_mtok": 0.6, "output_per_mtok": 2.4}},
            ],
            "price": {"input_per_mtok": 2.5, "output_per_mtok": 10.0},
        },
    },
    "default_route": "economy",
    "default_tier": "free",
    "tiers": {"free": {"routes": ["economy", "premium"]}, "pro": {"routes": ["economy", "premium"]}},
    "policy": {"ladder": [{"route": "economy"}, {"route": "premium", "min_score": 0.5}], "task_bias": {}},
}


def ladder(premium_from: float) -> list[dict[str, Any]]:
    return [{"route": "economy"}, {"route": "premium", "min_score": premium_from}]


LOWER: dict[str, Any] = {"description": "premium from 0.3", "policy": {"ladder": ladder(0.3)}}


def config(**candidates: Mapping[str, Any]) -> TriageConfig:
    return parse_config(deep_merge(BASE, {"shadow": {"candidates": dict(candidates)}}))


class ScoreInPrompt:
    """A classifier reading P(strong) from the prompt (``"p=0.45 ..."``): one request per score in a table."""

    version = "prompt-1"

    def __init__(self) -> None:
        self.calls = 0

    def score(self, inp: RoutingInput) -> Scores:
        self.calls += 1
        p = float(inp.prompt.split()[0].removeprefix("p="))
        return Scores({label: 1.0 if label == "open_qa" else 0.0 for label in TASK_LABELS}, p)


class Broken:
    version = "broken-1"

    def score(self, inp: RoutingInput) -> Scores:
        raise RuntimeError("the candidate's session exploded")


def live(cfg: TriageConfig, classifier: Any, text: str, tier: str | None = None) -> tuple[RoutingInput, router.Decided]:
    inp = RoutingInput.from_text(text)
    return inp, router.decide_now(policy.compile_policy(cfg), classifier, inp, tier)


def evaluate(
    sh: Shadow, inp: RoutingInput, decided: router.Decided, unhealthy: frozenset[str] = frozenset()
) -> DecisionRecord:
    assert isinstance(decided.outcome, policy.Decision)
    rec = DecisionRecord("d-1", 0, "openai.chat", route=decided.outcome.route)
    sh.evaluate(inp, decided.scores, None, unhealthy, decided.outcome, rec)
    return rec


# -- verdicts ---------------------------------------------------------------------------------------------------


SCORES = [0.0, 0.1, 0.29, 0.2999, 0.3, 0.31, 0.45, 0.4999, 0.5, 0.7, 1.0]


def test_shadow_lower_threshold_diverges_exactly_between_the_two_thresholds() -> None:
    cfg = config(lower=LOWER)
    classifier = ScoreInPrompt()
    sh = Shadow(cfg, classifier)
    assert sh.active
    diverged = []
    for p in SCORES:
        inp, decided = live(cfg, classifier, f"p={p} what now?")
        rec = evaluate(sh, inp, decided)
        (verdict,) = rec.shadow
        assert verdict["name"] == "lower"
        assert verdict["route"] == ("premium" if p >= 0.3 else "economy")
        assert rec.route == ("premium" if p >= 0.5 else "economy")  # the live route is untouched
        if verdict["diverged"]:
            diverged.append(p)
    assert diverged == [0.3, 0.31, 0.45, 0.4999]


@pytest.mark.parametrize(
    ("state", "active"),
    [("candidate", False), ("shadow", True), ("retired", False)],
    ids=["candidate", "shadow", "retired"],
)
def test_shadow_evaluates_only_candidates_in_state_shadow(state: str, active: bool) -> None:
    sh = Shadow(config(lower={**LOWER, "state": state}), ScoreInPrompt())
    assert sh.active is active
    assert [c.name for c in sh.candidates] == (["lower"] if active else [])


def test_shadow_without_candidates_does_nothing() -> None:
    sh = Shadow(config(), ScoreInPrompt())
    assert not sh.active
    rec = DecisionRecord("d-1", 0, "openai.chat", route="economy", input_tokens=10, output_tokens=10, cost_usd=1.0)
    sh.complete(rec)
    assert rec.shadow == []


def test_shadow_candidates_compile_once_per_runtime() -> None:
    sh = Shadow(config(lower=LOWER), ScoreInPrompt())
    (cand,) = sh.candidates
    assert [s.min_score for s in cand.compiled.policy.ladder] == [0.0, 0.3]
    assert cand.compiled.config is sh.config


def test_shadow_candidate_that_would_refuse_records_no_route_and_diverges() -> None:
    # The candidate climbs only to premium, whose context window this request exceeds; the live ladder has economy.
    cfg = parse_config(
        deep_merge(
            BASE,
            {
                "routes": {"premium": {"chain": [{"cluster": "large", "model": "large-1", "context_tokens": 100}]}},
                "shadow": {"candidates": {"only-premium": {"policy": {"ladder": [{"route": "premium"}]}}}},
            },
        )
    )
    classifier = ScoreInPrompt()
    inp, decided = live(cfg, classifier, "p=0.1 " + "long text " * 100)
    rec = evaluate(Shadow(cfg, classifier), inp, decided)
    assert rec.shadow == [{"name": "only-premium", "route": None, "diverged": True, "cost_delta_usd": None}]


def test_shadow_scores_with_the_live_classifier_only_when_the_live_decision_had_no_scores() -> None:
    cfg = parse_config(
        deep_merge(
            BASE,
            {
                "policy": {"skip_below_tokens": 50},
                "shadow": {"candidates": {"lower": {**LOWER, "policy": {**LOWER["policy"], "skip_below_tokens": 0}}}},
            },
        )
    )
    classifier = ScoreInPrompt()
    inp, decided = live(cfg, classifier, "p=0.4 short")
    assert decided.scores is None
    assert isinstance(decided.outcome, policy.Decision)
    assert decided.outcome.reason == "skip_small"
    assert classifier.calls == 0
    rec = evaluate(Shadow(cfg, classifier), inp, decided)
    assert classifier.calls == 1  # after the reply, once
    assert rec.shadow[0]["route"] == "premium"


def test_shadow_candidate_fails_open_alike_when_the_live_classifier_faulted() -> None:
    cfg = config(lower=LOWER)
    inp = RoutingInput.from_text("p=0.9 anything")
    outcome = policy.decide(inp, None, None, cfg, fault="deadline")
    assert isinstance(outcome, policy.Decision)
    classifier = ScoreInPrompt()
    rec = DecisionRecord("d-1", 0, "openai.chat", route=outcome.route)
    Shadow(cfg, classifier).evaluate(inp, None, None, frozenset(), outcome, rec)
    assert rec.shadow[0]["route"] == "economy"
    assert rec.shadow[0]["diverged"] is False
    assert classifier.calls == 0


def test_shadow_candidate_error_is_recorded_counted_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    cache = BundleCache(load=lambda path, fast: Broken())
    cfg = config(broken={"model": "/bundles/broken"}, lower=LOWER)
    classifier = ScoreInPrompt()
    sh = Shadow(cfg, classifier, cache)
    inp, decided = live(cfg, classifier, "p=0.4 hello")
    with caplog.at_level(logging.ERROR, logger="triage.shadow"):
        rec = evaluate(sh, inp, decided)
        evaluate(sh, inp, decided)
    assert rec.shadow[0] == {"name": "broken", "route": None, "diverged": None, "cost_delta_usd": None}
    assert rec.shadow[1]["route"] == "premium"  # the other candidate is unaffected
    assert sh.errors == {"broken": 2}
    assert len([r for r in caplog.records if "broken" in r.getMessage()]) == 1  # the first failure, with traceback


# -- cost deltas ------------------------------------------------------------------------------------------------


def _completed(rec: DecisionRecord, tokens_in: int | None, tokens_out: int | None, cost: float | None) -> None:
    rec.input_tokens, rec.output_tokens, rec.cost_usd = tokens_in, tokens_out, cost


@pytest.mark.parametrize(
    ("p", "unhealthy", "tokens", "cost", "delta"),
    [
        # live economy (actual cost given), candidate premium: 1000 in, 500 out at 2.5/10 per Mtok = 0.0075
        (0.4, frozenset(), (1000, 500), 0.00025, 0.0075 - 0.00025),
        # Envoy ejects "large": the candidate's chain would have started on medium, at medium's own price
        (0.4, frozenset({"large"}), (1000, 500), 0.00025, (1000 * 0.6 + 500 * 2.4) / 1e6 - 0.00025),
        # the same route: exactly 0 whatever the live request cost (a fallback included)
        (0.1, frozenset(), (1000, 500), 0.0042, 0.0),
        (0.4, frozenset(), (None, None), None, None),  # no usage in the response
        (0.4, frozenset(), (1000, None), 0.0001, 0.0025 - 0.0001),  # output unknown: counted as 0, like the live cost
    ],
    ids=["dearer", "ejected-first-step", "same-route", "no-tokens", "output-unknown"],
)
def test_shadow_cost_delta_from_the_tokens_used(
    p: float, unhealthy: frozenset[str], tokens: tuple[int | None, int | None], cost: float | None, delta: float | None
) -> None:
    cfg = config(lower=LOWER)
    classifier = ScoreInPrompt()
    sh = Shadow(cfg, classifier)
    inp, decided = live(cfg, classifier, f"p={p} text")
    rec = evaluate(sh, inp, decided, unhealthy)
    _completed(rec, *tokens, cost)
    sh.complete(rec)
    got = rec.shadow[0]["cost_delta_usd"]
    assert got == (None if delta is None else pytest.approx(delta, abs=1e-8))


def test_shadow_refusal_has_no_cost_delta() -> None:
    sh = Shadow(config(lower=LOWER), ScoreInPrompt())
    rec = DecisionRecord("d-1", 0, "openai.chat", route="economy")
    rec.shadow.append({"name": "lower", "route": None, "diverged": True, "cost_delta_usd": None})
    sh._keep(rec.decision_id, [(rec.shadow[0], None)])
    _completed(rec, 1000, 100, 0.001)
    sh.complete(rec)
    assert rec.shadow[0]["cost_delta_usd"] is None


# -- model candidates -------------------------------------------------------------------------------------------


def test_shadow_model_candidate_scores_with_its_own_bundle_reused_across_reloads() -> None:
    loaded: list[Path] = []

    def load(path: Path, fast_path: bool) -> FakeClassifier:
        loaded.append(path)
        return FakeClassifier.returning("code", 0.9)

    cache = BundleCache(load=load)
    cfg = config(newmodel={"description": "retrained", "model": "/bundles/v2"})
    live_classifier = ScoreInPrompt()
    sh = Shadow(cfg, live_classifier, cache)
    inp, decided = live(cfg, live_classifier, "p=0.1 hello")
    rec = evaluate(sh, inp, decided)
    assert rec.shadow == [{"name": "newmodel", "route": "premium", "diverged": True, "cost_delta_usd": None}]
    assert live_classifier.calls == 1  # the live decision only
    again = Shadow(config(newmodel={"model": "/bundles/v2"}, lower=LOWER), live_classifier, cache)
    assert again.candidates[0].classifier is sh.candidates[0].classifier
    assert loaded == [Path("/bundles/v2")]
    assert cache.loads == 1


def test_shadow_model_candidate_that_fails_to_load_is_disabled(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="triage.shadow"):
        sh = Shadow(config(missing={"model": "/nonexistent/bundle"}), ScoreInPrompt())
    assert not sh.active
    assert "missing" in sh.disabled
    assert "did not load" in caplog.text


def test_shadow_model_candidate_with_the_shipped_bundle() -> None:
    cache = BundleCache()
    cfg = config(shipped={"model": str(default_bundle_dir())})
    classifier = ScoreInPrompt()
    sh = Shadow(cfg, classifier, cache)
    assert sh.active
    inp, decided = live(cfg, classifier, "p=0.0 Write a Python function that merges two sorted lists.")
    rec = evaluate(sh, inp, decided)
    (verdict,) = rec.shadow
    assert verdict["route"] in ("economy", "premium")
    assert verdict["diverged"] is (verdict["route"] != "economy")


# -- through the processor, with metrics and spans ---------------------------------------------------------------


def _runtime(cfg: TriageConfig, classifier: Any, log: io.StringIO, store: MetricsStore) -> Runtime:
    return build(cfg, classifier, Recorder(DecisionLog(log), store=store))


async def test_shadow_through_the_processor_after_the_reply() -> None:
    log, store = io.StringIO(), MetricsStore()
    rt = _runtime(config(lower=LOWER), FakeClassifier.returning("open_qa", 0.4), log, store)
    processor = Processor(rt, {}, defer=True)
    await processor.process(request_headers())
    processor.after_reply()
    reply = await processor.process(request_body(chat_body("Which is better?")))
    assert processor._record is not None
    assert processor._record.shadow == []  # not before the reply has gone
    headers = {
        h.header.key: h.header.raw_value.decode() for h in reply.request_body.response.header_mutation.set_headers
    }
    assert headers["x-triage-route"] == "economy"
    processor.after_reply()
    assert processor._record.shadow == [{"name": "lower", "route": "premium", "diverged": True, "cost_delta_usd": None}]
    await processor.process(upstream_headers(cluster="small"))
    await processor.process(response_body(JSON_RESPONSE, end_of_stream=True))
    processor.after_reply()
    (line,) = [json.loads(x) for x in log.getvalue().splitlines()]
    assert line["route"] == "economy"
    # 100 in, 20 out: premium 0.00045 against economy's 0.000016
    assert line["shadow"] == [{"name": "lower", "route": "premium", "diverged": True, "cost_delta_usd": 0.000434}]
    key = ((sc.SHADOW_CANDIDATE, "lower"),)
    assert store.counters[sc.METRIC_SHADOW_DECISIONS].values == {key: 1}
    assert store.counters[sc.METRIC_SHADOW_DIVERGENCES].values == {key: 1}
    assert store.counters[sc.METRIC_SHADOW_COST_DELTA].values[key] == pytest.approx(0.000434)
    rt.close()


def test_shadow_recorder_metrics_and_span_attributes() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = MetricsStore()
    recorder = Recorder(store=store)
    rec = DecisionRecord("d-1", 0, "openai.chat", route="economy")
    rec.shadow = [
        {"name": "a", "route": "premium", "diverged": True, "cost_delta_usd": 0.002},
        {"name": "b", "route": None, "diverged": True, "cost_delta_usd": None},
        {"name": "c", "route": None, "diverged": None, "cost_delta_usd": None},
        {"name": "d", "route": "economy", "diverged": False, "cost_delta_usd": 0.0},
    ]
    recorder.finished(provider.get_tracer("test").start_span("triage.route"), rec)
    rec.shadow[0]["cost_delta_usd"] = -0.005
    recorder.finished(None, rec)
    values = {name: store.counters[name].values for name in store.counters if name.startswith("triage.shadow")}
    assert values == {
        sc.METRIC_SHADOW_DECISIONS: {(("triage.shadow.candidate", n),): 2 for n in "abd"},
        sc.METRIC_SHADOW_DIVERGENCES: {(("triage.shadow.candidate", n),): 2 for n in "ab"},
        sc.METRIC_SHADOW_ERRORS: {(("triage.shadow.candidate", "c"),): 2},
        sc.METRIC_SHADOW_COST_DELTA: {
            (("triage.shadow.candidate", "a"),): pytest.approx(-0.003),
            (("triage.shadow.candidate", "d"),): 0.0,
        },
    }
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[sc.SHADOW_CANDIDATES] == ("a", "b", "c", "d")
    assert span.attributes[sc.SHADOW_ROUTES] == ("premium", "", "", "economy")
    assert span.attributes[sc.SHADOW_DIVERGED] == (True, True, False, False)
    assert span.attributes[sc.SHADOW_DIVERGED_COUNT] == 2


# -- lifecycle: promotion is a config edit, hot-reloaded ---------------------------------------------------------


def _save(path: Path, cfg: Mapping[str, Any]) -> None:
    path.write_text(yaml.safe_dump(dict(cfg)), encoding="utf-8")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[RuntimeHolder, Path]]:
    path = tmp_path / "triage.yaml"
    _save(path, deep_merge(BASE, {"shadow": {"candidates": {"lower": LOWER}}}))
    from triage.config import load_config

    rt = build(load_config(path), ScoreInPrompt(), Recorder(DecisionLog(io.StringIO())))
    h = RuntimeHolder(rt, path)
    yield h, path
    h.current.close()


@pytest.mark.parametrize(
    ("state", "live_route", "shadowed"),
    [("shadow", "economy", True), ("active", "premium", False), ("retired", "economy", False)],
    ids=["shadow", "promoted", "retired"],
)
def test_shadow_lifecycle_follows_a_reloaded_config(
    holder: tuple[RuntimeHolder, Path], state: str, live_route: str, shadowed: bool
) -> None:
    h, path = holder
    assert h.current.shadow.active  # starts in shadow
    _save(path, deep_merge(BASE, {"shadow": {"candidates": {"lower": {**LOWER, "state": state}}}}))
    assert h.reload_if_changed()
    rt = h.current
    decided = router.decide_now(rt.policy, rt.classifier, RoutingInput.from_text("p=0.4 a question"))
    assert isinstance(decided.outcome, policy.Decision)
    assert decided.outcome.route == live_route
    assert rt.shadow.active is shadowed


# -- the report, against a store written by hand -----------------------------------------------------------------

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
H = 3_600_000

# id, hour, tier, task, p_strong, live route, live cost, cheap's (route, diverged, delta); tokens known iff cost is
FIXTURE = [
    ("d01", 0, "free", "code", 0.60, "premium", 0.008, ("economy", True, -0.006)),
    ("d02", 4, "free", "code", 0.80, "premium", 0.008, ("premium", False, 0.0)),
    ("d03", 8, "pro", "math", 0.55, "premium", 0.014, ("economy", True, -0.012)),
    ("d04", 12, "pro", "open_qa", 0.20, "economy", 0.001, ("economy", False, 0.0)),
    ("d05", 16, "free", "open_qa", 0.10, "economy", 0.001, ("economy", False, 0.0)),
    ("d06", 20, "pro", "code", 0.65, "premium", 0.008, ("economy", True, -0.006)),
    ("d07", 24, "free", "summarization", 0.30, "economy", 0.001, ("economy", False, 0.0)),
    ("d08", 30, "pro", "math", 0.90, "premium", 0.010, ("premium", False, 0.0)),
    ("d09", 36, "free", "code", 0.58, "premium", 0.008, ("economy", True, -0.006)),
    ("d10", 48, "pro", "open_qa", 0.25, "economy", 0.001, ("economy", False, 0.0)),
    ("d11", 40, "pro", "math", 0.62, "premium", None, ("economy", True, None)),  # aborted: no usage
    ("d12", 44, "free", "open_qa", 0.15, "economy", None, ("economy", False, None)),
]
# the retired candidate's verdicts on the first three requests: agrees, refuses, fails
STRICT = {
    "d01": ("premium", False, 0.0),
    "d02": (None, True, None),
    "d03": (None, None, None),
}
EVENTS = [
    ("d01", "feedback", "thumbs_down", 0.0),
    ("d03", "implicit", "retried", 0.0),
    ("d06", "feedback", "thumbs_up", 1.0),
    ("d02", "feedback", "thumbs_up", 1.0),
    ("d04", "feedback", "score", 0.8),
    ("d08", "implicit", "regenerated", 0.0),
]
REPORT_CONFIG = deep_merge(
    BASE,
    {
        "shadow": {
            "candidates": {
                "cheap": {
                    "description": "premium only from 0.7",
                    "policy": {"ladder": ladder(0.7)},
                },
                "strict": {"state": "retired", "policy": {"ladder": [{"route": "premium"}]}},
                "next": {"state": "candidate", "description": "not yet"},
            }
        }
    },
)


def _verdict(name: str, v: tuple[str | None, bool | None, float | None]) -> dict[str, Any]:
    return {"name": name, "route": v[0], "diverged": v[1], "cost_delta_usd": v[2]}


@pytest.fixture
def fixture_store(tmp_path: Path) -> Path:
    """A dozen decisions with two candidates' verdicts and six events, in the store's segment layout."""
    root = tmp_path / "store"
    (root / "decisions").mkdir(parents=True)
    (root / "events").mkdir()
    lines = []
    for did, hour, tier, task, p, route, cost, cheap in FIXTURE:
        rec = DecisionRecord(did, T0 + hour * H, "openai.chat", tier=tier, route=route, reason="classified")
        rec.task, rec.task_probability, rec.p_strong, rec.strong_score = task, 0.9, p, p
        rec.threshold = 0.5 if route == "premium" else 0.0
        rec.input_tokens_estimate = 250
        if cost is not None:
            rec.input_tokens, rec.output_tokens, rec.cost_usd = 1000, 200, cost
        rec.shadow = [_verdict("cheap", cheap)]
        if did in STRICT:
            rec.shadow.append(_verdict("strict", STRICT[did]))
        lines.append(json.dumps(rec.to_dict()))
    # two writers, two segments (an hour apart)
    (root / "decisions" / "20260101T00-host-1.jsonl").write_text("\n".join(lines[:6]) + "\n")
    (root / "decisions" / "20260101T20-host-2.jsonl").write_text("\n".join(lines[6:]) + "\n")
    events = [
        json.dumps(
            {"event_id": f"e{i}", "decision_id": d, "time_unix_ms": T0 + 60 * H, "kind": k, "signal": s, "value": v}
        )
        for i, (d, k, s, v) in enumerate(EVENTS)
    ]
    (root / "events" / "20260103T12-host-1.jsonl").write_text("\n".join(events) + "\n")
    return root


@pytest.fixture
def report_config(tmp_path: Path) -> Path:
    path = tmp_path / "triage.yaml"
    path.write_text(yaml.safe_dump(REPORT_CONFIG), encoding="utf-8")
    return path


def _report(root: Path, **kwargs: Any) -> dict[str, Any]:
    store = Store(root)
    try:
        return shadow_report.build_report(store, parse_config(REPORT_CONFIG), **kwargs)
    finally:
        store.close()


def test_shadow_report_matches_the_hand_computed_fixture(fixture_store: Path) -> None:
    report = _report(fixture_store)
    by_name = {c["name"]: c for c in report["candidates"]}
    assert list(by_name) == ["cheap", "strict", "next"]  # the config's order
    cheap = by_name["cheap"]
    assert (cheap["state"], cheap["description"]) == ("shadow", "premium only from 0.7")
    assert (cheap["verdicts"], cheap["decided"], cheap["diverged"], cheap["refused"], cheap["errors"]) == (
        12,
        12,
        5,
        0,
        0,
    )
    assert cheap["divergence_rate"] == pytest.approx(5 / 12)
    assert [(g["tier"], g["decided"], g["diverged"]) for g in cheap["by_tier"]] == [("free", 6, 2), ("pro", 6, 3)]
    assert [(g["task"], g["decided"], g["diverged"]) for g in cheap["by_task"]] == [
        ("code", 4, 3),
        ("open_qa", 4, 0),
        ("math", 3, 2),
        ("summarization", 1, 0),
    ]
    # Ten known deltas: three of -0.006, one of -0.012, six of 0. Sum -0.030, mean -0.003; squared deviations
    # 3·(0.003)² + (0.009)² + 6·(0.003)² = 162e-6, s² = 162e-6 / 9 = 18e-6.
    d = cheap["cost_delta"]
    s = math.sqrt(18e-6)
    half = 1.959963984540054 * s / math.sqrt(10)
    assert d["requests"] == 10
    assert d["sum_usd"] == pytest.approx(-0.030)
    assert d["mean_usd"] == pytest.approx(-0.003)
    assert d["sd_usd"] == pytest.approx(s)
    assert d["ci95_usd"] == pytest.approx([-0.003 - half, -0.003 + half])
    assert d["live_cost_usd"] == pytest.approx(0.060)
    assert d["relative"] == pytest.approx(-0.5)
    # 10 requests over 2 days (hour 0 to hour 48): 5 a day; live spend 0.03 a day; the daily delta -0.015 ± 5·half.
    assert d["days_observed"] == pytest.approx(2.0)
    assert d["requests_per_day"] == pytest.approx(5.0)
    assert d["daily_usd"] == pytest.approx(-0.015)
    assert d["daily_ci95_usd"] == pytest.approx([-0.015 - 5 * half, -0.015 + 5 * half])
    # ±1% of the live spend = ±0.0003 a day = ±0.00006 per request: n = z²·s²/w² = z² · 18e-6 / 3.6e-9 = 5000·z².
    z2 = 1.959963984540054**2
    assert d["width_usd_per_day"] == pytest.approx(0.0003)
    assert d["more_days"] == pytest.approx((5000 * z2 - 10) / 5)
    # Quality: cheaper = d01, d03, d06, d09 (d11 diverged with no known delta: the rest).
    q = cheap["quality"]
    assert q["cheaper"] == {
        "requests": 4,
        "with_events": 3,
        "events": 3,
        "mean_value": pytest.approx(1 / 3),
        "negative_events": 2,
        "negative_requests": 2,
        "signals": {"thumbs_down": 1, "retried": 1, "thumbs_up": 1},
    }
    assert q["rest"] == {
        "requests": 8,
        "with_events": 3,
        "events": 3,
        "mean_value": pytest.approx(0.6),
        "negative_events": 1,
        "negative_requests": 1,
        "signals": {"thumbs_up": 1, "score": 1, "regenerated": 1},
    }
    strict = by_name["strict"]
    assert strict["state"] == "retired"
    assert (strict["verdicts"], strict["decided"], strict["diverged"], strict["refused"], strict["errors"]) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert strict["cost_delta"]["requests"] == 1
    assert strict["cost_delta"]["ci95_usd"] is None  # one delta: no interval
    assert by_name["next"]["state"] == "candidate"
    assert by_name["next"]["verdicts"] == 0


def test_shadow_report_width_in_usd_a_day(fixture_store: Path) -> None:
    d = _report(fixture_store, candidate="cheap", width=shadow_report.Width.parse("0.01"))["candidates"][0]
    # ±$0.01 a day = ±0.002 per request at 5 a day: n = z²·18e-6 / 4e-6 = 4.5·z²
    assert d["cost_delta"]["more_days"] == pytest.approx((4.5 * 1.959963984540054**2 - 10) / 5)
    wide = _report(fixture_store, candidate="cheap", width=shadow_report.Width.parse("1"))["candidates"][0]
    assert wide["cost_delta"]["more_days"] == 0.0


def test_shadow_report_time_window(fixture_store: Path) -> None:
    report = _report(fixture_store, since_ms=T0 + 24 * H, candidate="cheap")
    (cheap,) = report["candidates"]
    assert cheap["decided"] == 6  # d07..d12
    assert cheap["diverged"] == 2  # d09, d11


def test_shadow_report_cases_are_prioritised_and_carry_no_text(fixture_store: Path) -> None:
    store = Store(fixture_store)
    try:
        cases = shadow_report.disagreement_cases(store, parse_config(REPORT_CONFIG))
    finally:
        store.close()
    assert [(c["decision_id"], c["candidate"]) for c in cases] == [
        ("d03", "cheap"),  # |-0.012| × 1 rung
        ("d09", "cheap"),  # |-0.006|: the latest first
        ("d06", "cheap"),
        ("d01", "cheap"),
        ("d11", "cheap"),  # no delta: after every known one, latest first
        ("d02", "strict"),  # refused
    ]
    first = cases[0]
    assert first["tier"] == "pro"
    assert first["task"] == "math"
    assert first["p_strong"] == 0.55
    assert (first["live_route"], first["candidate_route"]) == ("premium", "economy")
    assert (first["input_tokens"], first["output_tokens"]) == (1000, 200)
    assert first["cost_usd"] == pytest.approx(0.014)
    assert first["candidate_cost_usd"] == pytest.approx(0.002)
    assert [(e["signal"], e["value"]) for e in first["feedback"]] == [("retried", 0.0)]
    assert cases[-1]["refused"] is True
    assert set(first) >= {"decision_id", "tier", "task", "p_strong", "strong_score", "live_route", "candidate_route"}
    assert not {"prompt", "messages", "content"} & set(first)


def test_shadow_report_command_line(fixture_store: Path, report_config: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    cases_path, json_path = tmp_path / "cases.jsonl", tmp_path / "report.json"
    argv = ["report", "--store", str(fixture_store), "--config", str(report_config), "--cases", str(cases_path)]
    code = shadow_report.main([*argv, "--json", str(json_path)], out)
    assert code == 0
    text = out.getvalue()
    assert "candidate cheap  [shadow]  premium only from 0.7" in text
    assert "diverged 5 (41.7%)" in text
    assert "divergence by tier: free 2/6 (33.3%)  pro 3/6 (50.0%)" in text
    assert "candidate strict  [retired]" in text
    assert "candidate next  [candidate]" in text
    assert "more days of traffic at this rate" in text
    assert "wrote 6 disagreement cases" in text
    assert len(cases_path.read_text().splitlines()) == 6
    assert json.loads(json_path.read_text())["candidates"][0]["diverged"] == 5
    # Offline: the cases re-decided from their stored scores under the same config.
    out = io.StringIO()
    assert shadow_report.main(["replay", str(cases_path), "--config", str(report_config)], out) == 0
    text = out.getvalue()
    assert "candidate cheap: 5 cases" in text
    assert "live policy as recorded:      5/5 (100.0%)" in text
    assert "candidate as recorded:        5/5 (100.0%)" in text
    assert "live and candidate agree:     0/5 (0.0%)" in text
    assert "premium -> economy: 5" in text


def test_shadow_replay_under_an_edited_candidate(fixture_store: Path, tmp_path: Path) -> None:
    store = Store(fixture_store)
    try:
        cases = shadow_report.disagreement_cases(store, None, candidate="cheap")
    finally:
        store.close()
    edited = parse_config(
        deep_merge(
            REPORT_CONFIG,
            {"shadow": {"candidates": {"cheap": {"policy": {"ladder": ladder(0.6)}}}}},
        )
    )
    result = shadow_report.replay(cases, edited)
    s = result["candidates"]["cheap"]
    # p_strong 0.55, 0.58, 0.60, 0.62, 0.65: from 0.6 on, premium again under the edited candidate
    assert (s["cases"], s["live_as_recorded"], s["candidate_as_recorded"], s["agree"]) == (5, 5, 2, 3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "--store", "/nonexistent/store"], "not a directory"),
        (["report", "--store", ".", "--width", "wide"], "--width"),
        (["report", "--store", ".", "--since", "yesterday"], "neither an ISO 8601 time"),
    ],
    ids=["no-store", "bad-width", "bad-since"],
)
def test_shadow_report_bad_arguments_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert shadow_report.main(argv, io.StringIO()) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02", T0 + 24 * H),
        ("2026-01-01T06:00", T0 + 6 * H),
        ("2026-01-01T06:00+02:00", T0 + 4 * H),
        ("12h", T0 - 12 * H),
        ("2d", T0 - 48 * H),
    ],
    ids=["date", "naive-utc", "offset", "hours-ago", "days-ago"],
)
def test_shadow_report_parse_time(text: str, expected: int) -> None:
    assert shadow_report.parse_time(text, now_ms=T0) == expected


def test_shadow_report_same_answers_on_clickhouse(fixture_store: Path) -> None:
    """The report's SQL is portable: chdb (in-process ClickHouse) over the same records gives the same report."""
    pytest.importorskip("chdb")
    clickhouse = pytest.importorskip("triage.store.clickhouse")
    cfg = parse_config(REPORT_CONFIG)
    ch = clickhouse.ClickHouseStore(database="shadow_report_test")
    duck = Store(fixture_store)
    try:
        ch.load_segments(fixture_store)
        assert _rounded(shadow_report.build_report(ch, cfg)) == _rounded(shadow_report.build_report(duck, cfg))
        cases = shadow_report.disagreement_cases(ch, cfg)
        assert _rounded(cases) == _rounded(shadow_report.disagreement_cases(duck, cfg))
    finally:
        ch.execute("DROP DATABASE IF EXISTS shadow_report_test")
        duck.close()


def _rounded(value: Any) -> Any:
    """``value`` with every float to 12 significant digits (the engines sum in different orders)."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
