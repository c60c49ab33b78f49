"""The featurizer: deterministic, bounded, and faithful to its config."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.unit.classifier.reference_features import ReferenceFeaturizer
from triage.classifier.features import Dense, FeatureConfig, Featurizer
from triage.requests.input import RoutingInput

SMALL = FeatureConfig(hash_bits=12)


@pytest.fixture(scope="module")
def featurizer() -> Featurizer:
    return Featurizer()


def _inp(prompt: str, **kw: object) -> RoutingInput:
    return RoutingInput.from_text(prompt, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "prompt",
    [
        "",
        "hi",
        "Write a Python function that reverses a list.",
        "日本語のテキストを英語に翻訳してください。😀",
        "e\u0301\u0000\ud800 lone surrogate and NUL",
        "x" * 10_000,
        "İ" * 5000,  # lower-cases to two code points each
    ],
    ids=["empty", "tiny", "english", "cjk-emoji", "odd-codepoints", "long-run", "expanding-lower"],
)
def test_featurize_returns_typed_rows_in_id_space(featurizer: Featurizer, prompt: str) -> None:
    ids, vals = featurizer.featurize(_inp(prompt, system="You are helpful."))
    assert ids.dtype == np.int64
    assert vals.dtype == np.float32
    assert len(ids) == len(vals) >= 1
    assert ids.min() >= 0
    assert ids.max() < featurizer.config.dim
    assert len(ids) <= featurizer.config.max_features
    assert np.all(np.isfinite(vals))


def test_featurize_bounds_rows_for_a_1mb_input(featurizer: Featurizer) -> None:
    words = ("lorem ipsum dolor sit amet consectetur " * 30_000)[:1_000_000]
    inp = RoutingInput(api="openai.chat", prompt=words, system=words, input_chars=2_000_000)
    ids, _ = featurizer.featurize(inp)
    assert len(ids) <= featurizer.config.max_features
    assert featurizer.config.max_features < 12_000


def test_featurize_is_deterministic_within_a_process(featurizer: Featurizer) -> None:
    inp = _inp("Summarize this article about honeybees.", system="Be brief.")
    a = featurizer.featurize(inp)
    b = Featurizer(featurizer.config).featurize(inp)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_featurize_is_deterministic_across_processes(featurizer: Featurizer) -> None:
    code = (
        "from triage.classifier.features import Featurizer\n"
        "from triage.requests.input import RoutingInput\n"
        "ids, vals = Featurizer().featurize(RoutingInput.from_text('Translate good morning into French'))\n"
        "print(','.join(map(str, ids.tolist())))\n"
    )
    env_runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
        for env in ({"PYTHONHASHSEED": "1"}, {"PYTHONHASHSEED": "2"})
    ]
    here = featurizer.featurize(_inp("Translate good morning into French"))[0].tolist()
    assert env_runs[0] == env_runs[1]
    assert env_runs[0].strip() == ",".join(map(str, here))


def test_featurize_counts_a_word_the_same_wherever_it_occurs() -> None:
    f = Featurizer(SMALL)
    first = set(f.featurize(_inp("python"))[0].tolist())
    later = set(f.featurize(_inp("please use python"))[0].tolist())
    word_only = first - set(f.featurize(_inp(""))[0].tolist())
    assert word_only & later


def test_featurize_separates_system_and_prompt_streams() -> None:
    f = Featurizer()
    in_prompt = set(f.featurize(_inp("translate"))[0].tolist())
    in_system = set(f.featurize(_inp("", system="translate"))[0].tolist())
    dense_floor = f.config.dim - f.config.reserved
    assert {i for i in in_prompt if i < dense_floor}.isdisjoint({i for i in in_system if i < dense_floor})


@pytest.mark.parametrize(
    ("kwargs", "offset"),
    [
        ({"has_tools": True}, Dense.HAS_TOOLS),
        ({"json_output": True}, Dense.JSON_OUTPUT),
        ({"user_turns": 7}, Dense.TURNS + 3),
    ],
    ids=["tools", "json", "many-turns"],
)
def test_featurize_sets_dense_signals(featurizer: Featurizer, kwargs: dict[str, object], offset: int) -> None:
    inp = RoutingInput(api="openai.chat", prompt="hello", **kwargs)  # type: ignore[arg-type]
    ids, _ = featurizer.featurize(inp)
    assert featurizer.config.dim - featurizer.config.reserved + offset in ids.tolist()


def test_featurize_normalises_digits_and_case(featurizer: Featurizer) -> None:
    a = featurizer.featurize(_inp("Order 1234 shipped"))[0]
    b = featurizer.featurize(_inp("order 9876 shipped"))[0]
    dense_floor = featurizer.config.dim - featurizer.config.reserved
    assert sorted(a[a < dense_floor].tolist()) == sorted(b[b < dense_floor].tolist())


def test_feature_config_round_trips_through_json() -> None:
    cfg = FeatureConfig(hash_bits=15, char_orders=(2, 3, 5))
    assert FeatureConfig.from_dict(json.loads(cfg.to_json())) == cfg


@pytest.mark.parametrize(
    "data",
    [{"hash_bits": 40}, {"reserved": 3}, {"word_orders": [3]}, {"bogus": 1}, {"char_head_chars": -1}],
    ids=["hash-bits", "reserved", "word-orders", "unknown-key", "negative-window"],
)
def test_feature_config_rejects_bad_values(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        FeatureConfig.from_dict(data)


# The optimised featurizer must give exactly the ids and values the model was trained on: those of the
# original implementation, kept as `reference_features.ReferenceFeaturizer`.
TRICKY_TEXTS = {
    "empty": "",
    "space": " ",
    "newline": "\n",
    "one-char": "a",
    "question": "?",
    "english": "Write a Python function that reverses a linked list, then explain its complexity?",
    "accents": "Ünïcödé àccents: café, naïve, Straße, İstanbul, ΣΊΣΥΦΟΣ σοφός, Ωmega",
    "cjk": "日本語のテキストを英語に翻訳してください。한국어 텍스트도 있습니다。「引用」",
    "emoji-astral": "emoji 😀🤖 and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010ffff at the end 🎉",
    "emoji-block-edges": "\U0001efff\U0001f000 \U0001faff\U0001fb00 x\U00010000y",
    "lone-surrogates": "lone \ud800 and \udfff, a pair as two: \ud83d\ude00.",
    "control": "ctrl \x00\x01\x1f\x7f\x85\u2028\u2029 chars\r\n\ttabs\x0b\x0c",
    "digits-caps": "Order 1234 shipped on 2024-05-06 to SNAKE_case_Words and CamelCase99",
    "code": "def f(x):\n    return {x: [1, 2]}  # $x^2 + y*z / w\n```python\nprint(f(3))\n```\n",
    "fullwidth": "ＡＢＣ，！（）全角 and 〜〝〟",
    "long-run": "x" * 10_000,
    "expanding-lower": "İ" * 5000,
    "long-words": "lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 200,
    "long-mixed": ("Résumé 😀 日本 code{} $x$ 42\n" * 300) + "final question?",
}
TRICKY_SYSTEMS = ["", "You are a helpful assistant.", "😀 système\n", "\n", "x" * 3000]
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
}


def _assert_same_rows(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    assert got[0].dtype == want[0].dtype == np.int64
    assert got[1].dtype == want[1].dtype == np.float32
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1].view(np.uint32), want[1].view(np.uint32))  # bit for bit


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_featurize_matches_the_reference_on_tricky_inputs(config_name: str) -> None:
    config = CONFIGS[config_name]
    fast, reference = Featurizer(config), ReferenceFeaturizer(config)
    for name, text in TRICKY_TEXTS.items():
        for system in TRICKY_SYSTEMS:
            for inp in (
                RoutingInput.from_text(text, system=system),
                RoutingInput(
                    api="openai.chat",
                    prompt=text,
                    system=system,
                    input_chars=len(text) * 3,
                    user_turns=4,
                    has_tools=True,
                    json_output=True,
                ),
            ):
                try:
                    _assert_same_rows(fast.featurize(inp), reference.featurize(inp))
                except AssertionError as exc:
                    raise AssertionError(f"{name!r} with system {system[:20]!r}: {exc}") from exc


def test_featurize_matches_the_reference_on_random_text() -> None:
    rng = np.random.default_rng(7)
    singles = "abcXYZ 019_\n\t\r.,;{}$^€éİΣς日本語한글\x00\x7f\x85\u2028😀🤖\U0010ffff\ud800\udc00𝔘"
    alphabet = [*singles, "the ", "Code ", "42 "]
    fast, reference = Featurizer(), ReferenceFeaturizer()
    for _ in range(300):
        size = int(rng.integers(0, 4000))
        text = "".join(rng.choice(alphabet, size=size))
        system = "".join(rng.choice(alphabet, size=int(rng.integers(0, 80))))
        inp = RoutingInput.from_text(text, system=system)
        _assert_same_rows(fast.featurize(inp), reference.featurize(inp))


def test_featurize_matches_the_reference_on_a_1mb_input() -> None:
    words = ("lorem ipsum dolor sit amet consectetur " * 30_000)[:1_000_000]
    inp = RoutingInput(api="openai.chat", prompt=words, system=words, input_chars=2_000_000)
    _assert_same_rows(Featurizer().featurize(inp), ReferenceFeaturizer().featurize(inp))
