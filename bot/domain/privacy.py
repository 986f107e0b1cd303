"""Erasure on request, the part that is plain Python: which answer to "Delete this whole
conversation?" deletes it. Only a clear yes does: the "Yes, delete it" button (`/affirm`), or a
typed yes without a doubt or a no in it. "No", "not sure", a question, anything else keeps the
conversation (docs/privacy.md). The actions say the result; the tracker store deletes."""

from __future__ import annotations

import re

from bot.names import ERASED_ANSWER

DELETED_ANSWER = ERASED_ANSWER  # the web chat keys on it to forget its copy of the conversation
KEPT_ANSWER = "privacy.kept"
CONFIRM_ANSWER = "privacy.confirm"  # said by Rasa as utter_ask_erasure_answer

_YES = re.compile(
    r"^\W*(yes|yeah|yep|yup|ya|yh|sure|ok|okay|confirm(ed)?|go ahead|do it|please do|delete it|"
    r"delete everything|erase it|absolutely|definitely)\b",
    re.IGNORECASE,
)
_DOUBT = re.compile(
    r"\b(no|not|nope|don'?t|do not|wait|hold on|maybe|unsure|never ?mind|cancel|keep|stop)\b",
    re.IGNORECASE,
)


def confirms_erasure(text: str, intent: str | None) -> bool:
    """True only for a clear yes to deleting the conversation."""
    text = text.strip()
    if text == "/affirm":  # the button
        return True
    if _DOUBT.search(text) or "?" in text:
        return False
    return intent == "affirm" or bool(_YES.match(text))
