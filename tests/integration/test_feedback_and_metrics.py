"""👍 / 👎 kept in the conversation, and the metrics counted from saved turns, on our real tracker
store (SQLite) with Rasa's lock store: bot/feedback.py, bot/metrics.py's event broker and
bot/handler.py, without a model or a server."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot import feedback, handler, metrics
from bot.domain.feedback import Rating, payload
from bot.domain.replies import FEEDBACK_THANKS
from bot.names import FEEDBACK_SLOT
from bot.settings import ROOT
from bot.stores.tracker_store import TurnLimitedSQLTrackerStore
from tests.integration.sessions import tracker_for_turn

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def agent(tmp_path):
    store = TurnLimitedSQLTrackerStore(
        domain=DOMAIN,
        dialect="sqlite",
        db=str(tmp_path / "c.db"),
        max_turns_per_session=2,
        event_broker=metrics.MetricsEventBroker(),
    )
    return SimpleNamespace(tracker_store=store, lock_store=InMemoryLockStore())


def parse(intent: str, confidence: float, red_flags: list[str] | None = None, top: str | None = None) -> dict:
    ranking = [{"name": top or intent, "confidence": confidence}]
    return {
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking,
        "red_flags": {"categories": red_flags or []},
    }


def turn(agent, sender: str, text: str, parse_data: dict, *bubbles: BotUttered) -> None:
    async def run() -> None:
        store = agent.tracker_store
        tracker = await tracker_for_turn(store, sender)
        tracker.update(UserUttered(text, parse_data["intent"], parse_data=parse_data, input_channel="rest"))
        tracker.update(ActionExecuted("action_answer"))
        for bubble in bubbles:
            tracker.update(bubble)
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        await store.save(tracker)

    asyncio.run(run())


def test_each_saved_turn_is_counted_once_by_the_event_broker(agent):
    before = {
        "definition": value("bme_intents_total", intent="ask_definition"),
        "fallback_intent": value("bme_intents_total", intent="nlu_fallback"),
        "fallbacks": value("bme_fallbacks_total"),
        "oos": value("bme_out_of_scope_answers_total"),
        "urgent": value("bme_urgent_responses_total"),
        "both": value("bme_red_flags_total", layer="both"),
        "detector": value("bme_red_flags_total", layer="detector"),
        "other": value("bme_intents_total", intent="other"),
    }
    definition = BotUttered("marrow", metadata={"answer": "definition"})
    turn(agent, "m", "what is bme", parse("ask_definition", 0.9), definition)
    turn(agent, "m", "blorp", parse("nlu_fallback", 0.5), BotUttered("Did you mean", metadata={"answer": "clarify"}))
    out_of_scope = BotUttered("No", metadata={"utter_action": "utter_out_of_scope"})
    turn(agent, "m", "pizza?", parse("out_of_scope", 0.9), out_of_scope)
    urgent = BotUttered("Urgent", metadata={"utter_action": "utter_urgent_care"})
    turn(agent, "m", "fever and swollen", parse("red_flag", 1.0, ["fever"]), urgent)
    turn(agent, "m", "it is red", parse("red_flag", 1.0, ["redness"], top="describe_symptoms"), urgent)
    turn(agent, "m", "/made_up", {"intent": {"name": "made_up", "confidence": 1.0}})  # a payload names any intent

    assert value("bme_intents_total", intent="ask_definition") == before["definition"] + 1
    assert value("bme_intents_total", intent="nlu_fallback") == before["fallback_intent"] + 1
    assert value("bme_intents_total", intent="other") == before["other"] + 1  # no label per made-up intent
    assert value("bme_fallbacks_total") == before["fallbacks"] + 1
    assert value("bme_out_of_scope_answers_total") == before["oos"] + 1
    assert value("bme_urgent_responses_total") == before["urgent"] + 2
    assert value("bme_red_flags_total", layer="both") == before["both"] + 1
    assert value("bme_red_flags_total", layer="detector") == before["detector"] + 1
    # Six turns with a session of two: the rollovers are saved too, and counted as nothing.
    stored = asyncio.run(agent.tracker_store.retrieve_full_tracker("m"))
    assert sum(isinstance(e, UserUttered) for e in stored.events) == 6


def test_the_store_streams_only_the_new_events_without_loading_the_conversation_again(agent, monkeypatch):
    turn(agent, "s", "what is bme", parse("ask_definition", 0.9), BotUttered("marrow", metadata={"answer": "x"}))
    published: list[dict] = []
    monkeypatch.setattr(agent.tracker_store.event_broker, "publish", published.append)

    async def no_retrieve(*_args):
        raise AssertionError("save loaded the conversation again")

    monkeypatch.setattr(agent.tracker_store, "retrieve", no_retrieve)
    tracker = asyncio.run(TurnLimitedSQLTrackerStore.retrieve(agent.tracker_store, "s"))
    tracker.update(UserUttered("and the hip?", {"name": "inform"}))
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    asyncio.run(agent.tracker_store.save(tracker))
    # The turn, then (a session holds two turns here) the new session's start.
    assert [event["event"] for event in published] == ["user", "action", "action", "session_started", "action"]
    assert all(event["sender_id"] == "s" for event in published)


def rated_bubble(agent, sender: str) -> BotUttered:
    tracker = asyncio.run(agent.tracker_store.retrieve_full_tracker(sender))
    return [e for e in tracker.events if isinstance(e, BotUttered)][-1]


def test_feedback_is_a_slot_event_next_to_the_bubble_it_rates_and_counted(agent):
    bubble = BotUttered("marrow", metadata={"answer": "definition"})
    turn(agent, "f", "what is bme", parse("ask_definition", 0.9), bubble)
    at = rated_bubble(agent, "f").timestamp
    down = value("bme_feedback_total", rating="down")

    stored = asyncio.run(feedback.record(agent, "f", Rating("down", at)))

    assert stored == {"rating": "down", "at": at, "answer": "definition"}
    tracker = asyncio.run(agent.tracker_store.retrieve_full_tracker("f"))
    assert isinstance(tracker.events[-1], SlotSet) and tracker.events[-1].key == FEEDBACK_SLOT
    assert tracker.events[-1].value == stored
    assert tracker.latest_action_name == ACTION_LISTEN_NAME  # the dialogue is where it was
    assert sum(isinstance(e, UserUttered) for e in tracker.events) == 1  # and no turn was added
    assert value("bme_feedback_total", rating="down") == down + 1


def test_feedback_on_a_bubble_of_an_earlier_session_is_kept_and_never_carried_into_a_new_one(agent):
    turn(agent, "old", "what is bme", parse("ask_definition", 0.9), BotUttered("marrow", metadata={"answer": "a"}))
    at = rated_bubble(agent, "old").timestamp
    assert asyncio.run(feedback.record(agent, "old", Rating("up", at))) is not None
    # The next turn fills the session: the store starts a new one.
    turn(agent, "old", "shoes?", parse("ask_shoes", 0.9), BotUttered("Hoka", metadata={"answer": "shoes"}))
    assert asyncio.run(feedback.record(agent, "old", Rating("down", at)))["answer"] == "a"  # found in the full history
    tracker = asyncio.run(agent.tracker_store.retrieve_full_tracker("old"))
    ratings = [e.value["rating"] for e in tracker.events if isinstance(e, SlotSet) and e.key == FEEDBACK_SLOT]
    assert ratings == ["up", "down"]  # the rollover did not copy the first one


def test_feedback_naming_no_bubble_of_the_conversation_is_not_kept(agent):
    turn(agent, "x", "what is bme", parse("ask_definition", 0.9), BotUttered("marrow", metadata={"answer": "a"}))
    assert asyncio.run(feedback.record(agent, "x", Rating("down", 12.5))) is None
    assert asyncio.run(feedback.record(agent, "nobody", Rating("down", 12.5))) is None
    tracker = asyncio.run(agent.tracker_store.retrieve_full_tracker("x"))
    assert not [e for e in tracker.events if isinstance(e, SlotSet) and e.key == FEEDBACK_SLOT]


def test_the_handler_keeps_a_payload_as_feedback_and_thanks_without_a_turn(agent):
    turn(agent, "h", "what is bme", parse("ask_definition", 0.9), BotUttered("marrow", metadata={"answer": "a"}))
    at = rated_bubble(agent, "h").timestamp
    handled: list[UserMessage] = []

    async def handle_message(message: UserMessage) -> None:
        handled.append(message)

    agent.handle_message = handle_message
    rest = value("bme_messages_total", channel="rest")
    output = CollectingOutputChannel()
    asyncio.run(handler.handle_message(agent, UserMessage(payload("up", at), output, "h", input_channel="rest")))
    assert handled == []  # never a turn of the dialogue
    assert [m["text"] for m in output.messages] == [FEEDBACK_THANKS]
    assert value("bme_messages_total", channel="rest") == rest  # nor a message

    asyncio.run(handler.handle_message(agent, UserMessage("what causes it?", output, "h", input_channel="rest")))
    assert [m.text for m in handled] == ["what causes it?"]
    assert value("bme_messages_total", channel="rest") == rest + 1
    assert value("bme_reply_seconds_count", channel="rest") >= 1


def test_a_typed_thumb_rates_the_last_answer_only_when_that_answer_offered_it(agent):
    handled: list[UserMessage] = []

    async def handle_message(message: UserMessage) -> None:
        handled.append(message)

    agent.handle_message = handle_message
    # stamped after the session that turn() starts, as a bubble of the turn is
    rated = BotUttered("marrow", metadata={"answer": "definition", "rate": True}, timestamp=time.time() + 1)
    turn(agent, "t", "what is bme", parse("ask_definition", 0.9), rated)
    output = CollectingOutputChannel()
    asyncio.run(handler.handle_message(agent, UserMessage("👍", output, "t", input_channel="rest")))
    assert handled == [] and [m["text"] for m in output.messages] == [FEEDBACK_THANKS]
    tracker = asyncio.run(agent.tracker_store.retrieve_full_tracker("t"))
    kept = [e.value for e in tracker.events if isinstance(e, SlotSet) and e.key == FEEDBACK_SLOT]
    assert kept == [{"rating": "up", "at": rated_bubble(agent, "t").timestamp, "answer": "definition"}]

    # after a question of the assistant's, a thumb may be an answer: it goes to the dialogue
    asks = BotUttered("Do you have a fever?", metadata={"answer": "symptom_check.fever"}, timestamp=time.time() + 2)
    turn(agent, "t", "no", parse("deny", 0.9), asks)
    asyncio.run(handler.handle_message(agent, UserMessage("👍", output, "t", input_channel="rest")))
    assert [m.text for m in handled] == ["👍"]
