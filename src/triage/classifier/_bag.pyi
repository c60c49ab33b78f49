"""Type stub of the optional C extension ``triage.classifier._bag`` (see ``_bag.c`` and ``native.py``)."""

from collections.abc import Callable
from typing import Any, Final

from triage.requests.input import RoutingInput

LAYOUT: Final[dict[str, tuple[int, ...]]]

class Scorer:
    """The featurizer and the embedding bag of one feature config and model, in one call per request."""

    def __init__(
        self,
        cls_table: Any,
        fold_table: Any,
        table: Any | None,
        bias: Any | None,
        params: tuple[Any, ...],
        input_type: type[RoutingInput] | None = None,
        fallback: Callable[[RoutingInput], tuple[list[float], float]] | None = None,
    ) -> None: ...
    @property
    def width(self) -> int: ...
    def features(self, inp: RoutingInput, /) -> tuple[bytes, bytes]: ...
    def score(self, inp: RoutingInput, /) -> tuple[list[float], float]: ...
