"""The ``Processor`` driven message by message with real ext_proc protobufs, a fake classifier, a real
recorder writing to memory, and spans captured by the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from google.protobuf import json_format
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.unit.helpers import deep_merge
from triage.classifier.base import TASK_LABELS, Classifier, Scores
from triage.classifier.fake import FakeClassifier
from triage.config import parse_config
from triage.extproc import mutations as mu
from triage.extproc.processor import Processor
from triage.requests.input import RoutingInput
from triage.runtime import Runtime
from triage.runtime import build as build_runtime
from triage.telemetry.recorder import DecisionLog, Recorder

JWT_NAMESPACE = "envoy.filters.http.jwt_authn"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
SECRET = "zebra-unicorn-SECRET-7f3a"
_Mode = processing_mode_pb2.ProcessingMode

CONFIG: dict[str, Any] = {
    "clusters": {
        "small": {"address": "127.0.0.1:18001", "provider": "vllm"},
        "medium": {"address": "127.0.0.1:18002", "provider": "openai"},
        "large": {"address": "127.0.0.1:18003", "provider": "openai"},
    },
    "routes": {
        "economy": {
            "chain": [{"cluster": "small", "model": "llama-3.1-8b"}, {"cluster": "medium", "model": "gpt-4o-mini"}],
            "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.3},
        },
        "premium": {
            "chain": [
                {"cluster": "large", "model": "gpt-4o"},
                {
                    "cluster": "medium",
                    "model": "gpt-4o-mini",
                    "price": {"input_per_mtok": 0.6, "output_per_mtok": 2.4},
                },
            ],
            "price": {"input_per_mtok": 2.5, "output_per_mtok": 10.0},
        },
    },
    "default_route": "economy",
    "tier_source": {"metadata": {"namespace": JWT_NAMESPACE, "path": ["jwt_payload", "tier"]}},
    "default_tier": "free",
    "tiers": {
        "free": {"routes": ["economy", "premium"], "timeout_ms": 30000},
        "pro": {"routes": ["economy", "premium"], "timeout_ms": 120000},
        "open": {"routes": ["economy", "premium"]},
        "tiny": {"routes": ["economy", "premium"], "max_input_tokens": 10},
    },
    "policy": {
        "ladder": [{"route": "economy"}, {"route": "premium", "min_score": 0.5}],
        "task_bias": {},
        "deadline_ms": 2000,
    },
}


# -- telemetry and runtime fixtures ---------------------------------------------------------------


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """One in-memory exporter for the session: the global tracer provider can be set only once per process."""
    exporter = InMemorySpanExporter()
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):  # someone else installed the SDK first: listen in
        current.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    span_exporter.clear()
    yield span_exporter
    span_exporter.clear()


@dataclass
class Harness:
    runtime: Runtime
    log: io.StringIO

    def processor(self, metadata: Mapping[str, str] | None = None) -> Processor:
        return Processor(self.runtime, metadata or {})

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines()]

    def record(self) -> dict[str, Any]:
        records = self.records()
        assert len(records) == 1, records
        return records[0]


MakeHarness = Callable[..., Harness]


@pytest.fixture
def make_harness(spans: InMemorySpanExporter) -> Iterator[MakeHarness]:
    runtimes: list[Runtime] = []

    def make(model: Classifier | None = None, /, **overrides: Any) -> Harness:
        log = io.StringIO()
        runtime = build_runtime(
            parse_config(deep_merge(CONFIG, overrides)),
            model or FakeClassifier.returning("code", 0.9),
            Recorder(DecisionLog(log)),
        )
        runtimes.append(runtime)
        return Harness(runtime, log)

    yield make
    for runtime in runtimes:
        runtime.close()


@pytest.fixture
def harness(make_harness: MakeHarness) -> Harness:
    return make_harness()


class RaisingClassifier:
    """A classifier whose model is broken."""

    version = "raising-1"

    def score(self, inp: RoutingInput) -> Scores:
        raise RuntimeError("onnx session exploded")


class GatedClassifier:
    """A classifier that answers only once the gate opens: it misses any deadline while the gate is shut."""

    version = "gated-1"

    def __init__(self) -> None:
        self.gate = threading.Event()

    def score(self, inp: RoutingInput) -> Scores:
        self.gate.wait(timeout=30)
        return Scores(task_probs={label: 1.0 / len(TASK_LABELS) for label in TASK_LABELS}, p_strong=0.9)


@pytest.fixture
def gated() -> Iterator[GatedClassifier]:
    classifier = GatedClassifier()
    yield classifier
    classifier.gate.set()


# -- message builders -----------------------------------------------------------------------------


def request_headers(
    path: str = "/v1/chat/completions",
    *,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    end_of_stream: bool = False,
) -> ep.ProcessingRequest:
    values = {
        ":method": method,
        ":path": path,
        ":authority": "llm.local",
        ":scheme": "http",
        "content-type": "application/json",
        **(headers or {}),
    }
    header_map = base_pb2.HeaderMap(
        headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in values.items()]
    )
    message = ep.ProcessingRequest(request_headers=ep.HttpHeaders(headers=header_map, end_of_stream=end_of_stream))
    for namespace, struct in (metadata or {}).items():
        message.metadata_context.filter_metadata[namespace].update(struct)
    return message


def request_body(body: bytes, *, metadata: Mapping[str, Mapping[str, Any]] | None = None) -> ep.ProcessingRequest:
    message = ep.ProcessingRequest(request_body=ep.HttpBody(body=body, end_of_stream=True))
    for namespace, struct in (metadata or {}).items():
        message.metadata_context.filter_metadata[namespace].update(struct)
    return message


def response_headers(
    status: int = 200,
    content_type: str = "application/json",
    *,
    attempts: int | None = None,
    cluster: str | None = None,
    end_of_stream: bool = False,
) -> ep.ProcessingRequest:
    values = {":status": str(status), "content-type": content_type}
    if attempts is not None:
        values["x-envoy-attempt-count"] = str(attempts)
    header_map = base_pb2.HeaderMap(
        headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in values.items()]
    )
    message = ep.ProcessingRequest(response_headers=ep.HttpHeaders(headers=header_map, end_of_stream=end_of_stream))
    if cluster is not None:
        message.attributes["envoy.filters.http.ext_proc"].update({"xds.cluster_name": cluster})
    return message


def response_body(chunk: bytes, *, end_of_stream: bool = False) -> ep.ProcessingRequest:
    return ep.ProcessingRequest(response_body=ep.HttpBody(body=chunk, end_of_stream=end_of_stream))


def tier_claims(tier: Any) -> dict[str, dict[str, Any]]:
    return {JWT_NAMESPACE: {"jwt_payload": {"tier": tier, "sub": "user-1"}}}


def chat(text: str = f"Fix the bug in this python code: {SECRET}", **extra: Any) -> bytes:
    return json.dumps({"model": "auto", "messages": [{"role": "user", "content": text}], **extra}).encode()


def set_headers(mutation: ep.HeaderMutation) -> dict[str, str]:
    return {h.header.key: h.header.raw_value.decode() for h in mutation.set_headers}


def sse(doc: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


def _chunk(content: str | None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": content} if content is not None else {}
    return {
        "id": "c1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


USAGE_EVENT = sse(
    {
        "id": "c1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5},
    }
)
STREAM_CHUNKS = [sse(_chunk("Hello")), sse(_chunk(" there", "stop")), USAGE_EVENT, b"data: [DONE]\n\n"]
JSON_RESPONSE = json.dumps(
    {
        "id": "chatcmpl-7",
        "model": "llama-3.1-8b",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20},
    }
).encode()


async def route_request(
    processor: Processor, body: bytes | None = None, metadata: Mapping[str, Mapping[str, Any]] | None = None
) -> ep.ProcessingResponse:
    """Send request headers and body; return the reply to the body."""
    first = await processor.process(request_headers(metadata=metadata, headers={"x-request-id": "req-1"}))
    assert first.WhichOneof("response") == "request_headers"
    return await processor.process(request_body(chat() if body is None else body))


def routed(reply: ep.ProcessingResponse) -> tuple[dict[str, str], dict[str, Any] | None, dict[str, Any]]:
    """The headers, the new body (decoded, or None) and the dynamic metadata of a routing reply."""
    assert reply.WhichOneof("response") == "request_body", reply
    common = reply.request_body.response
    assert common.clear_route_cache
    body = json.loads(common.body_mutation.body) if common.HasField("body_mutation") else None
    return set_headers(common.header_mutation), body, json_format.MessageToDict(reply.dynamic_metadata)


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    finished = exporter.get_finished_spans()
    assert len(finished) == 1, finished
    return finished[0]


# -- request headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/models"), ("POST", "/v1/embeddings"), ("GET", "/v1/chat/completions"), ("POST", "/healthz")],
    ids=["models", "embeddings", "chat-get", "unknown-path"],
)
async def test_processor_pass_through_path_gets_mode_override(
    harness: Harness, spans: InMemorySpanExporter, method: str, path: str
) -> None:
    processor = harness.processor()
    reply = await processor.process(request_headers(path, method=method, headers={"x-triage-route": "premium"}))
    assert reply.WhichOneof("response") == "request_headers"
    mode = reply.mode_override
    assert (mode.request_body_mode, mode.response_header_mode, mode.response_body_mode) == (
        _Mode.NONE,
        _Mode.SKIP,
        _Mode.NONE,
    )
    assert list(reply.request_headers.response.header_mutation.remove_headers) == ["x-triage-route"]
    processor.close()
    assert harness.records() == []
    assert spans.get_finished_spans() == ()


async def test_processor_pass_through_ignores_later_phases(harness: Harness) -> None:
    processor = harness.processor()
    await processor.process(request_headers("/v1/models", method="GET"))
    assert (await processor.process(request_body(b"{}"))).request_body == ep.BodyResponse()
    assert (await processor.process(response_headers())).WhichOneof("response") == "response_headers"
    assert (await processor.process(response_body(b"x", end_of_stream=True))).WhichOneof("response") == "response_body"


async def test_processor_removes_client_triage_headers(harness: Harness) -> None:
    client = {"x-triage-route": "premium", "x-triage-tier": "pro", "x-triage-decision-id": "mine", "x-triage-x": "1"}
    reply = await harness.processor().process(request_headers(headers=client))
    assert reply.WhichOneof("response") == "request_headers"
    assert not reply.HasField("mode_override")
    mutation = reply.request_headers.response.header_mutation
    assert sorted(mutation.remove_headers) == sorted(client)
    assert list(mutation.set_headers) == []


async def test_processor_removes_client_timeout_header(harness: Harness) -> None:
    reply = await harness.processor().process(request_headers(headers={"x-envoy-upstream-rq-timeout-ms": "999999"}))
    assert "x-envoy-upstream-rq-timeout-ms" in reply.request_headers.response.header_mutation.remove_headers


async def test_processor_post_without_body_is_rejected(harness: Harness) -> None:
    processor = harness.processor()
    reply = await processor.process(request_headers(end_of_stream=True))
    assert reply.WhichOneof("response") == "immediate_response"
    assert reply.immediate_response.status.code == 400
    assert json.loads(reply.immediate_response.body)["error"]["code"] == "empty_body"
    assert harness.record()["error_code"] == "empty_body"


# -- request body: routing ------------------------------------------------------------------------


async def test_processor_routes_a_chat_body(harness: Harness) -> None:
    processor = harness.processor()
    headers, body, metadata = routed(await route_request(processor))
    decision_id = headers["x-triage-decision-id"]
    assert len(decision_id) == 32
    assert headers == {
        "x-triage-route": "premium",
        "x-triage-decision-id": decision_id,
        "x-triage-tier": "free",
        "x-envoy-upstream-rq-timeout-ms": "30000",
        "x-envoy-upstream-rq-per-try-timeout-ms": "15000",  # half the budget per step: a hung one fails over
        "x-envoy-max-retries": "1",  # the premium chain has two steps
        "content-length": headers["content-length"],
    }
    assert body is not None
    assert body["model"] == "gpt-4o"
    assert next(iter(body)) == "model"  # first key: Envoy's per-attempt filter rewrites the first one
    assert body["messages"][0]["content"].endswith(SECRET)
    assert "stream_options" not in body
    assert int(headers["content-length"]) == len(json.dumps(body, separators=(",", ":")).encode())
    assert metadata == {
        "triage": {
            "decision_id": decision_id,
            "route": "premium",
            "reason": "classified",
            "tier": "free",
            "task": "code",
            "p_strong": 0.9,
            "strong_score": 0.9,
            "model_sent": "gpt-4o",
            "models": {"large": "gpt-4o", "medium": "gpt-4o-mini"},
        },
        # This request's chain for the priority-group cluster specifier, in the route's step names.
        "triage.chain": {"priority_groups": [{"name": "step0"}, {"name": "step1"}]},
    }


async def test_processor_routes_an_easy_request_to_the_first_step(make_harness: MakeHarness) -> None:
    harness = make_harness(FakeClassifier.returning("open_qa", 0.1))
    headers, body, _ = routed(await route_request(harness.processor(), chat("What is the capital of France?")))
    assert headers["x-triage-route"] == "economy"
    assert body is not None
    assert body["model"] == "llama-3.1-8b"


async def test_processor_streaming_chat_asks_for_usage(harness: Harness) -> None:
    _, body, _ = routed(await route_request(harness.processor(), chat(stream=True)))
    assert body is not None
    assert body["stream_options"] == {"include_usage": True}


async def test_processor_streaming_chat_keeps_the_client_usage_choice(harness: Harness) -> None:
    _, body, _ = routed(
        await route_request(harness.processor(), chat(stream=True, stream_options={"include_usage": False}))
    )
    assert body is not None
    assert body["stream_options"] == {"include_usage": False}


async def test_processor_unchanged_body_is_not_replaced(harness: Harness) -> None:
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "refactor this code"}]}).encode()
    headers, new_body, _ = routed(await route_request(harness.processor(), body))
    assert new_body is None
    assert "content-length" not in headers
    assert headers["x-triage-route"] == "premium"


async def test_processor_tier_without_timeout_sets_no_timeout_header(harness: Harness) -> None:
    headers, _, _ = routed(await route_request(harness.processor(), metadata=tier_claims("open")))
    assert headers["x-triage-tier"] == "open"
    assert "x-envoy-upstream-rq-timeout-ms" not in headers


# -- request body: failing open -------------------------------------------------------------------


async def test_processor_classifier_error_fails_open_to_default_route(
    make_harness: MakeHarness, spans: InMemorySpanExporter
) -> None:
    harness = make_harness(RaisingClassifier())
    processor = harness.processor()
    headers, body, metadata = routed(await route_request(processor))
    assert headers["x-triage-route"] == "economy"
    assert body is not None
    assert body["model"] == "llama-3.1-8b"
    assert metadata["triage"]["reason"] == "error"
    processor.close()
    record = harness.record()
    assert (record["route"], record["reason"], record["error_code"]) == ("economy", "error", "error")
    assert "p_strong" not in record
    span = only_span(spans)
    assert span.attributes is not None
    assert span.attributes["triage.reason"] == "error"


async def test_processor_classifier_past_deadline_fails_open(make_harness: MakeHarness, gated: GatedClassifier) -> None:
    harness = make_harness(gated, policy={"deadline_ms": 1})
    processor = harness.processor()
    headers, body, metadata = routed(await route_request(processor))
    gated.gate.set()
    harness.runtime.close()  # waits for the worker: its late answer is dropped
    assert headers["x-triage-route"] == "economy"
    assert body is not None
    assert body["model"] == "llama-3.1-8b"
    assert metadata["triage"]["reason"] == "deadline"
    processor.close()
    record = harness.record()
    assert (record["route"], record["reason"], record["error_code"]) == ("economy", "deadline", "deadline")


async def test_processor_fail_open_uses_the_tier_first_route_when_default_not_allowed(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(
        RaisingClassifier(),
        routes={"standard": {"chain": [{"cluster": "medium", "model": "gpt-4o-mini"}]}},
        tiers={"nodefault": {"routes": ["standard", "premium"]}},
    )
    headers, body, metadata = routed(await route_request(harness.processor(), metadata=tier_claims("nodefault")))
    assert headers["x-triage-route"] == "standard"
    assert body is not None
    assert body["model"] == "gpt-4o-mini"
    assert metadata["triage"]["reason"] == "error"


# -- request body: rejections ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"model": "auto", "messages": [', "application/json", 400, "invalid_json"),
        (b'{"model": "auto"}', "application/json", 400, "invalid_messages"),
        (b"[1, 2]", "application/json", 400, "invalid_request"),
        (b"   ", "application/json", 400, "empty_body"),
        (b"\xff\xfe\xfd", "application/json", 400, "invalid_encoding"),
        (b"hello there", "text/plain", 415, "unsupported_media_type"),
        (chat("hi \ud800", max_tokens=100000), "application/json", 400, "invalid_encoding"),
        (chat("hi").replace(b"hi", b"hi \xed\xa0\x80"), "application/json", 400, "invalid_encoding"),
        (chat("hi").decode().encode("utf-16"), "application/json", 400, "invalid_encoding"),
        (chat("hi").replace(b'"model"', b'"max_tokens": 1e400, "model"'), "application/json", 400, "invalid_json"),
    ],
    ids=[
        "malformed-json",
        "no-messages",
        "not-an-object",
        "whitespace",
        "not-utf8",
        "not-json-415",
        "escaped-lone-surrogate",
        "raw-lone-surrogate",
        "utf16-with-bom",
        "number-out-of-range",
    ],
)
async def test_processor_bad_body_gets_an_immediate_error(
    harness: Harness, spans: InMemorySpanExporter, body: bytes, content_type: str, status: int, code: str
) -> None:
    processor = harness.processor()
    await processor.process(request_headers(headers={"content-type": content_type}))
    reply = await processor.process(request_body(body))
    assert reply.WhichOneof("response") == "immediate_response"
    immediate = reply.immediate_response
    assert immediate.status.code == status
    error = json.loads(immediate.body)["error"]
    assert (error["code"], error["type"]) == (code, "invalid_request_error")
    headers = set_headers(immediate.headers)
    assert headers["content-type"] == "application/json"
    record = harness.record()
    assert headers["x-triage-decision-id"] == record["decision_id"]
    assert (record["status"], record["error_code"]) == (status, code)
    span = only_span(spans)
    assert span.status.status_code == StatusCode.ERROR
    processor.close()
    assert len(harness.records()) == 1


async def test_processor_a_fault_after_parsing_never_forwards_the_clients_body(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triage.extproc import processor as processor_module

    harness = make_harness(tiers={"free": {"routes": ["economy", "premium"], "max_output_tokens": 1024}})
    real = processor_module.rewrite_body
    calls = {"n": 0}

    def fails_once(*args: Any, **kwargs: Any) -> bytes | None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("rewrite exploded")
        return real(*args, **kwargs)

    monkeypatch.setattr(processor_module, "rewrite_body", fails_once)
    processor = harness.processor()
    await processor.process(request_headers())
    headers, body, _ = routed(await processor.process(request_body(chat(max_tokens=100000))))
    assert headers["x-triage-route"] == "economy"  # the default route ...
    assert body is not None
    assert body["model"] == "llama-3.1-8b"  # ... with its own model, not the client's
    assert body["max_tokens"] == 1024  # ... and the tier's cap
    processor.close()
    record = harness.record()
    assert (record["route"], record["reason"]) == ("economy", "error")


async def test_processor_when_no_safe_body_can_be_built_the_client_gets_a_500_and_no_provider_is_called(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triage.extproc import processor as processor_module

    def always_fails(*args: Any, **kwargs: Any) -> bytes | None:
        raise RuntimeError("rewrite exploded")

    monkeypatch.setattr(processor_module, "rewrite_body", always_fails)
    harness = make_harness()
    processor = harness.processor()
    await processor.process(request_headers())
    reply = await processor.process(request_body(chat(max_tokens=100000)))
    assert reply.WhichOneof("response") == "immediate_response"
    assert reply.immediate_response.status.code == 500
    assert json.loads(reply.immediate_response.body)["error"]["code"] == "internal_error"
    processor.close()
    record = harness.records()[-1]
    assert record["status"] == 500


async def test_processor_json_body_with_wrong_content_type_is_routed(harness: Harness) -> None:
    processor = harness.processor()
    await processor.process(request_headers(headers={"content-type": "text/plain"}))
    headers, _, _ = routed(await processor.process(request_body(chat())))
    assert headers["x-triage-route"] == "premium"


async def test_processor_over_budget_request_is_rejected(harness: Harness) -> None:
    reply = await route_request(harness.processor(), chat("x" * 200), metadata=tier_claims("tiny"))
    assert reply.immediate_response.status.code == 413
    assert json.loads(reply.immediate_response.body)["error"]["code"] == "input_too_large"
    record = harness.record()
    assert (record["tier"], record["status"], record["error_code"]) == ("tiny", 413, "input_too_large")
    assert "route" not in record


async def test_processor_over_budget_record_reason_is_budget(harness: Harness) -> None:
    await route_request(harness.processor(), chat("x" * 200), metadata=tier_claims("tiny"))
    assert harness.record()["reason"] == "budget"


# -- the tier -------------------------------------------------------------------------------------


async def test_processor_tier_from_trusted_metadata(harness: Harness) -> None:
    headers, _, _ = routed(await route_request(harness.processor(), metadata=tier_claims("pro")))
    assert headers["x-triage-tier"] == "pro"
    assert headers["x-envoy-upstream-rq-timeout-ms"] == "120000"


async def test_processor_tier_never_from_a_client_header(harness: Harness) -> None:
    processor = harness.processor()
    await processor.process(request_headers(headers={"x-triage-tier": "pro", "tier": "pro"}))
    headers, _, _ = routed(await processor.process(request_body(chat())))
    assert headers["x-triage-tier"] == "free"


async def test_processor_tier_from_metadata_on_the_body_message(harness: Harness) -> None:
    processor = harness.processor()
    await processor.process(request_headers())
    headers, _, _ = routed(await processor.process(request_body(chat(), metadata=tier_claims("pro"))))
    assert headers["x-triage-tier"] == "pro"


@pytest.mark.parametrize(
    "metadata",
    [
        tier_claims("platinum"),
        {JWT_NAMESPACE: {"jwt_payload": {"sub": "user-1"}}},
        {JWT_NAMESPACE: {"other_key": {"tier": "pro"}}},
        {"some.other.filter": {"jwt_payload": {"tier": "pro"}}},
        tier_claims(True),
    ],
    ids=["unknown-tier", "no-claim", "other-payload-key", "other-namespace", "bool-claim"],
)
async def test_processor_tier_falls_back_to_default(harness: Harness, metadata: dict[str, Any]) -> None:
    headers, _, _ = routed(await route_request(harness.processor(), metadata=metadata))
    assert headers["x-triage-tier"] == "free"


async def test_processor_tier_path_through_a_scalar_is_not_found(harness: Harness) -> None:
    headers, _, _ = routed(await route_request(harness.processor(), metadata={JWT_NAMESPACE: {"jwt_payload": "pro"}}))
    assert headers["x-triage-tier"] == "free"


async def test_processor_tier_from_a_configured_trusted_header(make_harness: MakeHarness) -> None:
    harness = make_harness(tier_source={"header": {"name": "x-verified-tier"}, "metadata": None})
    processor = harness.processor()
    await processor.process(request_headers(headers={"x-verified-tier": "pro"}, metadata=tier_claims("open")))
    headers, _, _ = routed(await processor.process(request_body(chat())))
    assert headers["x-triage-tier"] == "pro"


# -- the response ---------------------------------------------------------------------------------


async def test_processor_response_headers_add_the_decision_id(harness: Harness) -> None:
    processor = harness.processor()
    headers, _, _ = routed(await route_request(processor))
    reply = await processor.process(response_headers(cluster="large", attempts=1))
    assert reply.WhichOneof("response") == "response_headers"
    assert set_headers(reply.response_headers.response.header_mutation) == {
        "x-triage-decision-id": headers["x-triage-decision-id"],
        "x-triage-route": "premium",
    }


async def test_processor_streamed_response_completes_the_record(harness: Harness, spans: InMemorySpanExporter) -> None:
    processor = harness.processor()
    headers, _, _ = routed(await route_request(processor, chat(stream=True)))
    await processor.process(response_headers(200, "text/event-stream", attempts=2, cluster="medium"))
    forwarded = bytearray()
    replies = []
    for chunk in STREAM_CHUNKS[:-1]:
        reply = await processor.process(response_body(chunk))
        assert reply.WhichOneof("response") == "response_body"
        assert not reply.HasField("dynamic_metadata")
        assert harness.records() == []
        replies.append(reply)
    final = await processor.process(response_body(STREAM_CHUNKS[-1], end_of_stream=True))
    replies.append(final)
    for chunk, reply in zip(STREAM_CHUNKS, replies, strict=True):
        common = reply.response_body.response
        forwarded += common.body_mutation.body if common.HasField("body_mutation") else chunk
    assert b'"usage"' not in forwarded  # Triage asked for it, so Triage hides it
    assert forwarded == b"".join(STREAM_CHUNKS).replace(USAGE_EVENT, b"\n")

    cost = round((12 * 0.6 + 5 * 2.4) / 1e6, 8)
    assert json_format.MessageToDict(final.dynamic_metadata) == {
        "triage": {
            "input_tokens": 12.0,
            "output_tokens": 5.0,
            "cost_usd": cost,
            "cluster": "medium",
            "model_answered": "gpt-4o-mini",  # the fallback's own model
            "attempts": 2.0,
        }
    }
    record = harness.record()
    assert record["decision_id"] == headers["x-triage-decision-id"]
    assert record["request_id"] == "req-1"
    expected = {
        "endpoint": "openai.chat",
        "tier": "free",
        "route": "premium",
        "reason": "classified",
        "chain": ["large/gpt-4o", "medium/gpt-4o-mini"],
        "model_requested": "auto",
        "model_sent": "gpt-4o",
        "task": "code",
        "stream": True,
        "status": 200,
        "cluster": "medium",
        "provider": "openai",
        "attempts": 2,
        "input_tokens": 12,
        "output_tokens": 5,
        "cost_usd": cost,
        "response_model": "gpt-4o-mini-2024-07-18",
        "streamed": True,
        "completed": True,
        "aborted": False,
        "classifier_version": "fake-1",
    }
    assert {k: record.get(k) for k in expected} == expected
    assert record["duration_ms"] >= 0
    assert record["router_latency_us"] >= 0
    assert only_span(spans).status.status_code == StatusCode.UNSET


async def test_processor_json_response_in_one_chunk(make_harness: MakeHarness) -> None:
    harness = make_harness(FakeClassifier.returning("open_qa", 0.1))
    processor = harness.processor()
    routed(await route_request(processor, chat("hello")))
    await processor.process(response_headers(200, "application/json", attempts=1, cluster="small"))
    final = await processor.process(response_body(JSON_RESPONSE, end_of_stream=True))
    assert not final.response_body.HasField("response")
    cost = round((100 * 0.1 + 20 * 0.3) / 1e6, 8)
    assert json_format.MessageToDict(final.dynamic_metadata)["triage"]["cost_usd"] == cost
    record = harness.record()
    expected = {"status": 200, "cluster": "small", "provider": "vllm", "attempts": 1, "input_tokens": 100}
    assert {k: record.get(k) for k in expected} == expected
    assert (record["streamed"], record["completed"], record["aborted"]) == (False, True, False)


async def test_processor_response_without_body_completes_at_headers(harness: Harness) -> None:
    processor = harness.processor()
    routed(await route_request(processor))
    await processor.process(response_headers(503, attempts=3, cluster="medium", end_of_stream=True))
    record = harness.record()
    assert (record["status"], record["attempts"]) == (503, 3)
    assert "input_tokens" not in record
    processor.close()
    assert len(harness.records()) == 1


async def test_processor_close_before_the_response_marks_aborted(harness: Harness, spans: InMemorySpanExporter) -> None:
    processor = harness.processor()
    routed(await route_request(processor))
    assert harness.records() == []
    processor.close()
    record = harness.record()
    assert record["aborted"] is True
    assert "status" not in record
    span = only_span(spans)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "aborted"
    processor.close()
    assert len(harness.records()) == 1


async def test_processor_close_mid_stream_marks_aborted_with_usage_so_far(harness: Harness) -> None:
    processor = harness.processor()
    routed(await route_request(processor, chat(stream=True)))
    await processor.process(response_headers(200, "text/event-stream", cluster="large"))
    await processor.process(response_body(STREAM_CHUNKS[0]))
    processor.close()
    record = harness.record()
    assert (record["aborted"], record["status"], record["streamed"], record["completed"]) == (True, 200, True, False)


async def test_processor_stream_without_done_is_aborted(harness: Harness) -> None:
    processor = harness.processor()
    routed(await route_request(processor, chat(stream=True)))
    await processor.process(response_headers(200, "text/event-stream", cluster="large"))
    await processor.process(response_body(b"".join(STREAM_CHUNKS[:-1]), end_of_stream=True))
    record = harness.record()
    assert (record["completed"], record["aborted"], record["output_tokens"]) == (False, True, 5)


async def test_processor_hides_injected_usage_when_client_sent_other_stream_options(harness: Harness) -> None:
    processor = harness.processor()
    _, body, _ = routed(await route_request(processor, chat(stream=True, stream_options={})))
    assert body is not None
    assert body["stream_options"] == {"include_usage": True}
    await processor.process(response_headers(200, "text/event-stream", cluster="large"))
    reply = await processor.process(response_body(USAGE_EVENT))
    assert reply.response_body.HasField("response"), "the usage event was forwarded to the client"
    assert reply.response_body.response.body_mutation.body == b"\n"


async def test_processor_client_asking_for_usage_sees_it(harness: Harness) -> None:
    processor = harness.processor()
    routed(await route_request(processor, chat(stream=True, stream_options={"include_usage": True})))
    await processor.process(response_headers(200, "text/event-stream", cluster="large"))
    reply = await processor.process(response_body(USAGE_EVENT))
    assert not reply.response_body.HasField("response")


@pytest.mark.parametrize("kind", ["request_trailers", "response_trailers"])
async def test_processor_answers_trailers(harness: Harness, kind: str) -> None:
    message = ep.ProcessingRequest(**{kind: ep.HttpTrailers()})
    assert (await harness.processor().process(message)).WhichOneof("response") == kind


# -- the span -------------------------------------------------------------------------------------


async def test_processor_span_has_decision_attributes_and_parent(harness: Harness, spans: InMemorySpanExporter) -> None:
    processor = harness.processor({"traceparent": TRACEPARENT})
    headers, _, _ = routed(await route_request(processor))
    await processor.process(response_headers(200, cluster="large", attempts=1))
    await processor.process(response_body(JSON_RESPONSE, end_of_stream=True))
    span = only_span(spans)
    assert span.context is not None
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert harness.record()["trace_id"] == TRACE_ID
    attrs = dict(span.attributes or {})
    expected = {
        "triage.decision.id": headers["x-triage-decision-id"],
        "triage.route": "premium",
        "triage.reason": "classified",
        "triage.tier": "free",
        "triage.task": "code",
        "triage.endpoint": "openai.chat",
        "gen_ai.request.model": "gpt-4o",
        "triage.model.requested": "auto",
        "triage.upstream.cluster": "large",
        "http.response.status_code": 200,
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 20,
        "url.path": "/v1/chat/completions",
        "gen_ai.operation.name": "chat",
    }
    assert {k: attrs.get(k) for k in expected} == expected
    assert tuple(attrs["triage.chain"]) == ("large/gpt-4o", "medium/gpt-4o-mini")  # type: ignore[arg-type]


async def test_processor_span_without_traceparent_is_a_root(harness: Harness, spans: InMemorySpanExporter) -> None:
    processor = harness.processor()
    routed(await route_request(processor))
    processor.close()
    span = only_span(spans)
    assert span.parent is None
    assert span.context is not None
    assert harness.record()["trace_id"] == format(span.context.trace_id, "032x")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_processor_never_exports_prompt_text(harness: Harness, spans: InMemorySpanExporter, stream: bool) -> None:
    processor = harness.processor({"traceparent": TRACEPARENT})
    system = {"role": "system", "content": f"system {SECRET}"}
    body = json.dumps({"model": "auto", "stream": stream, "messages": [system, {"role": "user", "content": SECRET}]})
    routed(await route_request(processor, body.encode()))
    completion = f"completion {SECRET}"
    if stream:
        await processor.process(response_headers(200, "text/event-stream", cluster="large"))
        await processor.process(response_body(sse(_chunk(completion)) + b"data: [DONE]\n\n", end_of_stream=True))
    else:
        doc = {"choices": [{"message": {"content": completion}, "finish_reason": "stop"}], "usage": {}}
        await processor.process(response_headers(200, cluster="large"))
        await processor.process(response_body(json.dumps(doc).encode(), end_of_stream=True))
    span = only_span(spans)
    exported = [span.name, *map(str, (span.attributes or {}).values())]
    for event in span.events:
        exported += [event.name, *map(str, (event.attributes or {}).values())]
    assert exported
    assert not [value for value in exported if "zebra-unicorn" in value]
    assert "zebra-unicorn" not in harness.log.getvalue()


async def test_processor_span_parents_on_the_client_traceparent_without_envoy_tracing(
    harness: Harness, spans: InMemorySpanExporter
) -> None:
    processor = harness.processor()  # no trace context in the gRPC metadata: Envoy is not tracing
    await processor.process(request_headers(headers={"traceparent": TRACEPARENT}))
    await processor.process(request_body(chat("hello")))
    processor.close()
    span = only_span(spans)
    assert span.context is not None
    assert format(span.context.trace_id, "032x") == TRACE_ID


async def test_processor_reads_the_outcome_from_body_attributes_when_headers_are_skipped(harness: Harness) -> None:
    # The generated Envoy config skips response headers: attributes come with the first body chunk.
    processor = harness.processor()
    routed(await route_request(processor))
    first = response_body(JSON_RESPONSE, end_of_stream=True)
    first.attributes["envoy.filters.http.ext_proc"].update(
        {"xds.cluster_name": "medium", "response.code": 200, "upstream.request_attempt_count": 2}
    )
    reply = await processor.process(first)
    assert reply.WhichOneof("response") == "response_body"
    record = harness.record()
    assert (record["status"], record["cluster"], record["attempts"]) == (200, "medium", 2)
    assert record["streamed"] is False
    assert record["input_tokens"] == 100
    assert record["aborted"] is False


async def test_processor_inline_inference_routes_without_the_worker_thread(make_harness: MakeHarness) -> None:
    harness = make_harness(classifier={"inference": "inline"})
    processor = harness.processor()
    headers, _, _ = routed(await route_request(processor))
    assert headers["x-triage-route"] == "premium"
    processor.close()
    assert harness.record()["reason"] == "classified"


async def test_processor_inline_inference_failure_fails_open(make_harness: MakeHarness) -> None:
    class Broken(FakeClassifier):
        def score(self, inp: RoutingInput) -> Scores:
            raise RuntimeError("model crashed")

    harness = make_harness(Broken(), classifier={"inference": "inline"})
    processor = harness.processor()
    headers, _, _ = routed(await route_request(processor))
    assert headers["x-triage-route"] == "economy"
    processor.close()
    assert harness.record()["reason"] == "error"


async def test_processor_a_reply_after_envoys_message_timeout_is_recorded_as_envoys_fail_open(
    make_harness: MakeHarness, gated: GatedClassifier
) -> None:
    harness = make_harness(gated, policy={"deadline_ms": 5000}, envoy={"message_timeout_ms": 50})
    processor = harness.processor()
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, gated.gate.set)  # the classifier answers within its deadline, after Envoy's timeout
    routed(await route_request(processor))
    processor.close()  # Envoy never sends the response phase: it stopped talking to Triage
    record = harness.record()
    assert (record["route"], record["reason"], record["error_code"]) == (
        "economy",
        "message_timeout",
        "message_timeout",
    )
    assert "model_sent" not in record
    assert record["aborted"] is False


async def test_processor_fail_open_after_a_rewrite_still_sends_the_rewritten_body(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault after the body was rewritten: the default route's decision is applied with the rewritten document,
    never the client's original bytes (its model, its uncapped max_tokens), even when the rewrite has nothing new."""
    harness = make_harness(FakeClassifier.returning("code", 0.1), tiers={"free": {"max_output_tokens": 64}})
    original = mu.route_decision
    calls = 0

    def fails_once(*args: Any, **kwargs: Any) -> ep.ProcessingResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("reply building failed")
        return original(*args, **kwargs)

    monkeypatch.setattr(mu, "route_decision", fails_once)
    processor = harness.processor()
    headers, body, metadata = routed(await route_request(processor, chat(max_tokens=4096)))
    assert calls == 2
    assert headers["x-triage-route"] == "economy"
    assert metadata["triage"]["reason"] == "error"
    assert body is not None
    assert (body["model"], body["max_tokens"]) == ("llama-3.1-8b", 64)
