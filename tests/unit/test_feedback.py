"""👍 / 👎: which bubbles offer it, the payload its buttons send, and how a stored turn is read
(bot/domain/feedback.py, bot/turns.py, the actions' `say`)."""

from __future__ import annotations

import json

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import say
from bot.domain import feedback
from bot.domain.replies import reply
from bot.turns import (
    BOTH,
    CLASSIFIER,
    DETECTOR,
    Feedback,
    answer_of,
    classifier_ranking,
    feedback_of,
    is_low_confidence,
    red_flag_layer,
)

AT = 1796034480.2930567


def test_a_payload_names_the_rating_and_the_bubble_and_reads_back_exactly():
    for rating in feedback.RATINGS:
        payload = feedback.payload(rating, AT)
        assert payload.startswith("/feedback{") and " " not in payload  # one word: Telegram reads commands
        assert len(payload.encode()) <= 64  # a Telegram button's callback data
        assert feedback.parse(payload) == feedback.Rating(rating, AT)  # the float survives exactly


@pytest.mark.parametrize(
    "text",
    [
        "/feedback",
        "/feedback{}",
        '/feedback{"rating":"meh","at":1}',
        '/feedback{"rating":"up"}',
        '/feedback{"rating":"up","at":"1"}',
        '/feedback{"rating":"up","at":true}',
        '/feedback{"rating":"up","at":NaN}',
        "/feedback{not json",
        '/feedback["up", 1]',
        "feedback up",
        "/ask_cause",
        "thanks, that was helpful",
    ],
)
def test_anything_else_is_not_feedback(text):
    assert feedback.parse(text) is None


def test_the_last_bubble_of_an_answer_offers_it_and_nothing_that_asks_or_frames_does():
    assert feedback.rated("faq.walking") and feedback.rated("causes.overuse") and feedback.rated("definition")
    assert not feedback.rated("causes", asks=True)  # "Which one is it?": the next click says enough
    assert not feedback.rated("welcome")
    assert not feedback.rated("symptom_check.clear")
    message = {"timestamp": AT, "answer": "faq.walking", feedback.RATE_KEY: True}
    assert feedback.offer(message) == {r: feedback.payload(r, AT) for r in feedback.RATINGS}
    assert feedback.offer({"timestamp": AT, "utter_action": "utter_out_of_scope"}) is not None
    assert feedback.offer({"timestamp": AT, "utter_action": "utter_urgent_care"}) is None
    assert feedback.offer({"timestamp": AT, "answer": "clarify"}) is None
    assert feedback.offer({"answer": "faq.walking", feedback.RATE_KEY: True}) is None  # no bubble to name


def said(answer: str) -> list[dict]:
    dispatcher = CollectingDispatcher()
    say(dispatcher, reply(answer))
    return dispatcher.messages


def test_say_marks_only_the_last_bubble_of_an_answer_that_may_be_rated():
    bubbles = said("experts")  # two bubbles
    assert len(bubbles) == 2
    assert [m.get(feedback.RATE_KEY) for m in bubbles] == [None, True]
    assert all(m.get(feedback.RATE_KEY) is None for m in said("causes"))  # asks which cause
    assert all(m.get(feedback.RATE_KEY) is None for m in said("welcome"))


def ranking(*pairs: tuple[str, float]) -> list[dict]:
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def test_the_answer_id_of_a_bubble():
    assert answer_of({"answer": "faq.walking"}) == "faq.walking"
    assert answer_of({"utter_action": "utter_urgent_care"}) == "urgent"
    assert answer_of({"utter_action": "utter_out_of_scope"}) == "out_of_scope"
    assert answer_of({"answer": "welcome"}) is None  # framing
    assert answer_of({}) == "unknown"


def test_the_classifiers_ranking_leaves_out_the_fallback_and_low_confidence_needs_a_typed_message():
    ranked = ranking(("nlu_fallback", 0.5), ("inform", 0.31), ("out_of_scope", 0.28))
    parse = {"intent_ranking": ranked, "red_flags": {}}
    assert classifier_ranking(parse) == [("inform", 0.31), ("out_of_scope", 0.28)]
    assert is_low_confidence(parse)
    assert not is_low_confidence({"intent_ranking": ranking(("ask_cause", 0.9)), "red_flags": {}})
    assert not is_low_confidence({"intent_ranking": ranking(("ask_cause", 0.2))})  # a payload: never classified


@pytest.mark.parametrize(
    ("top", "categories", "layer"),
    [("red_flag", ["fever"], BOTH), ("ask_cause", ["fever"], DETECTOR), ("red_flag", [], CLASSIFIER)],
)
def test_the_layer_that_sent_a_message_to_urgent_care(top, categories, layer):
    parse = {
        "intent": {"name": "red_flag", "confidence": 1.0},
        "intent_ranking": ranking(("nlu_fallback", 0.5), (top, 0.4)),
        "red_flags": {"categories": categories},
    }
    assert red_flag_layer(parse) == layer


def test_no_layer_for_a_message_that_did_not_go_to_urgent_care_or_came_as_a_payload():
    assert red_flag_layer({"intent": {"name": "ask_cause"}, "red_flags": {"categories": []}}) is None
    assert red_flag_layer({"intent": {"name": "red_flag"}, "intent_ranking": ranking(("red_flag", 1.0))}) is None


def test_a_stored_feedback_event_reads_back():
    value = {"rating": "down", "at": AT, "answer": "clarify"}
    event = json.loads(json.dumps({"event": "slot", "name": "feedback", "value": value}))
    assert feedback_of(event) == Feedback("down", AT, "clarify")
    assert feedback_of({"event": "slot", "name": "topic", "value": value}) is None
    assert feedback_of({"event": "slot", "name": "feedback", "value": None}) is None  # a slot reset


@pytest.mark.parametrize(
    ("text", "rating"),
    [("👍", "up"), (" 👍🏽 ", "up"), ("👎", "down"), ("👎👎!", "down"), ("👍️", "up")],
)
def test_a_thumb_typed_on_its_own_is_a_rating(text, rating):
    assert feedback.typed(text) == rating


@pytest.mark.parametrize("text", ["👍👎", "👍 thanks", "yes 👍", "thumbs up", "", "🙂"])
def test_a_thumb_with_words_or_both_thumbs_is_no_rating(text):
    assert feedback.typed(text) is None
