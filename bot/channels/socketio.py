"""The web chat channel: Rasa's socket.io channel, fixed and locked down, plus our chat page.

Three changes to Rasa's `SocketIOInput`:

- Conversations survive a page reload: with `session_persistence`, Rasa 3.6 calls
  `sio.enter_room()` without `await`, which python-socketio >= 5.10 made a coroutine, so the
  browser never joins its session's room and never hears a reply (rasa#13027). We await it
  (bot/patches/socketio_rooms.py).
- Only allowed origins may open a socket: Rasa builds its server with
  `cors_allowed_origins=[]`, which turns the Origin check off, so any web site could talk to
  the assistant from its visitors' browsers. We allow the page's own origin, localhost, and
  the origins listed in WEBCHAT_ALLOWED_ORIGINS (sites that embed the widget).
- The assistant serves its own chat page and widget (bot/channels/web/), so the page and the socket
  share an origin: `/webhooks/socketio/chat` is the page, `/webhooks/socketio/static/` the
  widget, its styles and the pinned socket.io client from npm (never a CDN), and axe-core (the
  accessibility audit the browser test runs on the page).

Messages go through the guard every channel shares (bot/channels/guard.py): checked, limited
per session, and always answered. The socket stays at the standard `/socket.io` path. With
several Sanic workers, a polling session's requests are passed to the worker that holds it
(bot/channels/socketio_workers.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot import feedback
from bot.channels import socketio_workers
from bot.channels.guard import Guard
from bot.names import ERASED_ANSWER
from bot.patches.socketio_rooms import register_session_request
from bot.settings import NODE_MODULES, WEB

logger = logging.getLogger(__name__)

WEB_DIR = WEB
SOCKET_IO_CLIENT = NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js"
# axe-core, the accessibility engine the browser test runs on the page (anyone can load it from
# here into the page to audit it the same way). Pinned in package-lock.json, like the client.
AXE_CORE = NODE_MODULES / "axe-core" / "axe.min.js"


class WebChatInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        credentials = credentials or {}
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            session_persistence=credentials.get("session_persistence", True),
            allowed_origins=credentials.get("allowed_origins") or [],
        )

    def __init__(
        self,
        user_message_evt: str = "user_uttered",
        bot_message_evt: str = "bot_uttered",
        session_persistence: bool = True,
        allowed_origins: list[str] | None = None,
    ) -> None:
        super().__init__(user_message_evt, bot_message_evt, session_persistence=session_persistence)
        self.allowed_origins = set(allowed_origins or [])
        self.guard = Guard(self.name())

    def origin_allowed(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """Same origin as the page, or one we were told to allow. No Origin: not a browser."""
        if origin is None:
            return True
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own or origin in self.allowed_origins

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.origin_allowed)
        socketio_workers.stamp_session_ids(sio)
        blueprint = RoutedSocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        self.guard.attach(blueprint)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/chat", methods=["GET"])
        async def chat_page(_: Request) -> HTTPResponse:
            return await response.file(str(WEB_DIR / "index.html"), mime_type="text/html; charset=utf-8")

        blueprint.static("/static/socket.io.min.js", str(SOCKET_IO_CLIENT), name="socketio_client")
        blueprint.static("/static/axe.min.js", str(AXE_CORE), name="axe_core")
        blueprint.static("/static", str(WEB_DIR), name="webchat_static")

        register_session_request(sio, self.session_persistence)  # Rasa's, with its missing await

        @sio.on(self.user_message_evt)
        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                return
            sender_id = data.get("session_id") if self.session_persistence else sid
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except json.JSONDecodeError:
                    metadata = {}
            await self.guard.handle(
                on_new_message,
                sender=sender_id,
                text=data.get("message"),
                output=WebChatOutput(sio, self.bot_message_evt),
                metadata=metadata if isinstance(metadata, dict) else {},
            )

        return blueprint


class RoutedSocketBlueprint(SocketBlueprint):
    """Rasa's socket.io blueprint, with polling requests routed to the worker that holds their
    session when there are several workers (bot/channels/socketio_workers.py)."""

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        super().register(app, options)
        socketio_workers.register(app, socketio_workers.WorkerRouting(self.ctx.socketio_path))


class WebChatOutput(SocketIOOutput):
    """Rasa's socket.io output, with two additions. Each bubble carries its answer id and, under
    an answer, the 👍 / 👎 payloads (bot/feedback.py). The reply that confirms an erasure also
    tells the widget to forget the conversation it keeps in the browser (`"erased": true`),
    since the server no longer has it (bot/stores/erasure.py)."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str) -> None:
        super().__init__(sio, bot_message_evt)
        self._metadata: dict[str, Any] = {}

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self._metadata = feedback.bubble_metadata(message)
        try:
            await super().send_response(recipient_id, message)
        finally:
            self._metadata = {}

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if self._metadata and isinstance(response, dict):
            response = {**response, "metadata": self._metadata}
        await super()._send_message(socket_id, response)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if kwargs.get("answer") != ERASED_ANSWER:
            await super().send_text_message(recipient_id, text, **kwargs)
            return
        await self._send_message(recipient_id, {"text": text, "erased": True})
