"""The symptom check: the article's warning signs, asked one at a time.

Answers may be buttons (yes/no) or free text. Anything uncertain counts as a yes, because a
false alarm is cheaper than a missed emergency: "not sure", "maybe a bit", or a description
that the red-flag detector recognises ("it's a little puffy").

The detector runs in Rasa's NLU (bot/nlu/red_flag_override.py), which puts its assessment in
the parse result under `RED_FLAGS_KEY`; this module only reads it. So the action server, which
imports this module, needs no spaCy, and stays a small process.
"""

from __future__ import annotations

import re
from typing import Any

from bot import names

# The parse result's key for the red-flag assessment (`Assessment.as_parse_data` in
# bot/safety/red_flags.py): {"categories": reported signs, "negated": denied, "mentioned": any,
# "past": over, "hypothetical": imagined}.
RED_FLAGS_KEY = names.RED_FLAGS_KEY

# The form's slots, in the order they are asked, and the warning sign each one is about.
QUESTIONS = {
    "rf_weight": "weight",
    "rf_fever": "fever",
    "rf_swelling": "swelling",
    "rf_redness": "redness",
}

# The knowledge file's answer for each question.
QUESTION_ANSWERS = {slot: f"symptom_check.{sign}" for slot, sign in QUESTIONS.items()}

# Not sure counts as yes: a false alarm is cheaper than a missed emergency.
YES_NO_BUTTONS = [
    {"title": "Yes", "payload": "/affirm"},
    {"title": "No", "payload": "/deny"},
    {"title": "Not sure", "payload": "/affirm"},
]

_UNCERTAIN = re.compile(
    r"\b(not sure|unsure|don'?t know|dunno|no idea|can'?t tell|maybe|possibly|perhaps|might|"
    r"probably|i think so|kind of|kinda|sort of|a bit|a little|slightly|sometimes)\b"
)

_NO = re.compile(r"^\W*(no+|nope|nah|naw|not really|not at all|none|never|negative|nothing like that)\b")
_YES = re.compile(r"^\W*(yes|yeah|yep|yup|yh|ya|aye|definitely|i do\b(?!\s+not)|it is\b(?!\s+not))\b")
_FINE = re.compile(r"\b(fine|all good|normal|ok|okay|nothing)\b")
_NOT_NOW = re.compile(r"\b(not now|not at the moment|not any ?more|not currently|gone now|not since|none now)\b")


def interpret_answer(text: str, intent: str | None, red_flags: dict[str, Any] | None) -> bool | None:
    """True for yes (or unsure), False for a clear no, None when the answer says neither.
    `red_flags` is the answer's assessment from the parse result (None for a button, which
    skips the NLU)."""
    reported = (red_flags or {}).get("categories") or []
    mentioned = (red_flags or {}).get("mentioned") or []
    if intent in ("affirm", names.RED_FLAG_INTENT) or reported:
        return True
    if _UNCERTAIN.search(text.lower()):
        return True
    lowered = text.lower()
    if _YES.search(lowered) or "👍" in text:  # a thumb typed for yes, as in a chat with a friend
        return True
    # Mentioned, not reported: denied ("no fever at all"), asked about, or over.
    if intent == "deny" or mentioned or _NO.search(lowered) or "👎" in text:
        return False
    if _FINE.search(lowered) or _NOT_NOW.search(lowered):  # "all fine", "had one last week but not now"
        return False
    return None


def any_yes(answers: dict) -> bool:
    return any(answers.get(slot) is True for slot in QUESTIONS)
