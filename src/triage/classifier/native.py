"""The classifier's featurizer and embedding bag in one C call: the optional extension ``triage.classifier._bag``.

Per request, ``Featurizer.featurize`` and ``EmbeddingBag.__call__`` are ~30 numpy calls whose cost, with cold
caches, is almost all call overhead. ``NativeScorer.score(inp)`` is one call into the extension: it reads the
``RoutingInput``'s str data in place (no encoding), computes the same rows as ``Featurizer.featurize`` and
``logits = vals @ table[ids] + bias``, with the GIL released for all of the arithmetic, then softmax and sigmoid
as ``EmbeddingBag`` does them. The rows are the numpy featurizer's bit for bit (``NativeScorer.features``
returns them); the logits are summed in another order (rows of one weight in float32 blocks, the blocks
weighted and added in double) and rounded to float32, so the outputs differ from the numpy bag's in the last
bits only (well within ``FAST_PATH_TOLERANCE``).

The extension is optional (``setup.py`` builds it when a C compiler is there) and is used only if:

- it imports and its ``LAYOUT`` (class codes, dense offsets, hash constants, edges) equals this tree's;
- the environment variable ``TRIAGE_NATIVE`` is not ``0`` (nor ``false``, ``no``, ``off``): the override tests
  and benchmarks use to force, or measure, the numpy path (read when a model is loaded);
- ``check`` passes when the model is loaded (``onnx_model.OnnxClassifier.load`` runs it): the rows equal the
  numpy featurizer's on every ``PROBES`` input and the outputs are within ``FAST_PATH_TOLERANCE`` of ONNX
  Runtime's.

Otherwise the numpy fast path (or the session) serves, unchanged. The few inputs the C code does not
reproduce exactly (a text that is not a str, an int field beyond 64 bits, a negative ``max_tokens``) are
scored by the numpy ``fallback``, which defines the behaviour (result or exception) for them.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from triage.classifier import features
from triage.classifier.features import SIZE_EDGES, Dense, Featurizer, IdArray, ValArray, _Cls
from triage.requests.input import CHARS_PER_TOKEN, RoutingInput

ENV = "TRIAGE_NATIVE"
MODULE = "triage.classifier._bag"
_OFF = frozenset({"0", "false", "no", "off"})

log = logging.getLogger(__name__)

Scored = tuple[list[float], float]


def _raw(prompt: str, system: str = "", **kw: Any) -> RoutingInput:
    """An input whose texts are not windowed yet: the featurizer's own windows apply."""
    return RoutingInput(api="openai.chat", prompt=prompt, system=system, input_chars=len(prompt) + len(system), **kw)


_CHARS = "The quick brown fox jumps over the lazy dog; 42 times? Yes!\n"
# Inputs the rows are compared on at load: every character class and Unicode width (1, 2 and 4-byte str, astral,
# emoji, lone surrogates), every window edge and every dense row.
PROBES: tuple[RoutingInput, ...] = (
    RoutingInput.from_text("Write a Python function that reverses a linked list, then explain its complexity?"),
    RoutingInput.from_text(""),
    RoutingInput.from_text("   \n\t "),
    RoutingInput.from_text("a"),
    RoutingInput.from_text("Ünïcödé àccents: café, naïve, Straße, İstanbul, ΣΊΣΥΦΟΣ σοφός, Ωmega ½ £5"),
    RoutingInput.from_text("日本語のテキストを英語に翻訳してください。한국어 텍스트도 있습니다。「引用」？"),
    RoutingInput.from_text("emoji 😀🤖 and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010ffff \U0001efff\U0001f000 \U0001faff\U0001fb00 🎉"),
    RoutingInput.from_text("lone \ud800 and \udfff, a pair as two: \ud83d\ude00. ctrl \x00\x1f\x7f\x85\u2028 ok"),
    RoutingInput.from_text(
        "def f(x):\n    return {x: [1, 2]}  # $x^2$\n```python\nprint(f(3))\n```\n- one\n* two\n• 3"
    ),
    RoutingInput.from_text("Summarize this.", system="You are a helpful assistant. Answer in French."),
    RoutingInput.from_text("x" * 5000, system="😀 système " * 200),
    RoutingInput.from_text(_CHARS * 120, system="Be brief.", turns=3),
    _raw("word 12 " * 700, system="sys " * 400, user_turns=2, max_tokens=50),  # beyond both windows
    _raw("ab " * 1024),  # exactly the prompt window
    _raw("ab " * 1024 + "c"),  # one past it
    RoutingInput(
        api="openai.chat",
        prompt=("Résumé 😀 日本 code{} $x$ 42\n" * 200) + "final question ?  ",
        system="\n",
        input_chars=1_000_000,
        messages=9,
        user_turns=7,
        max_tokens=4096,
        has_tools=True,
        json_output=True,
    ),
)


