"""Targeted edit of ``policy.ladder`` thresholds in a triage.yaml text, keeping everything else as written.

Only the ``min_score`` values of the ladder's steps change; comments, ordering and formatting of the rest of
the file stay byte for byte. Steps written in flow style (``- {route: premium, min_score: 0.62}``, as in the
embedded default) and in block style (``- route: premium`` with ``min_score:`` on its own line) are both
edited in place; a ladder written any other way (e.g. one inline list) is rewritten as flow-style steps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

_LADDER = re.compile(r"^(?P<indent>[ \t]*)ladder:[ \t]*(?P<rest>.*)$")
_STEP = re.compile(r"^(?P<indent>[ \t]*)-[ \t]*(?P<body>.*)$")
_ROUTE = re.compile(r"\broute:[ \t]*['\"]?(?P<route>[A-Za-z0-9_.-]+)")
_MIN_SCORE = re.compile(r"(\bmin_score:[ \t]*)([-+0-9.eE]+)")


class LadderEditError(ValueError):
    """The file has no ``policy.ladder`` this editor can find, or the edit did not read back as intended."""


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".") if x else "0"


def _ladder_span(lines: list[str]) -> tuple[int, int, str]:
    """(index of the ``ladder:`` line, end index of its block, indent of ``ladder:``) under ``policy:``."""
    in_policy = False
    for i, line in enumerate(lines):
        if re.match(r"^policy:[ \t]*(#.*)?$", line):
            in_policy = True
            continue
        if in_policy and line.strip() and not line[0].isspace() and not line.lstrip().startswith("#"):
            in_policy = False
        m = _LADDER.match(line)
        if in_policy and m:
            indent = m.group("indent")
            end = i + 1
            while end < len(lines):
                text = lines[end]
                stripped = text.strip()
                if stripped and not stripped.startswith("#"):
                    lead = len(text) - len(text.lstrip())
                    if lead < len(indent) or (lead == len(indent) and not stripped.startswith("-")):
                        break
                end += 1
            return i, end, indent
    raise LadderEditError("no policy.ladder block found")


def _edit_step(lines: list[str], start: int, stop: int, value: float) -> None:
    """Set ``min_score`` inside the step occupying ``lines[start:stop]``."""
    for k in range(start, stop):
        if _MIN_SCORE.search(lines[k]):
            lines[k] = _MIN_SCORE.sub(lambda m: m.group(1) + _fmt(value), lines[k], count=1)
            return
    first = lines[start]
    if "{" in first and "}" in first:
        close = first.rindex("}")
        lines[start] = first[:close].rstrip() + f", min_score: {_fmt(value)}" + first[close:]
        return
    step = _STEP.match(first)
    assert step is not None  # the caller found the step by this pattern
    column = first.index(step.group("body"), len(step.group("indent")) + 1)  # where "route:" starts
    lines.insert(start + 1, f"{' ' * column}min_score: {_fmt(value)}\n")


def set_thresholds(text: str, thresholds: Mapping[str, float]) -> str:
    """Return ``text`` with ``policy.ladder``'s ``min_score`` set for every route in ``thresholds``."""
    lines = text.splitlines(keepends=True)
    head, end, indent = _ladder_span(lines)
    steps: list[tuple[int, str]] = []
    for k in range(head + 1, end):
        found = _ROUTE.search(lines[k]) if _STEP.match(lines[k]) else None
        if found:
            steps.append((k, found.group("route")))
    if not steps:
        return _rewrite(text, lines, head, end, indent, thresholds)
    # Bottom-up, so a line inserted into one step does not shift the steps still to edit.
    for (k, name), nxt in reversed(list(zip(steps, [s for s, _ in steps[1:]] + [end], strict=True))):
        if name in thresholds:
            _edit_step(lines, k, nxt, thresholds[name])
    out = "".join(lines)
    _check(out, thresholds)
    return out


def _rewrite(text: str, lines: list[str], head: int, end: int, indent: str, thresholds: Mapping[str, float]) -> str:
    doc = yaml.safe_load(text)
    ladder = doc.get("policy", {}).get("ladder") if isinstance(doc, dict) else None
    if not isinstance(ladder, list):
        raise LadderEditError("policy.ladder is not a list")
    block = [f"{indent}ladder:\n"]
    for step in ladder:
        route = str(step["route"])
        score = thresholds.get(route, float(step.get("min_score", 0.0)))
        extra = f", min_score: {_fmt(score)}" if score else ""
        block.append(f"{indent}  - {{route: {route}{extra}}}\n")
    out = "".join(lines[:head] + block + lines[end:])
    _check(out, thresholds)
    return out


def _check(text: str, thresholds: Mapping[str, float]) -> None:
    doc = yaml.safe_load(text)
    ladder = doc["policy"]["ladder"]
    got = {str(s["route"]): float(s.get("min_score", 0.0)) for s in ladder}
    for route, value in thresholds.items():
        if route not in got:
            raise LadderEditError(f"route {route!r} is not on policy.ladder")
        if abs(got[route] - round(value, 4)) > 1e-9:
            raise LadderEditError(f"policy.ladder {route}: wrote {value}, reads back {got[route]}")
