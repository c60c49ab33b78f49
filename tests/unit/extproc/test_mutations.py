"""``mutations``: decisions → ext_proc ``ProcessingResponse`` messages."""

from __future__ import annotations

import json

import pytest
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from google.protobuf import json_format

from triage import contract as ct
from triage.extproc import mutations as mu

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
_Mode = processing_mode_pb2.ProcessingMode


def _set_headers(mutation: ep.HeaderMutation) -> dict[str, str]:
    return {h.header.key: h.header.raw_value.decode() for h in mutation.set_headers}


def test_route_sets_headers_with_raw_value_and_overwrite() -> None:
    reply = mu.route({ct.HEADER_ROUTE: "premium", ct.HEADER_DECISION_ID: "abc"}, None, {"triage": {"route": "premium"}})
    assert reply.WhichOneof("response") == "request_body"
    mutation = reply.request_body.response.header_mutation
    for option in mutation.set_headers:
        assert option.append_action == _OVERWRITE
        assert option.header.value == ""
        assert option.header.raw_value
    assert _set_headers(mutation) == {"x-triage-route": "premium", "x-triage-decision-id": "abc"}
    assert list(mutation.remove_headers) == []


def test_route_with_body_replaces_it_and_fixes_content_length() -> None:
    body = '{"model":"gpt-4o","messages":[{"role":"user","content":"héllo 世界"}]}'.encode()
    reply = mu.route({ct.HEADER_ROUTE: "premium"}, body, {"triage": {}})
    common = reply.request_body.response
    assert common.body_mutation.body == body
    headers = _set_headers(common.header_mutation)
    assert headers["content-length"] == str(len(body))
    assert int(headers["content-length"]) > len(body.decode())
    assert common.clear_route_cache is True


def test_route_without_body_leaves_the_body_and_length_alone() -> None:
    reply = mu.route({ct.HEADER_ROUTE: "economy"}, None, {"triage": {}})
    common = reply.request_body.response
    assert not common.HasField("body_mutation")
    assert "content-length" not in _set_headers(common.header_mutation)
    assert common.clear_route_cache is True


def test_route_leaves_dynamic_metadata_under_triage() -> None:
    summary = {"decision_id": "d1", "route": "premium", "p_strong": 0.73, "task": "code"}
    reply = mu.route({ct.HEADER_ROUTE: "premium"}, None, {ct.METADATA_NAMESPACE: summary})
    assert json_format.MessageToDict(reply.dynamic_metadata) == {"triage": summary}
    assert reply.dynamic_metadata.fields["triage"].struct_value.fields["route"].string_value == "premium"


def test_reject_builds_an_openai_style_immediate_response() -> None:
    reply = mu.reject(413, "invalid_request_error", "input_too_large", "Too big.", {ct.HEADER_DECISION_ID: "d9"})
    assert reply.WhichOneof("response") == "immediate_response"
    immediate = reply.immediate_response
    assert immediate.status.code == 413
    headers = _set_headers(immediate.headers)
    assert headers == {"content-type": "application/json", "x-triage-decision-id": "d9"}
    assert all(h.append_action == _OVERWRITE for h in immediate.headers.set_headers)
    assert json.loads(immediate.body) == {
        "error": {"message": "Too big.", "type": "invalid_request_error", "param": None, "code": "input_too_large"}
    }
    assert immediate.details == "triage_input_too_large"
    assert not reply.HasField("dynamic_metadata")


@pytest.mark.parametrize(
    ("status", "error_type", "code"),
    [
        (400, "invalid_request_error", "invalid_json"),
        (415, "invalid_request_error", "unsupported_media_type"),
        (429, "insufficient_quota", "cost_budget_exceeded"),
    ],
    ids=["400", "415", "429"],
)
def test_reject_status_and_error_fields(status: int, error_type: str, code: str) -> None:
    reply = mu.reject(status, error_type, code, "msg", {}, {"triage": {"reason": "budget"}})
    assert reply.immediate_response.status.code == status
    error = json.loads(reply.immediate_response.body)["error"]
    assert (error["type"], error["code"], error["message"]) == (error_type, code, "msg")
    assert json_format.MessageToDict(reply.dynamic_metadata) == {"triage": {"reason": "budget"}}


def test_error_body_is_json() -> None:
    assert json.loads(mu.error_body("t", "c", 'quote " and ünïcode')) == {
        "error": {"message": 'quote " and ünïcode', "type": "t", "param": None, "code": "c"}
    }


def test_pass_through_overrides_the_processing_mode() -> None:
    reply = mu.pass_through(["x-triage-route"])
    assert reply.WhichOneof("response") == "request_headers"
    assert reply.HasField("mode_override")
    mode = reply.mode_override
    assert mode.request_body_mode == _Mode.NONE
    assert mode.response_header_mode == _Mode.SKIP
    assert mode.response_body_mode == _Mode.NONE
    assert list(reply.request_headers.response.header_mutation.remove_headers) == ["x-triage-route"]


def test_request_headers_removes_client_copies_without_mode_override() -> None:
    reply = mu.request_headers(["x-triage-route", "x-triage-tier"])
    assert reply.WhichOneof("response") == "request_headers"
    assert not reply.HasField("mode_override")
    mutation = reply.request_headers.response.header_mutation
    assert list(mutation.remove_headers) == ["x-triage-route", "x-triage-tier"]
    assert list(mutation.set_headers) == []


def test_request_body_continue_is_an_empty_body_response() -> None:
    reply = mu.request_body_continue()
    assert reply.WhichOneof("response") == "request_body"
    assert not reply.request_body.HasField("response")


