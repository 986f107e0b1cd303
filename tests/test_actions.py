"""Every custom action, run the way the action server runs it, on trackers a chat would make."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import actions
from bot import replies

ROOT = Path(__file__).resolve().parents[1]
SLOTS = ("location", "cause", "modality", "treatment", "topic")


def tracker(intent: str, entities: dict[str, str] | None = None, **slots: Any) -> Tracker:
    """A tracker as Rasa sends it: slots already filled from this message's entities."""
    entities = entities or {}
    filled = {name: None for name in SLOTS} | slots | entities
    latest = {
        "intent": {"name": intent, "confidence": 0.99},
        "entities": [{"entity": k, "value": v} for k, v in entities.items()],
        "text": "…",
    }
    return Tracker("user", filled, latest, [], False, None, {}, "action_listen")


def run(action, t: Tracker) -> tuple[list[dict[str, Any]], list]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, events


def only_text(messages: list[dict[str, Any]]) -> str:
    assert len(messages) == 1
    return messages[0]["text"]


def button_values(message: dict[str, Any]) -> list[dict[str, str]]:
    return [json.loads(b["payload"].removeprefix("/inform")) for b in message.get("buttons") or []]


# --- session start -------------------------------------------------------------------------


def test_session_start_welcomes_and_gives_the_disclaimer():
    messages, events = run(actions.ActionSessionStart(), tracker("session_start"))
    assert "bone marrow edema (BME) assistant" in messages[0]["text"]
    assert "not medical advice" in messages[1]["text"]
    assert events[0] == SessionStarted()
    assert events[-1]["name"] == "action_listen"


def test_session_start_leaves_the_disclaimer_to_a_chat_that_shows_it_in_its_header():
    web = tracker("session_start", session_started_metadata={"disclaimer_in_header": True})
    messages, events = run(actions.ActionSessionStart(), web)
    assert messages == []  # the web chat's greeting is its one opening bubble
    assert events[0] == SessionStarted()
    for metadata in ({}, {"disclaimer_in_header": "yes"}, {"other": True}):
        messages, _ = run(actions.ActionSessionStart(), tracker("session_start", session_started_metadata=metadata))
        assert "not medical advice" in messages[1]["text"]


# --- fixed topics ---------------------------------------------------------------------------


def answer_topic_intents() -> list[str]:
    rules = yaml.safe_load((ROOT / "data" / "rules.yml").read_text())["rules"]
    return [r["steps"][0]["intent"] for r in rules if r["steps"][1].get("action") == "action_answer_topic"]


@pytest.mark.parametrize("intent", answer_topic_intents())
def test_every_topic_routed_to_the_knowledge_file_has_an_answer(intent):
    messages, _ = run(actions.ActionAnswerTopic(), tracker(intent))
    assert len(messages) == 1 and messages[0]["text"] != replies.NOT_IN_ARTICLE
    assert 40 < len(messages[0]["text"]) < 700, "a chat bubble, not a page"


def test_a_topic_the_knowledge_file_lacks_says_the_article_is_silent():
    messages, _ = run(actions.ActionAnswerTopic(), tracker("ask_vitamin_doses"))
    assert [m["text"] for m in messages] == [replies.NOT_IN_ARTICLE]


def test_red_flag_question_says_to_seek_immediate_evaluation():
    text = only_text(run(actions.ActionAnswerTopic(), tracker("ask_red_flags"))[0])
    assert "immediate medical evaluation" in text
    for sign in ("weight", "fever", "swelling", "redness"):
        assert sign in text


