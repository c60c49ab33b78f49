"""Decisions → ext_proc replies. The only module that builds ``ProcessingResponse`` messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from envoy.type.v3 import http_status_pb2
from google.protobuf import struct_pb2

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


def request_headers(remove: Iterable[str] = ()) -> ep.ProcessingResponse:
    """Continue to the body, dropping the client's copies of Triage's own headers."""
    common = ep.CommonResponse(header_mutation=_header_mutation({}, remove))
    return ep.ProcessingResponse(request_headers=ep.HeadersResponse(response=common))


def pass_through(remove: Iterable[str] = ()) -> ep.ProcessingResponse:
    """Not a routed request: send no body and no response to Triage (mode override)."""
    common = ep.CommonResponse(header_mutation=_header_mutation({}, remove))
    return ep.ProcessingResponse(
        request_headers=ep.HeadersResponse(response=common),
        mode_override=_Mode(
            request_body_mode=_Mode.NONE,
            response_header_mode=_Mode.SKIP,
            response_body_mode=_Mode.NONE,
        ),
    )


def request_body_continue() -> ep.ProcessingResponse:
    return ep.ProcessingResponse(request_body=ep.BodyResponse())


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
    common = None
    if replacement is not None:
        mutation = ep.BodyMutation(body=replacement) if replacement else ep.BodyMutation(clear_body=True)
        common = ep.CommonResponse(body_mutation=mutation)
    return ep.ProcessingResponse(
        response_body=ep.BodyResponse(response=common) if common else ep.BodyResponse(),
        dynamic_metadata=struct(metadata) if metadata else None,
    )


def trailers(kind: str) -> ep.ProcessingResponse:
    """Answer a trailers message unchanged (``kind`` is ``request_trailers`` or ``response_trailers``)."""
    return ep.ProcessingResponse(**{kind: ep.TrailersResponse()})
