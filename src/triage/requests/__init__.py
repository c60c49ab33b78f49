"""Request bodies → one routing input, for each API shape (data-driven specs, one parser)."""

from triage.requests.input import RoutingInput, window
from triage.requests.parse import ParsedRequest, decode_json, parse_request
from triage.requests.rewrite import rewrite_body
from triage.requests.specs import (
    ANTHROPIC_MESSAGES,
    OPENAI_CHAT,
    OPENAI_COMPLETIONS,
    SPECS,
    ApiSpec,
    spec_for_path,
)

__all__ = [
    "ANTHROPIC_MESSAGES",
    "OPENAI_CHAT",
    "OPENAI_COMPLETIONS",
    "SPECS",
    "ApiSpec",
    "ParsedRequest",
    "RoutingInput",
    "decode_json",
    "parse_request",
    "rewrite_body",
    "spec_for_path",
    "window",
]
