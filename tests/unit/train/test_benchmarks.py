"""Each routing-benchmark input format, on tiny files written here."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from triage.train import benchmarks as bm

STRONG, WEAK = bm.DEFAULT_STRONG, bm.DEFAULT_WEAK


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_load_mmlu_reads_every_subject_and_drops_contaminated(tmp_path: Path) -> None:
    header = ["prompt", WEAK, STRONG]
    write_csv(tmp_path / "mmlu_anatomy.csv", header, [["Q1\nA. x\nAnswer:", "True", "True"], ["Q2", "False", "True"]])
    write_csv(tmp_path / "mmlu_virology.csv", header, [["Q3", "False", "False"]])
    exclude = bm.load_exclude(write_jsonl(tmp_path / "c.jsonl", [{"train_prompt": "t", "eval_prompt": "Q2"}]))
    b = bm.load_mmlu(tmp_path, STRONG, WEAK, exclude)
    assert [(i.prompt, i.strong, i.weak, i.group) for i in b.items] == [
        ("Q1\nA. x\nAnswer:", 1.0, 1.0, "anatomy"),
        ("Q3", 0.0, 0.0, "virology"),
    ]
    assert b.excluded == 1


def test_load_gsm8k_ignores_response_columns(tmp_path: Path) -> None:
    header = ["prompt", WEAK, STRONG, f"{WEAK}_response", f"{STRONG}_response"]
    path = write_csv(tmp_path / "g.csv", header, [["Tom has 3 apples.", "False", "True", "5", "The answer is 3"]])
    b = bm.load_gsm8k(path, STRONG, WEAK, set())
    assert [(i.prompt, i.strong, i.weak) for i in b.items] == [("Tom has 3 apples.", 1.0, 0.0)]


def test_load_outcomes_unwraps_list_prompts_and_skips_missing_outcomes(tmp_path: Path) -> None:
    header = ["sample_id", "prompt", "eval_name", "gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat"]
    rows = [
        ["1", "['Write a python function.\\nAnswer:']", "mbpp", "1.0", "0.0"],
        ["2", "['a', 'b']", "arc", "0", "1"],
        ["3", "plain text", "arc", "", "1.0"],
    ]
    path = write_csv(tmp_path / "rb.csv", header, rows)
    b = bm.load_outcomes(path, "gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat", set())
    assert [(i.prompt, i.strong, i.weak, i.group) for i in b.items] == [
        ("Write a python function.\nAnswer:", 1.0, 0.0, "mbpp"),
        ("a\n\nb", 0.0, 1.0, "arc"),
    ]
    assert b.skipped == 1
    assert [i.key for i in b.items] == ["['Write a python function.\\nAnswer:']", "['a', 'b']"]


def test_load_mt_bench_routes_on_turn_one_and_sums_both_turns(tmp_path: Path) -> None:
    questions = write_jsonl(
        tmp_path / "question.jsonl",
        [
            {"question_id": 81, "category": "writing", "turns": ["Write a blog post.", "Rewrite it."]},
            {"question_id": 82, "category": "math", "turns": ["Solve x+1=2.", "Now x+2=5."]},
            {"question_id": 83, "category": "coding", "turns": ["Leaked prompt.", "More."]},
        ],
    )
    judgements = write_jsonl(
        tmp_path / "judgements.jsonl",
        [
            {"question_id": q, "model": m, "score": s, "turn": t}
            for q, m, t, s in [
                (81, STRONG, 1, 9),
                (81, STRONG, 2, 8),
                (81, WEAK, 1, 7),
                (81, WEAK, 2, -1),
                (81, WEAK, 2, 6),
                (82, STRONG, 1, 10),
                (82, STRONG, 2, 10),
                (82, WEAK, 1, 2),
                (82, WEAK, 2, 3),
                (82, "other-model", 1, 1),
                (83, STRONG, 1, 5),
                (83, WEAK, 1, 5),
            ]
        ],
    )
    b = bm.load_mt_bench(questions, judgements, STRONG, WEAK, {"More."})
    assert [(i.prompt, i.strong, i.weak, i.count, i.group) for i in b.items] == [
        ("Write a blog post.", 17.0, 13.0, 2.0, "writing"),
        ("Solve x+1=2.", 20.0, 5.0, 2.0, "math"),
    ]
    assert b.excluded == 1
    assert b.outcomes().strong_quality == pytest.approx(37 / 4)


def test_load_mt_bench_compares_only_turns_judged_for_both_models(tmp_path: Path) -> None:
    questions = write_jsonl(
        tmp_path / "question.jsonl",
        [
            {"question_id": 1, "category": "math", "turns": ["Solve it.", "Again."]},
            {"question_id": 2, "category": "writing", "turns": ["Write.", "More."]},
            {"question_id": 3, "category": "coding", "turns": ["Code.", "More code."]},
        ],
    )
    judgements = write_jsonl(
        tmp_path / "judgements.jsonl",
        [
            {"question_id": q, "model": m, "score": s, "turn": t}
            for q, m, t, s in [
                (1, STRONG, 1, 9),
                (1, STRONG, 2, 8),
                (1, WEAK, 1, 4),
                (1, WEAK, 2, -1),  # unparsable: turn 2 is then compared for neither model
                (2, STRONG, 1, 8),
                (2, STRONG, 1, 6),  # judged twice: the mean counts
                (2, WEAK, 1, 5),
                (3, STRONG, 1, 9),
                (3, WEAK, 2, 3),  # no turn judged for both: skipped
            ]
        ],
    )
    b = bm.load_mt_bench(questions, judgements, STRONG, WEAK, set())
    assert [(i.prompt, i.strong, i.weak, i.count) for i in b.items] == [
        ("Solve it.", 9.0, 4.0, 1.0),
        ("Write.", 7.0, 5.0, 1.0),
    ]
    assert b.skipped == 1


@pytest.mark.parametrize(
    ("cell", "value"),
    [("True", 1.0), ("false", 0.0), ("1.0", 1.0), ("0", 0.0), ("0.5", 0.5), ("", None), (None, None)],
    ids=["True", "false", "one-float", "zero", "fraction", "empty", "absent"],
)
def test_outcome_parses_cells(cell: str | None, value: float | None) -> None:
    assert bm.outcome(cell) == value


@pytest.mark.parametrize("cell", ["maybe", "2"], ids=["word", "out-of-range"])
def test_outcome_rejects_other_cells(cell: str) -> None:
    with pytest.raises(bm.BenchmarkError):
        bm.outcome(cell)


def test_missing_column_is_reported(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "g.csv", ["prompt", WEAK], [["q", "True"]])
    with pytest.raises(bm.BenchmarkError, match="missing column"):
        bm.load_gsm8k(path, STRONG, WEAK, set())


def test_model_names_match_without_organisation_or_case() -> None:
    assert bm.same_model("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b-instruct-v0.1")
    assert not bm.same_model("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    fields = ["prompt", "mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1_response"]
    assert bm.resolve_column(fields, bm.DEFAULT_WEAK) == "mixtral-8x7b-instruct-v0.1"
    assert bm.resolve_column(fields, bm.DEFAULT_STRONG) == "gpt-4-1106-preview"
    assert bm.resolve_column([*fields, "MIXTRAL-8x7b-instruct-v0.1"], bm.DEFAULT_WEAK) is None  # ambiguous
    assert bm.resolve_column(fields, "claude-3") is None


def test_gsm8k_in_routellms_own_layout_loads_with_the_default_model_names(tmp_path: Path) -> None:
    # RouteLLM's gsm8k_responses.csv names Mixtral without its organisation and adds response columns.
    header = [
        "prompt",
        "mixtral-8x7b-instruct-v0.1",
        "gpt-4-1106-preview",
        "mixtral-8x7b-instruct-v0.1_response",
        "gpt-4-1106-preview_response",
    ]
    path = write_csv(
        tmp_path / "g.csv", header, [["Q1?", "True", "True", "a", "b"], ["Q2?", "False", "True", "c", "d"]]
    )
    b = bm.load_gsm8k(path, bm.DEFAULT_STRONG, bm.DEFAULT_WEAK, set())
    assert [(i.prompt, i.strong, i.weak) for i in b.items] == [("Q1?", 1.0, 1.0), ("Q2?", 1.0, 0.0)]


def test_mt_bench_judgements_match_model_names_without_organisation(tmp_path: Path) -> None:
    questions = write_jsonl(
        tmp_path / "q.jsonl", [{"question_id": 1, "category": "math", "turns": ["Solve.", "Again."]}]
    )
    judgements = write_jsonl(
        tmp_path / "j.jsonl",
        [
            {"question_id": 1, "model": "gpt-4-1106-preview", "score": 9, "turn": 1},
            {"question_id": 1, "model": "mixtral-8x7b-instruct-v0.1", "score": 4, "turn": 1},
        ],
    )
    b = bm.load_mt_bench(questions, judgements, bm.DEFAULT_STRONG, bm.DEFAULT_WEAK, set())
    assert [(i.strong, i.weak) for i in b.items] == [(9.0, 4.0)]
