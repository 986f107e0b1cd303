"""The symptom check: the article's warning signs, asked one at a time.

Answers may be buttons (yes/no) or free text. Anything uncertain counts as a yes, because a
false alarm is cheaper than a missed emergency: "not sure", "maybe a bit", or a description
that the red-flag detector recognises ("it's a little puffy").
"""

from __future__ import annotations

import re

from bot.red_flags import detector

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


def interpret_answer(text: str, intent: str | None) -> bool | None:
    """True for yes (or unsure), False for a clear no, None when the answer says neither."""
    assessment = detector().assess(text)
    if intent in ("affirm", "red_flag") or assessment.categories:
        return True
    if _UNCERTAIN.search(text.lower()):
        return True
    if intent == "deny" or (assessment.findings and not assessment.categories):
        return False
    return None


def any_yes(answers: dict) -> bool:
    return any(answers.get(slot) is True for slot in QUESTIONS)
