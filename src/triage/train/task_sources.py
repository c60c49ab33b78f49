"""Labelled real-user task sets the shipped model must never train on: read for evaluation only.

Each is a whole source held out by construction (the model never saw a prompt of it): Self-Instruct's
user-oriented instructions (its authors ask that they not be trained on), BELLE's Chinese evaluation set and its
Chinese translation of the Self-Instruct seed tasks (licence unclear), and the project's own hand-written requests
(``eval/tasks_handwritten.jsonl``, kept out of training so that it stays a check). Together with the protocol's
held-out trainable sources they are the "real-user" lines of the model card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from triage.classifier.base import TASK_LABELS

HANDWRITTEN = Path(__file__).resolve().parents[3] / "eval" / "tasks_handwritten.jsonl"


@dataclass(frozen=True, slots=True)
class TaskSet:
    """One evaluation-only labelled set: ``(text, label)`` rows, with the language of the texts."""

    name: str
    licence: str
    language: str
    rows: list[tuple[str, str]]


def _read(path: Path, text_key: str) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            if rec.get("label") in TASK_LABELS and str(rec.get(text_key) or "").strip():
                rows.append((str(rec[text_key]), str(rec["label"])))
    return rows


def load_eval_sets(root: Path, handwritten: Path = HANDWRITTEN) -> list[TaskSet]:
    """The evaluation-only labelled sets present under ``root`` (and the hand-written file)."""
    tasks = root / "tasks"
    sets = [
        TaskSet(
            "self_instruct_user_oriented",
            "Apache-2.0; authors ask: evaluation only",
            "en",
            _read(tasks / "self_instruct" / "user_oriented_instructions.jsonl", "prompt"),
        ),
        TaskSet(
            "belle_eval_zh", "unclear (research use)", "zh", _read(tasks / "belle_zh" / "eval_set.jsonl", "question")
        ),
        TaskSet(
            "belle_seed_zh", "unclear (research use)", "zh", _read(tasks / "belle_zh" / "zh_seed_tasks.jsonl", "prompt")
        ),
        TaskSet("handwritten", "the project's own (kept out of training)", "en", _read(handwritten, "text")),
    ]
    return [s for s in sets if s.rows]
