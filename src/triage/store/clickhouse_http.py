"""Reading the store on a ClickHouse server over its HTTP interface (port 8123, or 8443 with TLS): a ``StoreReader``.

``triage report --store clickhouse://HOST:8123/otel`` (or ``clickhouses://`` for HTTPS; ``user:password@`` in the
address, or ``CLICKHOUSE_USER`` / ``CLICKHOUSE_PASSWORD`` in the environment) reads the ``decisions`` and ``events``
views that ``triage store ddl`` created in that database (``triage.store.clickhouse``), with the same SQL as every
other engine. Standard library only: each query is one ``POST`` whose body is the SQL with ``FORMAT JSONEachRow``,
settings in the URL so that 64-bit integers and decimals come back as JSON numbers and named tuples as objects.
"""

from __future__ import annotations

import base64
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import orjson

from triage.store.clickhouse import DATABASE, inline_params
from triage.store.query import CLICKHOUSE, Dialect

SCHEMES = {"clickhouse": "http", "clickhouses": "https"}
DEFAULT_PORTS = {"http": 8123, "https": 8443}
# ClickHouse's output settings that make JSONEachRow's values the Python values the other engines give.
OUTPUT_SETTINGS = {
    "output_format_json_quote_64bit_integers": "0",
    "output_format_json_quote_64bit_floats": "0",
    "output_format_json_quote_decimals": "0",
    "output_format_json_named_tuples_as_objects": "1",
    "output_format_json_quote_denormals": "0",
}


class ClickHouseError(RuntimeError):
    """The server refused a query or could not be reached; the message has its answer."""


class ClickHouseHttpStore:
    """The store's views in a database of a ClickHouse server, read over HTTP (``clickhouse://`` targets)."""

    dialect: Dialect = CLICKHOUSE

    def __init__(self, target: str, *, timeout_s: float = 300.0) -> None:
        url = urllib.parse.urlsplit(target)
        if url.scheme not in SCHEMES:
            raise ValueError(f"{target!r}: expected clickhouse://HOST[:PORT][/DATABASE] or clickhouses://...")
        if not url.hostname:
            raise ValueError(f"{target!r}: no host")
        scheme = SCHEMES[url.scheme]
        host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
        self.database = url.path.strip("/") or DATABASE
        self.endpoint = f"{scheme}://{host}:{url.port or DEFAULT_PORTS[scheme]}/"
        user = urllib.parse.unquote(url.username) if url.username else os.environ.get("CLICKHOUSE_USER")
        password = urllib.parse.unquote(url.password) if url.password else os.environ.get("CLICKHOUSE_PASSWORD", "")
        self._headers = {"content-type": "text/plain; charset=utf-8"}
        if user:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._headers["authorization"] = f"Basic {token}"
        self._params = urllib.parse.urlencode({"database": self.database, **OUTPUT_SETTINGS})
        self._timeout = timeout_s
        self._context = ssl.create_default_context() if scheme == "https" else None

    def __repr__(self) -> str:  # never the password
        return f"ClickHouseHttpStore({self.endpoint}{self.database})"

    def close(self) -> None:
        """Nothing to release: each query is its own request."""

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql`` (over ``decisions`` and ``events``) as dicts; ``?`` placeholders take ``params``."""
        if params:
            sql = inline_params(sql, params)
        body = f"{sql.strip().rstrip(';')}\nFORMAT JSONEachRow".encode()
        request = urllib.request.Request(
            f"{self.endpoint}?{self._params}", data=body, headers=self._headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout, context=self._context) as response:
                data = response.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace").strip()
            raise ClickHouseError(f"ClickHouse at {self.endpoint} answered {e.code}: {detail[:2000]}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ClickHouseError(f"ClickHouse at {self.endpoint} could not be reached: {reason}") from None
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]
