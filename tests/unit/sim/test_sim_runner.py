"""Running providers: the thread runner, stop/restart, free_port, and ``serve_main`` as a subprocess."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from triage.sim import FakeProvider, ProviderThread, free_port, serve_main

CHAT = "/v1/chat/completions"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


def refused(url: str) -> bool:
    try:
        httpx.get(url + "/healthz", timeout=5)
    except httpx.ConnectError:
        return True
    return False


def test_running_starts_serves_and_stops() -> None:
    provider = FakeProvider("small")
    with provider.running() as p:
        assert p is provider
        assert p.port > 0
        assert p.is_running
        assert httpx.get(p.url + "/healthz", timeout=30).status_code == 200

    assert not provider.is_running
    assert refused(provider.url)


def test_running_stops_when_the_block_raises() -> None:
    provider = FakeProvider("raiser")

    with pytest.raises(ZeroDivisionError), provider.running():
        _ = 1 / 0

    assert refused(provider.url)
    assert not any(t.name == "triage-sim-raiser" for t in threading.enumerate())


def test_start_error_is_raised_in_the_caller() -> None:
    with FakeProvider("first").running() as first:
        runner = ProviderThread(FakeProvider("second", port=first.port))
        with pytest.raises(OSError, match="address already in use"):
            runner.start()
        runner.stop()


def test_restart_binds_the_same_port() -> None:
    provider = FakeProvider("phoenix")
    with provider.running():
        port = provider.port
    assert refused(provider.url)

    with provider.running():
        assert provider.port == port
        assert httpx.get(provider.url + "/healthz", timeout=30).status_code == 200


def test_stop_aborts_open_connections_and_streams() -> None:
    provider = FakeProvider("slow", chunk_interval_s=5.0, words=50)
    runner = ProviderThread(provider)
    runner.start()
    try:
        with httpx.Client(base_url=provider.url, timeout=30) as client:
            client.get("/v1/models")  # leaves an idle keep-alive connection open
            with client.stream("POST", CHAT, json={**BODY, "stream": True}) as r:
                raws = r.iter_raw()
                first = next(raws)
                started = time.monotonic()
                runner.stop()
                with pytest.raises(httpx.TransportError):
                    for _ in raws:
                        pass
        assert time.monotonic() - started < 5.0
        assert first.startswith(b"data: ")
        stream_attempt = provider.attempts[-1]
        assert stream_attempt.outcome == "stopped"
    finally:
        runner.stop()


def test_free_port_has_nothing_listening() -> None:
    port = free_port()

    assert refused(f"http://127.0.0.1:{port}")


async def test_async_start_stop_in_the_callers_loop() -> None:
    provider = FakeProvider("aio")
    await provider.start()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            assert (await client.post(provider.url + CHAT, json=BODY)).status_code == 200
    finally:
        await provider.stop()
    await provider.stop()  # idempotent
    assert not provider.is_running


def test_provider_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="name"):
        FakeProvider("has space")
    with pytest.raises(ValueError, match=">= 0"):
        FakeProvider("ok", words=-1)


# -- serve_main --------------------------------------------------------------------------------------


def line_reader(stream: IO[str]) -> queue.Queue[str]:
    """Lines of ``stream`` delivered through a queue, so the test can wait with a timeout."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "triage.sim",
            "--name",
            "small",
            "--port",
            "0",
            "--fault",
            '{"status": 503, "times": 1}',
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc, line_reader(proc.stdout)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_serve_main_prints_its_port_and_exits_0_on_sigterm(
    served: tuple[subprocess.Popen[str], queue.Queue[str]],
) -> None:
    proc, lines = served

    line = lines.get(timeout=60)
    assert line.startswith("listening name=small port=")
    port = int(line.strip().rsplit("=", 1)[1])
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.post(CHAT, json=BODY).status_code == 503  # the --fault script
        assert client.post(CHAT, json=BODY).status_code == 200
        assert len(client.get("/_sim/attempts").json()["attempts"]) == 2

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=30) == 0
    assert refused(url)


def test_serve_main_logs_attempts_to_stderr(served: tuple[subprocess.Popen[str], queue.Queue[str]]) -> None:
    proc, lines = served
    port = int(lines.get(timeout=60).strip().rsplit("=", 1)[1])
    httpx.post(f"http://127.0.0.1:{port}{CHAT}", json=BODY, timeout=30)

    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 0
    assert '"outcome":"answered"' in stderr
    assert "hello" not in stderr


@pytest.mark.parametrize(
    ("argv", "code"),
    [(["--port", "nope"], 2), (["--fault", '{"status": 200}'], 2), (["--name", "bad name"], 2), (["--help"], 0)],
    ids=["bad-port", "bad-fault", "bad-name", "help"],
)
def test_serve_main_reports_usage_errors(argv: list[str], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert serve_main(argv) == code
    capsys.readouterr()


def test_serve_main_reports_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeProvider("taken").running() as p:
        assert serve_main(["--port", str(p.port), "--quiet"]) == 1

    assert "cannot listen" in capsys.readouterr().err


def test_run_refuses_taken_ports_naming_the_address_and_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    from triage.sim.stack import run_forever

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", 13000))  # envoy.listen of the default configuration moved by 3000
            holder.listen()
        except OSError:
            pass  # something else holds it: taken all the same
        assert run_forever(None, port_offset=3000) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1:13000 (envoy.listen)" in err
    assert "PORT_OFFSET" in err


def test_shift_ports_moves_every_local_port_and_nothing_else() -> None:
    from triage.config import load_config
    from triage.sim.stack import fixed_addresses, shift_ports

    config = load_config()
    moved = shift_ports(config, 100)
    before = dict(fixed_addresses(config))
    after = dict(fixed_addresses(moved))
    assert set(before) == set(after)
    for what, address in before.items():
        assert int(after[what].rsplit(":", 1)[1]) == int(address.rsplit(":", 1)[1]) + 100
    assert moved.envoy.extproc.endswith(str(int(config.envoy.extproc.rsplit(":", 1)[1]) + 100))
    assert shift_ports(config, 0) is config


def test_run_console_follows_configuration_reloads_as_well_as_decisions(tmp_path: Path) -> None:
    from triage.sim.stack import LocalStack

    stack = LocalStack(workdir=tmp_path)
    stack.triage_log.write_text("2026-01-01 INFO triage.runtime: configuration reloaded from old\n")  # before: skipped
    follow = stack.iter_new_decisions(poll_s=0.01)
    with stack.triage_log.open("a") as log:
        log.write(
            "2026-01-01 ERROR triage.runtime: configuration reload rejected, keeping the running one: t.yaml: x\n"
        )
        log.write("2026-01-01 INFO triage.server: something else\n")
    stack.decision_log.write_text('{"decision_id": "d1"}\n')
    assert next(follow) == {"reload": "configuration reload rejected, keeping the running one: t.yaml: x"}
    assert next(follow) == {"decision_id": "d1"}
