"""Fakes of what the assistant talks to, on 127.0.0.1, for the system tests: the Slack Web API
and Slack's signed events, the Telegram Bot API and its webhook calls, and a switch in front of
the action server that can take it down or make it hang.

Each records what the assistant sent, so a test checks what a user would have seen.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiohttp import web

from tools.serve import free_port

WAIT_S = 20
SLACK_TOKEN = "xoxb-test"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TELEGRAM_TOKEN = "123456:TEST"
TELEGRAM_BOT_NAME = "bme_test_bot"
TELEGRAM_SECRET = "s3cret"


# --- Slack -------------------------------------------------------------------------------------


class FakeSlackApi:
    """A Slack Web API on 127.0.0.1: records each call and answers `{"ok": true}`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str]] = []  # (method, arguments, Authorization)
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    arguments = json.loads(raw or "{}")
                else:
                    arguments = dict(urllib.parse.parse_qsl(raw))
                method = self.path.rsplit("/", 1)[-1]
                with api._lock:
                    api.calls.append((method, arguments, self.headers.get("Authorization", "")))
                body = json.dumps({"ok": True, "channel": arguments.get("channel"), "ts": f"{time.time():.6f}"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                args
                for method, args, _ in self.calls
                if method == "chat.postMessage" and args.get("channel") == channel
            ]

    def wait_for_post(self, channel: str, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = [post for post in self.posts(channel) if wanted(post)]
            if found:
                return found[0]
            time.sleep(0.1)
        pytest.fail(f"nothing wanted was posted to {channel} in {WAIT_S} s; posted: {self.posts(channel)}")

    def texts(self, channel: str) -> str:
        return "\n".join(post.get("text", "") for post in self.posts(channel))


class FakeSlack:
    """Slack's side of the conversation: signed events and clicks to the assistant's webhook."""

    _ids = itertools.count(1)

    def __init__(self, base_url: str, api: FakeSlackApi, secret: str = SLACK_SECRET) -> None:
        self.url = f"{base_url}/webhooks/slack/webhook"
        self.api = api
        self.secret = secret

    def post(
        self,
        body: bytes,
        content_type: str,
        secret: str | None = None,
        age_s: float = 0,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        timestamp = str(int(time.time() - age_s))
        key = (secret or self.secret).encode()
        digest = hmac.new(key, f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
        signed = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}
        request = urllib.request.Request(
            self.url, body, {"Content-Type": content_type, **signed, **(headers or {})}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    @classmethod
    def message_event(cls, user: str, channel: str, text: str, **event: Any) -> dict[str, Any]:
        number = next(cls._ids)
        return {
            "token": "verification-token-unused",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": f"Ev{number:08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}],
            "event": {
                "type": "message",
                "channel_type": "im",
                "user": user,
                "channel": channel,
                "text": text,
                "ts": f"{time.time():.6f}",
                **event,
            },
        }

    def send_event(self, event: dict[str, Any], content_type: str = "application/json", **options: Any) -> int:
        status, _ = self.post(json.dumps(event).encode(), content_type, **options)
        return status

    def say(self, user: str, channel: str, text: str, **options: Any) -> int:
        return self.send_event(self.message_event(user, channel, text), **options)

    def click(self, user: str, channel: str, button: dict[str, Any]) -> int:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": "someone", "team_id": "T0001"},
            "api_app_id": "A0001",
            "team": {"id": "T0001"},
            "channel": {"id": channel, "name": "directmessage"},
            "container": {"type": "message", "channel_id": channel, "is_ephemeral": False},
            "message": {"type": "message", "bot_id": "B0001", "ts": f"{time.time():.6f}"},
            "trigger_id": "1.2.3",
            "response_url": "https://hooks.slack.invalid/actions/1",
            "actions": [
                {
                    "type": "button",
                    "action_id": "a1",
                    "block_id": "b1",
                    "text": button["text"],
                    "value": button["value"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        status, _ = self.post(body, "application/x-www-form-urlencoded")
        return status

    def answered(self, user: str, channel: str, text: str, expected: str) -> None:
        """Says `text` and waits until a post in `channel` contains `expected`."""
        assert self.say(user, channel, text) == 200
        self.api.wait_for_post(channel, lambda post: expected in post.get("text", ""))


# --- Telegram ----------------------------------------------------------------------------------


class FakeTelegram:
    """A Bot API server for one bot token, recording each call as (method, parameters)."""

    def __init__(self, token: str = TELEGRAM_TOKEN, bot_name: str = TELEGRAM_BOT_NAME) -> None:
        self.token = token
        self.bot_name = bot_name
        self.port = free_port()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._message_ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {"id": 123456, "is_bot": True, "first_name": "BME test", "username": self.bot_name}
        if method in ("setWebhook", "answerCallbackQuery"):
            return True
        if method == "sendMessage":
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": {"id": 123456, "is_bot": True, "first_name": "BME test", "username": self.bot_name},
                "text": params["text"],
            }
            if "reply_markup" in params:
                message["reply_markup"] = json.loads(params["reply_markup"])
            return message
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = dict(await request.post())
        with self._lock:
            self.calls.append((method, params))
        result = self._result(method, params)
        if result is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.json_response({"ok": True, "result": result})

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def calls_of(self, method: str, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            calls = list(self.calls)
        return [p for m, p in calls if m == method and all(str(p.get(k)) == str(v) for k, v in match.items())]

    def wait_for(self, method: str, count: int = 1, **match: Any) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = self.calls_of(method, **match)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        pytest.fail(f"no {method} {match} within {WAIT_S}s; calls: {self.calls}")


class TelegramWebhook:
    """Posts updates to the assistant's Telegram webhook as Telegram does."""

    def __init__(self, base_url: str, secret: str = TELEGRAM_SECRET) -> None:
        self.url = f"{base_url}/webhooks/telegram/webhook"
        self.secret = secret
        self._update_ids = itertools.count(1000)

    def post(self, body: bytes, secret: str | None = "") -> int:
        headers = {"Content-Type": "application/json"}
        secret = self.secret if secret == "" else secret  # "": this webhook's own; None: no header
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        request = urllib.request.Request(self.url, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def update(self, secret: str | None = "", **content: Any) -> int:
        return self.post(json.dumps({"update_id": next(self._update_ids), **content}).encode(), secret)

    def text(self, chat_id: int, text: str, secret: str | None = "") -> int:
        return self.update(secret, message=telegram_message(chat_id, text))


def telegram_message(chat_id: int, text: str | None = None, message_id: int = 1) -> dict[str, Any]:
    sent: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Test"},
    }
    if text is not None:
        sent["text"] = text
    return sent


# --- the action server -------------------------------------------------------------------------


class ActionServerSwitch:
    """Listens where Rasa expects the action server and forwards to the real one, until told to
    go down (nothing listens: connections are refused) or to hang (requests never answered);
    `delay_s` makes every call that much slower (so that turns overlap)."""

    def __init__(self, target_url: str, port: int | None = None) -> None:
        self.target = target_url.rstrip("/")
        self.port = port or free_port()
        self.hanging = threading.Event()
        self.delay_s = 0.0
        self._server: ThreadingHTTPServer | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        switch = self

        class Forward(BaseHTTPRequestHandler):  # HTTP/1.0: no kept-alive connection outlives down()
            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else None
                if switch.hanging.is_set():
                    time.sleep(60)
                    return
                time.sleep(switch.delay_s)
                request = urllib.request.Request(
                    switch.target + self.path, body, {"Content-Type": "application/json"}, method=method
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                self._forward("POST")

            def do_GET(self) -> None:
                self._forward("GET")

            def log_message(self, *_: Any) -> None:
                pass

        return Forward

    def up(self) -> None:
        self.hanging.clear()
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            self._server.daemon_threads = True
            threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stops listening: Rasa's calls are refused, as with a crashed action server."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with socket.socket() as probe:  # refused now
            assert probe.connect_ex(("127.0.0.1", self.port)) != 0

    def hang(self) -> None:
        self.up()
        self.hanging.set()
