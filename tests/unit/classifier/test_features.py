"""The featurizer: deterministic, bounded, and faithful to its config."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

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
