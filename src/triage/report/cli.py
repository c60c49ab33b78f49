"""``triage report``: cost attribution per request, rolled up, from a decision store."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Run ``triage report`` with ``argv``; return the exit code."""
    raise NotImplementedError("triage report is being built")
