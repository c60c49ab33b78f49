"""The decision store: decision records and later events about them, append-only, joined at read time.

See ``schema`` for the layout and the columns, ``query.Store`` to read one.
"""

from triage.store.query import Store
from triage.store.schema import DECISION_COLUMNS, EVENT_COLUMNS, SIGNAL_VALUE, SIGNALS, Event

__all__ = ["DECISION_COLUMNS", "EVENT_COLUMNS", "SIGNALS", "SIGNAL_VALUE", "Event", "Store"]
