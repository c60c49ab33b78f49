"""A realistic mixed traffic sample for ``triage calibrate``: chat requests in the proportions a general
assistant sees, never the benchmark test sets.

Mix (by task): mostly open questions and code, then editing, summarisation, extraction, writing, ideas,
translation, some math and a little classification and puzzle-solving, drawn from the project's own
request generators (``triage.train.synth``) with a seed of their own; plus, when the data directory is given,
real Chatbot Arena prompts (arena-hard, Apache-2.0) as the hard tail. Lines are ``{"prompt", "system"}``
(single turn) or ``{"messages": [...]}`` (follow-ups in a conversation), the shapes ``triage calibrate`` reads.

``--real-users`` writes instead the real users' own requests among the commercial-use sources: every
OpenAssistant validation query (the last user turn, after its earlier turns), the Self-Instruct seed tasks, and
the arena-hard prompts as the hard tail. This is the sample the shipped ladder is calibrated on; each line also
carries ``source`` and, where the source has one, its hand-proposed ``label`` (``triage calibrate`` ignores both).

``python -m triage.train.traffic --out FILE [--n 2000] [--seed 7] [--data ../shared/data] [--real-users]``
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


def real_users(data: Path) -> list[dict[str, Any]]:
    """The real-user calibration sample (see the module docstring), in file order."""
    tasks = data / "tasks"
    out: list[dict[str, Any]] = []
    r = random.Random("real-users")
    path = tasks / "oasst1_val_qlora" / "oa_questions.jsonl"
    for rec in _objects(path):
        text = str(rec.get("last_user_turn") or "")
        if text.strip():
            line = _line(text, "", max(1, int(rec.get("n_user_turns") or 1)), r)
            out.append({**line, "source": "oasst1", "label": rec.get("label")})
    for rec in _objects(tasks / "self_instruct" / "seed_tasks.jsonl"):
        out.append({"prompt": str(rec["prompt"]), "source": "self_instruct", "label": rec.get("label")})
    for rec in _objects(tasks / "chat_prompts" / "arena_hard_v0.1_question.jsonl"):
        if isinstance(rec.get("prompt"), str) and rec["prompt"].strip():
            out.append({"prompt": rec["prompt"], "source": "arena_hard", "label": None})
    return out


def _objects(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m triage.train.traffic", description=__doc__.split("\n", 1)[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--data", type=Path, default=None, help="data root, for arena-hard prompts (optional)")
    p.add_argument("--real-users", action="store_true", help="real users' requests from --data instead (see above)")
    args = p.parse_args(argv)
    if args.real_users and args.data is None:
        p.error("--real-users needs --data")
    lines = real_users(args.data) if args.real_users else build(args.n, args.seed, args.data)
    args.out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    print(f"wrote {len(lines)} requests to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
