"""The same bad input, floods and faults over all four channels, erasure on each of them, and
what the logs and error pages show afterwards.

One real assistant runs with REST (with a token), the web chat, Slack and Telegram all on;
Slack's and Telegram's sides are fakes on 127.0.0.1 (tests/system/fakes.py), and the action
server sits behind a switch that can take it down or make it hang. Each channel is driven the
way its users' clients drive it: REST requests, a socket.io client, signed Slack events and
button clicks, Telegram updates and inline-keyboard presses. Every test is parametrized over the
four channels, so a channel that skips the guard fails by name.

Last in the module, the log scan reads everything Rasa and the action server logged during all
of it, at the default level, and finds no message text, sender id, slot value or secret.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import socketio
import sqlalchemy

from bot.channels.guard import APOLOGY, ASK_FOR_TEXT, BUSY, REPLY_TIMEOUT_S
from bot.domain.replies import CONVERSATION_DELETED, CONVERSATION_KEPT
from tests.system.fakes import (
    SLACK_SECRET,
    SLACK_TOKEN,
    TELEGRAM_BOT_NAME,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    WAIT_S,
    ActionServerSwitch,
    FakeSlack,
    FakeSlackApi,
    FakeTelegram,
    TelegramWebhook,
    telegram_message,
)
from tests.system.running_assistant import rasa_behind_switch

REST_TOKEN = "rest-token-for-every-channel"
API_TOKEN = "api-token-for-every-channel"
SECRETS = [REST_TOKEN, API_TOKEN, SLACK_TOKEN, SLACK_SECRET, TELEGRAM_TOKEN, TELEGRAM_SECRET]
CHANNELS = ["rest", "webchat", "slack", "telegram"]
WELCOME = "bone marrow edema (BME) assistant"
CONFIRM = "Delete this whole conversation?"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


@dataclass
class Stack:
    """The running assistant and everything around it."""

    base_url: str
    database: Path
    rasa_log: Path
    actions_log: Path
    switch: ActionServerSwitch
    slack: FakeSlack
    telegram: FakeTelegram
    webhook: TelegramWebhook
    # Everything a user sent, and every sender id used: the log scan looks for them.
    texts: set[str] = field(default_factory=set)
    senders: set[str] = field(default_factory=set)
    bodies: list[bytes] = field(default_factory=list)  # HTTP answers to check for secrets

    def stored_events(self, sender: str) -> list[dict[str, Any]]:
        engine = sqlalchemy.create_engine(f"sqlite:///{self.database}")
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    sqlalchemy.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
                )
                return [json.loads(data) for (data,) in rows]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("every-channel")
    slack_api, telegram = FakeSlackApi(), FakeTelegram()
    telegram.start()
    env = {
        **ENV,
        "TRACKER_DB": str(work / "conversations.db"),
        "REST_TOKEN": REST_TOKEN,
        "RASA_API_TOKEN": API_TOKEN,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": slack_api.url,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_BOT_NAME": TELEGRAM_BOT_NAME,
        "TELEGRAM_WEBHOOK_URL": "https://example.invalid/webhooks/telegram/webhook",
        "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": telegram.url,
        "SANIC_WORKERS": "2",  # as `make run` on a machine of two cores or more
    }
    try:
        with rasa_behind_switch(work, env, API_TOKEN) as rasa:
            telegram.wait_for("setWebhook")
            yield Stack(
                rasa.base_url,
                Path(env["TRACKER_DB"]),
                rasa.rasa_log,
                rasa.actions_log,
                rasa.switch,
                FakeSlack(rasa.base_url, slack_api),
                telegram,
                TelegramWebhook(rasa.base_url),
            )
    finally:
        telegram.stop()
        slack_api.server.shutdown()


# --- a user on each channel ------------------------------------------------------------------

_numbers = itertools.count(1)


class User(ABC):
    """One person on one channel: what they send, and every text they have received."""

    channel: str

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.n = next(_numbers)
        stack.senders.add(self.sender)

    @property
    @abstractmethod
    def sender(self) -> str:
        """The conversation's sender id, as the tracker store keeps it."""

    @abstractmethod
    def send(self, text: str) -> int:
        """Delivers a message as the channel's client would; the HTTP status of the delivery."""

    @abstractmethod
    def heard(self) -> list[str]: ...

    def press(self, payload: str) -> None:
        """Presses a button: for REST and the web chat, its payload is sent as a message."""
        self.send(payload)

    def ask(self, text: str, until: Callable[[list[str]], bool], timeout_s: float = WAIT_S) -> list[str]:
        """Sends and waits until what came back since satisfies `until`; returns it."""
        before = len(self.heard())
        if len(text) < 1000 and text.strip():
            self.stack.texts.add(text)
        self.send(text)
        return self.wait(before, until, timeout_s)

    def wait(self, before: int, until: Callable[[list[str]], bool], timeout_s: float = WAIT_S) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            new = self.heard()[before:]
            if until(new):
                return new
            time.sleep(0.05)
        pytest.fail(f"{self.channel} {self.sender}: nothing wanted within {timeout_s} s; heard {self.heard()[before:]}")

    def close(self) -> None:
        return None


