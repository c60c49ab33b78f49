"""A small synthetic decision store for retraining tests: a handful of requests with known decision ids.

The prompts are the project's own text. Every record is a real ``DecisionRecord`` line and every event a real
``Event`` line (``triage.train.feedback.write_store``), with the opt-in capture file beside them, so a retrain
reads it exactly as it reads a production store. The ladder is economy (floor, threshold 0) → premium (0.6).

- ``HARD``: code requests on economy rated thumbs-down (two regenerated instead): needed the strong model.
- ``EASY``: short questions on economy rated thumbs-up: the cheap route sufficed.
- ``OVER``: short questions of the same bucket (open_qa, < 256 tokens) on premium rated thumbs-up: over-served,
  because economy wins on that bucket.
- ``PREMIUM_BAD``: premium answers rated thumbs-down: no target (the strong model failed too).
- one failed request (HTTP 500) rated thumbs-down, one with principals who disagree, and one negative economy
  answer whose input was not captured: no trainable target each, counted.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from triage.requests.input import RoutingInput
from triage.train.feedback import Traffic, write_store

DAY_MS = 86_400_000
START_MS = 1_736_121_600_000  # 2025-01-06T00:00:00Z
ECONOMY_PRICE = (0.10, 0.30)  # USD per million input / output tokens
PREMIUM_PRICE = (2.50, 10.00)

HARD = [
    "Fix the deadlock in this lock-free ring buffer: the SPI DMA interrupt handler spins on a futex.",
    "Why does my kernel module oops in the DMA completion callback under a spinlock with preemption off?",
    "Rewrite this lock-free queue so the compare-and-swap loop cannot livelock when the DMA handler preempts it.",
    "The futex wait in my interrupt-driven SPI driver deadlocks under load; find the race in the ring buffer.",
    "Prove this lock-free stack is linearizable when a DMA interrupt preempts the compare-and-swap.",
    "My SPI driver's DMA ring buffer corrupts entries when the interrupt fires mid compare-and-swap: fix it.",
    "Find the memory-ordering bug: the DMA interrupt reads the ring buffer head before the futex release.",
    "This spinlock around the SPI DMA descriptor ring deadlocks on a second core; explain and fix the lock order.",
]
EASY = [
    "What is the capital of France?",
    "How many days are in a week?",
    "What colour is the sky on a clear day?",
    "Who wrote Romeo and Juliet?",
    "What is the boiling point of water in Celsius?",
    "How many legs does a spider have?",
    "What is the largest ocean on Earth?",
    "Which planet is closest to the Sun?",
]
OVER = [
    "What is the capital of Spain?",
    "How many months are in a year?",
    "What colour are bananas when ripe?",
    "Who painted the Mona Lisa?",
]
PREMIUM_BAD = ["Summarise the plot of a novel I have not told you about.", "Guess the number I am thinking of."]
UNCAPTURED = "Fix the deadlock in my SPI DMA futex wait loop on the second core."


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02d}".ljust(32, "0") for i in range(n)]


def _cost(price: tuple[float, float], inp: int, out: int) -> float:
    return round((inp * price[0] + out * price[1]) / 1e6, 10)


def _traffic(
    decision_id: str, k: int, prompt: str, route: str, task: str, signals: tuple[tuple[str, float], ...]
) -> Traffic:
    inp = RoutingInput.from_text(prompt)
    premium = route == "premium"
    out_tokens = 300
    return Traffic(
        decision_id=decision_id,
        time_unix_ms=START_MS + k * (2 * DAY_MS // 40),
        input=inp,
        route=route,
        tier="pro",
        task=task,
        p_strong=0.7 if premium else 0.3,
        strong_score=0.7 if premium else 0.3,
        threshold=0.6 if premium else 0.0,
        input_tokens=inp.input_tokens_estimate,
        output_tokens=out_tokens,
        cost_usd=_cost(PREMIUM_PRICE if premium else ECONOMY_PRICE, inp.input_tokens_estimate, out_tokens),
        signals=signals,
        principal=f"user-{k % 5}",
        origin="synthetic:fixture",
    )


def build(path: Path) -> dict[str, list[str]]:
    """Write the store under ``path``; return the decision ids of each group."""
    groups: dict[str, list[str]] = {}
    traffic: list[Traffic] = []

    def add(name: str, prompts: list[str], route: str, task: str, signals: list[tuple[tuple[str, float], ...]]) -> None:
        groups[name] = ids(name[:4], len(prompts))
        for decision_id, prompt, sig in zip(groups[name], prompts, signals, strict=True):
            traffic.append(_traffic(decision_id, len(traffic), prompt, route, task, sig))

    down, up = (("thumbs_down", 0.0),), (("thumbs_up", 1.0),)
    add("hard", HARD, "economy", "code", [down] * 6 + [(("regenerated", 0.0),)] * 2)
    add("easy", EASY, "economy", "open_qa", [up] * len(EASY))
    add("over", OVER, "premium", "open_qa", [up] * len(OVER))
    add("premium_bad", PREMIUM_BAD, "premium", "open_qa", [down] * len(PREMIUM_BAD))
    add("failed", ["Tell me a joke about databases."], "economy", "creative_writing", [down])
    traffic[-1] = replace(traffic[-1], status=500)
    add("conflict", ["Suggest a name for my cat."], "economy", "brainstorming", [(*up, *down)])
    traffic[-1] = replace(traffic[-1], principals=("user-a", "user-b"))
    add("uncaptured", [UNCAPTURED], "economy", "code", [down])
    traffic[-1] = replace(traffic[-1], captured=False)
    write_store(path, traffic)
    return groups
