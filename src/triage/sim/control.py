"""The ``/_sim/*`` control plane: drive a provider's faults and read its attempt log over HTTP.

For providers in another process (``triage.sim`` run as a command). All bodies are JSON.

    GET    /_sim/faults     {"script": [...], "fault": ...}   the pending script and the standing fault
    POST   /_sim/faults     replace the script. Body: a list of faults, one fault object, or
                            {"script": [...], "fault": {...} | null} to set either or both.
                            A fault object uses ``Fault``'s field names, e.g. {"status": 503, "times": 2};
                            its "answer" shapes a normal answer (``triage.sim.answers``), e.g.
                            {"fault": {"answer": {"logprob_mean": -2.5, "finish_reason": "length"}}}.
                            Answers the new state; an invalid fault is a 400 naming the problem.
    DELETE /_sim/faults     clear the script and the standing fault
    GET    /_sim/attempts   {"attempts": [Attempt.to_dict(), ...]}
    DELETE /_sim/attempts   {"cleared": n}
    POST   /_sim/health     {"healthy": bool}  what GET /healthz answers
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from triage.sim.apis import error_body
from triage.sim.exchange import Exchange
from triage.sim.faults import Fault
from triage.sim.http import Request

if TYPE_CHECKING:
    from triage.sim.provider import FakeProvider


class _BadControl(Exception):
    """A control request with a body this plane cannot apply (answered with 400)."""


async def handle(provider: FakeProvider, request: Request, ex: Exchange) -> None:
    """Answer one ``/_sim/*`` request on ``ex``."""
    methods = _ROUTES.get(request.path)
    if methods is None:
        message = f"Unknown control URL: {request.path}."
        await ex.send_json(404, error_body(404, message, code="unknown_url"))
        return
    action = methods.get(request.method)
    if action is None:
        await ex.send_json(405, error_body(405), [("allow", ", ".join(sorted(methods)))])
        return
    try:
        result = action(provider, _json(request.body))
    except _BadControl as exc:
        await ex.send_json(400, error_body(400, str(exc)))
        return
    await ex.send_json(200, result)


def _json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _BadControl(f"invalid JSON: {exc}") from exc


def _faults(items: Any) -> list[Fault]:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _BadControl("'script' must be a list of fault objects")
    try:
        return [Fault.from_dict(i) for i in items]
    except (TypeError, ValueError) as exc:
        raise _BadControl(str(exc)) from exc


def _post_faults(provider: FakeProvider, body: Any) -> dict[str, Any]:
    script: list[Fault] | None = None
    standing: Fault | None = None
    set_standing = False
    if isinstance(body, list):
        script = _faults(body)
    elif isinstance(body, dict) and set(body) <= {"script", "fault"} and body:
        if "script" in body:
            script = _faults(body["script"])
        if "fault" in body:
            set_standing = True
            standing = None if body["fault"] is None else _faults([body["fault"]])[0]
    elif isinstance(body, dict):
        script = _faults([body])
    else:
        raise _BadControl("expected a list of faults, a fault object, or {'script': [...], 'fault': {...}}")
    # Validate everything before changing anything, so a bad request leaves the provider as it was.
    if script is not None:
        provider.script(script)
    if set_standing:
        provider.set_fault(standing)
    return provider.faults


def _get_faults(provider: FakeProvider, _body: Any) -> dict[str, Any]:
    return provider.faults


def _delete_faults(provider: FakeProvider, _body: Any) -> dict[str, Any]:
    provider.reset_faults()
    return provider.faults


def _get_attempts(provider: FakeProvider, _body: Any) -> dict[str, Any]:
    return {"attempts": [a.to_dict() for a in provider.attempts]}


def _delete_attempts(provider: FakeProvider, _body: Any) -> dict[str, Any]:
    return {"cleared": provider.clear()}


def _post_health(provider: FakeProvider, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("healthy"), bool):
        raise _BadControl("expected {'healthy': true|false}")
    provider.set_healthy(body["healthy"])
    return {"healthy": provider.healthy}


_Action = Callable[["FakeProvider", Any], dict[str, Any]]
_ROUTES: dict[str, dict[str, _Action]] = {
    "/_sim/faults": {"GET": _get_faults, "POST": _post_faults, "DELETE": _delete_faults},
    "/_sim/attempts": {"GET": _get_attempts, "DELETE": _delete_attempts},
    "/_sim/health": {"POST": _post_health},
}
