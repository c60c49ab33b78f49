"""A frozen copy of the original featurizer, the reference the optimised one must match bit for bit.

``triage.classifier.features.Featurizer`` was rewritten for speed (BMP tables, fewer and fused numpy calls);
the model was trained on the ids and values this code produces, so the rewrite must produce exactly the
same arrays. Do not "fix" or speed up this file: it is the specification the tests hold the fast one to.
"""

from __future__ import annotations

import bisect
import functools
import math

import numpy as np
import numpy.typing as npt

from triage.classifier.features import (
    _GOLDEN,
    _M2,
    _MASK64,
    _P,
    _Q,
    _S31,
    _SALT_CHAR,
    _SALT_SYS1,
    _SALT_SYS2,
    _SALT_WORD1,
    _SALT_WORD2,
    _TURN_EDGES,
    SIZE_EDGES,
    Dense,
    FeatureConfig,
    IdArray,
    ValArray,
)
from triage.requests.input import RoutingInput, window

_U64 = npt.NDArray[np.uint64]


def _mix(h: _U64) -> _U64:
    """A cheaper one-round mix for the final ids, whose quality lives in the top bits used."""
    return (h ^ (h >> _S31)) * _M2


class _Cls:
    """Character classes of the lookup table; one table look-up classifies a whole text."""

    # Word characters come first, so "is a word character" is one comparison: ``cls < WORDLIKE_END``.
    LOWER, UPPER, DIGIT, UNDERSCORE, WORD, CJK = range(6)
    WORDLIKE_END = 6
    SPACE, NEWLINE, CODE, MATH, PUNCT, CONTROL, SYMBOL = range(6, 13)
    COUNT = 13


@functools.cache
def _tables() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint32]]:
    """Return (class of every code point, fold of every code point).

    The fold table lower-cases (BMP), maps every ASCII digit to '0' (numbers generalise by shape) and
    every ASCII whitespace to a space. Both tables cover all of Unicode, so one gather does a whole text.
    """
    cls = np.full(0x110000, _Cls.WORD, dtype=np.uint8)
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
        (0x1F000, 0x1FAFF),  # emoji and pictographs
    ):
        cls[lo : hi + 1] = _Cls.SYMBOL
    for lo, hi in ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF)):
        cls[lo : hi + 1] = _Cls.CJK
    fold = np.arange(0x110000, dtype=np.uint32)
    for i in range(0x10000):
        if 0xD800 <= i <= 0xDFFF:
            continue
        low = chr(i).lower()
        fold[i] = ord(low[0])
    fold[ord("0") : ord("9") + 1] = ord("0")
    fold[[ord("\t"), ord("\n"), ord("\r")]] = ord(" ")
    return cls, fold


