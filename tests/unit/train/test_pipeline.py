"""``triage train`` end to end on a tiny data directory, and its command line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
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
    train,
    within_subject_folds,
)


def _options(data: Path, out: Path) -> TrainOptions:
    return TrainOptions(
        data=data,
        out=out,
        seed=1,
        folds=2,
        synth_per_template=1,
        task_fit=FitConfig(epochs=2, batch=64),
        strong_fit=FitConfig(epochs=1, batch=64),
        leave_one_source_out=False,
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
    assert clf.version == metrics["version"]
    assert str(metrics["version"]).startswith("triage-clf-1.0.0+")
    written = json.loads((out / METRICS_FILE).read_text())
    assert written["evaluation"]["task"]["n"] > 0
    assert set(written["evaluation"]["difficulty"]["setups"]) >= {"mmlu_weak_wrong", "mmlu_strong_only"}
    card = (out / CARD_FILE).read_text()
    assert "Held-out evaluation" in card or "held-out evaluation" in card
    assert "Excluded" in card
    assert 0.0 <= clf.score(RoutingInput.from_text("Summarize this text")).p_strong <= 1.0
    routing = written["evaluation"]["routing"]["mmlu_held_out_subjects"]
    assert {"with_task_bias", "without_task_bias"} <= set(routing)
    assert 0.0 <= routing["with_task_bias"]["apgr"] <= 2.0
    assert "Routing quality" in card
    within = written["evaluation"]["routing"]["mmlu_within_subjects"]
    assert within["with_task_bias"]["n"] == routing["with_task_bias"]["n"]
    assert "within subjects" in card
    setups = written["evaluation"]["difficulty"]["setups"]
    assert "mmlu_weak_wrong+gsm8k+arena" in setups
    assert all(len(row["mmlu_apgr_by_seed"]) == 3 for row in setups.values())
    chat = written["evaluation"]["chat_difficulty"]
    assert set(chat) == {"flask", "wizardlm"}
    assert chat["flask"]["n"] == 5
    assert -1.0 <= chat["flask"]["spearman_length_only"] <= 1.0
    assert "real-user-style prompts" in card
    gsm8k = written["evaluation"]["routing"]["gsm8k_proxy"]
    assert gsm8k["with_task_bias"]["n"] == 20  # 40 outcome rows; the 20 questions trained on are left out
    assert "GSM8K proxy" in card
    mmlu_prompt = "Question 3 about virology number 21?\nA. one\nB. two\nC. three\nD. four\nAnswer:"
    assert fingerprints.count_trained(out, [mmlu_prompt, "never seen"]) == 1


def test_train_writes_out_of_fold_scores_for_eval_routing(tiny_data: Path, tmp_path: Path) -> None:
    scores = tmp_path / "oof.jsonl"
    train(replace(_options(tiny_data, tmp_path / "b"), oof_scores=scores), progress=lambda _msg: None)
    rows = [json.loads(line) for line in scores.read_text().splitlines()]
    assert len(rows) == 47  # 4 subjects x 12 questions, one contaminated
    assert all(0.0 <= row["score"] <= 1.0 for row in rows)


def test_options_from_file_reads_the_shipped_defaults_and_overrides(tmp_path: Path) -> None:
    opts = options_from_file(None, data=tmp_path, out=tmp_path / "o", seed=3)
    assert DEFAULTS_FILE.is_file()
    assert opts.seed == 3
    assert opts.strong_fit.l2 == pytest.approx(1e-3)
    assert opts.gsm8k_limit == 3000
    custom = tmp_path / "t.toml"
    custom.write_text("seed = 5\n[strong_fit]\nepochs = 1\n", encoding="utf-8")
    opts = options_from_file(custom, data=tmp_path, out=tmp_path / "o")
    assert (opts.seed, opts.strong_fit.epochs, opts.strong_fit.seed) == (5, 1, 5)


def test_options_from_file_reads_the_length_prior(tmp_path: Path) -> None:
    assert options_from_file(None, data=tmp_path, out=tmp_path).length_prior.beta > 0
    custom = tmp_path / "t.toml"
    custom.write_text("selection_seeds = 1\n[length_prior]\nbeta = 0.0\n", encoding="utf-8")
    opts = options_from_file(custom, data=tmp_path, out=tmp_path / "o")
    assert (opts.length_prior.beta, opts.length_prior.cap_chars, opts.selection_seeds) == (0.0, 1024, 1)


def test_within_subject_folds_put_every_subject_in_every_fold(tiny_data: Path, tmp_path: Path) -> None:
    corpus = load_corpus(_options(tiny_data, tmp_path))
    folds = np.zeros(len(corpus.examples), dtype=np.intp)
    within = within_subject_folds(corpus, folds, 3, seed=0)
    mmlu = [i for i, e in enumerate(corpus.examples) if e.hard_strong]
    by_subject: dict[str, set[int]] = {}
    for i, row in zip(mmlu, corpus.mmlu_rows, strict=True):
        by_subject.setdefault(row.subject, set()).add(int(within[i]))
    assert by_subject
    assert all(f == {0, 1, 2} for f in by_subject.values())
    others = [i for i, e in enumerate(corpus.examples) if not e.hard_strong]
    assert (within[others] == 0).all()  # other sources keep their folds


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
    [["--data", "{missing}"], ["train", "--data", "{missing}"], ["--data", "{data}", "--folds", "1"]],
    ids=["missing-data", "with-command-word", "too-few-folds"],
)
def test_cli_main_rejects_bad_arguments(argv: list[str], tmp_path: Path, tiny_data: Path) -> None:
    args = [a.format(missing=tmp_path / "missing", data=tiny_data) for a in argv]
    assert main(args) == 2


def test_train_fails_clearly_without_data(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(_options(tmp_path / "missing", tmp_path / "out"))
