"""Rasa's Telegram channel, made to work: webhook set on the server's own loop, updates authenticated.

Rasa 3.6's stock channel calls setWebhook through `asyncio.run` while building its blueprint,
which leaves aiogram's HTTP session bound to that finished loop: every update afterwards fails
with 500 "Event loop is closed". It also exits when setWebhook fails, and its `verify` only
compares the token's own bot name, so anyone who knows the URL can post updates. Here:

- One output channel (one aiogram session) is built once and used for every call, on Sanic's
  loop: setWebhook runs in an `after_server_start` listener, the session closes on stop. With
  several Sanic workers, each has its own session on its own loop, and the first worker to
  start sets the webhook (bot/workers.py).
- setWebhook failing (network, wrong token) is logged as an error and the server keeps
  serving: the other channels stay up, and a restart retries. If `verify` (the bot's
  username) is set and getMe names another bot, the webhook is not set: that token would
  point someone else's bot at this server.
- With `secret_token`, setWebhook passes it to Telegram, and an update without the matching
  `X-Telegram-Bot-Api-Secret-Token` header gets 403 before anything is read.
- Text messages and inline-keyboard presses (callback queries) are answered; every other
  update (edited messages, channel posts, ...) gets 200 and is ignored, because Telegram
  redelivers an update until it gets a 2xx. A body that is not an update gets 400; a failure
  while answering is logged and still gets 200, so Telegram does not replay it.
- Every text goes through the guard every channel shares (bot/channels/guard.py): size cap,
  per-chat limit, a reply within 12 s or an apology, never silence. An update Telegram
  redelivers (same `update_id`, e.g. after a timeout) is acknowledged and not answered again,
  on whichever instance it arrives (the guard's state, shared through Redis when the stores are).
- `api_url` selects another Bot API server (a local one, or a fake in tests).
- A missing or malformed token stops start-up: that is a configuration error, found offline.

Button payloads go to Telegram as callback_data, which is limited to 64 bytes. Ours are at
most 43 bytes (`/inform{"treatment": "biologic_injections"}`; tests/test_telegram.py checks
all of them). A longer payload would instead send the button's title, which the NLU reads like
typed text, with a warning in the log.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.bot.api import TELEGRAM_PRODUCTION, TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramOutput as RasaTelegramOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import feedback, logs
from bot.channels.guard import Guard
from bot.domain.feedback import BUTTONS

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CALLBACK_DATA_MAX_BYTES = 64
ALLOWED_UPDATES = ["message", "callback_query"]  # Telegram need not send what we would ignore
REQUEST_TIMEOUT_S = 15
SHORT_TITLE = 10  # buttons whose titles are all this short share one row; longer ones get a row each
# Telegram clients offer these commands; /start is the first message of every new chat.
COMMANDS = {"/start": "/greet", "/help": "/help"}
ONLY_TEXT = "Sorry, I can only read text messages."


def callback_data(button: dict[str, Any]) -> str:
    """The button's payload, or its title when the payload is over Telegram's 64-byte limit."""
    payload = str(button.get("payload") or button.get("title") or "")
    if len(payload.encode()) <= CALLBACK_DATA_MAX_BYTES:
        return payload
    logger.warning("Telegram: payload %r is over 64 bytes; the button sends its title instead", payload)
    return str(button.get("title", "")).encode()[:CALLBACK_DATA_MAX_BYTES].decode(errors="ignore")


def user_text(text: str) -> str:
    """Telegram's own commands (`/start`, `/help@our_bot`) as the intents they mean."""
    command = text.split(" ", 1)[0]
    return COMMANDS.get(command.split("@")[0], text) if command.startswith("/") else text


class TelegramOutput(RasaTelegramOutput):
    """Rasa's Telegram output (an aiogram Bot), on a chosen API server, one bubble per message."""

    def __init__(self, access_token: str, server: TelegramAPIServer = TELEGRAM_PRODUCTION) -> None:
        Bot.__init__(self, access_token, server=server, timeout=REQUEST_TIMEOUT_S)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        # Rasa's version splits at blank lines; our answers (<= ~500 chars) read better whole.
        rating = feedback_buttons(kwargs)
        keyboard = InlineKeyboardMarkup().row(*rating) if rating else None
        await self.send_message(recipient_id, text, reply_markup=keyboard)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        short = all(len(str(b.get("title", ""))) <= SHORT_TITLE for b in buttons)
        keyboard = InlineKeyboardMarkup(row_width=len(buttons) if short else 1)
        keyboard.add(*(InlineKeyboardButton(str(b.get("title", "")), callback_data=callback_data(b)) for b in buttons))
        rating = feedback_buttons(kwargs)
        if rating:
            keyboard.row(*rating)
        await self.send_message(recipient_id, text, reply_markup=keyboard)


def feedback_buttons(message: dict[str, Any]) -> list[InlineKeyboardButton]:
    """👍 and 👎 under an answer that offers them (bot/feedback.py), as one row of a keyboard."""
    offered = feedback.offer(message) or {}
    return [
        InlineKeyboardButton(BUTTONS[rating][0], callback_data=callback_data({"payload": payload}))
        for rating, payload in offered.items()
    ]


@dataclass(frozen=True)
class Incoming:
    """What an update asks of us: a text (None: unreadable, e.g. a sticker) for a chat."""

    chat_id: int
    text: str | None
    private: bool = True
    callback_query_id: str | None = None
    update_id: int | None = None


