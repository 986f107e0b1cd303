"""Custom actions. Each reads slots and entities, asks bot/ for the reply, and says it."""

from __future__ import annotations

import json
from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from bot import replies, symptom_check
from bot.follow_up import follow_up_topic
from bot.replies import Reply
from bot.topic_titles import title

SESSION_START_METADATA_SLOT = "session_started_metadata"  # Rasa's slot for the first message's metadata


def say(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    """Utters a reply, its choices as buttons that send the chosen entity value back."""
    buttons = [
        {"title": choice.title, "payload": f"/inform{json.dumps({choice.entity: choice.value})}"}
        for choice in reply.choices
    ]
    dispatcher.utter_message(text=reply.text, buttons=buttons or None)


def intent_of(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


class ActionSessionStart(Action):
    """Starts every conversation with a welcome, what we can help with, and the disclaimer.

    Not where the disclaimer is always on screen: the web chat shows it in its header and says
    so in the metadata of its messages (`disclaimer_in_header`), which Rasa hands to the session
    start; there the greeting alone opens the conversation."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        metadata = tracker.get_slot(SESSION_START_METADATA_SLOT)
        if not (isinstance(metadata, dict) and metadata.get("disclaimer_in_header") is True):
            dispatcher.utter_message(text=replies.WELCOME)
            dispatcher.utter_message(text=replies.disclaimer().text)
        return [SessionStarted(), ActionExecuted("action_listen")]


# Topic intents whose answer is built from structured entries rather than a fixed text.
_STRUCTURED_TOPICS = {
    "ask_red_flags": replies.red_flag_signs,
    "ask_mri_patterns": replies.mri_patterns,
    "ask_expert_views": replies.expert_views,
}


class ActionAnswerTopic(Action):
    """Answers a topic, FAQ or myth intent from the knowledge file."""

    def name(self) -> str:
        return "action_answer_topic"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        intent = intent_of(tracker) or ""
        build = _STRUCTURED_TOPICS.get(intent)
        reply = build() if build else replies.topic(intent)
        if reply is None:
            dispatcher.utter_message(text=replies.NOT_IN_ARTICLE)
        else:
            say(dispatcher, reply)
        return []


def answer_topic(topic: str, tracker: Tracker) -> Reply:
    """The reply for one structured topic, using the slots the conversation has filled."""
    if topic == "shoes":
        return replies.shoes(tracker.get_slot("location"))
    if topic == "recovery":
        return replies.recovery_time(tracker.get_slot("cause"))
    if topic == "cause":
        return replies.cause(tracker.get_slot("cause"))
    if topic == "imaging":
        return replies.imaging(tracker.get_slot("modality"))
    if topic == "treatment":
        return replies.treatment(tracker.get_slot("treatment"), advanced=intent_of(tracker) == "ask_advanced_treatment")
    raise ValueError(f"unknown topic {topic!r}")


class _TopicAction(Action, metaclass=ABCMeta):
    """Answers one structured topic and remembers it, so a follow-up knows what it is about.

    Abstract, so the action server registers only the concrete subclasses.
    """

    topic: str

    @abstractmethod
    def name(self) -> str: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        say(dispatcher, answer_topic(self.topic, tracker))
        return [SlotSet("topic", self.topic)]


class ActionRecommendShoes(_TopicAction):
    topic = "shoes"

    def name(self) -> str:
        return "action_recommend_shoes"


class ActionRecoveryTime(_TopicAction):
    topic = "recovery"

    def name(self) -> str:
        return "action_recovery_time"


class ActionExplainCause(_TopicAction):
    topic = "cause"

    def name(self) -> str:
        return "action_explain_cause"


class ActionExplainImaging(_TopicAction):
    topic = "imaging"

    def name(self) -> str:
        return "action_explain_imaging"


class ActionExplainTreatment(_TopicAction):
    topic = "treatment"

    def name(self) -> str:
        return "action_explain_treatment"


class ActionFollowUp(Action):
    """Answers "and the hip?" for the topic of the previous answer, or the one the value fits."""

    def name(self) -> str:
        return "action_follow_up"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        entities = [e["entity"] for e in tracker.latest_message.get("entities", [])]
        topic = follow_up_topic(entities, tracker.get_slot("topic"))
        if topic is None:
            dispatcher.utter_message(text=replies.ASK_WHAT_ABOUT)
            return []
        say(dispatcher, answer_topic(topic, tracker))
        return [SlotSet("topic", topic)]


class ValidateSymptomCheckForm(FormValidationAction):
    """Reads each yes/no answer (buttons or free text) and ends the check at the first yes."""

    def name(self) -> str:
        return "validate_symptom_check_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        answers = {slot: tracker.get_slot(slot) for slot in domain_slots}
        return [] if symptom_check.any_yes(answers) else domain_slots

    def _answer(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        message = tracker.latest_message
        answer = symptom_check.interpret_answer(
            message.get("text") or "", intent_of(tracker), message.get(symptom_check.RED_FLAGS_KEY)
        )
        if answer is None:
            dispatcher.utter_message(text=replies.ANSWER_YES_OR_NO)
        return {slot: answer}

    async def validate_rf_weight(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._answer("rf_weight", dispatcher, tracker)

    async def validate_rf_fever(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._answer("rf_fever", dispatcher, tracker)

    async def validate_rf_swelling(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._answer("rf_swelling", dispatcher, tracker)

    async def validate_rf_redness(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._answer("rf_redness", dispatcher, tracker)


class ActionResetSymptomCheck(Action):
    """Forgets the answers of an earlier, interrupted symptom check before a new one."""

    def name(self) -> str:
        return "action_reset_symptom_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return [SlotSet(slot, None) for slot in symptom_check.QUESTIONS]


class ActionSymptomCheckResult(Action):
    """Any yes: the urgent response. All no: what typical BME feels like and how it's found."""

    def name(self) -> str:
        return "action_symptom_check_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        answers = {slot: tracker.get_slot(slot) for slot in symptom_check.QUESTIONS}
        if symptom_check.any_yes(answers):
            dispatcher.utter_message(response="utter_urgent_care")
        else:
            say(dispatcher, replies.symptom_check_clear())
        return [SlotSet(slot, None) for slot in symptom_check.QUESTIONS]


class ActionDefaultAskAffirmation(Action):
    """First fallback stage: offer the two likeliest topics by name, and "something else"."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        topics = [r["name"] for r in ranking if title(r.get("name", ""))][:2]
        buttons = [{"title": title(intent), "payload": f"/{intent}"} for intent in topics]
        # Rasa's two-stage fallback reads out_of_scope as "none of these": it then asks to rephrase.
        buttons.append({"title": "Something else", "payload": "/out_of_scope"})
        dispatcher.utter_message(text=replies.DID_YOU_MEAN, buttons=buttons)
        return []
