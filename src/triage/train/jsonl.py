"""Reading JSON-lines files whose every line must be an object, with errors that name the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_objects(path: Path, error: type[ValueError]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for every non-blank line of ``path``; raise ``error`` naming the
    first line that is not a JSON object, or the file when it does not exist."""
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise error(f"{path}:{number}: not JSON: {exc}") from exc
                if not isinstance(doc, dict):
                    raise error(f"{path}:{number}: expected a JSON object")
                yield number, doc
    except FileNotFoundError as exc:
        raise error(f"{path}: no such file") from exc
