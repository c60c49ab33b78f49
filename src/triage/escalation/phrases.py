"""Refusal and hedge phrases, as data: what an answer says when the model declines or doubts itself.

The lists are short on purpose: each phrase is one a chat model writes when refusing or hedging, in the
languages the task classifier is trained on most (English, French, Spanish, German, Portuguese, Italian,
Russian, Chinese, Japanese). A phrase matches case-insensitively with typographic apostrophes (U+2019, U+02BC)
folded to ``'``; phrases in alphabetic scripts must stand as whole words (``als ki`` does not match ``als kind``), CJK
phrases match anywhere (those scripts put no spaces between words).

Matching is bounded: ``scan`` looks only at the windows it is given (the caller passes the answer's head, where
refusals and hedges are written, and its tail, where hedges close an answer), never at the whole answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

# A refusal: the model declines the task. Read from the head of the answer only: "As an AI ..." deep inside a
# long answer is more often a quotation or a topic than a refusal.
REFUSALS: Final[tuple[str, ...]] = (
    # English
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i can't provide",
    "i cannot provide",
    "i can't comply",
    "i cannot comply",
    "i'm not able to",
    "i am not able to",
    "i'm unable to",
    "i am unable to",
    "i won't be able to",
    "as an ai",
    "as a language model",
    # French
    "je ne peux pas vous aider",
    "je ne peux pas t'aider",
    "je ne suis pas en mesure de",
    "en tant qu'ia",
    "en tant qu'intelligence artificielle",
    # Spanish
    "no puedo ayudar",
    "no puedo ayudarte",
    "no puedo proporcionar",
    "como ia",
    "como una ia",
    "como modelo de lenguaje",
    # German
    "ich kann dir dabei nicht helfen",
    "ich kann ihnen dabei nicht helfen",
    "ich kann dabei nicht helfen",
    "als ki",
    "als sprachmodell",
    # Portuguese
    "não posso ajudar",
    "como uma ia",
    "como modelo de linguagem",
    # Italian
    "non posso aiutarti",
    "non posso aiutare",
    "in quanto ia",
    "come ia",
    "come modello linguistico",
    # Russian
    "я не могу помочь",
    "как ии",
    "как языковая модель",
    # Chinese
    "我无法帮助",
    "我不能帮助",
    "我无法提供",
    "作为一个人工智能",
    "作为ai",
    "作为一个ai",
    # Japanese
    "お手伝いできません",
    "お答えできません",
    "aiとして",
)

# A hedge: the model answers but says it may be wrong. Read from the head and the tail of the answer.
HEDGES: Final[tuple[str, ...]] = (
    # English
    "i'm not sure",
    "i am not sure",
    "i'm not certain",
    "i am not certain",
    "i don't know",
    "i do not know",
    "i'm not confident",
    "i might be wrong",
    "it's hard to say",
    # French
    "je ne suis pas sûr",
    "je ne suis pas certain",
    "je ne sais pas",
    # Spanish
    "no estoy seguro",
    "no estoy segura",
    "no lo sé",
    # German
    "ich bin mir nicht sicher",
    "ich weiß es nicht",
    "ich weiß nicht",
    # Portuguese
    "não tenho certeza",
    "não sei",
    # Italian
    "non sono sicuro",
    "non sono sicura",
    "non lo so",
    # Russian
    "я не уверен",
    "я не уверена",
    "я не знаю",
    # Chinese
    "我不确定",
    "我不知道",
    # Japanese
    "わかりません",
    "分かりません",
)


def _is_cjk(phrase: str) -> bool:
    return any(ord(c) >= 0x2E80 for c in phrase)


def _trie(phrases: Iterable[str]) -> str:
    """A regular expression matching any of ``phrases``, written as a trie: ``re`` tries alternatives one by one
    at every position, so a flat alternation of ~100 phrases costs ~5x more than its trie."""
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body  # greedy: a longer phrase is tried first

    return emit(root)


_WORD_PHRASES: Final = tuple(p for p in REFUSALS + HEDGES if not _is_cjk(p))
_CJK_PHRASES: Final = tuple(p for p in REFUSALS + HEDGES if _is_cjk(p))
# No word boundaries inside the patterns: a leading look-behind stops ``re`` from skipping ahead to the phrases'
# first letters, which costs 3x. Boundaries are checked on the (rare) matches instead.
_WORDS: Final = re.compile(_trie(_WORD_PHRASES))
_CJK: Final = re.compile(_trie(_CJK_PHRASES))
_REFUSAL_SET: Final = frozenset(REFUSALS)
_HEDGE_SET: Final = frozenset(HEDGES)
_ANY_SET: Final = _REFUSAL_SET | _HEDGE_SET


def normalize(text: str) -> str:
    """``text`` lower-cased with typographic apostrophes folded, as the phrases are written."""
    # Two replaces cost a tenth of one str.translate: the right single quotation mark is the usual typographic
    # apostrophe, the modifier letter apostrophe the other one models write.
    return text.lower().replace("\u2019", "'").replace("\u02bc", "'")


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _found(window: str, kinds: frozenset[str]) -> set[str]:
    """The phrases of ``kinds`` that occur in ``window``: whole words, or anywhere for CJK phrases."""
    found: set[str] = set()
    for match in _WORDS.finditer(window):
        start, end = match.span()
        before = window[start - 1] if start else " "
        after = window[end] if end < len(window) else " "
        if match.group() in kinds and not _is_word_char(before) and not _is_word_char(after):
            found.add(match.group())
    if not window.isascii():
        found.update(m.group() for m in _CJK.finditer(window) if m.group() in kinds)
    return found


def scan(head: str, tail: str = "") -> tuple[bool, bool]:
    """(refusal, hedge): whether the answer's ``head`` holds a refusal or a hedge, or its ``tail`` a hedge.

    Both windows must be ``normalize``d; the work is linear in their lengths, whatever the answer's size."""
    in_head = _found(head, _ANY_SET)
    refusal = not in_head.isdisjoint(_REFUSAL_SET)
    hedge = not in_head.isdisjoint(_HEDGE_SET) or bool(tail and _found(tail, _HEDGE_SET))
    return refusal, hedge
