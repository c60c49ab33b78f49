"""The one shape every API's request body is reduced to before it is classified."""

from __future__ import annotations

from dataclasses import dataclass

# Bounded text windows: whatever the body size, the classifier sees at most this much text, so the
# decision takes bounded time. The head of a prompt usually states the task; the tail holds the
# actual question after a long pasted document.
PROMPT_HEAD_CHARS = 2048
PROMPT_TAIL_CHARS = 1024
SYSTEM_HEAD_CHARS = 1024
CHARS_PER_TOKEN = 4  # input-size estimate; providers' tokenizers average 3.5-4.5 chars per token in English


def window(text: str, head: int = PROMPT_HEAD_CHARS, tail: int = PROMPT_TAIL_CHARS) -> str:
    """Return ``text`` cut to its first ``head`` and last ``tail`` characters (joined by a newline)."""
    if len(text) <= head + tail:
        return text
    return text[:head] + "\n" + text[-tail:] if tail else text[:head]


@dataclass(frozen=True, slots=True)
class RoutingInput:
    """What the router knows about one request, with the prompt text already windowed.

    ``prompt`` is the window of the last user turn and ``system`` the head of the system prompt; the
    sizes count every message's text, so they reflect the whole request even though the text does not.
    """

    api: str
    prompt: str
    system: str = ""
    model: str | None = None
    input_chars: int = 0
    messages: int = 1
    user_turns: int = 1
    stream: bool = False
    max_tokens: int | None = None
    has_tools: bool = False
    json_output: bool = False

    @property
    def input_tokens_estimate(self) -> int:
        return max(1, -(-self.input_chars // CHARS_PER_TOKEN))

    @classmethod
    def from_text(cls, prompt: str, *, system: str = "", api: str = "openai.chat", turns: int = 1) -> RoutingInput:
        """Build the input a single chat message would produce (used by ``explain`` and training)."""
        return cls(
            api=api,
            prompt=window(prompt),
            system=window(system, SYSTEM_HEAD_CHARS, 0),
            input_chars=len(prompt) + len(system),
            messages=turns * 2 - 1 + (1 if system else 0),
            user_turns=turns,
        )
