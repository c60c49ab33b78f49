"""ONNX export: the graph computes what the numpy heads compute, and the bundle loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from triage.classifier.base import TASK_LABELS
from triage.classifier.features import FeatureConfig
from triage.classifier.onnx_model import MANIFEST_FILE, OnnxClassifier
from triage.requests.input import RoutingInput
from triage.train.export import build_model, model_bytes, write_bundle

CONFIG = FeatureConfig(hash_bits=10)
K = len(TASK_LABELS)


def _weights(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    table = rng.normal(0, 0.5, size=(CONFIG.dim, K + 1)).astype(np.float32)
    bias = rng.normal(0, 0.1, size=K + 1).astype(np.float32)
    return table, bias


def _bundle(tmp_path: Path, seed: int = 0) -> Path:
    table, bias = _weights(seed)
    out = tmp_path / "bundle"
    write_bundle(out, build_model(table, bias), TASK_LABELS, CONFIG, {"version": f"test-{seed}"})
    return out


def test_exported_graph_matches_numpy(tmp_path: Path) -> None:
    table, bias = _weights()
    clf = OnnxClassifier.load(_bundle(tmp_path))
    inp = RoutingInput.from_text("Write a haiku about the sea.", system="Be creative.")
    ids, vals = clf.featurizer.featurize(inp)
    stored = table.astype(np.float16).astype(np.float32)
    logits = vals @ stored[ids] + bias
    task = np.exp(logits[:K] - logits[:K].max())
    task /= task.sum()
    strong = 1 / (1 + np.exp(-logits[K]))
    scores = clf.score(inp)
    np.testing.assert_allclose([scores.task_probs[label] for label in TASK_LABELS], task, rtol=1e-4, atol=1e-6)
    assert scores.p_strong == pytest.approx(strong, rel=1e-4)
    assert clf.version == "test-0"


def test_exported_graph_accepts_a_single_row(tmp_path: Path) -> None:
    clf = OnnxClassifier.load(_bundle(tmp_path))
    probs, p = clf.run(np.array([0], dtype=np.int64), np.array([0.0], dtype=np.float32))
    assert probs.shape == (K,)
    assert 0.0 < p < 1.0


def test_write_bundle_records_the_model_checksum_and_replaces_old_bundles(tmp_path: Path) -> None:
    out = _bundle(tmp_path, seed=0)
    (out / "stale.txt").write_text("old")
    _bundle(tmp_path, seed=1)
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["version"] == "test-1"
    assert len(manifest["model_sha256"]) == 64
    assert not (out / "stale.txt").exists()
    assert not (tmp_path / "bundle.tmp").exists()
    assert not (tmp_path / "bundle.old").exists()


def test_model_bytes_are_deterministic() -> None:
    table, bias = _weights()
    assert model_bytes(build_model(table, bias)) == model_bytes(build_model(table, bias))


@pytest.mark.parametrize(
    ("table", "bias"),
    [
        (np.zeros((8, 3), np.float32), np.zeros(2, np.float32)),
        (np.zeros((8,), np.float32), np.zeros(1, np.float32)),
        (np.full((8, 3), 1e6, np.float32), np.zeros(3, np.float32)),
    ],
    ids=["bias-mismatch", "not-2d", "fp16-overflow"],
)
def test_build_model_rejects_bad_weights(table: np.ndarray, bias: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"."):
        build_model(table, bias)
