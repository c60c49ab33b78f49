"""The production classifier: a model bundle directory loaded into one ONNX Runtime session.

A bundle holds ``model.onnx``, ``labels.json`` (the task labels in the model's output order),
``features.json`` (the featurizer config it was trained with) and ``manifest.json`` (version and the
sha256 of ``model.onnx``). The graph contract: inputs ``ids`` int64 [N] and ``vals`` float32 [N], outputs
``task_probs`` float32 [1, K] (softmax, ``labels.json`` order) and ``p_strong`` float32 [1] (sigmoid).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from triage.classifier.base import TASK_LABELS, Scores
from triage.classifier.features import FEATURES_FILE, FeatureConfig, Featurizer
from triage.errors import ModelLoadError
from triage.requests.input import RoutingInput

MODEL_FILE = "model.onnx"
LABELS_FILE = "labels.json"
MANIFEST_FILE = "manifest.json"
INPUTS = ("ids", "vals")
OUTPUTS = ("task_probs", "p_strong")

_WARMUP_TEXTS = (
    "Write a Python function that reverses a linked list.",
    "Translate 'good morning' into Spanish.",
    "Summarize the following article in two sentences: The city council met on Tuesday to discuss...",
)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"model bundle {path.parent}: missing {path.name}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"model bundle {path.parent}: cannot read {path.name}: {exc}") from exc


def check_labels(labels: object) -> tuple[str, ...]:
    """Return ``labels`` as a tuple if they start with ``TASK_LABELS`` in order (extras may follow)."""
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ModelLoadError("labels.json must be a JSON list of strings")
    if len(set(labels)) != len(labels):
        raise ModelLoadError("labels.json has duplicate labels")
    if tuple(labels[: len(TASK_LABELS)]) != TASK_LABELS:
        raise ModelLoadError(
            f"labels.json must start with the task labels {list(TASK_LABELS)} in that order, got {labels}"
        )
    return tuple(labels)


def session_options() -> ort.SessionOptions:
    """One thread, sequential, full graph optimisation: the decision path owns one core, not the box."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


class OnnxClassifier:
    """Scores routing inputs with a bundle's ONNX model. ``score`` is thread-safe and bounded in time."""

    def __init__(
        self,
        session: ort.InferenceSession,
        featurizer: Featurizer,
        labels: Sequence[str],
        version: str,
        bundle_dir: Path | None = None,
    ) -> None:
        self._session = session
        self._featurizer = featurizer
        self._labels = tuple(labels)
        self._version = version
        self.bundle_dir = bundle_dir

    @classmethod
    def load(cls, bundle_dir: Path) -> OnnxClassifier:
        """Load and check a bundle; raise ``ModelLoadError`` if anything is missing, corrupt or incompatible."""
        bundle_dir = Path(bundle_dir)
        if not bundle_dir.is_dir():
            raise ModelLoadError(f"model bundle {bundle_dir} is not a directory")
        labels = check_labels(_read_json(bundle_dir / LABELS_FILE))
        manifest = _read_json(bundle_dir / MANIFEST_FILE)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("version"), str):
            raise ModelLoadError(f"model bundle {bundle_dir}: manifest.json has no version string")
        features = _read_json(bundle_dir / FEATURES_FILE)
        try:
            config = FeatureConfig.from_dict(features)
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"model bundle {bundle_dir}: bad features.json: {exc}") from exc
        try:
            model_bytes = (bundle_dir / MODEL_FILE).read_bytes()
        except OSError as exc:
            raise ModelLoadError(f"model bundle {bundle_dir}: cannot read {MODEL_FILE}: {exc}") from exc
        expected = manifest.get("model_sha256")
        if expected is not None and hashlib.sha256(model_bytes).hexdigest() != expected:
            raise ModelLoadError(f"model bundle {bundle_dir}: {MODEL_FILE} does not match its manifest sha256")
        try:
            session = ort.InferenceSession(
                model_bytes, sess_options=session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own untyped errors for corrupt or invalid graphs
            raise ModelLoadError(
                f"model bundle {bundle_dir}: {MODEL_FILE} is not a loadable ONNX model: {exc}"
            ) from exc
        _check_graph(session, len(labels), config, bundle_dir)
        return cls(session, Featurizer(config), labels, manifest["version"], bundle_dir)

    @property
    def version(self) -> str:
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    @property
    def featurizer(self) -> Featurizer:
        return self._featurizer

    def score(self, inp: RoutingInput) -> Scores:
        """Return the task distribution (over ``labels``) and P(strong model needed) for one input."""
        probs, p_strong = self.run(*self._featurizer.featurize(inp))
        return Scores(task_probs=dict(zip(self._labels, probs.tolist(), strict=True)), p_strong=p_strong)

    def run(
        self, ids: np.ndarray[Any, np.dtype[np.int64]], vals: np.ndarray[Any, np.dtype[np.float32]]
    ) -> tuple[np.ndarray[Any, np.dtype[np.float32]], float]:
        """Run the graph on already-computed features: ``(task_probs [K], p_strong)``."""
        task_probs, p_strong = self._session.run(OUTPUTS, {"ids": ids, "vals": vals})
        return task_probs[0], float(p_strong[0])

    def warmup(self, texts: Iterable[str] = _WARMUP_TEXTS) -> None:
        """Score a few inputs so the first real request does not pay for lazy initialisation."""
        for text in texts:
            self.score(RoutingInput.from_text(text))


def _check_graph(session: ort.InferenceSession, n_labels: int, config: FeatureConfig, bundle_dir: Path) -> None:
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    problems: list[str] = []
    if set(inputs) != set(INPUTS):
        problems.append(f"inputs are {sorted(inputs)}, expected {list(INPUTS)}")
    if not set(OUTPUTS) <= set(outputs):
        problems.append(f"outputs are {sorted(outputs)}, expected {list(OUTPUTS)}")
    if not problems:
        ids = np.array([0, config.dim - 1], dtype=np.int64)
        vals = np.array([0.0, 0.0], dtype=np.float32)
        try:
            probs, strong = session.run(OUTPUTS, {"ids": ids, "vals": vals})
        except Exception as exc:  # the id space of features.json does not fit the model's table
            problems.append(f"the model rejects ids in [0, {config.dim}): {exc}")
        else:
            if probs.shape != (1, n_labels) or strong.shape != (1,):
                problems.append(f"output shapes {probs.shape}, {strong.shape}; expected (1, {n_labels}), (1,)")
    if problems:
        raise ModelLoadError(f"model bundle {bundle_dir}: " + "; ".join(problems))


def default_bundle_dir() -> Path:
    """The bundle shipped inside the package (``triage/classifier/model``)."""
    return Path(str(importlib.resources.files("triage.classifier") / "model"))


def load_default() -> OnnxClassifier:
    """Load the shipped bundle; raise ``ModelLoadError`` if the package was installed without it."""
    return OnnxClassifier.load(default_bundle_dir())
