"""The one input guard every chat channel hands its messages to: REST, web chat, Slack, Telegram.

A channel reads its platform's protocol (signatures, secret header, retries, button formats)
and then calls `Guard.handle` with who sent what and where replies go. The guard applies the
same rules to all of them:

- **Cleaning and size cap.** A sender id and a message must be non-empty text of bounded
  length; control and direction-override characters are removed. A message over the cap, or
  empty once cleaned, is not handed to Rasa.
- **Per-sender limit.** At most `MAX_IN_FLIGHT_PER_SENDER` of one sender's messages are handled
  at once and at most SENDER_MESSAGES_PER_MINUTE (30) in any minute; the rest are refused, so
  one sender cannot slow down everyone else. With several instances the counts are shared
  through Redis (bot/stores/guard_state.py), so a flood spread over them is still one sender's.
- **Bounded reply time.** If Rasa has not finished within `REPLY_TIMEOUT_S` (a hung action
  server: Rasa would wait five minutes), the turn is abandoned and the user gets an apology.
- **Never silent.** A turn that produced no message (the action server is down: Rasa logs the
  error and says nothing), a refused message and a bad one all get an answer: on the chat
  channels a message in the conversation, over REST an HTTP status with a reason (`Verdict`).

Which delivery ids were seen (Slack's event ids, Telegram's update ids) is remembered in the
same state, so a redelivery reaching any instance is acknowledged without a second answer.

What is logged names senders only by pseudonym and messages only by length (bot/logs.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, Sanic

from bot import logs, metrics, workers
from bot.patches.running_agent import lock_store_of
from bot.stores.guard_state import (
    MAX_IN_FLIGHT_PER_SENDER,
    Admission,
    GuardState,
    Limits,
    guard_state_for,
    in_process_state,
)

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
REPLY_TIMEOUT_S = 12.0

APOLOGY = (
    "Sorry, I can't answer that right now. Please try again in a moment. If you have sudden, "
    "severe bone pain, can't put weight on the limb, or have fever, swelling or redness over the "
    "bone, please seek immediate medical evaluation."
)
ASK_FOR_TEXT = f"Please type a question (at most {MAX_MESSAGE_CHARS} characters)."
BUSY = "One moment: I'm still answering your earlier messages."
TOO_FAST = "You're sending messages very fast. Please wait a minute, then ask again."
REFUSALS = {Admission.BUSY: BUSY, Admission.TOO_FAST: TOO_FAST}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

__all__ = ["MAX_IN_FLIGHT_PER_SENDER", "BadInputError", "Guard", "Verdict", "clean_message", "clean_sender"]


class BadInputError(ValueError):
    """A message or sender the assistant cannot take; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


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


@dataclass(frozen=True)
class Verdict:
    """What became of a message: 200 handled; 400 / 413 bad input; 429 refused by the limit."""

    status: int = 200
    error: str = ""
    retry_after_s: int = 0  # for a refusal by the limit: when trying again makes sense

    @property
    def handled(self) -> bool:
        return self.status == 200


class CountingOutput(OutputChannel):
    """Passes every reply on to the channel's own output, counting them, so the guard knows
    whether the user heard anything. Rasa sends every bot message through `send_response`."""

    def __init__(self, output: OutputChannel) -> None:
        self.output = output
        self.sent = 0

    def name(self) -> str:  # Rasa asks the instance (responses vary per channel)
        return self.output.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent += 1
        await self.output.send_response(recipient_id, message)


