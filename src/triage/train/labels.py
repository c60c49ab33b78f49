"""Which task label each upstream source maps to: the project's labelling decisions, in one place.

Every mapping returns a label from ``TASK_LABELS`` or ``None`` (excluded from training, with the reason
in a comment). The T0/P3 map starts from ``_template_category_map.csv`` and overrides what a human review
of each template's prompts found (the ``review`` rows and several others).
"""

from __future__ import annotations

import re

from triage.classifier.base import TASK_LABELS

# --- MMLU (RouteLLM dev outcomes): per subject -------------------------------------------------------
# Quantitative subjects whose questions are mostly computations; every other subject is a knowledge
# question (open_qa). A per-subject "reasoning" label was tried and dropped: held out by subject, the
# model could not tell a law or CS scenario from a knowledge question, because nothing in the text does.
_MMLU_MATH = {"college_mathematics", "high_school_statistics", "college_physics"}


def mmlu_label(subject: str) -> str:
    """MMLU subjects are knowledge questions (open_qa) except the computational ones (math)."""
    return "math" if subject in _MMLU_MATH else "open_qa"


# --- BIG-Bench-Hard: per task --------------------------------------------------------------------------
BBH_LABELS: dict[str, str | None] = {
    "boolean_expressions": "reasoning",
    "causal_judgement": "reasoning",
    "date_understanding": "reasoning",
    "disambiguation_qa": "reasoning",
    "dyck_languages": "reasoning",
    "formal_fallacies": "reasoning",
    "geometric_shapes": "reasoning",
    "hyperbaton": "classification",  # pick the grammatical option: a judgement over given text
    "logical_deduction_five_objects": "reasoning",
    "logical_deduction_seven_objects": "reasoning",
    "logical_deduction_three_objects": "reasoning",
    "movie_recommendation": "reasoning",
    "multistep_arithmetic_two": "math",
    "navigate": "reasoning",
    "object_counting": "math",  # counting word problems
    "penguins_in_a_table": "reasoning",
    "reasoning_about_colored_objects": "reasoning",
    "ruin_names": "reasoning",
    "salient_translation_error_detection": "classification",  # pick the error type of a translation
    "snarks": "classification",  # which statement is sarcastic
    "sports_understanding": "classification",  # plausible or not
    "temporal_sequences": "reasoning",
    "tracking_shuffled_objects_five_objects": "reasoning",
    "tracking_shuffled_objects_seven_objects": "reasoning",
    "tracking_shuffled_objects_three_objects": "reasoning",
    "web_of_lies": "reasoning",
    "word_sorting": None,  # alphabetical sorting of a word list: no label in the vocabulary fits
}

# --- T0/P3 templates -------------------------------------------------------------------------------
# The CSV's categories that are not labels, mapped by default (templates below override).
_T0_CATEGORY = {
    "reasoning_mcqa": "reasoning",
    "rewrite_paraphrase": "rewrite",
    "other_question_generation": None,  # "write a question whose answer is X": no label fits
}

# Per-template decisions after reading their prompts. Keys are file names without ".jsonl".
T0_OVERRIDES: dict[str, str | None] = {
    # review rows
    "app_reviews_generate_review": "creative_writing",
    "cnn_dailymail_3_0_0_generate_story": "creative_writing",
    "cnn_dailymail_3_0_0_spice_up_story": None,  # asks "what details would you include" but the target is the article
    "gigaword_reverse_writing": None,  # a bare "Title: ..." with no instruction at all
    "gigaword_write_its_sentence": "summarization",  # "given the above sentence, write its title"
    "glue_mrpc_generate_sentence": "rewrite",  # "a sentence that means the same thing": a paraphrase
    "common_gen_sentence_to_concepts": "extraction",
    "common_gen_topics_from_the_sentence": "extraction",
    # rewrite_paraphrase rows: one is a yes/no paraphrase judgement, not a rewrite
    "glue_mrpc_paraphrase": "classification",
    # reasoning_mcqa rows that are really something else
    "commonsense_qa_answer_to_question": None,  # generate a question from options
    "cosmos_qa_context_answer_to_question": None,  # generate a question from context and answer
    "cosmos_qa_only_question_answer": "open_qa",  # a bare question without the context
    "dream_answer_to_dialogue": "creative_writing",  # write a conversation that fits a Q/A pair
    "dream_generate_first_utterance": None,  # a dialogue with no instruction
    "dream_generate_last_utterance": None,  # "read the below conversation" and continue it: unclear task
    "dream_baseline": "extraction",  # answer a question from a given dialogue
    "dream_read_the_following_conversation_and_answer_the_question": "extraction",
    "sciq_Direct_Question": "extraction",  # answer from a given paragraph
    "sciq_Multiple_Choice": "extraction",
    "sciq_Multiple_Choice_Question_First": "extraction",
    "sciq_Multiple_Choice_Closed_Book_": "open_qa",
    "duorc_ParaphraseRC_decide_worth_it": "extraction",  # answers questions from a movie plot
    "duorc_SelfRC_decide_worth_it": "extraction",
}
# wiki_hop: pick or name an entity from the supplied documents, i.e. reading, not free reasoning.
_T0_PREFIX_OVERRIDES = {"wiki_hop_original_": "extraction"}


