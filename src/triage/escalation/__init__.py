"""Confidence escalation: verify a cheap route's answer and say whether a stronger route should answer instead.

The public API, re-exported here::

    verify(body, facts, config) -> Verdict     score one answer (pure, bounded work, never raises)
    verify_document(doc, facts, config)        the same for an answer already decoded from JSON
    RequestFacts, facts_of(parsed, task)       what the verifier needs to know about the request
    Signals, LogprobStats, FEATURES            the evidence read from an answer
    Weights, TaskProfile, VerifierConfig       the per-task logistic model; DEFAULT_CONFIG holds the priors
    configure(overrides)                       DEFAULT_CONFIG with per-task values replaced
    calibrate(samples)                         fit the weights to labelled (signals, acceptable) pairs
    request_logprobs(body, api)                ask an OpenAI chat request for logprobs (None: unchanged)
    strip_logprobs(response_body, api)         remove them from the answer before the client sees it
"""

from triage.escalation.calibration import calibrate
from triage.escalation.logprobs import LOGPROB_APIS, logprobs_asked, request_logprobs, strip_logprobs
from triage.escalation.model import DEFAULT_CONFIG, TaskProfile, VerifierConfig, Weights, configure
from triage.escalation.signals import FEATURES, LogprobStats, RequestFacts, Signals
from triage.escalation.verifier import Verdict, facts_of, verify, verify_document

__all__ = [
    "DEFAULT_CONFIG",
    "FEATURES",
    "LOGPROB_APIS",
    "LogprobStats",
    "RequestFacts",
    "Signals",
    "TaskProfile",
    "Verdict",
    "VerifierConfig",
    "Weights",
    "calibrate",
    "configure",
    "facts_of",
    "logprobs_asked",
    "request_logprobs",
    "strip_logprobs",
    "verify",
    "verify_document",
]
