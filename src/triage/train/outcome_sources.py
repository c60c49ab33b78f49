"""Every routing-outcome source under ``../shared/data/routing_outcomes``, split into sources held out whole.

A source is one benchmark or one chat-outcome set (MMLU subject *groups*, each RouterBench dataset, each RouterDC
dataset, each chat-judgement set): the unit the leave-one-source-out protocol holds out, because a router meets
new sources, not new questions of the sources it learned. ``trainable`` says whether the licence lets the shipped
model learn from it (``../shared/data/README.md``); the others are read for evaluation only.

Outcomes are per-prompt sums (``benchmarks.Item``): 0/1 correctness, judge grades scaled to [0, 1], or a pairwise
verdict split as win = 1, tie = 0.5 each, loss = 0.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from triage.train import benchmarks as bm
from triage.train.routing_metrics import Outcomes

# MMLU's own subject categories (Hendrycks et al., categories.py): subject → group.
_MMLU_GROUP_OF_SUBCATEGORY = {
    "physics": "stem",
    "chemistry": "stem",
    "biology": "stem",
    "computer science": "stem",
    "math": "stem",
    "engineering": "stem",
    "history": "humanities",
    "philosophy": "humanities",
    "law": "humanities",
    "politics": "social_sciences",
    "culture": "social_sciences",
    "economics": "social_sciences",
    "geography": "social_sciences",
    "psychology": "social_sciences",
    "other": "other",
    "business": "other",
    "health": "other",
}
_MMLU_SUBCATEGORY = {
    "abstract_algebra": "math",
    "anatomy": "health",
    "astronomy": "physics",
    "business_ethics": "business",
    "clinical_knowledge": "health",
    "college_biology": "biology",
    "college_chemistry": "chemistry",
    "college_computer_science": "computer science",
    "college_mathematics": "math",
    "college_medicine": "health",
    "college_physics": "physics",
    "computer_security": "computer science",
    "conceptual_physics": "physics",
    "econometrics": "economics",
    "electrical_engineering": "engineering",
    "elementary_mathematics": "math",
    "formal_logic": "philosophy",
    "global_facts": "other",
    "high_school_biology": "biology",
    "high_school_chemistry": "chemistry",
    "high_school_computer_science": "computer science",
    "high_school_european_history": "history",
    "high_school_geography": "geography",
    "high_school_government_and_politics": "politics",
    "high_school_macroeconomics": "economics",
    "high_school_mathematics": "math",
    "high_school_microeconomics": "economics",
    "high_school_physics": "physics",
    "high_school_psychology": "psychology",
    "high_school_statistics": "math",
    "high_school_us_history": "history",
    "high_school_world_history": "history",
    "human_aging": "health",
    "human_sexuality": "culture",
    "international_law": "law",
    "jurisprudence": "law",
    "logical_fallacies": "philosophy",
    "machine_learning": "computer science",
    "management": "business",
    "marketing": "business",
    "medical_genetics": "health",
    "miscellaneous": "other",
    "moral_disputes": "philosophy",
    "moral_scenarios": "philosophy",
    "nutrition": "health",
    "philosophy": "philosophy",
    "prehistory": "history",
    "professional_accounting": "other",
    "professional_law": "law",
    "professional_medicine": "health",
    "professional_psychology": "psychology",
    "public_relations": "politics",
    "security_studies": "politics",
    "sociology": "culture",
    "us_foreign_policy": "politics",
    "virology": "health",
    "world_religions": "philosophy",
}


def mmlu_group(subject: str) -> str:
    """``stem``, ``humanities``, ``social_sciences`` or ``other`` (unknown subjects: ``other``)."""
    return _MMLU_GROUP_OF_SUBCATEGORY[_MMLU_SUBCATEGORY.get(subject, "other")]


@dataclass(frozen=True)
class Source:
    """One outcome source: its items, the pair of models compared, and whether the shipped model may train on it."""

    name: str
    kind: str  # "benchmark", "proxy" (another model pair on a benchmark) or "chat" (judged open-ended answers)
    strong: str
    weak: str
    trainable: bool
    licence: str
    items: list[bm.Item]

    def outcomes(self) -> Outcomes:
        return bm.Benchmark(self.name, self.items).outcomes()


ROUTERBENCH_WEAK = "mistralai/mixtral-8x7b-chat"
ROUTERDC_STRONG = "cognitivecomputations/dolphin-2.9-llama3-8b"  # the best of RouterDC's seven 7-8B models
ROUTERDC_WEAK = "mistralai/Mistral-7B-v0.1"  # the base model most of the others were tuned from
ROUTERDC_FILES = {
    "mmlu": ("mmlu_test.json", "mmlu_train.json"),
    "gsm8k": ("gsm8k-train.json",),
    "math_prealgebra": ("MATH_prealgebra.json",),
    "arc_challenge": ("arc_challenge_test.json", "arc_challenge_train.json"),
    "arc_easy": ("arc_easy_test.json", "arc_easy_train.json"),
    "humaneval": ("humaneval_test.json", "humaneval_train.json"),
    "mbpp": ("mbpp.json",),
    "javascript": ("javascript.json",),
    "cmmlu": ("cmmlu_test.json", "cmmlu_train.json"),
    "ceval": ("ceval.json",),
}


def _mmlu(root: Path) -> list[Source]:
    folder = root / "routing_outcomes" / "routellm_mmlu_dev"
    if not folder.is_dir():
        return []
    bench = bm.load_mmlu(
        folder, bm.DEFAULT_STRONG, bm.DEFAULT_WEAK, bm.load_exclude(folder / "contaminated_prompts.jsonl")
    )
    groups: dict[str, list[bm.Item]] = defaultdict(list)
    for item in bench.items:
        groups[mmlu_group(item.group)].append(item)
    licence = "MIT (MMLU); Apache-2.0 (RouteLLM outcomes)"
    return [
        Source(f"mmlu:{g}", "benchmark", bm.DEFAULT_STRONG, bm.DEFAULT_WEAK, True, licence, items)
        for g, items in sorted(groups.items())
    ]


def _routerbench(root: Path) -> list[Source]:
    folder = root / "routing_outcomes" / "routerbench_subset"
    out: list[Source] = []
    for name in ("arc_challenge", "mbpp", "winograde"):
        items: list[bm.Item] = []
        for split in ("test", "train"):
            path = folder / f"{name}_{split}.csv"
            if path.exists():
                items += bm.load_outcomes(path, bm.DEFAULT_STRONG, ROUTERBENCH_WEAK, set()).items
        if items:
            out.append(
                Source(f"routerbench:{name}", "benchmark", bm.DEFAULT_STRONG, ROUTERBENCH_WEAK, False, "unclear", items)
            )
    return out


def _routerdc(root: Path) -> list[Source]:
    folder = root / "routing_outcomes" / "routerdc_7model"
    out: list[Source] = []
    for name, files in ROUTERDC_FILES.items():
        items: list[bm.Item] = []
        for file in files:
            path = folder / file
            if not path.exists():
                continue
            for row in json.loads(path.read_text(encoding="utf-8")):
                scores = row.get("scores", {})
                if ROUTERDC_STRONG in scores and ROUTERDC_WEAK in scores:
                    items.append(
                        bm.Item(str(row["question"]), float(scores[ROUTERDC_STRONG]), float(scores[ROUTERDC_WEAK]))
                    )
        if items:
            out.append(Source(f"routerdc:{name}", "proxy", ROUTERDC_STRONG, ROUTERDC_WEAK, False, "unclear", items))
    return out


def _csv_rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _arena_bench(root: Path) -> list[Source]:
    path = root / "routing_outcomes" / "arena_bench_v1" / "arena_bench_v1_gpt4_scores.csv"
    if not path.exists():
        return []
    items = []
    for row in _csv_rows(path):
        s, w = row.get(bm.DEFAULT_STRONG, "").strip(), row.get(bm.DEFAULT_WEAK, "").strip()
        if s and w:
            items.append(bm.Item(row["prompt"], float(s) / 10.0, float(w) / 10.0))
    return [Source("arena_bench_v1", "chat", bm.DEFAULT_STRONG, bm.DEFAULT_WEAK, True, "Apache-2.0", items)]


ALPACA_WEAK = "Mixtral-8x7B-Instruct-v0.1_concise"


def _alpaca_eval(root: Path) -> list[Source]:
    path = root / "routing_outcomes" / "alpaca_eval" / "alpaca_eval_prefs_vs_gpt4turbo.csv"
    if not path.exists():
        return []
    items = []
    for row in _csv_rows(path):
        cell = row.get(ALPACA_WEAK, "").strip()
        if cell:
            pref = min(2.0, max(1.0, float(cell)))  # 1: the GPT-4-1106 baseline preferred ... 2: Mixtral preferred
            items.append(bm.Item(row["instruction"], 2.0 - pref, pref - 1.0))
    return [Source("alpaca_eval", "chat", "gpt4_1106_preview", ALPACA_WEAK, False, "NC", items)]


def _oasst_pairwise(root: Path) -> list[Source]:
    path = root / "routing_outcomes" / "qlora_oasst1_gpt4_pairwise" / "vs_gpt4_wide.csv"
    if not path.exists():
        return []
    items = []
    for row in _csv_rows(path):
        cell = row.get("gpt-3.5-turbo_vs_gpt-4__mean", "").strip()
        if cell:
            m = float(cell)  # +1: gpt-3.5 won, 0: tie, -1: gpt-4 won (mean over both answer orders)
            items.append(bm.Item(row["last_user_turn"], (1.0 - m) / 2.0, (1.0 + m) / 2.0))
    return [Source("oasst1_pairwise", "chat", "gpt-4", "gpt-3.5-turbo", True, "MIT; OASST1 Apache-2.0", items)]


LOADERS: tuple[Callable[[Path], list[Source]], ...] = (
    _mmlu,
    _routerbench,
    _routerdc,
    _arena_bench,
    _alpaca_eval,
    _oasst_pairwise,
)


def load_all(root: Path) -> list[Source]:
    """Every outcome source present under ``root`` (a missing folder is simply absent)."""
    return [source for loader in LOADERS for source in loader(root)]
