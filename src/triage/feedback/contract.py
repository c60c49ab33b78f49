"""The names the feedback service and its Envoy configuration agree on (``envoy/bootstrap.py`` imports them).

- the gRPC service and its one method;
- ``PRINCIPAL_HEADER``: the request metadata that carries who sent an event. Envoy's feedback route sets it from
  the verified JWT claim (``feedback.principal``) after removing any client copy; Triage never reads a principal
  from anywhere else;
- ``HTTP_ERRORS``: how each gRPC status the service answers with reaches an HTTP client through Envoy (status and
  OpenAI-style error type). The service's messages start with a machine-readable code (``unknown_decision: ...``),
  which Envoy moves into the JSON error's ``code``;
- ``descriptor_set``: the compiled API as the ``FileDescriptorSet`` Envoy's gRPC-JSON transcoder loads.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor as _descriptor
from google.protobuf import descriptor_pb2, descriptor_pool

from triage.feedback.gen import feedback_pb2

SERVICE = "triage.v1.Feedback"
SUBMIT_PATH = f"/{SERVICE}/Submit"
PROTO_HTTP_PATH = "/v1/feedback"  # the path compiled into the proto's google.api.http rule
PRINCIPAL_HEADER = "x-triage-principal"

# gRPC status code → (HTTP status, OpenAI-style error type), for the statuses the service answers with.
# Google's usual mapping, except RESOURCE_EXHAUSTED: here it means "this event is too large" (413), not a quota.
HTTP_ERRORS: dict[int, tuple[int, str]] = {
    3: (400, "invalid_request_error"),  # INVALID_ARGUMENT: malformed id, unknown signal, bad score or key
    5: (404, "invalid_request_error"),  # NOT_FOUND: a decision id Triage never issued
    6: (409, "invalid_request_error"),  # ALREADY_EXISTS: an idempotency key reused for a different event
    8: (413, "invalid_request_error"),  # RESOURCE_EXHAUSTED: over feedback.max_event_bytes
    9: (400, "invalid_request_error"),  # FAILED_PRECONDITION: the decision is older than feedback.max_age_days
    12: (501, "invalid_request_error"),  # UNIMPLEMENTED: feedback is turned off
    14: (503, "upstream_error"),  # UNAVAILABLE: Triage is starting or stopping
    16: (401, "authentication_error"),  # UNAUTHENTICATED: no verified principal and feedback.require_principal
}


def _add_json_names(message: descriptor_pb2.DescriptorProto, source: _descriptor.Descriptor) -> None:
    """``CopyToProto`` leaves out each field's ``json_name``, which protoc's descriptor sets carry."""
    for field in message.field:
        field.json_name = source.fields_by_name[field.name].json_name
    for extension in message.extension:
        extension.json_name = source.extensions_by_name[extension.name].json_name
    for nested in message.nested_type:
        _add_json_names(nested, source.nested_types_by_name[nested.name])


def descriptor_set(http_path: str = PROTO_HTTP_PATH) -> bytes:
    """The API's ``FileDescriptorSet`` with every import, dependencies first (what ``protoc --include_imports``
    writes), built from the compiled modules, so that it ships inside the package and cannot drift from them.
    ``http_path``: the HTTP path Envoy transcodes (``feedback.http_path``), written into the method's rule."""
    ordered: list[_descriptor.FileDescriptor] = []

    def visit(file: _descriptor.FileDescriptor) -> None:
        for dependency in file.dependencies:
            visit(dependency)
        if all(f.name != file.name for f in ordered):
            ordered.append(file)

    visit(feedback_pb2.DESCRIPTOR)
    out = descriptor_pb2.FileDescriptorSet()
    for file in ordered:
        proto = out.file.add()
        file.CopyToProto(proto)
        for message in proto.message_type:
            _add_json_names(message, file.message_types_by_name[message.name])
        for extension in proto.extension:
            extension.json_name = file.extensions_by_name[extension.name].json_name
    api = out.file[-1]
    (service,) = api.service
    (method,) = service.method
    # google.api.http, registered by feedback_pb2's import (googleapis-common-protos ships no type information)
    http_rule: Any = descriptor_pool.Default().FindExtensionByName("google.api.http")
    method.options.Extensions[http_rule].post = http_path
    return out.SerializeToString()
