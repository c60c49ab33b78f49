"""``window`` and ``RoutingInput``: bounded text, whole-request sizes."""

from __future__ import annotations

import pytest

from triage.requests.input import PROMPT_HEAD_CHARS, PROMPT_TAIL_CHARS, SYSTEM_HEAD_CHARS, RoutingInput, window


@pytest.mark.parametrize(
    ("text", "head", "tail", "expected"),
    [
        ("short", 3, 3, "short"),
        ("abcdef", 3, 3, "abcdef"),
        ("abcdefg", 3, 3, "abc\nefg"),
    ],
    ids=["shorter-than-window", "exactly-window", "cut-middle"],
)
def test_window_cuts_the_middle(text: str, head: int, tail: int, expected: str) -> None:
    assert window(text, head, tail) == expected


def test_window_default_is_bounded() -> None:
    assert len(window("z" * 1_000_000)) == PROMPT_HEAD_CHARS + PROMPT_TAIL_CHARS + 1


@pytest.mark.parametrize(
    ("chars", "tokens"), [(0, 1), (1, 1), (4, 1), (5, 2), (4000, 1000)], ids=["empty", "one", "four", "five", "4k"]
)
def test_routing_input_tokens_estimate(chars: int, tokens: int) -> None:
    assert RoutingInput(api="openai.chat", prompt="", input_chars=chars).input_tokens_estimate == tokens


def test_window_with_no_tail_keeps_only_the_head() -> None:
    assert window("abcdefg", 2, 0).rstrip("\n") == "ab"


def test_routing_input_from_text_counts_the_whole_text() -> None:
    inp = RoutingInput.from_text("p" * 10_000, system="s" * 500, turns=2)
    assert len(inp.prompt) == PROMPT_HEAD_CHARS + PROMPT_TAIL_CHARS + 1
    assert inp.system == "s" * 500
    assert inp.input_chars == 10_500
    assert (inp.messages, inp.user_turns) == (4, 2)


def test_routing_input_from_text_bounds_the_system_prompt() -> None:
    inp = RoutingInput.from_text("p", system="s" * 5_000)
    assert len(inp.system) <= SYSTEM_HEAD_CHARS + 1
    assert inp.input_chars == 5_001
