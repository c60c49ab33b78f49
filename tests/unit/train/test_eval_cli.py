"""``triage eval routing`` and ``triage eval tasks`` end to end on tiny files (the shipped model scores them)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from triage.classifier.onnx_model import default_bundle_dir
from triage.cli import main as triage_main
from triage.train import benchmarks as bm
from triage.train import fingerprints
from triage.train.eval_cli import main

from .test_benchmarks import write_csv, write_jsonl

PROMPTS = [
    "What is the capital of France?\nA. Paris\nB. Rome\nC. Oslo\nD. Bern\nAnswer:",
    "Compute the integral of x^2 sin(x) dx from 0 to pi.\nA. pi^2 - 4\nB. 2\nC. 0\nD. pi\nAnswer:",
    "Which organ pumps blood?\nA. Heart\nB. Lung\nC. Liver\nD. Skin\nAnswer:",
    "Let G be a group of order 15. How many Sylow 5-subgroups does G have?\nA. 1\nB. 3\nC. 5\nD. 15\nAnswer:",
]


@pytest.fixture
def mmlu_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mmlu"
    folder.mkdir()
    for subject, rows in (("geo", [(0, 1, 1), (2, 1, 1)]), ("math", [(1, 0, 1), (3, 0, 1)])):
        with (folder / f"mmlu_{subject}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["prompt", bm.DEFAULT_WEAK, bm.DEFAULT_STRONG])
            for i, weak, strong in rows:
                writer.writerow([PROMPTS[i], str(bool(weak)), str(bool(strong))])
    return folder


def test_eval_routing_writes_json_scores_and_plot(
    mmlu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    scores = tmp_path / "s.jsonl"
    plot = tmp_path / "p.png"
    argv = ["routing", "--benchmark", "mmlu", "--data", str(mmlu_dir), "--json", str(out)]
    assert main([*argv, "--scores", str(scores), "--plot", str(plot), "--points", "4"]) == 0
    doc = json.loads(out.read_text())
    assert doc["n"] == 4
    assert {"apgr", "cpt50", "cpt80", "strong_quality", "weak_quality", "curve", "random", "oracle"} <= set(doc)
    assert len(doc["curve"]) == 5
    lines = [json.loads(line) for line in scores.read_text().splitlines()]
    assert [row["prompt"] for row in lines] == [PROMPTS[0], PROMPTS[2], PROMPTS[1], PROMPTS[3]]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "APGR" in printed
    assert "oracle" in printed
    assert "random" in printed


def test_eval_routing_says_when_the_model_was_trained_on_the_prompts(
    mmlu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(default_bundle_dir(), bundle)
    (bundle / fingerprints.FINGERPRINTS_FILE).write_text(fingerprints.render([PROMPTS[0], PROMPTS[3]]))
    out = tmp_path / "r.json"
    argv = ["routing", "--benchmark", "mmlu", "--data", str(mmlu_dir), "--model", str(bundle), "--json", str(out)]
    assert main(argv) == 0
    assert json.loads(out.read_text())["trained_on"] == 2
    printed = capsys.readouterr().out
    assert "trained on 2 of these 4 prompts" in printed
    assert "RouteLLM best published" not in printed  # never beside an in-sample figure
    (bundle / fingerprints.FINGERPRINTS_FILE).write_text(fingerprints.render(["something else"]))
    assert main(argv) == 0
    assert json.loads(out.read_text())["trained_on"] == 0
    printed = capsys.readouterr().out
    assert "in-sample" not in printed
    assert "RouteLLM best published on mmlu" in printed


def test_eval_routing_from_scores_reproduces_a_perfect_router(mmlu_dir: Path, tmp_path: Path) -> None:
    scores = tmp_path / "s.jsonl"
    perfect = {PROMPTS[0]: 0.1, PROMPTS[2]: 0.2, PROMPTS[1]: 0.8, PROMPTS[3]: 0.9}
    scores.write_text("".join(json.dumps({"prompt": p, "score": s}) + "\n" for p, s in perfect.items()))
    out = tmp_path / "r.json"
    argv = ["routing", "--benchmark", "mmlu", "--data", str(mmlu_dir), "--from-scores", str(scores)]
    assert main([*argv, "--json", str(out), "--points", "4"]) == 0
    doc = json.loads(out.read_text())
    assert doc["apgr"] == pytest.approx(0.75)
    assert doc["cpt50"] == pytest.approx(25.0)


def test_eval_routing_without_data_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routing", "--benchmark", "gsm8k"]) == 2
    assert "needs --data" in capsys.readouterr().err


def test_triage_cli_delegates_eval(mmlu_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert triage_main(["eval", "routing", "--benchmark", "mmlu", "--data", str(mmlu_dir), "--no-task-bias"]) == 0
    assert "no task bias" in capsys.readouterr().out


def test_eval_tasks_reports_accuracy_and_confusion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "t.jsonl"
    rows = [
        {"text": "Translate 'good morning' into German.", "label": "translation"},
        {"text": "Write a Python function that reverses a string.", "label": "code"},
        {"text": "Write a haiku about autumn rain.", "label": "creative_writing"},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "m.json"
    assert main(["tasks", "--data", str(data), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["n"] == 3
    assert 0.0 <= doc["accuracy"] <= 1.0
    assert "macro_f1" in doc
    assert "confusion" in capsys.readouterr().out


def test_eval_tasks_accepts_labels_spelled_differently(tmp_path: Path) -> None:
    data = tmp_path / "t.jsonl"
    lines = [("Summarise this: the meeting moved to Friday.", "Summarisation"), ("Tell me a story", "creative-writing")]
    lines += [("What is the capital of Peru?", "Open QA")]
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in lines))
    out = tmp_path / "m.json"
    assert main(["tasks", "--data", str(data), "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())["per_class"]) == {"summarization", "creative_writing", "open_qa"}


def test_eval_tasks_reads_the_shared_data_shapes_and_skips_unlabelled_lines(tmp_path: Path) -> None:
    data = tmp_path / "t.jsonl"
    lines = [
        {"prompt": "Write a limerick about a cat.", "label": "creative_writing"},
        {"question": "把这句话翻译成英文：你好", "label": "translation"},
        {"last_user_turn": "thanks!", "label": None},
        {"last_user_turn": "What is 15% of 240?", "label": "math"},
    ]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
    out = tmp_path / "m.json"
    assert main(["tasks", "--data", str(data), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["n"] == 3


def test_eval_tasks_rejects_unknown_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "t.jsonl"
    data.write_text(json.dumps({"text": "hi", "label": "chitchat"}) + "\n")
    assert main(["tasks", "--data", str(data)]) == 2
    assert "chitchat" in capsys.readouterr().err


def _gsm8k(tmp: Path) -> list[str]:
    header = ["prompt", bm.DEFAULT_WEAK, bm.DEFAULT_STRONG, f"{bm.DEFAULT_WEAK}_response"]
    rows = [["Tom has 3 apples and eats one. How many are left?", "True", "True", "2"]]
    rows += [
        ["A train leaves at 3pm at 60 mph; another at 4pm at 80 mph. When does it catch up?", "False", "True", "?"]
    ]
    write_csv(tmp / "gsm8k.csv", header, rows)
    return ["--data", str(tmp / "gsm8k.csv")]


def _mt_bench(tmp: Path) -> list[str]:
    q = [
        {"question_id": 1, "category": "writing", "turns": ["Write a poem about tea.", "Make it shorter."]},
        {"question_id": 2, "category": "math", "turns": ["Solve x^2 = 16.", "And x^3 = 27?"]},
    ]
    judged = [(1, 9, 8), (2, 10, 3)]
    j = [
        {"question_id": qid, "model": model, "score": score, "turn": turn}
        for qid, strong, weak in judged
        for model, score in ((bm.DEFAULT_STRONG, strong), (bm.DEFAULT_WEAK, weak))
        for turn in (1, 2)
    ]
    write_jsonl(tmp / "question.jsonl", q)
    write_jsonl(tmp / "judgements.jsonl", j)
    return ["--questions", str(tmp / "question.jsonl"), "--judgements", str(tmp / "judgements.jsonl")]


def _outcomes(tmp: Path) -> list[str]:
    header = ["prompt", "eval_name", "strong-model", "weak-model"]
    rows = [
        ["['Write a python function to add two numbers.']", "mbpp", "1.0", "0.0"],
        ["['What is 2+2?']", "arc", "1", "1"],
    ]
    write_csv(tmp / "rb.csv", header, rows)
    return ["--data", str(tmp / "rb.csv"), "--strong", "strong-model", "--weak", "weak-model"]


@pytest.mark.parametrize(
    ("benchmark", "make", "first_prompt"),
    [
        ("gsm8k", _gsm8k, "Tom has 3 apples and eats one. How many are left?"),
        ("mt-bench", _mt_bench, "Write a poem about tea."),
        ("outcomes", _outcomes, "['Write a python function to add two numbers.']"),
    ],
    ids=["gsm8k", "mt-bench", "outcomes"],
)
def test_eval_routing_reads_every_format(benchmark: str, make: Any, first_prompt: str, tmp_path: Path) -> None:
    out, scores = tmp_path / "r.json", tmp_path / "s.jsonl"
    argv = ["routing", "--benchmark", benchmark, *make(tmp_path), "--json", str(out), "--scores", str(scores)]
    assert main(argv) == 0
    assert json.loads(out.read_text())["n"] == 2
    assert json.loads(scores.read_text().splitlines()[0])["prompt"] == first_prompt
