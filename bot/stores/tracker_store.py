"""The SQL tracker store with a cap on session length, so every turn costs about the same.

Rasa loads a conversation's whole current session from the database on every message, rebuilds
the tracker event by event, lets each policy walk its states (several times per message), and
sends every event to the action server: the cost of a turn grows with the number of turns
before it. Idle time ends a session (`session_expiration_time`), but a conversation that keeps
going never goes idle, and its replies get slower and slower (docs/performance.md).

So, after a turn that leaves the assistant listening with no form active, a session that has
reached `max_turns_per_session` user messages is rolled over: the same events Rasa writes for a
new session (`action_session_start`, `session_started`, the current slot values,
`action_listen`) are appended before saving. The next message then loads only the new session.
Nothing is lost: every event stays in the table in order, the slots carry over (the topic, so
"and the hip?" still works), and no welcome is repeated, since the user never left.

Why 5 turns, and why that changes no answer: Rasa's policies see only the events since the
latest `session_started` (`DialogueStateTracker.applied_events`), and every rule of this
assistant looks at one message, or at a form that is still open (data/rules/); no slot
influences the conversation (domain.yml), and follow-ups read the carried slots. So a session
of any length gives the same answers (tests/integration/test_session_window.py runs the blind
set's conversations with a session of one turn and compares every answer). Five keeps the
extra rows small (about one event per turn) while a turn's cost stays within a few percent of
the first one's (`make bench`, the per-turn curve).

One thing a rollover would hide: Rasa ends a session that was idle longer than
`session_expiration_time` by the time of its last *user* message, and a rolled-over session
has none yet (Rasa reads only the current session's events). So for a session without a user
message, the store reads when the conversation's last one was, and if that is too long ago it
returns the session up to its `session_started` only: Rasa then starts a new session, as it
would have without the rollover (a welcome, the slots reset: `carry_over_slots_to_new_session`
is off).

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

import contextlib
import itertools
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import logs
from bot.names import FEEDBACK_SLOT
from bot.patches.sql_tracker_store import CURRENT_SESSION_COUNT, STORED_EVENTS, FastRetrieve, note_stored_events
from bot.settings import Settings
from bot.stores import retention
from bot.stores.erasure import erase_conversation, erasure_requested
from bot.stores.sqlite_file import one_process_at_a_time

# Low enough that the last turn of a session costs little more than the first (`make bench`);
# the module's docstring says why any length gives the same answers.
DEFAULT_MAX_TURNS_PER_SESSION = 5
# How long a write waits for another process's to finish before it fails.
SQLITE_BUSY_TIMEOUT_S = 10.0

_EVENTS = SQLTrackerStore.SQLEvent.__table__
_SENDER = sqlalchemy.bindparam("sender_id")
# When the conversation's latest user message was stamped (an index covers it).
_LAST_USER_MESSAGE_AT = sqlalchemy.select(sqlalchemy.func.max(_EVENTS.c.timestamp)).where(
    _EVENTS.c.sender_id == _SENDER, _EVENTS.c.type_name == UserUttered.type_name
)
# One bot message by its timestamp: what a 👍 / 👎 names (bot/feedback.py).
_BOT_MESSAGE_AT = sqlalchemy.select(_EVENTS.c.data).where(
    _EVENTS.c.sender_id == _SENDER,
    _EVENTS.c.type_name == BotUttered.type_name,
    _EVENTS.c.timestamp == sqlalchemy.bindparam("timestamp"),
)

logger = logging.getLogger(__name__)


class TurnLimitedSQLTrackerStore(FastRetrieve, SQLTrackerStore):
    """`SQLTrackerStore` that starts a new session, carrying the slots over, every N turns."""

    def __init__(self, *args: Any, max_turns_per_session: int = DEFAULT_MAX_TURNS_PER_SESSION, **kwargs: Any) -> None:
        # Rasa passes the endpoint's `url` as `host`; SQLite needs none and takes `db` as its path.
        # Every Sanic worker creates its store at the same moment: on a SQLite file, they create
        # the table and indexes one after the other (at once, all but one would log an error).
        with _one_worker_at_a_time(kwargs.get("dialect", "sqlite"), kwargs.get("db")):
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
        # Several workers write to the file: a write waits for another's (a few ms) rather than fail.
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
        self.engine = sqlalchemy.create_engine(
            url, poolclass=sqlalchemy.pool.QueuePool, connect_args=connect_args, hide_parameters=True
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

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        """The current session, as Rasa's store loads it; for a rolled-over session whose
        conversation has been idle too long, only its start (the module's docstring says why)."""
        tracker = await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        if tracker is None or fetch_events_from_all_sessions or not self._idle_too_long(tracker):
            return tracker
        return _up_to_session_start(tracker, self.domain) or tracker

    def _idle_too_long(self, tracker: DialogueStateTracker) -> bool:
        """Rasa's `_has_session_expired` for a session with no user message yet, reading the
        conversation's last user message from the table instead of the loaded session."""
        config = self.domain.session_config if self.domain else None
        if config is None or not config.are_sessions_enabled():
            return False
        if any(isinstance(event, UserUttered) for event in tracker.events):
            return False  # Rasa's own check sees the message
        with self.engine.connect() as connection:
            last_message_at = connection.execute(_LAST_USER_MESSAGE_AT, {"sender_id": tracker.sender_id}).scalar()
        if last_message_at is None:
            return False  # no message ever: Rasa's rule, never expired
        return (time.time() - last_message_at) / 60 > config.session_expiration_time

    async def bot_message_at(self, sender_id: str, timestamp: float) -> BotUttered | None:
        """The conversation's bot message stamped `timestamp`, in any session, by one indexed
        query (what a 👍 / 👎 names, bot/feedback.py); None if there is none."""
        with self.engine.connect() as connection:
            data = connection.execute(_BOT_MESSAGE_AT, {"sender_id": sender_id, "timestamp": timestamp}).scalar()
        event = Event.from_parameters(json.loads(data)) if data else None
        return event if isinstance(event, BotUttered) else None

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


@contextlib.contextmanager
def _one_worker_at_a_time(dialect: str, database: str | None) -> Iterator[None]:
    if dialect != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    with one_process_at_a_time(Path(f"{database}-init.lock")):
        yield


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


def _up_to_session_start(tracker: DialogueStateTracker, domain: Any) -> DialogueStateTracker | None:
    """The tracker's events up to its `session_started`: a session with nothing applied yet, on
    which Rasa starts a new one (`_update_tracker_session`), as it does for an expired one. The
    events after it stay stored, and are not saved again (the note says what is stored)."""
    events = list(tracker.events)
    starts = [index for index, event in enumerate(events) if isinstance(event, SessionStarted)]
    if not starts:
        return None
    kept = DialogueStateTracker.from_events(tracker.sender_id, events[: starts[-1] + 1], domain.slots)
    note_stored_events(kept)
    return kept


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
