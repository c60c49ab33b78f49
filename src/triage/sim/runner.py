"""Ways to run fake providers outside an existing event loop: a thread, or a process (``serve_main``).

``python -m triage.sim --name small --port 0`` prints ``listening name=small port=<port>`` on stdout
once bound (the readiness signal for a parent process), logs one JSON line per attempt to stderr, and
serves until SIGTERM or SIGINT, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Sequence

import orjson

from triage.sim.faults import Fault
from triage.sim.provider import FakeProvider


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now: a target for "provider down" (connect refused).

    Another process could bind it later, so use it at once and never for a server that must be unique.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class ProviderThread:
    """Runs one ``FakeProvider`` on a fresh event loop in a daemon thread.

    ``start()`` returns once the provider listens (re-raising its start error, e.g. port in use);
    ``stop()`` stops the provider, ends the loop and joins the thread. As a context manager it yields
    the provider and stops it on the way out, also when the block raises.
    """

    def __init__(self, provider: FakeProvider, *, timeout: float = 10.0) -> None:
        self.provider = provider
        self._timeout = timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> FakeProvider:
        if self._thread is not None:
            raise RuntimeError("ProviderThread already started")
        self._thread = threading.Thread(target=self._run, name=f"triage-sim-{self.provider.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._timeout):
            raise TimeoutError(f"{self.provider!r} did not start within {self._timeout}s")
        if self._error is not None:
            self._thread.join(self._timeout)
            raise self._error
        return self.provider

    def stop(self) -> None:
        """Stop the provider and join the thread; a no-op when not running."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None and thread.is_alive():
            # The loop may finish between the check and the call; then there is nothing left to stop.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(self._timeout)
        if thread.is_alive():
            raise TimeoutError(f"{self.provider!r} did not stop within {self._timeout}s")
        self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            await self.provider.start()
        except Exception as exc:
            self._error = exc
            return
        finally:
            self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            await self.provider.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m triage.sim", description="Run one fake LLM provider.")
    parser.add_argument("--name", default="sim", help="provider name (answers say [<name>/<model>])")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed once bound)")
    parser.add_argument("--default-model", default=None, help="model for requests that name none")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--chunk-interval", type=float, default=0.0, help="seconds between SSE events")
    parser.add_argument("--words", type=int, default=12, help="words per completion")
    parser.add_argument("--log-file", default=None, help="also append one JSON line per attempt here")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="JSON", help="scripted fault, e.g. '{\"status\": 503}'"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log attempts to stderr")
    return parser


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Console entry: run one provider until SIGTERM/SIGINT. Returns the process exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        faults = [Fault.from_dict(orjson.loads(text)) for text in args.fault]
        provider = FakeProvider(
            args.name,
            host=args.host,
            port=args.port,
            default_model=args.default_model,
            latency_s=args.latency,
            chunk_interval_s=args.chunk_interval,
            words=args.words,
            log_path=args.log_file,
        )
    except SystemExit as exc:  # argparse's way of reporting --help or a usage error
        return exc.code if isinstance(exc.code, int) else 2
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    provider.script(faults)
    try:
        return asyncio.run(_serve(provider))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1


async def _serve(provider: FakeProvider) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await provider.start()
        print(f"listening name={provider.name} port={provider.port}", flush=True)
        await stop.wait()
    finally:
        await provider.stop()
        for sig in signals:
            loop.remove_signal_handler(sig)
    return 0
