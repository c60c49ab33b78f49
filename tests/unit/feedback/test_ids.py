"""Decision ids: signed, dated, 32 hex digits; checked by any process holding the key, without a lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.config import FeedbackConfig
from triage.errors import ConfigError
from triage.feedback.ids import DecisionIds, issued_at_ms, read_key

DAY_MS = 86_400_000
T0 = 1_780_000_000_000  # a fixed "now" in Unix ms


class Clock:
    def __init__(self, now_ms: int = T0) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def _ids(key: bytes | None = b"key", clock: Clock | None = None, max_age_days: int = 30) -> DecisionIds:
    return DecisionIds(key, max_age_days=max_age_days, clock_ms=clock or Clock())


def test_decision_ids_new_is_32_lowercase_hex_digits_and_unique() -> None:
    ids = _ids()
    made = {ids.new() for _ in range(2000)}
    assert len(made) == 2000
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in made)


def test_decision_ids_new_carries_its_time_in_ms() -> None:
    assert issued_at_ms(_ids().new()) == T0


def test_decision_ids_check_accepts_its_own_ids_in_any_case() -> None:
    ids = _ids()
    decision_id = ids.new()
    assert ids.check(decision_id) == "ok"
    assert ids.check(decision_id.upper()) == "ok"


def test_decision_ids_check_accepts_ids_from_another_process_with_the_same_key() -> None:
    assert _ids(b"shared").check(_ids(b"shared").new()) == "ok"


def test_decision_ids_check_refuses_ids_signed_with_another_key() -> None:
    assert _ids(b"ours").check(_ids(b"theirs").new()) == "unknown"


def test_decision_ids_without_a_key_are_checked_only_by_the_process_that_made_them() -> None:
    mine, other = _ids(None), _ids(None)
    assert not mine.keyed
    decision_id = mine.new()
    assert mine.check(decision_id) == "ok"
    assert other.check(decision_id) == "unknown"


def _flip(text: str, index: int) -> str:
    digit = "0" if text[index] != "0" else "1"
    return text[:index] + digit + text[index + 1 :]


@pytest.mark.parametrize("index", [0, 11, 12, 23, 24, 31], ids=["time0", "time11", "rand0", "rand11", "tag0", "tag7"])
def test_decision_ids_check_refuses_a_tampered_digit(index: int) -> None:
    ids = _ids()
    assert ids.check(_flip(ids.new(), index)) == "unknown"


def test_decision_ids_check_refuses_an_id_moved_back_in_time_to_dodge_expiry() -> None:
    clock = Clock()
    ids = _ids(clock=clock, max_age_days=1)
    decision_id = ids.new()
    clock.now_ms += 2 * DAY_MS
    assert ids.check(decision_id) == "expired"
    younger = f"{clock.now_ms:012x}" + decision_id[12:]
    assert ids.check(younger) == "unknown"


@pytest.mark.parametrize(
    "value",
    ["", "abc", "0" * 31, "0" * 33, "g" * 32, " " + "0" * 31, "0" * 30 + "-1", "é" * 32],
    ids=["empty", "short", "31", "33", "not-hex", "space", "dash", "unicode"],
)
def test_decision_ids_check_calls_anything_but_32_hex_digits_malformed(value: str) -> None:
    assert _ids().check(value) == "malformed"


def test_decision_ids_check_expires_after_max_age_days() -> None:
    clock = Clock()
    ids = _ids(clock=clock, max_age_days=30)
    decision_id = ids.new()
    clock.now_ms += 30 * DAY_MS
    assert ids.check(decision_id) == "ok"  # exactly max_age_days old: still accepted
    clock.now_ms += 1
    assert ids.check(decision_id) == "expired"


def test_decision_ids_random_ids_of_the_old_format_are_unknown() -> None:
    assert _ids().check("3f2a9c0d8e7b6a5f4e3d2c1b0a998877") == "unknown"


def test_read_key_prefers_the_file_and_strips_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_bytes(b"from-the-secret\n")
    config = FeedbackConfig(id_secret="inline", id_secret_file=str(secret))
    assert read_key(config) == b"from-the-secret"
    assert read_key(FeedbackConfig(id_secret="inline")) == b"inline"
    assert read_key(FeedbackConfig()) is None


@pytest.mark.parametrize("content", [None, b"\n"], ids=["missing", "empty"])
def test_read_key_refuses_a_missing_or_empty_file(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "key"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"feedback\.id_secret_file"):
        read_key(FeedbackConfig(id_secret_file=str(path)))


def test_decision_ids_from_config_signs_with_the_configured_key(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("k1")
    a = DecisionIds.from_config(FeedbackConfig(id_secret_file=str(path)))
    b = DecisionIds.from_config(FeedbackConfig(id_secret="k1", max_age_days=7))
    assert a.keyed
    assert b.max_age_ms == 7 * DAY_MS
    assert b.check(a.new()) == "ok"


def test_decision_ids_from_config_warns_when_workers_share_no_key(caplog: pytest.LogCaptureFixture) -> None:
    DecisionIds.from_config(FeedbackConfig(), processes=1)
    assert not caplog.records
    DecisionIds.from_config(FeedbackConfig(), processes=3)
    assert "id_secret_file is not set" in caplog.text
