"""Writing a store: the request path's side of it.

``SegmentWriter`` keeps this process's segments (``schema`` has the layout), and the content capture when it is on
(``capture``, ``store.capture``); ``OtlpLogSink`` sends the same records and events — never captured content — as
OTLP log records (the path to a Collector and ClickHouse, ``triage.store.clickhouse``); ``Sinks`` hands each record
to several; ``prune`` applies the retention and the size bound to a whole store.

What the request path pays: ``SegmentWriter.record`` appends the JSON line the recorder already made for the
decision log (it is serialized once) to a list; ``event`` serializes one small dict; ``capture`` appends a tuple
(its line is made at the flush). Files are touched only in ``flush`` (the server calls it 4 times a second, and at
shutdown): one ``write`` of whole lines per kind to a file opened ``O_APPEND``. Retention and the size bound are
applied from ``flush`` once a minute, not on every flush.

What a crash loses: lines reach the kernel at each flush, so ``kill -9`` loses the records buffered since the last
one (at most 0.25 s of traffic); a machine that loses power may also lose what the kernel had not yet written back
(a segment is ``fdatasync``-ed when it is closed, not on every flush). A line torn by a crash is skipped by the
readers, and a restarted process never appends to an old file (every segment is created new, ``O_EXCL``).

Nothing here raises: a failure is logged (once a minute at most) and counted in ``SegmentWriter.stats``.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import os
import queue
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from triage.store.capture import CAPTURED_DIR, capture_line
from triage.store.schema import DECISIONS_DIR, EVENTS_DIR, OTEL_BODY, OTEL_DECISION_ID, OTEL_KIND, OTEL_SCOPE, Event

if TYPE_CHECKING:
    from triage.config import StoreConfig
    from triage.record import DecisionRecord
    from triage.requests.input import RoutingInput

log = logging.getLogger("triage.store")

KINDS = (DECISIONS_DIR, EVENTS_DIR, CAPTURED_DIR)  # every kind of segment: listed, pruned and counted alike
SEGMENT_SUFFIXES = (".jsonl", ".parquet")  # a segment as written, and as compacted (``triage store compact``)
MAINTAIN_EVERY_S = 60.0
# A file another writer appended to this recently may be the one it is writing: the size bound leaves it alone
# (a writer also notices that its file was deleted and starts a new one, see ``SegmentWriter._segment``).
BUSY_GRACE_S = 5.0
_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def host_name() -> str:
    """This machine's name as it appears in segment file names (pod names in Kubernetes)."""
    return _HOST_UNSAFE.sub("_", socket.gethostname())[:63] or "host"


def segment_hour(unix_s: float) -> str:
    """``YYYYMMDDTHH`` (UTC) of ``unix_s``: the first part of a segment's name."""
    return time.strftime("%Y%m%dT%H", time.gmtime(unix_s))


