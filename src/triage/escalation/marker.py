"""The marker of an escalated request: what makes Triage route a request it sent itself, and only that one, to the
stronger route without deciding again.

``<decision id>;<route>;<deadline, Unix ms>;<tag>`` in the ``x-triage-escalation`` header, the tag made with the
decision ids' key (``feedback.id_secret_file``; ``DecisionIds.sign``) so that any Triage process behind the same
Envoy accepts it — Envoy may hand the re-sent request's stream to another worker. A marker is refused when its tag
is wrong, its route unknown, or its deadline past: a client that sends one gets an ordinary decision.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from triage.feedback.ids import DecisionIds


@dataclass(frozen=True, slots=True)
class Marker:
    decision_id: str
    route: str
    deadline_unix_ms: int

    def header(self, ids: DecisionIds) -> str:
        body = f"{self.decision_id};{self.route};{self.deadline_unix_ms}"
        return f"{body};{ids.sign(body)}"

    def remaining_ms(self, now_ms: int | None = None) -> int:
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        return self.deadline_unix_ms - now


def read_marker(value: str, ids: DecisionIds, routes: Collection[str], now_ms: int | None = None) -> Marker | None:
    """The marker in a header's ``value``, or None when it is malformed, forged, for an unknown route, or expired."""
    body, _, tag = value.rpartition(";")
    parts = body.split(";")
    if len(parts) != 3 or len(value) > 512 or not ids.verify(body, tag):
        return None
    decision_id, route, deadline = parts
    if route not in routes or not deadline.isdigit():
        return None
    marker = Marker(decision_id, route, int(deadline))
    return marker if marker.remaining_ms(now_ms) > 0 else None
