"""Every custom action, run the way the action server runs it, on trackers a chat would make."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import actions
from bot.domain import replies
from bot.settings import ROOT

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
TEXTS = {"location": "knee", "cause": "AVN", "modality": "MRI", "treatment": "ice", "symptom": "night"}


def tracker(
    intent: str,
    entities: dict[str, str] | None = None,
    text: str = "…",
    parts: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    events: list[dict[str, Any]] | None = None,
    **slots: Any,
) -> Tracker:
    """A tracker as Rasa sends it after a message with this intent and these entities."""
    latest: dict[str, Any] = {
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
        "entities": [{"entity": k, "value": v, "start": 0, "end": len(text)} for k, v in (entities or {}).items()],
        "text": text,
    }
    if parts is not None:
        latest["parts"] = parts
    events = events or [{"event": "user", "text": text}, {"event": "action", "name": "action_listen"}]
    loop = {"name": active_loop} if active_loop else {}
    return Tracker("user", {"topic": None, "choice": None, **slots}, latest, events, False, None, loop, "action_listen")


def run(action, t: Tracker) -> tuple[list[dict[str, Any]], list]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, DOMAIN))
    return dispatcher.messages, events


def answer(t: Tracker) -> tuple[list[dict[str, Any]], list]:
    return run(actions.ActionAnswer(), t)


def answers_of(messages: list[dict[str, Any]]) -> list[str]:
    """The answer ids said, once per answer however many bubbles it has."""
    ids = [m.get("answer") or m.get("response") for m in messages]
    return [a for i, a in enumerate(ids) if i == 0 or ids[i - 1] != a]


def text_of(messages: list[dict[str, Any]]) -> str:
    return " ".join(m.get("text") or "" for m in messages)


def button_payloads(messages: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]


# --- session start --------------------------------------------------------------------------


def test_session_start_is_one_short_welcome_with_the_disclaimer():
    messages, events = run(actions.ActionSessionStart(), tracker("session_start"))
    assert len(messages) == 1
    assert "bone marrow edema (BME) assistant" in messages[0]["text"]
    assert "not medical advice" in messages[0]["text"]
    assert events[0] == SessionStarted()
    assert events[-1]["name"] == "action_listen"


def test_session_start_leaves_the_disclaimer_to_a_chat_that_shows_it_in_its_header():
    web = tracker("session_start", session_started_metadata={"disclaimer_in_header": True})
    messages, events = run(actions.ActionSessionStart(), web)
    assert messages == []  # the web chat's greeting is its one opening bubble
    assert events[0] == SessionStarted()
    for metadata in ({}, {"disclaimer_in_header": "yes"}, {"other": True}):
        messages, _ = run(actions.ActionSessionStart(), tracker("session_start", session_started_metadata=metadata))
        assert "not medical advice" in messages[0]["text"]


# --- one answer per question ----------------------------------------------------------------


def answering_intents() -> list[str]:
    rules = [r for path in (ROOT / "data" / "rules").glob("*.yml") for r in yaml.safe_load(path.read_text())["rules"]]
    return [
        r["steps"][0]["intent"]
        for r in rules
        if len(r["steps"]) == 2 and r["steps"][1].get("action") == "action_answer" and "intent" in r["steps"][0]
    ]


@pytest.mark.parametrize("intent", [i for i in answering_intents() if i not in ("nlu_fallback", "out_of_scope")])
def test_every_question_routed_to_the_knowledge_file_has_an_answer(intent):
    messages, _ = answer(tracker(intent, {"location": "knee"} if intent == "inform" else None))
    assert messages and all(m.get("answer") or m.get("response") for m in messages)
    assert "out_of_scope" not in answers_of(messages) and "utter_out_of_scope" not in answers_of(messages)


def test_red_flag_question_explains_the_signs_without_the_alarm():
    messages, _ = answer(tracker("ask_red_flags"))
    assert answers_of(messages) == ["red_flags"]
    assert "get seen by a doctor straight away" in text_of(messages)
    assert "/symptom_check" in button_payloads(messages)


# --- lists: an overview asks back, an item is answered directly ------------------------------


@pytest.mark.parametrize(
    ("location", "model"),
    [
        ("knee", "Hoka Bondi 9"),
        ("femoral_condyle", "Brooks Glycerin 22"),
        ("tibial_plateau", "Hoka Bondi 9"),
        ("knee", "Brooks Glycerin 22"),
        ("ankle", "Merrell Moab 3"),
        ("talus", "Hoka Kaha 2"),
        ("distal_tibia", "Merrell Moab 3"),
        ("foot", "Altra Paradigm 7"),
        ("navicular", "New Balance 1080v14"),
        ("metatarsals", "Altra Paradigm 7"),
        ("calcaneus", "Altra Paradigm 7"),
        ("hip", "Asics Gel-Nimbus 26"),
        ("femoral_head", "Saucony Triumph 22"),
    ],
)
def test_every_bone_gets_its_row_of_the_shoe_table(location, model):
    messages, events = answer(tracker("ask_shoes", {"location": location}))
    assert model in text_of(messages)
    assert SlotSet("topic", "shoes") in events
    assert ActiveLoop("choice_form") not in events  # nothing asked back


def test_a_named_shoe_model_leads_to_its_row():
    messages, _ = answer(tracker("ask_shoes", {"shoe": "foot"}, text="what is the Altra Paradigm for?"))
    assert answers_of(messages) == ["shoes.foot"]


def test_shoes_without_a_place_asks_where_and_waits_for_the_answer():
    messages, events = answer(tracker("ask_shoes"))
    assert "Where is your BME?" in text_of(messages)
    assert button_payloads(messages) == [
        f'/ask_shoes{{"location": "{row}"}}' for row in ("knee", "ankle", "foot", "hip")
    ]
    assert ActiveLoop("choice_form") in events and SlotSet("requested_slot", "choice") in events


def test_shoes_for_a_place_the_table_lacks_says_so_and_offers_the_rows():
    messages, _ = answer(tracker("ask_shoes", {"location": "shoulder"}))
    assert "not the shoulder" in text_of(messages)
    assert len(button_payloads(messages)) == 4


@pytest.mark.parametrize(("bone", "ends"), [("femur", ("hip", "knee")), ("tibia", ("knee", "ankle"))])
def test_a_long_bone_is_asked_about_rather_than_guessed(bone, ends):
    messages, events = answer(tracker("ask_shoes", {"location": bone}))
    assert button_payloads(messages) == [f'/ask_shoes{{"location": "{end}"}}' for end in ends]
    assert "middle of the bone" in text_of(messages)
    assert ActiveLoop("choice_form") in events


@pytest.mark.parametrize(("cause", "expected"), [("overuse", "4–8 weeks"), ("stress_fracture", "3–6 months")])
def test_recovery_timeline_by_cause(cause, expected):
    messages, events = answer(tracker("ask_recovery_time", {"cause": cause}))
    assert expected in text_of(messages) and "Note" not in text_of(messages)
    assert SlotSet("topic", "recovery") in events


def test_recovery_without_a_cause_asks_for_it():
    messages, events = answer(tracker("ask_recovery_time"))
    assert '/ask_recovery_time{"cause": "stress_fracture"}' in button_payloads(messages)
    assert SlotSet("topic", "recovery") in events and ActiveLoop("choice_form") in events


def test_a_question_that_refers_back_to_the_item_just_answered_is_about_that_item():
    said = [
        {"event": "user", "text": "is it from overuse"},
        {"event": "bot", "text": "Overuse…", "metadata": {"answer": "causes.overuse"}},
        {"event": "action", "name": "action_listen"},
    ]
    refers = "how long does that kind take to heal?"
    events = [*said, {"event": "user", "text": refers}]
    messages, _ = answer(tracker("ask_recovery_time", text=refers, events=events, topic="causes"))
    assert answers_of(messages) == ["recovery.overuse"]
    # "it" is BME itself: the question is the general one, which asks for the cause
    plain = "how long does it take to heal?"
    events = [*said, {"event": "user", "text": plain}]
    messages, _ = answer(tracker("ask_recovery_time", text=plain, events=events, topic="causes"))
    assert answers_of(messages) == ["recovery"]


def test_an_item_answer_starts_with_the_item_and_offers_the_rest_of_its_list():
    messages, _ = answer(tracker("ask_cause", {"cause": "avascular_necrosis"}, text="does sickle cell raise the risk?"))
    assert text_of(messages).startswith("Avascular necrosis (AVN)")
    assert "sickle cell disease" in text_of(messages)
    offered = button_payloads(messages)
    assert len(offered) == 5 and '/ask_cause{"cause": "avascular_necrosis"}' not in offered


def test_a_drug_question_never_gets_a_dose():
    text = text_of(answer(tracker("ask_treatment", {"treatment": "nsaids"}, text="what does naproxen do?"))[0])
    assert text.startswith("The article lists anti-inflammatory medicines (NSAIDs)") and "no doses" in text
    assert not any(unit in text for unit in ("mg", "milligram", "tablet"))


def test_advanced_treatment_lists_the_advanced_options():
    messages, _ = answer(tracker("ask_advanced_treatment"))
    assert "core decompression" in text_of(messages)
    assert '/ask_advanced_treatment{"treatment": "eswt"}' in button_payloads(messages)


# --- follow-ups and several questions --------------------------------------------------------


def test_and_the_hip_after_a_knee_shoe_answer_answers_for_the_hip():
    messages, events = answer(tracker("inform", {"location": "hip"}, text="and the hip?", topic="shoes"))
    assert "Asics Gel-Nimbus 26" in text_of(messages)
    assert not [e for e in events if e.get("name") == "topic"], "the topic stays shoes: nothing to set"


def test_stress_fracture_after_an_overuse_timeline_gives_its_timeline():
    messages, _ = answer(tracker("inform", {"cause": "stress_fracture"}, topic="recovery"))
    assert "3–6 months" in text_of(messages)


def test_a_value_the_previous_topic_cannot_use_picks_its_own_topic():
    messages, events = answer(tracker("inform", {"modality": "ct"}, topic="shoes"))
    assert answers_of(messages) == ["imaging.ct"]
    assert SlotSet("topic", "diagnosis") in events


def test_several_questions_in_one_message_are_answered_in_order():
    text = "what causes it and how long does it take to heal?"
    parts = [
        {"text": "what causes it", "start": 0, "end": 14, "intent": {"name": "ask_cause", "confidence": 0.9}},
        {"text": "how long does it take to heal?", "start": 19, "end": 49,
         "intent": {"name": "ask_recovery_time", "confidence": 0.8}},
    ]  # fmt: skip
    messages, events = answer(tracker("ask_cause", text=text, parts=parts))
    assert answers_of(messages) == ["causes", "recovery"]
    assert SlotSet("topic", "recovery") in events  # the last question asked back is the one awaited


def test_a_named_item_is_answered_even_when_the_classifier_was_unsure():
    messages, _ = answer(tracker("nlu_fallback", {"treatment": "nsaids"}, text="naproxen??"))
    assert answers_of(messages) == ["treatment.nsaids"]


def test_unsure_with_nothing_named_offers_the_likeliest_answers():
    t = tracker("nlu_fallback", text="the thing about the stuff")
    t.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "ask_cause", "confidence": 0.25},
        {"name": "ask_recovery_time", "confidence": 0.2},
        {"name": "faq_walking", "confidence": 0.18},
    ]
    messages, _ = answer(t)
    assert answers_of(messages) == ["clarify"]
    assert button_payloads(messages) == ["/ask_cause", "/ask_recovery_time", "/faq_walking"]


# --- the choice form: a typed answer to the assistant's question -----------------------------


def reply_to_question(text: str, intent: str = "inform", entities: dict[str, str] | None = None, **kwargs: Any):
    """action_answer after the choice form took `text` as the reply to the assistant's question."""
    t = tracker(intent, entities, text=text, choice=text, **kwargs)
    return answer(t)


