"""Custom actions. Each reads the message and slots, asks bot/ for the answer, and says it.

- `action_answer` answers every question: the parse's parts (several questions in one
  message), the `topic` slot for follow-ups, and the `choice` the choice form read.
- `choice_form` waits for the reply to the assistant's own question ("Where is your BME?"):
  its slot takes the reply's text, and `action_answer` reads it as the answer (an entity, an
  ordinal, an item's title) or, if it is not one, answers it as a question: one call a turn.
- The symptom check is a form too: `validate_symptom_check_form` reads yes/no/not sure.
- "Delete my conversation" opens `erasure_form`; `validate_erasure_form` reads the answer and
  `action_erase_conversation` says what happens. This server cannot reach the tracker store:
  on a yes it returns a marker, on which the store deletes the conversation instead of saving
  the turn (bot/stores/erasure.py).
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ActionExecutionRejected, ActiveLoop, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.domain import feedback, privacy, replies, symptom_check
from bot.domain.replies import Reply, reply, title_of
from bot.domain.topics import payload_for, topic_of
from bot.domain.understanding import (
    Decision,
    asks_something_else,
    decide_all,
    named_by,
    parts_of,
    read_choice,
    referred_to,
    the_other,
)
from bot.names import (
    CHOICE_FORM,
    CHOICE_SLOT,
    ERASE_ACTION,
    ERASE_SLOT,
    ERASED_ANSWER,
    ERASURE_ANSWER_SLOT,
    ERASURE_FORM,
    LOCATION_SLOT,
    SYMPTOM_CHECK_FORM,
    TOPIC_SLOT,
)

REQUESTED_SLOT = "requested_slot"  # Rasa's own slot for the slot a form asks for

# What runs between a message and a form reading it.
_BEFORE_READING = {"action_listen", "action_extract_slots", CHOICE_FORM, SYMPTOM_CHECK_FORM}
# Domain responses a decision may name, by answer id.
RESPONSES = {
    "out_of_scope": "utter_out_of_scope",
    "bot_challenge": "utter_bot_challenge",
    "help": "utter_help",
    "greet": "utter_greet",
    "thank": "utter_thank",
    "goodbye": "utter_goodbye",
    "anything_else": "utter_anything_else",
}

SESSION_START_METADATA_SLOT = "session_started_metadata"  # Rasa's slot for the first message's metadata


def say(dispatcher: CollectingDispatcher, answer: Reply) -> None:
    """Utters a reply's bubbles, its choices as buttons under the last one. Every bubble carries
    its answer id (and through it, in the knowledge file, its article section), so conversation
    tests and reviews can trace it; the last one of an answer that may be rated says so (`rate`:
    the channels offer 👍 / 👎 under it)."""
    buttons = [{"title": title_of(choice), "payload": payload_for(choice)} for choice in answer.choices]
    for index, bubble in enumerate(answer.bubbles):
        last = index == len(answer.bubbles) - 1
        rate = {feedback.RATE_KEY: True} if last and feedback.rated(answer.answer, asks=bool(answer.asks)) else {}
        dispatcher.utter_message(
            text=bubble,
            buttons=(buttons or None) if last else None,
            answer=answer.answer,
            **rate,
        )


def _clarify(dispatcher: CollectingDispatcher, offered: tuple[str, ...]) -> None:
    buttons = [{"title": title_of(answer), "payload": payload_for(answer)} for answer in offered]
    dispatcher.utter_message(text=replies.DID_YOU_MEAN, buttons=buttons, answer="clarify")


def _say_decisions(dispatcher: CollectingDispatcher, decisions: list[Decision]) -> list[Reply]:
    """Says each question's answers in order; returns the knowledge answers said."""
    said: list[Reply] = []
    for decision in decisions:
        for response in decision.responses:
            dispatcher.utter_message(response=RESPONSES[response])
        if decision.clarify:
            _clarify(dispatcher, decision.clarify)
        for pick in decision.picks:
            said.append(reply(pick))
            say(dispatcher, said[-1])
    return said


