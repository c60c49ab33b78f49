"""What differs between the APIs Triage routes, as data: one ``ApiSpec`` per request shape.

Adding an API means adding a spec here, not a processor: the parser, the body rewrite and the usage
reader all read these fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

UsageShape = Literal["openai", "anthropic"]


@dataclass(frozen=True, slots=True)
class ApiSpec:
    """One routable request shape.

    ``messages_key``: list of ``{role, content}`` turns (content a string or a list of parts), or None.
    ``prompt_key``: a plain prompt (string or list of strings), or None.
    ``system_key``: a top-level system prompt (Anthropic), or None (OpenAI keeps it in the messages).
    ``max_tokens_keys``: the body keys that bound the output, first one is written when capping.
    ``stream_usage``: streaming responses report usage only when asked with
    ``stream_options.include_usage`` (OpenAI); Anthropic always reports it.
    """

    name: str
    path: str
    messages_key: str | None
    prompt_key: str | None
    system_key: str | None
    max_tokens_keys: tuple[str, ...]
    usage: UsageShape
    stream_usage: bool
    operation: str  # gen_ai.operation.name


OPENAI_CHAT = ApiSpec(
    name="openai.chat",
    path="/v1/chat/completions",
    messages_key="messages",
    prompt_key=None,
    system_key=None,
    max_tokens_keys=("max_tokens", "max_completion_tokens"),
    usage="openai",
    stream_usage=True,
    operation="chat",
)
OPENAI_COMPLETIONS = ApiSpec(
    name="openai.completions",
    path="/v1/completions",
    messages_key=None,
    prompt_key="prompt",
    system_key=None,
    max_tokens_keys=("max_tokens",),
    usage="openai",
    stream_usage=True,
    operation="text_completion",
)
ANTHROPIC_MESSAGES = ApiSpec(
    name="anthropic.messages",
    path="/v1/messages",
    messages_key="messages",
    prompt_key=None,
    system_key="system",
    max_tokens_keys=("max_tokens",),
    usage="anthropic",
    stream_usage=False,
    operation="chat",
)

# Checked in this order: the chat suffix also ends with "/completions".
SPECS: tuple[ApiSpec, ...] = (OPENAI_CHAT, OPENAI_COMPLETIONS, ANTHROPIC_MESSAGES)


def spec_for_path(path: str) -> ApiSpec | None:
    """The spec whose path ends like one of ``SPECS`` (``/v1/chat/completions``, also behind a prefix such
    as ``/openai/v1/chat/completions``; query string ignored), or None for pass-through paths."""
    bare = path.split("?", 1)[0].rstrip("/")
    for spec in SPECS:
        if bare.endswith(spec.path):
            return spec
    return None
