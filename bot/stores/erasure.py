"""Erasure on request: every stored event of one conversation deleted, by its user or an operator.

Where the deletion happens, and why there. The user asks in the chat ("delete my
conversation"), confirms with a button, and `action_erase_conversation` runs on the action
server. The action server never sees the tracker store (it gets the tracker in the request,
and returns events), so it cannot delete anything itself; and Rasa saves the turn's events
after the action returned, so a deletion made earlier would be followed by the turn being
written back. Instead the action returns a marker, `SlotSet("erase_conversation", True)`
(bot.names.ERASE_SLOT), and our tracker store, when it is asked to save a tracker whose
marker is set, deletes every stored event of that sender in one transaction and saves nothing
of the turn: not the "delete my conversation" message, not the confirmation, not the marker.
The next message finds no conversation and starts a new one, with a new welcome. The turns of
one conversation run one at a time (the lock store), so no turn of it can be saved in between.

The confirmation ("OK, deleting this conversation now") is sent before the save, as every
reply is. If the database fails at that moment the error is logged (without the sender id)
and the user can ask again; `make forget SENDER=...` does the same for an operator
(tools/forget.py).

The marker works with our `TurnLimitedSQLTrackerStore` only (endpoints.yml and
endpoints.production.yml select it); Rasa's own stores would keep it as an ordinary slot.
"""

from __future__ import annotations

import sqlalchemy
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

from bot.names import ERASE_SLOT

_EVENTS = SQLTrackerStore.SQLEvent.__table__


def erasure_requested(tracker: DialogueStateTracker) -> bool:
    """True when this turn's events set the marker. The marker is never stored, so a tracker
    loaded from the database never has it set."""
    slot = tracker.slots.get(ERASE_SLOT)
    return slot is not None and slot.value is True


def erase_conversation(engine: sqlalchemy.engine.Engine, sender_id: str) -> int:
    """Deletes every stored event of the conversation, in one transaction; how many."""
    with engine.begin() as connection:
        return int(connection.execute(_EVENTS.delete().where(_EVENTS.c.sender_id == sender_id)).rowcount)


def stored_events(engine: sqlalchemy.engine.Engine, sender_id: str) -> int:
    """How many events of the conversation are stored (for the operator's tool and tests)."""
    query = sqlalchemy.select(sqlalchemy.func.count()).select_from(_EVENTS).where(_EVENTS.c.sender_id == sender_id)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())
