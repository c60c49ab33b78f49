"""The production classifier: a model bundle directory loaded into one ONNX Runtime session.

A bundle holds ``model.onnx``, ``labels.json`` (the task labels in the model's output order),
``features.json`` (the featurizer config it was trained with) and ``manifest.json`` (version and the
sha256 of ``model.onnx``). The graph contract: inputs ``ids`` int64 [N] and ``vals`` float32 [N], outputs
``task_probs`` float32 [1, K] (softmax, ``labels.json`` order) and ``p_strong`` float32 [1] (sigmoid).

Serving fast path: when ``model.onnx`` is exactly the graph ``triage.train.export.build_model`` writes (an
embedding bag: ``logits = vals @ table[ids] + bias``, then softmax and sigmoid) and agrees with ONNX
Runtime on probe inputs at load, ``score`` evaluates that arithmetic with numpy (one row gather, one dot
product) instead of calling the session. Per request that is ~3x cheaper when caches are cold, as they are
in production between requests, because a session run walks a lot of ONNX Runtime code for a tiny graph.
Any other graph, or any disagreement beyond ``FAST_PATH_TOLERANCE``, is served by the session as before.

Native path: when the fast path is allowed and the optional C extension is built (``triage.classifier.native``;
``TRIAGE_NATIVE=0`` turns it off), ``score`` featurizes and evaluates the bag in one C call instead, 8-20x
cheaper again with cold caches (``bench/classifier_cost.py`` measures both). It is used only if, on
``native.PROBES``, its rows equal the numpy featurizer's bit for bit and its outputs are within
``FAST_PATH_TOLERANCE`` of ONNX Runtime; otherwise the numpy fast path serves. ``backend`` says which of
``native``, ``numpy`` and ``onnxruntime`` scores requests.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from triage.classifier import native
from triage.classifier.base import TASK_LABELS, Scores
from triage.classifier.features import FEATURES_FILE, FeatureConfig, Featurizer, IdArray, ValArray
from triage.errors import ModelLoadError
from triage.requests.input import RoutingInput

MODEL_FILE = "model.onnx"
LABELS_FILE = "labels.json"
MANIFEST_FILE = "manifest.json"
INPUTS = ("ids", "vals")
OUTPUTS = ("task_probs", "p_strong")
FAST_PATH_TOLERANCE = 1e-5  # max |numpy - ONNX Runtime| over the probe outputs for the fast path to be used

log = logging.getLogger(__name__)

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
        bag: EmbeddingBag | None = None,
        scorer: native.NativeScorer | None = None,
    ) -> None:
        self._session = session
        self._featurizer = featurizer
        self._labels = tuple(labels)
        self._version = version
        self.bundle_dir = bundle_dir
        self._bag = bag
        self._infer = bag if bag is not None else self._run_session
        self._native = scorer
        self._score = scorer.score if scorer is not None else self._score_rows

    @classmethod
    def load(cls, bundle_dir: Path, *, fast_path: bool = True) -> OnnxClassifier:
        """Load and check a bundle; raise ``ModelLoadError`` if anything is missing, corrupt or incompatible.

        ``fast_path=False`` always runs the ONNX Runtime session (see the module docstring); with
        ``fast_path=True`` the native path is tried first, then the numpy one.
        """
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
        bag = EmbeddingBag.from_model(model_bytes, session, len(labels), config) if fast_path else None
        featurizer = Featurizer(config)
        scorer = _native_scorer(bag, featurizer, session) if bag is not None else None
        return cls(session, featurizer, labels, manifest["version"], bundle_dir, bag, scorer)

    @property
    def version(self) -> str:
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    @property
    def featurizer(self) -> Featurizer:
        return self._featurizer

    @property
    def backend(self) -> str:
        """What scores requests: ``"native"`` (the C extension), ``"numpy"`` (the fast path) or ``"onnxruntime"``.

        ``run`` (precomputed rows) is evaluated by numpy when this is ``"native"`` or ``"numpy"``.
        """
        if self._native is not None:
            return "native"
        return "numpy" if self._bag is not None else "onnxruntime"

    @property
    def native_scorer(self) -> native.NativeScorer | None:
        """The native scorer when ``backend`` is ``"native"`` (``(inp) -> (task_probs, p_strong)``), else None."""
        return self._native

    def score(self, inp: RoutingInput) -> Scores:
        """Return the task distribution (over ``labels``) and P(strong model needed) for one input."""
        probs, p_strong = self._score(inp)
        return Scores(task_probs=dict(zip(self._labels, probs, strict=True)), p_strong=p_strong)

    def _score_rows(self, inp: RoutingInput) -> tuple[list[float], float]:
        return self._infer(*self._featurizer.featurize(inp))

    def run(self, ids: IdArray, vals: ValArray) -> tuple[np.ndarray[Any, np.dtype[np.float32]], float]:
        """Run the graph on already-computed features: ``(task_probs [K], p_strong)``."""
        probs, p_strong = self._infer(ids, vals)
        return np.asarray(probs, dtype=np.float32), p_strong

    def _run_session(self, ids: IdArray, vals: ValArray) -> tuple[list[float], float]:
        task_probs, p_strong = self._session.run(OUTPUTS, {"ids": ids, "vals": vals})
        probs: list[float] = task_probs[0].tolist()
        return probs, float(p_strong[0])

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


class EmbeddingBag:
    """The exported graph's arithmetic in numpy: ``logits = vals @ table[ids] + bias``, softmax, sigmoid.

    Built only from a graph that matches ``build_model``'s exactly (``from_model``); thread-safe (the
    arrays are read-only). The table is kept as float32, so a request is one row gather and one dot
    product; the 12 logits then go through softmax and sigmoid in Python floats.
    """

    def __init__(self, table: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]) -> None:
        self._table = _huge_page_aligned(np.ascontiguousarray(table, dtype=np.float32))
        self._bias = np.ascontiguousarray(bias, dtype=np.float32).reshape(-1)
        if self._table.ndim != 2 or self._bias.shape != (self._table.shape[1],) or len(self._bias) < 2:
            raise ValueError(f"table {self._table.shape} and bias {self._bias.shape} do not fit a [D, K+1] bag")
        self._table.flags.writeable = False
        self._bias.flags.writeable = False

    @property
    def table(self) -> npt.NDArray[np.float32]:
        """The read-only [D, K+1] table."""
        return self._table

    @property
    def bias(self) -> npt.NDArray[np.float32]:
        """The read-only [K+1] bias."""
        return self._bias

    def __call__(self, ids: IdArray, vals: ValArray) -> tuple[list[float], float]:
        """``(task_probs, p_strong)`` for one row set, as the graph computes them (to float rounding)."""
        logits: list[float] = (np.dot(vals, self._table.take(ids, 0)) + self._bias).tolist()
        strong = logits.pop()
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        total = sum(exps)
        if strong >= 0.0:
            p_strong = 1.0 / (1.0 + math.exp(-strong))
        else:  # the same value, without overflowing exp() for very negative logits
            e = math.exp(strong)
            p_strong = e / (1.0 + e)
        return [x / total for x in exps], p_strong

    @classmethod
    def from_model(
        cls, model: bytes, session: ort.InferenceSession, n_labels: int, config: FeatureConfig
    ) -> EmbeddingBag | None:
        """The bag of an exported graph, or None if ``model`` is another graph or disagrees with ``session``."""
        try:
            weights = _bag_weights(model, n_labels)
        except (ValueError, IndexError, KeyError) as exc:  # not a protobuf we can read: not ours
            log.info("classifier: no numpy fast path (%s)", exc)
            return None
        if weights is None:
            log.info("classifier: no numpy fast path (the graph is not the exported embedding bag)")
            return None
        bag = cls(*weights)
        if bag._table.shape[0] < config.dim:
            return None
        diff = _max_difference(bag, session, config)
        if not diff <= FAST_PATH_TOLERANCE:  # also catches NaN
            log.warning("classifier: numpy fast path disagrees with ONNX Runtime by %.3g; not used", diff)
            return None
        return bag


def _native_scorer(
    bag: EmbeddingBag, featurizer: Featurizer, session: ort.InferenceSession
) -> native.NativeScorer | None:
    """The native scorer of ``bag``'s weights, or None if the extension is off, missing or disagrees."""
    ext = native.load_extension()
    if ext is None:
        return None

    def fallback(inp: RoutingInput) -> tuple[list[float], float]:
        return bag(*featurizer.featurize(inp))

    def reference(ids: IdArray, vals: ValArray) -> tuple[list[float], float]:
        task_probs, p_strong = session.run(OUTPUTS, {"ids": ids, "vals": vals})
        return task_probs[0].tolist(), float(p_strong[0])

    try:
        scorer = native.NativeScorer(ext, featurizer, bag.table, bag.bias, fallback)
    except (TypeError, ValueError) as exc:
        log.warning("classifier: native path refused the model (%s); not used", exc)
        return None
    diff = native.check(scorer, reference)
    if not diff <= FAST_PATH_TOLERANCE:  # also catches NaN and inf (rows that differ)
        log.warning("classifier: native path disagrees with the featurizer or ONNX Runtime by %.3g; not used", diff)
        return None
    return scorer


