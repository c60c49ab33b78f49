"""The answer verifier: score a cheap route's answer, so a doubtful one can be re-sent to a stronger route.

``verify(body, facts, config)`` (``verify_document`` for an answer already decoded) is pure (no clocks, I/O or
globals beyond constants) and never raises. It reads the answer's ``Signals`` (``triage.escalation.signals``:
bounded work past one JSON decode of the body) and combines them with the task's logistic weights
(``triage.escalation.model``) into one score, the estimated probability that the answer is acceptable. The
caller compares the score with its threshold; below it, escalate.

A body that is not an answer of the API (not JSON, an error object, no choices) gives the signal ``unparsable``
and a low score; a body over ``MAX_BODY_BYTES`` is not decoded and gives ``too_large`` with the task's prior.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triage.escalation.logprobs import logprobs_asked
from triage.escalation.model import DEFAULT_CONFIG, TaskProfile, VerifierConfig
from triage.escalation.signals import RequestFacts, Signals, read_document, read_signals
from triage.requests.parse import ParsedRequest


@dataclass(frozen=True, slots=True)
class Verdict:
    """One answer's score and the evidence behind it.

    ``score``: P(acceptable) in [0, 1]. ``task``: the profile that weighed it (``default`` for a task the
    configuration does not name). ``strip_logprobs``: the answer carries logprobs the client did not ask for
    (``triage.escalation.logprobs.strip_logprobs`` removes them before it is forwarded)."""

    score: float
    signals: Signals
    task: str
    strip_logprobs: bool = False

    @property
    def found(self) -> tuple[str, ...]:
        """The signals present, by name (see ``Signals.found``)."""
        return self.signals.found


def facts_of(parsed: ParsedRequest, task: str | None) -> RequestFacts:
    """The ``RequestFacts`` of a parsed request whose classifier's top label is ``task``."""
    return RequestFacts(
        api=parsed.spec.name,
        client_logprobs=logprobs_asked(parsed.doc, parsed.spec.name),
        json_output=parsed.input.json_output,
        task=task,
        max_tokens=parsed.input.max_tokens,
    )


def _verdict(signals: Signals, facts: RequestFacts, task: str, profile: TaskProfile) -> Verdict:
    return Verdict(
        score=profile.weights.score(signals.features()),
        signals=signals,
        task=task,
        strip_logprobs=signals.logprobs is not None and not facts.client_logprobs,
    )


def verify(body: bytes, facts: RequestFacts, config: VerifierConfig = DEFAULT_CONFIG) -> Verdict:
    """Score the non-streaming answer ``body`` to a request described by ``facts``."""
    task, profile = config.profile(facts.task)
    signals = read_signals(
        body,
        facts,
        expected_tokens=profile.expected_tokens,
        low_logprob=config.low_logprob,
        short_ratio=config.short_ratio,
    )
    return _verdict(signals, facts, task, profile)


def verify_document(doc: Any, facts: RequestFacts, config: VerifierConfig = DEFAULT_CONFIG) -> Verdict:
    """``verify`` for an answer already decoded from JSON (``UsageReader`` decodes a JSON body for its usage:
    the escalation path can hand that document over instead of decoding the body twice)."""
    task, profile = config.profile(facts.task)
    signals = read_document(
        doc,
        facts,
        expected_tokens=profile.expected_tokens,
        low_logprob=config.low_logprob,
        short_ratio=config.short_ratio,
    )
    return _verdict(signals, facts, task, profile)
