"""HTTP/1.1 exactness on raw sockets: framing, keep-alive, request bodies, malformed input."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator

import httpx
import orjson
import pytest

from triage.sim import FakeProvider

CHAT_BODY = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hello"}]})


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider("wire", words=3).running() as p:
        yield p


@pytest.fixture
def conn(provider: FakeProvider) -> Iterator[socket.socket]:
    sock = socket.create_connection((provider.host, provider.port), timeout=30)
    with sock:
        yield sock


def request(body: bytes = CHAT_BODY, *, path: str = "/v1/chat/completions", extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}"
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def read_response(sock: socket.socket, buf: bytearray) -> tuple[str, dict[str, str], bytes]:
    """Read one Content-Length-framed response from ``sock`` (``buf`` keeps what follows it)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise EOFError("closed before a response head")
        buf += data
    head, _, _ = bytes(buf).partition(b"\r\n\r\n")
    del buf[: len(head) + 4]
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers["content-length"])
    while len(buf) < length:
        data = sock.recv(65536)
        if not data:
            raise EOFError("closed inside a response body")
        buf += data
    body = bytes(buf[:length])
    del buf[:length]
    return lines[0], headers, body


def read_to_eof(sock: socket.socket) -> bytes:
    out = bytearray()
    while data := sock.recv(65536):
        out += data
    return bytes(out)


def test_keep_alive_serves_pipelined_requests_on_one_connection(provider: FakeProvider, conn: socket.socket) -> None:
    conn.sendall(request() + request(path="/v1/models") + request())
    buf = bytearray()

    statuses = [read_response(conn, buf)[0] for _ in range(3)]

    assert statuses == ["HTTP/1.1 200 OK", "HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 200 OK"]
    attempts = provider.wait_for_attempts(3)
    assert {a.connection for a in attempts} == {attempts[0].connection}
    assert attempts[0].peer == "{}:{}".format(*conn.getsockname())


def test_connection_close_request_is_answered_then_closed(conn: socket.socket) -> None:
    conn.sendall(request(extra="Connection: close\r\n"))
    buf = bytearray()

    status, headers, _ = read_response(conn, buf)

    assert status == "HTTP/1.1 200 OK"
    assert headers["connection"] == "close"
    assert read_to_eof(conn) == b""


def test_httpx_reuses_the_connection(provider: FakeProvider) -> None:
    with httpx.Client(base_url=provider.url, timeout=30) as client:
        for _ in range(3):
            client.post("/v1/chat/completions", content=CHAT_BODY)

    assert len({a.connection for a in provider.wait_for_attempts(3)}) == 1


def test_chunked_request_body_is_decoded(provider: FakeProvider, conn: socket.socket) -> None:
    body = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"x" * 40 + b'"}]}'
    pieces = [body[:10], body[10:33], body[33:]]
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: y\r\n\r\n"
    conn.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)

    status, _, answer = read_response(conn, bytearray())

    assert status == "HTTP/1.1 200 OK"
    assert orjson.loads(answer)["usage"]["prompt_tokens"] == 10
    attempt = provider.wait_for_attempts(1)[0]
    assert attempt.body_bytes == len(body)
    assert attempt.headers["transfer-encoding"] == "chunked"


def test_httpx_streamed_upload_is_sent_chunked_and_served(provider: FakeProvider) -> None:
    def parts() -> Iterator[bytes]:
        yield CHAT_BODY[:7]
        yield CHAT_BODY[7:]

    r = httpx.post(provider.url + "/v1/chat/completions", content=parts(), timeout=30)

    assert r.status_code == 200
    assert provider.wait_for_attempts(1)[0].body_bytes == len(CHAT_BODY)


def test_expect_100_continue_is_answered_before_the_body(conn: socket.socket) -> None:
    head = request().split(b"\r\n\r\n", 1)[0] + b"\r\nExpect: 100-continue\r\n\r\n"
    conn.sendall(head)
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        interim += conn.recv(1)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"

    conn.sendall(CHAT_BODY)

    assert read_response(conn, bytearray())[0] == "HTTP/1.1 200 OK"


def test_large_body_is_read_whole(provider: FakeProvider) -> None:
    text = "y" * 1_000_003
    body = orjson.dumps({"messages": [{"role": "user", "content": text}]})

    r = httpx.post(provider.url + "/v1/chat/completions", content=body, timeout=60)

    assert r.json()["usage"]["prompt_tokens"] == math.ceil(len(text) / 4)


def test_http10_stream_is_not_chunked_and_ends_with_close(conn: socket.socket) -> None:
    body = orjson.dumps({"messages": [{"role": "user", "content": "hi"}], "stream": True})
    conn.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    raw = read_to_eof(conn)

    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"transfer-encoding" not in head.lower()
    assert b"connection: close" in head.lower()
    assert payload.startswith(b"data: {")
    assert payload.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NONSENSE\r\n\r\n", "400"),
        (b"GET / HTTP/2.0\r\n\r\n", "505"),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", "400"),
        (b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: ten\r\n\r\n", "400"),
        (b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "400"),
        (b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501"),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            "400",
        ),
        (b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400"),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", "431"),
    ],
    ids=[
        "request-line",
        "version",
        "space-in-name",
        "length-not-number",
        "conflicting-lengths",
        "unknown-coding",
        "te-and-cl",
        "bad-chunk-size",
        "head-too-large",
    ],
)
def test_malformed_request_gets_error_then_close(conn: socket.socket, raw: bytes, status: str) -> None:
    conn.sendall(raw)

    answer = read_to_eof(conn)

    assert answer.split(b" ", 2)[1].decode() == status
    assert b"connection: close" in answer.lower()
    assert b'"error"' in answer


def test_client_closing_between_requests_is_quiet(provider: FakeProvider) -> None:
    for _ in range(3):
        with socket.create_connection((provider.host, provider.port), timeout=30):
            pass
    # The provider still serves, and nothing was recorded for connections that sent nothing.
    assert httpx.get(provider.url + "/healthz", timeout=30).status_code == 200
    assert provider.attempts == []
