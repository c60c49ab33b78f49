"""The feedback API's compiled code: current with ``proto/``, round-trips, and the descriptor set Envoy loads."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, json_format

from triage.feedback.contract import PROTO_HTTP_PATH, SERVICE, SUBMIT_PATH, descriptor_set
from triage.feedback.gen import feedback_pb2, feedback_pb2_grpc
from triage.feedback.gen.feedback_pb2 import FeedbackReply, FeedbackRequest

ROOT = Path(__file__).resolve().parents[3]
GEN = ROOT / "src" / "triage" / "feedback" / "gen"
PROTO = "triage/v1/feedback.proto"


def _compile(out: Path) -> None:
    """What ``make proto`` runs."""
    pytest.importorskip("grpc_tools")
    import google.api.annotations_pb2 as annotations

    googleapis = Path(annotations.__file__).parents[2]
    out.mkdir()
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{ROOT / 'proto'}",
        f"-I{googleapis}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        "--include_imports",
        f"--descriptor_set_out={out / 'feedback.binpb'}",
        str(ROOT / "proto" / PROTO),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def test_feedback_generated_code_is_current_with_the_proto(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    _compile(out)
    fresh = out / "triage" / "v1"
    for name in ("feedback_pb2.py", "feedback_pb2.pyi"):
        assert filecmp.cmp(fresh / name, GEN / name, shallow=False), f"{name} is stale: run make proto"
    grpc_module = (
        (fresh / "feedback_pb2_grpc.py").read_text().replace("from triage.v1 import", "from triage.feedback.gen import")
    )
    assert grpc_module == (GEN / "feedback_pb2_grpc.py").read_text(), "feedback_pb2_grpc.py is stale: run make proto"
    assert (out / "feedback.binpb").read_bytes() == (GEN / "feedback.binpb").read_bytes(), "run make proto"


def test_feedback_messages_round_trip_binary_and_json() -> None:
    request = FeedbackRequest(decision_id="ab" * 16, signal="score", score=0.25, idempotency_key="k-1")
    assert FeedbackRequest.FromString(request.SerializeToString()) == request
    parsed = json_format.Parse(
        '{"decision_id": "' + "ab" * 16 + '", "signal": "score", "score": 0.25, "idempotencyKey": "k-1"}',
        FeedbackRequest(),
    )
    assert parsed == request
    reply = FeedbackReply(event_id="cd" * 16, duplicate=True)
    assert FeedbackReply.FromString(reply.SerializeToString()) == reply
    assert json_format.MessageToDict(reply, preserving_proto_field_name=True) == {
        "event_id": "cd" * 16,
        "duplicate": True,
    }


def test_feedback_score_has_presence() -> None:
    assert not FeedbackRequest(signal="score").HasField("score")
    assert FeedbackRequest(signal="score", score=0.0).HasField("score")


def test_feedback_request_has_no_free_text_field() -> None:
    names = {f.name for f in FeedbackRequest.DESCRIPTOR.fields}
    assert names == {"decision_id", "signal", "score", "idempotency_key"}


def test_feedback_service_names() -> None:
    service = feedback_pb2.DESCRIPTOR.services_by_name["Feedback"]
    assert service.full_name == SERVICE
    assert f"/{service.full_name}/{service.methods_by_name['Submit'].name}" == SUBMIT_PATH
    assert hasattr(feedback_pb2_grpc, "FeedbackStub")


def _files(data: bytes) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    return {f.name: f for f in descriptor_pb2.FileDescriptorSet.FromString(data).file}


def test_descriptor_set_is_protocs_with_imports_dependencies_first() -> None:
    built = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set())
    names = [f.name for f in built.file]
    assert names[-1] == PROTO
    assert set(names) == {
        PROTO,
        "google/api/annotations.proto",
        "google/api/http.proto",
        "google/protobuf/descriptor.proto",
    }
    for i, file in enumerate(built.file):
        assert set(file.dependency) <= set(names[:i])
    checked_in = _files((GEN / "feedback.binpb").read_bytes())
    # The API as protoc compiled it (descriptor.proto is whichever version the protobuf runtime carries).
    for name in (PROTO, "google/api/annotations.proto", "google/api/http.proto"):
        assert _files(descriptor_set())[name] == checked_in[name]


def test_descriptor_set_carries_the_configured_http_path() -> None:
    from google.api import annotations_pb2

    def rule(data: bytes) -> tuple[str, str]:
        method = _files(data)[PROTO].service[0].method[0]
        http = method.options.Extensions[annotations_pb2.http]
        return http.post, http.body

    assert rule(descriptor_set()) == (PROTO_HTTP_PATH, "*")
    assert rule(descriptor_set("/api/feedback")) == ("/api/feedback", "*")