class Guard:
    """One channel's guard. Its state is this process's until the server starts, then the one
    that matches the server's lock store (`attach` registers that)."""

    def __init__(self, channel: str, state: GuardState | None = None, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.channel = channel
        self.state = state or in_process_state(Limits.from_settings())
        self.timeout_s = timeout_s
        self.refused: Counter[str] = Counter()  # why messages were refused, for tests and reports

    def attach(self, blueprint: Blueprint) -> None:
        """Takes the state matching the lock store once Rasa has loaded its agent."""

        @blueprint.listener("after_server_start")
        async def choose_state(app: Sanic, _loop: Any) -> None:
            self.state = guard_state_for(lock_store_of(app))

    async def first_worker(self, task: str) -> bool:
        """Whether this process is the first of the server's workers to claim a start-up task
        that must run once per server (setting the Telegram webhook); with one worker, always."""
        return await self.state.first_delivery(f"{self.channel}:once:{task}:{workers.server_id()}")

    async def first_delivery(self, delivery_id: str) -> bool:
        """Whether a platform's delivery (a Slack event, a Telegram update) is new here or on
        any instance sharing the state; remembers it."""
        return await self.state.first_delivery(f"{self.channel}:{delivery_id}")

    async def handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        *,
        sender: Any,
        text: Any,
        output: OutputChannel,
        metadata: dict[str, Any] | None = None,
        tell_user: bool = True,
    ) -> Verdict:
        """Checks and limits the message, lets Rasa answer it within the time limit, and makes
        sure the user hears something. With `tell_user` (every chat channel), a refusal is said
        in the conversation too; REST answers it with the verdict's HTTP status instead."""
        try:
            sender = clean_sender(sender)
        except BadInputError as error:
            self.refused["bad sender"] += 1
            metrics.refused("bad_input")
            logger.warning("%s: a message without a usable sender id was refused", self.channel)
            return Verdict(error.status, str(error))
        try:
            text = clean_message(text)
        except BadInputError as error:
            self.refused["bad message"] += 1
            metrics.refused("too_long" if error.status == 413 else "bad_input")
            logger.info("%s: unusable message from %s refused (%s)", self.channel, logs.pseudonym(sender), error)
            if tell_user:
                await self._say(output, sender, ASK_FOR_TEXT)
            return Verdict(error.status, str(error))
        ticket = uuid.uuid4().hex
        admission = await self.state.admit(sender, ticket)
        if admission is not Admission.ADMITTED:
            self.refused[admission.value] += 1
            metrics.refused(admission.value)
            logger.info("%s: message from %s refused (%s)", self.channel, logs.pseudonym(sender), admission.value)
            if tell_user:
                await self._say(output, sender, REFUSALS[admission])
            if admission is Admission.BUSY:
                return Verdict(429, "too many messages at once: wait for the answers", retry_after_s=2)
            window_s = int(self.state.limits.window_s)
            return Verdict(429, "too many messages this minute: wait a minute", retry_after_s=window_s)
        if logs.messages_logged():
            logger.info("%s: message from %s: %s", self.channel, logs.pseudonym(sender), logs.said(text))
        try:
            counted = CountingOutput(output)
            message = UserMessage(text, counted, sender, input_channel=self.channel, metadata=metadata or {})
            await self._answer(on_new_message, message, counted, output)
        finally:
            await self.state.release(sender, ticket)
        return Verdict()

    async def _answer(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message: UserMessage,
        counted: CountingOutput,
        output: OutputChannel,
    ) -> None:
        """Lets Rasa handle the message; apologises if that is too slow or says nothing."""
        who = logs.pseudonym(message.sender_id)
        try:
            await asyncio.wait_for(on_new_message(message), timeout=self.timeout_s)
        except asyncio.TimeoutError:
            metrics.failed("timeout")
            logger.error("%s: no reply to %s within %.0f s (action server slow?)", self.channel, who, self.timeout_s)
        except Exception as error:  # Rasa normally logs and swallows its own errors; never leave the user hanging
            failed = type(error).__name__  # counted by bot/handler.py, where it was raised
            logger.error("%s: handling a message from %s failed (%s)", self.channel, who, failed, exc_info=True)
        if counted.sent == 0:
            metrics.failed("apology")
            await self._say(output, str(message.sender_id), APOLOGY)

    async def _say(self, output: OutputChannel, sender: str, text: str) -> None:
        try:
            await output.send_text_message(sender, text)
        except Exception as error:  # the platform is unreachable: nothing more we can do
            logger.error("%s: could not send to %s (%s)", self.channel, logs.pseudonym(sender), type(error).__name__)
