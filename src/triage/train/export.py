"""ONNX export, built directly with ``onnx.helper`` from numpy weights, and the bundle writer.

Graph (opset 17)::

    ids [N] int64 ──Gather(table [D, K+1] fp16)──Cast(fp32)──┐
    vals [N] float32 ──Unsqueeze(axis 0) [1, N] ─────────────MatMul──Add(bias)── logits [1, K+1]
    logits[:, :K] ──Softmax── task_probs [1, K]
    logits[:, K]  ──Sigmoid── p_strong [1]

The weighted row sum (an embedding bag) is a ``[1, N] x [N, K+1]`` MatMul; the table is stored as float16
to halve the file, and cast back so the arithmetic is float32.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from triage.classifier.features import FEATURES_FILE, FeatureConfig
from triage.classifier.onnx_model import INPUTS, LABELS_FILE, MANIFEST_FILE, MODEL_FILE, OUTPUTS

OPSET = 17
IR_VERSION = 8  # what opset 17 needs; old enough for every onnxruntime >= 1.15


def build_model(
    table: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32],
    *,
    fp16: bool = True,
    doc: str = "",
    metadata: Mapping[str, str] | None = None,
) -> onnx.ModelProto:
    """The classifier graph for a ``[D, K+1]`` table and ``[K+1]`` bias (task logits, then the strong logit)."""
    if table.ndim != 2 or bias.shape != (table.shape[1],) or table.shape[1] < 2:
        raise ValueError(f"table {table.shape} and bias {bias.shape} do not fit a [D, K+1] model")
    k = table.shape[1] - 1
    if fp16 and float(np.abs(table).max(initial=0.0)) > float(np.finfo(np.float16).max):
        raise ValueError("table overflows float16")
    stored = table.astype(np.float16 if fp16 else np.float32)
    initializers = [
        numpy_helper.from_array(stored, "table"),
        numpy_helper.from_array(bias.reshape(1, -1).astype(np.float32), "bias"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([k], dtype=np.int64), "k"),
        numpy_helper.from_array(np.array([k + 1], dtype=np.int64), "k1"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "shape1"),
    ]
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["rows_stored"], axis=0),
        helper.make_node("Cast", ["rows_stored"], ["rows"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["vals", "axis0"], ["weights"]),
        helper.make_node("MatMul", ["weights", "rows"], ["pooled"]),
        helper.make_node("Add", ["pooled", "bias"], ["logits"]),
        helper.make_node("Slice", ["logits", "zero", "k", "one"], ["task_logits"]),
        helper.make_node("Slice", ["logits", "k", "k1", "one"], ["strong_logit"]),
        helper.make_node("Softmax", ["task_logits"], [OUTPUTS[0]], axis=1),
        helper.make_node("Sigmoid", ["strong_logit"], ["strong_2d"]),
        helper.make_node("Reshape", ["strong_2d", "shape1"], [OUTPUTS[1]]),
    ]
    graph = helper.make_graph(
        nodes,
        "triage_classifier",
        inputs=[
            helper.make_tensor_value_info(INPUTS[0], TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info(INPUTS[1], TensorProto.FLOAT, ["N"]),
        ],
        outputs=[
            helper.make_tensor_value_info(OUTPUTS[0], TensorProto.FLOAT, [1, k]),
            helper.make_tensor_value_info(OUTPUTS[1], TensorProto.FLOAT, [1]),
        ],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="triage.train",
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value
    onnx.checker.check_model(model, full_check=True)
    return model


def model_bytes(model: onnx.ModelProto) -> bytes:
    data: bytes = model.SerializeToString(deterministic=True)
    return data


def write_bundle(
    out_dir: Path,
    model: onnx.ModelProto,
    labels: Sequence[str],
    features: FeatureConfig,
    manifest: Mapping[str, Any],
    extra_files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Write a loadable bundle to ``out_dir`` atomically (a sibling temp dir, then a rename).

    ``manifest`` gets ``model_sha256`` and ``model_bytes`` added; the written manifest is returned.
    """
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    blob = model_bytes(model)
    (tmp / MODEL_FILE).write_bytes(blob)
    (tmp / LABELS_FILE).write_text(json.dumps(list(labels), indent=2) + "\n", encoding="utf-8")
    (tmp / FEATURES_FILE).write_text(features.to_json(), encoding="utf-8")
    full = {**manifest, "model_sha256": hashlib.sha256(blob).hexdigest(), "model_bytes": len(blob)}
    (tmp / MANIFEST_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for name, text in (extra_files or {}).items():
        (tmp / name).write_text(text, encoding="utf-8")
    if out_dir.exists():
        old = out_dir.with_name(out_dir.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old)
    else:
        tmp.rename(out_dir)
    return full
