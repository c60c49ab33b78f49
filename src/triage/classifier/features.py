"""Bounded-time featurizer: a ``RoutingInput`` becomes sparse ``(ids, vals)`` for the ONNX model.

Contract:

- ``Featurizer(config).featurize(inp)`` returns ``ids`` (int64, in ``[0, config.dim)``) and ``vals``
  (float32) of the same length, at least 1 and at most ``config.max_features``. The same id may appear
  more than once; the model sums ``table[id] * val`` over all rows, so duplicates count as repeats.
- The result depends only on the input and the config: hashing is a fixed polynomial hash over code
  points with a 64-bit finaliser, never Python's salted ``hash()``, so training and serving agree
  across processes and machines.
- Time and size are bounded by ``max_prompt_chars`` and ``max_system_chars``: the featurizer cuts
  the text again even though ``RoutingInput`` already windows it.

Feature streams, each hashed with its own salt so that the same n-gram in two streams gets two ids:
prompt word unigrams and bigrams, character n-grams of the prompt's head and tail, system-prompt word
unigrams and bigrams, and a few dense signals (sizes, turns, tools, JSON mode, character-class ratios) whose ids are the
``config.reserved`` slots at the top of the id space.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from triage.requests.input import RoutingInput, window

IdArray = npt.NDArray[np.int64]
ValArray = npt.NDArray[np.float32]
_U64 = npt.NDArray[np.uint64]

FEATURES_FILE = "features.json"

_P = 0x100000001B3  # FNV-1a 64-bit prime; odd, so it has an inverse modulo 2**64
_Q = 0x9FB21C651E98DF25  # a second odd multiplier, for word pairs
_MASK64 = (1 << 64) - 1
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S31 = np.uint64(31)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

# Stream salts: distinct odd constants, fixed forever (changing one changes every trained id).
_SALT_WORD1 = 0x1F3D5B79A2C4E6F1
_SALT_WORD2 = 0x2E4C6A8B1D3F5E73
_SALT_CHAR = 0x3A5C7E9B2D4F6A15
_SALT_SYS1 = 0x4B6D8F1A3C5E7B27
_SALT_SYS2 = 0x5C7E9A2B4D6F8C39

# Input-size buckets (characters across all messages), one-hot in the dense block.
SIZE_EDGES = (16, 64, 256, 512, 1024, 2048, 4096, 8192, 32768, 131072, 524288)
_TURN_EDGES = (2, 3, 6)


class Dense:
    """Offsets of the dense signals inside the reserved block (``dim - reserved + offset``)."""

    SIZE = 0  # 12 one-hot buckets of input_chars
    TURNS = 12  # 4 one-hot buckets of user turns: 1, 2, 3-5, 6+
    HAS_TOOLS = 16
    JSON_OUTPUT = 17
    HAS_SYSTEM = 18
    CODE_FENCE = 19
    DIGIT_RATIO = 20
    PUNCT_RATIO = 21
    UPPER_RATIO = 22
    NON_ASCII_RATIO = 23
    LINE_DENSITY = 24
    CODE_SYMBOL_RATIO = 25
    MATH_SYMBOL_RATIO = 26
    ENDS_WITH_QUESTION = 27
    CJK_RATIO = 28
    # Continuous signals that carry over between sources (sizes and structure, not vocabulary):
    LOG_TOKENS = 29  # ln(1 + estimated input tokens of the whole request, every message): not capped
    NUMBERS = 30  # ln(1 + runs of digits in the prompt window)
    QUESTIONS = 31  # ln(1 + question marks in the prompt window): sub-questions
    LIST_ITEMS = 32  # ln(1 + lines starting with "-", "*" or a bullet): steps and constraints
    DEPTH = 33  # ln(user turns): conversation depth
    OUTPUT_ASK = 34  # ln(1 + max_tokens) when the request sets it: the output size asked for
    USED = 35  # offsets below this are assigned; the rest of the block is spare


# The character-class ratios, in the order their rows are emitted (``Featurizer._dense``).
_RATIO_OFFSETS = (
    Dense.DIGIT_RATIO,
    Dense.PUNCT_RATIO,
    Dense.UPPER_RATIO,
    Dense.NON_ASCII_RATIO,
    Dense.LINE_DENSITY,
    Dense.CODE_SYMBOL_RATIO,
    Dense.MATH_SYMBOL_RATIO,
    Dense.CJK_RATIO,
)
_I8_DT = np.dtype(np.int8)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Featurizer parameters, stored as ``features.json`` in the model bundle.

    ``dim`` is ``2**hash_bits + reserved``: hashed n-grams fall in ``[0, 2**hash_bits)`` and the dense
    signals in the ``reserved`` slots above them.
    """

    version: int = 1
    hash_bits: int = 17
    reserved: int = 64
    word_orders: tuple[int, ...] = (1, 2)
    char_orders: tuple[int, ...] = (3, 4)
    char_head_chars: int = 768
    char_tail_chars: int = 256
    prompt_head_chars: int = 2048
    prompt_tail_chars: int = 1024
    max_system_chars: int = 1024
    word_weight: float = 1.0
    char_weight: float = 1.0
    system_weight: float = 0.5
    dense_weight: float = 1.0

    def __post_init__(self) -> None:
        if not 10 <= self.hash_bits <= 24:
            raise ValueError(f"hash_bits must be in [10, 24], got {self.hash_bits}")
        if not Dense.USED <= self.reserved <= 1024:
            raise ValueError(f"reserved must be in [{Dense.USED}, 1024], got {self.reserved}")
        if not self.word_orders or not set(self.word_orders) <= {1, 2}:
            raise ValueError("word orders must be among (1, 2)")
        if not all(1 <= n <= 8 for n in self.char_orders):
            raise ValueError("char orders must be in [1, 8]")
        if self.char_head_chars < 0 or self.char_tail_chars < 0:
            raise ValueError("char windows must not be negative")

    @property
    def dim(self) -> int:
        return (1 << self.hash_bits) + self.reserved

    @property
    def max_prompt_chars(self) -> int:
        return self.prompt_head_chars + self.prompt_tail_chars + 1

    @property
    def max_features(self) -> int:
        """An upper bound on the number of rows ``featurize`` returns, whatever the input."""
        text = self.max_prompt_chars + self.max_system_chars + 1
        words = (text // 2 + 1) * len(self.word_orders)
        chars = (self.char_head_chars + self.char_tail_chars) * len(self.char_orders)
        return words + chars + Dense.USED

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown feature config keys: {sorted(unknown)}")
        kwargs = dict(data)
        for key in ("word_orders", "char_orders"):
            if key in kwargs:
                kwargs[key] = tuple(int(n) for n in kwargs[key])
        return cls(**kwargs)

    @classmethod
    def load(cls, path: Path) -> FeatureConfig:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


class _Cls:
    """Character classes of the lookup table; one table look-up classifies a whole text."""

    # Word characters come first, so "is a word character" is one comparison: ``cls < WORDLIKE_END``.
    LOWER, UPPER, DIGIT, UNDERSCORE, WORD, CJK = range(6)
    WORDLIKE_END = 6
    SPACE, NEWLINE, CODE, MATH, PUNCT, CONTROL, SYMBOL = range(6, 13)
    COUNT = 13


_BMP = 0x10000  # the tables cover the BMP; one extra entry stands for every code point above it
_EMOJI = (0x1F000, 0x1FAFF)  # the one astral range that is not a word character: emoji and pictographs
_utf16 = codecs.utf_16_le_encode
_utf32 = codecs.utf_32_le_encode
# Per-request calls pass dtypes as instances and arguments by position: numpy's keyword parsing and dtype
# conversion are a good part of a small call's cost when caches are cold.
_frombuffer = np.frombuffer
_U8_DT = np.dtype(np.uint8)
_U16_DT = np.dtype(np.uint16)
_U64_DT = np.dtype(np.uint64)
_F32_DT = np.dtype(np.float32)
_I64_DT = np.dtype(np.int64)


_Tables = tuple[npt.NDArray[np.uint8], _U64, _U64]


@functools.cache
def _tables() -> _Tables:
    """Return (class, fold, is a word character) of every BMP code point: tables of 64 KB, 512 KB, 512 KB.

    The fold lower-cases (BMP), maps every ASCII digit to '0' (numbers generalise by shape) and every
    ASCII whitespace to a space. Above the BMP the fold is the identity and the class is ``WORD`` except
    for emoji (``SYMBOL``): ``_lookup`` applies that for the rare text that has such characters, so the
    tables stay small and a text touches only the few cache lines its characters live on.
    The last entry (index ``0x10000``) is where astral code points land when indices are clamped.
    """
    cls = np.full(_BMP + 1, _Cls.WORD, dtype=np.uint8)
    cls[:128] = _Cls.CONTROL
    cls[ord("a") : ord("z") + 1] = _Cls.LOWER
    cls[ord("A") : ord("Z") + 1] = _Cls.UPPER
    cls[ord("0") : ord("9") + 1] = _Cls.DIGIT
    cls[ord("_")] = _Cls.UNDERSCORE
    for ch in " \t\r":
        cls[ord(ch)] = _Cls.SPACE
    cls[ord("\n")] = _Cls.NEWLINE
    for ch in "!\"#%&',-.:?@`|~":
        cls[ord(ch)] = _Cls.PUNCT
    for ch in "{}[]();=<>":
        cls[ord(ch)] = _Cls.CODE
    for ch in "$\\^+*/":
        cls[ord(ch)] = _Cls.MATH
    for lo, hi in (
        (0x80, 0xBF),  # Latin-1 punctuation and symbols
        (0x2000, 0x2BFF),  # general punctuation, arrows, math operators, box drawing, misc symbols
        (0x3000, 0x303F),  # CJK punctuation
        (0xFF00, 0xFF0F),  # full-width punctuation
        (0xD800, 0xDFFF),  # lone surrogates
    ):
        cls[lo : hi + 1] = _Cls.SYMBOL
    for lo, hi in ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF)):
        cls[lo : hi + 1] = _Cls.CJK
    fold = np.arange(_BMP + 1, dtype=np.uint64)
    for i in range(_BMP):
        if 0xD800 <= i <= 0xDFFF:
            continue
        low = chr(i).lower()
        fold[i] = ord(low[0])
    fold[ord("0") : ord("9") + 1] = ord("0")
    fold[[ord("\t"), ord("\n"), ord("\r")]] = ord(" ")
    word = (cls < _Cls.WORDLIKE_END).astype(np.uint64)
    for table in (cls, fold, word):
        table.flags.writeable = False
    return cls, fold, word


