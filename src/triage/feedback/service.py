"""The feedback service (``triage.v1.Feedback``): ``Submit`` checks one event and appends it to the store.

Served on both server engines (``register_wire``, ``grpcio_handler``) beside ext_proc, and over HTTP through Envoy's
gRPC-JSON transcoder (``POST /v1/feedback``, ``docs/feedback.md``).

Who sent an event is the verified principal that Envoy's feedback route passes as the ``x-triage-principal``
metadata (a JWT claim, ``feedback.principal``), never a field of the body. The metadata is trusted because only
Envoy reaches Triage's socket (a Unix socket, or a port a NetworkPolicy keeps to Envoy).

Every refusal is a gRPC status whose message starts with a code (``unknown_decision: ...``), checked in this order:

==================== ======================= =============================================================
status               code                    when
==================== ======================= =============================================================
UNAVAILABLE          not_ready               Triage is still loading its model
UNIMPLEMENTED        feedback_disabled       ``feedback.enabled`` is false
RESOURCE_EXHAUSTED   event_too_large         the request is over ``feedback.max_event_bytes``
UNAUTHENTICATED      principal_required      no verified principal and ``feedback.require_principal``
INVALID_ARGUMENT     invalid_decision_id     not the 32 hex digits of an ``x-triage-decision-id``
INVALID_ARGUMENT     invalid_signal          not one of ``SIGNALS``
INVALID_ARGUMENT     invalid_score           ``score`` missing or outside 0..1 with signal ``score``, or sent
                                             with another signal
INVALID_ARGUMENT     invalid_idempotency_key missing, over 128 characters, or not printable ASCII
ALREADY_EXISTS       idempotency_key_reused  the key was used (by the same principal) for a different event
NOT_FOUND            unknown_decision        an id Triage never issued (its tag does not verify)
FAILED_PRECONDITION  decision_expired        the decision is older than ``feedback.max_age_days``
==================== ======================= =============================================================

Duplicates: an event whose (principal, idempotency key) was already accepted is answered with the first event's id
and ``duplicate: true``, and nothing is appended again. The window that remembers keys is in memory, per process
and bounded (the last ``DEDUPE_KEYS`` keys); a duplicate that reaches another worker or replica, or comes after a
restart, is appended a second time with the same key, and the store's readers keep one event per
(principal, idempotency key). A duplicate is recognised before the decision id is checked again, so a client's
retry is answered the same way even once the decision has expired.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import grpc

from triage.feedback import ids as _ids
from triage.feedback.contract import PRINCIPAL_HEADER, SERVICE, SUBMIT_PATH
from triage.feedback.gen.feedback_pb2 import FeedbackReply, FeedbackRequest
from triage.runtime import RuntimeHolder
from triage.store.schema import SIGNAL_VALUE, Event
from triage.wire import RpcError, Server, ServerCall, Status

# The signals a client may send; ``retried`` is implicit only (``feedback.implicit``).
SIGNALS = ("thumbs_up", "thumbs_down", "score", "accepted", "regenerated", "abandoned")
MAX_KEY_CHARS = 128
DEDUPE_KEYS = 16_384  # idempotency keys remembered per process (about 200 bytes each)

_STATUS_BY_CODE = {status.value[0]: status for status in grpc.StatusCode}


class Refused(Exception):
    """The event is refused: ``status`` (a gRPC status code) and ``details`` (``"<code>: <message>"``)."""

    def __init__(self, status: Status, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.details = f"{code}: {message}"
        super().__init__(self.details)


def _shown(value: str, limit: int = 40) -> str:
    """A client's value quoted for an error message (ASCII, bounded)."""
    return ascii(value if len(value) <= limit else value[:limit] + "...")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class FeedbackService:
    """``Submit``, on the runtime the server is ready with (``holder``; refused as ``not_ready`` until then)."""

    def __init__(self, *, clock_ms: Callable[[], int] = _now_ms) -> None:
        self.holder: RuntimeHolder | None = None
        self._clock_ms = clock_ms
        # hash of (principal, idempotency key) → (event id, what the event said)
        self._seen: OrderedDict[bytes, tuple[str, tuple[str, str, float | None]]] = OrderedDict()

    # -- the method ------------------------------------------------------------------------------------------

    def submit(self, request: FeedbackRequest, principal: str | None) -> FeedbackReply:
        """Check and record one event (see the module docstring); raises ``Refused``."""
        holder = self.holder
        if holder is None:
            raise Refused(Status.UNAVAILABLE, "not_ready", "Triage is starting; send the feedback again shortly")
        rt = holder.current
        config = rt.config.feedback
        if not config.enabled:
            raise Refused(Status.UNIMPLEMENTED, "feedback_disabled", "feedback is turned off (feedback.enabled)")
        size = request.ByteSize()
        if size > config.max_event_bytes:
            raise Refused(
                Status.RESOURCE_EXHAUSTED,
                "event_too_large",
                f"the event is {size} bytes, over the limit of {config.max_event_bytes} (feedback.max_event_bytes)",
            )
        principal = principal or None
        if principal is None and config.require_principal:
            raise Refused(
                Status.UNAUTHENTICATED,
                "principal_required",
                "feedback needs a verified token (Authorization: Bearer ...) that names who sends it",
            )
        what = self._validated(request)
        key = hashlib.blake2b(f"{principal or ''}\x00{request.idempotency_key}".encode(), digest_size=16).digest()
        seen = self._seen.get(key)
        if seen is not None:
            event_id, said = seen
            if said != what:
                raise Refused(
                    Status.ALREADY_EXISTS,
                    "idempotency_key_reused",
                    f"idempotency_key {_shown(request.idempotency_key)} was already used for another event "
                    f"({event_id}); use a new key for each event",
                )
            return FeedbackReply(event_id=event_id, duplicate=True)
        decision_id = what[0]
        check = rt.ids.check(decision_id)
        if check == "unknown":
            raise Refused(
                Status.NOT_FOUND,
                "unknown_decision",
                f"decision {decision_id} was not issued by this Triage deployment (or its feedback.id_secret changed)",
            )
        if check == "expired":
            days = (self._clock_ms() - _ids.issued_at_ms(decision_id)) // 86_400_000
            raise Refused(
                Status.FAILED_PRECONDITION,
                "decision_expired",
                f"decision {decision_id} is {days} days old; feedback is accepted for {config.max_age_days} days "
                "(feedback.max_age_days)",
            )
        signal, score = what[1], what[2]
        event = Event(
            event_id=f"{random.getrandbits(128):032x}",
            decision_id=decision_id,
            time_unix_ms=self._clock_ms(),
            kind="feedback",
            signal=signal,
            value=score if score is not None else SIGNAL_VALUE[signal],
            principal=principal,
            idempotency_key=request.idempotency_key,
        )
        rt.recorder.event(event)
        self._seen[key] = (event.event_id, what)
        if len(self._seen) > DEDUPE_KEYS:
            self._seen.popitem(last=False)
        return FeedbackReply(event_id=event.event_id, duplicate=False)

    @staticmethod
    def _validated(request: FeedbackRequest) -> tuple[str, str, float | None]:
        """(decision id in lower case, signal, score) of a well-formed request; raises ``Refused``."""
        decision_id = request.decision_id.lower()
        if len(decision_id) != 32 or not all(c in "0123456789abcdef" for c in decision_id):
            shown = _shown(request.decision_id) if request.decision_id else "missing"
            raise Refused(
                Status.INVALID_ARGUMENT,
                "invalid_decision_id",
                f"decision_id must be the 32 hex digits of a response's x-triage-decision-id header ({shown})",
            )
        signal = request.signal
        if signal not in SIGNALS:
            shown = _shown(signal) if signal else "missing"
            raise Refused(
                Status.INVALID_ARGUMENT, "invalid_signal", f"signal must be one of {', '.join(SIGNALS)} ({shown})"
            )
        score: float | None = None
        if request.HasField("score"):
            if signal != "score":
                raise Refused(
                    Status.INVALID_ARGUMENT, "invalid_score", f"score goes with signal 'score' only, not {signal!r}"
                )
            score = request.score
            if not (math.isfinite(score) and 0.0 <= score <= 1.0):
                raise Refused(Status.INVALID_ARGUMENT, "invalid_score", f"score must be from 0 to 1, not {score!r}")
        elif signal == "score":
            raise Refused(Status.INVALID_ARGUMENT, "invalid_score", "signal 'score' needs a score from 0 to 1")
        key = request.idempotency_key
        if not key or len(key) > MAX_KEY_CHARS or not all("!" <= c <= "~" for c in key):
            raise Refused(
                Status.INVALID_ARGUMENT,
                "invalid_idempotency_key",
                f"idempotency_key must be 1 to {MAX_KEY_CHARS} printable ASCII characters, one per event (a UUID "
                f"per user action): a retry with the same key is recorded once ({_shown(key) if key else 'missing'})",
            )
        return decision_id, signal, score

    # -- the two engines ---------------------------------------------------------------------------------------

    async def _submit_wire(self, request: FeedbackRequest, call: ServerCall[Any, Any]) -> FeedbackReply:
        try:
            return self.submit(request, call.metadata.get(PRINCIPAL_HEADER))
        except Refused as err:
            raise RpcError(err.status, err.details) from None

    def register_wire(self, server: Server) -> None:
        """Serve ``Submit`` on the wire engine."""
        server.add_unary_method(SUBMIT_PATH, self._submit_wire, FeedbackRequest.FromString, _serialize)

    async def _submit_grpcio(
        self, request: FeedbackRequest, context: grpc.aio.ServicerContext[FeedbackRequest, FeedbackReply]
    ) -> FeedbackReply:
        principal = next(
            (v for k, v in context.invocation_metadata() or () if k == PRINCIPAL_HEADER and isinstance(v, str)), None
        )
        try:
            return self.submit(request, principal)
        except Refused as err:
            await context.abort(_STATUS_BY_CODE[int(err.status)], err.details)
            raise  # abort raises; this line is never reached

    def grpcio_handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        """Serve ``Submit`` on the grpcio engine."""
        method = grpc.unary_unary_rpc_method_handler(
            self._submit_grpcio, request_deserializer=FeedbackRequest.FromString, response_serializer=_serialize
        )
        return grpc.method_handlers_generic_handler(SERVICE, {"Submit": method})


def _serialize(reply: FeedbackReply) -> bytes:
    return reply.SerializeToString()
