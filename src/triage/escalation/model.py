"""The verifier's model: per-task logistic weights over the answer's signals, and their defaults.

``score = sigmoid(intercept + sum(weight_i * feature_i))`` over ``triage.escalation.signals.FEATURES``: the
estimated probability that the cheap answer is acceptable. Every task has its own weights and usual answer length
(``TaskProfile``); a task the configuration does not name uses ``VerifierConfig.default``.

**The defaults are priors, not measurements.** No labelled data pairing cheap answers' logprobs with their
acceptability is available to this project, so nothing here was fitted. Each weight is a stated judgement, chosen
for the direction and rough size of its effect; ``triage.escalation.calibration.calibrate`` replaces them with
weights fitted on an operator's own labelled traffic. The judgements:

- **intercept** — the chance an answer with no visible problem is acceptable, as log-odds, per task. The order
  follows the policy's task sensitivities (``policy.task_bias``: code and math suffer most on a weaker model,
  summarization, translation and classification least); the levels (0.65 for math up to 0.85) keep an answer
  with nothing wrong above a 0.5 threshold with room to spare, so escalation is driven by evidence, not by task.
- **logprobs** (strongest when present). ``has_logprobs`` +1.5: an answer whose logprobs show confidence should
  score above the no-information prior. ``logprob_mean`` +3.0 per nat: a confident chat answer averages about
  -0.1 to -0.3 per token, a doubtful one -1 or lower; length-normalised sequence likelihood is the usual
  confidence baseline for generated text (Malinin & Gales 2021; Kadavath et al. 2022), and its calibration is
  model-specific, hence ``calibrate``. ``low_share`` -4.0: a quarter of the tokens below 10% probability (the
  -2.3 cut-off) costs one logit. ``logprob_min`` +0.08 per nat, clipped at -10: one unlikely token appears in most
  long answers, so the minimum is weak evidence (at most 0.8 logits). Together, for ``open_qa`` (prior 0.80):
  mean -0.1 / 2% low / min -3 scores 0.91; mean -0.5 / 10% / -6 scores 0.62; mean -1.0 / 25% / -9 scores 0.14.
- **truncated** -2.5: the answer was cut at the token limit (0.80 → 0.25); a stronger model often finishes.
- **refusal** -3.5 (→ 0.11): a refusal of a request that reached the router is rarely what the client wanted,
  and stronger models refuse less. **hedge** -1.5 (→ 0.47): the model says it may be wrong.
- **empty** -6 and **unparsable** -6 (→ 0.01): nothing usable came back. **invalid_json** -4 (→ 0.07): JSON was
  asked for, so a program will fail to read the answer.
- **short** -1.5 at most (→ 0.47 for a one-token answer), scaled by how far the answer falls below a quarter of
  the task's usual length (``expected_tokens``: 10 for classification up to 500 for creative writing).

Per-task departures: where the answer restates the user's text (summarization, translation, rewrite) a refusal
or hedge phrase is often quoted, so those weigh less; classification labels, extractions and translations of
short texts are short by nature, so ``short`` weighs little or nothing; an extraction's JSON is read by a program,
so ``invalid_json`` weighs more (-5); creative writing and brainstorming are sampled for variety, so their tokens
are less likely by design and the logprob weights are halved.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from triage.escalation.signals import FEATURES


@dataclass(frozen=True, slots=True)
class Weights:
    """The intercept and one coefficient per ``FEATURES`` name (the field order is ``FEATURES`` order)."""

    intercept: float = 1.39  # log-odds of 0.80
    has_logprobs: float = 1.5
    logprob_mean: float = 3.0
    logprob_min: float = 0.08
    low_share: float = -4.0
    truncated: float = -2.5
    refusal: float = -3.5
    hedge: float = -1.5
    empty: float = -6.0
    invalid_json: float = -4.0
    short: float = -1.5
    unparsable: float = -6.0

    def __post_init__(self) -> None:
        bad = [f.name for f in dataclasses.fields(self) if not math.isfinite(getattr(self, f.name))]
        if bad:
            raise ValueError(f"weights must be finite numbers: {', '.join(bad)}")

    @property
    def coefficients(self) -> tuple[float, ...]:
        """The coefficients in ``FEATURES`` order (without the intercept)."""
        return tuple(getattr(self, name) for name in FEATURES)

    @classmethod
    def from_vector(cls, intercept: float, coefficients: Sequence[float]) -> Weights:
        """Weights from an intercept and coefficients in ``FEATURES`` order."""
        if len(coefficients) != len(FEATURES):
            raise ValueError(f"expected {len(FEATURES)} coefficients, got {len(coefficients)}")
        return cls(intercept=float(intercept), **{n: float(c) for n, c in zip(FEATURES, coefficients, strict=True)})

    def logit(self, features: Sequence[float]) -> float:
        """``intercept + weights · features`` (features in ``FEATURES`` order)."""
        # Written out: a generic zip over ``coefficients`` costs 5x more, and this runs once per verified answer.
        has, mean, minimum, low, truncated, refusal, hedge, empty, invalid_json, short, unparsable = features
        return (
            self.intercept
            + self.has_logprobs * has
            + self.logprob_mean * mean
            + self.logprob_min * minimum
            + self.low_share * low
            + self.truncated * truncated
            + self.refusal * refusal
            + self.hedge * hedge
            + self.empty * empty
            + self.invalid_json * invalid_json
            + self.short * short
            + self.unparsable * unparsable
        )

    def score(self, features: Sequence[float]) -> float:
        """P(acceptable) in [0, 1]: the logistic of ``logit``."""
        z = self.logit(features)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class TaskProfile:
    """One task's weights and usual answer length in tokens (what ``short`` compares with)."""

    weights: Weights = field(default_factory=Weights)
    expected_tokens: int = 256

    def __post_init__(self) -> None:
        if self.expected_tokens < 1:
            raise ValueError(f"expected_tokens must be >= 1, got {self.expected_tokens}")


