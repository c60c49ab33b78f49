"""A deterministic stand-in for the ONNX classifier, for tests of everything downstream of it.

``FakeClassifier()`` applies a few keyword rules (first match wins) and puts ``confidence`` of the mass
on the matched label; ``FakeClassifier(fixed=Scores(...))`` returns the same scores for every input.
Both implement the ``Classifier`` protocol and plug in where an ``OnnxClassifier`` would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from triage.classifier.base import TASK_LABELS, Scores
from triage.requests.input import RoutingInput

# (label, pattern, p_strong): checked in order against the lower-cased prompt.
DEFAULT_RULES: tuple[tuple[str, str, float], ...] = (
    ("translation", r"\btranslat", 0.15),
    ("summarization", r"\bsummar|\btl;?dr\b", 0.2),
    ("code", r"```|\bdef |\bfunction\b|\bpython\b|\bjavascript\b|\bsql\b|\bcode\b|\bbug\b", 0.7),
    ("math", r"\bsolve\b|\bequation\b|\bintegral\b|\bprove\b|\d+\s*[-+*/^]\s*\d+", 0.75),
    ("extraction", r"\bextract\b|\blist all\b|\bfind all\b", 0.4),
    ("classification", r"\bclassify\b|\bsentiment\b|\bcategor", 0.2),
    ("rewrite", r"\brewrite\b|\brephrase\b|\bparaphrase\b|\bproofread\b", 0.25),
    ("brainstorming", r"\bideas?\b|\bbrainstorm\b|\bsuggest", 0.3),
    ("creative_writing", r"\bpoem\b|\bstory\b|\bhaiku\b|\blyrics\b", 0.35),
    ("reasoning", r"\bpuzzle\b|\blogic\b|\bdeduce\b|\bwhich of the following\b", 0.6),
)
FALLBACK_LABEL = "open_qa"
FALLBACK_P_STRONG = 0.3


class FakeClassifier:
    """Keyword-rule (or fixed-score) classifier implementing ``Classifier``; pure and thread-safe."""

    def __init__(
        self,
        *,
        fixed: Scores | None = None,
        rules: Sequence[tuple[str, str, float]] = DEFAULT_RULES,
        confidence: float = 0.8,
        labels: Sequence[str] = TASK_LABELS,
        version: str = "fake-1",
    ) -> None:
        if not 0.0 < confidence <= 1.0:
            raise ValueError("confidence must be in (0, 1]")
        unknown = {label for label, _, _ in rules} - set(labels)
        if unknown or FALLBACK_LABEL not in labels:
            raise ValueError(f"rule labels not in the label set: {sorted(unknown) or [FALLBACK_LABEL]}")
        self._fixed = fixed
        self._rules = tuple((label, re.compile(pattern), p) for label, pattern, p in rules)
        self._confidence = confidence
        self._labels = tuple(labels)
        self._version = version
        self.calls = 0

    @classmethod
    def returning(cls, task: str, p_strong: float, *, probability: float = 1.0) -> FakeClassifier:
        """A fake that always answers ``task`` with ``probability`` (the rest spread evenly) and ``p_strong``."""
        return cls(fixed=Scores(task_probs=_peaked(TASK_LABELS, task, probability), p_strong=p_strong))

    @property
    def version(self) -> str:
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    def score(self, inp: RoutingInput) -> Scores:
        self.calls += 1  # a test's view of how often the seam was used; races only blur the count
        if self._fixed is not None:
            return self._fixed
        text = inp.prompt.lower()
        for label, pattern, p_strong in self._rules:
            if pattern.search(text):
                return Scores(_peaked(self._labels, label, self._confidence), p_strong)
        return Scores(_peaked(self._labels, FALLBACK_LABEL, self._confidence), FALLBACK_P_STRONG)


def _peaked(labels: Sequence[str], label: str, probability: float) -> Mapping[str, float]:
    if label not in labels:
        raise ValueError(f"unknown label {label!r}")
    rest = (1.0 - probability) / (len(labels) - 1) if len(labels) > 1 else 0.0
    return {x: (probability if x == label else rest) for x in labels}
