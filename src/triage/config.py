"""Typed configuration: one YAML file (``triage.yaml``), validated at load with every problem reported at once.

The same file drives the ext_proc server and the generated Envoy bootstrap (``triage envoy-config``), so
routes, clusters and chains cannot disagree. ``load_config`` raises ``ConfigError`` listing every problem:
first all structural ones (types, unknown keys), then, once the structure is sound, every cross-reference
(routes to clusters, tiers to routes, the ladder, the default route).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from triage.errors import ConfigError

DEFAULT_CONFIG_NAME = "triage.yaml"
_ADDRESS = re.compile(r"^(unix:/.+|\[?[A-Za-z0-9_.:-]+\]?:\d{1,5})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

Name = Annotated[str, Field(pattern=_NAME.pattern, max_length=64)]
PositiveInt = Annotated[int, Field(gt=0)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not 'host:port' or 'unix:/absolute/path'")
    if not value.startswith("unix:") and int(value.rsplit(":", 1)[1]) > 65535:
        raise ValueError(f"{value!r}: the port must be at most 65535")
    return value


class Credential(_Model):
    """A provider credential injected by Envoy on every attempt to this cluster.

    ``secret_file`` is an Envoy SDS file holding a generic secret named ``secret_name`` whose value is the
    whole header value (e.g. ``Bearer sk-...``); Envoy re-reads it when it is replaced (rotation without
    restart). The secret never passes through Triage.
    """

    header: str = Field("authorization", pattern=r"^[a-z0-9-]+$")
    secret_file: str = Field(min_length=1)
    secret_name: str = Field(min_length=1)


class Outlier(_Model):
    """Passive health: a provider failing this many times in a row is ejected for a while, and Triage
    starts the next requests at the next step of their chain."""

    consecutive_5xx: PositiveInt = 5
    consecutive_gateway_failure: PositiveInt = 3
    consecutive_local_origin_failure: PositiveInt = 3
    base_ejection_time_ms: PositiveInt = 30_000
    interval_ms: PositiveInt = 5_000


class Limits(_Model):
    """Circuit breakers. ``max_retries`` is charged to the cluster of a request's first attempt, so it
    must cover the peak concurrency there, or retries are refused under load (requests lost)."""

    max_connections: PositiveInt = 1024
    max_pending_requests: PositiveInt = 1024
    max_requests: PositiveInt = 1024
    max_retries: PositiveInt = 1024


class ClusterConfig(_Model):
    """One provider endpoint that Envoy sends requests to."""

    address: str = Field(description="host:port of the provider (a DNS name or an IP)")
    tls: bool = False
    sni: str | None = None
    protocol: Literal["http1", "http2"] = "http1"
    provider: str = Field("openai", description="gen_ai.provider.name reported for this cluster")
    connect_timeout_ms: PositiveInt = 1000
    credential: Credential | None = None
    pass_client_credentials: bool = Field(
        False, description="forward the client's authorization / x-api-key / api-key headers to this provider"
    )
    outlier: Outlier = Outlier()
    limits: Limits = Limits()

    _address = field_validator("address")(_check_address)

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])


class Price(_Model):
    """USD per million tokens."""

    input_per_mtok: Annotated[float, Field(ge=0)] = 0.0
    output_per_mtok: Annotated[float, Field(ge=0)] = 0.0

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


class ChainEntry(_Model):
    """One step of a route's fallback chain: which cluster, and the model name that provider expects."""

    cluster: Name
    # No quotes, backslashes or control characters: the name is written into JSON bodies and Envoy's config.
    model: str = Field(min_length=1, max_length=200, pattern=r'^[^"\\\x00-\x1f%]+$')
    price: Price | None = Field(None, description="overrides the route's price for this step")
    context_tokens: PositiveInt | None = Field(
        None, description="the model's context window (input + output tokens); a request that does not fit skips it"
    )


class RouteConfig(_Model):
    """A named destination. Envoy tries its chain in order on retriable failures."""

    chain: list[ChainEntry] = Field(min_length=1)
    price: Price = Price()
    description: str = ""

    def price_of(self, cluster: str | None) -> Price:
        """The price of the step served by ``cluster`` (the first step when unknown)."""
        for entry in self.chain:
            if entry.cluster == cluster:
                return entry.price or self.price
        return self.chain[0].price or self.price