def _chat(message: Any) -> dict[str, Any]:
    chat = message.get("chat") if isinstance(message, dict) else None
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        raise ValueError("message without chat id")
    return chat


def parse_update(update: Any) -> Incoming | None:
    """The message or button press in an update; None for update types we do not answer.

    Raises ValueError when the body is not a Telegram update, or a message or callback query
    in it lacks what we need.
    """
    if not isinstance(update, dict):
        raise ValueError("an update is a JSON object")
    update_id = update.get("update_id") if isinstance(update.get("update_id"), int) else None
    if "message" in update:
        chat = _chat(update["message"])
        text = update["message"].get("text")
        private = chat.get("type") == "private"
        return Incoming(chat["id"], text if isinstance(text, str) else None, private, update_id=update_id)
    if "callback_query" in update:
        query = update["callback_query"]
        if not isinstance(query, dict) or not isinstance(query.get("id"), str):
            raise ValueError("callback query without id")
        chat, data = _chat(query.get("message")), query.get("data")
        text = data if isinstance(data, str) else None
        return Incoming(chat["id"], text, chat.get("type") == "private", query["id"], update_id)
    return None


class TelegramInput(InputChannel):
    """The Telegram webhook at /webhooks/telegram/webhook."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        if not credentials or not credentials.get("access_token"):
            raise RasaException("Telegram needs `access_token` (TELEGRAM_BOT_TOKEN), the token from @BotFather.")
        return cls(
            credentials["access_token"],
            verify=credentials.get("verify"),
            webhook_url=credentials.get("webhook_url"),
            secret_token=credentials.get("secret_token"),
            api_url=credentials.get("api_url"),
        )

    def __init__(
        self,
        access_token: str,
        verify: str | None = None,
        webhook_url: str | None = None,
        secret_token: str | None = None,
        api_url: str | None = None,
    ) -> None:
        self.verify = verify
        self.webhook_url = webhook_url
        self.secret_token = secret_token
        self.guard = Guard(self.name())
        server = TelegramAPIServer.from_base(api_url) if api_url else TELEGRAM_PRODUCTION
        # Built once, without network: its aiohttp session is created on first use, on Sanic's loop.
        self.output = TelegramOutput(access_token, server)
        if not secret_token:
            logger.warning("Telegram: no secret_token, so anyone who knows the webhook URL can post updates.")

    def get_output_channel(self) -> TelegramOutput:
        return self.output

    async def set_webhook(self) -> None:
        """Points Telegram at our webhook; logs instead of raising, so the server keeps serving."""
        if not self.webhook_url:
            logger.info("Telegram: no webhook_url, so the webhook is left as it is.")
            return
        try:
            if self.verify:
                me = await self.output.get_me()
                if me.username != self.verify:
                    logger.error(
                        "Telegram: the token belongs to @%s, not @%s; the webhook is NOT set.", me.username, self.verify
                    )
                    return
            # aiogram 2.15's set_webhook predates `secret_token`, so the call is made by hand.
            payload = {"url": self.webhook_url, "allowed_updates": json.dumps(ALLOWED_UPDATES)}
            if self.secret_token:
                payload["secret_token"] = self.secret_token
            await self.output.request("setWebhook", payload)
            logger.info("Telegram: webhook set to %s", self.webhook_url)
        except Exception:
            logger.exception(
                "Telegram: setWebhook failed, so Telegram will not deliver updates until a restart succeeds. "
                "The other channels keep running."
            )

    def _authentic(self, request: Request) -> bool:
        if not self.secret_token:
            return True
        given = request.headers.get(SECRET_HEADER, "")
        return hmac.compare_digest(given.encode(), self.secret_token.encode())

    async def _answer_callback(self, callback_query_id: str) -> None:
        try:  # stops the spinner on the pressed button; the answer itself comes as a message
            await self.output.answer_callback_query(callback_query_id)
        except Exception:
            logger.exception("Telegram: answerCallbackQuery failed")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram = Blueprint("telegram_webhook", __name__)
        self.guard.attach(telegram)

        @telegram.listener("after_server_start")
        async def set_webhook(_app: Sanic, _loop: Any) -> None:
            if await self.guard.first_worker("setWebhook"):  # once per server, not per worker
                await self.set_webhook()

        @telegram.listener("after_server_stop")
        async def close_session(_app: Sanic, _loop: Any) -> None:
            await self.output.session.close()

        @telegram.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @telegram.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authentic(request):
                return response.json({"error": f"missing or wrong {SECRET_HEADER}"}, status=403)
            try:
                incoming = parse_update(json.loads(request.body or b"null"))
            except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                return response.json({"error": f"not a Telegram update: {error}"}, status=400)
            if incoming is None:
                return response.json({"status": "ignored"})
            if incoming.update_id is not None and not await self.guard.first_delivery(str(incoming.update_id)):
                return response.json({"status": "already answered"})
            if incoming.callback_query_id:
                await self._answer_callback(incoming.callback_query_id)
            chat = str(incoming.chat_id)
            try:
                if incoming.text is not None:
                    await self.guard.handle(
                        on_new_message,
                        sender=chat,
                        text=user_text(incoming.text),
                        output=self.output,
                        metadata=self.get_metadata(request),
                    )
                elif incoming.private and not incoming.callback_query_id:
                    await self.output.send_text_message(chat, ONLY_TEXT)
            except Exception as error:
                logger.error("Telegram: could not answer %s (%s)", logs.pseudonym(chat), type(error).__name__)
            return response.json({"status": "ok"})

        return telegram
