"""Confidence-escalation simulation: the verifier, the Bayes rule, the envelope, and `triage eval escalation`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from triage.cli import main as triage_main
from triage.train import escalation_sim as es
from triage.train import outcome_sources as osrc
from triage.train.eval_cli import main as eval_main

STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
RB_WEAK = "mistralai/mixtral-8x7b-chat"


def _arr(*xs: float) -> es.F64:
    return np.array(xs, dtype=np.float64)


def _traffic(name: str = "t", **kw: es.F64) -> es.Traffic:
    base = {
        "score": _arr(0.9, 0.7, 0.3, 0.1),
        "strong": _arr(1, 1, 1, 0),
        "weak": _arr(0, 1, 0, 1),
        "cost_strong": _arr(1, 1, 1, 1),
        "cost_weak": _arr(0.1, 0.1, 0.1, 0.1),
    }
    base.update(kw)
    return es.Traffic(name, **base)


def _prior(n: int, wrong: float = 0.5) -> es.Prior:
    return es.Prior(np.full(n, wrong), np.full(n, 0.9), np.full(n, 0.1))


# --- the verifier -------------------------------------------------------------------------------------------


def test_symmetric_verifier_posterior_follows_bayes() -> None:
    v = es.Verifier.symmetric(0.8)
    assert (v.tpr, v.fpr) == (0.8, 0.2)
    assert v.posterior(_arr(0.5), True)[0] == pytest.approx(0.8)
    assert v.posterior(_arr(0.5), False)[0] == pytest.approx(0.2)
    # prior 0.2, flagged: 0.8*0.2 / (0.8*0.2 + 0.2*0.8) = 0.5
    assert v.posterior(_arr(0.2), True)[0] == pytest.approx(0.5)


def test_verifier_flags_use_the_rate_of_the_answer_kind() -> None:
    v = es.Verifier(0.7, 0.1)
    right = np.array([True, True, False, False])
    flags = v.flags(right, _arr(0.05, 0.5, 0.5, 0.9))
    assert flags.tolist() == [True, False, True, False]


@pytest.mark.parametrize(("tpr", "fpr"), [(0.5, 0.5), (0.4, 0.6), (1.1, 0.0), (0.9, -0.1)])
def test_uninformative_or_invalid_verifier_is_refused(tpr: float, fpr: float) -> None:
    with pytest.raises(ValueError, match="verifier"):
        es.Verifier(tpr, fpr)


def test_prior_gain_weighs_rescue_against_spoil() -> None:
    prior = es.Prior(_arr(0.5), _arr(0.8), _arr(0.2))
    # P(wrong)=0.6: 0.6*0.8 - 0.4*0.2
    assert prior.gain(_arr(0.6))[0] == pytest.approx(0.4)


# --- calibration --------------------------------------------------------------------------------------------


def test_platt_is_cross_fitted_monotone_and_calibrated() -> None:
    rng = np.random.default_rng(0)
    score = rng.random(2000)
    target = (rng.random(2000) < score).astype(np.float64)  # P(target) = score exactly
    p = es.platt(score, target)
    assert p.shape == score.shape
    assert float(np.corrcoef(p, score)[0, 1]) > 0.95
    assert abs(float(p.mean() - target.mean())) < 0.02
    assert float(np.mean((p - target) ** 2)) < float(np.mean((target.mean() - target) ** 2))


def test_platt_with_an_empty_subset_falls_back_to_a_constant() -> None:
    p = es.platt(_arr(0.2, 0.4, 0.6, 0.8), _arr(1, 0, 1, 0), weight=np.zeros(4))
    assert np.allclose(p, 0.5)


def test_prior_calibrate_gives_probabilities() -> None:
    rng = np.random.default_rng(1)
    n = 400
    weak = (rng.random(n) < 0.6).astype(np.float64)
    t = es.Traffic("x", rng.random(n), np.ones(n), weak, np.ones(n), np.full(n, 0.05))
    prior = es.Prior.calibrate(t)
    for a in (prior.wrong, prior.rescue, prior.spoil):
        assert a.shape == (n,)
        assert ((a > 0) & (a < 1)).all()
    assert prior.rescue.mean() > 0.9  # the strong model is always right here
    assert prior.spoil.mean() < 0.1


# --- traffic, envelope, break-even --------------------------------------------------------------------------


def test_traffic_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="lengths"):
        _traffic(strong=_arr(1, 0))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        _traffic(weak=_arr(0, 2, 0, 1))
    with pytest.raises(ValueError, match="prices"):
        _traffic(cost_strong=_arr(1, 0, 1, 1))
    assert _traffic().cheap_cost == pytest.approx(0.1)


def test_upper_envelope_keeps_the_concave_top_up_to_the_best_point() -> None:
    x = [0.0, 0.5, 0.6, 1.0, 0.8, 0.6]
    y = [0.0, 0.4, 0.9, 1.0, 0.5, 0.2]
    assert es.upper_envelope(x, y) == [0, 2, 3]
    # after the best quality the envelope stops (spending more cannot help)
    assert es.upper_envelope([0.0, 0.5, 1.0], [0.0, 1.0, 0.8]) == [0, 1]


def test_break_even_is_the_lowest_accuracy_from_which_every_higher_one_wins() -> None:
    accs = [0.6, 0.7, 0.8, 0.9]
    assert es.break_even(accs, [0.001, 0.02, 0.03, 0.05], [0.0, 0.001, 0.001, 0.001], 0.005) == 0.7
    assert es.break_even(accs, [0.02, 0.001, 0.03, 0.05], [0.0] * 4, 0.005) == 0.8  # must hold from there on
    assert es.break_even(accs, [0.02, 0.02, 0.02, 0.02], [0.02] * 4, 0.005) is None  # within noise
    assert es.break_even(accs, [0.0] * 4, [0.0] * 4, 0.005) is None


# --- the simulation on a hand-checked case ------------------------------------------------------------------


def test_router_curve_and_perfect_cascade_by_hand() -> None:
    cfg = es.SimConfig(accuracies=(1.0,), seeds=(0,), route_points=4, budgets=(0.5,))
    sim = es.simulate(_traffic(), _prior(4), cfg)
    # router points (cost, quality): (0.1, .5) (0.325, .75) (0.55, .75) (0.775, 1) (1, .75)
    assert np.allclose(sim.router.vertices, [(0.1, 0.5), (0.325, 0.75), (0.775, 1.0)])
    expected = 0.75 + (0.5 - 0.325) * (0.25 / 0.45)
    assert sim.router.quality[0.5][0] == pytest.approx(expected)
    assert sim.router.pgr[0.5][0] == pytest.approx((expected - 0.5) / 0.25)
    assert (sim.q_weak[0], sim.q_strong[0]) == (0.5, 0.75)
    # a perfect verifier escalates exactly the two wrong cheap answers: quality 1 at (0.4 + 2) / 4
    cost, quality = sim.cascade[1.0]
    assert (cost[0], quality[0]) == (pytest.approx(0.6), 1.0)


def test_verifier_cost_is_charged_on_every_verified_request() -> None:
    cfg = es.SimConfig(accuracies=(1.0,), seeds=(0,), route_points=4, verifier_cost=1.0)
    cost, _ = es.simulate(_traffic(), _prior(4), cfg).cascade[1.0]
    assert cost[0] == pytest.approx((0.4 + 0.4 + 2) / 4)


def _random_traffic(n: int = 600, seed: int = 3) -> es.Traffic:
    rng = np.random.default_rng(seed)
    hard = rng.random(n)
    weak = (rng.random(n) > hard).astype(np.float64)
    strong = (rng.random(n) > hard * 0.4).astype(np.float64)
    score = np.clip(hard + rng.normal(0, 0.4, n), 0.01, 0.99)  # a weak but real signal
    return es.Traffic("synthetic", score, strong, weak, np.ones(n), np.full(n, 0.05))


def test_escalation_improves_with_accuracy_and_bayes_never_loses_to_the_router() -> None:
    t = _random_traffic()
    cfg = es.SimConfig(accuracies=(0.6, 0.8, 0.95), seeds=(0, 1, 2))
    sim = es.simulate(t, es.Prior.calibrate(t), cfg)
    router = float(sim.router.area.mean())
    for name in ("verifier_only", "bayes", "bayes_gain"):
        areas = [float(getattr(sim, name)[a].area.mean()) for a in cfg.accuracies]
        assert areas == sorted(areas), name
    for name in ("bayes", "bayes_gain"):  # the router's own points are among the Bayes rule's
        assert all(float(c.area.mean()) >= router - 1e-12 for c in getattr(sim, name).values())
    assert float(sim.bayes_gain[0.95].area.mean()) > router + 0.1


def test_simulation_is_deterministic_per_seed() -> None:
    t = _random_traffic(200)
    cfg = es.SimConfig(accuracies=(0.7,), seeds=(0, 1))
    a = es.simulate(t, es.Prior.calibrate(t), cfg)
    b = es.simulate(t, es.Prior.calibrate(t), cfg)
    assert np.array_equal(a.verifier_only[0.7].area, b.verifier_only[0.7].area)
    assert np.array_equal(a.bayes_gain[0.7].quality[0.3], b.bayes_gain[0.7].quality[0.3])


def test_asymmetric_verifier_uses_the_fixed_false_positive_rate() -> None:
    v = es.SimConfig(fpr=0.05).verifier(0.4)
    assert (v.tpr, v.fpr) == (0.4, 0.05)


# --- `triage eval escalation` on a synthetic data directory -------------------------------------------------


def _mmlu_csv(path: Path, n: int, rng: np.random.Generator) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", WEAK, STRONG])
        for i in range(n):
            hard = rng.random()
            writer.writerow(
                [
                    f"Question {i}: {'why ' * int(1 + 20 * hard)}?",
                    str(rng.random() > hard),
                    str(rng.random() > hard / 3),
                ]
            )


def _routerbench_csv(path: Path, n: int, rng: np.random.Generator) -> None:
    cols = ["sample_id", "prompt", STRONG, RB_WEAK, f"{STRONG}|total_cost", f"{RB_WEAK}|total_cost"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for i in range(n):
            hard = rng.random()
            prompt = str([f"Pick the answer {i}: {'hmm ' * int(1 + 9 * hard)}"])
            writer.writerow(
                [f"arc.{i}", prompt, float(rng.random() > hard / 3), float(rng.random() > hard), 0.01, 0.0005]
            )


@pytest.fixture
def outcome_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    mmlu = tmp_path / "data" / "routing_outcomes" / "routellm_mmlu_dev"
    mmlu.mkdir(parents=True)
    (mmlu / "contaminated_prompts.jsonl").write_text("", encoding="utf-8")
    _mmlu_csv(mmlu / "mmlu_anatomy.csv", 400, rng)
    rb = tmp_path / "data" / "routing_outcomes" / "routerbench_subset"
    rb.mkdir(parents=True)
    _routerbench_csv(rb / "arc_challenge_test.csv", 400, rng)
    return tmp_path / "data"


def _write_scores(root: Path, path: Path, order: int = 1) -> None:
    keys = [i.key for s in osrc.load_all(root) for i in s.items][::order]
    lines = [json.dumps({"prompt": k, "score": 0.2 + 0.6 * ((len(k) % 37) / 37)}) for k in keys]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_eval_escalation_end_to_end(outcome_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scores, out = tmp_path / "oof.jsonl", tmp_path / "esc.json"
    _write_scores(outcome_root, scores)
    argv = ["escalation", "--data", str(outcome_root), "--from-scores", str(scores), "--accuracies", "0.6,0.9",
            "--seeds", "2", "--out", str(out)]  # fmt: skip
    assert eval_main(argv) == 0
    text = capsys.readouterr().out
    assert "break-even accuracy" in text
    assert "matched line by line" in text
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc["sources"]) == {"mmlu:other", "routerbench:arc_challenge"}
    rb = doc["sources"]["routerbench:arc_challenge"]
    assert rb["costs"].startswith("per-prompt USD")
    assert rb["cheap_cost"] == pytest.approx(0.05)
    assert doc["sources"]["mmlu:other"]["costs"] == "strong = 20 x cheap per request"
    assert doc["settings"]["accuracies"] == [0.6, 0.9]
    assert set(doc["sources"]["mmlu:other"]) >= {"router", "verifier_only", "bayes", "bayes_gain", "cascade"}
    pooled = doc["pooled"]
    assert pooled is not None, "both synthetic sources are measurable"
    assert set(pooled["break_even"]) == {"verifier_only", "bayes", "bayes_gain"}
    assert pooled["bayes_gain"]["0.9"]["gain"]["area"]["mean"] > 0


def test_eval_escalation_matches_a_reordered_file_by_prompt(
    outcome_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = tmp_path / "oof.jsonl"
    _write_scores(outcome_root, scores, order=-1)
    argv = ["escalation", "--data", str(outcome_root), "--from-scores", str(scores), "--accuracies", "0.8",
            "--seeds", "1", "--sources", "routerbench"]  # fmt: skip
    assert triage_main(["eval", *argv]) == 0
    out = capsys.readouterr().out
    assert "matched by prompt" in out
    assert "mmlu:other" not in out


def test_eval_escalation_reports_missing_scores_and_bad_options(
    outcome_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = tmp_path / "oof.jsonl"
    scores.write_text(json.dumps({"prompt": "nothing", "score": 0.5}) + "\n", encoding="utf-8")
    assert eval_main(["escalation", "--data", str(outcome_root), "--from-scores", str(scores)]) == 2
    assert "no score for a prompt" in capsys.readouterr().err
    assert eval_main(["escalation", "--data", str(outcome_root), "--accuracies", "0.4"]) == 2
    assert "--accuracies" in capsys.readouterr().err
    assert eval_main(["escalation", "--data", str(tmp_path / "absent")]) == 2
    assert "routing_outcomes" in capsys.readouterr().err


def test_eval_escalation_with_the_shipped_bundle_leaves_trained_sources_out(
    outcome_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["escalation", "--data", str(outcome_root), "--accuracies", "0.9", "--seeds", "1"]
    assert eval_main(argv) == 0
    out = capsys.readouterr().out
    assert "routerbench:arc_challenge" in out
    assert "mmlu:other" not in out  # the shipped model trained on MMLU outcomes: in-sample, left out
