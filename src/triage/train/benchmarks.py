"""Routing benchmarks on disk → prompts with both models' outcomes, in the exact formats RouteLLM publishes.

Formats (``triage eval routing --benchmark ...``):

- ``mmlu``: a directory of ``mmlu_<subject>.csv`` with columns ``prompt``, ``<weak model>``, ``<strong model>``
  holding ``True``/``False``; the subject is the prompt's group.
- ``gsm8k``: one CSV with the same three columns (``<model>_response`` columns are ignored).
- ``mt-bench``: ``question.jsonl`` (``question_id``, ``category``, ``turns: [t1, t2]``) and ``judgements.jsonl``
  (``question_id``, ``model``, ``score`` 1-10, ``turn``). The router sees the first turn only; every judged
  turn of the routed model counts. Judgements with a score below 0 (FastChat's ``-1`` for an unparsable
  verdict) are dropped. The category is the group.
- ``outcomes``: any CSV with a ``prompt`` column and 0/1 (or true/false) outcome columns named by the caller;
  rows missing either outcome are skipped and counted. RouterBench stores prompts as a Python list literal
  (``['text']``); such cells are joined into one text.

``exclude`` is a set of prompts (RouteLLM's ``contaminated_prompts.jsonl``, field ``eval_prompt``); as in
RouteLLM, an MT-Bench question is dropped when either of its turns is listed. Prompts are compared with
surrounding whitespace stripped.
"""

from __future__ import annotations

import ast
import csv
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage.train.jsonl import read_objects
from triage.train.routing_metrics import Outcomes

DEFAULT_STRONG = "gpt-4-1106-preview"
DEFAULT_WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"

_TRUE = {"true", "1", "1.0", "yes"}
_FALSE = {"false", "0", "0.0", "no"}


class BenchmarkError(ValueError):
    """A benchmark file is missing, malformed, or lacks a column the caller named."""


@dataclass(frozen=True, slots=True)
class Item:
    """One routed prompt: what the router sees, both models' outcome sums, and how many answers they cover.

    ``raw`` is the prompt cell exactly as the file holds it when that differs from ``prompt`` (RouterBench's
    list literals); score files name prompts by it, so they match the input file line for line.
    """

    prompt: str
    strong: float
    weak: float
    count: float = 1.0
    group: str = ""
    raw: str = ""

    @property
    def key(self) -> str:
        """The prompt as written in the input file."""
        return self.raw or self.prompt


@dataclass(frozen=True)
class Benchmark:
    """A loaded benchmark: its items and the rows left out (excluded as contaminated, or without outcomes)."""

    name: str
    items: list[Item]
    excluded: int = 0
    skipped: int = 0

    def outcomes(self) -> Outcomes:
        return Outcomes.of([i.strong for i in self.items], [i.weak for i in self.items], [i.count for i in self.items])


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    for _, row in read_objects(path, BenchmarkError):
        yield row


def load_exclude(path: Path | None) -> set[str]:
    """The ``eval_prompt`` values of a contaminated-prompts JSONL (empty when ``path`` is None)."""
    if path is None:
        return set()
    return {str(row["eval_prompt"]).strip() for row in _jsonl(path) if "eval_prompt" in row}


def outcome(cell: str | None) -> float | None:
    """A 0/1 outcome cell as a float; None when empty; ``BenchmarkError`` when it is something else."""
    if cell is None:
        return None
    text = cell.strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    try:
        value = float(text)
    except ValueError as exc:
        raise BenchmarkError(f"outcome {cell!r} is not true/false or a number") from exc
    if not 0.0 <= value <= 1.0:
        raise BenchmarkError(f"outcome {cell!r} is outside [0, 1]")
    return value


def prompt_text(cell: str) -> str:
    """A prompt cell as text: a Python list literal of strings (RouterBench) is joined, anything else kept."""
    text = cell.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return cell
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "\n\n".join(value)
    return cell


def same_model(a: str, b: str) -> bool:
    """Whether two model names mean the same model: equal, or equal without the organisation prefix and case
    (RouteLLM's files say ``mixtral-8x7b-instruct-v0.1`` where its MMLU files say
    ``mistralai/Mixtral-8x7B-Instruct-v0.1``)."""
    return a == b or a.rsplit("/", 1)[-1].lower() == b.rsplit("/", 1)[-1].lower()


def resolve_column(fieldnames: Sequence[str], name: str) -> str | None:
    """The column holding ``name``'s outcomes: the exact name, else the one column that is the same model
    (``prompt`` and ``*_response`` text columns never match); None when there is no such single column."""
    if name in fieldnames:
        return name
    matches = [f for f in fieldnames if f != "prompt" and not f.endswith("_response") and same_model(f, name)]
    return matches[0] if len(matches) == 1 else None


