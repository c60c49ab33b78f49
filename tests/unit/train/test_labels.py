"""The labelling decisions stay inside the task vocabulary."""

from __future__ import annotations

import pytest

from triage.classifier.base import TASK_LABELS
from triage.train import labels


def test_bbh_labels_are_task_labels_or_excluded() -> None:
    assert set(labels.BBH_LABELS.values()) - {None} <= set(TASK_LABELS)
    assert labels.BBH_LABELS["multistep_arithmetic_two"] == "math"
    assert labels.BBH_LABELS["salient_translation_error_detection"] == "classification"


@pytest.mark.parametrize(
    ("template", "suggested", "label"),
    [
        ("xsum_DOC_tldr", "summarization", "summarization"),
        ("cosmos_qa_no_prompt_text", "reasoning_mcqa", "reasoning"),
        ("glue_mrpc_paraphrase", "rewrite_paraphrase", "classification"),
        ("paws_labeled_final_paraphrase_task", "rewrite_paraphrase", "rewrite"),
        ("wiki_hop_original_generate_object", "reasoning_mcqa", "extraction"),
        ("duorc_SelfRC_generate_question", "other_question_generation", None),
        ("gigaword_reverse_writing", "creative_writing", None),
        ("anything_else", "not_a_category", None),
    ],
    ids=[
        "csv-label",
        "mcqa-default",
        "override",
        "rewrite",
        "prefix-override",
        "excluded",
        "review-excluded",
        "unknown",
    ],
)
def test_t0_label_applies_overrides_then_defaults(template: str, suggested: str, label: str | None) -> None:
    assert labels.t0_label(template, suggested) == label


@pytest.mark.parametrize(
    ("subject", "label"),
    [("college_mathematics", "math"), ("college_physics", "math"), ("virology", "open_qa")],
    ids=["math", "physics", "knowledge"],
)
def test_mmlu_label_by_subject(subject: str, label: str) -> None:
    assert labels.mmlu_label(subject) == label


@pytest.mark.parametrize(
    ("cluster", "prompt", "label"),
    [
        ("Python Coding Challenges", "Write python code that sorts a list", "code"),
        ("Python Coding Challenges", "Tell me a joke", None),
        ("Dice Probability Calculations", "What is the probability of two sixes?", "math"),
        ("Healthy Meal Planning", "Write python code for my meal plan", None),
    ],
    ids=["code", "code-cluster-other-content", "math", "unmapped-cluster"],
)
def test_arena_label_needs_cluster_and_content_to_agree(cluster: str, prompt: str, label: str | None) -> None:
    assert labels.arena_label(cluster, prompt) == label
