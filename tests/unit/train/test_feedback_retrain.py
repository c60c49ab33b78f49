"""``triage train --feedback STORE``: feedback → difficulty targets → a candidate bundle, on a fixture store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import triage.defaults
from tests.unit.train import feedback_store
from triage.classifier.features import FeatureConfig
from triage.classifier.onnx_model import LABELS_FILE, MANIFEST_FILE, MODEL_FILE, OnnxClassifier, default_bundle_dir
from triage.requests.input import RoutingInput
from triage.train import pipeline
from triage.train.cli import main, shadow_snippet
from triage.train.feedback import (
    CAPTURE_FORMAT,
    Decided,
    FeedbackError,
    FeedbackOptions,
    Ladder,
    Rules,
    Signal,
    SimulationOptions,
    Traffic,
    capture_line,
    collect,
    derive_targets,
    fit_residual,
    judge,
    read_captured,
    simulate,
    write_store,
)
from triage.train.feedback import main as feedback_main
from triage.train.model import FitConfig
from triage.train.pipeline import CARD_FILE, METRICS_FILE, TrainOptions, train

LADDER = Ladder(("economy", "premium"), {"economy": 0.0, "premium": 0.6}, {}, "test")
THREE = Ladder(("economy", "standard", "premium"), {"economy": 0.0, "standard": 0.5, "premium": 0.7}, {}, "test")
RULES = Rules(min_bucket=3)
EMBEDDED_CONFIG = Path(triage.defaults.__file__).with_name("triage.yaml")


def _opts(data: Path, out: Path) -> TrainOptions:
    return TrainOptions(
        data=data,
        out=out,
        seed=1,
        synth_per_template=1,
        i18n_per_template=1,
        task_fit=FitConfig(epochs=2, batch=64),
        strong_fit=FitConfig(epochs=1, batch=64),
        length_betas=(0.3,),
        leave_one_source_out=False,
        measure_latency=False,
        features=FeatureConfig(hash_bits=12),
    )


def _tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------------- verdicts


def _s(signal: str, value: float, t: int = 0, who: str | None = "u") -> Signal:
    return Signal(signal, value, t, who)


@pytest.mark.parametrize(
    ("signals", "polarity", "evidence"),
    [
        ([_s("thumbs_down", 0.0)], "negative", 1.0),
        ([_s("thumbs_up", 1.0)], "positive", 1.0),
        ([_s("accepted", 1.0)], "positive", 1.0),
        ([_s("score", 0.9)], "positive", 1.0),
        ([_s("score", 0.5)], "neutral", 1.0),
        ([_s("regenerated", 0.0)], "negative", 0.5),
        ([_s("retried", 0.0)], "negative", 0.5),
        ([_s("abandoned", 0.0)], "negative", 0.25),
        ([_s("abandoned", 0.0), _s("regenerated", 0.0)], "negative", 0.5),
        ([_s("thumbs_up", 1.0), _s("regenerated", 0.0, 5)], "positive", 1.0),
        ([_s("thumbs_up", 1.0, 1), _s("thumbs_down", 0.0, 2)], "negative", 1.0),
        ([_s("thumbs_down", 0.0, 2), _s("thumbs_up", 1.0, 1)], "negative", 1.0),
        ([_s("thumbs_up", 1.0, 1, "a"), _s("thumbs_down", 0.0, 2, "b")], "neutral", 1.0),
        ([_s("thumbs_up", 1.0, 1, "a"), _s("thumbs_up", 1.0, 1, "b"), _s("thumbs_down", 0.0, 2, "c")], "positive", 1.0),
    ],
    ids=[
        "thumbs-down",
        "thumbs-up",
        "accepted",
        "high-score",
        "middle-score-is-neutral",
        "regeneration-is-weaker",
        "retry-is-weaker",
        "abandonment-is-weakest",
        "strongest-behaviour-counts",
        "judgement-beats-behaviour",
        "latest-judgement-of-a-principal-wins",
        "latest-by-time-not-by-order",
        "principals-who-disagree-give-no-verdict",
        "principals-are-averaged",
    ],
)
def test_judge_resolves_signals_by_the_conflict_rule(signals: list[Signal], polarity: str, evidence: float) -> None:
    verdict = judge(signals, Rules())
    assert verdict is not None
    assert (verdict.polarity, verdict.evidence) == (polarity, evidence)


def test_judge_without_signals_is_none() -> None:
    assert judge([], Rules()) is None


# -------------------------------------------------------------------------------------------------------- targets


def _d(i: int, route: str | None, task: str = "open_qa", tokens: int = 50, status: int = 200) -> Decided:
    return Decided(f"d{i}", i, route, task=task, input_tokens=tokens, output_tokens=10, status=status)


def _rated(decisions: list[tuple[Decided, str]]) -> tuple[list[Decided], dict[str, list[Signal]]]:
    value = {"up": ("thumbs_up", 1.0), "down": ("thumbs_down", 0.0), "regen": ("regenerated", 0.0)}
    return [d for d, _ in decisions], {d.decision_id: [_s(*value[v])] for d, v in decisions if v}


def _targets(rows: list[tuple[Decided, str]], ladder: Ladder = LADDER, rules: Rules = RULES) -> dict[str, tuple]:  # type: ignore[type-arg]
    decisions, signals = _rated(rows)
    out = derive_targets(decisions, signals, ladder, rules)
    return {t.decision_id: (t.rule, t.target, round(t.weight, 4)) for t in out.targets}


def test_targets_negative_on_the_weak_route_needed_the_strong_model() -> None:
    got = _targets([(_d(1, "economy"), "down"), (_d(2, "economy"), "regen")])
    assert got == {"d1": ("needed_strong", 1.0, 1.0), "d2": ("needed_strong", 1.0, 0.5)}


def test_targets_positive_on_the_weak_route_sufficed() -> None:
    assert _targets([(_d(1, "economy"), "up")]) == {"d1": ("weak_sufficed", 0.0, 1.0)}


def test_targets_positive_on_the_strong_route_is_over_served_where_the_weak_route_wins() -> None:
    rows = [(_d(i, "economy"), "up") for i in range(4)] + [(_d(9, "premium"), "up")]
    got = _targets(rows)
    assert got["d9"] == ("over_served", 0.0, round(0.5 * 5 / 6, 4))  # half × the floor's smoothed rate (4+1)/(4+2)


def test_targets_over_served_needs_the_minimum_count_in_its_bucket() -> None:
    rows = [(_d(i, "economy"), "up") for i in range(2)] + [(_d(9, "premium"), "up")]
    decisions, signals = _rated(rows)
    out = derive_targets(decisions, signals, LADDER, RULES)
    assert "d9" not in {t.decision_id for t in out.targets}
    assert out.counts["no target: positive above the floor, too few floor decisions in its bucket"] == 1


def test_targets_over_served_needs_the_weak_route_to_win_in_the_same_bucket() -> None:
    floor_loses = [(_d(i, "economy"), "up" if i < 2 else "down") for i in range(5)]
    other_bucket = [(_d(10 + i, "economy", task="code"), "up") for i in range(5)]
    got = _targets([*floor_loses, *other_bucket, (_d(9, "premium"), "up"), (_d(8, "premium", tokens=5000), "up")])
    assert "d9" not in got  # its bucket's floor is positive 3/7 of the time
    assert "d8" not in got  # a bucket of its own size has no floor decisions


def test_targets_needed_strong_is_discounted_by_how_often_the_strong_route_satisfies_the_bucket() -> None:
    strong = [(_d(10 + i, "premium"), "up" if i < 2 else "down") for i in range(4)]  # 2 of 4: (2+1)/(4+2)
    got = _targets([(_d(1, "economy"), "down"), *strong])
    assert got["d1"] == ("needed_strong", 1.0, 0.5)
    few = _targets([(_d(1, "economy"), "down"), *strong[:2]])  # under the minimum count: no discount
    assert few["d1"] == ("needed_strong", 1.0, 1.0)


@pytest.mark.parametrize(
    ("decision", "signal", "reason"),
    [
        (_d(1, "premium"), "down", "no target: negative on the top route"),
        (_d(1, "economy", status=500), "down", "no target: failed or aborted request"),
        (_d(1, "elsewhere"), "down", "no target: route not on the ladder"),
        (replace(_d(1, "economy"), aborted=True), "up", "no target: failed or aborted request"),
    ],
    ids=["strong-route-failed-too", "failed-request", "off-the-ladder", "aborted"],
)
def test_targets_none_for_decisions_that_say_nothing_about_the_cheap_answer(
    decision: Decided, signal: str, reason: str
) -> None:
    decisions, signals = _rated([(decision, signal)])
    out = derive_targets(decisions, signals, LADDER, RULES)
    assert out.targets == []
    assert out.counts[reason] == 1


def test_targets_on_a_three_step_ladder_treat_the_middle_step_as_both_sides() -> None:
    floor = [(_d(i, "economy"), "up") for i in range(4)]
    got = _targets([*floor, (_d(7, "standard"), "down"), (_d(8, "standard"), "up")], ladder=THREE)
    assert got["d7"] == ("needed_strong", 1.0, 1.0)
    assert got["d8"][0] == "over_served"


def test_targets_unrated_decisions_are_counted_not_targeted() -> None:
    decisions, signals = _rated([(_d(1, "economy"), ""), (_d(2, "economy"), "down")])
    out = derive_targets(decisions, signals, LADDER, RULES)
    assert (out.counts["decisions"], out.counts["rated"], len(out.targets)) == (2, 1, 1)


# ------------------------------------------------------------------------------------------ ladder and capture


def test_ladder_from_records_orders_by_threshold_and_fits_prices() -> None:
    rows = [
        Decided(
            "a",
            0,
            "premium",
            reason="classified",
            threshold=0.6,
            input_tokens=1000,
            output_tokens=100,
            cost_usd=(1000 * 2.5 + 100 * 10) / 1e6,
        ),
        Decided(
            "b",
            0,
            "premium",
            reason="classified",
            threshold=0.6,
            input_tokens=200,
            output_tokens=400,
            cost_usd=(200 * 2.5 + 400 * 10) / 1e6,
        ),
        Decided(
            "c",
            0,
            "economy",
            reason="classified",
            threshold=0.0,
            input_tokens=1000,
            output_tokens=100,
            cost_usd=(1000 * 0.1 + 100 * 0.3) / 1e6,
        ),
        Decided(
            "d",
            0,
            "economy",
            reason="tier_forced",
            input_tokens=300,
            output_tokens=50,
            cost_usd=(300 * 0.1 + 50 * 0.3) / 1e6,
        ),
    ]
    ladder = Ladder.from_records(rows)
    assert ladder.routes == ("economy", "premium")
    assert ladder.prices["premium"] == pytest.approx((2.5, 10.0))
    assert ladder.prices["economy"] == pytest.approx((0.1, 0.3), abs=1e-9)
    assert ladder.route_for(0.59) == "economy"
    assert ladder.route_for(0.6) == "premium"
    assert ladder.cost("premium", 1000, 100) == pytest.approx(0.0035)


def test_capture_round_trips_and_skips_foreign_lines(tmp_path: Path) -> None:
    inp = RoutingInput.from_text("Explain monads", system="be brief")
    path = tmp_path / "c.jsonl"
    lines = [
        json.dumps(capture_line("x1", 5, inp)),
        json.dumps({"format": "other/1", "decision_id": "x2", "input": {"prompt": "p"}}),
        "not json",
        json.dumps(capture_line("x3", 6, RoutingInput.from_text("hi"), origin="synthetic:test")),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = read_captured(path)
    assert set(got) == {"x1", "x3"}
    assert got["x1"].input == inp
    assert got["x3"].origin == "synthetic:test"
    assert json.loads(lines[0])["format"] == CAPTURE_FORMAT


# ------------------------------------------------------------------------------------------------- the residual


def test_fit_residual_moves_towards_the_targets_and_is_deterministic() -> None:
    x = sp.csr_matrix(np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]))
    offset = np.zeros(4)
    target = np.array([1.0, 1.0, 0.0, 0.5])
    weight = np.ones(4)
    first = fit_residual(x, offset, target, weight, l2=1e-3)
    again = fit_residual(x, offset, target, weight, l2=1e-3)
    z = first.logit(x)
    assert z[0] > 1.0
    assert z[2] < -1.0
    assert abs(z[3]) < 0.5
    assert np.array_equal(first.weights, again.weights)
    strong = fit_residual(x, offset, target, weight, l2=1.0)
    assert abs(strong.logit(x)[0]) < abs(z[0])  # more L2, closer to the base model


# -------------------------------------------------------------------------------------------- the fixture store


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    path = tmp_path_factory.mktemp("store")
    return path, feedback_store.build(path)


def test_collect_reads_the_fixture_store(fixture_store: tuple[Path, dict[str, list[str]]]) -> None:
    path, groups = fixture_store
    fs = collect(FeedbackOptions(store=path, rules=RULES))
    by_id = {t.decision_id: t.rule for t in fs.trainable}
    assert {by_id[i] for i in groups["hard"]} == {"needed_strong"}
    assert {by_id[i] for i in groups["easy"]} == {"weak_sufficed"}
    assert {by_id[i] for i in groups["over"]} == {"over_served"}
    for group in ("premium_bad", "failed", "conflict", "uncaptured"):
        assert not set(groups[group]) & set(by_id), group
    assert fs.counts["target without a captured input (dropped)"] == 1
    assert fs.counts["no target: neutral or conflicting signals"] == 1
    assert fs.ladder.routes == ("economy", "premium")
    assert fs.origins == {"synthetic:fixture": 20}


def test_collect_honours_the_window(fixture_store: tuple[Path, dict[str, list[str]]]) -> None:
    path, _ = fixture_store
    fs = collect(FeedbackOptions(store=path, rules=RULES, until_ms=feedback_store.START_MS + 8 * 4_320_000))
    assert fs.counts["decisions"] == 8  # the first eight, one every 72 minutes


def test_collect_without_a_capture_refuses(tmp_path: Path) -> None:
    traffic = [
        Traffic(
            f"{i:032x}",
            1_000 + i,
            RoutingInput.from_text("q"),
            "economy",
            threshold=0.0,
            signals=(("thumbs_down", 0.0),),
            captured=False,
        )
        for i in range(2)
    ] + [Traffic("f" * 32, 5_000, RoutingInput.from_text("q"), "premium", threshold=0.6, captured=False)]
    write_store(tmp_path, traffic)
    with pytest.raises(FeedbackError, match="none with a captured input"):
        collect(FeedbackOptions(store=tmp_path))


def test_collect_refuses_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(FeedbackError, match="not a decision store"):
        collect(FeedbackOptions(store=tmp_path))


# ------------------------------------------------------------------------------------------------ the candidate


@pytest.fixture(scope="module")
def base_bundle(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base") / "bundle"
    train(_opts(tiny_data, out), progress=lambda _msg: None)
    return out


@pytest.fixture(scope="module")
def candidate(
    tiny_data: Path,
    base_bundle: Path,
    fixture_store: tuple[Path, dict[str, list[str]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, object], str]:
    before = _tree_digest(base_bundle)
    out = tmp_path_factory.mktemp("cand") / "candidate"
    fb = FeedbackOptions(store=fixture_store[0], base=base_bundle, rules=RULES)
    metrics = train(replace(_opts(tiny_data, out), feedback=fb), progress=lambda _msg: None)
    return out, metrics, before


def test_candidate_bundle_is_complete_and_loadable(candidate: tuple[Path, dict[str, object], str]) -> None:
    out, metrics, _ = candidate
    for name in (MODEL_FILE, LABELS_FILE, "features.json", MANIFEST_FILE, METRICS_FILE, CARD_FILE):
        assert (out / name).is_file(), name
    clf = OnnxClassifier.load(out)
    assert clf.version == metrics["version"]
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["candidate"]["base_part_reproduces_base"]
    assert manifest["candidate"]["trainable_targets"] == {"needed_strong": 8, "weak_sufficed": 8, "over_served": 4}


def test_candidate_bundle_carries_a_drift_reference(candidate: tuple[Path, dict[str, object], str]) -> None:
    drift = pytest.importorskip("triage.report.drift")
    out, metrics, _ = candidate
    ref = drift.load_reference(out / drift.REFERENCE_FILE)
    assert ref.classifier_version == metrics["version"]
    assert ref.n > 0


def test_candidate_raises_p_strong_where_the_cheap_route_failed(
    candidate: tuple[Path, dict[str, object], str], base_bundle: Path
) -> None:
    out, _, _ = candidate
    now, then = OnnxClassifier.load(out), OnnxClassifier.load(base_bundle)

    def mean(clf: OnnxClassifier, prompts: list[str]) -> float:
        return float(np.mean([clf.score(RoutingInput.from_text(p)).p_strong for p in prompts]))

    assert mean(now, feedback_store.HARD) > mean(then, feedback_store.HARD) + 0.2
    assert mean(now, feedback_store.OVER) < mean(then, feedback_store.OVER)
    assert mean(now, feedback_store.EASY) < mean(then, feedback_store.EASY)


def test_candidate_card_shows_the_change_its_sources_and_the_window(
    candidate: tuple[Path, dict[str, object], str],
) -> None:
    out, metrics, _ = candidate
    card = (out / CARD_FILE).read_text()
    assert "## Candidate retrained from feedback" in card
    assert "**State: candidate.**" in card
    assert "2025-01-06T00:00:00Z – 2025-01-07T" in card  # the feedback window
    assert "a synthetic store, not real traffic" in card
    assert "| oasst1 | Apache-2.0" in card  # the base training sources are still named
    assert "| feedback targets (difficulty head only, see above) | synthetic:fixture | 20 |" in card
    fb = metrics["evaluation"]["feedback"]  # type: ignore[index]
    rows = fb["feedback_set"]["p_strong_by_rule"]
    assert rows["needed_strong"]["candidate"] > rows["needed_strong"]["current"]
    line = f"| needed_strong | 8 | {rows['needed_strong']['current']:.3f} | {rows['needed_strong']['candidate']:.3f} |"
    assert line in card
    assert fb["feedback_set"]["moved_up"] >= 1
    assert fb["feedback_set"]["cost_delta_usd"] > 0  # more requests on the dearer route
    assert set(fb["held_out"]) == set(metrics["evaluation"]["difficulty"]["baselines"])  # type: ignore[index]
    assert "Routing on held-out outcome sources: candidate vs current" in card


def test_candidate_leaves_the_base_bundle_untouched(
    candidate: tuple[Path, dict[str, object], str], base_bundle: Path
) -> None:
    _, _, before = candidate
    assert _tree_digest(base_bundle) == before


def test_train_without_feedback_writes_no_candidate_section(base_bundle: Path) -> None:
    metrics = json.loads((base_bundle / METRICS_FILE).read_text())
    assert "feedback" not in metrics["evaluation"]
    assert "candidate" not in json.loads((base_bundle / MANIFEST_FILE).read_text())
    assert "Candidate retrained" not in (base_bundle / CARD_FILE).read_text()


# -------------------------------------------------------------------------------------------- the command line


def test_cli_writes_a_new_candidate_directory_and_prints_the_shadow_snippet(
    tiny_data: Path,
    base_bundle: Path,
    fixture_store: tuple[Path, dict[str, list[str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shipped = _tree_digest(default_bundle_dir())
    config = tmp_path / "tiny.toml"
    config.write_text(
        "seed = 1\n[data]\nsynth_per_template = 1\ni18n_per_template = 1\n"
        "[task_fit]\nepochs = 1\n[difficulty]\nlength_betas = [0.3]\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    real = pipeline.options_from_file  # a small hash space keeps the run short; the CLI is what is tested here
    monkeypatch.setattr(
        pipeline, "options_from_file", lambda *a, **kw: real(*a, **kw, features=FeatureConfig(hash_bits=12))
    )
    argv = ["train", "--data", str(tiny_data), "--config", str(config), "--no-loso", "--no-latency"]
    argv += ["--feedback", str(fixture_store[0]), "--base", str(base_bundle), "--min-bucket", "3", "--name", "fb-test"]
    assert main(argv) == 0
    out = (tmp_path / "candidates" / "fb-test").resolve()
    OnnxClassifier.load(out)
    printed = capsys.readouterr().out
    assert shadow_snippet("fb-test", out, "x").split("description")[0] in printed
    assert "state: shadow" in printed
    assert "state: active" not in printed
    assert _tree_digest(default_bundle_dir()) == shipped


@pytest.mark.parametrize(
    "extra",
    [["--out", "{base}"], ["--out", "{shipped}"], ["--out", "{existing}"], ["--name", "bad name"]],
    ids=["over-the-base", "over-the-shipped-bundle", "into-an-existing-directory", "bad-candidate-name"],
)
def test_cli_refuses_to_overwrite(
    extra: list[str],
    tiny_data: Path,
    base_bundle: Path,
    fixture_store: tuple[Path, dict[str, list[str]]],
    tmp_path: Path,
) -> None:
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "x").write_text("keep")
    args = [a.format(base=base_bundle, shipped=default_bundle_dir(), existing=existing) for a in extra]
    argv = ["--data", str(tiny_data), "--feedback", str(fixture_store[0]), "--base", str(base_bundle), *args]
    assert main(argv) == 2
    assert (existing / "x").read_text() == "keep"


@pytest.mark.parametrize(
    "argv",
    [
        ["--captured", "{store}/captured"],
        ["--feedback", "{missing}"],
        ["--feedback", "{store}", "--since", "yesterday"],
        ["--feedback", "{store}", "--min-bucket", "0"],
    ],
    ids=["capture-without-feedback", "missing-store", "bad-time", "bad-min-bucket"],
)
def test_cli_rejects_bad_feedback_arguments(
    argv: list[str], tiny_data: Path, fixture_store: tuple[Path, dict[str, list[str]]], tmp_path: Path
) -> None:
    args = [a.format(store=fixture_store[0], missing=tmp_path / "missing") for a in argv]
    assert main(["--data", str(tiny_data), "--out", str(tmp_path / "o"), *args]) == 2


def test_cli_reports_a_store_without_capture(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    write_store(
        store,
        [
            Traffic(
                "a" * 32,
                1,
                RoutingInput.from_text("q"),
                "economy",
                threshold=0.0,
                signals=(("thumbs_down", 0.0),),
                captured=False,
            ),
            Traffic("b" * 32, 2, RoutingInput.from_text("q"), "premium", threshold=0.6, captured=False),
        ],
    )
    assert main(["--data", str(tiny_data), "--feedback", str(store), "--out", str(tmp_path / "o")]) == 2
    assert "content capture" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------------ the simulation


def test_simulate_writes_a_store_that_a_retrain_reads(tiny_data: Path, base_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    opts = SimulationOptions(data=tiny_data, out=out, base=base_bundle, feedback_rate=1.0)
    counts = simulate(opts, progress=lambda _msg: None)
    assert counts == {"decisions": 23 + 18, "rated": 23 + 18}
    fs = collect(FeedbackOptions(store=out, triage_config=EMBEDDED_CONFIG, rules=RULES))
    assert fs.ladder.routes == ("economy", "standard", "premium")
    assert fs.compiled is not None
    assert {c.origin for c in fs.inputs.values()} == {
        "synthetic:arena_bench_v1",
        "synthetic:oasst1_pairwise",
    }
    again = tmp_path / "again"
    simulate(replace(opts, out=again), progress=lambda _msg: None)
    for sub in ("decisions", "events", "captured"):
        assert [p.read_bytes() for p in sorted((out / sub).iterdir())] == [
            p.read_bytes() for p in sorted((again / sub).iterdir())
        ]


@pytest.mark.parametrize(
    ("sources", "message"),
    [(("routerdc:gsm8k",), "licence keeps them out"), (("nowhere",), "no outcome source")],
    ids=["evaluation-only-source", "unknown-source"],
)
def test_simulate_refuses_sources_it_may_not_use(
    sources: tuple[str, ...], message: str, tiny_data: Path, base_bundle: Path, tmp_path: Path
) -> None:
    with pytest.raises(FeedbackError, match=message):
        simulate(SimulationOptions(data=tiny_data, out=tmp_path / "s", sources=sources, base=base_bundle))


def test_simulate_command_line(tiny_data: Path, base_bundle: Path, tmp_path: Path) -> None:
    argv = ["simulate", "--data", str(tiny_data), "--out", str(tmp_path / "s"), "--base", str(base_bundle)]
    assert feedback_main(argv) == 0
    assert feedback_main(argv) == 2  # never into an existing directory
    assert feedback_main([*argv[:4], str(tmp_path / "t"), "--sources", "routerdc:gsm8k"]) == 2
