"""How Rasa holds a conversation when a message arrives, for tests that play turns on a store."""

from __future__ import annotations

from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker


async def tracker_for_turn(store: TrackerStore, sender: str) -> DialogueStateTracker:
    """The sender's conversation as the store returns it, or, for a new sender, a tracker with
    the events Rasa writes when it starts a session (`action_session_start`, `session_started`,
    `action_listen`)."""
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = store.init_tracker(sender)
        for event in (ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)):
            tracker.update(event)
    return tracker