class MetadataSource(_Model):
    namespace: str = Field(min_length=1)
    path: list[str] = Field(min_length=1)


class HeaderSource(_Model):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9-]+$")


class TierSource(_Model):
    """Where the tier comes from: never a header the client controls.

    ``metadata``: Envoy dynamic metadata forwarded to ext_proc, e.g. jwt_authn's ``payload_in_metadata``
    claims. ``header``: a header that an earlier Envoy filter sets after removing any client copy.
    """

    metadata: MetadataSource | None = None
    header: HeaderSource | None = None


class TierConfig(_Model):
    """What a tier may use and spend."""

    routes: list[Name] = Field(min_length=1, description="routes this tier may be sent to")
    timeout_ms: PositiveInt | None = Field(None, description="latency budget: Envoy's request timeout")
    max_input_tokens: PositiveInt | None = None
    max_output_tokens: PositiveInt | None = Field(None, description="caps the body's max_tokens")
    max_cost_usd: Annotated[float, Field(gt=0)] | None = Field(None, description="estimated cost cap")
    per_try_timeout_ms: PositiveInt | None = Field(None, description="per-attempt budget (else retries.*)")
    exclude_clusters: list[Name] = Field(default_factory=list, description="never fall back to these")
    prefer_clusters: list[Name] = Field(default_factory=list, description="tried first when in a chain")


class LadderStep(_Model):
    """A route and the strong score from which a request climbs to it."""

    route: Name
    min_score: Probability = 0.0


class Uncertainty(_Model):
    """Scores within ``margin`` below a step's threshold climb to that step when ``escalate`` is true."""

    margin: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    escalate: bool = False


DEFAULT_TASK_BIAS: dict[str, float] = {
    "code": 0.6,
    "math": 0.6,
    "extraction": 0.3,
    "reasoning": 0.3,
    "open_qa": 0.0,
    "creative_writing": 0.0,
    "brainstorming": -0.2,
    "rewrite": -0.3,
    "summarization": -0.5,
    "translation": -0.5,
    "classification": -0.5,
}


class PolicyConfig(_Model):
    """How scores become a route."""

    ladder: list[LadderStep] = Field(min_length=1)
    task_bias: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_TASK_BIAS))
    uncertainty: Uncertainty = Uncertainty()
    skip_below_tokens: Annotated[int, Field(ge=0)] = 0
    expected_output_tokens: PositiveInt = 512
    deadline_ms: PositiveInt = 25


class RetryAfter(_Model):
    """Honour a provider's ``Retry-After`` (429 or 503) up to ``max_s`` before the next attempt."""

    honour: bool = True
    max_s: Annotated[float, Field(gt=0, le=300)] = 10.0


RetryCondition = Literal[
    "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-status-codes"
]
DEFAULT_RETRY_ON: tuple[RetryCondition, ...] = ("5xx", "reset", "connect-failure", "retriable-status-codes")


class RetryConfig(_Model):
    """Which failures move a request to the next step of its chain. 400, 401, 403, 404, 413 and 422 are
    never retried (they are not in any retry condition); a response that has started streaming to the
    client is never retried (Envoy never does)."""

    retry_on: list[RetryCondition] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_ON), min_length=1, description="Envoy retry_on conditions"
    )
    retriable_status_codes: list[Annotated[int, Field(ge=400, le=599)]] = Field(default_factory=lambda: [429])
    per_try_timeout_ms: PositiveInt = 120_000
    backoff_base_ms: PositiveInt = 50
    backoff_max_ms: PositiveInt = 500
    retry_after: RetryAfter = RetryAfter()
    single_step_retries: Annotated[int, Field(ge=0, le=5)] = 1

    @field_validator("retriable_status_codes")
    @classmethod
    def _never_client_errors(cls, codes: list[int]) -> list[int]:
        forbidden = sorted(set(codes) & {400, 401, 403, 404, 413, 422})
        if forbidden:
            raise ValueError(f"{forbidden} are the client's errors: retrying them cannot succeed")
        return codes


class KillSwitch(_Model):
    """Force every request of the listed tiers (all tiers when empty) to one route."""

    route: Name
    tiers: list[Name] = Field(default_factory=list)


