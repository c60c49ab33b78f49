"""Hand-written requests for every task label in many languages (``Lang`` files), rendered into examples.

Why: a classifier trained on English task requests plus foreign text only inside translation requests learns
"not English" as a task. Every language here has templates for every label, including translation requests
phrased in that language. The families (one module each) are held out whole by the protocol, so its per-family
figures measure languages and phrasings the model never saw.
"""

from __future__ import annotations

import importlib
import random
import string
from collections.abc import Callable

from triage.requests.input import RoutingInput, window
from triage.train import synth
from triage.train import synth_vocab as vocab
from triage.train.data import Example
from triage.train.i18n.base import Lang

FAMILIES = ("english", "romance", "north_east", "asia")  # one module each; a missing module is skipped


def languages() -> dict[str, tuple[Lang, ...]]:
    """Family name → its languages, for the families whose module is present."""
    out: dict[str, tuple[Lang, ...]] = {}
    for family in FAMILIES:
        try:
            module = importlib.import_module(f"triage.train.i18n.{family}")
        except ModuleNotFoundError:
            continue
        out[family] = tuple(getattr(module, "LANGUAGES", ()))
    return out


def _neutral(r: random.Random, foreign: list[str]) -> dict[str, Callable[[], str]]:
    return {
        "code": lambda: synth.code_block(r),
        "code_lang": lambda: r.choice(vocab.CODE_LANGS),
        "n": lambda: str(r.randint(3, 12)),
        "a": lambda: str(r.randint(12, 999)),
        "b": lambda: str(r.randint(12, 999)),
        "pct": lambda: str(r.choice((5, 12, 15, 20, 35, 40, 75))),
        "linear": lambda: synth.math_linear(r),
        "quadratic": lambda: synth.math_quadratic(r),
        "poly": lambda: synth.math_poly(r),
        "en_sentence": lambda: r.choice(vocab.ENGLISH_SENTENCES),
        "foreign": lambda: r.choice(foreign),
    }


def _noisy(text: str, r: random.Random) -> str:
    """Light surface noise that holds in any script: a dropped final mark, a lower-cased first letter."""
    if r.random() < 0.2 and text[-1:] in ".?!。？！":
        text = text[:-1]
    if r.random() < 0.15:
        text = text[:1].lower() + text[1:]
    return text


def generate(rng: random.Random, per_template: int) -> list[Example]:
    """Up to ``per_template`` distinct examples of every template of every language, deterministic in ``rng``.

    ``source`` is ``i18n``, ``extra`` the family (the unit held out whole), ``group`` the template."""
    families = languages()
    every = [lang for langs in families.values() for lang in langs]
    out: list[Example] = []
    for family, langs in families.items():
        for lang in langs:
            foreign = [s for other in every if other.code != lang.code for s in other.pools["sentence"]]
            foreign += [s for _, s in vocab.FOREIGN_SENTENCES]
            for label in sorted(lang.templates):
                for i, text in enumerate(lang.templates[label]):
                    seen: set[str] = set()
                    for _ in range(per_template):
                        slots = {**_neutral(rng, foreign), **{k: _pick(rng, v) for k, v in lang.pools.items()}}
                        fill = synth.Fill(slots)
                        prompt = _noisy(string.Formatter().vformat(text, (), fill), rng)
                        if prompt in seen:
                            continue
                        seen.add(prompt)
                        inp = RoutingInput(
                            api="openai.chat", prompt=window(prompt), input_chars=len(prompt), messages=1, user_turns=1
                        )
                        group = f"i18n:{lang.code}:{label}:{i}"
                        out.append(Example(inp, label, "i18n", group, extra=family))
    return out


def _pick(r: random.Random, pool: tuple[str, ...]) -> Callable[[], str]:
    return lambda: r.choice(pool)
