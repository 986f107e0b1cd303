"""`SQLTrackerStore._retrieve` (a private method of Rasa's), replaced for our tracker store.

Rasa loads a conversation by building an ORM object per event row, with a query it composes
again on every message. This mixin runs the same query (the current session's events, or all
of them, in insertion order), built once and selecting only the events' JSON column: loading
costs about a quarter of the CPU (py-spy under `make bench`, SQLite). It also notes on the
tracker how many of its events are stored, so that `save` knows which are new without
counting them with another query (bot/stores/tracker_store.py). Used by
`TurnLimitedSQLTrackerStore` only; Rasa's own store is untouched.
"""

from __future__ import annotations

import json

import sqlalchemy
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker


class FastRetrieve:
    """Mixin for a `SQLTrackerStore` subclass: Rasa's `_retrieve`, with the query built once."""

    engine: sqlalchemy.engine.Engine
    domain: Domain | None

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        """Rasa's query (the current session's events, or all of them, in insertion order),
        built once and selecting only the JSON column."""
        query = _ALL_EVENTS if fetch_events_from_all_sessions else _CURRENT_SESSION_EVENTS
        with self.engine.connect() as connection:
            rows = connection.execute(query, {"sender_id": sender_id}).scalars().all()
        if not (self.domain and rows):
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(data) for data in rows], self.domain.slots)
        note_stored_events(tracker)
        return tracker


_EVENTS = SQLTrackerStore.SQLEvent.__table__
_SENDER = sqlalchemy.bindparam("sender_id")
_ALL_EVENTS = sqlalchemy.select(_EVENTS.c.data).where(_EVENTS.c.sender_id == _SENDER).order_by(_EVENTS.c.id)
# Earlier than any event (Rasa stamps every event with the time it was made).
_BEFORE_ANY_EVENT = sqlalchemy.literal(-1e300, sqlalchemy.Float)
_SESSION_START = (
    sqlalchemy.select(sqlalchemy.func.max(_EVENTS.c.timestamp))
    .where(_EVENTS.c.sender_id == _SENDER, _EVENTS.c.type_name == SessionStarted.type_name)
    .scalar_subquery()
)
# As Rasa's `SQLTrackerStore._event_query`: events stamped at or after the sender's latest
# `session_started`, or all of them if it has none. Rasa writes "or the start is NULL" as a
# second condition, which stops SQLite from using the (sender_id, timestamp) index: every event
# the sender ever had was read on every message, so a 600-turn conversation slowed down.
_IN_CURRENT_SESSION = _EVENTS.c.timestamp >= sqlalchemy.func.coalesce(_SESSION_START, _BEFORE_ANY_EVENT)
_CURRENT_SESSION_EVENTS = _ALL_EVENTS.where(_IN_CURRENT_SESSION)
CURRENT_SESSION_COUNT = (
    sqlalchemy.select(sqlalchemy.func.count())
    .select_from(_EVENTS)
    .where(_EVENTS.c.sender_id == _SENDER, _IN_CURRENT_SESSION)
)

# Noted on a tracker object by this store: how many of its events are stored, and the last one.
STORED_EVENTS = "_stored_events"


def note_stored_events(tracker: DialogueStateTracker) -> None:
    events = tracker.events
    setattr(tracker, STORED_EVENTS, (len(events), events[-1] if events else None))