class ServerConfig(_Model):
    listen: list[str] = Field(default_factory=lambda: ["127.0.0.1:50051"], min_length=1)
    drain_seconds: Annotated[float, Field(ge=0)] = 5.0
    max_body_bytes: PositiveInt = 8 * 1024 * 1024
    workers: Annotated[int, Field(ge=1, le=64)] = Field(
        1,
        description="server processes (`triage serve --workers N`): worker i listens on each address of `listen` "
        "moved by i (Unix socket triage-i.sock, or port + i), and the generated Envoy cluster balances over them",
    )
    engine: Literal["wire", "grpcio"] = Field(
        "wire",
        description="the gRPC server: wire = Triage's own single-threaded asyncio HTTP/2 server (no threads; about "
        "a third of grpcio's CPU per request through Envoy); grpcio = grpc.aio (gRPC core's threads)",
    )

    @field_validator("listen")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [_check_address(v) for v in value]


class ClassifierConfig(_Model):
    model: str = Field("builtin", description="'builtin' or a path to a model bundle directory")
    inference: Literal["auto", "thread", "inline"] = Field(
        "auto",
        description="thread: inference on a worker thread, each request waiting at most policy.deadline_ms (a miss "
        "fails open, counted); inline: on the event loop, no hand-off, an answer later than policy.deadline_ms "
        "discarded the same way; auto: inline for the built-in engines (native or numpy: bounded, ~0.1 ms), "
        "thread for any other (an ONNX Runtime session of an unknown graph)",
    )
    engine: Literal["auto", "onnxruntime"] = Field(
        "auto",
        description="auto: evaluate the bundle's embedding-bag graph natively (the C extension: features and bag in "
        "one call, ~0.05 ms) or else with numpy (~0.4 ms), each only once it matches the numpy featurizer bit for bit "
        "and ONNX Runtime's outputs on probe inputs at load; onnxruntime: every request through the session",
    )


class TelemetryConfig(_Model):
    service_name: str = "triage"
    otlp_endpoint: str | None = Field(None, description="OTLP/gRPC endpoint; off when unset")
    decision_log: str | None = Field(None, description="file for one JSON line per decision; '-' = stdout")
    metrics_listen: str | None = Field(
        None, description="host:port of the Prometheus /metrics endpoint (not the gRPC port); off when unset"
    )

    _metrics = field_validator("metrics_listen")(lambda v: v if v is None else _check_address(v))


class EnvoyTracing(_Model):
    collector: str
    service_name: str = "triage-envoy"

    _address = field_validator("collector")(_check_address)


class JwtConfig(_Model):
    """A jwt_authn provider whose claims (put in metadata) can carry the tier."""

    issuer: str
    jwks_file: str | None = None
    jwks_inline: str | None = None
    hmac_secret: str | None = Field(None, description="HS256 shared secret (demo and tests only)")
    required: bool = False
    # What a token that fails verification (not a JWT, forged, expired, wrong issuer) gets. ``default_tier``: the
    # request goes on without claims, so on the default tier, which is what OpenAI and Anthropic SDKs need (they
    # always send their API key as a bearer token); a failed token never raises the tier. ``reject``: Envoy's
    # 401, for deployments where every client holds a real token.
    invalid_token: Literal["default_tier", "reject"] = "default_tier"
    require_expiration: bool = True  # a token without ``exp`` fails verification (so never raises the tier)


class EnvoyConfig(_Model):
    """Settings of the generated Envoy bootstrap (``triage envoy-config``)."""

    listen: str = "0.0.0.0:10000"
    admin: str = "127.0.0.1:9901"
    extproc: str = Field("127.0.0.1:50051", description="where Envoy reaches Triage")
    access_log: str = "/dev/stdout"
    attempt_log: str | None = Field(None, description="one JSON line per upstream attempt (router upstream_log)")
    message_timeout_ms: PositiveInt = 500
    failure_mode_allow: bool = True
    request_timeout_ms: PositiveInt = 300_000
    tracing: EnvoyTracing | None = None
    jwt: JwtConfig | None = None
    node_id: str = "triage-envoy"
    health_poll_ms: Annotated[int, Field(ge=0)] = Field(
        1000, description="how often Triage reads ejections from Envoy's admin API (0 = never)"
    )

    _addresses = field_validator("listen", "admin", "extproc")(_check_address)


