"""The REST channel: Rasa's request and reply format, with a token, and the input guard.

Rasa's own REST channel has no authentication at all (its --auth-token only guards the HTTP
API), takes a missing sender as the shared conversation "default", and answers nothing when
an action fails. Ours:

- with REST_TOKEN set, requires `Authorization: Bearer <token>` (or `?token=<token>`): 401;
- refuses a body that is not a JSON object: 400;
- hands the sender and message to the guard every channel shares (bot/channels/guard.py),
  and answers its refusals with their HTTP status: a missing or odd sender, an empty or
  oversized message (400 / 413), a sender's fourth simultaneous message or 31st in a minute
  (429, with Retry-After);
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

from bot.channels.guard import Guard

NOT_AN_OBJECT = 'send a JSON object: {"sender": "...", "message": "..."}'


class TokenRestInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "rest"  # keeps the standard /webhooks/rest/webhook URL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TokenRestInput:
        return cls((credentials or {}).get("token"))

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.guard = Guard(self.name())

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
        self.guard.attach(blueprint)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                return response.json({"error": "missing or wrong token"}, status=401)
            try:
                payload = json.loads(request.body or b"")
            except (ValueError, UnicodeDecodeError):
                return response.json({"error": "the body is not valid JSON"}, status=400)
            if not isinstance(payload, dict):
                return response.json({"error": NOT_AN_OBJECT}, status=400)
            collector = CollectingOutputChannel()
            verdict = await self.guard.handle(
                on_new_message,
                sender=payload.get("sender"),
                text=payload.get("message"),
                output=collector,
                metadata=self.get_metadata(request),
                tell_user=False,
            )
            if not verdict.handled:
                headers = {"Retry-After": str(verdict.retry_after_s)} if verdict.retry_after_s else None
                return response.json({"error": verdict.error}, status=verdict.status, headers=headers)
            return response.json(collector.messages)

        return blueprint
