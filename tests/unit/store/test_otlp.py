"""Records and events as OTLP log records: the record's line as the body, stable attributes, no content, sent off
the request path over OTLP/gRPC, never raising."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import orjson
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

from tests.unit.store.conftest import make_traffic
from triage.config import TelemetryConfig
from triage.record import DecisionRecord
from triage.store.schema import Event
from triage.store.writer import OtlpLogSink, encode_logs
from triage.telemetry.recorder import record_line
from triage.telemetry.setup import store_log_sink


def decoded(requests: list[bytes]) -> list[Any]:
    out = []
    for data in requests:
        message = logs_service_pb2.ExportLogsServiceRequest()
        message.ParseFromString(data)
        out.append(message)
    return out


def log_records(requests: list[bytes]) -> list[Any]:
    return [lr for m in decoded(requests) for rl in m.resource_logs for sl in rl.scope_logs for lr in sl.log_records]


def attributes(log_record: Any) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in log_record.attributes}


def test_otlp_log_sink_sends_each_record_with_its_line_as_the_body() -> None:
    sent: list[bytes] = []
    sink = OtlpLogSink(sent.append, {"service.name": "triage", "triage.worker": 1})
    records, events = make_traffic(20)
    records[0].trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    for rec in records:
        sink.record(rec, record_line(rec))
    for ev in events:
        sink.event(ev)
    sink.close()
    [message] = decoded(sent)
    [resource_logs] = message.resource_logs
    assert {kv.key: kv.value for kv in resource_logs.resource.attributes}["triage.worker"].int_value == 1
    [scope_logs] = resource_logs.scope_logs
    assert scope_logs.scope.name == "triage.store"
    logs = list(scope_logs.log_records)
    assert len(logs) == len(records) + len(events)
    for item, log in zip([*records, *events], logs, strict=True):
        kind = "decision" if isinstance(item, DecisionRecord) else "event"
        assert attributes(log) == {"triage.kind": kind, "triage.decision_id": item.decision_id}
        assert log.event_name == f"triage.{kind}"
        assert log.time_unix_nano == item.time_unix_ms * 1_000_000
        assert log.observed_time_unix_nano > 0
        assert (log.severity_number, log.severity_text) == (9, "INFO")
        assert orjson.loads(log.body.string_value) == item.to_dict()
    assert logs[0].trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert logs[1].trace_id == b""
    assert (sink.sent, sink.dropped) == (len(logs), 0)


def test_otlp_log_sink_sends_nothing_before_a_flush() -> None:
    sent: list[bytes] = []
    sink = OtlpLogSink(sent.append)
    rec = DecisionRecord(decision_id="d1", time_unix_ms=1, endpoint="/v1/chat/completions")
    sink.record(rec, record_line(rec))
    time.sleep(0.05)
    assert sent == []
    sink.close()
    assert len(log_records(sent)) == 1


def test_otlp_log_sink_never_carries_more_than_the_record() -> None:
    """A record holds no prompt or completion text (ids, sizes, names, figures); the log record holds the record and
    two attributes, nothing else of the request."""
    sent: list[bytes] = []
    sink = OtlpLogSink(sent.append)
    rec = DecisionRecord(decision_id="d1", time_unix_ms=1, endpoint="/v1/chat/completions", input_tokens_estimate=9)
    sink.record(rec, record_line(rec))
    sink.event(Event("e1", "d1", 2, "feedback", "thumbs_down", 0.0))
    sink.close()
    decision, event = log_records(sent)
    assert decision.body.string_value.encode() + b"\n" == record_line(rec)
    assert set(attributes(decision)) == set(attributes(event)) == {"triage.kind", "triage.decision_id"}


def test_otlp_log_sink_retries_then_drops_and_counts_without_raising() -> None:
    calls: list[int] = []

    def down(_request: bytes) -> None:
        calls.append(1)
        raise ConnectionError("collector down")

    sink = OtlpLogSink(down, retries=3, backoff_s=0)
    records, _ = make_traffic(5)
    for rec in records:
        sink.record(rec, record_line(rec))
    sink.flush()
    sink.close()
    assert (len(calls), sink.sent, sink.dropped, sink.errors) == (3, 0, 5, 1)


def test_otlp_log_sink_drops_a_batch_when_too_many_records_wait() -> None:
    release = threading.Event()

    def slow(_request: bytes) -> None:
        release.wait(10)

    sink = OtlpLogSink(slow, max_pending=10)
    records, _ = make_traffic(30)
    for batch in (records[:8], records[8:16], records[16:18]):
        for rec in batch:
            sink.record(rec, record_line(rec))
        sink.flush()
    release.set()
    sink.close()
    assert (sink.sent, sink.dropped) == (10, 8)


def test_encode_logs_splits_requests_of_more_than_2_mb() -> None:
    from triage.store.writer import _Item

    line = b'{"decision_id": "' + b"x" * 100_000 + b'"}\n'
    items = [_Item("decision", 1, f"d{i}", None, line) for i in range(50)]
    requests = encode_logs(items, {"service.name": "triage"}, "0", 1)
    assert len(requests) == 3
    assert all(len(r) < 2.2 * 1024 * 1024 for r in requests)
    assert len(log_records(requests)) == 50


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.arrived = threading.Event()

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.requests.append(request.SerializeToString())
        self.arrived.set()
        return logs_service_pb2.ExportLogsServiceResponse()


@pytest.fixture
def collector() -> Iterator[tuple[_Logs, str]]:
    service = _Logs()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, f"http://127.0.0.1:{port}"
    server.stop(grace=None)


def test_store_log_sink_sends_to_a_collector_over_otlp_grpc(collector: tuple[_Logs, str]) -> None:
    service, endpoint = collector
    sink = store_log_sink(TelemetryConfig(otlp_endpoint=endpoint, service_name="triage-test"), worker=2)
    assert sink is not None
    records, _ = make_traffic(5)
    for rec in records:
        sink.record(rec, record_line(rec))
    sink.event(Event("e1", records[0].decision_id, 5, "feedback", "thumbs_up", 1.0))
    sink.close(timeout_s=30)
    logs = log_records(service.requests)
    assert len(logs) == 6
    assert attributes(logs[0])["triage.decision_id"] == records[0].decision_id
    [message] = decoded(service.requests)
    resource = {kv.key: kv.value for kv in message.resource_logs[0].resource.attributes}
    assert resource["service.name"].string_value == "triage-test"
    assert resource["triage.worker"].int_value == 2


def test_store_log_sink_needs_an_otlp_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert store_log_sink(TelemetryConfig()) is None