def _codepoints(text: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class ReferenceFeaturizer:
    """The featurizer as first written (many small numpy calls over full-Unicode tables)."""

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
        self._cls, self._fold = _tables()
        self._shift = np.uint64(64 - cfg.hash_bits)
        self._dense_base = 1 << cfg.hash_bits
        self._char_salts = [np.uint64((_SALT_CHAR * (order + 1)) & _MASK64) for order in cfg.char_orders]
        self._u64 = {
            name: np.uint64(value)
            for name, value in (
                ("w1", _SALT_WORD1),
                ("w2", _SALT_WORD2),
                ("s1", _SALT_SYS1),
                ("s2", _SALT_SYS2),
                ("p", _P),
                ("q", _Q),
            )
        }

    def featurize(self, inp: RoutingInput) -> tuple[IdArray, ValArray]:
        """Return the ``(ids, vals)`` rows for one input (see the module docstring for the contract)."""
        cfg = self.config
        prompt = window(inp.prompt, cfg.prompt_head_chars, cfg.prompt_tail_chars)[: cfg.max_prompt_chars]
        system = inp.system[: cfg.max_system_chars]
        # One pass over "system \n prompt": words before `start` belong to the system stream.
        start = len(system) + 1 if system else 0
        # Index with intp: numpy gathers several times faster with native-width indices than with uint32.
        raw = _codepoints(system + "\n" + prompt if system else prompt).astype(np.intp)
        cls = self._cls[raw]
        c = self._fold[raw].astype(np.uint64)
        pre = np.zeros(len(c) + 1, dtype=np.uint64)
        np.cumsum(c * self._pw[: len(c)], out=pre[1:])

        words, starts = self._words(pre, cls < _Cls.WORDLIKE_END)
        n_words = len(words)
        n_sys = int(np.searchsorted(starts, start)) if start else 0
        parts: list[_U64] = []
        counts: list[int] = []
        weights: list[float] = []

        def add(h: _U64, n_first: int, w_first: float, w_rest: float) -> None:
            """Append a stream whose first ``n_first`` rows are system rows; weight each sub-stream."""
            parts.append(h)
            for n, w in ((n_first, w_first), (len(h) - n_first, w_rest)):
                counts.append(n)
                weights.append(w / math.sqrt(n) if n else 0.0)

        if n_words:
            sys_w, prompt_w = cfg.system_weight, cfg.word_weight
            if 1 in cfg.word_orders:
                uni = words ^ self._u64["w1"]
                uni[:n_sys] ^= self._u64["s1"]
                add(uni, n_sys, sys_w, prompt_w)
            if 2 in cfg.word_orders and n_words > 1:
                bi = (words[:-1] * self._u64["p"] + words[1:] * self._u64["q"]) ^ self._u64["w2"]
                bi[:n_sys] ^= self._u64["s2"]
                add(bi, min(n_sys, n_words - 1), sys_w, prompt_w)
        # Character n-grams cover the prompt's head and tail only: they cost the most rows per character,
        # and the words already cover the whole window.
        end = len(c)
        if end - start <= cfg.char_head_chars + cfg.char_tail_chars:
            segments = [(start, end)]
        else:
            segments = [(start, start + cfg.char_head_chars), (end - cfg.char_tail_chars, end)]
        for order, salt in zip(cfg.char_orders, self._char_salts, strict=True):
            grams = [self._char_grams(pre, a, b, order) for a, b in segments]
            merged = grams[0] if len(grams) == 1 else np.concatenate(grams)
            if len(merged):
                add(merged ^ salt, 0, 0.0, cfg.char_weight)

        dense_ids, dense_vals = self._dense(inp, cls[start:])
        if not parts:
            return dense_ids, dense_vals
        hashed = _mix(np.concatenate(parts)) >> self._shift
        ids = np.concatenate((hashed.astype(np.int64), dense_ids))
        vals = np.concatenate((np.repeat(np.asarray(weights, dtype=np.float32), counts), dense_vals))
        return ids, vals

    def _char_grams(self, pre: _U64, a: int, b: int, order: int) -> _U64:
        """Hashes of the ``order``-grams inside ``[a, b)``, independent of where the span sits."""
        span = b - a - order + 1
        if span <= 0:
            return np.empty(0, dtype=np.uint64)
        grams: _U64 = (pre[a + order : b + 1] - pre[a : a + span]) * self._ipw[a : a + span]
        return grams

    def _words(self, pre: _U64, is_word: npt.NDArray[np.bool_]) -> tuple[_U64, npt.NDArray[np.intp]]:
        """Hash every maximal run of word characters; return the hashes and the runs' start positions.

        The hash of span [a, b) does not depend on a, so a word hashes the same wherever it occurs.
        """
        n = len(is_word)
        bounds = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1  # alternating run starts and ends
        if n and is_word[0]:
            bounds = np.concatenate((np.zeros(1, dtype=bounds.dtype), bounds))
        if n and is_word[-1]:
            bounds = np.concatenate((bounds, np.full(1, n, dtype=bounds.dtype)))
        starts = bounds[0::2]
        ends = bounds[1::2]
        seg: _U64 = (pre[ends] - pre[starts]) * self._ipw[starts]
        return seg + (ends - starts).astype(np.uint64) * _GOLDEN, starts

    def _dense(self, inp: RoutingInput, cls: npt.NDArray[np.uint8]) -> tuple[IdArray, ValArray]:
        offsets: list[int] = [
            Dense.SIZE + bisect.bisect_right(SIZE_EDGES, max(inp.input_chars, len(inp.prompt))),
            Dense.TURNS + bisect.bisect_right(_TURN_EDGES, inp.user_turns),
        ]
        values: list[float] = [1.0, 1.0]
        for flag, offset in (
            (inp.has_tools, Dense.HAS_TOOLS),
            (inp.json_output, Dense.JSON_OUTPUT),
            (bool(inp.system), Dense.HAS_SYSTEM),
            ("```" in inp.prompt, Dense.CODE_FENCE),
            (inp.prompt.rstrip().endswith("?"), Dense.ENDS_WITH_QUESTION),
        ):
            if flag:
                offsets.append(offset)
                values.append(1.0)
        n = len(cls)
        if n:
            k = np.bincount(cls, minlength=_Cls.COUNT).tolist()
            for offset, value in (
                (Dense.DIGIT_RATIO, k[_Cls.DIGIT] / n),
                (Dense.PUNCT_RATIO, (k[_Cls.PUNCT] + k[_Cls.CODE] + k[_Cls.MATH]) / n),
                (Dense.UPPER_RATIO, k[_Cls.UPPER] / n),
                (Dense.NON_ASCII_RATIO, (k[_Cls.WORD] + k[_Cls.CJK] + k[_Cls.SYMBOL]) / n),
                (Dense.LINE_DENSITY, min(1.0, k[_Cls.NEWLINE] / 40.0)),  # 40+ lines saturate
                (Dense.CODE_SYMBOL_RATIO, k[_Cls.CODE] / n),
                (Dense.MATH_SYMBOL_RATIO, k[_Cls.MATH] / n),
                (Dense.CJK_RATIO, k[_Cls.CJK] / n),
            ):
                if value > 0.0:
                    offsets.append(offset)
                    values.append(value)
            digit = [c == _Cls.DIGIT for c in cls.tolist()]
            runs = sum(1 for i, d in enumerate(digit) if d and (i == 0 or not digit[i - 1]))
            prompt = inp.prompt
            for offset, count in (
                (Dense.NUMBERS, runs),
                (Dense.QUESTIONS, prompt.count("?") + prompt.count("？")),
                (Dense.LIST_ITEMS, sum(prompt.count("\n" + b) for b in "-*•")),
            ):
                if count:
                    offsets.append(offset)
                    values.append(math.log(1 + count))
        offsets.append(Dense.LOG_TOKENS)
        values.append(math.log(1 + inp.input_tokens_estimate))
        if inp.user_turns > 1:
            offsets.append(Dense.DEPTH)
            values.append(math.log(inp.user_turns))
        if inp.max_tokens:
            offsets.append(Dense.OUTPUT_ASK)
            values.append(math.log(1 + inp.max_tokens))
        ids = np.asarray(offsets, dtype=np.int64) + self._dense_base
        vals = np.asarray(values, dtype=np.float32) * np.float32(self.config.dense_weight)
        return ids, vals