def expected_layout() -> dict[str, tuple[int, ...]]:
    """The constants the C code hard-codes, as this tree defines them (compared with ``_bag.LAYOUT``)."""
    cls = _Cls
    return {
        "hash": tuple(
            int(x)
            for x in (
                features._P,
                features._Q,
                features._GOLDEN,
                features._M2,
                features._SALT_WORD1,
                features._SALT_WORD2,
                features._SALT_CHAR,
                features._SALT_SYS1,
                features._SALT_SYS2,
            )
        ),
        "classes": (
            cls.LOWER,
            cls.UPPER,
            cls.DIGIT,
            cls.UNDERSCORE,
            cls.WORD,
            cls.CJK,
            cls.WORDLIKE_END,
            cls.SPACE,
            cls.NEWLINE,
            cls.CODE,
            cls.MATH,
            cls.PUNCT,
            cls.CONTROL,
            cls.SYMBOL,
            cls.COUNT,
        ),
        "dense": (
            Dense.SIZE,
            Dense.TURNS,
            Dense.HAS_TOOLS,
            Dense.JSON_OUTPUT,
            Dense.HAS_SYSTEM,
            Dense.CODE_FENCE,
            Dense.DIGIT_RATIO,
            Dense.PUNCT_RATIO,
            Dense.UPPER_RATIO,
            Dense.NON_ASCII_RATIO,
            Dense.LINE_DENSITY,
            Dense.CODE_SYMBOL_RATIO,
            Dense.MATH_SYMBOL_RATIO,
            Dense.ENDS_WITH_QUESTION,
            Dense.CJK_RATIO,
            Dense.LOG_TOKENS,
            Dense.NUMBERS,
            Dense.QUESTIONS,
            Dense.LIST_ITEMS,
            Dense.DEPTH,
            Dense.OUTPUT_ASK,
            Dense.USED,
        ),
        "ratio_order": features._RATIO_OFFSETS,
        "unicode": (features._BMP, *features._EMOJI, CHARS_PER_TOKEN),
        "size_edges": SIZE_EDGES,
        "turn_edges": features._TURN_EDGES,
    }


def enabled() -> bool:
    """False when ``TRIAGE_NATIVE`` turns the native path off."""
    return os.environ.get(ENV, "").strip().lower() not in _OFF


def load_extension(module: str = MODULE) -> ModuleType | None:
    """The extension module, or None if it is disabled, not built, or built from other constants.

    ``module`` is for tests: a name that does not import stands for a build without the extension.
    """
    if not enabled():
        log.info("classifier: native path disabled by %s", ENV)
        return None
    try:
        ext = importlib.import_module(module)
    except ImportError as exc:
        log.info("classifier: no native path (%s)", exc)
        return None
    if getattr(ext, "LAYOUT", None) != expected_layout():
        log.warning("classifier: %s was built from other feature constants; not used", module)
        return None
    return ext


