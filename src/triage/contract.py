"""The names Triage and its Envoy configuration must agree on: headers, metadata namespaces, step names.

Both the ext_proc replies (``extproc/mutations.py``) and the generated bootstrap (``envoy/bootstrap.py``)
import them from here, so the two sides cannot drift apart.
"""

from __future__ import annotations

HEADER_ROUTE = "x-triage-route"
HEADER_DECISION_ID = "x-triage-decision-id"
HEADER_TIER = "x-triage-tier"
TRIAGE_HEADERS = (HEADER_ROUTE, HEADER_TIER, HEADER_DECISION_ID)
# On a request Triage itself sends again through Envoy's listener (confidence escalation): which decision it
# escalates, to which route, until when; signed. Not on Envoy's scrub list (Triage must see it); Triage checks the
# signature, and removes it before the request goes upstream.
HEADER_ESCALATION = "x-triage-escalation"

HEADER_TIMEOUT = "x-envoy-upstream-rq-timeout-ms"
HEADER_PER_TRY_TIMEOUT = "x-envoy-upstream-rq-per-try-timeout-ms"
HEADER_MAX_RETRIES = "x-envoy-max-retries"
# Envoy headers that steer retries and timeouts: only Triage sets them (a client's copy is removed).
ENVOY_CONTROL_HEADERS = (
    HEADER_TIMEOUT,
    HEADER_PER_TRY_TIMEOUT,
    HEADER_MAX_RETRIES,
    "x-envoy-retry-on",
    "x-envoy-retry-grpc-on",
    "x-envoy-retriable-status-codes",
    "x-envoy-retriable-header-names",
    "x-envoy-hedge-on-per-try-timeout",
)
# Credentials a client may send; never forwarded to a provider unless a cluster allows it.
CLIENT_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "proxy-authorization")
# The client's session with the gateway (or the site in front of it): never meant for a provider, always removed.
CLIENT_SESSION_HEADERS = ("cookie",)

# The gRPC service Envoy calls; its name is also what Envoy's gRPC health check asks about (``--workers``).
EXT_PROC_SERVICE = "envoy.service.ext_proc.v3.ExternalProcessor"

# Dynamic metadata: the decision summary (and, per cluster, the model each attempt must send) ...
METADATA_NAMESPACE = "triage"
# ... and this request's chain, read by the priority-group cluster specifier.
CHAIN_NAMESPACE = "triage.chain"


def step_name(index: int) -> str:
    """The priority group of a route's chain position."""
    return f"step{index}"


def worker_address(address: str, index: int) -> str:
    """Where worker ``index`` of ``triage serve --workers N`` listens, for a base address of ``server.listen``
    or ``envoy.extproc``: worker 0 keeps it; worker i listens on ``<stem>-<i><suffix>`` (a Unix socket, e.g.
    ``/run/triage/triage-1.sock``) or on the port plus i. The server and the generated Envoy cluster both call this,
    so the endpoints Envoy balances over are exactly the sockets the workers open."""
    if index == 0:
        return address
    if address.startswith("unix:"):
        path = address[len("unix:") :]
        slash = path.rfind("/") + 1
        dot = path.rfind(".")
        stem, suffix = (path[:dot], path[dot:]) if dot > slash else (path, "")
        return f"unix:{stem}-{index}{suffix}"
    host, port = address.rsplit(":", 1)
    return f"{host}:{int(port) + index}" if int(port) else address  # port 0: every worker picks its own
