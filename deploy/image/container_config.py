"""Write the image's default configuration (run in the Dockerfile's builder stage, with the image's own triage).

It is triage's embedded default (the demo stack's routes, tiers and policy) with the addresses a container
needs: the gRPC server (ext_proc + health) on every interface, so that a kubelet gRPC probe reaches it, and on
the Unix socket in /var/run/triage (an emptyDir shared with Envoy); Prometheus /metrics on :9464 when this
triage has ``telemetry.metrics_listen``. The result is validated by the loader ``triage serve`` uses.

Usage: python container_config.py OUTPUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from triage.config import TelemetryConfig, default_config_text, load_config

HEADER = """\
# The image's default configuration: triage's embedded default (`triage/defaults/triage.yaml`: demo providers on
# 127.0.0.1, routes, tiers, policy) with the container's listen addresses. Mount your own over /etc/triage;
# `triage check-config FILE` validates it.
"""


def main(output: str) -> int:
    data = yaml.safe_load(default_config_text())
    data["server"]["listen"] = ["0.0.0.0:50051", "unix:/var/run/triage/triage.sock"]
    if "metrics_listen" in TelemetryConfig.model_fields:
        data["telemetry"]["metrics_listen"] = "0.0.0.0:9464"
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + yaml.safe_dump(data, sort_keys=False, width=120), encoding="utf-8")
    load_config(path)  # raises ConfigError, failing the build, if the result is not a valid configuration
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
