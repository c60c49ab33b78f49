"""Shadow candidates: other policies evaluated on live traffic after each reply, never executed.

A candidate (``shadow.candidates.<name>`` with ``state: shadow``) is the live configuration compiled with another
policy (``policy.compile_policy(config, config.policy_with(candidate.policy))``, once per runtime), so its decision
is the same pure function with another ``PolicyConfig``; a candidate with ``model:`` also scores with its own
classifier bundle. The processor calls:

- ``Shadow.evaluate`` after the reply to the request body has gone to Envoy, with the inputs the live decision had
  (the routing input, the live scores, the tier, the providers Envoy ejects). Each candidate's verdict is appended
  to ``record.shadow`` as ``{name, route, diverged, cost_delta_usd}``;
- ``Shadow.complete`` once the response is over, before the record is logged: each verdict's predicted cost delta
  from the tokens actually used.

The verdict, field by field (the store's ``shadow`` column keeps exactly these keys):

- ``route``: the route the candidate would have taken; **None when it would have refused the request** (a 413 or 429:
  a context window, an input or a cost budget). Triage only evaluates candidates on requests the live policy routed,
  so a refusal always diverges.
- ``diverged``: the candidate's route differs from the live decision's route (a refusal counts); **None when the
  candidate could not decide** (its evaluation raised: logged, counted as ``triage.shadow.errors``).
- ``cost_delta_usd``: what the candidate's route would have cost for the tokens the response actually used, at the
  price of that route's first step for this request (the chain's order after the tier's preferences and Envoy's
  ejections), minus the request's actual ``cost_usd``. Exactly 0 when the candidate agrees (the same route would
  have done the same thing, fallbacks included). None when the tokens or the actual cost are unknown, or the
  candidate would have refused. The output tokens are assumed the same on another model: a prediction, not a bill.

Scores: a candidate without ``model:`` uses the live scores; when the live decision needed none (the candidate's
``skip_below_tokens`` is lower than the live one, a tier forced) but the candidate does, the live classifier scores
the request once, after the reply. When the live classifier missed its deadline or failed, such a candidate decides
with the same fault (it would have failed open alike). A candidate with ``model:`` scores with its own bundle, after
the reply, on the event loop (the built-in engines take ~0.1 ms). Bundles are loaded when the runtime is built and
reused across reloads (``BundleCache``, keyed by the bundle's path and its files' stamps); a bundle that fails to
load is logged and its candidate disabled: routing never depends on a candidate.

Nothing here raises into the request path: a failing candidate is logged (the first failure with its traceback,
then every 1000th) and recorded as a verdict with ``diverged: None``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage import policy
from triage.classifier.base import Classifier, Scores
from triage.config import Price, TriageConfig
from triage.record import DecisionRecord
from triage.requests.input import RoutingInput

log = logging.getLogger("triage.shadow")

# Verdicts awaiting their cost delta (evaluated, response not over yet), at most: beyond this the oldest are dropped
# (their delta stays None). Far above the number of requests in flight in one process.
_MAX_PENDING = 16_384
_LOG_EVERY = 1000

Loader = Callable[[Path, bool], Classifier]


def load_bundle(path: Path, fast_path: bool) -> Classifier:
    """Load a classifier bundle the way ``classifier.engine`` says (``fast_path``: ``auto``)."""
    from triage.classifier.onnx_model import OnnxClassifier  # noqa: PLC0415  (ONNX Runtime only when a bundle is used)

    return OnnxClassifier.load(path, fast_path=fast_path)


def _stamp(path: Path) -> tuple[int, ...]:
    """What tells one version of a bundle directory from the next: its files' inodes, sizes and mtimes."""
    out: list[int] = []
    for name in ("manifest.json", "model.onnx", "labels.json", "features.json"):
        try:
            st = os.stat(path / name)
        except OSError:
            out += [0, 0, 0]
            continue
        out += [st.st_ino, st.st_size, st.st_mtime_ns]
    return tuple(out)


