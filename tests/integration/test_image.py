"""The built container image: its ``triage serve`` routes a chat request for the host's real Envoy.

The image runs with ``buildah run --isolation chroot``, which shares the host's network: Triage listens on an
ephemeral 127.0.0.1 port (gRPC health) and on the Unix socket in its /var/run/triage volume (a host directory,
which is how Envoy reaches it, as through an emptyDir in a pod); the configuration is mounted over /etc/triage
and the image's own ENTRYPOINT + CMD run. Envoy (the host's binary, bootstrap from the image's
``triage envoy-config``) and fake providers run on the host.

These tests need buildah and the image in local storage (``make image``); without them they are skipped, and
``make image-test`` (which builds the image first and sets TRIAGE_IMAGE_REQUIRED=1) fails instead. The image
is TRIAGE_IMAGE (default localhost/triage:latest).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from triage.config import TelemetryConfig, load_config, parse_config
from triage.envoy.admin import AdminClient
from triage.sim.provider import FakeProvider
from triage.sim.runner import ProviderThread, free_port
from triage.sim.stack import find_envoy, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

IMAGE = os.environ.get("TRIAGE_IMAGE", "localhost/triage:latest")
REQUIRED = os.environ.get("TRIAGE_IMAGE_REQUIRED") == "1"
UID = 10001
STARTUP_TIMEOUT = 180.0  # a cold container start on two slow, busy cores
SOCKET_IN_IMAGE = "/var/run/triage/triage.sock"
ENVOY_FLAGS = ("-l", "warning", "--drain-time-s", "1")
PROMPT = "Prove that there are infinitely many primes, then explain the proof to a ten-year-old."


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (TRIAGE_IMAGE_REQUIRED=1: make image-test builds the image first)")
    pytest.skip(f"{reason}; `make image` installs buildah and builds the image, `make image-test` also runs these")


def _buildah(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=timeout, check=False)


def _checked(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"{' '.join(map(str, proc.args))} exited {proc.returncode}:\n{proc.stderr}"
    return proc.stdout


def _serving(target: str) -> bool:
    try:
        with grpc.insecure_channel(target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _container_process(pgid: int) -> int | None:
    """The image's own process (not buildah's helpers) in ``buildah run``'s process group."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"buildah" not in argv[0] and b"serve" in argv:
            return int(entry.name)
    return None


def _stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _stop_container(run: subprocess.Popen[bytes], timeout: float = 60.0) -> int | None:
    """SIGTERM to the container's process, as a runtime sends it to PID 1 (buildah itself, signalled, would
    SIGKILL it); the exit status of ``buildah run``, or None when it had to be killed with its process group."""
    if run.poll() is None:
        pid = _container_process(run.pid)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        try:
            return run.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    if run.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(10)
        return None
    return run.returncode


def _upper_dir(mountpoint: str) -> Path | None:
    """The writable overlay layer of a mounted container: what the container wrote, and nothing else."""
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1] == mountpoint and fields[2] == "overlay":
            for option in fields[3].split(","):
                if option.startswith("upperdir="):
                    return Path(option.removeprefix("upperdir="))
    return None


def _written_files(container: str) -> list[str] | None:
    """Files (not directories: buildah makes mount points) the container left in its own layer, or None when
    the storage driver is not overlay."""
    mountpoint = _checked(_buildah("mount", container)).strip()
    try:
        upper = _upper_dir(mountpoint)
        if upper is None:
            return None
        return sorted("/" + str(p.relative_to(upper)) for p in upper.rglob("*") if not p.is_dir())
    finally:
        _buildah("umount", container)


@pytest.fixture(scope="module")
def image() -> dict[str, Any]:
    """The image's OCI configuration (``buildah inspect``)."""
    if shutil.which("buildah") is None:
        _unavailable("buildah is not installed")
    inspected = _buildah("inspect", "--type", "image", IMAGE)
    if inspected.returncode != 0:
        _unavailable(f"the image {IMAGE} is not in buildah's local storage")
    config: dict[str, Any] = json.loads(inspected.stdout)["OCIv1"]["config"]
    return config


@pytest.fixture(scope="module")
def container(image: dict[str, Any]) -> Iterator[str]:
    """A working container of the image (a fresh writable layer), removed afterwards."""
    name = _checked(_buildah("from", "--pull=false", IMAGE)).strip()
    try:
        yield name
    finally:
        _buildah("rm", name)


