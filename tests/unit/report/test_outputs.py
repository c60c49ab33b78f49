"""The week fixture and the three outputs: the terminal table, JSON and the self-contained HTML page; the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.report.small_store import T0
from triage.config import load_config
from triage.report.build import build_report
from triage.report.cli import main, parse_time
from triage.report.fixtures import HOURS, WEEK_START_MS, Written, write_week
from triage.report.html import render_html
from triage.report.text import render_text
from triage.store import Store


def test_write_week_is_deterministic_and_in_the_store_layout(tmp_path: Path, week: tuple[Path, Written]) -> None:
    path, written = week
    again = write_week(tmp_path, seed=3, per_hour=12)
    assert again == written
    names = sorted(p.name for p in (path / "decisions").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "decisions").iterdir())
    assert HOURS - 5 <= len(names) <= HOURS  # one segment per hour with traffic (a quiet night hour may have none)
    for name in names[:3]:
        assert (path / "decisions" / name).read_bytes() == (tmp_path / "decisions" / name).read_bytes()
    assert WEEK_START_MS <= written.first_ms <= written.last_ms < WEEK_START_MS + HOURS * 3_600_000
    assert write_week(tmp_path / "other", seed=4, per_hour=12) != written


def test_week_has_the_mix_a_report_needs(week: tuple[Path, Written]) -> None:
    path, written = week
    store = Store(path)
    try:
        rep = build_report(store, load_config(), by="hour")
    finally:
        store.close()
    rates = {r.name: r for r in rep.rates}
    assert rep.totals.requests == written.decisions
    assert {x.key for x in rep.breakdowns["route"]} >= {"economy", "standard", "premium"}
    assert {x.key for x in rep.breakdowns["tier"]} == {"free", "pro", "batch"}
    assert rates["fallback"].count > 0
    assert rates["rejection"].count > 0
    assert 0.01 < rep.quality.requests / rep.totals.requests < 0.04  # ~2% feedback, a few implicit signals
    assert rep.tail.top10_share is not None
    assert rep.tail.top10_share > 0.3  # a heavy tail
    assert len(rep.buckets) > 150  # hours of a week with traffic
    hourly = [sum(p.requests for p in rep.series["route"] if p.bucket_ms == b) for b in rep.buckets[:24]]
    assert max(hourly) > 2 * min(hourly)  # the daily cycle


def test_week_renders_in_all_three_formats(tmp_path: Path, week: tuple[Path, Written]) -> None:
    path, _ = week
    json_path, html_path = tmp_path / "r.json", tmp_path / "r.html"
    assert main(["--store", str(path), "--json", str(json_path), "--html", str(html_path)]) == 0
    doc = json.loads(json_path.read_text())
    assert doc["totals"]["requests"] > 0
    assert {s["baseline"] for s in doc["savings"]} == {"most_expensive_allowed", "default_route"}
    assert doc["drift"]["verdict"] in ("stable", "watch", "retrain")
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 4  # cost over time, route shares, the tail, cost vs quality
    store = Store(path)
    try:
        text = render_text(build_report(store, load_config()))
    finally:
        store.close()
    for heading in ("Savings", "Rates", "Spend by route", "Heavy tail", "Cost vs quality", "Drift"):
        assert heading in text


def test_html_has_no_external_reference(week: tuple[Path, Written]) -> None:
    path, _ = week
    store = Store(path)
    try:
        page = render_html(build_report(store, load_config()))
    finally:
        store.close()
    lowered = page.lower()
    for needle in ("http", "<script", "src=", "href=", "@import", "url("):
        assert needle not in lowered


def test_cli_since_until_filter(small_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(small_dir / "triage.yaml")
    day = 24 * 3_600_000
    assert main(["--store", str(small_dir), "--config", config, "--since", str(T0 + day), "--json", "-"]) == 0
    later = json.loads(capsys.readouterr().out)
    assert later["totals"]["requests"] == 8
    assert later["window"]["since"] == "2025-01-02T00:00:00.000Z"
    assert main(["--store", str(small_dir), "--config", config, "--until", "2025-01-02", "--json", "-"]) == 0
    earlier = json.loads(capsys.readouterr().out)
    assert earlier["totals"]["requests"] == 6
    assert earlier["totals"]["cost_usd"] == pytest.approx(0.052, rel=1e-9)
    args = ["--since", "2025-01-01T02:00Z", "--until", "2025-01-01T04:00Z", "--json", "-"]
    assert main(["--store", str(small_dir), "--config", config, *args]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["requests"] == 2  # d03, d04


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2025-01-01", T0),
        ("2025-01-01T01:00", T0 + 3_600_000),
        ("2025-01-01T02:00:00+01:00", T0 + 3_600_000),
        ("2025-01-01T01:00:00Z", T0 + 3_600_000),
        (str(T0), T0),
        ("2h", T0 - 2 * 3_600_000),
        ("7d", T0 - 7 * 86_400_000),
    ],
    ids=["date", "naive-utc", "offset", "zulu", "unix-ms", "hours-ago", "days-ago"],
)
def test_parse_time_forms(text: str, ms: int) -> None:
    assert parse_time(text, now_ms=T0) == ms


def test_cli_rejects_a_bad_time(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--store", ".", "--since", "yesterday"])
    assert exc.value.code == 2
    assert "--since" in capsys.readouterr().err


def test_cli_without_store_says_how_to_give_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 1
    assert "--store" in capsys.readouterr().err
    assert main(["--store", str(tmp_path / "absent")]) == 1


def test_cli_demo_reports_on_a_synthetic_week(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = tmp_path / "demo.html"
    assert main(["--demo", "--by", "day", "--html", str(html)]) == 0
    captured = capsys.readouterr()
    assert "a week of synthetic traffic" in captured.err
    assert "2025-03-09" in captured.out  # the fixture's last day
    assert html.read_text().count("<svg") == 4


def test_cli_empty_window_reports_no_records(small_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(small_dir / "triage.yaml")
    assert main(["--store", str(small_dir), "--config", config, "--since", "2030-01-01"]) == 0
    assert "No decision records" in capsys.readouterr().out
