"""The shape of one language's synthetic requests: slot pools and per-label templates, in that language.

A ``Lang`` is written by hand (the project's own text, Apache-2.0). Templates are ``str.format`` strings
whose slots come from the language's own ``pools`` or from the language-neutral slots the generator
provides (``NEUTRAL_SLOTS``). Every label of ``triage.classifier.base.TASK_LABELS`` has templates, so a
classifier trained on them cannot learn "not English" as a task.
"""

from __future__ import annotations

from dataclasses import dataclass

# Slots the generator fills the same way in every language (code, numbers, formulas, English text).
NEUTRAL_SLOTS = frozenset(
    {
        "code",  # a short code block (Python/JS/SQL...), with or without a ``` fence
        "code_lang",  # a programming language name: Python, JavaScript, Rust, ...
        "n",  # a small integer, 3-12
        "a",  # an integer, 12-999
        "b",  # an integer, 12-999
        "pct",  # a percentage number without the sign: 5, 12, 15, ...
        "linear",  # an equation such as "3x + 7 = 22"
        "quadratic",  # an equation such as "x^2 - 5x + 6 = 0"
        "poly",  # a function such as "f(x) = 3x^3 - 2x^2 + x - 4"
        "en_sentence",  # one English sentence (text to translate from English)
        "foreign",  # one sentence in some other language (text to translate)
    }
)

# Pools every language must define (at least 8 entries each; ``passage`` at least 6, ``lang_name`` at least 8).
REQUIRED_POOLS = frozenset(
    {
        "topic",  # everyday or work topics: "remote work", "healthy eating", ...
        "name",  # first names common in the language
        "city",  # city names
        "thing",  # concrete objects or products: "a coffee machine", "my bicycle", ...
        "audience",  # "my grandmother", "a five-year-old", "new employees", ...
        "tone",  # "formal", "friendlier", "more persuasive", ...
        "form",  # creative forms: "a poem", "a short story", "a song", "a limerick", ...
        "concept",  # things to explain: "inflation", "photosynthesis", "black holes", ...
        "code_task",  # "reverses a string", "reads a CSV file and sums a column", ...
        "passage",  # 3-6 sentence paragraphs (news, emails, notes, reviews) in the language
        "sentence",  # single sentences in the language (text to translate or rewrite)
        "bad_sentence",  # sentences with spelling/grammar mistakes in the language (to correct)
        "lang_name",  # names of other languages, written in this language ("inglés", "alemán", ...)
        "item",  # short items to classify: a product review, a tweet, an email subject line, a headline
    }
)


@dataclass(frozen=True, slots=True)
class Lang:
    """One language: ``code`` (BCP-47 such as ``es``, ``pt-BR``, ``zh``), its English ``name``, slot pools and
    ``templates``: task label → template strings written in this language."""

    code: str
    name: str
    pools: dict[str, tuple[str, ...]]
    templates: dict[str, tuple[str, ...]]
