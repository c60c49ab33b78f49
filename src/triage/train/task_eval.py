"""Task-head evaluation on a labelled JSONL file (``triage eval tasks``).

Input lines: ``{"text": ..., "label": ...}`` with a label from the task vocabulary, optionally ``"system"``
(a system prompt sent along). The text may also be under ``prompt``, ``question`` or ``last_user_turn`` (the
shapes of the labelled sets in ``../shared/data/tasks``); lines whose label is null are skipped (unlabelled
chit-chat). Each text becomes ``RoutingInput.from_text`` (the live request shape) and the
prediction is the model's top task label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage.classifier.base import TASK_LABELS
from triage.classifier.onnx_model import OnnxClassifier, default_bundle_dir
from triage.requests.input import RoutingInput
from triage.train.evaluate import task_metrics
from triage.train.jsonl import read_objects

TEXT_KEYS = ("text", "prompt", "question", "last_user_turn")


class TaskFileError(ValueError):
    """The labelled file is malformed or uses a label outside the vocabulary."""


@dataclass(frozen=True, slots=True)
class LabelledText:
    text: str
    label: str
    system: str = ""


def normalise_label(label: object) -> object:
    """A label spelled the vocabulary's way: case, spaces and hyphens, British "-isation" (``Open-QA``,
    ``creative writing``, ``summarisation``); anything else is returned unchanged (and then rejected)."""
    if not isinstance(label, str):
        return label
    spelled = "_".join(label.strip().lower().replace("-", " ").split()).replace("isation", "ization")
    return spelled if spelled in TASK_LABELS else label


def load_task_file(path: Path) -> list[LabelledText]:
    """Read and check every line; raise ``TaskFileError`` naming the first bad line."""
    rows: list[LabelledText] = []
    for number, doc in read_objects(path, TaskFileError):
        text = next((doc[k] for k in TEXT_KEYS if isinstance(doc.get(k), str)), None)
        if text is None:
            raise TaskFileError(f"{path}:{number}: expected an object with a string 'text'")
        if "label" in doc and doc["label"] is None:
            continue
        label = normalise_label(doc.get("label"))
        if label not in TASK_LABELS:
            raise TaskFileError(f"{path}:{number}: label {label!r} is not one of {', '.join(TASK_LABELS)}")
        rows.append(LabelledText(text, str(label), str(doc.get("system") or "")))
    if not rows:
        raise TaskFileError(f"{path}: no labelled lines")
    return rows


def evaluate_tasks(rows: list[LabelledText], model: Path | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1 over the labels present, per-class recall/precision/F1 and the confusion matrix."""
    clf = OnnxClassifier.load(model or default_bundle_dir())
    pred = [clf.score(RoutingInput.from_text(r.text, system=r.system)).task for r in rows]
    metrics = task_metrics([r.label for r in rows], pred, clf.labels)
    metrics["model"] = clf.version
    return metrics


def format_task_metrics(m: dict[str, Any]) -> str:
    """The printed report: headline numbers, per-class table, confusion matrix (rows true, columns predicted)."""
    lines = [
        f"task head {m.get('model', '')}: n={m['n']}, accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}",
        "",
        f"{'label':<17} {'support':>7} {'recall':>7} {'precision':>9} {'F1':>6}",
    ]
    for label, c in m["per_class"].items():
        lines.append(f"{label:<17} {c['support']:>7} {c['recall']:>7.3f} {c['precision']:>9.3f} {c['f1']:>6.3f}")
    labels: list[str] = m["confusion"]["labels"]
    short = [label[:6] for label in labels]
    lines += ["", "confusion (rows: true, columns: predicted)", f"{'':<17} " + " ".join(f"{s:>6}" for s in short)]
    for label, row in zip(labels, m["confusion"]["rows_true_cols_pred"], strict=True):
        if sum(row):
            lines.append(f"{label:<17} " + " ".join(f"{v:>6}" for v in row))
    return "\n".join(lines) + "\n"
