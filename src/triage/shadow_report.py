"""``triage shadow report``: what the shadow candidates would have done, from a decision store."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Run ``triage shadow`` with ``argv``; return the exit code."""
    raise NotImplementedError("triage shadow is being built")
