"""The SQL tracker store with a cap on session length, so a long conversation stays fast.

Rasa loads a conversation's whole current session from the database on every message, rebuilds
the tracker event by event and lets each policy walk its states: the cost of a turn grows with
the number of turns before it. Idle time ends a session (`session_expiration_time`), but a
conversation that keeps going never goes idle, and its replies get slower and slower
(docs/performance.md).

So, after a turn that leaves the assistant listening with no form active, a session that has
reached `max_turns_per_session` user messages is rolled over: the same events Rasa writes for a
new session (`action_session_start`, `session_started`, the current slot values,
`action_listen`) are appended before saving. The next message then loads only the new session.
Nothing is lost: every event stays in the table in order, the slots carry over (the topic, so
"and the hip?" still works), and no welcome is repeated, since the user never left. The policies
look back at most a few turns (config.yml), well within a session.

It also reads and writes the same rows as Rasa's store with much less CPU (docs/performance.md).
SQLite connections are pooled (SQLAlchemy 1.4 opens a new one per query for a file database); loading selects
only the events' JSON instead of building an ORM object per row; a save inserts the new rows
in one statement instead of through the ORM's unit of work, and knows which events are new
from what this tracker was loaded with, instead of first counting the stored ones with
another query.

Two privacy duties live here too, because the store is what holds the conversations
(docs/privacy.md): conversations idle longer than CONVERSATION_RETENTION_DAYS are purged at
start-up and every hour (bot/stores/retention.py), and a tracker carrying the erasure marker
is not saved: the conversation is deleted instead (bot/stores/erasure.py explains why there).
SQL errors never show the parameters of a statement (sender ids, message texts) in the log.

Selected in endpoints.yml (SQLite) and endpoints.production.yml (PostgreSQL) with
`type: bot.stores.tracker_store.TurnLimitedSQLTrackerStore`; it takes SQLTrackerStore's settings plus
`max_turns_per_session`.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import logs
from bot.names import FEEDBACK_SLOT
from bot.patches.sql_tracker_store import CURRENT_SESSION_COUNT, STORED_EVENTS, FastRetrieve, note_stored_events
from bot.settings import Settings
from bot.stores import retention
from bot.stores.erasure import erase_conversation, erasure_requested

# Well above any real chat about one article (the longest test conversation has 14 turns), and
# low enough that the last turn of a session costs little more than the first (`make bench`).
DEFAULT_MAX_TURNS_PER_SESSION = 25

logger = logging.getLogger(__name__)


class TurnLimitedSQLTrackerStore(FastRetrieve, SQLTrackerStore):
    """`SQLTrackerStore` that starts a new session, carrying the slots over, every N turns."""

    def __init__(self, *args: Any, max_turns_per_session: int = DEFAULT_MAX_TURNS_PER_SESSION, **kwargs: Any) -> None:
        # Rasa passes the endpoint's `url` as `host`; SQLite needs none and takes `db` as its path.
        super().__init__(*args, **kwargs)
        self.max_turns_per_session = int(max_turns_per_session)
        if self.engine.dialect.name == "sqlite":
            self._pool_sqlite_connections()
        self.engine.hide_parameters = True  # SQLAlchemy's errors would quote sender ids and texts
        self._create_session_indexes()
        # Started only inside a running server (Rasa creates the store in a start-up listener).
        self.retention_task = retention.start(self.engine, Settings.from_env().conversation_retention_days)

    def _pool_sqlite_connections(self) -> None:
        """Keeps SQLite connections open between queries. SQLAlchemy 1.4 gives a file database
        a `NullPool`, so every query opened a connection and set up the write-ahead log again:
        a visible share of each message's CPU. Rasa runs its queries on the event loop's thread, and
        the pool hands a connection to one user at a time, so sharing across threads is safe."""
        url = self.engine.url
        if url.database in (None, "", ":memory:"):
            return  # an in-memory database lives in its one connection: keep SQLAlchemy's pool
        self.engine.dispose()
        self.engine = sqlalchemy.create_engine(
            url, poolclass=sqlalchemy.pool.QueuePool, connect_args={"check_same_thread": False}, hide_parameters=True
        )
        sqlalchemy.event.listen(self.engine, "connect", _sqlite_write_ahead_log)
        self.sessionmaker = sqlalchemy.orm.sessionmaker(bind=self.engine)

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
        """Saves the turn's events, then, if the session is full, the start of a new one. The new
        events also go to the event broker (the metrics, bot/metrics.py): Rasa's `stream_events`
        would load the stored conversation again to find them. A turn that confirmed an erasure
        deletes the conversation instead, and saves nothing."""
        if erasure_requested(tracker):
            erased = erase_conversation(self.engine, tracker.sender_id)
            who = logs.pseudonym(tracker.sender_id)
            logger.info("Erased the conversation of %s on request (%d events)", who, erased)
            return
        if self._session_is_full(tracker):
            for event in session_rollover_events(tracker):
                tracker.update(event)
        unsaved = list(self._unsaved_events(tracker))
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, unsaved, tracker.sender_id)
        rows = [_row(tracker.sender_id, event) for event in unsaved]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(self.SQLEvent.__table__.insert(), rows)
        note_stored_events(tracker)

    def _unsaved_events(self, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The tracker's events that are not stored yet: those after the ones it was loaded with
        or last saved with. For a tracker this store has not loaded or saved yet (a new
        conversation's first save), Rasa's rule: skip as many events as the current session
        has stored."""
        unsaved = _events_after_note(tracker)
        if unsaved is not None:
            return unsaved
        with self.engine.connect() as connection:
            stored = connection.execute(CURRENT_SESSION_COUNT, {"sender_id": tracker.sender_id}).scalar_one()
        return itertools.islice(tracker.events, stored, None)

    def _session_is_full(self, tracker: DialogueStateTracker) -> bool:
        if tracker.active_loop_name or tracker.latest_action_name != ACTION_LISTEN_NAME:
            return False  # mid-turn or inside a form: never split those
        return user_turns_in_current_session(tracker) >= self.max_turns_per_session


def _events_after_note(tracker: DialogueStateTracker) -> Iterator[Event] | None:
    """Events appended since the note, or None when the note cannot be trusted: no note, a
    capped event history (old events drop off the front), or events that are not the noted
    ones (the check costs one comparison, and a wrong slice would lose or repeat events)."""
    noted = getattr(tracker, STORED_EVENTS, None)
    events = tracker.events
    if noted is None or events.maxlen is not None:
        return None
    count, last = noted
    if count > len(events) or (count and events[count - 1] is not last):
        return None
    return itertools.islice(events, count, None)


def _row(sender_id: str, event: Event) -> dict[str, Any]:
    """The `events` row Rasa's `SQLTrackerStore.save` writes for an event."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


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
    """What Rasa writes when a new session starts, with every slot carried over but the last
    feedback: that is an event of the old session, not a state to carry (it would count twice)."""
    carried = {
        name: slot.value
        for name, slot in tracker.slots.items()
        if slot.value != slot.initial_value and name != FEEDBACK_SLOT
    }
    # Made in order: Rasa finds the latest session by timestamp, so every event after
    # `session_started` must be stamped later than it.
    events: list[Event] = [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted()]
    events += [SlotSet(name, value) for name, value in carried.items()]
    events.append(ActionExecuted(ACTION_LISTEN_NAME))
    return events
