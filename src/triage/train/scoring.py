"""The router's score for a prompt, exactly as the live policy computes it.

``PolicyScorer`` loads a model bundle and turns a prompt into ``policy.strong_score(scores, task_bias)``
through ``RoutingInput.from_text``: the same featurizer, ONNX graph and task-bias shift that ``decide``
compares with the ladder thresholds. So an evaluation curve and a calibrated threshold talk about the same
number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from triage import policy
from triage.classifier.base import Classifier, Scores
from triage.classifier.onnx_model import OnnxClassifier, default_bundle_dir
from triage.config import DEFAULT_TASK_BIAS, TriageConfig, load_config
from triage.requests.input import RoutingInput


@dataclass(frozen=True)
class PolicyScorer:
    """Prompt (or routing input) → the policy's strong score, with a given task bias."""

    classifier: Classifier
    task_bias: Mapping[str, float]

    @classmethod
    def load(cls, model: Path | None = None, config: Path | None = None, *, task_bias: bool = True) -> PolicyScorer:
        """The bundle at ``model`` (default: the shipped one) with the task bias of ``config`` (default: the
        embedded default configuration); ``task_bias=False`` scores with no bias (``p_strong`` itself)."""
        classifier = OnnxClassifier.load(model or default_bundle_dir())
        bias: Mapping[str, float] = {}
        if task_bias:
            bias = load_config(config).policy.task_bias if config is not None else dict(DEFAULT_TASK_BIAS)
        return cls(classifier, bias)

    @classmethod
    def for_config(cls, classifier: Classifier, config: TriageConfig) -> PolicyScorer:
        return cls(classifier, config.policy.task_bias)

    def classify(self, inp: RoutingInput) -> Scores:
        return self.classifier.score(inp)

    def score_input(self, inp: RoutingInput) -> float:
        return policy.strong_score(self.classifier.score(inp), self.task_bias)

    def score(self, prompt: str) -> float:
        return self.score_input(RoutingInput.from_text(prompt))

    def score_all(self, prompts: Iterable[str]) -> npt.NDArray[np.float64]:
        return np.array([self.score(p) for p in prompts], dtype=np.float64)


def write_scores(path: Path, prompts: Sequence[str], scores: Sequence[float] | npt.NDArray[np.float64]) -> None:
    """One JSON line per prompt: ``{"prompt": text, "score": float}``, in input order."""
    with path.open("w", encoding="utf-8") as fh:
        for prompt, score in zip(prompts, scores, strict=True):
            fh.write(json.dumps({"prompt": prompt, "score": float(score)}, ensure_ascii=False) + "\n")


def read_scores(path: Path) -> dict[str, float]:
    """A scores file as ``{prompt: score}`` (the last line wins for a repeated prompt)."""
    out: dict[str, float] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out[str(row["prompt"])] = float(row["score"])
    return out
