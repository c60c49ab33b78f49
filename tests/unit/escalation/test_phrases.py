"""Refusal and hedge phrases: every listed phrase is found, in its language, as whole words, in bounded windows."""

from __future__ import annotations

import pytest

from triage.escalation.phrases import HEDGES, REFUSALS, normalize, scan


@pytest.mark.parametrize("phrase", REFUSALS)
def test_scan_finds_every_refusal_in_a_sentence(phrase: str) -> None:
    assert scan(normalize(f"Well. {phrase.upper()} do that, sorry.")) == (True, False)


@pytest.mark.parametrize("phrase", HEDGES)
def test_scan_finds_every_hedge_in_the_head_or_the_tail(phrase: str) -> None:
    assert scan(normalize(f"{phrase}, but maybe this.")) == (False, True)
    assert scan("", normalize(f"So that is it. {phrase}.")) == (False, True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I\u2019m sorry, but I can\u2019t help with that.", (True, False)),
        ("I\u02bcm not sure, but it may be 42.", (False, True)),
        ("Je ne suis pas en mesure de répondre.", (True, False)),
        ("No puedo ayudarte con eso.", (True, False)),
        ("Ich bin mir nicht sicher, aber es ist 42.", (False, True)),
        ("Я не могу помочь с этим.", (True, False)),
        ("抱歉，我无法帮助你完成这个请求。", (True, False)),
        ("这个问题我不知道答案。", (False, True)),
        ("申し訳ありませんが、お手伝いできません。", (True, False)),
        ("As an AI, I do not know what happened yesterday.", (True, True)),
    ],
    ids=["en-typographic", "en-modifier-apostrophe", "fr", "es", "de", "ru", "zh", "zh-inside", "ja", "both"],
)
def test_scan_reads_several_languages(text: str, expected: tuple[bool, bool]) -> None:
    assert scan(normalize(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Als Kind habe ich viel gelesen.",  # "als ki" is a prefix of "als kind"
        "Welcome ia members to the meeting.",  # "come ia" inside "welcome ia"
        "Obviously I'm notsure is not a phrase.",
        "Reverse the list with reversed(xs); it returns an iterator.",
        "",
    ],
    ids=["de-prefix", "it-inside-word", "glued", "plain", "empty"],
)
def test_scan_matches_whole_words_only(text: str) -> None:
    assert scan(normalize(text), normalize(text)) == (False, False)
