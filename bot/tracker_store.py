"""The SQL tracker store with a cap on session length, so a long conversation stays fast.

Rasa loads a conversation's whole current session from the database on every message, rebuilds
the tracker event by event and lets each policy walk its states: the cost of a turn grows with
the number of turns before it. Idle time ends a session (`session_expiration_time`), but a
conversation that keeps going never goes idle. We measured replies in one 300-turn conversation
getting about four times slower from its start to its end (`make bench`).

So, after a turn that leaves the assistant listening with no form active, a session that has
reached `max_turns_per_session` user messages is rolled over: the same events Rasa writes for a
new session (`action_session_start`, `session_started`, the current slot values,
`action_listen`) are appended before saving. The next message then loads only the new session.
Nothing is lost: every event stays in the table in order, the slots carry over (the topic, so
"and the hip?" still works), and no welcome is repeated, since the user never left. The policies
look back at most a few turns (config.yml), well within a session.

Selected in endpoints.yml (SQLite) and endpoints.production.yml (PostgreSQL) with
`type: bot.tracker_store.TurnLimitedSQLTrackerStore`; it takes SQLTrackerStore's settings plus
`max_turns_per_session`.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

# Well above any real chat about one article (the longest test conversation has 14 turns), and
# low enough that the last turn of a session costs little more than the first (`make bench`).
DEFAULT_MAX_TURNS_PER_SESSION = 25

logger = logging.getLogger(__name__)


class TurnLimitedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that starts a new session, carrying the slots over, every N turns."""

    def __init__(self, *args: Any, max_turns_per_session: int = DEFAULT_MAX_TURNS_PER_SESSION, **kwargs: Any) -> None:
        # Rasa passes the endpoint's `url` as `host`; SQLite needs none and takes `db` as its path.
        super().__init__(*args, **kwargs)
        self.max_turns_per_session = int(max_turns_per_session)
        if self.engine.dialect.name == "sqlite":
            sqlalchemy.event.listen(self.engine, "connect", _sqlite_write_ahead_log)
        self._create_session_indexes()

    def _create_session_indexes(self) -> None:
        """Indexes for the two queries Rasa runs per message (the latest `session_started` of a
        sender, then that sender's events since its timestamp). Rasa indexes `sender_id` only,
        so both scan every event the sender ever had, and a long conversation still slows down
        a little even with sessions capped. An optimisation only: if another instance creates
        them at the same moment and this fails, the store works without them."""
        statements = [
            "CREATE INDEX IF NOT EXISTS events_sender_type_time ON events (sender_id, type_name, timestamp)",
            "CREATE INDEX IF NOT EXISTS events_sender_time ON events (sender_id, timestamp)",
        ]
        try:
            with self.engine.begin() as connection:
                for statement in statements:
                    connection.execute(sqlalchemy.text(statement))
        except sqlalchemy.exc.DBAPIError as error:
            logger.warning("Could not create the tracker store's indexes (%s); continuing without.", error)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Saves the turn's events, then, if the session is full, the start of a new one."""
        if self._session_is_full(tracker):
            for event in session_rollover_events(tracker):
                tracker.update(event)
        await super().save(tracker)

    def _session_is_full(self, tracker: DialogueStateTracker) -> bool:
        if tracker.active_loop_name or tracker.latest_action_name != ACTION_LISTEN_NAME:
            return False  # mid-turn or inside a form: never split those
        return user_turns_in_current_session(tracker) >= self.max_turns_per_session


def _sqlite_write_ahead_log(connection: Any, _record: Any) -> None:
    """SQLite's write-ahead log with `synchronous=NORMAL`: one fsync per checkpoint instead of
    several per saved turn, and reads do not wait for a write. A crashed assistant loses nothing
    committed; a power cut may lose the last turns, an acceptable trade for the embedded default
    (production uses PostgreSQL)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def user_turns_in_current_session(tracker: DialogueStateTracker) -> int:
    """User messages since the tracker's last `session_started` (or since it began)."""
    turns = 0
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        if isinstance(event, UserUttered):
            turns += 1
    return turns


def session_rollover_events(tracker: DialogueStateTracker) -> list[Event]:
    """What Rasa writes when a new session starts, with every slot carried over."""
    carried = {name: slot.value for name, slot in tracker.slots.items() if slot.value != slot.initial_value}
    # Made in order: Rasa finds the latest session by timestamp, so every event after
    # `session_started` must be stamped later than it.
    events: list[Event] = [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted()]
    events += [SlotSet(name, value) for name, value in carried.items()]
    events.append(ActionExecuted(ACTION_LISTEN_NAME))
    return events