def _in_image(container: str, *argv: str, mounts: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    volumes = [arg for mount in mounts for arg in ("-v", mount)]
    return _buildah("run", "--isolation", "chroot", *volumes, container, "--", *argv, timeout=180)


@dataclass
class Served:
    """What one request through Envoy to the containerised Triage produced."""

    config: Any
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    attempts: dict[str, list[Any]] = field(default_factory=dict)
    decision: dict[str, Any] | None = None
    metrics_status: int | None = None
    exit_status: int | None = None
    stdout: str = ""
    stderr: str = ""
    written: list[str] | None = None


def _container_config(workdir: Path, sockets: Path, providers: dict[str, FakeProvider]) -> tuple[Any, int, int | None]:
    data = load_config().model_dump(mode="json", exclude_none=True)
    for name, provider in providers.items():
        data["clusters"][name]["address"] = f"127.0.0.1:{provider.port}"
    grpc_port = free_port()
    data["server"]["listen"] = [f"127.0.0.1:{grpc_port}", f"unix:{SOCKET_IN_IMAGE}"]
    telemetry = data.setdefault("telemetry", {})
    telemetry["decision_log"] = "-"
    telemetry.pop("otlp_endpoint", None)
    metrics_port = None
    if "metrics_listen" in TelemetryConfig.model_fields:
        metrics_port = free_port()
        telemetry["metrics_listen"] = f"127.0.0.1:{metrics_port}"
    envoy = data.setdefault("envoy", {})
    envoy.pop("tracing", None)
    envoy["listen"] = "127.0.0.1:0"
    envoy["admin"] = f"127.0.0.1:{free_port()}"  # Triage reads provider health from it, over the shared network
    envoy["extproc"] = f"unix:{sockets / 'triage.sock'}"  # the host's side of the container's socket volume
    envoy["access_log"] = str(workdir / "access.log")
    envoy["attempt_log"] = str(workdir / "attempts.log")
    cfg = parse_config(data, "test_image config")
    etc = workdir / "etc"
    etc.mkdir()
    (etc / "triage.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True), sort_keys=False))
    return cfg, grpc_port, metrics_port


@pytest.fixture(scope="module")
def served(image: dict[str, Any], container: str) -> Iterator[Served]:
    workdir = Path(tempfile.mkdtemp(prefix="triage-image-"))  # short: a Unix socket path lives in it
    sockets = workdir / "run"
    sockets.mkdir()
    os.chown(sockets, UID, UID)  # the container's user creates the socket there
    base = load_config()
    providers = {
        name: FakeProvider(
            name, default_model=next(e.model for r in base.routes.values() for e in r.chain if e.cluster == name)
        )
        for name in base.clusters
    }
    threads = [ProviderThread(p) for p in providers.values()]
    run: subprocess.Popen[bytes] | None = None
    envoy: subprocess.Popen[bytes] | None = None
    stdout, stderr = workdir / "triage.stdout", workdir / "triage.stderr"
    try:
        for thread in threads:
            thread.start()
        cfg, grpc_port, metrics_port = _container_config(workdir, sockets, providers)
        result = Served(config=cfg)
        # /var/run is a symlink to /run in the image; buildah's chroot isolation resolves a mount destination
        # through it on the host's side, so the socket volume is mounted at its real path (runc, as under Docker
        # or Kubernetes, resolves /var/run/triage inside the image).
        mounts = (f"{workdir / 'etc'}:/etc/triage:ro", f"{sockets}:/run/triage")

        bootstrap = _in_image(container, "triage", "envoy-config", "-c", "/etc/triage/triage.yaml", mounts=mounts)
        (workdir / "envoy.yaml").write_text(_checked(bootstrap))

        argv = [*image["Entrypoint"], *image["Cmd"]]
        volumes = [arg for mount in mounts for arg in ("-v", mount)]
        with stdout.open("wb") as out, stderr.open("wb") as err:
            run = subprocess.Popen(
                ["buildah", "run", "--isolation", "chroot", *volumes, container, "--", *argv],
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: nothing it starts outlives the test
            )
        started = run

        def triage_up() -> bool:
            assert started.poll() is None, f"the container exited with {started.returncode}: {stderr.read_text()}"
            return _serving(f"127.0.0.1:{grpc_port}")

        wait_until("triage in the container", triage_up, STARTUP_TIMEOUT, (stderr,))

        envoy_log = workdir / "envoy.log"
        with envoy_log.open("wb") as log:
            envoy = subprocess.Popen(
                [
                    find_envoy(),
                    "-c",
                    str(workdir / "envoy.yaml"),
                    "--concurrency",
                    "1",
                    "--disable-hot-restart",
                    *ENVOY_FLAGS,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        admin = AdminClient(cfg.envoy.admin)
        wait_until("envoy", admin.ready, STARTUP_TIMEOUT, (envoy_log,))

        with httpx.Client(base_url="http://" + admin.listener_address(), timeout=60) as client:
            resp = client.post(
                "/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": PROMPT}]}
            )
        result.status, result.headers = resp.status_code, dict(resp.headers)
        result.body = resp.json()
        result.attempts = {name: p.attempts for name, p in providers.items()}
        decision_id = result.headers.get("x-triage-decision-id")

        def recorded() -> bool:
            for line in stdout.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if isinstance(record, dict) and record.get("decision_id") == decision_id:
                        result.decision = record
                        return True
            return False

        if decision_id is not None:
            wait_until("the decision record on the container's stdout", recorded, 30, (stdout, stderr))
        if metrics_port is not None:
            result.metrics_status = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).status_code

        result.exit_status = _stop_container(run)
        run = None
        result.stdout, result.stderr = stdout.read_text(errors="replace"), stderr.read_text(errors="replace")
        result.written = _written_files(container)
        yield result
    finally:
        if run is not None:
            _stop_container(run)
        if envoy is not None:
            _stop(envoy)
        for thread in threads:
            with contextlib.suppress(Exception):
                thread.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_image_runs_as_uid_10001_with_triage_serve_as_its_command(image: dict[str, Any]) -> None:
    assert image["User"] == f"{UID}:{UID}"
    assert image["Entrypoint"] == ["triage"]
    assert image["Cmd"] == ["serve", "-c", "/etc/triage/triage.yaml"]
    assert set(image["ExposedPorts"]) == {"50051/tcp", "9464/tcp"}
    assert "/var/run/triage" in image["Volumes"]
    assert "PYTHONDONTWRITEBYTECODE=1" in image["Env"]
    labels = image["Labels"]
    for key in ("title", "description", "version", "revision", "created", "licenses", "base.name"):
        assert labels.get(f"org.opencontainers.image.{key}"), key


