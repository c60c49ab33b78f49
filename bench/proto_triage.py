"""Triage with candidate speed-ups applied at run time, to measure them beside the real one in the same run.

``src/`` is not touched: each change is a small patch applied before ``triage serve`` starts, named so the
report says exactly what was measured. Use it as the second Triage of ``bench/envoy_overhead.py``::

    python bench/envoy_overhead.py --configs envoy,noop4,triage \\
        --alt-triage-cmd "python bench/proto_triage.py --proto inline,record serve"

Changes (comma-separated after ``--proto``):

- ``inline``   classify on the event-loop thread instead of ``run_in_executor`` + ``asyncio.wait_for``
               (``Processor._classify``): saves the hand-off to the inference thread and back (a future, a
               self-pipe wake-up, a GIL hand-over, a timer), but the deadline can no longer pre-empt a slow
               inference, and other streams wait while it runs;
- ``record``   ``DecisionRecord.to_dict`` without ``dataclasses.asdict`` (which deep-copies every field);
- ``gc``       ``gc.freeze()`` once serving, and a larger generation-0 threshold (fewer collections on the
               request path);
- ``switch``   ``sys.setswitchinterval(0.0005)``: a thread waiting for the GIL (the inference thread handing
               back its result, or the loop) gets it after 0.5 ms instead of 5 ms.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

CHANGES = ("inline", "record", "gc", "switch")


def _inline_classify() -> None:
    from triage.extproc import processor as proc

    async def _classify(self: Any, parsed: Any) -> tuple[Any, Any]:
        try:
            return self.rt.classifier.score(parsed.input), None
        except Exception as err:
            proc.log.exception("classifier failed (failing open)")
            outcome = proc.outcome_for(err)
        return None, outcome.reason  # type: ignore[union-attr]

    proc.Processor._classify = _classify


def _fast_record() -> None:
    from dataclasses import fields

    from triage.record import DecisionRecord

    names = tuple(f.name for f in fields(DecisionRecord))

    def to_dict(self: DecisionRecord) -> dict[str, Any]:
        out = {}
        for name in names:
            value = getattr(self, name)
            if value is None or value == []:
                continue
            out[name] = list(value) if isinstance(value, list) else value
        return out

    DecisionRecord.to_dict = to_dict  # type: ignore[method-assign]


def _gc_after_start() -> None:
    from triage.extproc import server

    original = server.TriageServer.ready

    async def ready(self: Any, holder: Any) -> None:
        await original(self, holder)
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 50)

    server.TriageServer.ready = ready  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    changes: list[str] = []
    if len(argv) >= 2 and argv[0] == "--proto":
        changes = [c for c in argv[1].split(",") if c]
        argv = argv[2:]
    unknown = [c for c in changes if c not in CHANGES]
    if unknown:
        print(f"unknown changes {unknown}; choose from {CHANGES}", file=sys.stderr)
        return 2
    if "inline" in changes:
        _inline_classify()
    if "record" in changes:
        _fast_record()
    if "gc" in changes:
        _gc_after_start()
    if "switch" in changes:
        sys.setswitchinterval(0.0005)
    print(f"proto_triage: changes={','.join(changes) or 'none'}", file=sys.stderr, flush=True)
    from triage.cli import main as triage_main

    return int(triage_main(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
