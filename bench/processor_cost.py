"""CPU time of Triage's ext_proc ``Processor`` per phase, without Envoy or gRPC (one pinned core).

``envoy_overhead.py`` measures what Triage adds end to end; this one says where Triage's own share goes.
It drives the real ``Processor`` (the configured classifier, the real inference thread, telemetry as
configured: API no-ops unless an OTLP endpoint is set, a decision log in a temp file) with the messages
Envoy sends for one request: request headers, a 1 KB chat body (8 prompts in turn), response headers, and
a JSON response body with usage. Prints the median and p90 per phase::

    processor_cost phase=request_body p50_us=480 p90_us=800

Usage: ``python bench/processor_cost.py [--n 3000] [--fake]`` (``--fake``: the keyword FakeClassifier
instead of the shipped ONNX bundle, to separate the classifier from the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from google.protobuf import struct_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from envoy_overhead import make_bodies

PHASES = ("request_headers", "request_body", "response_headers", "response_body", "total")


def _headers(pairs: list[tuple[str, str]]) -> ep.HttpHeaders:
    values = [base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs]
    return ep.HttpHeaders(headers=base_pb2.HeaderMap(headers=values))


def messages() -> tuple[ep.ProcessingRequest, list[ep.ProcessingRequest], ep.ProcessingRequest, ep.ProcessingRequest]:
    request_headers = ep.ProcessingRequest(
        request_headers=_headers(
            [
                (":authority", "127.0.0.1:10000"),
                (":path", "/v1/chat/completions"),
                (":method", "POST"),
                (":scheme", "http"),
                ("content-type", "application/json"),
                ("accept", "application/json"),
                ("content-length", "1024"),
                ("x-forwarded-proto", "http"),
                ("x-request-id", "7d0f4a4e-8c8e-4b7c-9a0e-1a2b3c4d5e6f"),
            ]
        )
    )
    bodies = [ep.ProcessingRequest(request_body=ep.HttpBody(body=b, end_of_stream=True)) for b in make_bodies()]
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "llama-3.1-8b-instruct",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "word " * 12}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 250, "completion_tokens": 12, "total_tokens": 262},
    }
    body = json.dumps(answer).encode()
    response_headers = ep.ProcessingRequest(
        response_headers=_headers(
            [(":status", "200"), ("content-type", "application/json"), ("x-envoy-attempt-count", "1")]
        )
    )
    attrs = struct_pb2.Struct()
    attrs.update({"xds.cluster_name": "small"})
    response_headers.attributes["envoy.filters.http.ext_proc"].CopyFrom(attrs)
    response_body = ep.ProcessingRequest(response_body=ep.HttpBody(body=body, end_of_stream=True))
    return request_headers, bodies, response_headers, response_body


async def _discard(reply: Any) -> None:
    """The engine's ``send``: a held reply written later (confidence escalation); dropped here."""


async def measure(n: int, fake: bool, escalation: bool = False) -> dict[str, list[float]]:
    from triage.app import build_runtime, load_classifier
    from triage.classifier.base import TASK_LABELS
    from triage.classifier.fake import FakeClassifier
    from triage.config import load_config, parse_config
    from triage.extproc.processor import Processor

    cfg = load_config()
    log = Path(tempfile.mkdtemp(prefix="proc-cost-")) / "decisions.jsonl"
    cfg = cfg.model_copy(update={"telemetry": cfg.telemetry.model_copy(update={"decision_log": str(log)})})
    if escalation:  # every answer of the default tier checked (and confident: the answer's 12 words are usual)
        tier = cfg.tier(None)[1]
        top = tier.routes[-1]
        data = cfg.model_dump(mode="json", exclude_none=True)
        data["escalation"] = {
            "tiers": {cfg.default_tier: {"routes": {r: top for r in tier.routes if r != top} | {top: tier.routes[0]}}},
            "tasks": {t: {"expected_output_tokens": 8} for t in ("default", *TASK_LABELS)},
        }
        cfg = parse_config(data, "processor_cost --escalation")
    classifier = FakeClassifier() if fake else load_classifier(cfg.classifier)
    runtime = build_runtime(cfg, classifier)
    req_h, bodies, resp_h, resp_b = messages()
    out: dict[str, list[float]] = {p: [] for p in PHASES}
    warmup = min(300, n // 5)
    try:
        for i in range(warmup + n):
            t = [time.perf_counter_ns()]
            processor = Processor(runtime, {}, send=_discard)
            for message in (req_h, bodies[i % len(bodies)], resp_h, resp_b):
                await processor.process(message)
                t.append(time.perf_counter_ns())
            processor.close()
            t.append(time.perf_counter_ns())
            if i >= warmup:
                for k, phase in enumerate(PHASES[:4]):
                    out[phase].append((t[k + 1] - t[k]) / 1000)
                out["total"].append((t[-1] - t[0]) / 1000)
    finally:
        runtime.close()
        log.unlink(missing_ok=True)
        log.parent.rmdir()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="requests measured (after a warm-up)")
    parser.add_argument("--fake", action="store_true", help="use the FakeClassifier instead of the ONNX bundle")
    parser.add_argument("--cpu", type=int, default=0, help="pin to this CPU; -1: no pinning")
    parser.add_argument(
        "--escalation", action="store_true", help="every answer checked for confidence escalation (none escalating)"
    )
    args = parser.parse_args(argv)
    if args.cpu >= 0:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    out = asyncio.run(measure(args.n, args.fake, args.escalation))
    for phase in PHASES:
        values = sorted(out[phase])
        p50, p90 = values[len(values) // 2], values[int(len(values) * 0.9)]
        print(f"processor_cost phase={phase} p50_us={p50:.0f} p90_us={p90:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
