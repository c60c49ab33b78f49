"""Triage's exceptions.

::

    TriageError                    base of everything Triage raises on purpose
    ├── ConfigError                the configuration is invalid; ``problems`` lists every error found
    ├── ModelLoadError             the classifier bundle is missing, corrupt or incompatible
    ├── ClientError                the request is the client's fault → a 4xx OpenAI-style error
    │   ├── InvalidRequest         400: empty body, malformed JSON, not UTF-8, wrong shape
    │   └── UnsupportedMediaType   415: a body that is neither JSON nor declared as JSON
    └── RouterFault                an internal failure → fail open to the default route, counted and traced
        └── DeadlineExceeded       the classifier missed its deadline

Over-budget requests are not exceptions: the pure policy returns a ``Rejection`` for them.
Only ``triage.extproc.processor.outcome_for`` turns these into ext_proc replies.
"""

from __future__ import annotations

from collections.abc import Sequence


class TriageError(Exception):
    """Base class of every error Triage raises on purpose."""


class ConfigError(TriageError):
    """The configuration is invalid. ``problems`` holds one line per error, all reported at once."""

    def __init__(self, problems: Sequence[str], source: str = "configuration") -> None:
        self.problems = tuple(problems)
        self.source = source
        if len(self.problems) == 1:  # one problem (a missing file, a YAML error) reads best on one line
            super().__init__(f"{source}: {self.problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problems\n{lines}")


class ModelLoadError(TriageError):
    """The classifier bundle could not be loaded."""


class ClientError(TriageError):
    """The request is the client's fault. Carries the HTTP status and OpenAI-style error fields."""

    status = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class InvalidRequest(ClientError):
    """400: the body cannot be read as a request of this API."""


class UnsupportedMediaType(ClientError):
    """415: the body is not JSON and was not declared as JSON."""

    status = 415


class RouterFault(TriageError):
    """An internal failure: the request fails open to the default route."""

    reason = "error"


class DeadlineExceeded(RouterFault):
    """The classifier did not answer within its deadline."""

    reason = "deadline"
