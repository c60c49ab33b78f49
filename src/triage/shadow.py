"""Shadow candidates: other policies evaluated on live traffic after each reply, never executed.

A candidate is the live configuration compiled with another policy (``policy.compile_policy``), so its decision is
the same pure function with another ``PolicyConfig``. ``Shadow.evaluate`` runs after the reply has gone to Envoy
and writes each candidate's verdict into the decision record; ``Shadow.complete`` adds, once the response is
over, the cost the candidate's route would have had for the tokens actually used.
"""

from __future__ import annotations

from triage import policy
from triage.classifier.base import Classifier, Scores
from triage.config import TriageConfig
from triage.record import DecisionRecord
from triage.requests.input import RoutingInput


class Shadow:
    """The shadow candidates of one configuration (none: every method does nothing)."""

    def __init__(self, config: TriageConfig, classifier: Classifier) -> None:
        self.config = config
        self.classifier = classifier

    @property
    def active(self) -> bool:
        """Whether any candidate is evaluated (``state: shadow``)."""
        return False

    def evaluate(
        self,
        inp: RoutingInput,
        scores: Scores | None,
        tier: str | None,
        unhealthy: frozenset[str],
        decision: policy.Decision,
        record: DecisionRecord,
    ) -> None:
        """After the reply: each candidate's route for the same inputs, into ``record.shadow``."""

    def complete(self, record: DecisionRecord) -> None:
        """The response is over: each candidate's predicted cost delta from the tokens actually used."""
