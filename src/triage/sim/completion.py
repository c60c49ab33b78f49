"""Deterministic completions: the answer depends only on (provider name, model, prompt text).

The text is ``"[<provider>/<model>]"`` followed by ``words`` words, each chosen from a fixed
vocabulary by SHA-256 of the three inputs, so the same request always gets the same answer from the same
provider, and different providers or models visibly answer differently. A ``max_tokens`` below ``words``
cuts the answer to its first ``max_tokens`` words (finish reason "length").

Usage is deterministic too: ``prompt_tokens = ceil(prompt_chars / 4)`` where ``prompt_chars`` counts
every message's text, and ``completion_tokens`` is the number of words (the bracketed prefix is not
counted).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

CHARS_PER_TOKEN = 4

# 64 words, so one hash byte picks a word without bias (256 is a multiple of 64).
VOCABULARY: tuple[str, ...] = (
    "amber", "basin", "cedar", "delta", "ember", "fjord", "glade", "harbor",
    "island", "jasper", "kestrel", "lagoon", "meadow", "nectar", "orchid", "pebble",
    "quartz", "river", "summit", "tundra", "umber", "valley", "willow", "xenon",
    "yarrow", "zephyr", "anchor", "beacon", "canyon", "dune", "echo", "falcon",
    "granite", "heron", "indigo", "juniper", "kelp", "lantern", "maple", "nova",
    "opal", "prairie", "quill", "ridge", "sparrow", "timber", "upland", "vertex",
    "wharf", "yonder", "zenith", "aspen", "birch", "comet", "drift", "estuary",
    "fern", "grove", "hollow", "iris", "jetty", "knoll", "lichen", "marsh",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Completion:
    """One generated answer. ``pieces`` are the streamed deltas: the prefix, then one per word."""

    id: str
    created: int
    model: str
    pieces: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    truncated: bool

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def prompt_tokens(prompt_chars: int) -> int:
    """``ceil(prompt_chars / 4)``: the token count every fake provider reports for a prompt."""
    return -(-prompt_chars // CHARS_PER_TOKEN)


def completion_words(provider: str, model: str, prompt: str, count: int) -> tuple[str, ...]:
    """The first ``count`` words of the answer to ``prompt``; a longer count extends a shorter one."""
    seed = hashlib.sha256(f"{provider}\x00{model}\x00{prompt}".encode()).digest()
    words: list[str] = []
    block = 0
    while len(words) < count:
        digest = hashlib.sha256(seed + block.to_bytes(8, "big")).digest()
        words.extend(VOCABULARY[b % len(VOCABULARY)] for b in digest)
        block += 1
    return tuple(words[:count])


def make_completion(
    *,
    completion_id: str,
    created: int,
    provider: str,
    model: str,
    prompt: str,
    prompt_chars: int,
    words: int,
    max_tokens: int | None,
) -> Completion:
    """Build the answer for one request (see the module docstring for the rules)."""
    count = words if max_tokens is None else min(words, max(0, max_tokens))
    chosen = completion_words(provider, model, prompt, count)
    return Completion(
        id=completion_id,
        created=created,
        model=model,
        pieces=(f"[{provider}/{model}]", *(f" {w}" for w in chosen)),
        prompt_tokens=prompt_tokens(prompt_chars),
        completion_tokens=count,
        truncated=count < words,
    )