def hour_of(name: str) -> float | None:
    """The start (unix seconds) of the UTC hour a segment's name begins with; None for a name that is not one."""
    try:
        return float(calendar.timegm(time.strptime(name[:11], "%Y%m%dT%H")))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment file of a store, as found on disk."""

    path: Path
    kind: str  # one of KINDS: DECISIONS_DIR, EVENTS_DIR or CAPTURED_DIR
    size: int
    mtime: float  # the time of its newest line (a compacted segment keeps the time of the file it replaced)


def list_segments(store: str | Path) -> list[Segment]:
    """Every segment of ``store`` (every kind, every writer's), oldest first."""
    found = []
    for kind in KINDS:
        directory = Path(store) / kind
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            if not entry.name.endswith(SEGMENT_SUFFIXES):
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:  # deleted meanwhile (another writer's pruning)
                continue
            found.append(Segment(Path(entry.path), kind, st.st_size, st.st_mtime))
    found.sort(key=lambda s: (s.mtime, s.path.name))
    return found


@dataclass(frozen=True, slots=True)
class Pruned:
    deleted: list[Path]
    freed_bytes: int
    remaining_bytes: int


def prune(
    store: str | Path,
    *,
    retention_days: float,
    max_bytes: int,
    now: float | None = None,
    protect: Iterable[Path] = (),
    busy_grace_s: float = BUSY_GRACE_S,
) -> Pruned:
    """Delete the segments older than ``retention_days`` (by their newest line), then the oldest ones until the store
    holds at most ``max_bytes`` — across every writer's files, never one in ``protect`` (the files this process is
    writing) nor one appended to in the last ``busy_grace_s`` (possibly another writer's current file)."""
    now = time.time() if now is None else now
    keep = {p.resolve() for p in protect}
    segments = list_segments(store)
    total = sum(s.size for s in segments)
    deleted: list[Path] = []
    freed = 0
    expired_before = now - retention_days * 86400
    for seg in segments:  # oldest first
        too_old = seg.mtime < expired_before
        if not too_old and total <= max_bytes:
            break
        if seg.path.resolve() in keep or (not too_old and seg.mtime > now - busy_grace_s):
            continue
        seg.path.unlink(missing_ok=True)  # another process may have pruned it first
        total -= seg.size
        freed += seg.size
        deleted.append(seg.path)
    return Pruned(deleted, freed, total)


@dataclass(slots=True)
class WriterStats:
    """What a ``SegmentWriter`` did, for ``triage store stats`` and the tests."""

    records: int = 0  # decision lines written
    events: int = 0  # event lines written
    captured: int = 0  # content capture lines written (``store.capture``)
    bytes: int = 0
    flushes: int = 0  # flushes that wrote something
    segments: int = 0  # files opened
    errors: int = 0  # failed writes, opens or maintenance
    dropped: int = 0  # lines lost to a failed write
    pruned: int = 0  # files deleted by retention and the size bound


@dataclass(slots=True)
class _Open:
    fd: int
    path: Path
    window_end: float


@dataclass(slots=True)
class _Pending:
    lines: list[bytes] = field(default_factory=list)


class SegmentWriter:
    """This process's segments of the store at ``path``: a ``RecordSink`` (``triage.telemetry.recorder``), and a
    ``CaptureSink`` (``triage.store.capture``) the server uses only when ``store.capture`` is on.

    Thread-safe: ``record``, ``event`` and ``capture`` may come from any thread, ``flush`` from another. Never raises.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        segment_seconds: float = 3600,
        retention_days: float = 30,
        max_bytes: int = 10 * 1024**3,
        maintain_every_s: float = MAINTAIN_EVERY_S,
        host: str | None = None,
        pid: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.segment_seconds = segment_seconds
        self.retention_days = retention_days
        self.max_bytes = max_bytes
        self.maintain_every_s = maintain_every_s
        self._host = host or host_name()
        self._pid = os.getpid() if pid is None else pid
        self._clock = clock
        self.stats = WriterStats()
        self._pending = {kind: _Pending() for kind in (DECISIONS_DIR, EVENTS_DIR)}
        self._captures: list[tuple[str, int, RoutingInput]] = []  # serialized at the flush, off the request path
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()  # guards the pending lists (appended on request threads, swapped by flush)
        self._flushing = threading.Lock()  # one flush at a time (the periodic one and the shutdown's)
        self._next_maintenance = 0.0  # the first flush applies retention and the size bound
        self._last_error_log = -1e18

    @classmethod
    def from_config(cls, cfg: StoreConfig) -> SegmentWriter:
        assert cfg.path is not None
        return cls(
            cfg.path, segment_seconds=cfg.segment_seconds, retention_days=cfg.retention_days, max_bytes=cfg.max_bytes
        )

    # --- the request path: appends only ---

    def record(self, record: DecisionRecord, line: bytes) -> None:
        """Keep the record's JSON line (newline-terminated) until the next flush."""
        with self._lock:
            self._pending[DECISIONS_DIR].lines.append(line)

    def event(self, event: Event) -> None:
        """Keep the event's JSON line until the next flush."""
        line = orjson.dumps(event.to_dict(), option=orjson.OPT_APPEND_NEWLINE)
        with self._lock:
            self._pending[EVENTS_DIR].lines.append(line)

    def capture(self, decision_id: str, time_unix_ms: int, inp: RoutingInput) -> None:
        """Keep the classifier's input of a decision until the next flush, which writes its capture line
        (``triage.store.capture``) to this process's ``captured/`` segment. Local only: no other sink gets it."""
        with self._lock:
            self._captures.append((decision_id, time_unix_ms, inp))

    # --- off the reply path ---

    def flush(self) -> None:
        """Write the buffered lines to this process's current segments; rotate, and apply retention and the size
        bound when due. Never raises."""
        with self._flushing:
            now = self._clock()
            with self._lock:
                batches = [(kind, p.lines) for kind, p in self._pending.items() if p.lines]
                for kind, _ in batches:
                    self._pending[kind].lines = []
                captures, self._captures = self._captures, []
            if captures:
                batches.append((CAPTURED_DIR, self._capture_lines(captures)))
            for kind, lines in batches:
                self._write(kind, lines, now)
            if now >= self._next_maintenance:
                self._next_maintenance = now + self.maintain_every_s
                self.maintain(now)

    def _capture_lines(self, captures: list[tuple[str, int, RoutingInput]]) -> list[bytes]:
        lines = []
        for decision_id, time_ms, inp in captures:
            try:
                lines.append(orjson.dumps(capture_line(decision_id, time_ms, inp), option=orjson.OPT_APPEND_NEWLINE))
            except Exception:  # text orjson refuses (a lone surrogate): that line only
                self.stats.dropped += 1
                self._failed("cannot serialize a capture line (dropped)")
        return lines

    def maintain(self, now: float | None = None) -> Pruned | None:
        """Apply retention and the size bound to the whole store now (``flush`` does it once a minute)."""
        try:
            done = prune(
                self.path,
                retention_days=self.retention_days,
                max_bytes=self.max_bytes,
                now=self._clock() if now is None else now,
                protect=[o.path for o in self._open.values()],
            )
        except Exception:
            self._failed("cannot apply the store's retention and size bound")
            return None
        self.stats.pruned += len(done.deleted)
        if done.deleted:
            log.info("store: deleted %d old segments (%d bytes)", len(done.deleted), done.freed_bytes)
        return done

    def close(self) -> None:
        """Flush, then close (and ``fdatasync``) the current segments."""
        self.flush()
        with self._flushing:
            for kind in list(self._open):
                self._close(kind, sync=True)

    @property
    def current(self) -> list[Path]:
        """The files this process is writing now."""
        return [o.path for o in self._open.values()]

    def _write(self, kind: str, lines: list[bytes], now: float) -> None:
        if not lines:
            return
        data = b"".join(lines)
        try:
            fd = self._segment(kind, now)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except Exception:
            self.stats.dropped += len(lines)
            self._failed(f"cannot write {len(lines)} lines to the store's {kind} segment (dropped)")
            self._close(kind, sync=False)  # a partial write may have torn a line: never append after it
            return
        self.stats.bytes += len(data)
        self.stats.flushes += 1
        if kind == DECISIONS_DIR:
            self.stats.records += len(lines)
        elif kind == EVENTS_DIR:
            self.stats.events += len(lines)
        else:
            self.stats.captured += len(lines)

    def _segment(self, kind: str, now: float) -> int:
        """The descriptor of ``kind``'s current segment: a new file when the window ended or the file was deleted
        (by another writer's size bound, or by hand)."""
        current = self._open.get(kind)
        if current is not None:
            if now < current.window_end and os.fstat(current.fd).st_nlink > 0:
                return current.fd
            self._close(kind, sync=True)
        start = now - now % self.segment_seconds  # every writer's windows start at the same instants
        directory = self.path / kind
        directory.mkdir(parents=True, exist_ok=True)
        base = f"{segment_hour(start)}-{self._host}-{self._pid}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        for n in range(10_000):
            path = directory / (f"{base}.jsonl" if n == 0 else f"{base}-{n}.jsonl")
            try:
                fd = os.open(path, flags, 0o644)
            except FileExistsError:  # an earlier window of the same hour, or a process with our pid before us
                continue
            self._open[kind] = _Open(fd, path, start + self.segment_seconds)
            self.stats.segments += 1
            return fd
        raise OSError(f"no free segment name for {base} in {directory}")

    def _close(self, kind: str, *, sync: bool) -> None:
        current = self._open.pop(kind, None)
        if current is None:
            return
        try:
            if sync:
                os.fdatasync(current.fd)
        except OSError:
            self._failed(f"cannot sync {current.path}")
        finally:
            os.close(current.fd)

    def _failed(self, message: str) -> None:
        self.stats.errors += 1
        now = time.monotonic()
        if now - self._last_error_log >= 60:
            self._last_error_log = now
            log.exception("store: %s (%d errors so far; logged once a minute)", message, self.stats.errors)


# --- OpenTelemetry logs ---
#
# Each record and event becomes one OTLP log record whose body is its JSON line (the line the store keeps: keys are
# the column names), with the attributes ``triage.kind`` (decision|event) and ``triage.decision_id``, the event name
# ``triage.decision``/``triage.event``, the record's trace id, and the process's resource (service.name, ...). The
# Collector's ClickHouse exporter stores the body in ``otel_logs.Body``; ``triage.store.clickhouse`` turns it back
# into the two views' columns.
#
# Why not the OpenTelemetry SDK's logs pipeline with one attribute per field: measured here (``bench/store_bench.py
# write``), the SDK's ``Logger.emit`` of a record with its ~35 fields as attributes costs ~70-140 µs on the request
# path and the OTLP exporter's encoding another ~300-650 µs on its thread — 50-100% of a core at 1,500 decisions/s,
# against ~1-2 µs for an append here and a few µs to encode a line off the request path. So the protocol is written
# here: a list append on the request path; the encoding and the gRPC call on one background thread.


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]


