"""Synthetic request generators."""

from __future__ import annotations

import random
import re
from collections import Counter

from triage.classifier.base import TASK_LABELS
from triage.train import synth


def test_templates_have_unique_ids_and_known_tasks() -> None:
    ids = [t.id for t in synth.TEMPLATES]
    assert len(ids) == len(set(ids))
    assert {t.task for t in synth.TEMPLATES} == set(TASK_LABELS)


def test_generate_covers_every_task_with_several_templates() -> None:
    per_task = Counter(t.task for t in synth.TEMPLATES)
    assert min(per_task.values()) >= 8


def test_generate_fills_every_slot() -> None:
    ex = synth.generate(synth.SynthContext(), random.Random(0), per_template=3)
    leftover = [e.inp.prompt for e in ex if re.search(r"\{[a-z_0-9]+\}", e.inp.prompt)]
    assert leftover == []


def test_generate_tags_examples_with_their_template() -> None:
    ex = synth.generate(synth.SynthContext(), random.Random(0), per_template=2)
    by_id = {t.id: t for t in synth.TEMPLATES}
    for e in ex:
        template = by_id[e.group.removeprefix("synth:")]
        assert e.source == "synth"
        assert e.task == template.task
        assert e.strong == template.strong
        assert e.inp.json_output == template.json_output
        assert e.inp.has_tools == template.has_tools
        assert (e.inp.user_turns > 1) == (template.turns > 1)


def test_generate_is_deterministic_for_a_seed() -> None:
    a = synth.generate(synth.SynthContext(), random.Random(7), per_template=2)
    b = synth.generate(synth.SynthContext(), random.Random(7), per_template=2)
    assert [e.inp for e in a] == [e.inp for e in b]


def test_generate_drops_duplicate_prompts_of_a_template() -> None:
    fixed = [synth.Template("fixed00", "open_qa", "Why is the sky blue?", system="")]
    ex = synth.generate(synth.SynthContext(), random.Random(0), per_template=50, templates=fixed)
    assert len(ex) == len({e.inp.prompt for e in ex}) < 50


def test_generate_uses_the_given_passages_and_sentences() -> None:
    ctx = synth.SynthContext(passages=["PASSAGE-MARKER text."], english=["SENTENCE-MARKER."], german=["GERMAN-MARKER"])
    ex = synth.generate(ctx, random.Random(0), per_template=4)
    text = "\n".join(e.inp.prompt for e in ex)
    assert "PASSAGE-MARKER" in text
    assert "SENTENCE-MARKER" in text
    assert "GERMAN-MARKER" in text
