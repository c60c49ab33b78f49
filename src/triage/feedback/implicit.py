"""Implicit signals: what traffic says about earlier answers without anyone sending feedback."""

from __future__ import annotations

from triage.config import ImplicitSignals as ImplicitConfig
from triage.record import DecisionRecord
from triage.requests.input import RoutingInput


class ImplicitSignals:
    """Remembers recent conversations per principal and notices them coming back (see ``config.ImplicitSignals``)."""

    def __init__(self, config: ImplicitConfig) -> None:
        self.config = config

    def observe(self, principal: str | None, inp: RoutingInput, record: DecisionRecord) -> None:
        """A routed request, after its reply: note it, and record a signal on an earlier decision it repeats."""

    def completed(self, record: DecisionRecord) -> None:
        """The response of a noted request is over (its status tells a retry from a regeneration later)."""
