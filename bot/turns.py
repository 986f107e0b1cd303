"""What a turn of a conversation was, read from the events Rasa stores (plain dictionaries).

One reading for everyone who looks back at conversations: the metrics count turns as they are
saved (bot/metrics.py), the review page lists the ones worth a look (tools/review/), and the
conversation evaluation scores them (tools/evaluate_conversations.py).

- A bot bubble's answer id (docs/answers.md): the `answer` our actions put in its metadata, or
  the one a domain response Rasa says itself stands for (`utter_action`).
- Whether a message went to urgent care, and which of the two safety layers sent it there: the
  classifier's `red_flag` intent, the deterministic detector (the parse data's `red_flags`), or
  both (bot/nlu/red_flag_override.py).
- The classifier's likeliest intents with their confidences, without the `nlu_fallback` that
  Rasa's FallbackClassifier puts first when it is unsure.
- A feedback event: the 👍 or 👎 a user gave one bubble (bot/feedback.py stores it as the
  `feedback` slot, which no policy reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.feedback import RATINGS
from bot.names import FALLBACK_INTENT, FEEDBACK_SLOT, RED_FLAG_INTENT, RED_FLAGS_KEY

URGENT = "urgent"
CLARIFY = "clarify"  # "did you mean": the assistant was unsure and offered its likeliest answers
OUT_OF_SCOPE = "out_of_scope"
FEEDBACK = "feedback"  # the short thanks for a 👍 or 👎

# Domain responses Rasa says itself, by answer id.
RESPONSE_ANSWERS = {
    "utter_greet": "greet",
    "utter_goodbye": "goodbye",
    "utter_thank": "thank",
    "utter_bot_challenge": "bot_challenge",
    "utter_help": "help",
    "utter_out_of_scope": OUT_OF_SCOPE,
    "utter_anything_else": "anything_else",
    "utter_urgent_care": URGENT,
    "utter_ask_rf_weight": "symptom_check.weight",
    "utter_ask_rf_fever": "symptom_check.fever",
    "utter_ask_rf_swelling": "symptom_check.swelling",
    "utter_ask_rf_redness": "symptom_check.redness",
    "utter_ask_erasure_answer": "privacy.confirm",
    "utter_ask_rephrase": CLARIFY,
    "utter_default": CLARIFY,
}
# Bubbles that frame an answer rather than answer anything: not counted as answers.
FRAMING = frozenset({"welcome", "disclaimer_start", "symptom_check.intro", "utter_symptom_check_intro"})

# The safety layers that can send a message to urgent care.
CLASSIFIER = "classifier"
DETECTOR = "detector"
BOTH = "both"

# Below this, the classifier's likeliest intent is worth a reviewer's look. Rasa's
# FallbackClassifier (config.yml) gives up below 0.5; just above it the answer is a guess too.
LOW_CONFIDENCE = 0.6


def answer_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The answer id of one bot bubble, None for a framing bubble. A bubble of neither our
    actions nor a known response is named by its response, or `unknown`."""
    metadata = metadata or {}
    answer = metadata.get("answer") or RESPONSE_ANSWERS.get(metadata.get("utter_action") or "")
    answer = answer or metadata.get("utter_action") or "unknown"
    return None if answer in FRAMING else str(answer)


def classifier_ranking(parse_data: Mapping[str, Any] | None, length: int = 3) -> list[tuple[str, float]]:
    """The classifier's likeliest intents, best first, without Rasa's `nlu_fallback`."""
    ranking = (parse_data or {}).get("intent_ranking") or []
    ranked = [
        (str(entry["name"]), float(entry.get("confidence") or 0.0))
        for entry in ranking
        if isinstance(entry, Mapping) and entry.get("name") and entry["name"] != FALLBACK_INTENT
    ]
    return ranked[:length]


def is_low_confidence(parse_data: Mapping[str, Any] | None, threshold: float = LOW_CONFIDENCE) -> bool:
    """True when the classifier read a typed message and was not sure of it. A button's
    payload ("/ask_cause") is not classified, so it never is."""
    ranking = classifier_ranking(parse_data, 1)
    if not ranking or RED_FLAGS_KEY not in (parse_data or {}):
        return False
    return ranking[0][1] < threshold


def red_flag_layer(parse_data: Mapping[str, Any] | None) -> str | None:
    """Which layer sent the message to urgent care (`classifier`, `detector` or `both`), or
    None when it did not go there, or came as a button's payload rather than a description."""
    parse_data = parse_data or {}
    intent = (parse_data.get("intent") or {}).get("name")
    assessment = parse_data.get(RED_FLAGS_KEY)
    if intent != RED_FLAG_INTENT or not isinstance(assessment, Mapping):
        return None
    detector = bool(assessment.get("categories"))
    top = classifier_ranking(parse_data, 1)
    classifier = bool(top) and top[0][0] == RED_FLAG_INTENT
    if detector and classifier:
        return BOTH
    return DETECTOR if detector else CLASSIFIER


@dataclass(frozen=True)
class Feedback:
    """A 👍 or 👎 on one bot bubble, as stored in the conversation."""

    rating: str  # "up" or "down"
    bot_at: float  # the rated bubble's timestamp
    answer: str | None  # the rated bubble's answer id


def feedback_of(event: Mapping[str, Any]) -> Feedback | None:
    """The feedback a stored event records, or None for any other event."""
    if event.get("event") != "slot" or event.get("name") != FEEDBACK_SLOT:
        return None
    value = event.get("value")
    if not isinstance(value, Mapping) or value.get("rating") not in RATINGS:
        return None
    at = value.get("at")
    if not isinstance(at, (int, float)):
        return None
    answer = value.get("answer")
    return Feedback(str(value["rating"]), float(at), str(answer) if answer else None)
