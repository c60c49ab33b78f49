"""The do-nothing ext_proc server on ``triage.wire``, started the way ``triage serve`` is: ``--config FILE``.

For ``bench/envoy_overhead.py --alt-triage-cmd``, which appends ``--config FILE`` to the command and waits for
gRPC health SERVING on the config's ``server.listen`` addresses::

    python bench/envoy_overhead.py --configs envoy,noop4,triage-alt \\
        --alt-triage-cmd "python bench/noop_wire.py" --rounds 3 --n 600 --warmup 100

Reads ``server.listen`` from the YAML and runs ``bench/noop_extproc.py --style wire`` on those addresses (the
same constant replies as the grpcio do-nothing server, ``--route`` as there). Serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import noop_extproc  # a sibling script, not a package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="a Triage config: server.listen is served")
    parser.add_argument("--route", default="economy", help="value of x-triage-route set on the body")
    args = parser.parse_args(argv)
    data = yaml.safe_load(args.config.read_text()) or {}
    listen = (data.get("server") or {}).get("listen") or ["127.0.0.1:50051"]
    cmd = ["--style", "wire", "--route", args.route]
    for address in listen:
        cmd += ["--listen", address]
    return noop_extproc.main(cmd)


if __name__ == "__main__":
    sys.exit(main())
