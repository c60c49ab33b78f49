"""The native scorer (the C extension ``triage.classifier._bag``): the numpy featurizer's rows bit for bit, and
the numpy bag's and ONNX Runtime's scores to within the fast path's tolerance; the numpy path when it is off."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import numpy as np
import pytest

from triage.classifier import native
from triage.classifier.features import FeatureConfig, Featurizer, IdArray, ValArray
from triage.classifier.onnx_model import (
    FAST_PATH_TOLERANCE,
    EmbeddingBag,
    OnnxClassifier,
    _native_scorer,
    default_bundle_dir,
    load_default,
)
from triage.requests.input import RoutingInput

# Code point ranges the random texts draw from, each with the weight of a run of it.
_RANGES: dict[str, tuple[list[tuple[int, int]], int]] = {
    "ascii-lower": ([(0x61, 0x7A)], 30),
    "ascii-upper": ([(0x41, 0x5A)], 6),
    "digits": ([(0x30, 0x39)], 6),
    "punct": ([(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)], 8),
    "space": ([(0x20, 0x20), (0x09, 0x0A), (0x0D, 0x0D), (0x0B, 0x0C)], 14),
    "control": ([(0x00, 0x1F), (0x7F, 0x9F)], 1),
    "latin-1": ([(0xA0, 0xFF)], 5),
    "latin-ext": ([(0x100, 0x24F), (0x130, 0x130)], 3),
    "greek-cyrillic": ([(0x391, 0x3C9), (0x400, 0x4FF)], 4),
    "punct-symbols": ([(0x2000, 0x206F), (0x2190, 0x22FF), (0x3000, 0x303F), (0xFF00, 0xFF5E)], 3),
    "cjk": ([(0x3040, 0x30FF), (0x4E00, 0x9FFF)], 4),
    "hangul": ([(0xAC00, 0xD7A3)], 2),
    "surrogates": ([(0xD800, 0xDFFF)], 1),
    "emoji": ([(0x1F000, 0x1FAFF)], 2),
    "astral": ([(0x10000, 0x1EFFF), (0x1FB00, 0x10FFFF)], 2),
    "markers": ([(0x3F, 0x3F), (0x60, 0x60), (0x2D, 0x2D), (0x2A, 0x2A), (0x2022, 0x2022), (0xFF1F, 0xFF1F)], 3),
}
# fmt: off
_WORDS = ["the", "of", "and", "to", "in", "is", "you", "that", "it", "for", "code", "def", "return", "print",
          "test", "data", "model", "1,204", "12.5", "x", "y"]
# fmt: on
# Lengths around every window edge of the default config, plus random ones.
_EDGE_LENGTHS = [0, 1, 2, 3, 4, 255, 256, 257, 767, 768, 769, 1023, 1024, 1025, 1026, 3071, 3072, 3073, 3074, 5000]


def _text(rng: random.Random, length: int) -> str:
    """Mixed-script text of ``length`` code points: runs of one range, and whole words."""
    names = list(_RANGES)
    weights = [_RANGES[name][1] for name in names]
    parts: list[str] = []
    size = 0
    while size < length:
        if rng.random() < 0.25:
            chunk = rng.choice(_WORDS) + rng.choice(" \n")
        else:
            spans = _RANGES[rng.choices(names, weights)[0]][0]
            lo, hi = rng.choice(spans)
            chunk = "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 12)))
        parts.append(chunk)
        size += len(chunk)
    return "".join(parts)[:length]


def _corpus(seed: int, count: int) -> Iterator[RoutingInput]:
    """Seeded random inputs: lengths 0 to 5,000, with and without system prompts, every flag and size field."""
    rng = random.Random(seed)
    for i in range(count):
        length = rng.choice(_EDGE_LENGTHS) if i % 3 == 0 else rng.randint(0, rng.choice([80, 600, 5000]))
        prompt = _text(rng, length)
        system = _text(rng, rng.choice([0, 0, 1, 30, 1023, 1024, 1025, 2000]))
        if i % 2:
            yield RoutingInput.from_text(prompt, system=system, turns=rng.randint(1, 8))
        else:  # as the parsers build it: any sizes and flags, texts not windowed
            yield RoutingInput(
                api="openai.chat",
                prompt=prompt,
                system=system,
                input_chars=rng.choice([0, len(prompt), rng.randint(0, 2_000_000), -5]),
                messages=rng.randint(1, 20),
                user_turns=rng.choice([0, 1, 2, 3, 5, 6, 40]),
                max_tokens=rng.choice([None, 0, 1, 512, 100_000]),
                has_tools=rng.random() < 0.3,
                json_output=rng.random() < 0.3,
            )


EDGE_CASES = {
    "empty": RoutingInput.from_text(""),
    "space": RoutingInput.from_text(" "),
    "whitespace-only": RoutingInput.from_text(" \t\r\n\x0b\x0c\u3000\u2028 "),
    "one-char": RoutingInput.from_text("a"),
    "one-digit": RoutingInput.from_text("7"),
    "one-astral": RoutingInput.from_text("\U0001d518"),
    "only-astral": RoutingInput.from_text("𝔘𝔫𝔦𝔠𝔬𝔡𝔢😀🤖\U0010ffff" * 400),
    "only-surrogates": RoutingInput.from_text("\ud800\udfff\ud83d\ude00" * 10),
    "only-digits": RoutingInput.from_text("0123456789" * 500),
    "window-exact": RoutingInput(api="openai.chat", prompt="ab " * 1024),
    "window-plus-one": RoutingInput(api="openai.chat", prompt="ab " * 1024 + "c"),
    "window-joined-in-a-number": RoutingInput(api="openai.chat", prompt="1" * 3073),
    "system-only": RoutingInput.from_text("", system="You are a careful assistant."),
    "system-beyond-window": RoutingInput(api="openai.chat", prompt="hi", system="word " * 300),
    "question-then-unicode-space": RoutingInput.from_text("Why?\u3000\u2029\x85"),
    "fullwidth-question": RoutingInput.from_text("なぜですか？"),
    "fences-and-bullets": RoutingInput.from_text("```py\nx = 1\n```\n- a\n* b\n• c\n`` `"),
    "expanding-lower": RoutingInput.from_text("İ" * 5000),
    "huge-flags": RoutingInput(
        api="openai.chat", prompt="x", input_chars=10**15, user_turns=10**9, max_tokens=10**12, has_tools=True
    ),
}
# Feature configs other than the shipped one: every window, order and weight parameter moved.
CONFIGS = {
    "default": FeatureConfig(),
    "odd": FeatureConfig(
        hash_bits=12,
        word_orders=(2,),
        char_orders=(1, 5),
        char_head_chars=10,
        char_tail_chars=0,
        max_system_chars=7,
        system_weight=0.3,
        dense_weight=0.7,
    ),
    "unigrams-only": FeatureConfig(word_orders=(1,), char_orders=(8,), char_head_chars=0, char_tail_chars=5),
    "small-windows": FeatureConfig(
        hash_bits=10, char_orders=(4, 2, 2), prompt_head_chars=50, prompt_tail_chars=0, word_weight=2.0
    ),
    "tail-windows": FeatureConfig(prompt_head_chars=0, prompt_tail_chars=40, char_head_chars=3, char_tail_chars=9),
}


def _describe(inp: RoutingInput) -> str:
    return f"prompt={inp.prompt[:60]!r}... ({len(inp.prompt)}), system ({len(inp.system)}), {inp}"[:400]


def _assert_same_rows(got: tuple[IdArray, ValArray], want: tuple[IdArray, ValArray], inp: RoutingInput) -> None:
    assert native.same_rows(got, want), _describe(inp)


def _max_difference(a: tuple[list[float], float], b: tuple[list[float], float]) -> float:
    return max(float(np.max(np.abs(np.subtract(a[0], b[0])))), abs(a[1] - b[1]))


@pytest.fixture(scope="module")
def ext() -> ModuleType:
    module = pytest.importorskip(native.MODULE)
    assert native.expected_layout() == module.LAYOUT
    return module


@pytest.fixture(scope="module")
def numpy_clf() -> Iterator[OnnxClassifier]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(native.ENV, "0")
        yield load_default()


@pytest.fixture(scope="module")
def bag(numpy_clf: OnnxClassifier) -> EmbeddingBag:
    assert numpy_clf._bag is not None
    return numpy_clf._bag


@pytest.fixture(scope="module")
def scorer(ext: ModuleType, numpy_clf: OnnxClassifier, bag: EmbeddingBag) -> native.NativeScorer:
    return native.NativeScorer(ext, numpy_clf.featurizer, bag.table, bag.bias)


# The numpy path: always runs, with or without the extension.


def test_native_env_zero_serves_the_numpy_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.ENV, "0")
    clf = load_default()
    assert clf.backend == "numpy"
    assert clf.native_scorer is None
    assert clf._bag is not None
    for inp in (*EDGE_CASES.values(), *native.PROBES):
        scores = clf.score(inp)
        probs, p_strong = clf._bag(*clf.featurizer.featurize(inp))
        assert list(scores.task_probs.values()) == probs
        assert scores.p_strong == p_strong


@pytest.mark.parametrize("value", ["0", "false", "No", " off "])
def test_native_env_values_that_turn_it_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(native.ENV, value)
    assert not native.enabled()
    assert native.load_extension() is None


def test_native_missing_extension_means_no_native_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.ENV, raising=False)
    assert native.load_extension("triage.classifier._no_such_extension") is None


def test_native_onnxruntime_engine_never_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.ENV, raising=False)
    clf = OnnxClassifier.load(default_bundle_dir(), fast_path=False)
    assert clf.backend == "onnxruntime"
    assert clf.native_scorer is None


# The extension (skipped when it is not built).


def test_native_is_the_default_backend_when_built(ext: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.ENV, raising=False)
    clf = load_default()
    assert clf.backend == "native"
    assert clf.native_scorer is not None
    inp = RoutingInput.from_text("Write a Python function that parses a CSV file, with unit tests.")
    scores = clf.score(inp)
    probs, p_strong = clf.native_scorer.score(inp)
    assert list(scores.task_probs.values()) == probs
    assert scores.p_strong == p_strong
    assert scores.task == "code"
    run_probs, _ = clf.run(*clf.featurizer.featurize(inp))  # precomputed rows still go through numpy
    np.testing.assert_allclose(run_probs, probs, atol=FAST_PATH_TOLERANCE)


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_native_features_match_the_featurizer_on_a_random_corpus(ext: ModuleType, config_name: str) -> None:
    featurizer = Featurizer(CONFIGS[config_name])
    scorer = native.NativeScorer(ext, featurizer)
    count = 300 if config_name == "default" else 80
    for inp in _corpus(seed=len(config_name), count=count):
        _assert_same_rows(scorer.features(inp), featurizer.featurize(inp), inp)


@pytest.mark.parametrize("config_name", list(CONFIGS))
@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_native_features_match_the_featurizer_on_edge_cases(ext: ModuleType, config_name: str, name: str) -> None:
    featurizer = Featurizer(CONFIGS[config_name])
    inp = EDGE_CASES[name]
    _assert_same_rows(native.NativeScorer(ext, featurizer).features(inp), featurizer.featurize(inp), inp)


def test_native_features_match_on_the_probes_and_a_subclass_input(ext: ModuleType) -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Tagged(RoutingInput):  # not the class the extension reads by slot offset: read by attribute
        tag: str = "t"

    featurizer = Featurizer()
    scorer = native.NativeScorer(ext, featurizer)
    for inp in native.PROBES:
        tagged = Tagged(**{f.name: getattr(inp, f.name) for f in dataclasses.fields(RoutingInput)})
        _assert_same_rows(scorer.features(inp), featurizer.featurize(inp), inp)
        _assert_same_rows(scorer.features(tagged), featurizer.featurize(inp), inp)


def test_native_scores_match_the_numpy_bag(scorer: native.NativeScorer, bag: EmbeddingBag) -> None:
    featurizer = scorer.featurizer
    for inp in (*_corpus(seed=7, count=150), *EDGE_CASES.values()):
        got, want = scorer.score(inp), bag(*featurizer.featurize(inp))
        assert len(got[0]) == len(want[0])
        assert _max_difference(got, want) <= FAST_PATH_TOLERANCE, _describe(inp)
        assert math.isclose(sum(got[0]), 1.0, abs_tol=1e-9)


def test_native_scores_match_onnxruntime(scorer: native.NativeScorer) -> None:
    session = OnnxClassifier.load(default_bundle_dir(), fast_path=False)
    for inp in (*_corpus(seed=11, count=40), *EDGE_CASES.values()):
        slow = session.score(inp)
        got = scorer.score(inp)
        want = (list(slow.task_probs.values()), slow.p_strong)
        assert _max_difference(got, want) <= FAST_PATH_TOLERANCE, _describe(inp)


def test_native_table_layouts_give_identical_scores(ext: ModuleType, bag: EmbeddingBag) -> None:
    featurizer = Featurizer()
    wide = np.zeros((bag.table.shape[0], bag.table.shape[1] + 3), dtype=np.float32)
    wide[:, : bag.table.shape[1]] = bag.table  # a row stride that is not the width: the generic kernel
    scorers = [
        native.NativeScorer(ext, featurizer, table, bag.bias)
        for table in (bag.table, bag.table.astype(np.float16), wide)  # the shipped table is exactly float16
    ]
    for inp in (*_corpus(seed=5, count=30), *native.PROBES):
        first, *others = (s.score(inp) for s in scorers)
        assert all(other == first for other in others), _describe(inp)


def test_native_inputs_it_cannot_reproduce_go_to_the_fallback(
    ext: ModuleType, numpy_clf: OnnxClassifier, bag: EmbeddingBag
) -> None:
    featurizer = numpy_clf.featurizer

    def fallback(inp: RoutingInput) -> tuple[list[float], float]:
        return bag(*featurizer.featurize(inp))

    scorer = native.NativeScorer(ext, featurizer, bag.table, bag.bias, fallback)
    beyond_64_bits = RoutingInput(api="openai.chat", prompt="hello there", input_chars=10**30)
    float_turns = RoutingInput(api="openai.chat", prompt="hello there", user_turns=2.0)  # type: ignore[arg-type]
    for inp in (beyond_64_bits, float_turns):
        with pytest.raises((OverflowError, TypeError)):
            scorer.score_strict(inp)
        assert scorer.score(inp) == fallback(inp)
    negative_ask = RoutingInput(api="openai.chat", prompt="hello", max_tokens=-5)
    with pytest.raises(ValueError, match="domain"):
        scorer.score(negative_ask)  # what the numpy path raises
    with pytest.raises(AttributeError):
        scorer.score(object())  # type: ignore[arg-type]


def test_native_score_is_thread_safe(scorer: native.NativeScorer) -> None:
    inputs = [*_corpus(seed=3, count=60), *EDGE_CASES.values()]
    expected = [scorer.score(inp) for inp in inputs]
    expected_rows = [scorer.features(inp) for inp in inputs]

    def work(offset: int) -> bool:
        order = inputs[offset:] + inputs[:offset]  # each thread starts elsewhere in the list
        for _ in range(3):
            for i, inp in enumerate(order):
                j = (i + offset) % len(inputs)
                if scorer.score(inp) != expected[j] or not native.same_rows(scorer.features(inp), expected_rows[j]):
                    return False
        return True

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(work, [0, 17, 33, 51]))


def test_native_check_rejects_rows_or_scores_that_differ(
    ext: ModuleType, scorer: native.NativeScorer, bag: EmbeddingBag
) -> None:
    assert native.check(scorer, bag) <= FAST_PATH_TOLERANCE
    assert native.check(scorer, lambda ids, vals: ([1.0] + [0.0] * 10, 0.0)) > FAST_PATH_TOLERANCE
    other = native.NativeScorer(ext, Featurizer(), bag.table, bag.bias)
    other.featurizer = Featurizer(CONFIGS["odd"])  # the numpy rows of another config than the extension's
    assert native.check(other, bag, native.PROBES[:2]) == math.inf


def test_native_path_is_refused_when_it_disagrees_with_onnxruntime(
    ext: ModuleType, numpy_clf: OnnxClassifier, bag: EmbeddingBag, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(native.ENV, raising=False)
    session = OnnxClassifier.load(default_bundle_dir(), fast_path=False)._session
    assert _native_scorer(bag, numpy_clf.featurizer, session) is not None
    shifted = EmbeddingBag(bag.table, bag.bias + np.float32(0.5))
    assert _native_scorer(shifted, numpy_clf.featurizer, session) is None


def test_native_scorer_without_a_table_only_featurizes(ext: ModuleType) -> None:
    scorer = native.NativeScorer(ext, Featurizer())
    with pytest.raises(ValueError, match="no table"):
        scorer.score(EDGE_CASES["one-char"])


def test_native_scorer_rejects_a_table_smaller_than_the_id_space(ext: ModuleType, bag: EmbeddingBag) -> None:
    with pytest.raises(ValueError, match="id space"):
        native.NativeScorer(ext, Featurizer(), bag.table[:1000], bag.bias)