def _len_field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (strings, bytes, messages)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _any_value(value: str | bool | int | float) -> bytes:
    """An OTLP ``AnyValue``: string (1), bool (2), int (3) or double (4)."""
    if isinstance(value, str):
        return _len_field(1, value.encode())
    if isinstance(value, bool):
        return b"\x10" + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    return b"\x21" + struct.pack("<d", value)


def key_value(key: str, value: str | bool | int | float) -> bytes:
    """An OTLP ``KeyValue`` message."""
    return _len_field(1, key.encode()) + _len_field(2, _any_value(value))


# LogRecord fields: 1 time_unix_nano (fixed64), 2 severity_number, 3 severity_text, 5 body, 6 attributes,
# 9 trace_id, 11 observed_time_unix_nano (fixed64), 12 event_name.
_SEVERITY = b"\x10\x09" + _len_field(3, b"INFO")  # SEVERITY_NUMBER_INFO
_KIND_PREFIX = {
    kind: _SEVERITY + _len_field(6, key_value(OTEL_KIND, kind)) + _len_field(12, OTEL_BODY[kind].encode())
    for kind in ("decision", "event")
}
_DECISION_ID_KEY = _len_field(1, OTEL_DECISION_ID.encode())


@dataclass(frozen=True, slots=True)
class _Item:
    kind: str  # decision | event
    time_ms: int
    decision_id: str
    trace_id: str | None
    line: bytes  # newline-terminated JSON


