"""Reading a ClickHouse server over HTTP (``clickhouse://``): the report's queries give the same rows as DuckDB over
the segments. The server here is a small HTTP front (ClickHouse's HTTP interface: the SQL as the POST body, the
database and settings in the URL, Basic auth) over chdb, the real ClickHouse engine in process."""

from __future__ import annotations

import base64
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.unit.store.conftest import make_traffic, rounded
from tests.unit.store.test_clickhouse import report_queries, segment_store, through_collector
from triage.store import Store
from triage.store.clickhouse_http import ClickHouseError, ClickHouseHttpStore
from triage.store.query import CLICKHOUSE, DUCKDB, open_store

chdb = pytest.importorskip("chdb")

from triage.store.clickhouse import ClickHouseStore  # noqa: E402

USER, PASSWORD = "reader", "s3cret:with/odd@chars"


class _Front(BaseHTTPRequestHandler):
    store: ClickHouseStore
    lock = threading.Lock()
    seen: list[dict[str, Any]]

    def do_POST(self) -> None:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("authorization") != expected:
            self._answer(516, b"Code: 516. DB::Exception: reader: Authentication failed. (AUTHENTICATION_FAILED)")
            return
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        sql = self.rfile.read(int(self.headers["content-length"])).decode()
        self.seen.append({"params": params, "sql": sql})
        session = self.store._session
        try:
            with self.lock:
                session.query(f"USE {params.pop('database')}", "CSV")
                for name, value in params.items():
                    session.query(f"SET {name} = {value}", "CSV")
                out = str(session.query(sql, "CSV")).encode()  # the body's FORMAT clause decides
        except Exception as e:
            self._answer(500, str(e).encode())
            return
        self._answer(200, out)

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[dict[str, Any]]]]:
    """A ClickHouse HTTP front on 127.0.0.1 whose database holds 300 decisions sent as OTLP log records, and a
    segment store with the same records."""
    records, events = make_traffic(300)
    segments = segment_store(tmp_path_factory.mktemp("segments"), records, events)
    store = ClickHouseStore(database="http_front")
    through_collector(store, records, events)
    seen: list[dict[str, Any]] = []
    handler = type("Front", (_Front,), {"store": store, "seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}", segments, seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        store.execute("DROP DATABASE IF EXISTS http_front")


def _target(address: str, password: str = PASSWORD) -> str:
    return f"clickhouse://{USER}:{urllib.parse.quote(password, safe='')}@{address}/http_front"


@pytest.mark.parametrize("name", sorted(report_queries(DUCKDB)))
def test_report_queries_over_http_match_duckdb(name: str, server: tuple[str, Path, list[dict[str, Any]]]) -> None:
    address, segments, _ = server
    remote = open_store(_target(address))
    assert isinstance(remote, ClickHouseHttpStore)
    expected = rounded(Store(segments).query(report_queries(DUCKDB)[name]))
    assert expected
    assert rounded(remote.query(report_queries(CLICKHOUSE)[name])) == expected


def test_every_column_comes_back_typed_as_on_duckdb(server: tuple[str, Path, list[dict[str, Any]]]) -> None:
    address, segments, seen = server
    remote = ClickHouseHttpStore(_target(address))
    for view in ("decisions", "events"):
        sql = f"SELECT * FROM {view} WHERE time_unix_ms >= ?"
        assert rounded(remote.query(sql, [0]), 12) == rounded(Store(segments).query(sql, [0]), 12)
    last = seen[-1]
    assert last["sql"].endswith("FORMAT JSONEachRow")
    assert "time_unix_ms >= 0" in last["sql"]
    assert last["params"]["output_format_json_quote_64bit_integers"] == "0"


def test_errors_say_what_the_server_answered(server: tuple[str, Path, list[dict[str, Any]]]) -> None:
    address, _, _ = server
    with pytest.raises(ClickHouseError, match=r"516: .*AUTHENTICATION_FAILED"):
        ClickHouseHttpStore(_target(address, "wrong")).query("SELECT 1 AS one")
    with pytest.raises(ClickHouseError, match=r"500: .*UNKNOWN_TABLE"):
        ClickHouseHttpStore(_target(address)).query("SELECT * FROM no_such_view")
    closed = ClickHouseHttpStore("clickhouse://127.0.0.1:1/x", timeout_s=5)
    with pytest.raises(ClickHouseError, match="could not be reached"):
        closed.query("SELECT 1 AS one")
    assert PASSWORD not in repr(ClickHouseHttpStore(_target(address)))


@pytest.mark.parametrize(
    ("target", "endpoint", "database"),
    [
        ("clickhouse://ch.example", "http://ch.example:8123/", "otel"),
        ("clickhouses://ch.example/analytics", "https://ch.example:8443/", "analytics"),
        ("clickhouse://[::1]:9000/db", "http://[::1]:9000/", "db"),
    ],
)
def test_targets(target: str, endpoint: str, database: str) -> None:
    store = ClickHouseHttpStore(target)
    assert (store.endpoint, store.database) == (endpoint, database)


@pytest.mark.parametrize("target", ["http://ch.example", "clickhouse://", "clickhouse:///db"])
def test_bad_targets(target: str) -> None:
    with pytest.raises(ValueError, match=r"clickhouse://|no host"):
        ClickHouseHttpStore(target)
