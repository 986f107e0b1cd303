"""The Telegram channel end to end: the real assistant, talking to a fake Telegram Bot API.

The fake API runs on 127.0.0.1 (TELEGRAM_API_URL points the channel at it), answers like
Telegram and records every call, so the tests can post updates the way Telegram does and
check what the assistant sent back: setWebhook at start-up, sendMessage replies, inline
keyboards and answerCallbackQuery. The secret header, and bodies that are not updates, are
checked too; none of it may give a 500 (Telegram would redeliver the update).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from bot.channels.telegram import CALLBACK_DATA_MAX_BYTES, callback_data
from bot.domain.knowledge import knowledge
from bot.domain.replies import reply
from bot.domain.topics import payload_for
from tests.system.fakes import (
    TELEGRAM_BOT_NAME,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    WAIT_S,
    FakeTelegram,
    TelegramWebhook,
)
from tests.system.fakes import telegram_message as message
from tests.system.running_assistant import ROOT, free_port, start_assistant

TOKEN, BOT_NAME, SECRET = TELEGRAM_TOKEN, TELEGRAM_BOT_NAME, TELEGRAM_SECRET
WEBHOOK_URL = "https://example.invalid/webhooks/telegram/webhook"


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def assistant(telegram: FakeTelegram) -> Iterator[Any]:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BOT_NAME": BOT_NAME,
        "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
        "TELEGRAM_SECRET_TOKEN": SECRET,
        "TELEGRAM_API_URL": telegram.url,
    }
    with start_assistant(**env) as running:
        # Keep reading the log: it is checked below, and a full pipe would stall the assistant.
        reader = threading.Thread(target=lambda: running.output.extend(running.process.stdout), daemon=True)
        reader.start()
        yield running


@pytest.fixture(scope="module")
def webhook(assistant: Any) -> TelegramWebhook:
    return TelegramWebhook(assistant.base_url)


def sent_texts(telegram: FakeTelegram, chat_id: int) -> str:
    return "\n".join(p["text"] for p in telegram.calls_of("sendMessage", chat_id=chat_id))


def test_the_webhook_is_set_at_start_up_with_the_secret(telegram, assistant):
    (call,) = telegram.wait_for("setWebhook")
    assert call["url"] == WEBHOOK_URL and call["secret_token"] == SECRET
    assert set(json.loads(call["allowed_updates"])) == {"message", "callback_query"}
    methods = [m for m, _ in telegram.calls]
    assert methods.index("getMe") < methods.index("setWebhook")  # `verify`: the token is our bot's


def test_a_text_message_is_answered_and_so_is_the_next(telegram, webhook, assistant):
    assert webhook.text(1001, "what is bone marrow edema") == 200
    first = telegram.wait_for("sendMessage", count=2, chat_id=1001)  # the welcome (with the disclaimer), the answer
    assert any("marrow" in p["text"] and "MRI" in p["text"] for p in first)
    assert webhook.text(1001, "how long does overuse bme take to heal") == 200
    telegram.wait_for("sendMessage", count=len(first) + 1, chat_id=1001)
    assert "4–8 weeks" in sent_texts(telegram, 1001)
    assert not any("Event loop is closed" in line for line in assistant.output)


def test_a_redelivered_update_is_answered_once(telegram, webhook):
    update = json.dumps({"update_id": 990001, "message": message(6001, "what is bone marrow edema")}).encode()
    assert webhook.post(update) == 200
    assert webhook.post(update) == 200  # Telegram redelivers when it thinks the first failed
    assert webhook.text(6001, "how long does overuse bme take to heal") == 200
    telegram.wait_for("sendMessage", count=3, chat_id=6001)  # the welcome, the two answers
    time.sleep(0.5)
    assert sum("MRI" in p["text"] for p in telegram.calls_of("sendMessage", chat_id=6001)) == 1


@pytest.mark.parametrize("secret", [None, "wrong"], ids=["missing", "wrong"])
def test_an_update_without_the_right_secret_is_refused(telegram, webhook, secret):
    chat_id = 2001 if secret is None else 2002
    assert webhook.text(chat_id, "what is bone marrow edema", secret=secret) == 403
    time.sleep(0.5)
    assert telegram.calls_of("sendMessage", chat_id=chat_id) == []


def test_buttons_become_an_inline_keyboard_and_a_press_is_answered(telegram, webhook):
    assert webhook.text(3001, "which shoes help with bone marrow oedema") == 200
    telegram.wait_for("sendMessage", count=2, chat_id=3001)
    with_keyboard = [p for p in telegram.calls_of("sendMessage", chat_id=3001) if "reply_markup" in p]
    assert len(with_keyboard) == 1
    buttons = [b for row in json.loads(with_keyboard[0]["reply_markup"])["inline_keyboard"] for b in row]
    assert sorted(b["text"] for b in buttons) == ["Ankle", "Foot", "Hip", "Knee"]
    ankle = next(b for b in buttons if b["text"] == "Ankle")
    before = len(telegram.calls_of("sendMessage", chat_id=3001))

    press = {
        "id": "cbq-3001",
        "from": {"id": 3001, "is_bot": False, "first_name": "Test"},
        "message": message(3001, with_keyboard[0]["text"], message_id=7),
        "chat_instance": "42",
        "data": ankle["callback_data"],
    }
    assert webhook.update(callback_query=press) == 200
    telegram.wait_for("answerCallbackQuery", callback_query_id="cbq-3001")
    telegram.wait_for("sendMessage", count=before + 1, chat_id=3001)
    assert "Merrell Moab 3" in sent_texts(telegram, 3001)


def test_an_answer_has_thumbs_and_a_press_is_kept_as_feedback_and_thanked(telegram, webhook, assistant):
    assert webhook.text(3101, "can ultrasound see bone marrow edema?") == 200
    answer = next(
        p
        for p in telegram.wait_for("sendMessage", count=2, chat_id=3101)
        if "reply_markup" in p and "ultrasound" in p["text"]
    )
    rows = json.loads(answer["reply_markup"])["inline_keyboard"]
    thumbs = {b["text"]: b["callback_data"] for b in rows[-1]}  # a row of their own, last
    assert set(thumbs) == {"👍", "👎"} and all(len(data.encode()) <= 64 for data in thumbs.values())
    welcome = telegram.calls_of("sendMessage", chat_id=3101)[0]
    assert "reply_markup" not in welcome  # the welcome offers none
    before = len(telegram.calls_of("sendMessage", chat_id=3101))
    press = {
        "id": "cbq-3101",
        "from": {"id": 3101, "is_bot": False, "first_name": "Test"},
        "message": message(3101, answer["text"], message_id=8),
        "chat_instance": "43",
        "data": thumbs["👎"],
    }
    assert webhook.update(callback_query=press) == 200
    telegram.wait_for("answerCallbackQuery", callback_query_id="cbq-3101")
    (thanks,) = telegram.wait_for("sendMessage", count=before + 1, chat_id=3101)[before:]
    assert thanks["text"] == "Thanks for your feedback."
    with sqlite3.connect(assistant.database) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = '3101' ORDER BY id").fetchall()
    events = [json.loads(data) for (data,) in rows]
    assert [e["value"]["rating"] for e in events if e["event"] == "slot" and e["name"] == "feedback"] == ["down"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["can ultrasound see bone marrow edema?"]


def test_the_start_command_is_a_greeting(telegram, webhook):
    assert webhook.text(4001, "/start") == 200  # what a Telegram client sends first
    telegram.wait_for("sendMessage", count=2, chat_id=4001)  # the welcome (with the disclaimer), the greeting
    assert "Hello!" in sent_texts(telegram, 4001)


MALFORMED = {
    "not json": b"this is not json",
    "empty body": b"",
    "a list": b"[1, 2]",
    "a string": b'"update"',
    "no content": b'{"update_id": 1}',
    "unknown type": b'{"update_id": 2, "poll": {"id": "1"}}',
    "edited message": json.dumps({"update_id": 3, "edited_message": message(5001, "edited")}).encode(),
    "channel post": json.dumps({"update_id": 4, "channel_post": message(5002, "post")}).encode(),
    "message not an object": b'{"update_id": 5, "message": "hi"}',
    "message without chat": b'{"update_id": 6, "message": {"message_id": 1, "text": "hi"}}',
    "chat id not a number": b'{"update_id": 7, "message": {"chat": {"id": "x"}, "text": "hi"}}',
    "text not a string": b'{"update_id": 8, "message": {"chat": {"id": 5003, "type": "group"}, "text": 5}}',
    "sticker": json.dumps({"update_id": 9, "message": {**message(5004), "sticker": {"file_id": "x"}}}).encode(),
    "callback without id": b'{"update_id": 10, "callback_query": {"data": "/affirm"}}',
    "callback without message": b'{"update_id": 11, "callback_query": {"id": "c", "data": "/affirm"}}',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_bad_update_gets_a_200_or_a_400_never_a_500(webhook, body):
    assert webhook.post(body) in (200, 400)


def test_ignored_updates_send_nothing_and_unreadable_messages_say_so(telegram, webhook):
    assert webhook.post(MALFORMED["edited message"]) == 200
    assert webhook.post(MALFORMED["sticker"]) == 200
    assert telegram.wait_for("sendMessage", chat_id=5004)[0]["text"] == "Sorry, I can only read text messages."
    assert telegram.calls_of("sendMessage", chat_id=5001) == []


def test_a_failed_set_webhook_is_logged_and_the_other_channels_keep_serving():
    unreachable = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
        "TELEGRAM_API_URL": unreachable,
        "REST_TOKEN": "",
    }
    with start_assistant(**env) as running:
        threading.Thread(target=lambda: running.output.extend(running.process.stdout), daemon=True).start()
        body = json.dumps({"sender": "rest-user", "message": "what is bone marrow edema"}).encode()
        request = urllib.request.Request(f"{running.base_url}/webhooks/rest/webhook", body)
        with urllib.request.urlopen(request, timeout=30) as response:
            assert any("marrow" in m.get("text", "") for m in json.loads(response.read()))
        deadline = time.monotonic() + WAIT_S
        while not any("setWebhook failed" in line for line in running.output) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any("setWebhook failed" in line for line in running.output)
        assert running.process.poll() is None


def test_every_button_payload_fits_telegram_callback_data():
    """Buttons send their payload back as callback_data, which Telegram limits to 64 bytes."""
    choices = {choice for answer in knowledge().answer_ids() for choice in reply(answer).choices}
    payloads = [payload_for(choice) for choice in choices]  # as actions.say builds them
    intents = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"]
    payloads += [f"/{intent}" for intent in intents]  # fallback topics, yes/no buttons
    too_long = [p for p in payloads if len(p.encode()) > CALLBACK_DATA_MAX_BYTES]
    assert choices and not too_long


def test_an_over_long_payload_falls_back_to_the_title():
    assert (
        callback_data({"title": "Ankle", "payload": '/inform{"location": "ankle"}'}) == '/inform{"location": "ankle"}'
    )
    assert callback_data({"title": "Ankle", "payload": "/" + "x" * 80}) == "Ankle"
