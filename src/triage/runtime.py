"""Configuration → live objects: the compiled policy, the classifier and how it runs, the recorder. Swapped
atomically on reload.

A ``Runtime`` is immutable and built by ``build``; each ext_proc stream takes the current one when it starts, so
a reload never changes a request half-way. ``RuntimeHolder`` owns the swap and the file watch; a reload keeps
the classifier, its inference strategy and the recorder, and recompiles the policy.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from triage import inference as inf
from triage import policy
from triage.classifier.base import Classifier
from triage.config import TriageConfig, load_config
from triage.envoy.admin import ProviderHealth
from triage.envoy.bootstrap import max_message_timeout_ms
from triage.errors import ConfigError
from triage.escalation import escalator as esc
from triage.feedback.ids import DecisionIds
from triage.feedback.implicit import ImplicitSignals
from triage.shadow import Shadow
from triage.telemetry.recorder import Recorder

log = logging.getLogger("triage.runtime")


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything a request needs, built once from a configuration."""

    config: TriageConfig
    classifier: Classifier
    recorder: Recorder
    inference: inf.Inference  # how the request path runs the classifier (``classifier.inference``)
    policy: policy.Compiled  # the configuration compiled with its live policy
    shadow: Shadow  # candidates evaluated after each reply (``shadow:``)
    ids: DecisionIds  # makes (and checks) decision ids (``feedback:``)
    signals: ImplicitSignals  # retries and regenerations noticed in traffic (``feedback.implicit``)
    # Content capture (``store.capture``) on, and a store to keep it: each classified decision's input is captured.
    # Off: the request path builds nothing for it.
    capture: bool = False
    # Confidence escalation (``escalation:``); None when no tier escalates.
    escalation: esc.Escalator | None = None
    # How long Envoy may be asked to wait for one reply (its ext_proc ``max_message_timeout``), as generated from the
    # configuration Triage started with: a reload cannot raise it (Envoy's bootstrap is not reloaded).
    envoy_max_wait_ms: int = 5000
    # The providers Envoy ejects right now (shared, refreshed in the background; empty when not polled).
    health: ProviderHealth = field(default_factory=ProviderHealth)
    # What the request path derives once per decision shape (``extproc.processor``); new with every configuration.
    shapes: dict[Any, Any] = field(default_factory=dict)

    @property
    def deadline_s(self) -> float:
        return self.config.policy.deadline_ms / 1000.0

    def reconfigured(self, config: TriageConfig) -> Runtime:
        """This runtime with another configuration: the policy recompiled, the live objects kept."""
        old, new = self.config.feedback, config.feedback
        keys_changed = (old.id_secret, old.id_secret_file, old.max_age_days) != (
            new.id_secret,
            new.id_secret_file,
            new.max_age_days,
        )
        implicit_changed = new.implicit != old.implicit
        return replace(
            self,
            config=config,
            policy=policy.compile_policy(config),
            shadow=Shadow(config, self.classifier),
            # Kept unless their settings changed: a new random key would make every id issued so far unknown, and
            # new implicit signals would forget the conversations being watched.
            ids=_decision_ids(config) if keys_changed else self.ids,
            signals=ImplicitSignals(new.implicit, self.recorder.event) if implicit_changed else self.signals,
            capture=_capture(config, self.recorder),
            escalation=esc.build(config, self.escalation),
            shapes={},
        )

    def close(self) -> None:
        """Stop the inference thread, if any (the server's shutdown)."""
        self.inference.close()


def _decision_ids(config: TriageConfig) -> DecisionIds:
    return DecisionIds.from_config(config.feedback, processes=config.server.workers)


def _capture(config: TriageConfig, recorder: Recorder) -> bool:
    """Whether requests are captured: ``store.capture``, when the recorder has a local store to keep them (a reload
    turns capture off at once, and on again for the store this process opened at start)."""
    if not config.store.capture:
        return False
    if not recorder.can_capture:
        log.warning("store.capture is on but this process opened no store (store.path) at start: restart Triage")
        return False
    return True