def _lookup(text: str, tables: _Tables) -> tuple[npt.NDArray[np.uint8], _U64, _U64]:
    """Return the class, the fold and the word flag (0/1) of every code point of ``text``.

    The code points come from the cheapest encoding that holds them as fixed-width units (ASCII, else
    UTF-16 when no code point is above the BMP), and index the tables directly: ``take`` with narrow
    indices is the cheapest gather numpy has. The codec is called directly, not through ``str.encode``,
    whose codec-registry lookup costs more than the encoding when caches are cold. Lone surrogates are
    code points like any other.
    """
    if text.isascii():
        units: npt.NDArray[np.unsignedinteger[Any]] = _frombuffer(text.encode("ascii"), _U8_DT)
    else:
        data = _utf16(text, "surrogatepass")[0]
        if len(data) != 2 * len(text):  # a code point above the BMP: the rare, slower path
            return _lookup_astral(text, tables)
        units = _frombuffer(data, _U16_DT)  # every code point is a single UTF-16 unit
    cls_table, fold_table, word_table = tables
    return cls_table.take(units), fold_table.take(units), word_table.take(units)


def _lookup_astral(text: str, tables: _Tables) -> tuple[npt.NDArray[np.uint8], _U64, _U64]:
    """``_lookup`` for a text with code points above the BMP: clamp them to the sentinel, then fix them."""
    raw = np.frombuffer(_utf32(text, "surrogatepass")[0], dtype=np.uint32)
    units = np.minimum(raw, _BMP)
    cls, fold = tables[0].take(units), tables[1].take(units)
    astral = raw >= _BMP
    fold[astral] = raw[astral]
    cls[(raw >= _EMOJI[0]) & (raw <= _EMOJI[1])] = _Cls.SYMBOL
    return cls, fold, (cls < _Cls.WORDLIKE_END).astype(np.uint64)