def t0_label(template: str, suggested: str) -> str | None:
    """Label of a T0/P3 template (file stem) given the CSV's suggested category."""
    if template in T0_OVERRIDES:
        return T0_OVERRIDES[template]
    for prefix, label in _T0_PREFIX_OVERRIDES.items():
        if template.startswith(prefix):
            return label
    if suggested in _T0_CATEGORY:
        return _T0_CATEGORY[suggested]
    return suggested if suggested in TASK_LABELS else None


# --- arena-hard: by cluster name and content -------------------------------------------------------------------
# Only code and math clusters are used; the other cluster names do not settle the task.
_ARENA_CODE_WORDS = (
    "python",
    "javascript",
    "typescript",
    "rust",
    "kotlin",
    "swift",
    "c++",
    "code",
    "coding",
    "sql",
    "regex",
    "django",
    "flask",
    "react",
    "laravel",
    "php",
    "css",
    "html",
    "vba",
    "docker",
    "kubernetes",
    "pandas",
    "matplotlib",
    "pytorch",
    "jax",
    "cuda",
    "hlsl",
    "assembly",
    "scripting",
    "development",
    "programming",
    "linked list",
    "algorithms",
    "tkinter",
    "gradio",
    "streamlit",
    "shiny",
    "tidyverse",
    "awk",
    "nix",
    "symfony",
    "odoo",
    "roblox",
    "wpf",
    "fibonacci",
    "string reversal",
    "array",
    "linux kernel",
    "mocking",
    "monads",
    "web scraping",
    "concurrency",
    "rnn",
    "autoencoder",
    "yolo",
    "databricks",
    "svg",
    "ffmpeg",
    "cron",
    "node.js",
    "pdf processing",
    "discord bot",
    "hdl",
)
_ARENA_MATH_WORDS = (
    "mathematic",
    "algebra",
    "number theory",
    "probability",
    "statistic",
    "standard deviation",
    "geometry",
    "triangle",
    "real analysis",
    "irrationality",
    "prime and perfect",
    "dice",
    "sample size",
    "calculations",
    "investment growth",
    "circular motion",
)
# The cluster name alone is noisy (clusters hold two unrelated prompts), so the prompt must agree too.
_CODE_CONTENT = re.compile(
    r"```|\b(python|javascript|typescript|java|c\+\+|c#|rust|golang|sql|bash|script|function|class|code|"
    r"program|implement|api|regex|html|css|query|library|compile|debug)\b",
    re.IGNORECASE,
)
_MATH_CONTENT = re.compile(
    r"\$|\b(prove|proof|calculate|compute|probability|equation|integral|derivative|expected value|"
    r"confidence interval|theorem|solve)\b",
    re.IGNORECASE,
)


def arena_label(cluster: str, prompt: str) -> str | None:
    """``code`` or ``math`` when both the cluster name and the prompt say so; else ``None`` (left out)."""
    name = cluster.lower()
    if any(w in name for w in _ARENA_CODE_WORDS) and _CODE_CONTENT.search(prompt):
        return "code"
    if any(w in name for w in _ARENA_MATH_WORDS) and _MATH_CONTENT.search(prompt) and not _CODE_CONTENT.search(prompt):
        return "math"
    return None