def build(
    config: TriageConfig,
    classifier: Classifier,
    recorder: Recorder,
    health: ProviderHealth | None = None,
) -> Runtime:
    """The runtime of ``config``: its policy compiled, ``classifier`` run the way ``classifier.inference`` says."""
    return Runtime(
        config=config,
        classifier=classifier,
        recorder=recorder,
        inference=inf.make(config.classifier.inference, classifier),
        policy=policy.compile_policy(config),
        shadow=Shadow(config, classifier),
        ids=_decision_ids(config),
        signals=ImplicitSignals(config.feedback.implicit, recorder.event),
        capture=_capture(config, recorder),
        escalation=esc.build(config),
        envoy_max_wait_ms=max_message_timeout_ms(config),
        health=health if health is not None else ProviderHealth(),
    )


class RuntimeHolder:
    """Holds the current ``Runtime`` and replaces it when the configuration file changes.

    A reload keeps the classifier (the model is loaded once); an invalid file is logged with every
    problem and the running configuration stays in force.
    """

    def __init__(
        self,
        runtime: Runtime,
        path: str | Path | None = None,
        prepare: Callable[[TriageConfig], TriageConfig] = lambda c: c,
    ) -> None:
        """``prepare``: what the command line did to the file's configuration (``--listen``, a worker's addresses),
        done again to every reloaded one, so that it compares like with like."""
        self.current = runtime
        self._prepare = prepare
        self._path = Path(path) if path is not None else None
        self._stamp = self._file_stamp()
        self.rejected = 0  # reloads refused (an invalid file), counted
        self.failures = 0  # reload attempts that failed in any other way; the watch goes on

    def _file_stamp(self) -> tuple[int, int, int, int] | None:
        if self._path is None:
            return None
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        # The inode too: Kubernetes replaces a mounted ConfigMap by swapping a ``..data`` symlink to a new
        # directory, and the new file may carry the same size and (on coarse clocks) the same mtime.
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def reload_if_changed(self) -> bool:
        """Reload when the file's stamp changed; True when a new configuration took effect."""
        stamp = self._file_stamp()
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        return self.reload()

    def reload(self) -> bool:
        if self._path is None:
            return False
        try:
            config = self._prepare(load_config(self._path))
        except ConfigError as err:
            self.rejected += 1
            # One line: the console of `triage run` and log collectors show it whole.
            log.error(
                "configuration reload rejected, keeping the running one: %s: %s", err.source, " | ".join(err.problems)
            )
            return False
        old = self.current.config
        restart_only = [k for k in ("classifier", "server", "telemetry") if getattr(config, k) != getattr(old, k)]
        if restart_only:
            log.warning("changes to %s take effect when Triage restarts", ", ".join(restart_only))
        if config.store.model_copy(update={"capture": old.store.capture}) != old.store:
            log.warning("store settings other than store.capture take effect when Triage restarts")
        if config.envoy != old.envoy or config.clusters != old.clusters:
            log.warning("envoy or cluster settings changed: regenerate Envoy's config (triage envoy-config)")
        if max_message_timeout_ms(config) > self.current.envoy_max_wait_ms:
            log.warning(
                "escalation.timeout_ms asks Envoy to wait up to %d ms for Triage (ext_proc max_message_timeout), but "
                "the Envoy config generated at start allows %d ms: escalated calls get at most %d ms until Envoy's "
                "config is regenerated (triage envoy-config) and Envoy restarted",
                max_message_timeout_ms(config),
                self.current.envoy_max_wait_ms,
                self.current.envoy_max_wait_ms - 500,
            )
        self.current = self.current.reconfigured(config)
        log.info("configuration reloaded from %s", self._path)
        return True

    async def watch(self, interval_s: float = 1.0) -> None:
        """Poll the file every ``interval_s`` until cancelled. Nothing a file or a reload does stops the watch:
        a failure is logged with its traceback, counted, and the next change is read as usual."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.reload_if_changed()
            except Exception:  # a reload must never end the watch (the kill switch is a file edit)
                self.failures += 1
                log.exception("configuration reload failed, keeping the running one; still watching %s", self._path)