_HUGE_PAGE = 2 << 20


def _huge_page_aligned(array: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """A copy of a large ``array`` that starts on a 2 MB boundary, else ``array``.

    numpy asks the kernel for transparent huge pages for large arrays, but only whole aligned 2 MB spans get
    them: aligned, every row of a 6 MB table is on a huge page, and the few thousand random rows a request
    reads cost no TLB misses (measured: ~10% of a native request with cold caches). The values are unchanged.
    """
    if array.nbytes < _HUGE_PAGE:
        return array
    raw = np.empty(array.nbytes + _HUGE_PAGE, dtype=np.uint8)
    skip = -raw.ctypes.data % _HUGE_PAGE
    aligned = raw[skip : skip + array.nbytes].view(array.dtype).reshape(array.shape)
    aligned[...] = array
    return aligned


def _max_difference(bag: EmbeddingBag, session: ort.InferenceSession, config: FeatureConfig) -> float:
    """The largest output difference between ``bag`` and ``session`` over a few fixed probe inputs."""
    rng = np.random.default_rng(20240611)
    probes = [
        (np.array([0, config.dim - 1], dtype=np.int64), np.zeros(2, dtype=np.float32)),
        (np.array([config.dim - 1], dtype=np.int64), np.ones(1, dtype=np.float32)),
    ]
    for n in (1, 7, 300, 3000):
        ids = rng.integers(0, config.dim, size=n, dtype=np.int64)
        probes.append((ids, rng.normal(0.0, 1.0 / math.sqrt(n), size=n).astype(np.float32)))
    diff = 0.0
    for ids, vals in probes:
        expected, strong = session.run(OUTPUTS, {"ids": ids, "vals": vals})
        probs, p_strong = bag(ids, vals)
        diff = max(diff, float(np.max(np.abs(np.asarray(probs) - expected[0]))), abs(p_strong - float(strong[0])))
    return diff


# The graph `triage.train.export.build_model` writes, node by node: (op_type, inputs, outputs, int attributes).
_BAG_NODES = (
    ("Gather", ("table", "ids"), ("rows_stored",), (("axis", 0),)),
    ("Cast", ("rows_stored",), ("rows",), (("to", 1),)),  # to FLOAT
    ("Unsqueeze", ("vals", "axis0"), ("weights",), ()),
    ("MatMul", ("weights", "rows"), ("pooled",), ()),
    ("Add", ("pooled", "bias"), ("logits",), ()),
    ("Slice", ("logits", "zero", "k", "one"), ("task_logits",), ()),
    ("Slice", ("logits", "k", "k1", "one"), ("strong_logit",), ()),
    ("Softmax", ("task_logits",), (OUTPUTS[0],), (("axis", 1),)),
    ("Sigmoid", ("strong_logit",), ("strong_2d",), ()),
    ("Reshape", ("strong_2d", "shape1"), (OUTPUTS[1],), ()),
)
_ONNX_DTYPES: dict[int, np.dtype[Any]] = {1: np.dtype(np.float32), 7: np.dtype(np.int64), 10: np.dtype(np.float16)}
_ATTR_INT = 2  # AttributeProto.INT


def _bag_weights(model: bytes, n_labels: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
    """``(table as float32, bias)`` if ``model`` is ``build_model``'s graph for ``n_labels`` tasks, else None."""
    graph = [value for field, value in _fields(memoryview(model)) if field == 7]  # ModelProto.graph
    if len(graph) != 1 or not isinstance(graph[0], memoryview):
        return None
    nodes: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[tuple[str, int], ...]]] = []
    tensors: dict[str, np.ndarray[Any, Any]] = {}
    for field, value in _fields(graph[0]):
        if field == 1:  # GraphProto.node
            nodes.append(_node(_as_bytes(value)))
        elif field == 5:  # GraphProto.initializer
            tensor = _tensor(_as_bytes(value))
            if tensor is None:
                return None
            tensors[tensor[0]] = tensor[1]
        elif field == 15:  # GraphProto.sparse_initializer
            return None
    if tuple(nodes) != _BAG_NODES:
        return None
    k = n_labels
    expected_ints = {"axis0": [0], "zero": [0], "k": [k], "k1": [k + 1], "one": [1], "shape1": [1]}
    if set(tensors) != {"table", "bias", *expected_ints}:
        return None
    for name, values in expected_ints.items():
        if tensors[name].dtype != np.int64 or tensors[name].tolist() != values:
            return None
    table, bias = tensors["table"], tensors["bias"]
    if table.ndim != 2 or table.shape[1] != k + 1 or table.dtype not in (np.float16, np.float32):
        return None
    if bias.shape != (1, k + 1) or bias.dtype != np.float32:
        return None
    return table.astype(np.float32), bias.reshape(-1)


