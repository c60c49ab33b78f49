"""Content capture: the classifier's input of each decision, kept by decision id for retraining (``store.capture``).

The decision store holds no prompt text (``schema``; DESIGN §2). Retraining from feedback (``triage train --feedback
STORE``, ``docs/retraining.md``) needs the input the router scored for each rated decision, so an operator may turn
on **content capture**, off by default: each classified decision then also appends one line to the store's
``captured/`` segments, beside ``decisions/`` and ``events/``, written, rotated, retained and size-bounded like
them (``writer.SegmentWriter``). Captured lines stay on local disk: they are never sent as OTLP log records.

One JSON object per line (``CAPTURE_FORMAT``)::

    {"format": "triage-capture/1", "decision_id": "…", "time_unix_ms": 1735689600000, "origin": "capture",
     "input": {"api": "openai.chat", "prompt": "<the last user turn's window>", "system": "<system head>",
               "model": "auto", "input_chars": 5120, "messages": 3, "user_turns": 2, "stream": false,
               "max_tokens": null, "has_tools": false, "json_output": false}}

``input`` is the ``RoutingInput`` the classifier scored — the bounded windows, never the whole body, earlier turns or
any completion — so a retrain sees exactly what the router saw. ``origin`` is ``capture`` for real traffic and
``synthetic:<source>`` for a simulated store (``triage train simulate``).

Light on purpose: the server imports this, never ``triage.train`` (which pulls the training dependencies).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from triage.requests.input import RoutingInput

log = logging.getLogger("triage.store")

CAPTURE_FORMAT = "triage-capture/1"
CAPTURED_DIR = "captured"  # <store>/captured/*.jsonl: the opt-in content capture, next to decisions/ and events/
ORIGIN = "capture"  # real traffic, captured by the server

_INPUT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RoutingInput))


class CaptureSink(Protocol):
    """Where the server's captured inputs go (``SegmentWriter``: the store's local segments, never OTLP)."""

    def capture(self, decision_id: str, time_unix_ms: int, inp: RoutingInput) -> None:
        """Keep ``inp``, the classifier's input of decision ``decision_id``; cheap (the line is made later)."""


@dataclass(frozen=True)
class Captured:
    """One captured request: the classifier's input for a decision, and where it came from."""

    decision_id: str
    input: RoutingInput
    origin: str = ORIGIN


def capture_line(decision_id: str, time_unix_ms: int, inp: RoutingInput, origin: str = ORIGIN) -> dict[str, Any]:
    """The capture line of one decision (``CAPTURE_FORMAT``), as a dict to serialize."""
    return {
        "format": CAPTURE_FORMAT,
        "decision_id": decision_id,
        "time_unix_ms": time_unix_ms,
        "origin": origin,
        "input": {name: getattr(inp, name) for name in _INPUT_FIELDS},  # every field is a scalar: no deep copy
    }


def read_captured(path: Path) -> dict[str, Captured]:
    """Captured inputs by decision id from a file or a directory of ``*.jsonl`` files (a store's ``captured/``).
    A line of another format, without a decision id and a prompt, or torn (being written) is skipped (counted in
    the log); the last line of an id wins. Raises ``FileNotFoundError`` when ``path`` does not exist."""
    if not path.exists():
        raise FileNotFoundError(f"capture {path} does not exist")
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    out: dict[str, Captured] = {}
    skipped = 0
    for file in files:
        with file.open(encoding="utf-8", errors="replace") as fh:  # a torn last line is skipped
            for line in fh:
                captured = _parse(line)
                if captured is None:
                    skipped += 1
                else:
                    out[captured.decision_id] = captured
    if skipped:
        log.warning("capture %s: %d lines skipped (not %s)", path, skipped, CAPTURE_FORMAT)
    return out


def _parse(line: str) -> Captured | None:
    try:
        doc = json.loads(line)
    except json.JSONDecodeError:
        return None
    raw = doc.get("input") if isinstance(doc, dict) else None
    if (
        not isinstance(raw, dict)
        or doc.get("format") != CAPTURE_FORMAT
        or not isinstance(doc.get("decision_id"), str)
        or not isinstance(raw.get("prompt"), str)
    ):
        return None
    fields = {k: v for k, v in raw.items() if k in _INPUT_FIELDS}
    fields.setdefault("api", "openai.chat")
    try:
        inp = RoutingInput(**fields)
    except TypeError:
        return None
    return Captured(doc["decision_id"], inp, str(doc.get("origin") or ORIGIN))
