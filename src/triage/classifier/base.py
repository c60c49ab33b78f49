"""The classifier contract: a routing input in, a task distribution and P(strong model needed) out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from triage.requests.input import RoutingInput

# Fixed label strings (tools and evaluations depend on them). More may be added; these keep their names.
TASK_LABELS: tuple[str, ...] = (
    "code",
    "math",
    "reasoning",
    "extraction",
    "summarization",
    "translation",
    "classification",
    "creative_writing",
    "brainstorming",
    "rewrite",
    "open_qa",
)


@dataclass(frozen=True, slots=True)
class Scores:
    """One classification: ``task_probs`` sums to 1 over the model's labels; ``p_strong`` is in [0, 1]."""

    task_probs: Mapping[str, float]
    p_strong: float

    @property
    def task(self) -> str:
        return max(self.task_probs, key=lambda label: self.task_probs[label])

    @property
    def task_probability(self) -> float:
        return self.task_probs[self.task]


class Classifier(Protocol):
    """Anything that scores a routing input. Implementations must be thread-safe and bounded in time."""

    @property
    def version(self) -> str: ...

    def score(self, inp: RoutingInput) -> Scores: ...
