"""Envoy's admin API, as Triage and the local stack use it: readiness, stats, listeners and ejections.

The admin address is ``host:port`` or ``unix:/path`` (a Unix socket keeps it off the network and lets the
local stack know it before Envoy starts).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("triage.envoy")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class AdminClient:
    """A tiny blocking client for Envoy's admin API. Errors surface as ``OSError``."""

    def __init__(self, address: str, timeout: float = 2.0) -> None:
        self.address = address
        self.timeout = timeout

    def _connection(self) -> http.client.HTTPConnection:
        if self.address.startswith("unix:"):
            return _UnixConnection(self.address[len("unix:") :], self.timeout)
        host, port = self.address.rsplit(":", 1)
        return http.client.HTTPConnection(host.strip("[]"), int(port), timeout=self.timeout)

    def get(self, path: str) -> str:
        conn = self._connection()
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read().decode()
            if resp.status >= 400:
                raise OSError(f"envoy admin {path}: HTTP {resp.status}")
            return body
        except http.client.HTTPException as err:
            raise OSError(f"envoy admin {path}: {err}") from err
        finally:
            conn.close()

    def ready(self) -> bool:
        try:
            return self.get("/ready").strip() == "LIVE"
        except OSError:
            return False

    def stats(self, prefix: str = "") -> dict[str, int]:
        """Counters and gauges whose name starts with ``prefix``."""
        out: dict[str, int] = {}
        for line in self.get("/stats?filter=" + prefix).splitlines():
            name, _, value = line.partition(": ")
            if value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    def listener_address(self) -> str:
        """``host:port`` of the first listener (useful when it was bound to port 0)."""
        doc = json.loads(self.get("/listeners?format=json"))
        sock = doc["listener_statuses"][0]["local_address"]["socket_address"]
        return f"{sock['address']}:{sock['port_value']}"

    def ejected(self, clusters: Iterable[str]) -> frozenset[str]:
        """Which of ``clusters`` have every host ejected by outlier detection (or failing health checks)."""
        return ejected_clusters(json.loads(self.get("/clusters?format=json")), clusters)


def ejected_clusters(doc: dict[str, Any], clusters: Iterable[str]) -> frozenset[str]:
    """From ``/clusters?format=json``: the named clusters none of whose hosts can take traffic."""
    wanted = set(clusters)
    out = set()
    for status in doc.get("cluster_statuses", ()):
        name = status.get("name")
        hosts = status.get("host_statuses") or []
        if name not in wanted or not hosts:
            continue
        if all(_host_down(h.get("health_status") or {}) for h in hosts):
            out.add(name)
    return frozenset(out)


def _host_down(health: dict[str, Any]) -> bool:
    return bool(
        health.get("failed_outlier_check")
        or health.get("failed_active_health_check")
        or health.get("eds_health_status") in ("UNHEALTHY", "DRAINING", "TIMEOUT")
    )


class ProviderHealth:
    """The clusters Envoy currently ejects, refreshed by ``watch``; read by every decision.

    Without an admin address (Triage not beside its Envoy, e.g. behind a mesh gateway) it stays empty and
    Envoy alone handles failures: each request then pays one fast-failing attempt on an ejected provider.
    """

    def __init__(
        self,
        admin: AdminClient | None = None,
        clusters: Iterable[str] = (),
        on_change: Callable[[frozenset[str], frozenset[str]], None] | None = None,
    ) -> None:
        self.ejected: frozenset[str] = frozenset()
        self._admin = admin
        self._clusters = tuple(clusters)
        self._warned = False
        self._on_change = on_change  # (before, after): telemetry counts the ejections seen

    def refresh(self) -> None:
        """Read the ejections once (blocking); keep the last known state when Envoy does not answer."""
        if self._admin is None:
            return
        try:
            ejected = self._admin.ejected(self._clusters)
        except (OSError, ValueError, KeyError) as err:
            if not self._warned:
                log.warning("cannot read provider health from Envoy's admin API (%s); will keep trying", err)
                self._warned = True
            return
        self._warned = False
        before, self.ejected = self.ejected, ejected
        if ejected != before:
            log.info("ejected providers: %s", ", ".join(sorted(ejected)) or "none")
            if self._on_change is not None:
                self._on_change(before, ejected)

    async def watch(self, interval_s: float) -> None:
        """Refresh every ``interval_s`` (off the event loop) until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await loop.run_in_executor(None, self.refresh)
            await asyncio.sleep(interval_s)
