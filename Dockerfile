# Triage, the ext_proc sidecar (`triage serve`), in a small non-root image.
#
#   docker build -t triage .    the builder stage fetches triage-router's dependencies from the package index
#   make image                  buildah, no Docker engine or registry: wheels built on the host, a local base
#
# It runs as UID/GID 10001 and writes nothing outside its volumes, so it runs with a read-only root filesystem:
# the only writable place it needs is /var/run/triage (the gRPC Unix socket; an emptyDir shared with Envoy).
# Mount your configuration over /etc/triage (the default there is the embedded demo configuration, listening on
# 0.0.0.0:50051, where a kubelet gRPC probe reaches it, and on unix:/var/run/triage/triage.sock).
#
# BASE must provide python3 3.11 with the venv module: the official slim image (python3 in /usr/local/bin) or
# the Debian bookworm base `make image` builds when that is not available (python3 in /usr/bin).
ARG BASE=python:3.11.17-slim-bookworm

FROM ${BASE} AS builder
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# The context is only pyproject.toml, README.md, src/, deploy/image/ and .build/wheels/ (see .dockerignore).
COPY . /src
# .build/wheels (made by `make image`) holds triage-router and every runtime dependency; without it (a plain
# `docker build`) the wheels are built here first. Either way the install itself is offline. xds-protos ships old
# copies of opentelemetry-proto's modules, so the real ones go back on top (as `make install` does). Test suites
# of the dependencies are dropped (~30 MB).
RUN python3 -m venv /opt/triage \
 && if [ ! -d /src/.build/wheels ]; then /opt/triage/bin/pip wheel --wheel-dir /src/.build/wheels /src; fi \
 && /opt/triage/bin/pip install --no-index --find-links /src/.build/wheels /src/.build/wheels/triage_router-*.whl \
 && otel_proto=$(/opt/triage/bin/python -c 'import importlib.metadata as m; print(m.version("opentelemetry-proto"))') \
 && /opt/triage/bin/pip install --no-index --find-links /src/.build/wheels --force-reinstall --no-deps \
        "opentelemetry-proto==${otel_proto}" \
 && /opt/triage/bin/pip uninstall --yes pip setuptools \
 && find /opt/triage/lib -depth -type d -name tests -exec rm -rf {} + \
 && /opt/triage/bin/python -c 'import opentelemetry.proto.collector.trace.v1.trace_service_pb2, triage.app' \
 && /opt/triage/bin/triage explain "Prove that sqrt(2) is irrational." >/dev/null \
 && /opt/triage/bin/python /src/deploy/image/container_config.py /etc/triage/triage.yaml

FROM ${BASE}
# No pip in the final image (the official base installs one for its interpreter; the app's venv has none).
RUN if python3 -m pip --version >/dev/null 2>&1; then python3 -m pip uninstall --yes pip setuptools wheel; fi \
 && groupadd --gid 10001 triage \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin triage \
 && mkdir -p /var/run/triage \
 && chown 10001:10001 /var/run/triage
COPY --from=builder /opt/triage /opt/triage
COPY --from=builder /etc/triage /etc/triage
# ORT_DISABLE_TELEMETRY: ONNX Runtime's own telemetry off (it also tries to persist a device ID in ~/.cache).
ENV PATH=/opt/triage/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ORT_DISABLE_TELEMETRY=1
USER 10001:10001
VOLUME ["/var/run/triage"]
# 50051: gRPC, ext_proc and grpc.health.v1; 9464: Prometheus /metrics (telemetry.metrics_listen).
EXPOSE 50051 9464
ENTRYPOINT ["triage"]
CMD ["serve", "-c", "/etc/triage/triage.yaml"]

# Last, so that a new revision or date rebuilds only this step.
ARG BASE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="triage" \
      org.opencontainers.image.description="LLM request router for Envoy: an ext_proc sidecar that picks the model route for each request" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${BASE}"
