"""Decision ids: 128 bits, 32 hex digits, generated on the request path, that any replica can check without a lookup.

Layout (hex digits)::

    tttttttttttt rrrrrrrrrrrr gggggggg
    48-bit time  48 random    32-bit tag: keyed BLAKE2b (RFC 7693's MAC mode) of the first 24 hex digits
    (Unix ms)    bits

The tag tells an id Triage issued from a typo, a guess or another system's id (a random string passes with odds
of 1 in 2^32); the time tells how old the decision is (``feedback.max_age_days``) without reading the store. 48
random bits keep two ids made in the same millisecond apart (at 150 decisions per millisecond across every
replica, about one collision a year).

The key is ``feedback.id_secret_file`` (a mounted Secret) or ``feedback.id_secret``. Without either, each process
draws a random key at start: then only the process that made an id accepts feedback on it, and a restart forgets
every id. Set the key wherever more than one process serves (``server.workers`` > 1, replicas) or ids must outlive
a restart. Changing the key makes every earlier id unknown.

Keyed BLAKE2b rather than HMAC-SHA256: the same guarantee for a tag, at about 1 µs per id here against 6 µs for
Python's HMAC (the request path makes one id per decision). The key is hashed to 32 bytes first (BLAKE2b takes at
most 64), so any length works.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from triage.config import FeedbackConfig
from triage.errors import ConfigError

log = logging.getLogger("triage.feedback")

IdCheck = Literal["ok", "malformed", "unknown", "expired"]

_HEX = frozenset("0123456789abcdef")
_DAY_MS = 86_400_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def read_key(config: FeedbackConfig) -> bytes | None:
    """The configured key (the file's content without its trailing newline, else ``id_secret``), or None."""
    if config.id_secret_file is not None:
        try:
            key = Path(config.id_secret_file).read_bytes().strip()
        except OSError as err:
            raise ConfigError(
                [f"feedback.id_secret_file: cannot read {config.id_secret_file}: {err.strerror}"]
            ) from err
        if not key:
            raise ConfigError([f"feedback.id_secret_file: {config.id_secret_file} is empty"])
        return key
    if config.id_secret:
        return config.id_secret.encode()
    return None


class DecisionIds:
    """Makes decision ids and checks them (see the module docstring)."""

    def __init__(
        self,
        key: bytes | None = None,
        *,
        max_age_days: int = 30,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        """``key``: the HMAC key; None draws a random one for this process (``keyed`` is then False)."""
        self.keyed = key is not None
        secret = hashlib.sha256(key).digest() if key is not None else os.urandom(32)
        self._mac = hashlib.blake2b(key=secret, digest_size=4)
        # Other things signed with the same key, each under its own personalisation (never a valid id tag).
        self._signer = hashlib.blake2b(key=secret, digest_size=12, person=b"triage-signed")
        self.max_age_ms = max_age_days * _DAY_MS
        self._clock_ms = clock_ms

    @classmethod
    def from_config(cls, config: FeedbackConfig, *, processes: int = 1) -> DecisionIds:
        """The ids of ``feedback:``; warns when ``processes`` > 1 share no key (feedback would miss most ids)."""
        key = read_key(config)
        if key is None and processes > 1:
            log.warning(
                "feedback.id_secret_file is not set: each of the %d workers signs decision ids with its own random "
                "key, so feedback sent to another worker than the one that decided is refused as unknown",
                processes,
            )
        return cls(key, max_age_days=config.max_age_days)

    def _tag(self, head: str) -> str:
        mac = self._mac.copy()
        mac.update(head.encode())
        return mac.hexdigest()[:8]

    def sign(self, text: str) -> str:
        """A 24-hex-digit tag of ``text`` under the ids' key (escalation markers): any process with the key can
        check it (``verify``)."""
        mac = self._signer.copy()
        mac.update(text.encode())
        return mac.hexdigest()

    def verify(self, text: str, tag: str) -> bool:
        return hmac.compare_digest(self.sign(text), tag)

    def new(self) -> str:
        """A new id. ``random.getrandbits``: uuid4 reads the kernel's entropy pool, slow on the request path; the
        random part only has to be unique, the tag is what cannot be forged."""
        head = f"{self._clock_ms() & 0xFFFF_FFFF_FFFF:012x}{random.getrandbits(48):012x}"
        return head + self._tag(head)

    def check(self, decision_id: str) -> IdCheck:
        """``ok``: issued under this key and younger than ``max_age_days``; ``malformed``: not 32 hex digits;
        ``unknown``: not issued under this key; ``expired``: issued, but too old for feedback."""
        if len(decision_id) != 32:
            return "malformed"
        decision_id = decision_id.lower()
        if not _HEX.issuperset(decision_id):
            return "malformed"
        head = decision_id[:24]
        if not hmac.compare_digest(self._tag(head), decision_id[24:]):
            return "unknown"
        if self._clock_ms() - issued_at_ms(decision_id) > self.max_age_ms:
            return "expired"
        return "ok"


def issued_at_ms(decision_id: str) -> int:
    """When a (well-formed) id was made, in Unix milliseconds."""
    return int(decision_id[:12], 16)
