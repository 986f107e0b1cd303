"""The 👍 / 👎 under an answer: which bubbles offer it, and what its buttons send.

An answer's last bubble offers it (the actions mark that bubble with `rate`), and so does
Rasa's out-of-scope response; greetings, the welcome, "did you mean", the symptom check, the
urgent response and an answer that asks the user to choose (its next click tells enough)
don't. Each button sends a payload in Rasa's button syntax that names the rated bubble by its
timestamp, its id in the conversation:

    /feedback{"rating":"down","at":1796034480.2930567}

bot/feedback.py reads such a message before Rasa would and keeps it in the conversation; it
never becomes a turn of the dialogue. The JSON is compact: a Telegram button carries at most 64
bytes, and Telegram's channel reads a first word that starts with "/" as a command.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "/feedback"
THUMBS_UP = "up"
THUMBS_DOWN = "down"
RATINGS = (THUMBS_UP, THUMBS_DOWN)
# How each button shows, and what a screen reader says for it.
BUTTONS = {THUMBS_UP: ("👍", "Helpful"), THUMBS_DOWN: ("👎", "Not helpful")}

RATE_KEY = "rate"  # bubble metadata: the last bubble of an answer that may be rated
RATED_RESPONSES = frozenset({"utter_out_of_scope"})  # domain responses that may be rated
_NOT_RATED = ("welcome", "symptom_check")  # answer ids (and their items) that are never rated


def rated(answer: str, asks: bool = False) -> bool:
    """Whether an answer of the knowledge file offers 👍 / 👎 under its last bubble."""
    return not asks and answer.split(".")[0] not in _NOT_RATED


def payload(rating: str, at: float) -> str:
    return PREFIX + json.dumps({"rating": rating, "at": at}, separators=(",", ":"))


def offer(message: Mapping[str, Any]) -> dict[str, str] | None:
    """The payloads of 👍 and 👎 under a bubble Rasa is sending (the keyword arguments an
    output channel gets: its metadata and its timestamp), or None when it offers none."""
    at = message.get("timestamp")
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        return None
    if message.get(RATE_KEY) is not True and message.get("utter_action") not in RATED_RESPONSES:
        return None
    return {rating: payload(rating, float(at)) for rating in RATINGS}


@dataclass(frozen=True)
class Rating:
    rating: str  # THUMBS_UP or THUMBS_DOWN
    at: float  # the rated bubble's timestamp


def parse(text: str) -> Rating | None:
    """The rating a message carries, or None when it is not a well-formed feedback payload."""
    if not text.startswith(PREFIX + "{"):
        return None
    try:
        value = json.loads(text[len(PREFIX) :])
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("rating") not in RATINGS:
        return None
    at = value.get("at")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
        return None
    return Rating(str(value["rating"]), float(at))


# A message that is only thumbs: "👍", "👍🏽", "👎👎", "👍 !" (skin tones, a variation selector,
# spaces and "!" allowed around them).
_TYPED = re.compile(r"^\s*(?:(👍|👎)[\U0001F3FB-\U0001F3FF\uFE0F]?[\s!]*)+$")


def typed(text: str) -> str | None:
    """The rating of a thumb typed as a message ("👍", "👎🏼"), as people do in Slack and
    Telegram instead of pressing the button; None for anything else or for both thumbs."""
    thumbs = set(re.findall("👍|👎", text)) if _TYPED.match(text) else set()
    if len(thumbs) != 1:
        return None
    return THUMBS_UP if thumbs == {"👍"} else THUMBS_DOWN


def offers_rating(metadata: Mapping[str, Any]) -> bool:
    """Whether a stored bubble (its metadata) offered 👍 / 👎."""
    return metadata.get(RATE_KEY) is True or metadata.get("utter_action") in RATED_RESPONSES