class StoreConfig(_Model):
    """The decision store: each decision record, and the events that arrive later about the same decision (feedback,
    implicit signals), appended to segment files and joined by decision id at read time (``triage report``)."""

    path: str | None = Field(None, description="directory of the store's append-only segments; off when unset")
    retention_days: PositiveInt = Field(30, description="segments older than this are deleted")
    max_bytes: PositiveInt = Field(10 * 1024**3, description="the store's size bound: the oldest segments go first")
    segment_seconds: PositiveInt = Field(3600, description="a writer starts a new segment file this often")
    otlp_logs: bool = Field(
        False,
        description="also export records and events as OTLP log records to telemetry.otlp_endpoint (the path to "
        "an OpenTelemetry Collector and a shared engine such as ClickHouse, for many replicas)",
    )
    core_hour_usd: Annotated[float, Field(ge=0)] = Field(
        0.04, description="the price of one CPU core-hour, for the router's own cost in `triage report`"
    )
    capture: bool = Field(
        False,
        description="content capture, an explicit switch, off by default: also store the classifier's input text "
        "(the windowed prompt and system prompt the router saw, never the whole body or the completion) by decision "
        "id in the store's captured/ segments, for retraining from feedback (`triage train --feedback`); needs "
        "store.path, follows its retention and size bound, and is never sent as OTLP log records",
    )


class PolicyOverride(_Model):
    """What a shadow candidate changes of the live policy (anything left out is the live policy's)."""

    ladder: list[LadderStep] | None = Field(None, min_length=1)
    task_bias: dict[str, float] | None = None
    uncertainty: Uncertainty | None = None
    skip_below_tokens: Annotated[int, Field(ge=0)] | None = None


class ShadowCandidate(_Model):
    """A candidate policy evaluated on live traffic after each reply, never executed.

    ``state``: ``candidate`` (declared, not evaluated), ``shadow`` (evaluated on every request), ``active`` (it is
    the live policy: promotion is this edit, hot-reloaded), ``retired`` (kept for the record, not evaluated)."""

    state: Literal["candidate", "shadow", "active", "retired"] = "shadow"
    description: str = ""
    policy: PolicyOverride = PolicyOverride()
    model: str | None = Field(None, description="another classifier bundle scoring for this candidate (a path)")


class ShadowConfig(_Model):
    candidates: dict[Name, ShadowCandidate] = Field(default_factory=dict)


class ImplicitSignals(_Model):
    """Signals read from traffic itself: the same conversation sent again by the same principal within
    ``window_s`` is recorded on the earlier decision (``retried`` after a failed answer, ``regenerated`` after a
    good one)."""

    enabled: bool = True
    window_s: PositiveInt = 600
    max_tracked: PositiveInt = Field(100_000, description="recent conversations remembered per Triage process")


class FeedbackConfig(_Model):
    """The feedback API (``proto/triage/v1/feedback.proto``), served by ``triage serve`` and, through Envoy's
    gRPC-JSON transcoding, as ``POST <http_path>``."""

    enabled: bool = True
    http_path: str = "/v1/feedback"
    # Who sent it: a claim of the verified JWT (jwt_authn's payload in metadata), never the body.
    principal: MetadataSource = MetadataSource(namespace="envoy.filters.http.jwt_authn", path=["jwt_payload", "sub"])
    require_principal: bool = Field(False, description="refuse feedback without a verified principal")
    # Decision ids carry an HMAC tag so that every replica tells Triage's own ids from unknown ones without a lookup.
    id_secret: str | None = Field(None, description="the ids' HMAC key (demo); prefer id_secret_file")
    id_secret_file: str | None = Field(None, description="a file holding the ids' HMAC key (a mounted Secret)")
    max_age_days: PositiveInt = Field(30, description="feedback on older decisions is refused")
    max_event_bytes: PositiveInt = 4096
    implicit: ImplicitSignals = ImplicitSignals()