def _encode_log(item: _Item, observed: bytes) -> bytes:
    """One ``LogRecord``, wrapped as the ``log_records`` field (2) of a ``ScopeLogs``: the hot loop of the export
    thread, hence written out."""
    line = item.line
    body = line[:-1] if line[-1:] == b"\n" else line
    any_body = b"\x0a" + _varint(len(body)) + body  # AnyValue.string_value
    ident = item.decision_id.encode()
    any_id = b"\x0a" + _varint(len(ident)) + ident
    kv_id = _DECISION_ID_KEY + b"\x12" + _varint(len(any_id)) + any_id
    out = (
        b"\x09"
        + _pack_u64(item.time_ms * 1_000_000)
        + _KIND_PREFIX[item.kind]
        + b"\x2a"
        + _varint(len(any_body))
        + any_body
        + b"\x32"
        + _varint(len(kv_id))
        + kv_id
        + observed
    )
    trace = item.trace_id
    if trace and len(trace) == 32:
        with contextlib.suppress(ValueError):  # not hex: no trace id, the record still goes
            out += b"\x4a\x10" + bytes.fromhex(trace)
    return b"\x12" + _varint(len(out)) + out


_pack_u64 = struct.Struct("<Q").pack


def encode_logs(
    items: list[_Item], resource: dict[str, str | bool | int | float], scope_version: str, now_ns: int
) -> list[bytes]:
    """``items`` as OTLP ``ExportLogsServiceRequest`` messages of at most ~2 MB each (the Collector's receiver takes
    4 MiB by default)."""
    observed = b"\x59" + struct.pack("<Q", now_ns)
    res = _len_field(1, b"".join(_len_field(1, key_value(k, v)) for k, v in resource.items()))
    scope = _len_field(1, _len_field(1, OTEL_SCOPE.encode()) + _len_field(2, scope_version.encode()))
    requests = []
    logs: list[bytes] = []
    size = 0
    for item in items:
        log_record = _encode_log(item, observed)
        logs.append(log_record)
        size += len(log_record)
        if size >= _MAX_REQUEST:
            requests.append(_len_field(1, res + _len_field(2, scope + b"".join(logs))))
            logs, size = [], 0
    if logs:
        requests.append(_len_field(1, res + _len_field(2, scope + b"".join(logs))))
    return requests


