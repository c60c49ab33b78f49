"""The demo prompt mix covers the fixed task vocabulary the way the demo promises."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from triage.classifier.base import TASK_LABELS
from triage.sim import DEMO_PROMPTS, DemoPrompt


def test_demo_prompts_are_about_forty() -> None:
    assert 35 <= len(DEMO_PROMPTS) <= 45


def test_demo_prompts_use_only_the_fixed_labels() -> None:
    assert {p.task for p in DEMO_PROMPTS} <= set(TASK_LABELS)


@pytest.mark.parametrize("label", TASK_LABELS)
def test_demo_prompts_cover_every_label_twice(label: str) -> None:
    assert Counter(p.task for p in DEMO_PROMPTS)[label] >= 2


def test_most_labels_have_easy_and_hard_examples() -> None:
    both = {label for label in TASK_LABELS if {p.hard for p in DEMO_PROMPTS if p.task == label} == {True, False}}

    assert len(both) >= len(TASK_LABELS) - 2


def test_demo_prompts_vary_in_shape() -> None:
    lengths = sorted(len(p.text) for p in DEMO_PROMPTS)

    assert len({p.text for p in DEMO_PROMPTS}) == len(DEMO_PROMPTS)
    assert all(p.text.strip() == p.text and p.text for p in DEMO_PROMPTS)
    assert lengths[0] < 50
    assert lengths[-1] > 1000
    assert sum(bool(p.system) for p in DEMO_PROMPTS) >= 2


def test_demo_prompt_is_frozen() -> None:
    prompt = DEMO_PROMPTS[0]

    assert isinstance(prompt, DemoPrompt)
    with pytest.raises(dataclasses.FrozenInstanceError):
        prompt.task = "math"  # type: ignore[misc]
