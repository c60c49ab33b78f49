"""Optional native speed-ups (C, no dependencies); everything else about the package is in pyproject.toml.

Each extension has a pure-Python/numpy twin with the same results, used when the extension is missing (no C
compiler at install time) or fails its load-time check, so a failed build is a slower Triage, never a broken one.
"""

from setuptools import Extension, setup

_FLAGS = ["-O2", "-std=c11"]

setup(
    ext_modules=[
        Extension("triage.classifier._bag", ["src/triage/classifier/_bag.c"], optional=True, extra_compile_args=_FLAGS),
        Extension(
            "triage.requests._jsonscan", ["src/triage/requests/_jsonscan.c"], optional=True, extra_compile_args=_FLAGS
        ),
    ]
)
