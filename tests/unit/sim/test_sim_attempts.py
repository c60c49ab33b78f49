"""The attempt log: what is recorded, waiting for attempts (sync and async), the JSON log lines."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from triage.sim import FakeProvider, Fault

CHAT = "/v1/chat/completions"
SECRET = "the launch code is 0000"


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider("small", words=3).running() as p:
        yield p


def test_attempt_records_request_and_answer(provider: FakeProvider) -> None:
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    wall_before, mono_before = time.time(), time.monotonic()
    with httpx.Client(base_url=provider.url, timeout=30) as client:
        r = client.post(CHAT, json=body, headers={"X-Request-Id": "req-1", "X-Envoy-Attempt-Count": "2"})

    (attempt,) = provider.wait_for_attempts(1)
    assert attempt.seq == 1
    assert attempt.provider == "small"
    assert (attempt.method, attempt.path) == ("POST", CHAT)
    assert attempt.model == "gpt-4o-mini"
    assert attempt.stream is True
    assert attempt.include_usage is True
    assert attempt.body_bytes == int(r.request.headers["content-length"])
    assert attempt.headers["x-request-id"] == "req-1"
    assert attempt.headers["host"] == f"127.0.0.1:{provider.port}"
    assert all(name == name.lower() for name in attempt.headers)
    assert attempt.envoy_attempt == 2
    assert attempt.status == 200
    assert attempt.outcome == "answered"
    assert attempt.fault is None
    assert attempt.events == len([line for line in r.text.split("\n") if line.startswith("data: ")])
    assert mono_before <= attempt.monotonic <= time.monotonic()
    assert wall_before - 1 <= attempt.wall <= time.time() + 1
    assert r.headers["x-sim-attempt"] == "1"


def test_attempt_records_requests_it_rejects(provider: FakeProvider) -> None:
    provider.script([Fault(status=503, times=1)])
    with httpx.Client(base_url=provider.url, timeout=30) as client:
        client.post(CHAT, content=b'{"model": "m", "messages": []}')
        client.post(CHAT, content=b"{oops")
        client.get("/missing")
        client.get("/healthz")
        client.get("/_sim/attempts")

    attempts = provider.wait_for_attempts(3)
    assert [(a.path, a.status, a.model) for a in attempts] == [
        (CHAT, 503, "m"),
        (CHAT, 400, None),
        ("/missing", 404, None),
    ]
    assert attempts[0].fault == Fault(status=503, times=1)


def test_clear_forgets_attempts_but_keeps_numbering(provider: FakeProvider) -> None:
    httpx.get(provider.url + "/v1/models", timeout=30)
    provider.wait_for_attempts(1)

    assert provider.clear() == 1
    assert provider.attempts == []
    httpx.get(provider.url + "/v1/models", timeout=30)
    assert [a.seq for a in provider.wait_for_attempts(1)] == [2]


def test_wait_for_attempts_blocks_until_requests_arrive(provider: FakeProvider) -> None:
    def send_later() -> None:
        time.sleep(0.2)
        for _ in range(2):
            httpx.get(provider.url + "/v1/models", timeout=30)

    sender = threading.Thread(target=send_later)
    sender.start()
    try:
        assert len(provider.wait_for_attempts(2, timeout=30)) == 2
    finally:
        sender.join()


def test_wait_for_attempts_times_out_with_a_clear_message(provider: FakeProvider) -> None:
    with pytest.raises(TimeoutError, match=r"wanted 1 finished attempts within 0.1s, have 0"):
        provider.wait_for_attempts(1, timeout=0.1)


def test_attempts_are_logged_as_json_lines_without_prompt_text(
    provider: FakeProvider, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="triage.sim.small")
    body = {"model": "m", "messages": [{"role": "user", "content": SECRET}]}
    httpx.post(provider.url + CHAT, json=body, headers={"x-request-id": "abc"}, timeout=30)
    provider.wait_for_attempts(1)

    (record,) = [r for r in caplog.records if r.name == "triage.sim.small"]
    line = orjson.loads(record.getMessage())
    assert line["seq"] == 1
    assert line["status"] == 200
    assert line["outcome"] == "answered"
    assert line["x-request-id"] == "abc"
    assert line["body_bytes"] == len(orjson.dumps(body))
    assert SECRET not in caplog.text
    assert "[small/m]" not in caplog.text


def test_attempts_are_appended_to_the_log_file(tmp_path: Path) -> None:
    log = tmp_path / "small.jsonl"
    with FakeProvider("small", log_path=log).running() as p:
        for _ in range(2):
            httpx.post(p.url + CHAT, json={"messages": [{"role": "user", "content": SECRET}]}, timeout=30)
        p.wait_for_attempts(2)

    lines = [orjson.loads(line) for line in log.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2]
    assert SECRET not in log.read_text()


async def test_async_provider_and_async_wait() -> None:
    async with FakeProvider("aio", words=2) as p, httpx.AsyncClient(base_url=p.url, timeout=30) as client:
        waiter = asyncio.create_task(p.wait_for_attempts_async(2))
        await asyncio.sleep(0)
        assert not waiter.done()
        first = await client.post(CHAT, json={"messages": [{"role": "user", "content": "a"}]})
        async with client.stream(
            "POST", CHAT, json={"stream": True, "messages": [{"role": "user", "content": "b"}]}
        ) as second:
            events = [line async for line in second.aiter_lines() if line.startswith("data: ")]
        async with asyncio.timeout(30):
            attempts = await waiter

    assert first.json()["choices"][0]["message"]["content"].startswith("[aio/aio] ")
    assert events[-1] == "data: [DONE]"
    assert [a.stream for a in attempts] == [False, True]


async def test_async_wait_works_across_loops(provider: FakeProvider) -> None:
    async with httpx.AsyncClient(base_url=provider.url, timeout=30) as client:
        await client.get("/v1/models")
        async with asyncio.timeout(30):
            attempts = await provider.wait_for_attempts_async(1)

    assert attempts[0].path == "/v1/models"


async def test_sync_wait_refuses_to_block_the_providers_own_loop() -> None:
    async with FakeProvider("aio") as p:
        with pytest.raises(RuntimeError, match="wait_for_attempts_async"):
            p.wait_for_attempts(1, timeout=0.1)
