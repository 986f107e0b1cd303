"""What every chat channel does before and after Rasa handles a message.

- Bad input gets a clear answer instead of odd behaviour: a sender id and a message must be
  non-empty text of bounded length; control characters are removed.
- One sender cannot flood the assistant: at most a few of their messages are handled at once,
  the rest are refused (HTTP 429), so other conversations are not slowed down.
- The user is never left in silence: if handling takes longer than `REPLY_TIMEOUT_S` (a slow
  action server; Rasa would wait five minutes) or produces no message at all (the action
  server is down: Rasa logs the error and says nothing), the user gets an apology that still
  points to urgent care for warning signs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage

from bot import metrics

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
MAX_IN_FLIGHT_PER_SENDER = 3
REPLY_TIMEOUT_S = 12.0

APOLOGY = (
    "Sorry, I can't answer that right now. Please try again in a moment. If you have sudden, "
    "severe bone pain, can't put weight on the limb, or have fever, swelling or redness over the "
    "bone, please seek immediate medical evaluation."
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class BadInputError(ValueError):
    """A message or sender the assistant cannot take; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
        metrics.refused("too_long" if status == 413 else "bad_input")  # every one is a refusal


def clean_message(value: Any) -> str:
    """The message as text to understand, or BadInputError saying what is wrong with it."""
    if not isinstance(value, str):
        raise BadInputError("'message' must be a string")
    if len(value) > MAX_MESSAGE_CHARS:
        raise BadInputError(f"'message' is longer than {MAX_MESSAGE_CHARS} characters", status=413)
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", value)).strip()
    if not text:
        raise BadInputError("'message' is empty")
    return text


def clean_sender(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInputError("'sender' must be a non-empty string identifying the conversation")
    if len(value) > MAX_SENDER_CHARS or _CONTROL.search(value):
        raise BadInputError(f"'sender' must be at most {MAX_SENDER_CHARS} printable characters")
    return value


class SenderLimiter:
    """Counts each sender's messages in progress, refusing more than `limit` at once."""

    def __init__(self, limit: int = MAX_IN_FLIGHT_PER_SENDER):
        self.limit = limit
        self._in_flight: Counter[str] = Counter()

    def try_acquire(self, sender: str) -> bool:
        if self._in_flight[sender] >= self.limit:
            metrics.refused("busy")
            return False
        self._in_flight[sender] += 1
        return True

    def release(self, sender: str) -> None:
        self._in_flight[sender] -= 1
        if self._in_flight[sender] <= 0:
            del self._in_flight[sender]


async def handle_with_reply(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    message: UserMessage,
    replies_sent: Callable[[], int],
    apologise: Callable[[str], Awaitable[None]],
    timeout_s: float = REPLY_TIMEOUT_S,
) -> None:
    """Lets Rasa handle the message; apologises if that is too slow or says nothing."""
    try:
        await asyncio.wait_for(on_new_message(message), timeout=timeout_s)
    except asyncio.TimeoutError:
        metrics.failed("timeout")
        logger.error("No reply to %s within %.0f s (is the action server slow?)", message.sender_id, timeout_s)
    except Exception:  # Rasa normally logs and swallows its own errors; never leave the user hanging
        logger.exception("Handling a message from %s failed", message.sender_id)
    if replies_sent() == 0:
        metrics.failed("apology")
        await apologise(APOLOGY)