def _node(data: memoryview) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[tuple[str, int], ...]]:
    """``(op_type, inputs, outputs, int attributes)`` of a NodeProto; any other attribute kind is kept as -1."""
    op_type = domain = ""
    inputs: list[str] = []
    outputs: list[str] = []
    attrs: list[tuple[str, int]] = []
    for field, value in _fields(data):
        if field == 1:
            inputs.append(_text(value))
        elif field == 2:
            outputs.append(_text(value))
        elif field == 4:
            op_type = _text(value)
        elif field == 7:
            domain = _text(value)
        elif field == 5:
            attrs.append(_attribute(_as_bytes(value)))
    if domain not in ("", "ai.onnx"):
        op_type = f"{domain}.{op_type}"
    return op_type, tuple(inputs), tuple(outputs), tuple(attrs)


def _attribute(data: memoryview) -> tuple[str, int]:
    name, kind, number, other = "", 0, 0, False
    for field, value in _fields(data):
        if field == 1:
            name = _text(value)
        elif field == 20:
            kind = _as_int(value)
        elif field == 3:
            number = _as_int(value)
        else:
            other = True
    return (name, number) if kind == _ATTR_INT and not other else (name, -1)


def _tensor(data: memoryview) -> tuple[str, np.ndarray[Any, Any]] | None:
    """``(name, array)`` of a TensorProto stored as little-endian ``raw_data``; None for any other layout."""
    name = ""
    dims: list[int] = []
    dtype: np.dtype[Any] | None = None
    raw: memoryview | None = None
    for field, value in _fields(data):
        if field == 1:  # dims: one varint each, or packed
            dims.extend([value] if isinstance(value, int) else _packed_varints(value))
        elif field == 2:
            dtype = _ONNX_DTYPES.get(_as_int(value))
        elif field == 8:
            name = _text(value)
        elif field == 9:
            raw = _as_bytes(value)
        else:  # typed data fields, external data, segments: not what build_model writes
            return None
    if dtype is None or raw is None or len(raw) != dtype.itemsize * math.prod(dims):
        return None
    return name, np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape(dims)