@pytest.mark.parametrize(
    ("text", "entities", "topic", "expected"),
    [
        ("left knee", {"location": "knee"}, "shoes", "shoes.knee"),
        ("it's the heel bone I think", {"location": "calcaneus"}, "shoes", "shoes.foot"),
        ("doc said overuse", {"cause": "overuse"}, "recovery", "recovery.overuse"),
        ("the second one", None, "causes", "causes.stress_fracture"),
        ("last one", None, "diagnosis", "imaging.ultrasound"),
        ("the one from steroids", {"cause": "medication"}, "causes", "causes.medication"),
        ("inflamatory arthritis", None, "recovery", "recovery.inflammatory_arthritis"),
    ],
)
def test_a_typed_answer_is_read_as_the_answer(text, entities, topic, expected):
    messages, events = reply_to_question(text, entities=entities, topic=topic)
    assert answers_of(messages) == [expected]
    assert SlotSet("choice", None) in events


def test_a_reply_that_asks_something_else_is_answered_as_that_question():
    messages, _ = reply_to_question(
        "how long does knee BME take to heal?", "ask_recovery_time", {"location": "knee"}, topic="shoes"
    )
    assert answers_of(messages) == ["recovery"]


def test_small_talk_in_reply_to_the_question_is_answered_not_ignored():
    messages, _ = reply_to_question("thanks", "thank", topic="shoes")
    assert answers_of(messages) == ["utter_thank"]


