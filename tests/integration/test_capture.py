"""Content capture through the real Envoy (``store.capture``): with the switch on, a routed chat request leaves one
capture line whose decision id is the one the client got back and whose input holds the prompt, while the decision
and event segments never hold the text; with the switch off (the default) nothing is captured at all."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import chat, token
from triage.config import load_config, parse_config
from triage.sim.stack import LocalStack, wait_until
from triage.store.capture import CAPTURE_FORMAT, CAPTURED_DIR, read_captured

pytestmark = pytest.mark.integration

WAIT_S = 30.0  # generous: the machine is shared and slow


@pytest.fixture(scope="module")
def capture_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The local stack with a decision store and content capture on."""
    workdir = tmp_path_factory.mktemp("capture")
    data = load_config().model_dump(mode="json", exclude_none=True)
    data["store"] = {"path": str(workdir / "store"), "capture": True}
    data["policy"]["deadline_ms"] = 2000  # a loaded machine never fails a request open (unclassified: not captured)
    with LocalStack(config=parse_config(data, "capture"), workdir=workdir / "stack") as stack:
        yield stack


def _store(stack: LocalStack) -> Path:
    assert stack.running_config is not None
    assert stack.running_config.store.path is not None
    return Path(stack.running_config.store.path)


def _lines(directory: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # a line being written
    return out


def _send(stack: LocalStack, text: str) -> str:
    with httpx.Client(base_url=stack.envoy_url, timeout=60) as client:
        response = client.post(
            "/v1/chat/completions", json=chat(text), headers={"authorization": f"Bearer {token('pro')}"}
        )
    assert response.status_code == 200, response.text
    decision_id: str = response.headers["x-triage-decision-id"]
    return decision_id


def _wait_for_record(stack: LocalStack, decision_id: str) -> None:
    decisions = _store(stack) / "decisions"
    wait_until(
        f"decision {decision_id} in {decisions}",
        lambda: any(r.get("decision_id") == decision_id for r in _lines(decisions)),
        WAIT_S,
    )


def test_a_routed_request_is_captured_by_its_decision_id(capture_stack: LocalStack) -> None:
    marker = uuid.uuid4().hex
    prompt = f"Explain why this Rust borrow fails and fix it; ticket {marker}: let r = &mut v; v.push(1); r.len()"
    decision_id = _send(capture_stack, prompt)
    captured_dir = _store(capture_stack) / CAPTURED_DIR

    def captured() -> list[dict[str, Any]]:
        return [c for c in _lines(captured_dir) if c.get("decision_id") == decision_id]

    wait_until(f"a capture line for {decision_id}", lambda: bool(captured()), WAIT_S, (capture_stack.triage_log,))
    (line,) = captured()
    assert (line["format"], line["origin"]) == (CAPTURE_FORMAT, "capture")
    assert marker in line["input"]["prompt"]
    assert line["input"]["api"] == "openai.chat"
    # The retrain's reader sees the same input under the same id.
    assert marker in read_captured(captured_dir)[decision_id].input.prompt
    # The records and events never hold the text.
    _wait_for_record(capture_stack, decision_id)
    for kind in ("decisions", "events"):
        for path in (_store(capture_stack) / kind).glob("*.jsonl"):
            assert marker not in path.read_text(encoding="utf-8", errors="replace"), path


def test_nothing_is_captured_with_the_default_configuration(stack: LocalStack) -> None:
    """The shared stack runs the default configuration (a store, capture off): no captured/ directory at all."""
    assert stack.running_config is not None
    assert stack.running_config.store.capture is False
    marker = uuid.uuid4().hex
    decision_id = _send(stack, f"Summarize the plot of Hamlet in two sentences ({marker}).")
    _wait_for_record(stack, decision_id)
    assert not (_store(stack) / CAPTURED_DIR).exists()
    for kind in ("decisions", "events"):
        for path in (_store(stack) / kind).glob("*.jsonl"):
            assert marker not in path.read_text(encoding="utf-8", errors="replace"), path
