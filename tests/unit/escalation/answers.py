"""Answer bodies as the real APIs write them, for the verifier's tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson


def token_logprobs(values: Sequence[float], *, top: int = 0) -> dict[str, Any]:
    """``choices[0].logprobs`` of an OpenAI chat answer whose tokens have the logprobs ``values``."""
    content = []
    for i, value in enumerate(values):
        token = f" w{i}"
        alternatives = [
            {"token": f" a{j}", "logprob": value - 1 - j, "bytes": list(f" a{j}".encode())} for j in range(top)
        ]
        content.append({"token": token, "logprob": value, "bytes": list(token.encode()), "top_logprobs": alternatives})
    return {"content": content, "refusal": None}


def openai_chat(
    content: str | None = "The answer is 42, as the calculation above shows step by step.",
    *,
    finish: str = "stop",
    logprobs: dict[str, Any] | None = None,
    tokens: int | None = None,
    **message: Any,
) -> bytes:
    """A non-streaming chat completion; ``tokens``: ``usage.completion_tokens`` (default: chars / 4)."""
    completion = tokens if tokens is not None else -(-len(content or "") // 4)
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None, **message},
                    "logprobs": logprobs,
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": completion, "total_tokens": 12 + completion},
        }
    )


def openai_completion(text: str, *, finish: str = "stop", token_logprobs: Sequence[float] | None = None) -> bytes:
    logprobs = None
    if token_logprobs is not None:
        logprobs = {"tokens": ["x"] * len(token_logprobs), "token_logprobs": list(token_logprobs), "top_logprobs": None}
    return orjson.dumps(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "model": "gpt-3.5-turbo-instruct",
            "choices": [{"text": text, "index": 0, "logprobs": logprobs, "finish_reason": finish}],
            "usage": {"prompt_tokens": 3, "completion_tokens": -(-len(text) // 4), "total_tokens": 0},
        }
    )


def anthropic_message(*blocks: dict[str, Any], stop: str = "end_turn", output_tokens: int | None = None) -> bytes:
    text = sum(len(b.get("text", "")) for b in blocks)
    return orjson.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": list(blocks),
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": -(-text // 4) if output_tokens is None else output_tokens},
        }
    )


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}