class NativeScorer:
    """The featurizer and embedding bag of one feature config and model, in the extension. Thread-safe.

    ``table`` is the model's [D, K+1] float32 or float16 array and ``bias`` its [K+1] float32 vector (both are
    pinned by the extension, not copied); without them only ``features`` works. ``fallback`` scores the
    inputs the extension does not reproduce exactly (see the module docstring).
    """

    def __init__(
        self,
        ext: ModuleType,
        featurizer: Featurizer,
        table: npt.NDArray[Any] | None = None,
        bias: npt.NDArray[np.float32] | None = None,
        fallback: Callable[[RoutingInput], Scored] | None = None,
    ) -> None:
        cfg = featurizer.config
        cls_table, fold_table, _ = features._tables()
        params = (
            cfg.hash_bits,
            tuple(cfg.word_orders),
            tuple(cfg.char_orders),
            cfg.char_head_chars,
            cfg.char_tail_chars,
            cfg.prompt_head_chars,
            cfg.prompt_tail_chars,
            cfg.max_system_chars,
            float(cfg.word_weight),
            float(cfg.char_weight),
            float(cfg.system_weight),
            float(cfg.dense_weight),
        )
        if table is not None:
            table = np.ascontiguousarray(table)
            if table.dtype not in (np.float16, np.float32) or table.ndim != 2 or table.shape[0] < cfg.dim:
                raise ValueError(f"table {table.dtype} {table.shape} does not fit the id space {cfg.dim}")
        if bias is not None:
            bias = np.ascontiguousarray(bias, dtype=np.float32).reshape(-1)
        self.featurizer = featurizer
        args = (cls_table, fold_table, table, bias, params, RoutingInput)
        self._scorer = ext.Scorer(*args, fallback)
        self._strict = ext.Scorer(*args) if fallback is not None else self._scorer
        # (task_probs, p_strong) of one input, as EmbeddingBag(*featurizer.featurize(inp)) to rounding: the
        # extension's method itself, so that scoring a request is one call.
        self.score: Callable[[RoutingInput], Scored] = self._scorer.score
        # The same without the fallback: raises for the inputs the extension does not reproduce exactly.
        self.score_strict: Callable[[RoutingInput], Scored] = self._strict.score

    def __call__(self, inp: RoutingInput) -> Scored:
        """``score(inp)``."""
        return self.score(inp)

    def features(self, inp: RoutingInput) -> tuple[IdArray, ValArray]:
        """The extension's rows for ``inp``: those of ``featurizer.featurize(inp)``, bit for bit."""
        ids, vals = self._scorer.features(inp)
        return np.frombuffer(ids, np.int64), np.frombuffer(vals, np.float32)


def same_rows(a: tuple[IdArray, ValArray], b: tuple[IdArray, ValArray]) -> bool:
    """True if two row sets are identical: the same ids in the same order, the values equal bit for bit."""
    return (
        a[0].dtype == b[0].dtype == np.int64
        and a[1].dtype == b[1].dtype == np.float32
        and np.array_equal(a[0], b[0])
        and np.array_equal(a[1].view(np.uint32), b[1].view(np.uint32))
    )


def check(
    scorer: NativeScorer,
    reference: Callable[[IdArray, ValArray], Scored],
    probes: Sequence[RoutingInput] = PROBES,
) -> float:
    """The largest output difference from ``reference`` (run on the numpy featurizer's rows) over ``probes``.

    ``inf`` if the rows of any probe differ from the numpy featurizer's, or the extension fails on one.
    """
    diff = 0.0
    for inp in probes:
        want = scorer.featurizer.featurize(inp)
        try:
            got = scorer.features(inp)
            probs, p_strong = scorer.score_strict(inp)
        except (TypeError, ValueError, OverflowError, MemoryError) as exc:
            log.warning("classifier: the native path fails on a probe input: %s", exc)
            return float("inf")
        if not same_rows(got, want):
            log.warning("classifier: native features differ from the numpy featurizer's on a probe input")
            return float("inf")
        expected, strong = reference(*want)
        if len(probs) != len(expected):
            return float("inf")
        diff = max(diff, float(np.max(np.abs(np.subtract(probs, expected)))), abs(p_strong - strong))
    return diff
