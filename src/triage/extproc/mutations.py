"""Decisions → ext_proc replies. The only module that builds ``ProcessingResponse`` messages.

The replies of the request path are cheap to make: the ones that never vary are built once and shared (a reply
is only ever serialized, never changed, after it is returned), and a routing reply is a copy of a template
prebuilt per decision shape (route, tier, chain, budgets) with the per-request values filled in — one C-level
copy and a handful of field writes instead of a few hundred nested message operations, which cost ~200 µs per
request on a small VM with cold caches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import orjson
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.type.v3 import http_status_pb2
from google.protobuf import struct_pb2

from triage import contract as ct

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
_Mode = processing_mode_pb2.ProcessingMode


def _header_mutation(set_headers: Mapping[str, str], remove: Iterable[str] = ()) -> ep.HeaderMutation:
    # Filled in place: about twice as fast as building nested messages and copying them in.
    out = ep.HeaderMutation(remove_headers=list(remove))
    for k, v in set_headers.items():
        option = out.set_headers.add()
        option.header.key = k
        option.header.raw_value = v.encode()
        option.append_action = _OVERWRITE
    return out


def _set(target: struct_pb2.Value, v: Any) -> None:
    if isinstance(v, str):
        target.string_value = v
    elif isinstance(v, bool):
        target.bool_value = v
    elif isinstance(v, int | float):
        target.number_value = v
    elif isinstance(v, struct_pb2.Struct):
        target.struct_value.CopyFrom(v)
    elif isinstance(v, Mapping):
        target.struct_value.SetInParent()
        fields = target.struct_value.fields
        for k, x in v.items():
            _set(fields[k], x)
    elif isinstance(v, list | tuple):
        target.list_value.SetInParent()
        for x in v:
            _set(target.list_value.values.add(), x)
    else:
        target.null_value = struct_pb2.NULL_VALUE


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    """A Struct from plain values (and prebuilt Structs), filled in place: ``Struct.update`` and nested
    constructors are several times slower on the request path."""
    out = struct_pb2.Struct()
    fields = out.fields
    for k, v in values.items():
        _set(fields[k], v)
    return out


def _request_headers(remove: Iterable[str]) -> ep.ProcessingResponse:
    common = ep.CommonResponse(header_mutation=_header_mutation({}, remove))
    return ep.ProcessingResponse(request_headers=ep.HeadersResponse(response=common))


def _pass_through(remove: Iterable[str]) -> ep.ProcessingResponse:
    common = ep.CommonResponse(header_mutation=_header_mutation({}, remove))
    return ep.ProcessingResponse(
        request_headers=ep.HeadersResponse(response=common),
        mode_override=_Mode(
            request_body_mode=_Mode.NONE,
            response_header_mode=_Mode.SKIP,
            response_body_mode=_Mode.NONE,
        ),
    )


def _request_only(remove: Iterable[str]) -> ep.ProcessingResponse:
    common = ep.CommonResponse(header_mutation=_header_mutation({}, remove))
    return ep.ProcessingResponse(
        request_headers=ep.HeadersResponse(response=common),
        # Every mode, always: Envoy applies an override's body modes as they are (deploy/ENVOY.md, lab Q1.e).
        mode_override=_Mode(
            request_header_mode=_Mode.SEND,
            request_body_mode=_Mode.BUFFERED,
            request_trailer_mode=_Mode.SKIP,
            response_header_mode=_Mode.SKIP,
            response_body_mode=_Mode.NONE,
            response_trailer_mode=_Mode.SKIP,
        ),
    )


_CONTINUE_HEADERS = _request_headers(())
_PASS_THROUGH = _pass_through(())
_CONTINUE_BODY = ep.ProcessingResponse(request_body=ep.BodyResponse())
_RESPONSE_BODY = ep.ProcessingResponse(response_body=ep.BodyResponse())


def request_headers(remove: Iterable[str] = ()) -> ep.ProcessingResponse:
    """Continue to the body, dropping the client's copies of Triage's own headers."""
    return _request_headers(remove) if remove else _CONTINUE_HEADERS


def pass_through(remove: Iterable[str] = ()) -> ep.ProcessingResponse:
    """Not a routed request: send no body and no response to Triage (mode override)."""
    return _pass_through(remove) if remove else _PASS_THROUGH


def request_only(remove: Iterable[str]) -> ep.ProcessingResponse:
    """Continue to the body, but send none of the response to Triage (an escalated request: the Triage that sent
    it reads the response itself)."""
    return _request_only(remove)


def extend_timeout(ms: int) -> ep.ProcessingResponse:
    """Ask Envoy to wait ``ms`` more for the reply to the message it is waiting on (within ext_proc's
    ``max_message_timeout``). Its own message: in one with a body reply Envoy takes the timeout and drops the rest."""
    reply = ep.ProcessingResponse()
    reply.override_message_timeout.FromMilliseconds(max(ms, 1))
    return reply


def request_body_continue() -> ep.ProcessingResponse:
    return _CONTINUE_BODY


def route(
    headers: Mapping[str, str],
    body: bytes | None,
    metadata: Mapping[str, Any],
) -> ep.ProcessingResponse:
    """Send the request on its chosen route: set routing headers, replace the body (fixing its length),
    re-select the route (``clear_route_cache``) and leave the decision in dynamic metadata."""
    set_headers = dict(headers)
    body_mutation = None
    if body is not None:
        set_headers["content-length"] = str(len(body))
        body_mutation = ep.BodyMutation(body=body)
    common = ep.CommonResponse(
        header_mutation=_header_mutation(set_headers), body_mutation=body_mutation, clear_route_cache=True
    )
    return ep.ProcessingResponse(request_body=ep.BodyResponse(response=common), dynamic_metadata=struct(metadata))


# Placeholders of a routing template, overwritten per request (never sent as they are).
_ID_SLOT = 1  # the decision id is the second header set
_CONTENT_LENGTH = "content-length"


@lru_cache(maxsize=4096)
def _route_template(
    headers: tuple[tuple[str, str], ...],
    with_body: bool,
    summary: tuple[tuple[str, str], ...],
    models: tuple[tuple[str, str], ...],
    steps: tuple[int, ...],
) -> ep.ProcessingResponse:
    """The routing reply of one decision shape, with empty slots for the decision id and the body."""
    set_headers = dict(headers)
    if with_body:
        set_headers[_CONTENT_LENGTH] = ""
    common = ep.CommonResponse(header_mutation=_header_mutation(set_headers), clear_route_cache=True)
    if with_body:
        common.body_mutation.body = b""
    chain = {"priority_groups": [{"name": ct.step_name(i)} for i in steps]}
    triage = {**dict(summary), "models": dict(models)}
    metadata = struct({ct.METADATA_NAMESPACE: triage, ct.CHAIN_NAMESPACE: chain})
    return ep.ProcessingResponse(request_body=ep.BodyResponse(response=common), dynamic_metadata=metadata)


def route_decision(
    headers: tuple[tuple[str, str], ...],
    decision_id: str,
    body: bytes | None,
    summary: tuple[tuple[str, str], ...],
    dynamic: Mapping[str, str | float],
    models: tuple[tuple[str, str], ...],
    steps: tuple[int, ...],
) -> ep.ProcessingResponse:
    """``route`` for a routing decision, from its prebuilt template.

    ``headers``: the routing headers, the decision id's second (its value is replaced by ``decision_id``);
    ``summary``: the decision summary's fields that every request of this shape shares, ``dynamic`` the rest
    (all under the ``triage`` metadata namespace, with ``models``: cluster → the model it must be sent);
    ``steps``: the chain's priority groups (``triage.chain``). The body, when given, replaces the request's body
    and sets its content-length."""
    template = _route_template(headers, body is not None, summary, models, steps)
    reply = ep.ProcessingResponse()
    reply.CopyFrom(template)
    common = reply.request_body.response
    set_headers = common.header_mutation.set_headers
    set_headers[_ID_SLOT].header.raw_value = decision_id.encode()
    if body is not None:
        set_headers[len(set_headers) - 1].header.raw_value = str(len(body)).encode()
        common.body_mutation.body = body
    _fill(reply.dynamic_metadata.fields[ct.METADATA_NAMESPACE].struct_value.fields, dynamic)
    return reply


def _fill(fields: Any, values: Mapping[str, str | float]) -> None:
    """Set flat string and number values into a Struct's fields (a nested Struct's, filled in place)."""
    for key, value in values.items():
        if isinstance(value, str):
            fields[key].string_value = value
        else:
            fields[key].number_value = value


# Anthropic's error types for the OpenAI-style ones Triage uses (its API has no quota type: a budget is a rate limit).
_ANTHROPIC_ERROR_TYPES = {"insufficient_quota": "rate_limit_error"}


def error_body(error_type: str, code: str, message: str, style: str = "openai") -> bytes:
    """An error document in the client's API style: OpenAI's ``{"error": {message, type, param, code}}``, or
    Anthropic's ``{"type": "error", "error": {type, message}}`` (``style="anthropic"``)."""
    if style == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(error_type, error_type)
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})
    return orjson.dumps({"error": {"message": message, "type": error_type, "param": None, "code": code}})


