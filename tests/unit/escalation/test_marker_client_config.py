"""The escalation marker (signed, bound to a route and a deadline), the escalated call's HTTP client, and the
configuration's checks of ``escalation:``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import yaml

from triage.config import default_config_text, parse_config
from triage.errors import ConfigError
from triage.escalation import escalator
from triage.escalation.client import EscalationCallError, post
from triage.escalation.marker import Marker, read_marker
from triage.feedback.ids import DecisionIds

ROUTES = {"economy", "premium", "pro.v2"}


def test_marker_round_trip_and_refusals() -> None:
    ids = DecisionIds(b"k")
    m = Marker("a" * 32, "pro.v2", 2_000)
    header = m.header(ids)
    assert read_marker(header, ids, ROUTES, now_ms=1_000) == m  # a route name with a dot
    assert read_marker(header, ids, ROUTES, now_ms=2_000) is None  # expired
    assert read_marker(header, DecisionIds(b"other"), ROUTES, now_ms=1_000) is None  # another key
    assert read_marker(header, ids, {"economy"}, now_ms=1_000) is None  # a route this config lacks
    forged = header.replace("pro.v2", "premium")
    assert read_marker(forged, ids, ROUTES, now_ms=1_000) is None
    for junk in ("", ";;;", "x" * 600, "a;b;c", f"{'a' * 32};premium;soon;{'0' * 24}"):
        assert read_marker(junk, ids, ROUTES, now_ms=1_000) is None
    assert not DecisionIds(None).verify("x", DecisionIds(None).sign("x"))  # random keys: another process refuses


def _serve(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> Callable[..., object]:
    async def run(body: bytes = b"{}", timeout_s: float = 5.0) -> object:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await post(f"127.0.0.1:{port}", "/v1/chat/completions", {"a": "1"}, body, timeout_s=timeout_s)
        finally:
            server.close()
            await server.wait_closed()

    return run


def _answering(raw: bytes) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        writer.write(raw)
        await writer.drain()
        writer.close()

    return handler


def test_client_reads_content_length_and_chunked_responses() -> None:
    plain = _serve(_answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Envoy-Attempt-Count: 2\r\n\r\nok"))
    r = asyncio.run(plain())  # type: ignore[arg-type]
    assert (r.status, r.body, r.headers["x-envoy-attempt-count"]) == (200, b"ok", "2")  # type: ignore[attr-defined]
    chunked = _serve(
        _answering(b"HTTP/1.1 503 No\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    )
    r = asyncio.run(chunked())  # type: ignore[arg-type]
    assert (r.status, r.body) == (503, b"abcde")  # type: ignore[attr-defined]


def test_client_errors_are_escalation_call_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.sleep(5)
        finally:
            writer.close()

    with pytest.raises(EscalationCallError, match="within"):
        asyncio.run(_serve(silent)(timeout_s=0.2))  # type: ignore[arg-type]
    with pytest.raises(EscalationCallError):
        asyncio.run(_serve(_answering(b"garbage\r\n\r\n"))())  # type: ignore[arg-type]
    with pytest.raises(EscalationCallError):
        asyncio.run(post("127.0.0.1:1", "/", {}, b"", timeout_s=2))


def _config(escalation: dict[str, object], **envoy: object) -> object:
    data = yaml.safe_load(default_config_text())
    data["escalation"] = escalation
    data["envoy"].update(envoy)
    return parse_config(data, "test")


@pytest.mark.parametrize(
    ("escalation", "envoy", "problem"),
    [
        ({"tiers": {"gold": {"routes": {"economy": "premium"}}}}, {}, "unknown tier 'gold'"),
        ({"tiers": {"free": {"routes": {"economy": "premium"}}}}, {}, "route 'premium' is not one tier 'free' may use"),
        ({"tiers": {"pro": {"routes": {"economy": "nope"}}}}, {}, "unknown route 'nope'"),
        ({"tiers": {"pro": {"routes": {"economy": "economy"}}}}, {}, "escalates to itself"),
        ({"tiers": {"pro": {"routes": {"economy": "premium"}}}}, {"failure_mode_allow": False}, "failure_mode_allow"),
        ({"tasks": {"code": {"weights": {"no_such_signal": 1.0}}}}, {}, "no_such_signal"),
        ({"logprobs_routes": ["nope"]}, {}, "unknown route 'nope'"),
    ],
)
def test_config_problems(escalation: dict[str, object], envoy: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        _config(escalation, **envoy)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_escalator_keeps_its_budget_across_reloads_unless_limits_change() -> None:
    cfg = _config({"tiers": {"pro": {"routes": {"economy": "premium"}}}})
    first = escalator.build(cfg)  # type: ignore[arg-type]
    assert first is not None
    assert first.via == "127.0.0.1:10000"
    assert first.target("pro", "economy") == "premium"
    assert first.target("free", "economy") is None
    same = escalator.build(cfg, first)  # type: ignore[arg-type]
    assert same is not None
    assert same.budget is first.budget
    changed = escalator.build(_config({"tiers": {"pro": {"routes": {"economy": "premium"}, "max_share": 0.5}}}), first)  # type: ignore[arg-type]
    assert changed is not None
    assert changed.budget is not first.budget
    assert escalator.build(_config({})) is None  # type: ignore[arg-type]
