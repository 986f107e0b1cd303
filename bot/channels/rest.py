"""Rasa's REST channel, optionally behind a shared token.

Rasa's own REST channel has no authentication at all (its --auth-token only guards the HTTP
API). Keep REST on a trusted network, or set REST_TOKEN: then every request needs
`Authorization: Bearer <token>` (or `?token=<token>`), and anything else gets 401.
"""

from __future__ import annotations

import hmac
from typing import Any

from rasa.core.channels.rest import RestInput
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json


class TokenRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"  # keeps the standard /webhooks/rest/webhook URL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TokenRestInput:
        return cls((credentials or {}).get("token"))

    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def _authorised(self, request: Request) -> bool:
        if not self.token:
            return True
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header.removeprefix("Bearer ").strip()
        else:
            given = request.args.get("token", "")
        return hmac.compare_digest(given.encode(), self.token.encode())

    def blueprint(self, on_new_message: Any) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.on_request
        async def require_token(request: Request) -> HTTPResponse | None:
            if request.path.endswith("/webhook") and not self._authorised(request):
                return json({"error": "missing or wrong token"}, status=401)
            return None

        return blueprint