class BundleCache:
    """Classifier bundles of shadow candidates, loaded once per process and shared by every runtime built since.

    Keyed by the bundle's resolved path, the engine choice and the stamp of its files: a reload that keeps a
    candidate's ``model:`` reuses the loaded bundle; a bundle rewritten in place is loaded again. ``load`` is the
    seam tests plug a fake loader into.
    """

    def __init__(self, load: Loader = load_bundle) -> None:
        self._load = load
        self._bundles: dict[tuple[str, bool, tuple[int, ...]], Classifier] = {}
        self.loads = 0  # bundles actually loaded (not found in the cache)

    def get(self, path: str, fast_path: bool) -> Classifier:
        """The bundle at ``path``, loaded now unless already loaded; raises whatever loading raises."""
        resolved = Path(path).resolve()
        key = (str(resolved), fast_path, _stamp(resolved))
        bundle = self._bundles.get(key)
        if bundle is None:
            bundle = self._load(resolved, fast_path)
            self.loads += 1
            self._bundles[key] = bundle
        return bundle

    def keep_only(self, bundles: Iterable[Classifier]) -> None:
        """Forget every bundle but ``bundles`` (those of the newest runtime; older runtimes hold their own)."""
        keep = {id(b) for b in bundles}
        self._bundles = {k: b for k, b in self._bundles.items() if id(b) in keep}


BUNDLES = BundleCache()  # the process's cache, used by every runtime built with the default


@dataclass(frozen=True, slots=True)
class Candidate:
    """One evaluated candidate: its name, the configuration compiled with its policy, its own classifier if any."""

    name: str
    compiled: policy.Compiled
    classifier: Classifier | None = None  # None: the live scores


