"""The fake classifier other tests plug in where the ONNX model would go."""

from __future__ import annotations

import pytest

from triage.classifier import TASK_LABELS, Classifier, FakeClassifier, Scores
from triage.requests.input import RoutingInput


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("Translate this into French", "translation"),
        ("Summarize the article below", "summarization"),
        ("def f(x): return x  # fix this bug", "code"),
        ("Solve the equation 2x + 3 = 7", "math"),
        ("Write a poem about the sea", "creative_writing"),
        ("Who wrote Hamlet?", "open_qa"),
    ],
    ids=["translation", "summarization", "code", "math", "creative", "fallback"],
)
def test_fake_classifier_applies_keyword_rules(prompt: str, task: str) -> None:
    scores = FakeClassifier().score(RoutingInput.from_text(prompt))
    assert scores.task == task
    assert sum(scores.task_probs.values()) == pytest.approx(1.0)
    assert set(scores.task_probs) == set(TASK_LABELS)


def test_fake_classifier_returns_fixed_scores() -> None:
    fixed = Scores(task_probs={label: 1 / len(TASK_LABELS) for label in TASK_LABELS}, p_strong=0.9)
    fake: Classifier = FakeClassifier(fixed=fixed, version="fixed-1")
    assert fake.score(RoutingInput.from_text("anything")) is fixed
    assert fake.version == "fixed-1"


def test_fake_classifier_returning_peaks_on_one_task() -> None:
    fake = FakeClassifier.returning("math", 0.8, probability=0.9)
    scores = fake.score(RoutingInput.from_text("hello"))
    assert scores.task == "math"
    assert scores.task_probability == pytest.approx(0.9)
    assert scores.p_strong == 0.8
    assert fake.calls == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"confidence": 0.0}, {"rules": (("not_a_label", "x", 0.1),)}],
    ids=["confidence", "unknown-label"],
)
def test_fake_classifier_rejects_bad_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        FakeClassifier(**kwargs)  # type: ignore[arg-type]