def reject(
    status: int,
    error_type: str,
    code: str,
    message: str,
    headers: Mapping[str, str],
    metadata: Mapping[str, Any] | None = None,
    style: str = "openai",
) -> ep.ProcessingResponse:
    """Answer the client directly with a JSON error in its API's style (``error_body``); no provider is called."""
    all_headers = {"content-type": "application/json", **headers}
    return ep.ProcessingResponse(
        immediate_response=ep.ImmediateResponse(
            status=http_status_pb2.HttpStatus(code=status),
            headers=_header_mutation(all_headers),
            body=error_body(error_type, code, message, style),
            details=f"triage_{code}",
        ),
        dynamic_metadata=struct(metadata) if metadata else None,
    )


def response_headers(headers: Mapping[str, str]) -> ep.ProcessingResponse:
    common = ep.CommonResponse(header_mutation=_header_mutation(headers))
    return ep.ProcessingResponse(response_headers=ep.HeadersResponse(response=common))


def response_body(replacement: bytes | None = None, metadata: Mapping[str, Any] | None = None) -> ep.ProcessingResponse:
    """Forward a response chunk at once (optionally rewritten) and, on the last one, the outcome metadata."""
    if replacement is None and not metadata:
        return _RESPONSE_BODY
    common = None
    if replacement is not None:
        mutation = ep.BodyMutation(body=replacement) if replacement else ep.BodyMutation(clear_body=True)
        common = ep.CommonResponse(body_mutation=mutation)
    return ep.ProcessingResponse(
        response_body=ep.BodyResponse(response=common) if common else ep.BodyResponse(),
        dynamic_metadata=struct(metadata) if metadata else None,
    )


def response_outcome(replacement: bytes | None, outcome: Mapping[str, str | float]) -> ep.ProcessingResponse:
    """The reply to the response's last chunk: the chunk (optionally rewritten) and the request's outcome — tokens,
    cost, the cluster and model that answered, attempts — as ``triage`` dynamic metadata for the access log."""
    reply = ep.ProcessingResponse()
    if replacement is None:
        reply.response_body.SetInParent()
    elif replacement:
        reply.response_body.response.body_mutation.body = replacement
    else:
        reply.response_body.response.body_mutation.clear_body = True
    if outcome:
        _fill(reply.dynamic_metadata.fields[ct.METADATA_NAMESPACE].struct_value.fields, outcome)
    return reply


def trailers(kind: str) -> ep.ProcessingResponse:
    """Answer a trailers message unchanged (``kind`` is ``request_trailers`` or ``response_trailers``)."""
    return ep.ProcessingResponse(**{kind: ep.TrailersResponse()})
