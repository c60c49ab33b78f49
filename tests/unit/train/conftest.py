"""A tiny stand-in for ../shared/data with the same layout, so loaders and the pipeline run anywhere."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"


def _jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _mmlu(folder: Path, subject: str, n: int) -> None:
    with (folder / f"mmlu_{subject}.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", WEAK, STRONG])
        for i in range(n):
            prompt = f"Question {i} about {subject} number {i * 7}?\nA. one\nB. two\nC. three\nD. four\nAnswer:"
            writer.writerow([prompt, str(i % 3 != 0), str(i % 5 != 0)])


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    mmlu = root / "routing_outcomes" / "routellm_mmlu_dev"
    mmlu.mkdir(parents=True)
    for subject in ("anatomy", "college_mathematics", "virology", "high_school_statistics"):
        _mmlu(mmlu, subject, 12)
    contaminated = "Question 0 about anatomy number 0?\nA. one\nB. two\nC. three\nD. four\nAnswer:"
    _jsonl(mmlu / "contaminated_prompts.jsonl", [{"train_prompt": "x", "eval_prompt": contaminated}])
    tasks = root / "tasks"
    _jsonl(
        tasks / "math" / "gsm8k_train.jsonl",
        [
            {"question": f"Tom has {i} apples and buys {i + 2} more. How many now?", "answer": "#### 1"}
            for i in range(20)
        ],
    )
    _jsonl(
        tasks / "math" / "math_levels.jsonl",
        [
            {"question": f"Find $x$ if $x^2 = {i * i}$.", "level": f"Level {1 + i % 5}", "type": t, "answer": "x"}
            for i in range(20)
            for t in ("Algebra", "Geometry")
        ],
    )
    bbh = tasks / "reasoning_bbh"
    bbh.mkdir(parents=True)
    (bbh / "multistep_arithmetic_two.json").write_text(
        json.dumps({"examples": [{"input": f"(({i} + 2) * 3) =", "target": "9"} for i in range(10)]})
    )
    (bbh / "word_sorting.json").write_text(json.dumps({"examples": [{"input": "Sort: b a", "target": "a b"}]}))
    (bbh / "web_of_lies.json").write_text(
        json.dumps(
            {
                "examples": [
                    {"input": f"Question: Ann {i} tells the truth. Does Bo lie?", "target": "No"} for i in range(10)
                ]
            }
        )
    )
    (bbh / "salient_translation_error_detection.json").write_text(
        json.dumps(
            {
                "examples": [
                    {
                        "input": f"Find the error. Source: Der Hund {i} schläft im Garten.\n"
                        "Translation: The dog sleeps.",
                        "target": "(A)",
                    }
                    for i in range(10)
                ]
            }
        )
    )
    t0 = tasks / "t0_p3_prompts"
    t0.mkdir(parents=True)
    rows = [
        ("xsum_DOC_tldr.jsonl", "summarization"),
        ("xsum_summarize_DOC.jsonl", "summarization"),
        ("imdb_Movie_Expressed_Sentiment.jsonl", "classification"),
        ("imdb_Reviewer_Enjoyment.jsonl", "classification"),
        ("quoref_Find_Answer.jsonl", "extraction"),
        ("adversarial_qa_dbert_generate_question.jsonl", "other_question_generation"),
    ]
    with (t0 / "_template_category_map.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "suggested_category", "rows", "note"])
        for file, cat in rows:
            writer.writerow([file, cat, 10, ""])
    story = (
        "The council met on Tuesday to discuss the new bike lanes in the city centre. Shop owners objected "
        "strongly to losing parking spaces on Main Street. Residents said the lanes would make the commute "
        "much safer for children. The council agreed to a six-month trial on two streets."
    )
    for file, cat in rows:
        prompts = {
            "summarization": f"{story} ({{i}})\n\nTL;DR:",
            "classification": "I loved this film, number {i}. Is the review positive or negative?",
            "extraction": f"{story}\n\nWho met on Tuesday? ({{i}})",
            "other_question_generation": "Write a question about item {i}.",
        }[cat]
        _jsonl(t0 / file, [{"prompt": prompts.format(i=i), "completion": "x"} for i in range(10)])
    _jsonl(
        tasks / "chat_prompts" / "arena_hard_v0.1_question.jsonl",
        [
            {
                "uid": "1",
                "category": "a",
                "cluster": "Python Coding Challenges",
                "prompt": "Write python code to sort.",
            },
            {"uid": "2", "category": "a", "cluster": "Healthy Meal Planning", "prompt": "Plan my meals."},
            {"uid": "3", "category": "a", "cluster": "Dice Probability Calculations", "prompt": "Calculate P(6)."},
        ],
    )
    levels = ("simple lifestyle knowledge", "formal education knowledge", "expert level knowledge")
    flask: list[dict[str, object]] = [
        {"instruction": "word " * (i + 1) * 20, "difficulty": levels[i % 3]} for i in range(5)
    ]
    _jsonl(tasks / "chat_prompts" / "flask_evaluation.jsonl", [*flask, {"instruction": "unrated", "difficulty": -1}])
    gsm8k_outcomes = [
        {
            "question": f"Tom has {i} apples and buys {i + 2} more. How many now?",
            "scores": {
                "meta-math/MetaMath-Mistral-7B": 1.0,
                "cognitivecomputations/dolphin-2.9-llama3-8b": 1.0,
                "mistralai/Mistral-7B-v0.1": float(i % 2),
            },
        }
        for i in range(40)
    ]
    routerdc = root / "routing_outcomes" / "routerdc_7model"
    routerdc.mkdir(parents=True)
    (routerdc / "gsm8k-train.json").write_text(json.dumps(gsm8k_outcomes), encoding="utf-8")
    _jsonl(
        tasks / "chat_prompts" / "wizardlm_testset.jsonl",
        [{"Skill": "Math", "Difficulty": i + 1, "Instruction": f"What is {i} + {i}?"} for i in range(4)],
    )
    langs = ("en", "es", "zh")
    oasst = [
        {
            "last_user_turn": text.format(i=i),
            "input": f"### Human: {text.format(i=i)} ### Assistant:",
            "label": label,
            "lang": langs[i % 3],
            "n_user_turns": 1 + i % 2,
        }
        for i in range(6)
        for text, label in (
            ("How do I reverse a list in Python, attempt {i}?", "code"),
            ("Give me {i} ideas for a birthday party", "brainstorming"),
            ("What is the capital of country {i}?", "open_qa"),
        )
    ]
    _jsonl(tasks / "oasst1_val_qlora" / "oa_questions.jsonl", [*oasst, {"last_user_turn": "thanks!", "label": None}])
    _jsonl(
        tasks / "self_instruct" / "seed_tasks.jsonl",
        [
            {"id": f"seed_{i}", "prompt": f"Write a poem about the number {i}.", "label": "creative_writing"}
            for i in range(8)
        ],
    )
    arena = root / "routing_outcomes" / "arena_bench_v1"
    arena.mkdir(parents=True)
    with (arena / "arena_bench_v1_gpt4_scores.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["question_id", "prompt", STRONG, WEAK])
        for i in range(24):
            writer.writerow([str(i), "Explain this in detail: " + "why " * (1 + i), 9, "" if i == 5 else 3 + i % 5])
    pairwise = root / "routing_outcomes" / "qlora_oasst1_gpt4_pairwise"
    pairwise.mkdir(parents=True)
    with (pairwise / "vs_gpt4_wide.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["message_id", "lang", "last_user_turn", "gpt-3.5-turbo_vs_gpt-4__mean"])
        for i in range(24):
            writer.writerow(
                [str(i), "en", f"Tell me about topic {i} " * (1 + i % 4), ("-1.0", "0.0", "1.0", "")[i % 4]]
            )
    return root
