"""``stop_on_signals``: SIGTERM and SIGHUP become Ctrl-C inside the block, so the stack's children are stopped."""

from __future__ import annotations

import os
import signal
import time

import pytest

from triage.sim.stack import stop_on_signals


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_stop_signals_raise_keyboard_interrupt_inside_the_block_only(sig: signal.Signals) -> None:
    before = signal.getsignal(sig)

    def signalled() -> None:
        with stop_on_signals():
            os.kill(os.getpid(), sig)
            time.sleep(30)  # the handler interrupts this at once; reaching the end would fail the test

    with pytest.raises(KeyboardInterrupt):
        signalled()
    assert signal.getsignal(sig) == before


def test_sigint_is_restored_after_the_block_even_when_it_was_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stop_on_signals():
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