def test_the_choice_form_takes_any_reply_but_a_warning_sign_the_symptom_check_or_erasure():
    mapping = DOMAIN["slots"]["choice"]["mappings"][0]
    assert mapping["type"] == "from_text"
    assert set(mapping["not_intent"]) == {"red_flag", "symptom_check", "delete_conversation"}
    assert mapping["conditions"] == [{"active_loop": "choice_form", "requested_slot": "choice"}]


def test_the_answer_and_a_question_beside_it_are_both_answered():
    parts = [
        {"text": "hip", "start": 0, "end": 3, "intent": {"name": "inform", "confidence": 0.9}},
        {"text": "can I still swim?", "start": 6, "end": 23, "intent": {"name": "myth_total_rest", "confidence": 0.9}},
    ]
    t = tracker("inform", {"location": "hip"}, text="hip - can I still swim?", parts=parts, topic="shoes")
    t.latest_message["entities"][0]["end"] = 3
    t.slots["choice"] = "hip - can I still swim?"
    messages, events = answer(t)
    assert answers_of(messages) == ["shoes.hip", "myths.total_rest"]
    assert SlotSet("choice", None) in events


# --- symptom check --------------------------------------------------------------------------


def form_answer(text: str, intent: str, red_flags: dict[str, list[str]] | None) -> tuple[list, dict]:
    """The form's validation of a fever answer, with the assessment Rasa's NLU put in the parse."""
    t = tracker(intent, text=text, active_loop="symptom_check_form", requested_slot="rf_fever")
    if red_flags is not None:
        t.latest_message["red_flags"] = red_flags
    dispatcher = CollectingDispatcher()
    slots = asyncio.run(actions.ValidateSymptomCheckForm().validate_rf_fever(text, dispatcher, t, DOMAIN))
    return dispatcher.messages, slots


