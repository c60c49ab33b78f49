"""Fit the verifier's weights to labelled answers: an operator's own traffic replaces the default priors.

``calibrate(samples)`` takes ``(signals, acceptable)`` pairs of one task (the ``Signals`` a verdict carried, or
``Signals.to_dict()`` read back with ``Signals.from_dict``, and whether the answer turned out acceptable: a
feedback rating, a judge, an A/B comparison with the strong route) and returns fitted ``Weights``:

- ``method="logistic"`` fits the intercept and every coefficient: a logistic regression whose L2 penalty pulls
  towards the ``prior`` weights instead of zero (a maximum a-posteriori fit under a Gaussian prior of precision
  ``l2`` centred on them). A signal the samples never show keeps its prior weight, and a few hundred samples
  move the weights only as far as the data insist.
- ``method="platt"`` (Platt scaling) keeps the prior's relative weights and fits only a scale and an offset of
  its logit: two numbers, enough to calibrate a model whose ranking is right from a few dozen samples.

Fitting is Newton's method on the penalised log-likelihood (a strictly concave objective for ``l2 > 0``, so it
has one optimum and the step always exists), with step halving; plain numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from triage.escalation.model import DEFAULT_CONFIG, Weights
from triage.escalation.signals import FEATURES, Signals

Sample = tuple[Signals | Sequence[float], bool]
Method = Literal["logistic", "platt"]
_Array = npt.NDArray[np.float64]


def _features(item: Signals | Sequence[float]) -> Sequence[float]:
    return item.features() if isinstance(item, Signals) else item


def _objective(design: _Array, y: _Array, w: _Array, prior: _Array, l2: float) -> float:
    z = design @ w
    loglik = float(np.sum(y * z - np.logaddexp(0.0, z)))
    return loglik - 0.5 * l2 * float(np.sum((w - prior) ** 2))


def _fit(design: _Array, y: _Array, prior: _Array, l2: float, max_iter: int) -> _Array:
    """The maximiser of the log-likelihood penalised by ``l2/2 * |w - prior|^2``."""
    w = prior.copy()
    current = _objective(design, y, w, prior, l2)
    eye = np.eye(design.shape[1])
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -35.0, 35.0)))
        gradient = design.T @ (y - p) - l2 * (w - prior)
        hessian = (design.T * (p * (1.0 - p))) @ design + l2 * eye
        step = np.linalg.solve(hessian, gradient)
        t = 1.0
        while True:
            candidate = w + t * step
            value = _objective(design, y, candidate, prior, l2)
            if value >= current - 1e-12 or t < 1e-6:
                break
            t /= 2
        w, current = candidate, value
        if float(np.max(np.abs(t * step))) < 1e-9:
            break
    return w


def calibrate(
    samples: Iterable[Sample],
    *,
    prior: Weights | None = None,
    method: Method = "logistic",
    l2: float = 1.0,
    max_iter: int = 100,
) -> Weights:
    """Weights fitted to ``samples`` (see the module docstring). ``prior``: the weights to start from and shrink
    towards (default: the default profile's). Raises ``ValueError`` for no samples, a sample whose features are
    not ``len(FEATURES)`` numbers, or ``l2 <= 0``."""
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0, got {l2}")
    start = DEFAULT_CONFIG.default.weights if prior is None else prior
    rows: list[Sequence[float]] = []
    labels: list[float] = []
    for item, acceptable in samples:
        rows.append(_features(item))
        labels.append(1.0 if acceptable else 0.0)
    if not rows:
        raise ValueError("calibrate needs at least one labelled sample")
    x = np.asarray(rows, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or not np.all(np.isfinite(x)):
        raise ValueError(f"each sample needs {len(FEATURES)} finite features ({', '.join(FEATURES)})")
    y = np.asarray(labels, dtype=np.float64)
    ones = np.ones((x.shape[0], 1))
    coefficients = np.asarray(start.coefficients, dtype=np.float64)
    if method == "platt":
        logit = x @ coefficients + start.intercept
        offset, scale = _fit(np.hstack([ones, logit[:, None]]), y, np.array([0.0, 1.0]), l2, max_iter)
        return Weights.from_vector(scale * start.intercept + offset, (scale * coefficients).tolist())
    prior_vector = np.concatenate([[start.intercept], coefficients])
    fitted = _fit(np.hstack([ones, x]), y, prior_vector, l2, max_iter)
    return Weights.from_vector(float(fitted[0]), fitted[1:].tolist())
