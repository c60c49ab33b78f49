"""Fingerprints of the benchmark prompts a bundle was trained on."""

from __future__ import annotations

from pathlib import Path

from triage.train import fingerprints


def test_fingerprint_ignores_whitespace_differences_only() -> None:
    assert fingerprints.fingerprint("What is  2+2?\n") == fingerprints.fingerprint(" What is 2+2?")
    assert fingerprints.fingerprint("What is 2+2?") != fingerprints.fingerprint("What is 2+3?")
    assert len(fingerprints.fingerprint("x")) == 8


def test_count_trained_reads_the_bundle_file(tmp_path: Path) -> None:
    assert fingerprints.count_trained(tmp_path, ["a"]) is None  # no file: the bundle does not say
    text = fingerprints.render(["alpha question", "beta question", "alpha  question"])
    assert text.count("\n") == 2  # distinct and sorted
    assert text.splitlines() == sorted(text.splitlines())
    (tmp_path / fingerprints.FINGERPRINTS_FILE).write_text(text, encoding="utf-8")
    assert fingerprints.count_trained(tmp_path, ["alpha question", "gamma question", "beta\tquestion"]) == 2
    assert fingerprints.count_trained(tmp_path, ["beta question "]) == 1
