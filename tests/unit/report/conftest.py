"""Stores for the report's tests: the hand-computed one and a small synthetic week, each written once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.report.small_store import CONFIG_YAML, EVENTS, RECORDS
from triage.config import TriageConfig, load_config
from triage.report.fixtures import Written, write_store, write_week
from triage.store import Store
from triage.store.query import StoreReader


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("small-store")
    write_store(path, RECORDS, EVENTS)
    (path / "triage.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_config(small_dir: Path) -> TriageConfig:
    return load_config(small_dir / "triage.yaml")


@pytest.fixture(scope="module")
def small_clickhouse(small_dir: Path) -> Iterator[StoreReader]:
    """The hand-computed store on the at-scale engine: its segments loaded into chdb's ``otel_logs`` as the
    Collector would have written them, read through the same ``decisions`` and ``events`` views."""
    pytest.importorskip("chdb")
    from triage.store.clickhouse import ClickHouseStore

    ch = ClickHouseStore(database="report_small")
    ch.load_segments(small_dir)
    yield ch
    ch.close()


@pytest.fixture(params=["duckdb", "clickhouse"])
def small_store(small_dir: Path, request: pytest.FixtureRequest) -> Iterator[StoreReader]:
    """The hand-computed store on the embedded engine and on ClickHouse: every figure must agree."""
    if request.param == "clickhouse":
        yield request.getfixturevalue("small_clickhouse")
        return
    store = Store(small_dir)
    yield store
    store.close()


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Written]:
    path = tmp_path_factory.mktemp("week-store")
    return path, write_week(path, seed=3, per_hour=12)