def _answer_asked_beside(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Answers what a reply to the symptom check also asks ("no redness. also how long does it
    take to heal?"): the check reads the "no", and the question is not lost."""
    questions = [part for part in parts_of(tracker.latest_message) if asks_something_else(part)]
    if questions:
        topic, location = tracker.get_slot(TOPIC_SLOT), tracker.get_slot(LOCATION_SLOT)
        _say_decisions(dispatcher, decide_all(questions, topic, location=location))


class ActionSessionStart(Action):
    """Starts every conversation with one short welcome that carries the disclaimer.

    Not where the disclaimer is always on screen: the web chat shows it in its header and says
    so in the metadata of its messages (`disclaimer_in_header`), which Rasa hands to the session
    start; there the greeting alone opens the conversation."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        metadata = tracker.get_slot(SESSION_START_METADATA_SLOT)
        if not (isinstance(metadata, dict) and metadata.get("disclaimer_in_header") is True):
            say(dispatcher, reply("welcome"))
        return [SessionStarted(), ActionExecuted("action_listen")]


class ActionAnswer(Action):
    """Answers the message: each of its questions in order, a typed choice first."""

    def name(self) -> str:
        return "action_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        replying = tracker.get_slot(CHOICE_SLOT) is not None  # the choice form took the message
        topic = tracker.get_slot(TOPIC_SLOT)
        parts = parts_of(tracker.latest_message, join_lead_in=not replying)
        choice = read_choice(parts, topic) if replying and topic else None
        said: list[Reply] = []
        if choice is not None:  # the reply answers the assistant's question ("ice and nsaids": each item)
            said += _say_decisions(dispatcher, [Decision((choice.pick, *choice.also))])
        else:
            parts = parts_of(tracker.latest_message)  # not an answer: every part is a question
        questions = [part for index, part in enumerate(parts) if choice is None or index != choice.part]
        location = tracker.get_slot(LOCATION_SLOT)
        named = named_by(choice.pick, topic) if choice is not None and topic else ()
        previous_answer = _previous_answer(tracker)
        other = the_other(questions[0], previous_answer) if questions and choice is None else None
        if other is not None:  # "and the other doctor?"
            said += _say_decisions(dispatcher, [Decision((other,))])
            questions = questions[1:]
        if not named and questions:
            named = referred_to(questions[0], previous_answer)  # "how long does that take?"
        decisions = decide_all(questions, topic, given=[r.answer for r in said], location=location, named=named)
        said += _say_decisions(dispatcher, decisions)
        return self._next_state(said, topic, replying, tracker.active_loop.get("name"))

    @staticmethod
    def _next_state(
        said: list[Reply], previous_topic: str | None, had_choice: bool, active_loop: str | None
    ) -> list[EventType]:
        """The topic follow-ups continue, and the choice form when the last answer asked (only
        what changed). A question asked during the symptom check is answered and the check
        goes on."""
        topic = previous_topic
        for answer in reversed(said):
            answered = topic_of(answer.answer)
            if answered is not None:
                topic = answered.name
                break
        asks = said[-1].asks if said and active_loop in (None, CHOICE_FORM) else None
        events: list[EventType] = []
        if (asks or topic) != previous_topic:
            events.append(SlotSet(TOPIC_SLOT, asks or topic))
        if had_choice:
            events.append(SlotSet(CHOICE_SLOT, None))
        if asks:
            events += [ActiveLoop(CHOICE_FORM), SlotSet(REQUESTED_SLOT, CHOICE_SLOT)]
        elif active_loop == CHOICE_FORM:
            events += [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
        return events


def _previous_answer(tracker: Tracker) -> str | None:
    """The id of the assistant's last answer before the latest message, if it named one."""
    seen_message = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_message:
                return None
            seen_message = True
        elif seen_message and event.get("event") == "bot":
            answer = (event.get("metadata") or {}).get("answer")
            if answer:
                return str(answer)
    return None


def _answered_since_the_message(tracker: Tracker) -> bool:
    """True when an action already answered the latest message (the form then runs in the
    same turn as the question it asks, and must not read that message as its answer)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") not in _BEFORE_READING:
            return True
    return False


# --- the symptom check ----------------------------------------------------------------------


_LAST_QUESTION = list(symptom_check.QUESTIONS)[-1]


def _intent(message: dict[str, Any]) -> str | None:
    return (message.get("intent") or {}).get("name")


class ValidateSymptomCheckForm(FormValidationAction):
    """Reads each yes/no answer (buttons or free text) and ends the check at the first yes."""

    def name(self) -> str:
        return "validate_symptom_check_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        answers = {slot: tracker.get_slot(slot) for slot in domain_slots}
        return [] if symptom_check.any_yes(answers) else domain_slots

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        # A question about something else is answered as the question it is (the rules pick its
        # answer), and the check asks its question again after it.
        asked = tracker.get_slot("requested_slot")
        reading_a_message = not _answered_since_the_message(tracker)
        if (
            reading_a_message
            and tracker.active_loop.get("name") == self.form_name()
            and asked in symptom_check.QUESTIONS
        ):
            message = tracker.latest_message
            reading = symptom_check.interpret_answer(
                message.get("text") or "", _intent(message), message.get(symptom_check.RED_FLAGS_KEY)
            )
            if reading is None and any(asks_something_else(part) for part in parts_of(message)):
                return [SlotSet(asked, None), ActionExecutionRejected(self.form_name())]
        return await super().run(dispatcher, tracker, domain)

    def _answer(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        # Forms ask before they complain: the message that started the check, and a question
        # not yet asked, are never read as an answer.
        if tracker.active_loop.get("name") != self.form_name() or tracker.get_slot("requested_slot") != slot:
            return {}
        message = tracker.latest_message
        intent = _intent(message)
        if intent == "symptom_check":  # asked again halfway: start again from the first question
            return dict.fromkeys(symptom_check.QUESTIONS)
        answer = symptom_check.interpret_answer(
            message.get("text") or "", intent, message.get(symptom_check.RED_FLAGS_KEY)
        )
        if answer is None:
            dispatcher.utter_message(text=replies.ANSWER_YES_OR_NO, answer="symptom_check.repeat")
        elif answer is False and slot != _LAST_QUESTION:
            _answer_asked_beside(dispatcher, tracker)  # before the next question (after the result, last)
        return {slot: answer}

    async def validate_rf_weight(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._answer("rf_weight", dispatcher, tracker)

    async def validate_rf_fever(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._answer("rf_fever", dispatcher, tracker)

    async def validate_rf_swelling(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._answer("rf_swelling", dispatcher, tracker)

    async def validate_rf_redness(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._answer("rf_redness", dispatcher, tracker)


class ActionStartSymptomCheck(Action):
    """Says what the check does, and forgets the answers of an earlier, interrupted one."""

    def name(self) -> str:
        return "action_start_symptom_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        say(dispatcher, reply("symptom_check.intro"))
        return [SlotSet(slot, None) for slot in symptom_check.QUESTIONS]


class _AskSymptom(Action, metaclass=ABCMeta):
    """Asks one question of the check, with yes / no / not sure buttons (from the knowledge
    file, so a clinician reviews the wording with every other answer). Abstract, so the action
    server registers only the four concrete questions."""

    @property
    @abstractmethod
    def slot(self) -> str: ...

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        question = reply(symptom_check.QUESTION_ANSWERS[self.slot])
        dispatcher.utter_message(
            text=question.bubbles[0],
            buttons=symptom_check.YES_NO_BUTTONS,
            answer=question.answer,
        )
        return []


class ActionAskRfWeight(_AskSymptom):
    slot = "rf_weight"


class ActionAskRfFever(_AskSymptom):
    slot = "rf_fever"


class ActionAskRfSwelling(_AskSymptom):
    slot = "rf_swelling"


class ActionAskRfRedness(_AskSymptom):
    slot = "rf_redness"


class ActionSymptomCheckResult(Action):
    """Any yes: the urgent response. All no: what the check did and did not do."""

    def name(self) -> str:
        return "action_symptom_check_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        answers = {slot: tracker.get_slot(slot) for slot in symptom_check.QUESTIONS}
        if symptom_check.any_yes(answers):
            dispatcher.utter_message(response="utter_urgent_care")
        else:
            say(dispatcher, reply("symptom_check.clear"))
            _answer_asked_beside(dispatcher, tracker)
        return [SlotSet(slot, None) for slot in symptom_check.QUESTIONS]


# --- erasure on request -----------------------------------------------------------------------


class ValidateErasureForm(FormValidationAction):
    """Reads the answer to "Delete this whole conversation?": "yes" only for a clear yes (the
    button, or a typed yes without a doubt), "no" for anything else, which cancels."""

    def name(self) -> str:
        return f"validate_{ERASURE_FORM}"

    async def validate_erasure_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        message = tracker.latest_message
        confirmed = privacy.confirms_erasure(message.get("text") or "", _intent(message))
        return {ERASURE_ANSWER_SLOT: "yes" if confirmed else "no"}


class ActionEraseConversation(Action):
    """Says whether the conversation is deleted; on a yes, returns the marker on which the
    tracker store deletes every stored event of it and saves nothing of this turn."""

    def name(self) -> str:
        return ERASE_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot(ERASURE_ANSWER_SLOT) == "yes":
            dispatcher.utter_message(text=replies.CONVERSATION_DELETED, answer=ERASED_ANSWER)
            return [SlotSet(ERASE_SLOT, True)]
        dispatcher.utter_message(text=replies.CONVERSATION_KEPT, answer=privacy.KEPT_ANSWER)
        return [SlotSet(ERASURE_ANSWER_SLOT, None)]
