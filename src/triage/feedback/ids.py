"""Decision ids: 128-bit, 32 hex digits, generated on the request path."""

from __future__ import annotations

import random


class DecisionIds:
    """Makes decision ids."""

    def new(self) -> str:
        """A new id (``random.getrandbits``: uuid4 reads the kernel's entropy pool, slow on the request path)."""
        return f"{random.getrandbits(128):032x}"