def test_image_has_the_real_opentelemetry_protos_and_no_pip(container: str) -> None:
    probe = (
        "import importlib.util, shutil, sys\n"
        "import opentelemetry.proto.collector.trace.v1.trace_service_pb2\n"
        "sys.exit(importlib.util.find_spec('pip') is not None or any(map(shutil.which, ('pip', 'pip3'))))\n"
    )
    _checked(_in_image(container, "python3", "-c", probe))


def test_image_default_configuration_is_valid_and_listens_for_a_pod(container: str) -> None:
    assert "OK" in _checked(_in_image(container, "triage", "check-config", "/etc/triage/triage.yaml"))
    shown = _checked(_in_image(container, "cat", "/etc/triage/triage.yaml"))
    listen = yaml.safe_load(shown)["server"]["listen"]
    assert listen == ["0.0.0.0:50051", f"unix:{SOCKET_IN_IMAGE}"]


def test_image_routes_and_answers_a_chat_request_through_envoy(served: Served) -> None:
    assert served.status == 200, served.body
    route = served.headers["x-triage-route"]
    assert route in served.config.routes
    first = served.config.routes[route].chain[0]
    (attempt,) = served.attempts[first.cluster]
    assert attempt.model == first.model  # Envoy sent the model Triage chose
    assert served.body["choices"][0]["message"]["content"]


def test_image_records_the_decision_on_its_stdout(served: Served) -> None:
    assert served.decision is not None, served.stdout
    assert served.decision["route"] == served.headers["x-triage-route"]
    assert served.decision["status"] == 200
    assert served.decision["reason"] in ("classified", "uncertain")


def test_image_stops_cleanly_on_sigterm(served: Served) -> None:
    assert served.exit_status == 0, served.stderr


def test_image_writes_nothing_outside_its_volumes(served: Served) -> None:
    if served.written is None:
        pytest.skip("the container storage driver is not overlay: its writable layer cannot be listed")
    assert [p for p in served.written if not p.startswith("/tmp/")] == []


def test_image_serves_prometheus_metrics(served: Served) -> None:
    if served.metrics_status is None:
        pytest.skip("this triage has no telemetry.metrics_listen")
    assert served.metrics_status == 200
