"""The shipped model bundle and the loader's contract."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from triage.classifier import TASK_LABELS, Classifier, OnnxClassifier, load_default, native
from triage.classifier.onnx_model import (
    LABELS_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    EmbeddingBag,
    _bag_weights,
    check_labels,
    default_bundle_dir,
)
from triage.errors import ModelLoadError, TriageError
from triage.requests.input import RoutingInput


@pytest.fixture(scope="module")
def clf() -> OnnxClassifier:
    return load_default()


def test_load_default_loads_the_shipped_bundle(clf: OnnxClassifier) -> None:
    assert clf.version.startswith("triage-clf-2.0.0+")
    assert clf.labels[: len(TASK_LABELS)] == TASK_LABELS
    as_protocol: Classifier = clf
    assert as_protocol.version == clf.version
    bundle = default_bundle_dir()
    for name in (MODEL_FILE, LABELS_FILE, MANIFEST_FILE, "features.json", "metrics.json", "MODEL_CARD.md"):
        assert (bundle / name).is_file(), name
    assert (bundle / MODEL_FILE).stat().st_size <= 6 * 1024 * 1024


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("Write a Python function that parses a CSV file and returns a list of dicts, with unit tests.", "code"),
        ("Translate the following sentence into German: The train to Berlin leaves at nine.", "translation"),
        (
            "Let $n$ be a positive integer. Prove that $n^5 - n$ is divisible by $30$, and find all integer "
            "solutions of $x^2 - 7y^2 = 1$ with $0 < x < 100$.",
            "math",
        ),
        (
            "Summarize the following article in three sentences: The city council met on Tuesday to "
            "discuss the new bike lanes. Residents spoke in favour, while shop owners objected to losing "
            "parking. The council agreed to a six-month trial on two streets.",
            "summarization",
        ),
    ],
    ids=["code", "translation", "hard-math", "summarization"],
)
def test_score_separates_obvious_tasks(clf: OnnxClassifier, prompt: str, task: str) -> None:
    assert clf.score(RoutingInput.from_text(prompt)).task == task


@pytest.mark.parametrize(
    "prompt",
    ["", "hi", "Write a haiku about autumn.", "x" * 5000],
    ids=["empty", "tiny", "creative", "long"],
)
def test_score_returns_distributions(clf: OnnxClassifier, prompt: str) -> None:
    scores = clf.score(RoutingInput.from_text(prompt, system="You are a helpful assistant."))
    assert list(scores.task_probs) == list(clf.labels)
    assert sum(scores.task_probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert all(0.0 <= p <= 1.0 for p in scores.task_probs.values())
    assert 0.0 <= scores.p_strong <= 1.0


def test_score_rates_competition_math_harder_than_a_trivial_translation(clf: OnnxClassifier) -> None:
    hard = clf.score(
        RoutingInput.from_text(
            "Find the number of ordered pairs of positive integers $(a,b)$ such that $a+b=1000$ and neither "
            "$a$ nor $b$ has a zero digit."
        )
    )
    easy = clf.score(RoutingInput.from_text("Translate 'hello' into French."))
    assert hard.p_strong > easy.p_strong


def test_score_handles_a_1mb_request(clf: OnnxClassifier) -> None:
    body = "Please review this log line: ERROR timeout while connecting to db. " * 16_000
    inp = RoutingInput(api="openai.chat", prompt=body, system=body, input_chars=2 * len(body))
    ids, _ = clf.featurizer.featurize(inp)
    assert len(ids) <= clf.featurizer.config.max_features
    assert 0.0 <= clf.score(inp).p_strong <= 1.0


def test_score_is_deterministic_across_loads(clf: OnnxClassifier) -> None:
    inp = RoutingInput.from_text("Extract every email address from this text: a@b.example, c@d.example")
    again = OnnxClassifier.load(default_bundle_dir())
    assert clf.score(inp) == clf.score(inp) == again.score(inp)


def test_score_is_thread_safe(clf: OnnxClassifier) -> None:
    prompts = [f"Give me {n} ideas for a birthday party." for n in range(40)]
    expected = [clf.score(RoutingInput.from_text(p)) for p in prompts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda p: clf.score(RoutingInput.from_text(p)), prompts))
    assert got == expected


def test_warmup_runs(clf: OnnxClassifier) -> None:
    clf.warmup(["one", "two"])


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(default_bundle_dir(), target)
    return target


def _break_labels_order(bundle: Path) -> None:
    labels = json.loads((bundle / LABELS_FILE).read_text())
    (bundle / LABELS_FILE).write_text(json.dumps(list(reversed(labels))))


def _corrupt_model(bundle: Path) -> None:
    data = bytearray((bundle / MODEL_FILE).read_bytes())
    data[100:200] = b"\x00" * 100
    (bundle / MODEL_FILE).write_bytes(bytes(data))


def _garbage_model_without_checksum(bundle: Path) -> None:
    (bundle / MODEL_FILE).write_bytes(b"not an onnx model")
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    del manifest["model_sha256"]
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))


def _shrink_id_space(bundle: Path) -> None:
    features = json.loads((bundle / "features.json").read_text())
    features["hash_bits"] = features["hash_bits"] + 1
    (bundle / "features.json").write_text(json.dumps(features))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: (b / MODEL_FILE).unlink(), "cannot read model.onnx"),
        (lambda b: (b / LABELS_FILE).unlink(), "missing labels.json"),
        (lambda b: (b / LABELS_FILE).write_text("{not json"), "cannot read labels.json"),
        (_break_labels_order, "must start with the task labels"),
        (lambda b: (b / LABELS_FILE).write_text(json.dumps([*TASK_LABELS, "code"])), "duplicate"),
        (_corrupt_model, "does not match its manifest"),
        (_garbage_model_without_checksum, "not a loadable ONNX model"),
        (lambda b: (b / MANIFEST_FILE).write_text("{}"), "no version"),
        (lambda b: (b / "features.json").write_text('{"hash_bits": 99}'), "bad features.json"),
        (_shrink_id_space, "rejects ids"),
    ],
    ids=[
        "no-model",
        "no-labels",
        "labels-not-json",
        "labels-reordered",
        "labels-duplicated",
        "model-corrupt",
        "model-garbage",
        "manifest-without-version",
        "features-invalid",
        "features-id-space-too-large",
    ],
)
def test_load_raises_model_load_error_for_a_broken_bundle(bundle_copy: Path, damage: object, message: str) -> None:
    damage(bundle_copy)  # type: ignore[operator]
    with pytest.raises(ModelLoadError, match=message) as info:
        OnnxClassifier.load(bundle_copy)
    assert isinstance(info.value, TriageError)


def test_load_raises_model_load_error_for_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not a directory"):
        OnnxClassifier.load(tmp_path / "nope")


def test_check_labels_accepts_extra_labels_after_the_task_labels() -> None:
    assert check_labels([*TASK_LABELS, "agentic"]) == (*TASK_LABELS, "agentic")


def test_load_rejects_labels_that_do_not_match_the_outputs(bundle_copy: Path) -> None:
    (bundle_copy / LABELS_FILE).write_text(json.dumps([*TASK_LABELS, "agentic"]))
    with pytest.raises(ModelLoadError, match="output shapes"):
        OnnxClassifier.load(bundle_copy)


# The numpy fast path (EmbeddingBag) must give the session's scores, and only ever replace the exported graph.
@pytest.fixture(scope="module")
def ort_clf() -> OnnxClassifier:
    return OnnxClassifier.load(default_bundle_dir(), fast_path=False)


def test_the_shipped_bundle_is_served_by_the_numpy_fast_path(clf: OnnxClassifier, ort_clf: OnnxClassifier) -> None:
    assert clf.backend == ("native" if native.load_extension() else "numpy")
    assert ort_clf.backend == "onnxruntime"


@pytest.mark.parametrize(
    "prompt",
    [
        "",
        "hi",
        "Write a Python function that parses a CSV file and returns a list of dicts, with unit tests.",
        "Translate into German: 日本語のテキスト 😀, café.",
        "Prove that $n^5 - n$ is divisible by $30$. " * 40,
        "Please review this log line: ERROR timeout while connecting to db. " * 16_000,
    ],
    ids=["empty", "tiny", "code", "mixed-scripts", "long-math", "1mb"],
)
def test_fast_path_scores_match_onnxruntime(clf: OnnxClassifier, ort_clf: OnnxClassifier, prompt: str) -> None:
    inp = RoutingInput.from_text(prompt, system="You are a helpful assistant.")
    fast, slow = clf.score(inp), ort_clf.score(inp)
    assert list(fast.task_probs) == list(slow.task_probs)
    np.testing.assert_allclose(list(fast.task_probs.values()), list(slow.task_probs.values()), rtol=1e-5, atol=1e-6)
    assert fast.p_strong == pytest.approx(slow.p_strong, rel=1e-5, abs=1e-6)
    probs, p_strong = clf.run(*clf.featurizer.featurize(inp))
    assert probs.dtype == np.float32
    assert probs.shape == (len(clf.labels),)
    assert p_strong == pytest.approx(slow.p_strong, rel=1e-5, abs=1e-6)


def test_fast_path_matches_onnxruntime_on_random_rows(clf: OnnxClassifier, ort_clf: OnnxClassifier) -> None:
    rng = np.random.default_rng(3)
    dim = clf.featurizer.config.dim
    for n in (1, 2, 50, 5000):
        ids = rng.integers(0, dim, size=n, dtype=np.int64)
        vals = rng.normal(0.0, 2.0, size=n).astype(np.float32)
        (fast, fast_strong), (slow, slow_strong) = clf.run(ids, vals), ort_clf.run(ids, vals)
        np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)
        assert fast_strong == pytest.approx(slow_strong, rel=1e-5, abs=1e-6)


def test_embedding_bag_saturates_without_overflow() -> None:
    table = np.zeros((4, 3), dtype=np.float32)
    table[1] = [0.0, 0.0, 1.0]
    bag = EmbeddingBag(table, np.array([1000.0, -1000.0, 0.0], dtype=np.float32))
    ids = np.array([1], dtype=np.int64)
    probs, p_strong = bag(ids, np.array([-5000.0], dtype=np.float32))
    assert probs == [1.0, 0.0]
    assert p_strong == 0.0
    _, p_strong = bag(ids, np.array([5000.0], dtype=np.float32))
    assert p_strong == 1.0


def _exported(tmp_path: Path, name: str, fp16: bool = True, edit: object = None, seed: int = 0) -> Path:
    """A bundle written by the training exporter (needs ``onnx``, a training dependency)."""
    pytest.importorskip("onnx")
    from triage.classifier.features import FeatureConfig
    from triage.train.export import build_model, write_bundle

    config = FeatureConfig(hash_bits=10)
    rng = np.random.default_rng(seed)
    table = rng.normal(0, 0.5, size=(config.dim, len(TASK_LABELS) + 1)).astype(np.float32)
    bias = rng.normal(0, 0.1, size=len(TASK_LABELS) + 1).astype(np.float32)
    model = build_model(table, bias, fp16=fp16)
    if edit is not None:
        edit(model)  # type: ignore[operator]
    out = tmp_path / name
    write_bundle(out, model, TASK_LABELS, config, {"version": name})
    return out


@pytest.mark.parametrize("fp16", [True, False], ids=["fp16-table", "fp32-table"])
def test_exported_bundles_get_the_fast_path(tmp_path: Path, fp16: bool) -> None:
    bundle = _exported(tmp_path, "b", fp16=fp16)
    fast, slow = OnnxClassifier.load(bundle), OnnxClassifier.load(bundle, fast_path=False)
    assert fast.backend == ("native" if native.load_extension() else "numpy")
    inp = RoutingInput.from_text("Summarize the article below in two sentences.", system="Be brief.")
    np.testing.assert_allclose(
        list(fast.score(inp).task_probs.values()), list(slow.score(inp).task_probs.values()), rtol=1e-5, atol=1e-6
    )


def test_the_graph_reader_returns_the_exported_weights(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")

    model_bytes = (_exported(tmp_path, "b") / MODEL_FILE).read_bytes()
    weights = _bag_weights(model_bytes, len(TASK_LABELS))
    assert weights is not None
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load_from_string(model_bytes).graph.initializer}
    np.testing.assert_array_equal(weights[0], inits["table"].astype(np.float32))
    np.testing.assert_array_equal(weights[1], inits["bias"].reshape(-1))
    assert _bag_weights(model_bytes, len(TASK_LABELS) + 1) is None  # the slices would not fit


def _softmax_axis_0(model: object) -> None:
    node = next(n for n in model.graph.node if n.op_type == "Softmax")  # type: ignore[attr-defined]
    node.attribute[0].i = 0


def _relu_before_softmax(model: object) -> None:
    import onnx

    graph = model.graph  # type: ignore[attr-defined]
    node = next(n for n in graph.node if n.op_type == "Softmax")
    node.input[0] = "task_relu"
    graph.node.insert(len(graph.node) - 3, onnx.helper.make_node("Relu", ["task_logits"], ["task_relu"]))


@pytest.mark.parametrize("edit", [_softmax_axis_0, _relu_before_softmax], ids=["softmax-axis", "extra-node"])
def test_other_graphs_are_served_by_onnxruntime(tmp_path: Path, edit: object) -> None:
    clf = OnnxClassifier.load(_exported(tmp_path, "b", edit=edit))
    assert clf.backend == "onnxruntime"
    assert 0.0 <= clf.score(RoutingInput.from_text("hello")).p_strong <= 1.0


def test_the_fast_path_is_refused_when_it_disagrees_with_the_session(tmp_path: Path) -> None:
    import onnxruntime as ort

    from triage.classifier.features import FeatureConfig
    from triage.classifier.onnx_model import session_options

    model_a = (_exported(tmp_path, "a", seed=0) / MODEL_FILE).read_bytes()
    model_b = (_exported(tmp_path, "b", seed=1) / MODEL_FILE).read_bytes()
    session_b = ort.InferenceSession(model_b, sess_options=session_options(), providers=["CPUExecutionProvider"])
    config = FeatureConfig(hash_bits=10)
    assert EmbeddingBag.from_model(model_b, session_b, len(TASK_LABELS), config) is not None
    assert EmbeddingBag.from_model(model_a, session_b, len(TASK_LABELS), config) is None
    assert EmbeddingBag.from_model(b"not a model", session_b, len(TASK_LABELS), config) is None
