"""Which benchmark prompts a model bundle was trained on, so an evaluation can say when it is in-sample.

``triage train`` writes ``trained_prompts.txt`` into the bundle: one short hash per line (sorted) of every
training prompt taken from a public benchmark (MMLU, GSM8K, MATH, BBH, arena-hard). ``triage eval routing``
counts how many of the prompts it scores are in that set: figures on prompts the model learned from measure
memory, not routing quality. 32-bit hashes of whitespace-normalised text: with ~15,000 entries a false match
is about one in 300,000 prompts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

FINGERPRINTS_FILE = "trained_prompts.txt"
BENCHMARK_SOURCES = frozenset({"mmlu", "gsm8k", "math", "bbh", "arena_hard"})


def fingerprint(text: str) -> str:
    """8 hex digits of a hash of ``text`` with whitespace runs collapsed and the ends stripped."""
    return hashlib.blake2b(" ".join(text.split()).encode("utf-8"), digest_size=4).hexdigest()


def render(prompts: Iterable[str]) -> str:
    """The file's text: the sorted, distinct fingerprints of ``prompts``, one per line."""
    return "".join(f"{h}\n" for h in sorted({fingerprint(p) for p in prompts}))


def load(bundle: Path) -> frozenset[str] | None:
    """The fingerprints in ``bundle``, or None when the bundle has no such file (trained before it existed)."""
    path = bundle / FINGERPRINTS_FILE
    if not path.is_file():
        return None
    return frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def count_trained(bundle: Path, prompts: Iterable[str]) -> int | None:
    """How many of ``prompts`` the bundle was trained on; None when the bundle does not say."""
    known = load(bundle)
    if known is None:
        return None
    return sum(1 for p in prompts if fingerprint(p) in known)
