"""A realistic mixed traffic sample for ``triage calibrate``: chat requests in the proportions a general
assistant sees, never the benchmark test sets.

Mix (by task): mostly open questions and code, then editing, summarisation, extraction, writing, ideas,
translation, some math and a little classification and puzzle-solving, drawn from the project's own
request generators (``triage.train.synth``) with a seed of their own; plus, when the data directory is given,
real Chatbot Arena prompts (arena-hard, Apache-2.0) as the hard tail. Lines are ``{"prompt", "system"}``
(single turn) or ``{"messages": [...]}`` (follow-ups in a conversation), the shapes ``triage calibrate`` reads.

``python -m triage.train.traffic --out FILE [--n 2000] [--seed 7] [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from triage.train import synth

# Share of requests per task label in the sample (sums to 1 with ARENA_SHARE).
TASK_MIX = {
    "open_qa": 0.22,
    "code": 0.18,
    "rewrite": 0.09,
    "summarization": 0.09,
    "extraction": 0.07,
    "creative_writing": 0.07,
    "brainstorming": 0.06,
    "translation": 0.05,
    "math": 0.05,
    "classification": 0.03,
    "reasoning": 0.02,
}
ARENA_SHARE = 0.07


def _line(ex_prompt: str, system: str, turns: int, r: random.Random) -> dict[str, Any]:
    if turns <= 1:
        return {"prompt": ex_prompt, "system": system} if system else {"prompt": ex_prompt}
    messages: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    for i in range(turns - 1):
        messages.append({"role": "user", "content": f"(earlier question {i + 1})"})
        messages.append({"role": "assistant", "content": "(earlier answer) " * r.randint(20, 120)})
    messages.append({"role": "user", "content": ex_prompt})
    return {"messages": messages}


def build(n: int, seed: int, data: Path | None = None) -> list[dict[str, Any]]:
    """``n`` request lines, deterministic in ``seed``."""
    r = random.Random(f"{seed}:traffic")
    by_task: dict[str, list[synth.Template]] = defaultdict(list)
    for template in synth.TEMPLATES:
        by_task[template.task].append(template)
    ctx = synth.SynthContext()
    arena: list[str] = []
    if data is not None:
        path = data / "tasks" / "chat_prompts" / "arena_hard_v0.1_question.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                prompt = json.loads(line).get("prompt") if line.strip() else None
                if isinstance(prompt, str) and prompt.strip():
                    arena.append(prompt)
    mix = dict(TASK_MIX)
    if arena:
        mix["arena"] = ARENA_SHARE
    labels, weights = list(mix), list(mix.values())
    out: list[dict[str, Any]] = []
    for _ in range(n):
        task = r.choices(labels, weights)[0]
        if task == "arena":
            out.append({"prompt": r.choice(arena)})
            continue
        ex = synth.render(r.choice(by_task[task]), ctx, r)
        out.append(_line(ex.inp.prompt, ex.inp.system, ex.inp.user_turns, r))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m triage.train.traffic", description=__doc__.split("\n", 1)[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--data", type=Path, default=None, help="data root, for arena-hard prompts (optional)")
    args = p.parse_args(argv)
    lines = build(args.n, args.seed, args.data)
    args.out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    print(f"wrote {len(lines)} requests to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