# --- shoes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "model"),
    [
        ("knee", "Hoka Bondi 9"),
        ("femoral_condyle", "Brooks Glycerin 22"),
        ("tibial_plateau", "Hoka Bondi 9"),
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
    messages, events = run(actions.ActionRecommendShoes(), tracker("ask_shoes", {"location": location}))
    assert model in only_text(messages)
    assert SlotSet("topic", "shoes") in events


def test_shoes_without_a_location_asks_where_with_buttons():
    messages, _ = run(actions.ActionRecommendShoes(), tracker("ask_shoes"))
    assert "Where is your BME?" in messages[0]["text"]
    assert button_values(messages[0]) == [{"location": loc} for loc in ("knee", "ankle", "foot", "hip")]


def test_shoes_for_a_place_the_table_lacks_says_so_and_offers_the_rows():
    messages, _ = run(actions.ActionRecommendShoes(), tracker("ask_shoes", {"location": "shoulder"}))
    assert "not the shoulder" in messages[0]["text"]
    assert len(button_values(messages[0])) == 4


def test_the_thigh_bone_is_asked_about_rather_than_guessed():
    messages, _ = run(actions.ActionRecommendShoes(), tracker("ask_shoes", {"location": "femur"}))
    assert button_values(messages[0]) == [{"location": "hip"}, {"location": "knee"}]


# --- recovery, causes, imaging, treatment --------------------------------------------------


@pytest.mark.parametrize(("cause", "expected"), [("overuse", "4–8 weeks"), ("stress_fracture", "3–6 months")])
def test_recovery_timeline_by_cause(cause, expected):
    messages, events = run(actions.ActionRecoveryTime(), tracker("ask_recovery_time", {"cause": cause}))
    text = only_text(messages)
    assert expected in text and "no label" in text  # the inferred label stays visible
    assert SlotSet("topic", "recovery") in events


def test_recovery_for_a_cause_without_a_timeline_says_the_article_gives_none():
    text = only_text(run(actions.ActionRecoveryTime(), tracker("ask_recovery_time", {"cause": "osteoarthritis"}))[0])
    assert "no specific timeline" in text and "6 weeks to 6 months" in text


def test_recovery_without_a_cause_asks_for_it():
    messages, _ = run(actions.ActionRecoveryTime(), tracker("ask_recovery_time"))
    assert {"cause": "stress_fracture"} in button_values(messages[0])


def test_cause_overview_and_detail():
    overview = run(actions.ActionExplainCause(), tracker("ask_cause"))[0][0]
    assert "over 80%" in overview["text"] and len(button_values(overview)) == 6
    detail = only_text(run(actions.ActionExplainCause(), tracker("ask_cause", {"cause": "avascular_necrosis"}))[0])
    assert "femoral head" in detail and "sickle cell" in detail


@pytest.mark.parametrize(
    ("modality", "expected"), [("mri", "gold standard"), ("ultrasound", "not edema inside the bone"), ("ct", "AVN")]
)
def test_imaging_by_modality(modality, expected):
    text = only_text(run(actions.ActionExplainImaging(), tracker("ask_imaging", {"modality": modality}))[0])
    assert expected in text


def test_a_drug_question_never_gets_a_dose():
    text = only_text(run(actions.ActionExplainTreatment(), tracker("ask_treatment", {"treatment": "nsaids"}))[0])
    assert "ibuprofen" in text and "no doses" in text
    assert not any(unit in text for unit in ("mg", "milligram", "tablet"))


def test_advanced_treatment_lists_the_advanced_options():
    message = run(actions.ActionExplainTreatment(), tracker("ask_advanced_treatment"))[0][0]
    assert "core decompression" in message["text"] and "ice" not in message["text"].lower().split()
    assert {"treatment": "eswt"} in button_values(message)


# --- follow-ups -----------------------------------------------------------------------------


def test_and_the_hip_after_a_knee_shoe_answer_answers_for_the_hip():
    t = tracker("inform", {"location": "hip"}, topic="shoes")
    messages, events = run(actions.ActionFollowUp(), t)
    assert "Asics Gel-Nimbus 26" in only_text(messages)
    assert SlotSet("topic", "shoes") in events


def test_stress_fracture_after_an_overuse_timeline_gives_its_timeline():
    t = tracker("inform", {"cause": "stress_fracture"}, topic="recovery")
    assert "3–6 months" in only_text(run(actions.ActionFollowUp(), t)[0])


def test_a_value_the_previous_topic_cannot_use_picks_its_own_topic():
    t = tracker("inform", {"modality": "ct"}, topic="shoes", location="knee")
    messages, events = run(actions.ActionFollowUp(), t)
    assert "CT scan" in only_text(messages)
    assert SlotSet("topic", "imaging") in events


def test_a_follow_up_naming_nothing_asks_what_it_is_about():
    messages, events = run(actions.ActionFollowUp(), tracker("inform", topic="shoes"))
    assert messages[0]["text"] == replies.ASK_WHAT_ABOUT and events == []


# --- symptom check --------------------------------------------------------------------------


def form_answer(text: str, intent: str, red_flags: dict[str, list[str]] | None) -> tuple[list, dict]:
    """The form's validation of a fever answer, with the assessment Rasa's NLU put in the parse."""
    t = tracker(intent)
    t.latest_message |= {"text": text} | ({"red_flags": red_flags} if red_flags is not None else {})
    dispatcher = CollectingDispatcher()
    slots = asyncio.run(actions.ValidateSymptomCheckForm().validate_rf_fever(text, dispatcher, t, {}))
    return dispatcher.messages, slots


def test_a_described_sign_in_a_free_text_answer_counts_as_yes():
    messages, slots = form_answer(
        "I'm burning up", "inform", {"categories": ["fever"], "negated": [], "mentioned": ["fever"]}
    )
    assert slots == {"rf_fever": True} and messages == []


def test_a_denied_sign_counts_as_no_without_asking_again():
    negated = {"categories": [], "negated": ["fever"], "mentioned": ["fever"]}
    messages, slots = form_answer("no temperature at all", "inform", negated)
    assert slots == {"rf_fever": False} and messages == []


def test_an_answer_that_is_neither_is_asked_again():
    messages, slots = form_answer(
        "what shoes should I buy", "ask_shoes", {"categories": [], "negated": [], "mentioned": []}
    )
    assert slots == {"rf_fever": None} and only_text(messages) == replies.ANSWER_YES_OR_NO


def test_a_yes_button_needs_no_assessment():
    assert form_answer("/affirm", "affirm", None)[1] == {"rf_fever": True}
