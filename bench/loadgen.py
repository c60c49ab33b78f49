"""An HTTP/1.1 load generator for the through-Envoy benchmark: open loop on a fixed clock, or closed loop.

Open loop (``--rate R``): request ``i`` is due at ``t0 + i / R`` whatever happened to the earlier ones; its
latency runs from that due time to the last byte of the response, so time spent waiting for a free
connection or behind a late timer is counted (no coordinated omission). The first ``--warmup`` requests
are sent the same way and discarded.

Closed loop (``--closed N``): ``N`` connections each send the next request as soon as the previous answer
is complete, for ``--duration`` seconds after a warm-up (a third of it, at most 1 s); reports the requests
completed within that window per second, their latency percentiles (send to last byte), every request
completed including the warm-up (``total_done``: divide a server's CPU time over the whole run by it), and the
generator's own CPU time within the window (``client_cpu_s``: is the generator the bottleneck?).

Details that keep the clock honest on a small machine:
- raw keep-alive sockets (an ``asyncio.Protocol`` per connection, a small pool opened up front), no HTTP
  library in the path;
- the event loop waits in ``select()`` (microsecond timeouts) instead of ``epoll`` (millisecond ones:
  each send would be up to 1 ms late), with the timer slack lowered to 1 µs;
- optionally pinned to one CPU (``--cpu``).

It prints one JSON document on stdout: latencies in ms (open loop), lateness of the sends, counts of
non-200 answers and errors, the achieved rate (or throughput).

Usage: ``python bench/loadgen.py --url http://127.0.0.1:10000/v1/chat/completions --body FILE
--rate 200 --n 2000 --warmup 200``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import selectors
import signal
import sys
import time
from urllib.parse import urlsplit

_PR_SET_TIMERSLACK = 29
_PR_SET_PDEATHSIG = 1


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


class ResponseError(Exception):
    pass


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False
        self._need: int | None = None  # bytes of body still expected (content-length framing)
        self._status = 0
        self._chunked = False
        self._head_done = False

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ResponseError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            status = self._parse()
        except ResponseError as err:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(err)
            return
        if status is not None and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    # -- requests ---------------------------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.buf.clear()
        self._head_done = False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def _parse(self) -> int | None:
        """The status once the whole response is in ``buf``, else None."""
        if not self._head_done:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return None
            lines = bytes(self.buf[:end]).split(b"\r\n")
            del self.buf[: end + 4]
            parts = lines[0].split(b" ", 2)
            if len(parts) < 2 or not parts[1].isdigit():
                raise ResponseError(f"bad status line {lines[0]!r}")
            self._status = int(parts[1])
            self._need, self._chunked = None, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    self._need = int(value.strip())
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    self._chunked = True
            if self._need is None and not self._chunked:
                self._need = 0
            self._head_done = True
        if self._chunked:
            return self._status if self._chunked_complete() else None
        assert self._need is not None
        return self._status if len(self.buf) >= self._need else None

    def _chunked_complete(self) -> bool:
        pos = 0
        buf = self.buf
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return False
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            if size == 0:  # the last chunk, then optional trailers and an empty line
                return buf.find(b"\r\n\r\n", eol) >= 0
            pos = eol + 2 + size + 2
            if pos > len(buf):
                return False


async def _open(host: str, port: int, count: int) -> list[Conn]:
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(count):
        _, conn = await loop.create_connection(Conn, host, port)
        sock = conn.transport.get_extra_info("socket") if conn.transport else None
        if sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(conn)
    return conns


def build_requests(url: str, bodies: list[bytes]) -> tuple[str, int, list[bytes]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    requests = [
        (
            f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
            f"accept: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]
    return host, port, requests


async def open_loop(
    url: str, bodies: list[bytes], rate: float, n: int, warmup: int, pool: int, timeout_s: float
) -> dict[str, object]:
    host, port, requests = build_requests(url, bodies)
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[Conn] = asyncio.Queue()
    for conn in await _open(host, port, pool):
        idle.put_nowait(conn)
    total = warmup + n
    latencies: list[float] = [float("nan")] * total
    late: list[float] = [0.0] * total
    statuses: dict[str, int] = {}
    errors: list[str] = []

    async def one(i: int, due: float) -> None:
        conn = await idle.get()
        while conn.closed:  # the server closed it (e.g. after an error): replace it
            conn = (await _open(host, port, 1))[0]
        sent = loop.time()
        late[i] = sent - due
        try:
            status = await asyncio.wait_for(conn.send(requests[i % len(requests)]), timeout_s)
        except (ResponseError, TimeoutError, OSError) as err:
            errors.append(f"{type(err).__name__}: {err}")
            if conn.transport is not None:
                conn.transport.abort()
            conn = (await _open(host, port, 1))[0]
            idle.put_nowait(conn)
            return
        latencies[i] = (loop.time() - due) * 1000.0
        key = str(status)
        statuses[key] = statuses.get(key, 0) + 1
        idle.put_nowait(conn)

    tasks = []
    interval = 1.0 / rate
    t0 = loop.time() + 0.05
    for i in range(total):
        due = t0 + i * interval
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - (t0 + warmup * interval)
    measured = latencies[warmup:]
    return {
        "mode": "open",
        "rate": rate,
        "n": n,
        "warmup": warmup,
        "latencies_ms": [round(x, 4) for x in measured],
        "late_ms_p50": round(sorted(late[warmup:])[len(measured) // 2] * 1000, 4),
        "late_ms_max": round(max(late[warmup:]) * 1000, 4),
        "statuses": statuses,
        "errors": errors[:20],
        "error_count": len(errors),
        "achieved_rate": round(n / elapsed, 2) if elapsed > 0 else 0.0,
    }


async def closed_loop(
    url: str, bodies: list[bytes], workers: int, duration: float, timeout_s: float
) -> dict[str, object]:
    host, port, requests = build_requests(url, bodies)
    loop = asyncio.get_running_loop()
    conns = await _open(host, port, workers)
    done = 0
    total_done = 0
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    warm_end = loop.time() + min(1.0, duration / 3)
    end = warm_end + duration
    cpu: dict[str, float] = {}
    loop.call_at(warm_end, lambda: cpu.setdefault("start", time.process_time()))
    loop.call_at(end, lambda: cpu.setdefault("end", time.process_time()))

    async def worker(conn: Conn, k: int) -> None:
        nonlocal done, total_done, errors
        i = k
        while loop.time() < end:
            sent = loop.time()
            try:
                status = await asyncio.wait_for(conn.send(requests[i % len(requests)]), timeout_s)
            except (ResponseError, TimeoutError, OSError):
                errors += 1
                if conn.transport is not None:
                    conn.transport.abort()
                conn = (await _open(host, port, 1))[0]
                continue
            i += workers
            now = loop.time()
            total_done += 1
            if warm_end <= now < end:  # only answers completed within the window count
                done += 1
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                latencies.append((now - sent) * 1000.0)

    await asyncio.gather(*(worker(c, k) for k, c in enumerate(conns)))
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 3) if latencies else None

    return {
        "mode": "closed",
        "workers": workers,
        "duration_s": duration,
        "throughput_rps": round(done / duration, 1),
        "done": done,
        "total_done": total_done,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": round(latencies[-1], 3) if latencies else None,
        "client_cpu_s": round(cpu.get("end", time.process_time()) - cpu.get("start", 0.0), 4),
        "statuses": statuses,
        "error_count": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", action="append", required=True, help="file with a request body (repeatable)")
    parser.add_argument("--rate", type=float, default=200.0, help="open loop: requests per second")
    parser.add_argument("--n", type=int, default=2000, help="open loop: measured requests")
    parser.add_argument("--warmup", type=int, default=200, help="open loop: discarded requests sent first")
    parser.add_argument("--pool", type=int, default=8, help="open loop: keep-alive connections")
    parser.add_argument("--closed", type=int, default=0, metavar="N", help="closed loop with N connections")
    parser.add_argument("--duration", type=float, default=3.0, help="closed loop: measured seconds")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    args = parser.parse_args(argv)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(_PR_SET_TIMERSLACK, 1000)  # ns
    if args.cpu is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    bodies = []
    for path in args.body:
        with open(path, "rb") as f:
            bodies.append(f.read())
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        if args.closed:
            coro = closed_loop(args.url, bodies, args.closed, args.duration, args.timeout)
        else:
            coro = open_loop(args.url, bodies, args.rate, args.n, args.warmup, args.pool, args.timeout)
        result = loop.run_until_complete(coro)
    finally:
        loop.close()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
