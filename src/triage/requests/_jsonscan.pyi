"""Top-level member spans of a JSON object (C, ``_jsonscan.c``); see ``triage.requests.splice``."""

def members(body: bytes, limit: int, /) -> tuple[tuple[int, int, int, int], ...] | None:
    """``(key_start, key_end, value_start, value_end)`` per top-level member of the object in ``body`` (the key
    span includes its quotes), or None when ``body`` is not one object or has more than ``limit`` members."""