def _fields(data: memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """The ``(field number, value)`` pairs of one protobuf message (varints as int, the rest as bytes)."""
    i, end = 0, len(data)
    while i < end:
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        value: int | memoryview
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not supported")
        if i > end:
            raise ValueError("truncated protobuf message")
        yield field, value


def _varint(data: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _packed_varints(data: int | memoryview) -> list[int]:
    buf = _as_bytes(data)
    out: list[int] = []
    i = 0
    while i < len(buf):
        value, i = _varint(buf, i)
        out.append(value)
    return out


def _as_bytes(value: int | memoryview) -> memoryview:
    if isinstance(value, int):
        raise ValueError("expected a length-delimited protobuf field")
    return value


def _as_int(value: int | memoryview) -> int:
    if not isinstance(value, int):
        raise ValueError("expected a varint protobuf field")
    return value


def _text(value: int | memoryview) -> str:
    return bytes(_as_bytes(value)).decode("utf-8")


def default_bundle_dir() -> Path:
    """The bundle shipped inside the package (``triage/classifier/model``)."""
    return Path(str(importlib.resources.files("triage.classifier") / "model"))


def load_default(*, fast_path: bool = True) -> OnnxClassifier:
    """Load the shipped bundle; raise ``ModelLoadError`` if the package was installed without it."""
    return OnnxClassifier.load(default_bundle_dir(), fast_path=fast_path)
