"""The symptom check: the article's warning signs, asked one at a time.

Answers may be buttons (yes/no) or free text. Anything uncertain counts as a yes, because a
false alarm is cheaper than a missed emergency: "not sure", "maybe a bit", or a description
that the red-flag detector recognises ("it's a little puffy").

The detector runs in Rasa's NLU (bot/nlu/red_flag_override.py), which puts its assessment in
the parse result under `RED_FLAGS_KEY`; this module only reads it. So the action server, which
imports this module, needs no spaCy: that keeps it at about 40 MB instead of about 480 MB.
"""

from __future__ import annotations

import re
from typing import Any

# The parse result's key for the red-flag assessment (`Assessment.as_parse_data` in
# bot/red_flags.py): {"categories": reported signs, "negated": denied, "mentioned": any,
# "past": over, "hypothetical": imagined}.
RED_FLAGS_KEY = "red_flags"

# The form's slots, in the order they are asked, and the warning sign each one is about.
QUESTIONS = {
    "rf_weight": "weight",
    "rf_fever": "fever",
    "rf_swelling": "swelling",
    "rf_redness": "redness",
}

_UNCERTAIN = re.compile(
    r"\b(not sure|unsure|don'?t know|dunno|no idea|can'?t tell|maybe|possibly|perhaps|might|"
    r"probably|i think so|kind of|kinda|sort of|a bit|a little|slightly|sometimes)\b"
)


def interpret_answer(text: str, intent: str | None, red_flags: dict[str, Any] | None) -> bool | None:
    """True for yes (or unsure), False for a clear no, None when the answer says neither.
    `red_flags` is the answer's assessment from the parse result (None for a button, which
    skips the NLU)."""
    reported = (red_flags or {}).get("categories") or []
    mentioned = (red_flags or {}).get("mentioned") or []
    if intent in ("affirm", "red_flag") or reported:
        return True
    if _UNCERTAIN.search(text.lower()):
        return True
    if intent == "deny" or mentioned:  # mentioned, not reported: denied ("no fever at all"), asked, over
        return False
    return None


def any_yes(answers: dict) -> bool:
    return any(answers.get(slot) is True for slot in QUESTIONS)