def test_a_described_sign_in_a_free_text_answer_counts_as_yes():
    reported = {"categories": ["fever"], "negated": [], "mentioned": ["fever"]}
    messages, slots = form_answer("I'm burning up", "inform", reported)
    assert slots == {"rf_fever": True} and messages == []


@pytest.mark.parametrize("text", ["no temperature at all", "nope", "no it's just an ache", "all fine"])
def test_a_no_counts_as_no_without_asking_again(text):
    negated = {"categories": [], "negated": ["fever"], "mentioned": ["fever"]} if "temperature" in text else {}
    messages, slots = form_answer(text, "inform", negated)
    assert slots == {"rf_fever": False} and messages == []


def test_not_sure_counts_as_yes():
    assert form_answer("not sure", "inform", {})[1] == {"rf_fever": True}


def test_an_answer_that_is_neither_is_asked_again():
    messages, slots = form_answer(
        "what shoes should I buy", "ask_shoes", {"categories": [], "negated": [], "mentioned": []}
    )
    assert slots == {"rf_fever": None} and text_of(messages) == replies.ANSWER_YES_OR_NO


def test_the_message_that_started_the_check_is_never_read_as_an_answer():
    t = tracker("symptom_check", text="is BME an emergency?", requested_slot="rf_weight")  # form not active yet
    dispatcher = CollectingDispatcher()
    slots = asyncio.run(actions.ValidateSymptomCheckForm().validate_rf_weight("x", dispatcher, t, DOMAIN))
    assert slots == {} and dispatcher.messages == []


