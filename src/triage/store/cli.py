"""``triage store``: inspect and maintain a decision store."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Run ``triage store`` with ``argv``; return the exit code."""
    raise NotImplementedError("triage store is being built")