def test_response_headers_sets_headers() -> None:
    reply = mu.response_headers({ct.HEADER_DECISION_ID: "d1"})
    assert reply.WhichOneof("response") == "response_headers"
    assert _set_headers(reply.response_headers.response.header_mutation) == {"x-triage-decision-id": "d1"}


def test_response_body_without_replacement_forwards_unchanged() -> None:
    reply = mu.response_body()
    assert reply.WhichOneof("response") == "response_body"
    assert not reply.response_body.HasField("response")
    assert not reply.HasField("dynamic_metadata")


def test_response_body_replacement_uses_body() -> None:
    reply = mu.response_body(b"data: x\n\n")
    mutation = reply.response_body.response.body_mutation
    assert mutation.WhichOneof("mutation") == "body"
    assert mutation.body == b"data: x\n\n"


def test_response_body_empty_replacement_clears_the_body() -> None:
    mutation = mu.response_body(b"").response_body.response.body_mutation
    assert mutation.WhichOneof("mutation") == "clear_body"
    assert mutation.clear_body is True


def test_response_body_final_chunk_carries_metadata() -> None:
    outcome = {"input_tokens": 12, "output_tokens": 5, "cost_usd": 0.0001, "cluster": "medium"}
    reply = mu.response_body(None, {"triage": outcome})
    assert json_format.MessageToDict(reply.dynamic_metadata) == {"triage": outcome}


@pytest.mark.parametrize("kind", ["request_trailers", "response_trailers"])
def test_trailers_answers_unchanged(kind: str) -> None:
    reply = mu.trailers(kind)
    assert reply.WhichOneof("response") == kind
    assert not getattr(reply, kind).HasField("header_mutation")


# -- templates: a routing reply from its decision shape equals the reply built field by field ---------------------

_SHAPE_HEADERS = (
    (ct.HEADER_ROUTE, "premium"),
    (ct.HEADER_DECISION_ID, ""),
    (ct.HEADER_TIER, "pro"),
    (ct.HEADER_MAX_RETRIES, "1"),
    (ct.HEADER_TIMEOUT, "120000"),
)
_SUMMARY = (("route", "premium"), ("tier", "pro"), ("model_sent", "gpt-4o"))
_MODELS = (("large", "gpt-4o"), ("medium", "gpt-4o-mini"))


@pytest.mark.parametrize(
    ("body", "dynamic"),
    [
        (b'{"model":"gpt-4o","messages":[]}', {"decision_id": "d1", "reason": "classified", "p_strong": 0.71}),
        (None, {"decision_id": "d2", "reason": "skip_small"}),
        (b"{}", {"decision_id": "d3", "reason": "uncertain", "task": "code", "p_strong": 0.4, "strong_score": 0.6}),
    ],
    ids=["body-and-scores", "no-body-unclassified", "every-dynamic-field"],
)
def test_route_decision_equals_the_reply_built_field_by_field(
    body: bytes | None, dynamic: dict[str, str | float]
) -> None:
    decision_id = str(dynamic["decision_id"])
    expected = mu.route(
        {**dict(_SHAPE_HEADERS), ct.HEADER_DECISION_ID: decision_id},
        body,
        {
            ct.METADATA_NAMESPACE: {**dict(_SUMMARY), **dynamic, "models": dict(_MODELS)},
            ct.CHAIN_NAMESPACE: {"priority_groups": [{"name": "step0"}, {"name": "step1"}]},
        },
    )
    got = mu.route_decision(_SHAPE_HEADERS, decision_id, body, _SUMMARY, dynamic, _MODELS, (0, 1))
    assert _set_headers(got.request_body.response.header_mutation) == _set_headers(
        expected.request_body.response.header_mutation
    )
    assert json_format.MessageToDict(got) == json_format.MessageToDict(expected)


def test_route_decision_never_changes_its_template() -> None:
    first = mu.route_decision(_SHAPE_HEADERS, "one", b"{}", _SUMMARY, {"decision_id": "one"}, _MODELS, (0,))
    second = mu.route_decision(_SHAPE_HEADERS, "two", None, _SUMMARY, {"decision_id": "two"}, _MODELS, (0,))
    third = mu.route_decision(_SHAPE_HEADERS, "three", b"{}", _SUMMARY, {"decision_id": "three"}, _MODELS, (0,))
    assert _set_headers(first.request_body.response.header_mutation)[ct.HEADER_DECISION_ID] == "one"
    assert not second.request_body.response.HasField("body_mutation")
    assert _set_headers(third.request_body.response.header_mutation)[ct.HEADER_DECISION_ID] == "three"
    triage = json_format.MessageToDict(third.dynamic_metadata)[ct.METADATA_NAMESPACE]
    assert triage["decision_id"] == "three"


@pytest.mark.parametrize(
    ("replacement", "outcome"),
    [
        (None, {"input_tokens": 12, "cost_usd": 0.0001, "cluster": "small", "model_answered": "llama"}),
        (b"data: [DONE]\n\n", {"attempts": 2}),
        (b"", {}),
    ],
    ids=["unchanged-chunk", "rewritten-chunk", "cleared-chunk-no-outcome"],
)
def test_response_outcome_equals_the_generic_reply(replacement: bytes | None, outcome: dict[str, str | float]) -> None:
    expected = mu.response_body(replacement, {ct.METADATA_NAMESPACE: outcome} if outcome else None)
    got = mu.response_outcome(replacement, outcome)
    assert got.WhichOneof("response") == "response_body"
    assert json_format.MessageToDict(got) == json_format.MessageToDict(expected)