class RestUser(User):
    channel = "rest"

    def __init__(self, stack: Stack) -> None:
        self._heard: list[str] = []
        self.statuses: list[int] = []
        super().__init__(stack)

    @property
    def sender(self) -> str:
        return f"rest-user-{self.n:04d}"

    def send(self, text: str) -> int:
        body = json.dumps({"sender": self.sender, "message": text}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {REST_TOKEN}"}
        request = urllib.request.Request(f"{self.stack.base_url}/webhooks/rest/webhook", body, headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read()
        self.stack.bodies.append(answer)
        self.statuses.append(status)
        if status == 200:
            self._heard += [m.get("text", "") for m in json.loads(answer)]
        return status

    def heard(self) -> list[str]:
        return list(self._heard)


class WebChatUser(User):
    """A socket.io client on the polling transport (this Python client's websocket transport
    does not work with Rasa's aiohttp). Polling packs what is queued into one request, and
    engine.io refuses a request of more than 16 packets, so a burst is sent a few ms apart."""

    channel = "webchat"

    def __init__(self, stack: Stack) -> None:
        self._heard: list[str] = []
        self.payloads: list[dict[str, Any]] = []
        self._sending = threading.Lock()
        super().__init__(stack)
        self.client = socketio.Client()
        self.client.on("bot_uttered", self._on_reply)
        confirmed = threading.Event()
        self.client.on("session_confirm", lambda _: confirmed.set())
        self.client.connect(stack.base_url, socketio_path="/socket.io", transports=["polling"])
        self.client.emit("session_request", {"session_id": self.sender})
        assert confirmed.wait(10)

    def _on_reply(self, data: dict[str, Any]) -> None:
        self.payloads.append(data)
        self._heard.append(data.get("text", ""))

    @property
    def sender(self) -> str:
        return f"webchat-session-{self.n:04d}"

    def send(self, text: str) -> int:
        with self._sending:
            self.client.emit("user_uttered", {"message": text, "session_id": self.sender})
            time.sleep(0.005)
        return 200

    def heard(self) -> list[str]:
        return list(self._heard)

    def close(self) -> None:
        self.client.disconnect()


class SlackUser(User):
    channel = "slack"

    @property
    def sender(self) -> str:
        return f"U_SLACKUSER{self.n:04d}"

    @property
    def dm(self) -> str:
        return f"D_SLACKDM{self.n:04d}"

    def send(self, text: str) -> int:
        return self.stack.slack.say(self.sender, self.dm, text)

    def press(self, payload: str) -> None:
        assert (
            self.stack.slack.click(
                self.sender, self.dm, {"text": {"type": "plain_text", "text": "button"}, "value": payload}
            )
            == 200
        )

    def heard(self) -> list[str]:
        return [post.get("text", "") for post in self.stack.slack.api.posts(self.dm)]


class TelegramUser(User):
    channel = "telegram"

    @property
    def chat_id(self) -> int:
        return 7_406_519_230 + self.n  # ten digits: no port or timestamp looks like it

    @property
    def sender(self) -> str:
        return str(self.chat_id)

    def send(self, text: str) -> int:
        return self.stack.webhook.text(self.chat_id, text)

    def press(self, payload: str) -> None:
        press = {
            "id": f"cbq-{self.chat_id}-{time.monotonic_ns()}",
            "from": {"id": self.chat_id, "is_bot": False, "first_name": "Test"},
            "message": telegram_message(self.chat_id, "a question with buttons", message_id=7),
            "chat_instance": "42",
            "data": payload,
        }
        assert self.stack.webhook.update(callback_query=press) == 200

    def heard(self) -> list[str]:
        return [call["text"] for call in self.stack.telegram.calls_of("sendMessage", chat_id=self.chat_id)]


USERS: dict[str, type[User]] = {"rest": RestUser, "webchat": WebChatUser, "slack": SlackUser, "telegram": TelegramUser}


@pytest.fixture
def user_on(stack: Stack) -> Iterator[Callable[[str], User]]:
    made: list[User] = []

    def make(channel: str) -> User:
        made.append(USERS[channel](stack))
        return made[-1]

    yield make
    for user in made:
        user.close()


def said(text: str) -> Callable[[list[str]], bool]:
    return lambda heard: any(text in h for h in heard)


# --- the same bad input on every channel --------------------------------------------------------

UNUSABLE = {"empty": ("", 400), "blank": ("   \n\t ", 400), "100 KB": ("x" * 100_000, 413)}


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("case", UNUSABLE, ids=UNUSABLE.keys())
def test_an_unusable_message_gets_a_clear_answer(user_on, channel, case):
    text, status = UNUSABLE[case]
    user = user_on(channel)
    if channel == "rest":
        assert user.send(text) == status and user.heard() == []
        return
    assert user.ask(text, said(ASK_FOR_TEXT)) == [ASK_FOR_TEXT]


@pytest.mark.parametrize("channel", CHANNELS)
def test_control_characters_are_removed_and_the_question_understood(user_on, channel):
    user_on(channel).ask("what is\x00 bone\x07 marrow\u202e edema", said("marrow"))


@pytest.mark.parametrize("channel", CHANNELS)
def test_markup_is_just_text(user_on, channel):
    replies = user_on(channel).ask("<script>alert(1)</script><img src=x onerror=alert(1)> what is bme", said("marrow"))
    assert not any("<script>" in r or "onerror" in r for r in replies)


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_flood_from_one_sender_is_limited_and_others_are_unaffected(user_on, channel):
    flooder, bystander = user_on(channel), user_on(channel)
    flooder.ask("hi", said("Hello!"))  # the conversation exists: the flood is only turns
    before = len(flooder.heard())
    with ThreadPoolExecutor(20) as pool:
        flood = [pool.submit(flooder.send, "what is bme") for _ in range(20)]
        time.sleep(0.05)  # while the flood is being handled
        started = time.monotonic()
        bystander.ask("can bme heal on its own?", said("6 weeks to 6 months"))
        bystander_s = time.monotonic() - started
        statuses = [sent.result() for sent in flood]
    flooder.wait(before, said("marrow"))  # the admitted ones are answered
    if channel == "rest":
        refused = statuses.count(429)
        assert statuses.count(200) + refused == 20
    else:  # every refusal is said in the conversation
        flooder.wait(before, lambda heard: heard.count(BUSY) >= 10)
        time.sleep(2)
        refused = flooder.heard()[before:].count(BUSY)
    print(f"\n{channel}: 20 messages at once from one sender, {refused} refused; a bystander in {bystander_s:.1f} s")
    assert 10 <= refused < 20, f"{channel}: {refused} of 20 refused"
    assert bystander_s < 10


# --- the action server down or hanging, on every channel at once --------------------------------


def on_every_channel(user_on: Callable[[str], User], run: Callable[[User], Any]) -> dict[str, Any]:
    users = [user_on(channel) for channel in CHANNELS]
    with ThreadPoolExecutor(len(users)) as pool:
        return dict(zip(CHANNELS, pool.map(run, users), strict=True))


def test_the_action_server_down_gets_an_apology_then_the_conversation_recovers(stack, user_on):
    users: dict[str, User] = {}

    def converse(user: User) -> float:
        users[user.channel] = user
        user.ask("best shoes for knee bme?", said("Hoka Bondi 9"))
        return 0.0

    on_every_channel(user_on, converse)
    stack.switch.down()
    try:

        def while_down(user: User) -> float:
            started = time.monotonic()
            user.ask("and the hip?", said(APOLOGY), timeout_s=REPLY_TIMEOUT_S + 10)
            return time.monotonic() - started

        with ThreadPoolExecutor(4) as pool:
            seconds = dict(zip(users, pool.map(while_down, users.values()), strict=True))
    finally:
        stack.switch.up()
    assert all(s < REPLY_TIMEOUT_S + 5 for s in seconds.values()), seconds
    for user in users.values():
        user.ask("and the hip?", said("Asics Gel-Nimbus 26"))


def test_a_hanging_action_server_gets_an_apology_within_bounded_time(stack, user_on):
    stack.switch.hang()
    try:

        def while_hanging(user: User) -> float:
            started = time.monotonic()
            user.ask("what is bme", said(APOLOGY), timeout_s=REPLY_TIMEOUT_S + 15)
            return time.monotonic() - started

        seconds = on_every_channel(user_on, while_hanging)
    finally:
        stack.switch.up()
    assert all(s < REPLY_TIMEOUT_S + 5 for s in seconds.values()), seconds


# --- erasure on request, on every channel -------------------------------------------------------


def user_texts(stack: Stack, sender: str) -> list[str]:
    return [e.get("text") for e in stack.stored_events(sender) if e.get("event") == "user"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_confirmed_erasure_leaves_nothing_of_the_sender_and_the_next_message_starts_afresh(stack, user_on, channel):
    user = user_on(channel)
    user.ask("best shoes for knee bme?", said("Hoka Bondi 9"))
    assert len(user_texts(stack, user.sender)) == 1
    user.ask("please delete my conversation", said(CONFIRM))
    before = len(user.heard())
    user.press("/affirm")
    user.wait(before, said(CONVERSATION_DELETED))
    deadline = time.monotonic() + 5  # the store deletes when Rasa saves, just after the reply
    while stack.stored_events(user.sender) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.stored_events(user.sender) == []
    if isinstance(user, WebChatUser):
        assert any(p.get("erased") is True for p in user.payloads)  # the widget forgets its copy

    user.ask("and the hip?", said(WELCOME))  # a new conversation, with a new welcome
    assert user_texts(stack, user.sender) == ["and the hip?"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_anything_but_a_clear_yes_keeps_the_conversation(stack, user_on, channel):
    user = user_on(channel)
    user.ask("what is bone marrow edema", said("marrow"))
    user.ask("can you erase this chat", said(CONFIRM))
    user.ask("no", said(CONVERSATION_KEPT))
    assert user_texts(stack, user.sender) == ["what is bone marrow edema", "can you erase this chat", "no"]


# --- what the logs and error pages show ---------------------------------------------------------


def test_error_pages_show_no_secret(stack):
    probes = [
        urllib.request.Request(f"{stack.base_url}/webhooks/rest/webhook?token=wrong-{REST_TOKEN[:4]}", b"{}"),
        urllib.request.Request(f"{stack.base_url}/webhooks/rest/webhook?token={REST_TOKEN}", b"not json"),
        urllib.request.Request(f"{stack.base_url}/conversations/someone/tracker?token=wrong"),
        urllib.request.Request(f"{stack.base_url}/no/such/page"),
        urllib.request.Request(
            f"{stack.base_url}/webhooks/telegram/webhook", b"{}", {"X-Telegram-Bot-Api-Secret-Token": "x"}
        ),
    ]
    body = b"payload=not-json"
    timestamp = str(int(time.time()))
    signature = hmac.new(SLACK_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    slack_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={signature}",
    }
    probes.append(urllib.request.Request(f"{stack.base_url}/webhooks/slack/webhook", body, slack_headers))
    statuses = []
    for probe in probes:
        try:
            with urllib.request.urlopen(probe, timeout=30) as response:
                statuses.append(response.status)
                stack.bodies.append(response.read())
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
            stack.bodies.append(error.read())
    assert all(status >= 400 for status in statuses), statuses
    for answer in stack.bodies:
        assert not any(secret.encode() in answer for secret in SECRETS), answer[:300]


def test_the_logs_show_no_text_sender_slot_value_or_secret(stack):
    """Last: everything both processes logged during this module, at the default level."""
    logged = stack.rasa_log.read_text(errors="replace") + stack.actions_log.read_text(errors="replace")
    assert "Starting Rasa server" in logged or "Rasa server is up" in logged  # the log is the real one
    assert len(stack.texts) >= 10 and len(stack.senders) >= 30
    # Texts of a few words: "no" or "hi" occur in any log.
    found = [text for text in stack.texts if len(text) >= 12 and text in logged]
    found += [sender for sender in stack.senders if sender in logged]
    found += [secret for secret in SECRETS if secret in logged]
    found += re.findall(r"(?:topic|choice)\W{1,5}(?:shoes|causes|recovery)", logged)
    assert found == [], "\n".join(found)
