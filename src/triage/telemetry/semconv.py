"""Every span, attribute and metric name Triage emits, in one place.

GenAI names follow OpenTelemetry semantic conventions v1.41.0 (the last pinnable release; all ``gen_ai.*``
items are Development). Router decisions have no convention: they live under ``triage.*``.
"""

from __future__ import annotations

SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.0"
INSTRUMENTATION_SCOPE = "triage"

SPAN_ROUTE = "triage.route"

# OpenTelemetry conventions
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
URL_PATH = "url.path"
ERROR_TYPE = "error.type"

# Triage's decision record (one attribute per field)
DECISION_ID = "triage.decision.id"
REQUEST_ID = "triage.request.id"
TIER = "triage.tier"
ENDPOINT = "triage.endpoint"
ROUTE = "triage.route"
CHAIN = "triage.chain"
REASON = "triage.reason"
MODEL_REQUESTED = "triage.model.requested"
INPUT_TOKENS_ESTIMATE = "triage.input.tokens_estimate"
TASK = "triage.task"
TASK_PROBABILITY = "triage.task.probability"
P_STRONG = "triage.p_strong"
STRONG_SCORE = "triage.strong_score"
THRESHOLD = "triage.threshold"
ESTIMATED_COST = "triage.cost.estimated_usd"
ROUTER_LATENCY_US = "triage.router.latency_us"
CLASSIFIER_VERSION = "triage.classifier.version"
ERROR_CODE = "triage.error.code"
UPSTREAM_CLUSTER = "triage.upstream.cluster"
ATTEMPTS = "triage.attempts"
COST_USD = "triage.cost.usd"
STREAMED = "triage.response.streamed"
COMPLETED = "triage.response.completed"
ABORTED = "triage.response.aborted"

# Metrics
METRIC_DECISIONS = "triage.route.decisions"
METRIC_DECISION_DURATION = "triage.route.decision.duration"
METRIC_REJECTIONS = "triage.route.rejections"
METRIC_FALLBACKS = "triage.route.fallbacks"
METRIC_COST = "triage.request.cost"
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_EJECTIONS = "triage.provider.ejections"
METRIC_EJECTED = "triage.provider.ejected"
METRIC_EVENTS = "triage.feedback.events"
FEEDBACK_KIND = "triage.feedback.kind"  # feedback | implicit
FEEDBACK_SIGNAL = "triage.feedback.signal"  # thumbs_up, thumbs_down, score, accepted, regenerated, abandoned, retried
# Confidence escalation (``triage.escalation``): every checked answer by outcome, and what escalated calls cost.
ESCALATED = "triage.escalated"  # the request was sent again to a stronger route (billed on both)
METRIC_ESCALATION_CHECKS = "triage.escalation.checks"
METRIC_ESCALATION_COST = "triage.escalation.cost"
ESCALATION_OUTCOME = "triage.escalation.outcome"  # escalate, confident, budget_share, strong_failed, ...
ESCALATION_ANSWER = "triage.escalation.answer"  # cheap | strong: whose answer the client got
ESCALATION_ACCEPTABLE = "triage.escalation.acceptable"  # the verifier's score
ESCALATION_DOUBT = "triage.escalation.doubt"
ESCALATION_STRONG_COST = "triage.escalation.strong.cost"
METRIC_SHADOW_DECISIONS = "triage.shadow.decisions"  # requests a shadow candidate decided on
METRIC_SHADOW_DIVERGENCES = "triage.shadow.divergences"  # ... where its route differed from the live one (or refused)
METRIC_SHADOW_ERRORS = "triage.shadow.errors"  # ... where it could not decide (logged; routing unaffected)
METRIC_SHADOW_COST_DELTA = "triage.shadow.cost_delta"  # summed predicted cost delta (USD; negative = cheaper)
SHADOW_CANDIDATE = "triage.shadow.candidate"  # the metrics' attribute: the candidate's name

# Span attributes of the shadow verdicts (parallel arrays, one item per evaluated candidate, in config order)
SHADOW_CANDIDATES = "triage.shadow.candidates"
SHADOW_ROUTES = "triage.shadow.routes"  # "" where the candidate would have refused the request
SHADOW_DIVERGED = "triage.shadow.diverged"
SHADOW_DIVERGED_COUNT = "triage.shadow.diverged_count"

# Seconds; resolves tens of microseconds (a 1 KB decision takes ~75 µs), up to the 25 ms deadline and beyond.
DECISION_DURATION_BUCKETS = (
    0.00001, 0.00002, 0.00003, 0.00004, 0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075,
    0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1,
)  # fmt: skip
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ... 67108864 (v1.41.0 advice)