def _rows(path: Path, needed: Iterable[str]) -> Iterator[dict[str, str]]:
    """The CSV's rows; each ``needed`` column is also reachable under the name asked for (``resolve_column``)."""
    csv.field_size_limit(sys.maxsize)  # MMLU/GSM8K cells hold whole few-shot prompts and responses
    try:
        fh = path.open(encoding="utf-8", newline="")
    except FileNotFoundError as exc:
        raise BenchmarkError(f"{path}: no such file") from exc
    with fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        found = {name: resolve_column(fields, name) for name in needed}
        missing = [name for name, column in found.items() if column is None]
        if missing:
            raise BenchmarkError(f"{path}: missing column(s) {missing}; has {fields}")
        aliases = [(name, column) for name, column in found.items() if column is not None and column != name]
        for row in reader:
            for name, column in aliases:
                row[name] = row[column]
            yield row


def _outcome_csv(
    path: Path,
    strong: str,
    weak: str,
    exclude: set[str],
    group: str,
    *,
    list_prompts: bool,
    group_column: str | None = None,
) -> tuple[list[Item], int, int]:
    items: list[Item] = []
    excluded = skipped = 0
    for row in _rows(path, ("prompt", strong, weak)):
        raw = row["prompt"]
        if raw.strip() in exclude:
            excluded += 1
            continue
        s, w = outcome(row[strong]), outcome(row[weak])
        if s is None or w is None:
            skipped += 1
            continue
        text = prompt_text(raw) if list_prompts else raw
        label = (row.get(group_column) or group) if group_column else group
        items.append(Item(text, s, w, 1.0, label, raw if text != raw else ""))
    return items, excluded, skipped


def load_mmlu(folder: Path, strong: str, weak: str, exclude: set[str]) -> Benchmark:
    """Every ``mmlu_<subject>.csv`` in ``folder`` (sorted by subject)."""
    files = sorted(folder.glob("mmlu_*.csv"))
    if not files:
        raise BenchmarkError(f"{folder}: no mmlu_<subject>.csv files")
    items: list[Item] = []
    excluded = skipped = 0
    for path in files:
        got, e, s = _outcome_csv(path, strong, weak, exclude, path.stem.removeprefix("mmlu_"), list_prompts=False)
        items += got
        excluded += e
        skipped += s
    return Benchmark("mmlu", items, excluded, skipped)


def load_gsm8k(path: Path, strong: str, weak: str, exclude: set[str]) -> Benchmark:
    items, excluded, skipped = _outcome_csv(path, strong, weak, exclude, "gsm8k", list_prompts=False)
    return Benchmark("gsm8k", items, excluded, skipped)


def load_outcomes(path: Path, strong: str, weak: str, exclude: set[str]) -> Benchmark:
    """A generic outcome CSV; the group is the ``eval_name`` column when there is one."""
    items, excluded, skipped = _outcome_csv(
        path, strong, weak, exclude, "", list_prompts=True, group_column="eval_name"
    )
    return Benchmark(path.stem, items, excluded, skipped)


def load_mt_bench(questions: Path, judgements: Path, strong: str, weak: str, exclude: set[str]) -> Benchmark:
    """MT-Bench: the first turn is the prompt; the outcome sums are the judge scores of all turns.

    A score below 0 (FastChat's "judgement could not be parsed") is dropped; a turn judged more than once counts
    with its mean. Only turns judged for both models count, so a turn missing for one model does not tilt the
    comparison; a question with no such turn is skipped.
    """
    per_turn: dict[tuple[Any, str], dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in _jsonl(judgements):
        named = str(row.get("model"))
        model = strong if same_model(named, strong) else weak if same_model(named, weak) else None
        if model is None:
            continue
        score = float(row.get("score", -1))
        if score >= 0:
            per_turn[(row.get("question_id"), model)][row.get("turn", 1)].append(score)
    items: list[Item] = []
    excluded = skipped = 0
    for row in _jsonl(questions):
        turns = row.get("turns") or []
        if not turns or not isinstance(turns[0], str):
            raise BenchmarkError(f"{questions}: question {row.get('question_id')} has no first turn")
        if any(isinstance(t, str) and t.strip() in exclude for t in turns):
            excluded += 1
            continue
        qid = row.get("question_id")
        s, w = per_turn.get((qid, strong), {}), per_turn.get((qid, weak), {})
        both = [t for t in s if t in w]
        if not both:
            skipped += 1
            continue
        strong_sum = sum(sum(s[t]) / len(s[t]) for t in both)
        weak_sum = sum(sum(w[t]) / len(w[t]) for t in both)
        items.append(Item(turns[0], strong_sum, weak_sum, float(len(both)), str(row.get("category", ""))))
    if not items:
        raise BenchmarkError(f"{questions}: no question has judgements for both {strong} and {weak}")
    return Benchmark("mt-bench", items, excluded, skipped)
