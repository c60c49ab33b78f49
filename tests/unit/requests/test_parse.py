"""Request bodies → ``ParsedRequest``: every API shape, and every way a body can be malformed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from triage.errors import ClientError, InvalidRequest, UnsupportedMediaType
from triage.requests import (
    ANTHROPIC_MESSAGES,
    OPENAI_CHAT,
    OPENAI_COMPLETIONS,
    ApiSpec,
    ParsedRequest,
    parse_request,
    spec_for_path,
)
from triage.requests.input import CHARS_PER_TOKEN, PROMPT_HEAD_CHARS, PROMPT_TAIL_CHARS, SYSTEM_HEAD_CHARS


def _encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _parse(doc: Any, spec: ApiSpec = OPENAI_CHAT, content_type: str | None = "application/json") -> ParsedRequest:
    return parse_request(_encode(doc), spec, content_type)


def _user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


# -- OpenAI chat ----------------------------------------------------------------------------------

CHAT_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"model": "gpt-4o", "messages": [_user("Hello there")]},
        {"prompt": "Hello there", "system": "", "model": "gpt-4o", "input_chars": 11, "messages": 1, "user_turns": 1},
    ),
    (
        {
            "messages": [
                _user(
                    [
                        {"type": "text", "text": "Describe"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                        {"type": "text", "text": "this picture"},
                    ]
                )
            ]
        },
        {"prompt": "Describe\nthis picture", "input_chars": 20, "model": None},
    ),
    (
        {"messages": [{"role": "system", "content": "You are terse."}, _user("Hi")]},
        {"prompt": "Hi", "system": "You are terse.", "input_chars": 16, "messages": 2, "user_turns": 1},
    ),
    (
        {"messages": [{"role": "developer", "content": "Answer in French."}, _user("Hi")]},
        {"prompt": "Hi", "system": "Answer in French.", "messages": 2},
    ),
    (
        {
            "messages": [
                {"role": "system", "content": "sys"},
                _user("first question"),
                {"role": "assistant", "content": "first answer"},
                _user("second question"),
            ]
        },
        {"prompt": "second question", "system": "sys", "input_chars": 44, "messages": 4, "user_turns": 2},
    ),
    (
        {"messages": [{"role": "assistant", "content": "only an assistant turn"}]},
        {"prompt": "only an assistant turn", "user_turns": 1},
    ),
    ({"messages": [_user("x")], "stream": True}, {"stream": True}),
    ({"messages": [_user("x")], "stream": "true"}, {"stream": False}),
    ({"messages": [_user("x")]}, {"stream": False, "has_tools": False, "json_output": False, "max_tokens": None}),
    (
        {"messages": [_user("x")], "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
        {"has_tools": True},
    ),
    ({"messages": [_user("x")], "functions": [{"name": "f"}]}, {"has_tools": True}),
    ({"messages": [_user("x")], "tools": []}, {"has_tools": False}),
    ({"messages": [_user("x")], "response_format": {"type": "json_object"}}, {"json_output": True}),
    (
        {"messages": [_user("x")], "response_format": {"type": "json_schema", "json_schema": {"name": "s"}}},
        {"json_output": True},
    ),
    ({"messages": [_user("x")], "response_format": {"type": "text"}}, {"json_output": False}),
    ({"messages": [_user("x")], "max_tokens": 300}, {"max_tokens": 300}),
    ({"messages": [_user("x")], "max_completion_tokens": 77}, {"max_tokens": 77}),
    ({"messages": [_user("x")], "max_tokens": True}, {"max_tokens": None}),
    ({"messages": [_user("x")], "max_tokens": "300"}, {"max_tokens": None}),
]
CHAT_IDS = [
    "string-content",
    "multi-part-content",
    "system-prompt",
    "developer-prompt",
    "multi-turn-last-user-turn",
    "no-user-turn-uses-last-message",
    "stream-true",
    "stream-not-a-bool",
    "plain-request-flags",
    "tools",
    "legacy-functions",
    "empty-tools",
    "response-format-json-object",
    "response-format-json-schema",
    "response-format-text",
    "max-tokens",
    "max-completion-tokens",
    "max-tokens-bool-ignored",
    "max-tokens-string-ignored",
]


@pytest.mark.parametrize(("doc", "expected"), CHAT_CASES, ids=CHAT_IDS)
def test_parse_request_openai_chat_fields(doc: dict[str, Any], expected: dict[str, Any]) -> None:
    inp = _parse(doc).input
    assert inp.api == "openai.chat"
    assert {k: getattr(inp, k) for k in expected} == expected


def test_parse_request_returns_the_decoded_document() -> None:
    doc = {"model": "m", "messages": [_user("hi")], "temperature": 0.2}
    parsed = _parse(doc)
    assert parsed.spec is OPENAI_CHAT
    assert parsed.doc == doc


def test_parse_request_input_tokens_estimate_rounds_up() -> None:
    inp = _parse({"messages": [_user("x" * (CHARS_PER_TOKEN * 10 + 1))]}).input
    assert inp.input_tokens_estimate == 11


# -- OpenAI completions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected_prompt", "expected_chars"),
    [("Once upon a time", "Once upon a time", 16), (["first", "second"], "first\nsecond", 11)],
    ids=["string-prompt", "list-prompt"],
)
def test_parse_request_completions_prompt(prompt: Any, expected_prompt: str, expected_chars: int) -> None:
    inp = _parse({"model": "m", "prompt": prompt, "max_tokens": 5, "stream": True}, OPENAI_COMPLETIONS).input
    assert inp.api == "openai.completions"
    assert inp.prompt == expected_prompt
    assert inp.input_chars == expected_chars
    assert (inp.system, inp.messages, inp.user_turns, inp.max_tokens, inp.stream) == ("", 1, 1, 5, True)


@pytest.mark.parametrize(
    "doc",
    [{"model": "m"}, {"prompt": 42}, {"prompt": []}, {"prompt": [1, 2]}, {"prompt": ["a", None]}],
    ids=["missing", "number", "empty-list", "token-ids", "list-with-null"],
)
def test_parse_request_completions_bad_prompt_is_invalid(doc: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as info:
        _parse(doc, OPENAI_COMPLETIONS)
    assert (info.value.status, info.value.code) == (400, "invalid_prompt")


# -- Anthropic messages ---------------------------------------------------------------------------

ANTHROPIC_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"model": "claude", "system": "Be brief.", "max_tokens": 100, "messages": [_user("Hello")]},
        {"prompt": "Hello", "system": "Be brief.", "model": "claude", "max_tokens": 100, "input_chars": 14},
    ),
    (
        {
            "system": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}],
            "messages": [_user("Q")],
        },
        {"system": "Part one.\nPart two.", "input_chars": 19},
    ),
    (
        {
            "messages": [
                _user("What is the weather?"),
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
                _user([{"type": "tool_result", "tool_use_id": "t1", "content": "Sunny, 21C"}]),
            ]
        },
        {"prompt": "Sunny, 21C", "user_turns": 2, "messages": 3, "input_chars": 30},
    ),
    (
        {
            "messages": [
                _user(
                    [
                        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "42"}]},
                        {"type": "text", "text": "Explain it."},
                    ]
                )
            ]
        },
        {"prompt": "42\nExplain it."},
    ),
    ({"messages": [_user("x")], "stream": True}, {"stream": True}),
]


@pytest.mark.parametrize(
    ("doc", "expected"),
    ANTHROPIC_CASES,
    ids=["system-string", "system-blocks", "tool-result-string", "tool-result-blocks", "stream"],
)
def test_parse_request_anthropic_messages_fields(doc: dict[str, Any], expected: dict[str, Any]) -> None:
    inp = _parse(doc, ANTHROPIC_MESSAGES).input
    assert inp.api == "anthropic.messages"
    assert {k: getattr(inp, k) for k in expected} == expected


def test_parse_request_system_window_is_bounded() -> None:
    inp = _parse({"system": "s" * 50_000, "messages": [_user("q")]}, ANTHROPIC_MESSAGES).input
    assert len(inp.system) <= SYSTEM_HEAD_CHARS
    assert inp.input_chars == 50_001


# -- malformed bodies -----------------------------------------------------------------------------

ERROR_CASES: list[tuple[bytes, str | None, type[ClientError], int, str]] = [
    (b"", "application/json", InvalidRequest, 400, "empty_body"),
    (b"", None, InvalidRequest, 400, "empty_body"),
    (b" \n\t\r ", "application/json", InvalidRequest, 400, "empty_body"),
    (b'{"model": "m", "messages": [', "application/json", InvalidRequest, 400, "invalid_json"),
    (b"{'model': 'm'}", None, InvalidRequest, 400, "invalid_json"),
    (b'{"messages": []', "application/json; charset=utf-8", InvalidRequest, 400, "invalid_json"),
    (b'{"messages": [', "application/vnd.api+json", InvalidRequest, 400, "invalid_json"),
    (b'{"model": "\xff\xfe"}', "application/json", InvalidRequest, 400, "invalid_encoding"),
    (b"\xc3\x28 not utf-8", None, InvalidRequest, 400, "invalid_encoding"),
    (b"[]", "application/json", InvalidRequest, 400, "invalid_request"),
    (b'"a string"', "application/json", InvalidRequest, 400, "invalid_request"),
    (b"42", "application/json", InvalidRequest, 400, "invalid_request"),
    (b"null", "application/json", InvalidRequest, 400, "invalid_request"),
    (b'{"model": "m"}', "application/json", InvalidRequest, 400, "invalid_messages"),
    (b'{"messages": []}', "application/json", InvalidRequest, 400, "invalid_messages"),
    (b'{"messages": "hello"}', "application/json", InvalidRequest, 400, "invalid_messages"),
    (b'{"messages": {"role": "user"}}', "application/json", InvalidRequest, 400, "invalid_messages"),
    (b'{"messages": ["hello"]}', "application/json", InvalidRequest, 400, "invalid_messages"),
    (b'{"messages": [{"role": "user", "content": "a"}, 3]}', None, InvalidRequest, 400, "invalid_messages"),
    (b'{"model": 5, "messages": [{"role": "user", "content": "a"}]}', None, InvalidRequest, 400, "invalid_model"),
    (b'{"model": ["m"], "messages": [{"role": "user", "content": "a"}]}', None, InvalidRequest, 400, "invalid_model"),
    (b'{"model": true, "messages": [{"role": "user", "content": "a"}]}', None, InvalidRequest, 400, "invalid_model"),
    (
        b"model=gpt-4o&prompt=hi",
        "application/x-www-form-urlencoded",
        UnsupportedMediaType,
        415,
        "unsupported_media_type",
    ),
    (b"hello", "text/plain", UnsupportedMediaType, 415, "unsupported_media_type"),
    (b"\xff\xfe\x00", "application/octet-stream", UnsupportedMediaType, 415, "unsupported_media_type"),
]
ERROR_IDS = [
    "empty-body",
    "empty-body-no-content-type",
    "whitespace-body",
    "truncated-json",
    "single-quoted-json",
    "malformed-json-with-charset",
    "malformed-json-plus-json-type",
    "non-utf8-string",
    "non-utf8-no-content-type",
    "json-array",
    "json-string",
    "json-number",
    "json-null",
    "missing-messages",
    "empty-messages",
    "messages-a-string",
    "messages-an-object",
    "message-a-string",
    "message-a-number",
    "model-a-number",
    "model-a-list",
    "model-a-bool",
    "form-body-415",
    "text-body-415",
    "binary-body-415",
]


@pytest.mark.parametrize(("body", "content_type", "error", "status", "code"), ERROR_CASES, ids=ERROR_IDS)
def test_parse_request_malformed_body_raises_client_error(
    body: bytes, content_type: str | None, error: type[ClientError], status: int, code: str
) -> None:
    with pytest.raises(error) as info:
        parse_request(body, OPENAI_CHAT, content_type)
    assert type(info.value) is error
    assert (info.value.status, info.value.code) == (status, code)
    assert info.value.message
    assert info.value.error_type == "invalid_request_error"


def test_parse_request_anthropic_without_messages_is_invalid() -> None:
    with pytest.raises(InvalidRequest) as info:
        _parse({"model": "claude", "system": "s"}, ANTHROPIC_MESSAGES)
    assert info.value.code == "invalid_messages"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "", None])
def test_parse_request_json_body_with_wrong_content_type_is_accepted(content_type: str | None) -> None:
    parsed = parse_request(_encode({"model": "m", "messages": [_user("hi")]}), OPENAI_CHAT, content_type)
    assert parsed.input.prompt == "hi"


def test_parse_request_null_model_is_accepted() -> None:
    assert _parse({"model": None, "messages": [_user("hi")]}).input.model is None


# -- size bounds ----------------------------------------------------------------------------------

HUGE_MAX = PROMPT_HEAD_CHARS + PROMPT_TAIL_CHARS + 1


@pytest.mark.parametrize("size", [1_000_000, 2_000_000], ids=["1MB", "2MB"])
def test_parse_request_huge_prompt_is_windowed(size: int) -> None:
    text = "HEAD" + "x" * (size - 8) + "TAIL"
    doc = {"messages": [{"role": "system", "content": "sys"}, _user("earlier"), _user(text)]}
    inp = _parse(doc).input
    assert len(inp.prompt) <= HUGE_MAX
    assert inp.prompt.startswith("HEAD")
    assert inp.prompt.endswith("TAIL")
    assert inp.input_chars == size + len("sys") + len("earlier")
    assert inp.input_tokens_estimate == -(-inp.input_chars // CHARS_PER_TOKEN)


def test_parse_request_huge_multi_part_prompt_is_windowed() -> None:
    parts = [{"type": "text", "text": "HEAD" + "a" * 600_000}, {"type": "text", "text": "b" * 600_000 + "TAIL"}]
    inp = _parse({"messages": [_user(parts)]}).input
    assert len(inp.prompt) <= HUGE_MAX
    assert (inp.prompt[:4], inp.prompt[-4:]) == ("HEAD", "TAIL")
    assert inp.input_chars == 1_200_008


def test_parse_request_huge_prompt_of_many_parts_is_windowed() -> None:
    parts = [{"type": "text", "text": "w" * 500} for _ in range(3000)]
    inp = _parse({"messages": [_user(parts)]}).input
    assert inp.input_chars == 1_500_000
    assert len(inp.prompt) <= HUGE_MAX


def test_parse_request_huge_completions_prompt_list_is_windowed() -> None:
    prompts = ["p" * 500_000 for _ in range(3)]
    inp = _parse({"prompt": prompts}, OPENAI_COMPLETIONS).input
    assert len(inp.prompt) <= HUGE_MAX
    assert inp.input_chars == 1_500_000


def test_parse_request_prompt_at_window_size_is_kept_whole() -> None:
    text = "y" * (PROMPT_HEAD_CHARS + PROMPT_TAIL_CHARS)
    assert _parse({"messages": [_user(text)]}).input.prompt == text


def test_parse_request_integer_beyond_64_bits_is_accepted() -> None:
    body = b'{"model": "m", "seed": 123456789012345678901234567890, "messages": [{"role": "user", "content": "hi"}]}'
    parsed = parse_request(body, OPENAI_CHAT, "application/json")
    assert parsed.input.prompt == "hi"
    assert "seed" in parsed.doc


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_parse_request_non_json_number_literals_are_invalid(literal: str) -> None:
    body = b'{"model": "m", "temperature": %s, "messages": [{"role": "user", "content": "hi"}]}' % literal.encode()
    with pytest.raises(InvalidRequest) as info:
        parse_request(body, OPENAI_CHAT, "application/json")
    assert info.value.code == "invalid_json"


# -- paths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/chat/completions", OPENAI_CHAT),
        ("/v1/chat/completions/", OPENAI_CHAT),
        ("/v1/chat/completions?api-version=2024-06-01", OPENAI_CHAT),
        ("/openai/v1/chat/completions", OPENAI_CHAT),
        ("/v1/completions", OPENAI_COMPLETIONS),
        ("/team-a/v1/completions?x=1", OPENAI_COMPLETIONS),
        ("/v1/messages", ANTHROPIC_MESSAGES),
        ("/anthropic/v1/messages?beta=true", ANTHROPIC_MESSAGES),
        ("/v1/models", None),
        ("/v1/embeddings", None),
        ("/", None),
        ("", None),
        ("/v1/chat/completionsx", None),
        ("/notv1/messages", None),
        ("/health?next=/v1/chat/completions", None),
    ],
    ids=[
        "chat",
        "chat-trailing-slash",
        "chat-query",
        "chat-prefix",
        "completions",
        "completions-prefix-query",
        "messages",
        "messages-prefix-query",
        "models",
        "embeddings",
        "root",
        "empty",
        "chat-suffix-mismatch",
        "messages-partial-segment",
        "path-only-in-query",
    ],
)
def test_spec_for_path(path: str, expected: ApiSpec | None) -> None:
    assert spec_for_path(path) is expected