def test_each_question_of_the_check_has_yes_no_and_not_sure_buttons():
    for action in (actions.ActionAskRfWeight(), actions.ActionAskRfFever(), actions.ActionAskRfSwelling()):
        messages, _ = run(action, tracker("affirm"))
        assert [b["title"] for b in messages[0]["buttons"]] == ["Yes", "No", "Not sure"]
    question = run(actions.ActionAskRfWeight(), tracker("affirm"))[0][0]["text"]
    assert "bear weight" in question


def test_the_check_ends_with_the_urgent_response_on_any_yes_and_the_all_clear_on_all_no():
    yes = tracker("affirm", rf_weight=False, rf_fever=True, rf_swelling=None, rf_redness=None)
    assert answers_of(run(actions.ActionSymptomCheckResult(), yes)[0]) == ["utter_urgent_care"]
    no = tracker("deny", rf_weight=False, rf_fever=False, rf_swelling=False, rf_redness=False)
    assert answers_of(run(actions.ActionSymptomCheckResult(), no)[0]) == ["symptom_check.clear"]


def test_a_question_beside_a_no_in_the_check_is_answered_and_the_check_goes_on():
    text = "no. also how long does it take to heal?"
    parts = [
        {"text": "no.", "start": 0, "end": 3, "intent": {"name": "deny", "confidence": 0.9}},
        {
            "text": "also how long does it take to heal?",
            "start": 4,
            "end": len(text),
            "intent": {"name": "ask_recovery_time", "confidence": 0.9},
        },
    ]
    t = tracker("deny", text=text, parts=parts, active_loop="symptom_check_form", requested_slot="rf_fever")
    dispatcher = CollectingDispatcher()
    slots = asyncio.run(actions.ValidateSymptomCheckForm().validate_rf_fever(text, dispatcher, t, DOMAIN))
    assert slots == {"rf_fever": False} and answers_of(dispatcher.messages) == ["recovery"]
    # after the last question, the question is answered after the all-clear
    done = tracker("deny", text=text, parts=parts, rf_weight=False, rf_fever=False, rf_swelling=False, rf_redness=False)
    assert answers_of(run(actions.ActionSymptomCheckResult(), done)[0]) == ["symptom_check.clear", "recovery"]
    # a yes is urgent care and nothing else
    yes = tracker("affirm", text="yes. how long does it take to heal?", parts=parts, rf_fever=True)
    assert answers_of(run(actions.ActionSymptomCheckResult(), yes)[0]) == ["utter_urgent_care"]


def test_buttons_send_messages_the_assistant_understands():
    """Every button payload is an intent of the domain, with entities of the domain."""
    messages, _ = answer(tracker("ask_cause"))
    intents, entities = set(DOMAIN["intents"]), set(DOMAIN["entities"])
    for payload in button_payloads(messages):
        name, _, data = payload.removeprefix("/").partition("{")
        assert name in intents
        assert set(json.loads("{" + data) if data else {}) <= entities