@dataclass(frozen=True, slots=True)
class VerifierConfig:
    """Per-task profiles, the profile of any other task, and the two thresholds signals are read with.

    ``low_logprob``: a token below this logprob counts in ``low_share`` (-2.3 ≈ ln 0.1). ``short_ratio``: an answer
    under this fraction of its task's usual length counts as short."""

    tasks: Mapping[str, TaskProfile] = field(default_factory=dict)
    default: TaskProfile = field(default_factory=TaskProfile)
    low_logprob: float = -2.3
    short_ratio: float = 0.25

    def __post_init__(self) -> None:
        if not self.low_logprob < 0:
            raise ValueError(f"low_logprob must be < 0, got {self.low_logprob}")
        if not 0 < self.short_ratio <= 1:
            raise ValueError(f"short_ratio must be in (0, 1], got {self.short_ratio}")

    def profile(self, task: str | None) -> tuple[str, TaskProfile]:
        """(name, profile) for ``task``: its own, or ``("default", default)``."""
        if task is not None and task in self.tasks:
            return task, self.tasks[task]
        return "default", self.default


def _logit(p: float) -> float:
    return round(math.log(p / (1 - p)), 2)


def _task(base_rate: float, expected_tokens: int, **weights: float) -> TaskProfile:
    return TaskProfile(Weights(intercept=_logit(base_rate), **weights), expected_tokens)


_QUOTES_USER_TEXT: Final = {"refusal": -2.0, "hedge": -0.5}
_SAMPLED_FOR_VARIETY: Final = {"logprob_mean": 1.5, "low_share": -2.0}

DEFAULT_CONFIG: Final = VerifierConfig(
    tasks={
        "code": _task(0.70, 350),
        "math": _task(0.65, 300),
        "reasoning": _task(0.70, 300),
        "extraction": _task(0.75, 120, short=-0.5, invalid_json=-5.0),
        "summarization": _task(0.85, 200, **_QUOTES_USER_TEXT),
        "translation": _task(0.85, 150, short=-0.5, **_QUOTES_USER_TEXT),
        "classification": _task(0.85, 10, short=0.0),
        "creative_writing": _task(0.80, 500, **_SAMPLED_FOR_VARIETY),
        "brainstorming": _task(0.85, 400, **_SAMPLED_FOR_VARIETY),
        "rewrite": _task(0.85, 200, **_QUOTES_USER_TEXT),
        "open_qa": _task(0.80, 250),
    },
    default=_task(0.80, 256),
)

_PROFILE_KEYS: Final = frozenset({"expected_tokens", *(f.name for f in dataclasses.fields(Weights))})


def configure(
    overrides: Mapping[str, Mapping[str, Any]],
    *,
    base: VerifierConfig = DEFAULT_CONFIG,
    low_logprob: float | None = None,
    short_ratio: float | None = None,
) -> VerifierConfig:
    """``base`` with per-task values replaced: ``{"code": {"expected_tokens": 500, "hedge": -2.0}, ...}``.

    A key is ``expected_tokens`` or a ``Weights`` field; the task ``default`` changes the profile of unnamed tasks,
    and a task ``base`` does not name starts from that default. Every problem is reported in one ``ValueError``."""
    problems: list[str] = []
    tasks = dict(base.tasks)
    default = base.default
    for task, values in overrides.items():
        unknown = sorted(set(values) - _PROFILE_KEYS)
        if unknown:
            problems.append(f"{task}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_PROFILE_KEYS))})")
            continue
        start = default if task == "default" else tasks.get(task, default)
        weights = {k: v for k, v in values.items() if k != "expected_tokens"}
        try:
            profile = TaskProfile(
                dataclasses.replace(start.weights, **weights),
                int(values.get("expected_tokens", start.expected_tokens)),
            )
        except (TypeError, ValueError) as err:
            problems.append(f"{task}: {err}")
            continue
        if task == "default":
            default = profile
        else:
            tasks[task] = profile
    if problems:
        raise ValueError("invalid verifier configuration: " + "; ".join(problems))
    return VerifierConfig(
        tasks=tasks,
        default=default,
        low_logprob=base.low_logprob if low_logprob is None else low_logprob,
        short_ratio=base.short_ratio if short_ratio is None else short_ratio,
    )
