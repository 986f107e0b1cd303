"""The REST channel: Rasa's request and reply format, with a token, input checks and a reply guard.

Rasa's own REST channel has no authentication at all (its --auth-token only guards the HTTP
API), takes a missing sender as the shared conversation "default", and answers nothing when
an action fails. Ours:

- with REST_TOKEN set, requires `Authorization: Bearer <token>` (or `?token=<token>`): 401;
- refuses invalid JSON, a missing or odd sender, an empty or oversized message: 400 / 413;
- refuses a sender's fourth simultaneous message: 429 (bot/channels/guard.py);
- always answers with at least one message (an apology when Rasa could not answer in time).

Keep it on a trusted network unless REST_TOKEN is set.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import BadInputError, SenderLimiter, clean_message, clean_sender, handle_with_reply


class TokenRestInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "rest"  # keeps the standard /webhooks/rest/webhook URL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TokenRestInput:
        return cls((credentials or {}).get("token"))

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.limiter = SenderLimiter()

    def _authorised(self, request: Request) -> bool:
        if not self.token:
            return True
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header.removeprefix("Bearer ").strip()
        else:
            given = request.args.get("token", "")
        return hmac.compare_digest(given.encode(), self.token.encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("rest_webhook", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                return response.json({"error": "missing or wrong token"}, status=401)
            try:
                payload = json.loads(request.body or b"")
                if not isinstance(payload, dict):
                    raise BadInputError('send a JSON object: {"sender": "...", "message": "..."}')
                sender = clean_sender(payload.get("sender"))
                text = clean_message(payload.get("message"))
            except (ValueError, UnicodeDecodeError) as error:
                status = error.status if isinstance(error, BadInputError) else 400
                detail = str(error) if isinstance(error, BadInputError) else "the body is not valid JSON"
                return response.json({"error": detail}, status=status)
            if not self.limiter.try_acquire(sender):
                return response.json(
                    {"error": "too many messages at once: wait for the answers"},
                    status=429,
                    headers={"Retry-After": "2"},
                )
            try:
                collector = CollectingOutputChannel()
                message = UserMessage(
                    text, collector, sender, input_channel=self.name(), metadata=self.get_metadata(request)
                )

                async def apologise(apology: str) -> None:
                    await collector.send_text_message(sender, apology)

                await handle_with_reply(on_new_message, message, lambda: len(collector.messages), apologise)
                return response.json(collector.messages)
            finally:
                self.limiter.release(sender)

        return blueprint
