"""Keeps a user's 👍 or 👎 in their conversation, without making it a turn of the dialogue.

The buttons (bot/domain/feedback.py) send a payload like a quick reply does, through the same
channel and input guard. bot/handler.py hands it here instead of to Rasa's dialogue. It is
appended to the stored conversation as a `SlotSet` of the `feedback` slot, whose value names
the rating, the rated bubble (its timestamp) and that bubble's answer id:

    {"event": "slot", "name": "feedback", "value": {"rating": "down", "at": 1796034480.29,
     "answer": "clarify"}}

Why a slot event rather than a user message with a `feedback` intent routed to a silent action:
a message would be a turn. It would count toward the session's turns, could interrupt a form
that waits for an answer (the symptom check, "Where is your BME?"), would need training
examples for an intent nobody types, and would move what the policies see as the last turn. A
slot that no policy reads (`influence_conversation: false`) is stored with the conversation, in
order, by every tracker store, and changes nothing the assistant says next. It is written
under the conversation's lock, like a turn, so it never interleaves with one. The user gets a
short thanks (answer id `feedback`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot.domain.feedback import Rating, offers_rating
from bot.domain.feedback import offer as buttons_for
from bot.domain.replies import FEEDBACK_THANKS
from bot.names import FEEDBACK_SLOT
from bot.turns import FEEDBACK, answer_of

logger = logging.getLogger(__name__)

# Whether this process reads feedback payloads (bot/patches/channel_handler.py turns it on): the
# channels offer 👍 / 👎 only then, never a button whose payload Rasa would take for a question.
ENABLED = False


def offer(message: Mapping[str, Any]) -> dict[str, str] | None:
    """The payloads of 👍 and 👎 under a bubble a channel is sending (bot/domain/feedback.py),
    or None: the bubble offers none, or this process would not read them."""
    return buttons_for(message) if ENABLED else None


def bubble_metadata(message: Mapping[str, Any]) -> dict[str, Any]:
    """What a web chat bubble carries besides its text (bot/channels/socketio.py): its answer id,
    and the payloads of 👍 and 👎 when it offers them."""
    metadata: dict[str, Any] = {}
    if message.get("answer") or message.get("utter_action"):
        metadata["answer"] = answer_of(message)
    buttons = offer(message)
    if buttons:
        metadata["feedback"] = buttons
    return metadata


def _rated_bubble(tracker: DialogueStateTracker | None, at: float) -> BotUttered | None:
    for event in reversed(tracker.events if tracker is not None else ()):
        if isinstance(event, BotUttered) and event.timestamp == at:
            return event
    return None


async def _earlier_bubble(store: Any, sender_id: str, at: float) -> BotUttered | None:
    """A bubble of an earlier session: one indexed query on our tracker store (sessions are
    short, so this is common), a walk through the whole conversation on any other."""
    if hasattr(store, "bot_message_at"):
        return await store.bot_message_at(sender_id, at)
    return _rated_bubble(await store.retrieve_full_tracker(sender_id), at)


async def record(agent: Agent, sender_id: str, rating: Rating) -> dict[str, Any] | None:
    """Appends the rating to the conversation; returns the stored value, or None when the
    conversation has no such bubble (a forged or mistyped payload: nothing is stored)."""
    store = agent.tracker_store
    async with agent.lock_store.lock(sender_id):
        tracker = await store.retrieve(sender_id)
        bubble = _rated_bubble(tracker, rating.at)
        if tracker is not None and bubble is None:  # a bubble of an earlier session
            bubble = await _earlier_bubble(store, sender_id, rating.at)
        if tracker is None or bubble is None:
            logger.warning("Feedback from %s names no bubble of theirs (at=%s): not kept", sender_id, rating.at)
            return None
        value = {"rating": rating.rating, "at": rating.at, "answer": answer_of(bubble.metadata)}
        tracker.update(SlotSet(FEEDBACK_SLOT, value))
        await store.save(tracker)
        return value


async def typed_rating(agent: Agent, sender_id: str, rating: str) -> Rating | None:
    """A thumb typed as a message rates the assistant's last bubble when that bubble offered
    👍 / 👎. Otherwise (the assistant just asked something, a form waits for an answer, or
    nothing was said yet) it is None, and the message goes to Rasa like any other: after "Do
    you have a fever?" a 👍 may mean yes, and must never be taken for a rating."""
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is None or tracker.active_loop_name:
        return None
    last = next((e for e in reversed(tracker.events) if isinstance(e, BotUttered)), None)
    if last is None or not offers_rating(last.metadata or {}):
        return None
    return Rating(rating, float(last.timestamp))


async def handle(agent: Agent, message: UserMessage, rating: Rating) -> None:
    """Keeps the rating and thanks the user, on the channel the rating came from."""
    await record(agent, message.sender_id, rating)
    await message.output_channel.send_response(message.sender_id, {"text": FEEDBACK_THANKS, "answer": FEEDBACK})