_MAX_REQUEST = 2 * 1024 * 1024
EXPORT_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def grpc_sender(endpoint: str, *, insecure: bool, timeout_s: float = 10.0) -> Callable[[bytes], None]:
    """A function that sends one encoded ``ExportLogsServiceRequest`` to the OTLP/gRPC ``endpoint``
    (``http://host:4317``; ``https://`` for TLS with the system's roots)."""
    import grpc  # noqa: PLC0415

    target = endpoint.split("://", 1)[-1].rstrip("/")
    channel = grpc.insecure_channel(target) if insecure else grpc.secure_channel(target, grpc.ssl_channel_credentials())
    call = channel.unary_unary(
        EXPORT_METHOD, request_serializer=None, response_deserializer=None
    )  # bytes in, bytes out: the request is encoded already

    def send(request: bytes) -> None:
        call(request, timeout=timeout_s)

    return send


class OtlpLogSink:
    """Each record and event as an OTLP log record (``store.otlp_logs``), to a Collector. A ``RecordSink``.

    The request path appends the record's line (made once, ``record_line``) to a list; ``flush`` (4 times a second)
    hands the batch to a background thread that encodes and sends it (``send``: ``grpc_sender``). A batch that
    cannot be sent after ``retries`` attempts, or that finds ``max_pending`` records already waiting (a Collector
    down for long), is dropped and counted (``dropped``): the segments on disk, if any, still have it. Never raises.
    """

    def __init__(
        self,
        send: Callable[[bytes], None],
        resource: dict[str, str | bool | int | float] | None = None,
        *,
        max_pending: int = 30_000,
        retries: int = 3,
        backoff_s: float = 1.0,
    ) -> None:
        from triage import __version__  # noqa: PLC0415

        self._send = send
        self._resource = dict(resource or {"service.name": "triage"})
        self._version = __version__
        self._pending: list[_Item] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[list[_Item] | None] = queue.Queue()
        self._waiting = 0  # records queued for the thread
        self.max_pending = max_pending
        self.retries = retries
        self.backoff_s = backoff_s
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self._last_error_log = -1e18
        self._thread = threading.Thread(target=self._run, name="triage-otlp-logs", daemon=True)
        self._thread.start()

    def record(self, record: DecisionRecord, line: bytes) -> None:
        item = _Item("decision", record.time_unix_ms, record.decision_id, record.trace_id, line)
        with self._lock:
            self._pending.append(item)

    def event(self, event: Event) -> None:
        line = orjson.dumps(event.to_dict(), option=orjson.OPT_APPEND_NEWLINE)
        item = _Item("event", event.time_unix_ms, event.decision_id, None, line)
        with self._lock:
            self._pending.append(item)

    def flush(self) -> None:
        """Hand the buffered records to the export thread."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        if self._waiting + len(batch) > self.max_pending:
            self.dropped += len(batch)
            self._failed(f"{self._waiting} log records still waiting for the Collector: {len(batch)} dropped")
            return
        self._waiting += len(batch)
        self._queue.put(batch)

    def close(self, timeout_s: float = 5.0) -> None:
        """Flush, send what is queued (for at most ``timeout_s``), stop the thread."""
        self.flush()
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                self._export(batch)
            except Exception:
                self.dropped += len(batch)
                self._failed(f"cannot export {len(batch)} log records (dropped)")
            finally:
                self._waiting -= len(batch)

    def _export(self, batch: list[_Item]) -> None:
        for request in encode_logs(batch, self._resource, self._version, time.time_ns()):
            for attempt in range(self.retries):
                try:
                    self._send(request)
                    break
                except Exception:
                    if attempt == self.retries - 1:
                        raise
                    time.sleep(self.backoff_s * 2**attempt)
        self.sent += len(batch)

    def _failed(self, message: str) -> None:
        self.errors += 1
        now = time.monotonic()
        if now - self._last_error_log >= 60:
            self._last_error_log = now
            log.warning("store: %s (%d errors so far; logged once a minute)", message, self.errors, exc_info=True)


class Sinks:
    """Several sinks as one: each gets every record and event; one failing does not stop the others. Captured
    content is not theirs to share: it goes to the segment writer alone (``segment_writer``)."""

    def __init__(self, *sinks: Any) -> None:
        self.sinks = sinks

    def __iter__(self) -> Iterator[Any]:
        return iter(self.sinks)

    def record(self, record: DecisionRecord, line: bytes) -> None:
        for sink in self.sinks:
            try:
                sink.record(record, line)
            except Exception:
                log.exception("store: %s failed on a record (ignored)", type(sink).__name__)

    def event(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink.event(event)
            except Exception:
                log.exception("store: %s failed on an event (ignored)", type(sink).__name__)

    def flush(self) -> None:
        for sink in self.sinks:
            try:
                sink.flush()
            except Exception:
                log.exception("store: %s failed to flush (ignored)", type(sink).__name__)


def make_sink(cfg: StoreConfig, *, otlp: OtlpLogSink | None = None) -> SegmentWriter | OtlpLogSink | Sinks | None:
    """The record sink ``cfg`` asks for: the segment writer when ``store.path`` is set, and ``otlp`` (the OTLP log
    sink ``triage.telemetry.setup.store_log_sink`` made for ``store.otlp_logs``) when given; both, one, or none."""
    sinks: list[SegmentWriter | OtlpLogSink] = []
    if cfg.path is not None:
        sinks.append(SegmentWriter.from_config(cfg))
    if otlp is not None:
        sinks.append(otlp)
    if not sinks:
        return None
    return sinks[0] if len(sinks) == 1 else Sinks(*sinks)


def segment_writer(sink: SegmentWriter | OtlpLogSink | Sinks | None) -> SegmentWriter | None:
    """The segment writer among the sinks ``make_sink`` made, if any: the only place captured content goes
    (``store.capture``; local files, never the OTLP log records)."""
    for one in sink if isinstance(sink, Sinks) else (sink,):
        if isinstance(one, SegmentWriter):
            return one
    return None