class Shadow:
    """The shadow candidates of one configuration (none: every method does nothing)."""

    def __init__(self, config: TriageConfig, classifier: Classifier, bundles: BundleCache | None = None) -> None:
        """Compile every candidate in state ``shadow``; load the bundles of those with ``model:`` through
        ``bundles`` (default: the process's ``BUNDLES``). A bundle that fails to load disables its candidate
        (``disabled`` says why)."""
        self.config = config
        self.classifier = classifier
        self.disabled: dict[str, str] = {}  # candidate → why it is not evaluated (its bundle did not load)
        self.errors: dict[str, int] = {}  # candidate → evaluations that raised
        self._pending: dict[str, list[tuple[dict[str, Any], Price | None]]] = {}
        cache = bundles if bundles is not None else BUNDLES
        fast_path = config.classifier.engine == "auto"
        candidates: list[Candidate] = []
        for name, cand in config.shadow.candidates.items():
            if cand.state != "shadow":
                continue
            try:
                own = cache.get(cand.model, fast_path) if cand.model is not None else None
            except Exception as err:  # a candidate never breaks routing: this one is left out
                self.disabled[name] = f"{type(err).__name__}: {err}"
                log.error("shadow candidate %r disabled: its model %s did not load: %s", name, cand.model, err)
                continue
            compiled = policy.compile_policy(config, config.policy_with(cand.policy))
            candidates.append(Candidate(name, compiled, own))
        self.candidates: tuple[Candidate, ...] = tuple(candidates)
        if cache is BUNDLES:  # the newest runtime's bundles only: a removed candidate's model is freed
            cache.keep_only(c.classifier for c in self.candidates if c.classifier is not None)

    @property
    def active(self) -> bool:
        """Whether any candidate is evaluated (``state: shadow`` and, with ``model:``, its bundle loaded)."""
        return bool(self.candidates)

    def evaluate(
        self,
        inp: RoutingInput,
        scores: Scores | None,
        tier: str | None,
        unhealthy: frozenset[str],
        decision: policy.Decision,
        record: DecisionRecord,
    ) -> None:
        """After the reply: each candidate's route for the same inputs, into ``record.shadow``. Never raises."""
        pending: list[tuple[dict[str, Any], Price | None]] = []
        live = _LiveScores(self.classifier, inp, scores, decision.reason)
        for cand in self.candidates:
            verdict: dict[str, Any] = {"name": cand.name, "route": None, "diverged": None, "cost_delta_usd": None}
            price: Price | None = None
            try:
                outcome = self._decide(cand, inp, live, tier, unhealthy)
                if isinstance(outcome, policy.Decision):
                    verdict["route"] = outcome.route
                    verdict["diverged"] = outcome.route != decision.route
                    price = outcome.chain[0].price or self.config.routes[outcome.route].price
                else:  # the candidate would have refused the request (413/429)
                    verdict["diverged"] = True
            except Exception:
                self._failed(cand.name)
            record.shadow.append(verdict)
            pending.append((verdict, price))
        self._keep(record.decision_id, pending)

    def _decide(
        self, cand: Candidate, inp: RoutingInput, live: _LiveScores, tier: str | None, unhealthy: frozenset[str]
    ) -> policy.Decision | policy.Rejection:
        compiled = cand.compiled
        early = policy.plan(inp, tier, compiled, unhealthy)
        if early is not None:
            return early
        if cand.classifier is not None:
            scores: Scores | None = cand.classifier.score(inp)
            fault: policy.Fault | None = None
        else:
            scores, fault = live.get()
        return policy.decide_classified(inp, scores, tier, compiled, fault=fault, unhealthy=unhealthy)

    def _failed(self, name: str) -> None:
        n = self.errors[name] = self.errors.get(name, 0) + 1
        if n == 1:
            log.exception("shadow candidate %r failed to decide (routing unaffected; counted)", name)
        elif n % _LOG_EVERY == 0:
            log.warning("shadow candidate %r has failed to decide %d times (routing unaffected)", name, n)

    def _keep(self, decision_id: str, pending: list[tuple[dict[str, Any], Price | None]]) -> None:
        if len(self._pending) >= _MAX_PENDING:  # responses that never completed: drop the oldest
            del self._pending[next(iter(self._pending))]
        self._pending[decision_id] = pending

    def complete(self, record: DecisionRecord) -> None:
        """The response is over: each candidate's predicted cost delta from the tokens actually used. Never raises."""
        if not self._pending:
            return
        pending = self._pending.pop(record.decision_id, None)
        if pending is None:
            return
        try:
            _deltas(record, pending)
        except Exception:
            log.exception("shadow cost deltas failed (routing unaffected)")


def _deltas(record: DecisionRecord, pending: list[tuple[dict[str, Any], Price | None]]) -> None:
    tokens_in, tokens_out, actual = record.input_tokens, record.output_tokens, record.cost_usd
    if (tokens_in is None and tokens_out is None) or actual is None:
        return
    for verdict, price in pending:
        if verdict["diverged"] is False:
            verdict["cost_delta_usd"] = 0.0
        elif verdict["diverged"] and price is not None:
            predicted = price.cost(tokens_in or 0, tokens_out or 0)
            verdict["cost_delta_usd"] = round(predicted - actual, 8)


_FAULTS: dict[str, policy.Fault] = {"deadline": "deadline", "error": "error"}


class _LiveScores:
    """The live scores of one request, scored with the live classifier (once) only if a candidate needs them
    while the live decision had none."""

    __slots__ = ("_classifier", "_fault", "_inp", "_scores")

    def __init__(self, classifier: Classifier, inp: RoutingInput, scores: Scores | None, reason: str) -> None:
        self._classifier = classifier
        self._inp = inp
        self._scores = scores
        # A classifier fault of the live decision: candidates on the live scores fail open alike.
        self._fault = _FAULTS.get(reason)

    def get(self) -> tuple[Scores | None, policy.Fault | None]:
        if self._fault is not None:
            return None, self._fault
        if self._scores is None:
            self._scores = self._classifier.score(self._inp)
        return self._scores, None
