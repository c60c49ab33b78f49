"""Training: hashed features → a linear task head (softmax) and a linear difficulty head (sigmoid).

Both heads are rows of one ``[dim, K + 1]`` table, which is exactly what the ONNX graph gathers, so the
exported model computes the same logits as the trainer. Optimisation is mini-batch Adam in numpy with
L2 regularisation and a linearly decaying step size; everything is seeded and single-threaded, so the
same data and seed give the same weights.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from triage.classifier.features import Dense, FeatureConfig, Featurizer
from triage.train.data import Example

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class FitConfig:
    """Optimiser settings for one head."""

    epochs: int = 6
    batch: int = 128
    lr: float = 0.02
    l2: float = 1e-5
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Head:
    """A fitted linear head: ``logits = x @ weights + bias``; ``weights`` is ``[dim, outputs]``."""

    weights: F32
    bias: F32


def design_matrix(examples: Sequence[Example], featurizer: Featurizer) -> sp.csr_matrix:
    """Rows of hashed features, duplicates summed: the same vector the ONNX graph reduces to."""
    ids: list[npt.NDArray[np.int64]] = []
    vals: list[F32] = []
    indptr = [0]
    for ex in examples:
        i, v = featurizer.featurize(ex.inp)
        ids.append(i)
        vals.append(v)
        indptr.append(indptr[-1] + len(i))
    matrix = sp.csr_matrix(
        (np.concatenate(vals), np.concatenate(ids), np.asarray(indptr, dtype=np.int64)),
        shape=(len(examples), featurizer.config.dim),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    return matrix


def balanced_weights(labels: Sequence[str], sources: Sequence[str]) -> F32:
    """Each class gets the same total weight; inside a class a source's share grows only as sqrt(size).

    So a big templated source (T0's classification templates) cannot drown a class's other sources.
    """
    cell = Counter(zip(labels, sources, strict=True))
    per_class: dict[str, float] = {}
    for (label, _), n in cell.items():
        per_class[label] = per_class.get(label, 0.0) + math.sqrt(n)
    w = np.array(
        [
            math.sqrt(cell[(lab, src)]) / cell[(lab, src)] / per_class[lab]
            for lab, src in zip(labels, sources, strict=True)
        ],
        dtype=np.float64,
    )
    return np.asarray(w * len(w) / w.sum(), dtype=np.float32)


class _Adam:
    def __init__(self, shapes: Sequence[tuple[int, ...]], lr: float) -> None:
        self.m = [np.zeros(s, dtype=np.float32) for s in shapes]
        self.v = [np.zeros(s, dtype=np.float32) for s in shapes]
        self.lr = lr
        self.t = 0

    def step(self, params: Sequence[F32], grads: Sequence[F32], lr_scale: float) -> None:
        self.t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        c1 = 1 - b1**self.t
        c2 = 1 - b2**self.t
        step = np.float32(self.lr * lr_scale * math.sqrt(c2) / c1)
        for param, grad, mom, var in zip(params, grads, self.m, self.v, strict=True):
            np.multiply(mom, np.float32(b1), out=mom)
            np.add(mom, np.float32(1 - b1) * grad, out=mom)
            np.multiply(var, np.float32(b2), out=var)
            np.add(var, np.float32(1 - b2) * (grad * grad), out=var)
            np.subtract(param, step * mom / (np.sqrt(var) + np.float32(eps)), out=param)


def _softmax(z: F32) -> F32:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)


def _sigmoid(z: F32) -> F32:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))), dtype=np.float32)


def _fit(
    x: sp.csr_matrix,
    target: F32,
    weight: F32,
    outputs: int,
    cfg: FitConfig,
    binary: bool,
) -> Head:
    """Mini-batch Adam on weighted cross-entropy; ``target`` is one-hot [n, K] or soft [n, 1]."""
    n, dim = x.shape
    w = np.zeros((dim, outputs), dtype=np.float32)
    b = np.zeros((1, outputs), dtype=np.float32)
    if binary:
        mean = float(np.clip((target[:, 0] * weight).sum() / weight.sum(), 1e-4, 1 - 1e-4))
        b[0, 0] = math.log(mean / (1 - mean))
    opt = _Adam([w.shape, b.shape], cfg.lr)
    order = np.arange(n)
    rng = np.random.default_rng(cfg.seed)
    steps = cfg.epochs * math.ceil(n / cfg.batch)
    done = 0
    for _ in range(cfg.epochs):
        rng.shuffle(order)
        for start in range(0, n, cfg.batch):
            idx = order[start : start + cfg.batch]
            xb = x[idx]
            z = np.asarray(xb @ w) + b
            p = _sigmoid(z) if binary else _softmax(z)
            wb = weight[idx, None]
            d = ((p - target[idx]) * wb / wb.sum()).astype(np.float32)
            gw = np.asarray(xb.T @ d + np.float32(cfg.l2) * w, dtype=np.float32)
            gb = d.sum(axis=0, keepdims=True)
            opt.step([w, b], [gw, gb], 1.0 - done / steps)
            done += 1
    return Head(w, b[0])


def fit_task_head(x: sp.csr_matrix, labels: Sequence[str], vocab: Sequence[str], weight: F32, cfg: FitConfig) -> Head:
    """Softmax regression over ``vocab`` (the label order of the exported model)."""
    index = {label: i for i, label in enumerate(vocab)}
    target = np.zeros((len(labels), len(vocab)), dtype=np.float32)
    target[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
    return _fit(x, target, weight, len(vocab), cfg, binary=False)


def fit_strong_head(x: sp.csr_matrix, target: Sequence[float], weight: F32, cfg: FitConfig) -> Head:
    """Logistic regression on soft targets in [0, 1]: P(the strong model is needed)."""
    t = np.asarray(target, dtype=np.float32)[:, None]
    return _fit(x, t, weight, 1, cfg, binary=True)


@dataclass(frozen=True, slots=True)
class LengthPrior:
    """A fixed length term on the difficulty logit: ``beta * (ln(1 + tokens) - ln(1 + ref_tokens))``.

    ``tokens`` is the input-size estimate of the whole request (every message), the featurizer's continuous
    ``Dense.LOG_TOKENS`` signal, so the prior is one weight in the exported table and costs nothing at run time.
    Not capped: across held-out sources size is the signal that carries over best, and a long document is
    also the most expensive request to send to the strong model, which the ladder's prices weigh separately.
    ``beta = 0`` turns it off.
    """

    beta: float = 0.0
    ref_tokens: int = 64
    numbers: float = 0.0  # weight per ln(1 + runs of digits): within a math task, more quantities, more steps


def add_length_prior(head: Head, features: FeatureConfig, prior: LengthPrior) -> Head:
    """``head`` (one output: the difficulty logit) with ``prior`` added: a weight on the log-size row, a shift of
    the bias that centres it at ``ref_tokens``."""
    if prior.beta == 0.0 and prior.numbers == 0.0:
        return head
    weights = head.weights.copy()
    base = 1 << features.hash_bits
    # A dense row's value is its signal times dense_weight.
    weights[base + Dense.LOG_TOKENS, -1] += np.float32(prior.beta / features.dense_weight)
    weights[base + Dense.NUMBERS, -1] += np.float32(prior.numbers / features.dense_weight)
    bias = head.bias.copy()
    bias[-1] -= np.float32(prior.beta * math.log1p(prior.ref_tokens))
    return Head(weights, bias)


def predict_task(head: Head, x: sp.csr_matrix) -> F32:
    return _softmax(np.asarray(x @ head.weights) + head.bias)


def predict_strong(head: Head, x: sp.csr_matrix) -> F32:
    out: F32 = _sigmoid(np.asarray(x @ head.weights) + head.bias)[:, 0]
    return out


def combine(task: Head, strong: Head) -> tuple[F32, F32]:
    """The export table ``[dim, K + 1]`` and bias ``[K + 1]``: task logits first, the strong logit last."""
    table = np.concatenate([task.weights, strong.weights], axis=1).astype(np.float32)
    bias = np.concatenate([task.bias, strong.bias]).astype(np.float32)
    return table, bias


def seeded(seed: int, name: str) -> random.Random:
    """A ``random.Random`` per purpose, so adding a draw in one place does not shift every other one."""
    return random.Random(f"{seed}:{name}")
