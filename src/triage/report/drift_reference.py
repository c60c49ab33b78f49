"""Write the shipped classifier bundle's drift reference (``drift_reference.json``, format in ``triage.report.drift``).

The sample is the one the shipped ladder is calibrated on: the real users' own requests among the commercial-use
sources (``triage.train.traffic.real_users``: OpenAssistant validation queries, Self-Instruct seed tasks,
arena-hard prompts), read from the data directory and never copied into the repository. Each request is scored by
the bundle exactly as the request path scores it (chat bodies parsed as the ext_proc server parses them), and its
top task and ``p_strong`` go into ``reference_from_scores``.

``python -m triage.report.drift_reference [--data ../shared/data] [--model DIR] [--out FILE]``

Exit codes: 0 written, 2 the data (or the sample inside it) is absent — nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from triage.report.drift import REFERENCE_FILE, DriftReference, reference_from_scores

SAMPLE = (
    "real users' requests among the commercial-use sources (triage.train.traffic --real-users: OpenAssistant "
    "validation queries, Self-Instruct seed tasks, arena-hard prompts), scored by this bundle"
)


def _routing_input(doc: Mapping[str, Any]) -> Any:
    from triage.requests import OPENAI_CHAT, RoutingInput, parse_request  # noqa: PLC0415

    if "messages" in doc:
        body = json.dumps({"model": "auto", "messages": doc["messages"]}).encode()
        return parse_request(body, OPENAI_CHAT, "application/json").input
    return RoutingInput.from_text(str(doc["prompt"]), system=str(doc.get("system") or ""))


def build_reference(data: Path, model: Path | None = None) -> DriftReference | None:
    """The reference of the bundle at ``model`` (default: the shipped one) on the real-users sample of ``data``;
    None when the sample is absent there."""
    from triage.classifier.onnx_model import OnnxClassifier, default_bundle_dir  # noqa: PLC0415
    from triage.train.traffic import real_users  # noqa: PLC0415

    lines = real_users(data) if data.is_dir() else []
    if not lines:
        return None
    classifier = OnnxClassifier.load(model or default_bundle_dir())
    tasks: list[str] = []
    scores: list[float] = []
    for doc in lines:
        s = classifier.score(_routing_input(doc))
        tasks.append(s.task)
        scores.append(s.p_strong)
    labels = json.loads(((model or default_bundle_dir()) / "labels.json").read_text(encoding="utf-8"))
    return reference_from_scores(
        tasks, scores, labels=labels, classifier_version=classifier.version, sample=SAMPLE + f" ({len(lines)})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    from triage.classifier.onnx_model import default_bundle_dir  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="python -m triage.report.drift_reference", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="data root (default ../shared/data)")
    p.add_argument("--model", type=Path, help="bundle directory (default: the shipped bundle)")
    p.add_argument("--out", type=Path, help=f"file to write (default: the bundle's {REFERENCE_FILE})")
    args = p.parse_args(list(argv) if argv is not None else None)
    reference = build_reference(args.data, args.model)
    if reference is None:
        print(
            f"drift_reference: no real-users sample under {args.data} (tasks/oasst1_val_qlora, tasks/self_instruct, "
            "tasks/chat_prompts): nothing written. Point --data at the data root.",
            file=sys.stderr,
        )
        return 2
    out = args.out or (args.model or default_bundle_dir()) / REFERENCE_FILE
    reference.write(out)
    top = sorted(reference.task_shares.items(), key=lambda kv: -kv[1])[:4]
    print(
        f"wrote {out}: {reference.n} requests, classifier {reference.classifier_version}, "
        f"top tasks {', '.join(f'{t} {s:.0%}' for t, s in top)}, p_strong deciles {list(reference.edges)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
