"""Fake OpenAI/Anthropic-compatible providers with fault knobs, and the demo prompt set.

Everything integration tests and the local demo stack need is re-exported here::

    FakeProvider     the server (asyncio, HTTP/1.1): endpoints, determinism, attempt log
    ProviderThread   run a provider from synchronous code (also ``FakeProvider.running()``)
    Fault            one misbehaviour; scripts and selection rules in ``triage.sim.faults``
    Answer           how confident an answer looks (``Fault(answer=Answer(...))``; ``triage.sim.answers``)
    Attempt          one recorded request and what was answered
    free_port        a port with no server behind it ("provider down")
    serve_main       ``python -m triage.sim``: a provider in its own process
    DemoPrompt, DEMO_PROMPTS   the built-in demo mix
"""

from triage.sim.answers import Answer
from triage.sim.attempts import Attempt, Outcome
from triage.sim.completion import completion_words, prompt_tokens
from triage.sim.faults import Fault
from triage.sim.prompts import DEMO_PROMPTS, DemoPrompt
from triage.sim.provider import FakeProvider
from triage.sim.runner import ProviderThread, free_port, serve_main

__all__ = [
    "DEMO_PROMPTS",
    "Answer",
    "Attempt",
    "DemoPrompt",
    "FakeProvider",
    "Fault",
    "Outcome",
    "ProviderThread",
    "completion_words",
    "free_port",
    "prompt_tokens",
    "serve_main",
]