class EscalationTier(_Model):
    """Confidence escalation for one tier: which routes' non-streaming answers are checked, where a doubtful one
    goes, and the budget that bounds it (``triage.escalation``, docs/escalation.md)."""

    routes: dict[Name, Name] = Field(
        min_length=1, description="a cheap route → the stronger route its doubtful answers are re-sent to"
    )
    max_share: Probability = Field(0.1, description="at most this share of the tier's checked requests escalate")
    min_escalations: Annotated[int, Field(ge=0)] = Field(
        1, description="escalations a window allows whatever the share"
    )
    max_added_cost_usd: Annotated[float, Field(gt=0)] | None = Field(
        None, description="at most this cost of escalated calls per window, per Triage process"
    )
    window_s: PositiveInt = Field(3600, description="the budget's sliding window")


class EscalationTask(_Model):
    """Per-task settings of the verifier and of the decision (anything left out is the section's)."""

    threshold: Probability | None = None
    expected_output_tokens: PositiveInt | None = Field(
        None, description="the task's usual answer length: a much shorter answer is doubtful"
    )
    weights: dict[str, float] | None = Field(None, description="the verifier's signal weights (logistic)")
    intercept: float | None = None


class EscalationConfig(_Model):
    """Cheap model first, the strong one only when the cheap answer looks doubtful (opt-in per tier and route;
    non-streaming requests only). A doubtful answer's request is sent again through Envoy to the stronger route; the
    client gets exactly one answer, the cheap one whenever the escalated call fails or runs out of time."""

    tiers: dict[Name, EscalationTier] = Field(default_factory=dict)
    threshold: Probability = Field(0.5, description="escalate when the doubt reaches this")
    prior_weight: float = Field(1.0, description="weight of the router's P(strong) in the doubt (log-odds)")
    verifier_weight: float = Field(1.0, description="weight of the verifier's evidence in the doubt (log-odds)")
    bias: float = Field(0.0, description="added to the doubt's log-odds")
    tasks: dict[str, EscalationTask] = Field(default_factory=dict)
    logprobs_routes: list[Name] = Field(
        default_factory=list,
        description="cheap routes whose providers return token logprobs: Triage asks them for logprobs (OpenAI chat) "
        "and strips them from the answer unless the client asked; a provider that refuses the parameter would fail "
        "the request, so list only routes you know support it",
    )
    via: str | None = Field(
        None,
        description="Envoy's listener (host:port) that escalated requests are sent through; default: envoy.listen "
        "(0.0.0.0 read as 127.0.0.1)",
    )
    max_answer_bytes: PositiveInt = Field(1024 * 1024, description="larger cheap answers ship unchecked")
    min_time_ms: PositiveInt = Field(
        2000, description="no escalation when less than this is left of the tier's timeout_ms"
    )
    timeout_ms: Annotated[int, Field(gt=0, le=590_000)] = Field(
        60_000,
        description="the escalated call's own limit (also bounded by what is left of the tier's timeout_ms); below "
        "Envoy's stream idle timeout (600 s), which would otherwise end the held response",
    )


class TriageConfig(_Model):
    """The whole ``triage.yaml``."""

    version: Literal[1] = 1
    clusters: dict[Name, ClusterConfig] = Field(min_length=1)
    routes: dict[Name, RouteConfig] = Field(min_length=1)
    default_route: Name
    tier_source: TierSource = TierSource()
    default_tier: Name = "default"
    tiers: dict[Name, TierConfig] = Field(default_factory=dict)
    policy: PolicyConfig
    kill_switch: KillSwitch | None = None
    retries: RetryConfig = RetryConfig()
    server: ServerConfig = ServerConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    envoy: EnvoyConfig = EnvoyConfig()
    store: StoreConfig = StoreConfig()
    shadow: ShadowConfig = ShadowConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    escalation: EscalationConfig = EscalationConfig()

    @property
    def live_policy(self) -> PolicyConfig:
        """The policy requests are routed by: ``policy``, or the active shadow candidate's changes to it."""
        active = next((c for c in self.shadow.candidates.values() if c.state == "active"), None)
        return self.policy if active is None else self.policy_with(active.policy)

    def policy_with(self, override: PolicyOverride) -> PolicyConfig:
        """``policy`` with what ``override`` sets."""
        changes = override.model_dump(exclude_none=True)
        return self.policy.model_validate({**self.policy.model_dump(), **changes}) if changes else self.policy

    def tier(self, name: str | None) -> tuple[str, TierConfig]:
        """The named tier, or the default tier when the name is unknown or absent. With no tiers
        configured, every request gets the default tier with every route allowed."""
        if name and name in self.tiers:
            return name, self.tiers[name]
        if not self.tiers:
            return self.default_tier, TierConfig(routes=list(self.routes))
        return self.default_tier, self.tiers[self.default_tier]


