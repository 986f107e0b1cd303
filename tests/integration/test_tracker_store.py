"""The turn-limited SQL tracker store (bot/stores/tracker_store.py) on a real SQLite database: long
conversations are split into sessions without losing an event, a slot or a form."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.settings import ROOT
from bot.stores.tracker_store import TurnLimitedSQLTrackerStore
from tests.integration.sessions import tracker_for_turn

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def store(tmp_path) -> TurnLimitedSQLTrackerStore:
    return TurnLimitedSQLTrackerStore(
        domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "c.db"), max_turns_per_session=3
    )


def converse(store: TurnLimitedSQLTrackerStore, sender: str, turns: list[Callable[[], list[Event]]]) -> None:
    """Each turn as Rasa runs it: retrieve (or create), a user message, the bot's events, save.
    A turn's events are made when it runs, since Rasa finds a session by its events' timestamps."""

    async def run() -> None:
        for events in turns:
            tracker = await tracker_for_turn(store, sender)
            for event in events():
                tracker.update(event)
            await store.save(tracker)

    asyncio.run(run())


def turn(text: str, *bot_events: Callable[[], Event]) -> Callable[[], list[Event]]:
    return lambda: [UserUttered(text), *(make() for make in bot_events), ActionExecuted(ACTION_LISTEN_NAME)]


def test_a_full_session_rolls_over_with_every_event_kept_and_the_slots_carried(store):
    topic = [
        lambda: ActionExecuted("action_shoes"),
        lambda: SlotSet("topic", "shoes"),
        lambda: SlotSet("choice", {"answer": "shoes.knee"}),
        lambda: BotUttered("Hoka"),
    ]
    script = [turn("what is bme", lambda: BotUttered("marrow")), turn("shoes for knee", *topic), turn("thanks")]
    script += [turn("and the hip?", lambda: BotUttered("Asics"))]
    converse(store, "long", script)

    current = asyncio.run(store.retrieve("long"))
    full = asyncio.run(store.retrieve_full_tracker("long"))
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == [
        "what is bme",
        "shoes for knee",
        "thanks",
        "and the hip?",
    ]
    assert [e.text for e in current.events if isinstance(e, UserUttered)] == ["and the hip?"]
    assert current.get_slot("topic") == "shoes" and current.get_slot("choice") == {"answer": "shoes.knee"}
    assert not [e for e in current.events if isinstance(e, BotUttered) and e.text != "Asics"], "no repeated welcome"


def test_a_short_conversation_stays_in_one_session(store):
    converse(store, "short", [turn("hi"), turn("what is bme")])
    tracker = asyncio.run(store.retrieve("short"))
    assert sum(isinstance(e, SessionStarted) for e in tracker.events) == 1
    assert len([e for e in tracker.events if isinstance(e, UserUttered)]) == 2


def test_a_session_is_never_split_inside_a_form(store):
    in_form = [
        lambda: ActionExecuted("symptom_check_form"),
        lambda: ActiveLoop("symptom_check_form"),
        lambda: SlotSet("requested_slot", "rf_fever"),
    ]
    script = [turn("hi"), turn("check my symptoms", *in_form), turn("no"), turn("no")]
    converse(store, "form", script)
    tracker = asyncio.run(store.retrieve("form"))
    assert tracker.active_loop_name == "symptom_check_form"
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["hi", "check my symptoms", "no", "no"]


def test_an_idle_conversation_expires_after_a_rollover_as_it_would_without_one(store, monkeypatch):
    # Rasa ends a session idle longer than session_expiration_time (60 minutes) by the time of its
    # last user message, which a rolled-over session does not have until the next message.
    topic = [lambda: ActionExecuted("action_answer"), lambda: SlotSet("topic", "shoes")]
    converse(store, "idle", [turn("one"), turn("two", *topic), turn("three")])  # rolls over after "three"
    now = time.time()

    def next_message_after(minutes: float) -> DialogueStateTracker:
        """What Rasa makes of the stored conversation when the next message comes: the tracker
        after its own session check (`_update_tracker_session`, which runs action_session_start
        when the session expired or has nothing applied)."""
        monkeypatch.setattr(time, "time", lambda: now + minutes * 60)
        tracker = asyncio.run(store.retrieve("idle"))
        if not tracker.applied_events() or MessageProcessor._has_session_expired(
            SimpleNamespace(domain=DOMAIN), tracker
        ):
            tracker.update(ActionExecuted(ACTION_SESSION_START_NAME))
            tracker.update(SessionStarted())
        return tracker

    for minutes in (1, 30, 59):
        assert next_message_after(minutes).get_slot("topic") == "shoes", f"{minutes} minutes: the session goes on"
    for minutes in (61, 24 * 60):
        assert next_message_after(minutes).get_slot("topic") is None, f"{minutes} minutes: a new session"


def stored_texts(store: TurnLimitedSQLTrackerStore, sender: str) -> list[str]:
    """User messages as stored in the table, in order, read by Rasa's own SQL tracker store: the
    rows are the ones Rasa writes, so either store can read them."""
    fresh = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=store.engine.url.database)
    full = asyncio.run(fresh.retrieve_full_tracker(sender))
    return [e.text for e in full.events if isinstance(e, UserUttered)]


def test_a_tracker_saved_again_stores_only_its_new_events(store):
    converse(store, "twice", [turn("hi")])

    async def two_saves_of_one_tracker() -> None:
        tracker = await store.retrieve("twice")
        for text in ("what is bme", "is it serious"):
            for event in turn(text)():
                tracker.update(event)
            await store.save(tracker)

    asyncio.run(two_saves_of_one_tracker())
    assert stored_texts(store, "twice") == ["hi", "what is bme", "is it serious"]


def test_saving_a_tracker_loaded_with_every_session_repeats_nothing(store):
    # Rasa's own store counts only the current session's stored events, so saving a tracker
    # loaded with all sessions (as the HTTP API's event endpoints do) wrote older sessions twice.
    converse(store, "all", [turn("one"), turn("two"), turn("three"), turn("four")])  # rolls over

    async def append_to_full_tracker() -> None:
        tracker = await store.retrieve_full_tracker("all")
        for event in turn("five")():
            tracker.update(event)
        await store.save(tracker)

    asyncio.run(append_to_full_tracker())
    assert stored_texts(store, "all") == ["one", "two", "three", "four", "five"]


def test_a_tracker_this_store_did_not_load_is_saved_without_repeats(store):
    converse(store, "outside", [turn("hi")])

    async def save_an_unnoted_copy() -> None:
        tracker = (await store.retrieve("outside")).copy()  # a copy carries no note
        for event in turn("what is bme")():
            tracker.update(event)
        await store.save(tracker)

    asyncio.run(save_an_unnoted_copy())
    assert stored_texts(store, "outside") == ["hi", "what is bme"]


def test_it_loads_the_same_conversation_as_rasas_own_store(store):
    converse(store, "same", [turn("one"), turn("two"), turn("three"), turn("four"), turn("five")])  # rolls over
    rasas = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=store.engine.url.database)
    for load in ("retrieve", "retrieve_full_tracker"):
        ours, theirs = (asyncio.run(getattr(s, load)("same")) for s in (store, rasas))
        assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in theirs.events], load
    assert asyncio.run(store.retrieve("nobody")) is None