class Featurizer:
    """Turns routing inputs into hashed sparse features. Stateless after construction; thread-safe.

    In production each call runs with cold caches (other processes run between requests), where every
    distinct numpy operation costs far more than the arithmetic it does (~10 us to bring its code back
    in): so the work is a few kinds of whole-array operations per request, repeated rather than varied,
    called as ufuncs and methods (numpy's Python-level wrappers cost as much again), and written into one
    preallocated buffer. ``bench/classifier_cost.py`` measures it.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        cfg = self.config
        n = cfg.max_prompt_chars + cfg.max_system_chars + 2
        inv = pow(_P, -1, 1 << 64)
        pw = np.empty(n, dtype=np.uint64)
        ipw = np.empty(n, dtype=np.uint64)
        a, b = 1, 1
        for i in range(n):
            pw[i] = a
            ipw[i] = b
            a = (a * _P) & _MASK64
            b = (b * inv) & _MASK64
        self._pw = pw
        self._ipw = ipw
        self._golden = np.arange(n, dtype=np.uint64) * _GOLDEN  # i * GOLDEN: word lengths as differences
        for table in (pw, ipw, self._golden):
            table.flags.writeable = False
        self._tables = _tables()
        self._shift = np.uint64(64 - cfg.hash_bits)
        self._dense_base = 1 << cfg.hash_bits
        self._chars = [
            (order, np.uint64((_SALT_CHAR * (order + 1)) & _MASK64), cfg.char_weight) for order in cfg.char_orders
        ]
        self._salts = tuple(np.uint64(s) for s in (_SALT_WORD1, _SALT_SYS1, _SALT_WORD2, _SALT_SYS2, _P, _Q))

    def featurize(self, inp: RoutingInput) -> tuple[IdArray, ValArray]:
        """Return the ``(ids, vals)`` rows for one input (see the module docstring for the contract)."""
        cfg = self.config
        prompt = window(inp.prompt, cfg.prompt_head_chars, cfg.prompt_tail_chars)[: cfg.max_prompt_chars]
        system = inp.system[: cfg.max_system_chars]
        # One pass over "system \n prompt": words before `start` belong to the system stream.
        start = len(system) + 1 if system else 0
        n = start + len(prompt)
        # A space at both ends: not a word character, so every word run starts and ends inside the text.
        cls, c, word = _lookup(f" {system}\n{prompt} " if system else f" {prompt} ", self._tables)
        # Polynomial prefix hashes: the hash of span [a, b) is (pre[b] - pre[a]) * P**-a.
        pre = np.empty(n + 1, _U64_DT)
        pre[0] = 0
        np.multiply(c[1:-1], self._pw[:n], pre[1:])
        np.add.accumulate(pre[1:], 0, None, pre[1:])
        # Word runs: `bounds` alternates run starts and ends (text positions: word[i + 1] is character i).
        # The "\n" after the system text is not a word character, so no word straddles `start`, and the
        # system words are the runs before it.
        edges = word[1:] - word[:-1]
        bounds = edges.nonzero()[0]
        n_words = len(bounds) // 2
        n_sys = len(edges[:start].nonzero()[0]) // 2 if start else 0

        # Every stream is written once into one buffer `out`: sizes first.
        uni = n_words if 1 in cfg.word_orders else 0
        bi = n_words - 1 if 2 in cfg.word_orders and n_words > 1 else 0
        # Character n-grams cover the prompt's head and tail only: they cost the most rows per character,
        # and the words already cover the whole window.
        segments: tuple[tuple[int, int], ...] = ((start, n),)
        if n - start > cfg.char_head_chars + cfg.char_tail_chars:
            segments = ((start, start + cfg.char_head_chars), (n - cfg.char_tail_chars, n))
        m = uni + bi
        for order, _, _ in self._chars:
            for a, b in segments:
                m += max(0, b - a - order + 1)
        dense_ids, dense_vals = self._dense(inp, cls[start + 1 : -1])
        out = np.empty(m + len(dense_ids), _U64_DT)
        # Row weights by runs: `weights[i]` for the next `counts[i]` rows (system rows first in a stream).
        counts: list[int] = []
        weights: list[float] = []
        if n_words:
            w1, s1, w2, s2, p, q = self._salts
            x = pre.take(bounds)
            g = self._golden.take(bounds)
            words = x[1::2] - x[0::2]
            words *= self._ipw.take(bounds[0::2])
            words += g[1::2]
            words -= g[0::2]
            if uni:
                h = out[:uni]
                np.bitwise_xor(words, w1, h)
                if n_sys:
                    np.bitwise_xor(h[:n_sys], s1, h[:n_sys])
                self._weigh(counts, weights, uni, n_sys)
            if bi:
                h = out[uni : uni + bi]
                np.multiply(words[:-1], p, h)
                h += words[1:] * q
                np.bitwise_xor(h, w2, h)
                k = min(n_sys, bi)  # the bigram across the system's end counts as a system bigram
                if k:
                    np.bitwise_xor(h[:k], s2, h[:k])
                self._weigh(counts, weights, bi, k)
        o = uni + bi
        for order, salt, weight in self._chars:
            first = o
            for a, b in segments:
                span = b - a - order + 1
                if span > 0:
                    h = out[o : o + span]
                    np.subtract(pre[a + order : b + 1], pre[a : a + span], h)
                    np.multiply(h, self._ipw[a : a + span], h)
                    o += span
            if o > first:
                np.bitwise_xor(out[first:o], salt, out[first:o])
                counts.append(o - first)
                weights.append(weight / math.sqrt(o - first))

        hashed = out[:m]
        hashed ^= hashed >> _S31  # one xor-shift-multiply round: the ids use the well-mixed top bits
        hashed *= _M2
        hashed >>= self._shift
        out[m:] = dense_ids
        vals = np.array(weights + dense_vals, _F32_DT).repeat(counts + [1] * len(dense_vals))
        if cfg.dense_weight != 1.0:
            vals[m:] *= np.float32(cfg.dense_weight)
        return out.view(_I64_DT), vals

    def _weigh(self, counts: list[int], weights: list[float], rows: int, n_sys: int) -> None:
        """Weights of a word stream of ``rows`` rows whose first ``n_sys`` come from the system prompt."""
        if n_sys:
            counts.append(n_sys)
            weights.append(self.config.system_weight / math.sqrt(n_sys))
        if rows > n_sys:
            counts.append(rows - n_sys)
            weights.append(self.config.word_weight / math.sqrt(rows - n_sys))

    def _dense(self, inp: RoutingInput, cls: npt.NDArray[np.uint8]) -> tuple[list[int], list[float]]:
        """The dense rows' ids and (unweighted) values, in ``Dense`` order (flags, then ratios)."""
        base = self._dense_base
        prompt = inp.prompt
        ids = [
            base + Dense.SIZE + bisect.bisect_right(SIZE_EDGES, max(inp.input_chars, len(prompt))),
            base + Dense.TURNS + bisect.bisect_right(_TURN_EDGES, inp.user_turns),
        ]
        if inp.has_tools:
            ids.append(base + Dense.HAS_TOOLS)
        if inp.json_output:
            ids.append(base + Dense.JSON_OUTPUT)
        if inp.system:
            ids.append(base + Dense.HAS_SYSTEM)
        if "```" in prompt:
            ids.append(base + Dense.CODE_FENCE)
        if prompt.rstrip().endswith("?"):
            ids.append(base + Dense.ENDS_WITH_QUESTION)
        values = [1.0] * len(ids)
        n = len(cls)
        if n:
            k = np.bincount(cls, None, _Cls.COUNT).tolist()
            for offset, value in zip(
                _RATIO_OFFSETS,
                (
                    k[_Cls.DIGIT] / n,
                    (k[_Cls.PUNCT] + k[_Cls.CODE] + k[_Cls.MATH]) / n,
                    k[_Cls.UPPER] / n,
                    (k[_Cls.WORD] + k[_Cls.CJK] + k[_Cls.SYMBOL]) / n,
                    min(1.0, k[_Cls.NEWLINE] / 40.0),  # 40+ lines saturate
                    k[_Cls.CODE] / n,
                    k[_Cls.MATH] / n,
                    k[_Cls.CJK] / n,
                ),
                strict=True,
            ):
                if value > 0.0:
                    ids.append(base + offset)
                    values.append(value)
            numbers = 0
            if k[_Cls.DIGIT]:
                digit = (cls == _Cls.DIGIT).view(_I8_DT)
                numbers = int(digit[0]) + int(np.count_nonzero(digit[1:] > digit[:-1]))
            lines = prompt.count("\n-") + prompt.count("\n*") + prompt.count("\n•")
            for offset, count in (
                (Dense.NUMBERS, numbers),
                (Dense.QUESTIONS, prompt.count("?") + prompt.count("？")),
                (Dense.LIST_ITEMS, lines),
            ):
                if count:
                    ids.append(base + offset)
                    values.append(math.log1p(count))
        ids.append(base + Dense.LOG_TOKENS)
        values.append(math.log1p(inp.input_tokens_estimate))
        if inp.user_turns > 1:
            ids.append(base + Dense.DEPTH)
            values.append(math.log(inp.user_turns))
        if inp.max_tokens:
            ids.append(base + Dense.OUTPUT_ASK)
            values.append(math.log1p(inp.max_tokens))
        return ids, values