def verifier_overrides(cfg: EscalationConfig) -> dict[str, dict[str, float]]:
    """``escalation.tasks`` as the verifier's per-task overrides (``triage.escalation.model.configure``)."""
    out: dict[str, dict[str, float]] = {}
    for task, t in cfg.tasks.items():
        values: dict[str, float] = dict(t.weights or {})
        if t.intercept is not None:
            values["intercept"] = t.intercept
        if t.expected_output_tokens is not None:
            values["expected_tokens"] = t.expected_output_tokens
        if values:
            out[task] = values
    return out


def _cross_reference_problems(cfg: TriageConfig) -> list[str]:
    problems: list[str] = []
    routes, clusters = set(cfg.routes), set(cfg.clusters)

    def need_route(where: str, name: str) -> None:
        if name not in routes:
            problems.append(f"{where}: unknown route {name!r} (routes: {', '.join(sorted(routes))})")

    for tname, tier in cfg.tiers.items():
        per_try, budget = tier.per_try_timeout_ms, tier.timeout_ms
        if per_try is not None and budget is not None and per_try >= budget:
            problems.append(
                f"tiers.{tname}.per_try_timeout_ms: {per_try} is not below the tier's timeout_ms ({budget}): a hung "
                "provider would use the whole budget and the chain could never fail over; leave it out to derive a "
                "share of timeout_ms per step"
            )
    for rname, route in cfg.routes.items():
        for i, entry in enumerate(route.chain):
            if entry.cluster not in clusters:
                problems.append(
                    f"routes.{rname}.chain.{i}.cluster: unknown cluster {entry.cluster!r} "
                    f"(clusters: {', '.join(sorted(clusters))})"
                )
        if len({e.cluster for e in route.chain}) != len(route.chain):
            problems.append(f"routes.{rname}.chain: a cluster appears twice; each step needs its own cluster")
    need_route("default_route", cfg.default_route)
    active = [name for name, c in cfg.shadow.candidates.items() if c.state == "active"]
    if len(active) > 1:
        problems.append(
            f"shadow.candidates: {', '.join(active)} are all active; at most one candidate is the live policy"
        )
    for cname, cand in cfg.shadow.candidates.items():
        for i, step in enumerate(cand.policy.ladder or ()):
            need_route(f"shadow.candidates.{cname}.policy.ladder.{i}.route", step.route)
        if cand.state == "active" and cand.model is not None:
            problems.append(
                f"shadow.candidates.{cname}: an active candidate cannot bring its own model; promote a model by "
                "setting classifier.model to it (a restart loads it)"
            )
    if cfg.tiers and cfg.default_tier not in cfg.tiers:
        problems.append(
            f"default_tier: {cfg.default_tier!r} is not defined under tiers "
            f"(tiers: {', '.join(sorted(cfg.tiers)) or 'none'})"
        )
    esc_cfg = cfg.escalation
    if esc_cfg.tiers and not cfg.envoy.failure_mode_allow:
        problems.append(
            "escalation.tiers: needs envoy.failure_mode_allow: true — Triage holds the cheap answer while it asks the "
            "stronger route, and only with failure_mode_allow does Envoy deliver it if Triage fails meanwhile"
        )
    for i, r in enumerate(esc_cfg.logprobs_routes):
        need_route(f"escalation.logprobs_routes.{i}", r)
    if esc_cfg.tasks:
        from triage.escalation.model import configure  # noqa: PLC0415  (only configurations that tune it)

        try:
            configure(verifier_overrides(esc_cfg))
        except ValueError as err:
            problems.append(f"escalation.tasks: {err}")
    for tname, esc in cfg.escalation.tiers.items():
        where = f"escalation.tiers.{tname}"
        if cfg.tiers and tname not in cfg.tiers:
            problems.append(f"{where}: unknown tier {tname!r} (tiers: {', '.join(sorted(cfg.tiers))})")
            continue
        allowed = set(cfg.tier(tname)[1].routes)
        for cheap, strong in esc.routes.items():
            need_route(f"{where}.routes", cheap)
            need_route(f"{where}.routes.{cheap}", strong)
            if cheap == strong:
                problems.append(f"{where}.routes.{cheap}: escalates to itself")
            for r in (cheap, strong):
                if r in routes and r not in allowed:
                    problems.append(f"{where}.routes: route {r!r} is not one tier {tname!r} may use")
    for tname, tier in cfg.tiers.items():
        for i, r in enumerate(tier.routes):
            need_route(f"tiers.{tname}.routes.{i}", r)
            if r in cfg.routes and all(e.cluster in tier.exclude_clusters for e in cfg.routes[r].chain):
                problems.append(f"tiers.{tname}.exclude_clusters: leaves route {r!r} with no step")
        for key in ("exclude_clusters", "prefer_clusters"):
            for i, c in enumerate(getattr(tier, key)):
                if c not in clusters:
                    problems.append(f"tiers.{tname}.{key}.{i}: unknown cluster {c!r}")
    for i, step in enumerate(cfg.policy.ladder):
        need_route(f"policy.ladder.{i}.route", step.route)
    thresholds = [s.min_score for s in cfg.policy.ladder]
    if thresholds != sorted(thresholds) or len(set(thresholds)) != len(thresholds):
        problems.append("policy.ladder: min_score must strictly increase from the first step to the last")
    if cfg.policy.ladder and cfg.policy.ladder[0].min_score != 0.0:
        problems.append("policy.ladder.0.min_score: the first step is the floor and must be 0")
    ladder_routes = [s.route for s in cfg.policy.ladder]
    if len(set(ladder_routes)) != len(ladder_routes):
        problems.append("policy.ladder: a route appears twice")
    from triage.classifier.base import TASK_LABELS  # noqa: PLC0415  (keeps config importable alone)

    for label in cfg.policy.task_bias:
        if label not in TASK_LABELS:
            problems.append(f"policy.task_bias.{label}: unknown task label (labels: {', '.join(TASK_LABELS)})")
    if cfg.kill_switch is not None:
        need_route("kill_switch.route", cfg.kill_switch.route)
        for i, t in enumerate(cfg.kill_switch.tiers):
            if t not in cfg.tiers:
                problems.append(f"kill_switch.tiers.{i}: unknown tier {t!r}")
    src = cfg.tier_source
    if src.metadata is not None and src.header is not None:
        problems.append("tier_source: give either metadata or header, not both")
    if cfg.store.capture and cfg.store.path is None:
        problems.append(
            "store.capture: content capture writes to the decision store's captured/ segments: set store.path too "
            "(or turn capture off)"
        )
    jwt = cfg.envoy.jwt
    if jwt is not None and sum(x is not None for x in (jwt.jwks_file, jwt.jwks_inline, jwt.hmac_secret)) != 1:
        problems.append("envoy.jwt: give exactly one of jwks_file, jwks_inline, hmac_secret")
    return problems


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The settings model that holds the last key of ``loc`` (through dicts of models and lists of models)."""
    current: Any = TriageConfig
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return None
        while get_origin(current) in (Union, UnionType, Annotated):  # X | None, Annotated[X, ...]
            current = next((a for a in get_args(current) if a is not type(None)), None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _format_validation_error(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
            model = _model_at(tuple(e["loc"][:-1]))
            if model is not None:
                close = difflib.get_close_matches(str(e["loc"][-1]), list(model.model_fields), n=1, cutoff=0.6)
                if close:
                    msg += f"; did you mean {close[0]!r}?"
        problems.append(f"{loc}: {msg}")
    return problems


def _raw_reference_problems(data: Mapping[str, Any]) -> list[str]:
    """The unknown clusters and routes of a document that did not validate, so one run reports every problem
    (the full cross-reference check needs a valid configuration)."""
    problems: list[str] = []
    clusters = set(data["clusters"]) if isinstance(data.get("clusters"), Mapping) else None
    routes = set(data["routes"]) if isinstance(data.get("routes"), Mapping) else None
    if routes is not None:
        for rname, route in data["routes"].items():
            chain = route.get("chain") if isinstance(route, Mapping) else None
            for i, entry in enumerate(chain if isinstance(chain, list) else []):
                cluster = entry.get("cluster") if isinstance(entry, Mapping) else None
                if clusters is not None and isinstance(cluster, str) and cluster not in clusters:
                    problems.append(
                        f"routes.{rname}.chain.{i}.cluster: unknown cluster {cluster!r} "
                        f"(clusters: {', '.join(sorted(clusters))})"
                    )

    def need_route(where: str, name: Any) -> None:
        if routes is not None and isinstance(name, str) and name not in routes:
            problems.append(f"{where}: unknown route {name!r} (routes: {', '.join(sorted(routes))})")

    need_route("default_route", data.get("default_route"))
    tiers = data.get("tiers")
    for tname, tier in tiers.items() if isinstance(tiers, Mapping) else ():
        tier_routes = tier.get("routes") if isinstance(tier, Mapping) else None
        for i, r in enumerate(tier_routes if isinstance(tier_routes, list) else []):
            need_route(f"tiers.{tname}.routes.{i}", r)
    policy = data.get("policy")
    ladder = policy.get("ladder") if isinstance(policy, Mapping) else None
    for i, step in enumerate(ladder if isinstance(ladder, list) else []):
        if isinstance(step, Mapping):
            need_route(f"policy.ladder.{i}.route", step.get("route"))
    return problems


def parse_config(data: Any, source: str = "configuration") -> TriageConfig:
    """Validate an already-parsed YAML document. Raises ``ConfigError`` with every problem, in one go: type
    errors, unknown keys (with the closest known key) and unknown clusters and routes together."""
    if not isinstance(data, Mapping):
        raise ConfigError(["(top level): expected a mapping of settings"], source)
    try:
        cfg = TriageConfig.model_validate(data)
    except ValidationError as err:
        problems = _format_validation_error(err)
        seen = {p.split(":", 1)[0] for p in problems}  # a setting with a type error is not checked twice
        problems += [p for p in _raw_reference_problems(data) if p.split(":", 1)[0] not in seen]
        raise ConfigError(problems, source) from None
    problems = _cross_reference_problems(cfg)
    if problems:
        raise ConfigError(problems, source)
    return cfg


def _key_lines(text: str) -> dict[str, int]:
    """Dotted setting path (``routes.economy.chain.0.cluster``) → its 1-based line in ``text``."""
    out: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = f"{path}.{key.value}" if path else str(key.value)
                out[here] = key.start_mark.line + 1
                walk(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                here = f"{path}.{i}" if path else str(i)
                out[here] = item.start_mark.line + 1
                walk(item, here)

    try:
        root = yaml.compose(text)
    except (yaml.YAMLError, RecursionError):
        return out
    if root is not None:
        walk(root, "")
    return out


def _with_lines(err: ConfigError, text: str) -> ConfigError:
    """``err`` with each problem prefixed by the line of the deepest setting it names."""
    lines = _key_lines(text)
    problems = []
    for problem in err.problems:
        loc = problem.split(":", 1)[0]
        parts = loc.split(".")
        line = next(
            (lines[".".join(parts[:k])] for k in range(len(parts), 0, -1) if ".".join(parts[:k]) in lines), None
        )
        problems.append(f"line {line}: {problem}" if line is not None else problem)
    return ConfigError(problems, err.source)


def load_config(path: str | Path | None = None) -> TriageConfig:
    """Load ``path``, or the embedded default configuration when ``path`` is None.

    Every way a file can be wrong ends as one ``ConfigError`` naming the file: unreadable, not UTF-8, not YAML
    (with the line), nested too deep, or invalid settings (all of them at once)."""
    if path is None:
        raw = default_config_text().encode("utf-8")
        source = f"<embedded {DEFAULT_CONFIG_NAME}>"
    else:
        source = str(path)
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise ConfigError(["no such file"], source) from None
        except OSError as err:
            raise ConfigError([f"cannot read: {err.strerror or err}"], source) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            [f"line {line}: not UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start})"], source
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError([f"not valid YAML: {str(err).replace('<unicode string>', source)}"], source) from None
    except RecursionError:
        raise ConfigError(["not a usable YAML document: nested too deeply"], source) from None
    try:
        return parse_config(data, source)
    except RecursionError:
        raise ConfigError(["settings nested too deeply"], source) from None
    except ConfigError as err:
        raise _with_lines(err, text) from None


def default_config_text() -> str:
    return resources.files("triage.defaults").joinpath(DEFAULT_CONFIG_NAME).read_text(encoding="utf-8")
