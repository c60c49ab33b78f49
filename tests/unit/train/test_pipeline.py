"""``triage train`` end to end on a tiny data directory, and its command line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from triage.classifier.base import TASK_LABELS
from triage.classifier.features import FeatureConfig
from triage.classifier.onnx_model import MODEL_FILE, OnnxClassifier
from triage.requests.input import RoutingInput
from triage.train import fingerprints
from triage.train.cli import main
from triage.train.model import FitConfig
from triage.train.pipeline import (
    CARD_FILE,
    DEFAULTS_FILE,
    METRICS_FILE,
    TrainOptions,
    load_corpus,
    options_from_file,
    setups,
    task_unit,
    train,
)


def _options(data: Path, out: Path) -> TrainOptions:
    return TrainOptions(
        data=data,
        out=out,
        seed=1,
        synth_per_template=1,
        i18n_per_template=1,
        task_fit=FitConfig(epochs=2, batch=64),
        strong_fit=FitConfig(epochs=1, batch=64),
        length_betas=(0.3,),
        measure_latency=False,
        features=FeatureConfig(hash_bits=12),
    )


@pytest.fixture(scope="module")
def trained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("run") / "bundle"
    return out, train(_options(tiny_data, out), progress=lambda _msg: None)


def test_train_writes_a_loadable_bundle_with_metrics_and_card(trained: tuple[Path, dict[str, object]]) -> None:
    out, metrics = trained
    clf = OnnxClassifier.load(out)
    assert clf.labels == TASK_LABELS
    assert 0.0 <= clf.score(RoutingInput.from_text("Summarize this text")).p_strong <= 1.0
    written = json.loads((out / METRICS_FILE).read_text())
    assert written["version"] == metrics["version"] == clf.version
    card = (out / CARD_FILE).read_text()
    assert "leave one source out" in card
    assert "Excluded from training" in card
    assert "Language is not the task" in card
    mmlu_prompt = "Question 3 about virology number 21?\nA. one\nB. two\nC. three\nD. four\nAnswer:"
    assert fingerprints.count_trained(out, [mmlu_prompt, "never seen"]) == 1


def test_train_holds_out_every_task_source_whole(tiny_data: Path, trained: tuple[Path, dict[str, object]]) -> None:
    _, metrics = trained
    task = metrics["evaluation"]["task"]  # type: ignore[index]
    corpus = load_corpus(_options(tiny_data, Path("unused")))
    units = {task_unit(e) for e in corpus.examples if e.task is not None}
    assert set(task["held_out_sources"]) == units
    assert {"oasst1", "self_instruct", "i18n:english", "i18n:asia"} <= units
    oasst = task["held_out_sources"]["oasst1"]
    assert oasst["real_user"]
    assert oasst["n"] == 18
    assert set(oasst["by_language"]) == set()  # fewer than 15 rows per language in the tiny set
    assert task["held_out_sources"]["i18n:english"]["by_language"]["en"]["n"] >= 15
    assert "handwritten" in task["evaluation_only_sources"]


def test_train_scores_every_outcome_source_next_to_its_baselines(trained: tuple[Path, dict[str, object]]) -> None:
    _, metrics = trained
    diff = metrics["evaluation"]["difficulty"]  # type: ignore[index]
    names = {"mmlu:other", "mmlu:stem", "arena_bench_v1", "oasst1_pairwise", "routerdc:gsm8k"}
    assert set(diff["baselines"]) == names
    assert set(diff["setups"]) == {s.name for s in setups((0.3,))}
    assert diff["chosen"] in diff["setups"]
    measured = [row for row in diff["baselines"].values() if row["measurable"]]
    assert measured
    for row in measured:
        assert 0.0 <= row["length_apgr"] <= 2.0
        assert row["random_spread"] >= 0.0
    arena = diff["baselines"]["arena_bench_v1"]
    assert (arena["n"], arena["trainable"]) == (23, True)  # the row without a weak-model grade is skipped
    assert not diff["baselines"]["routerdc:gsm8k"]["trainable"]
    for setup in diff["setups"].values():
        assert set(setup["sources"]) == names


def test_train_writes_held_out_scores_for_eval_routing(tiny_data: Path, tmp_path: Path) -> None:
    scores = tmp_path / "held.jsonl"
    train(replace(_options(tiny_data, tmp_path / "b"), oof_scores=scores), progress=lambda _msg: None)
    rows = [json.loads(line) for line in scores.read_text().splitlines()]
    assert len(rows) == 47 + 23 + 18 + 40  # MMLU (one contaminated), arena, pairwise (ties count), RouterDC GSM8K
    assert all(0.0 <= row["score"] <= 1.0 for row in rows)


def test_options_from_file_reads_the_shipped_defaults_and_overrides(tmp_path: Path) -> None:
    opts = options_from_file(None, data=tmp_path, out=tmp_path / "o", seed=3)
    assert DEFAULTS_FILE.is_file()
    assert opts.seed == 3
    assert opts.strong_fit.l2 == pytest.approx(1e-3)
    assert opts.gsm8k_limit == 1500
    custom = tmp_path / "t.toml"
    custom.write_text("seed = 5\n[strong_fit]\nepochs = 1\n", encoding="utf-8")
    opts = options_from_file(custom, data=tmp_path, out=tmp_path / "o")
    assert (opts.seed, opts.strong_fit.epochs, opts.strong_fit.seed) == (5, 1, 5)


def test_options_from_file_reads_the_length_betas(tmp_path: Path) -> None:
    assert options_from_file(None, data=tmp_path, out=tmp_path).length_betas
    custom = tmp_path / "t.toml"
    custom.write_text("[difficulty]\nlength_betas = [0.5]\n", encoding="utf-8")
    assert options_from_file(custom, data=tmp_path, out=tmp_path / "o").length_betas == (0.5,)


def test_options_from_file_rejects_unknown_keys(tmp_path: Path) -> None:
    bad = tmp_path / "t.toml"
    bad.write_text("learning_rate = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown keys"):
        options_from_file(bad, data=tmp_path, out=tmp_path / "o")


def test_train_is_reproducible_for_a_seed(
    tiny_data: Path, tmp_path: Path, trained: tuple[Path, dict[str, object]]
) -> None:
    first_out, first = trained
    again = train(_options(tiny_data, tmp_path / "again"), progress=lambda _msg: None)
    assert again["evaluation"] == first["evaluation"]
    assert (tmp_path / "again" / MODEL_FILE).read_bytes() == (first_out / MODEL_FILE).read_bytes()


def test_train_with_another_seed_changes_the_model(
    tiny_data: Path, tmp_path: Path, trained: tuple[Path, dict[str, object]]
) -> None:
    first_out, _ = trained
    train(replace(_options(tiny_data, tmp_path / "other"), seed=2), progress=lambda _msg: None)
    assert (tmp_path / "other" / MODEL_FILE).read_bytes() != (first_out / MODEL_FILE).read_bytes()


@pytest.mark.parametrize(
    "argv",
    [["--data", "{missing}"], ["train", "--data", "{missing}"]],
    ids=["missing-data", "with-command-word"],
)
def test_cli_main_rejects_bad_arguments(argv: list[str], tmp_path: Path, tiny_data: Path) -> None:
    args = [a.format(missing=tmp_path / "missing", data=tiny_data) for a in argv]
    assert main(args) == 2


def test_train_fails_clearly_without_data(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(_options(tmp_path / "missing", tmp_path / "out"))
