"""Conversations survive a restart, and no longer than the retention period: the embedded SQLite
tracker store, with real processes."""

from __future__ import annotations

import json
import time
import urllib.request

import sqlalchemy
from rasa.shared.core.events import UserUttered

from bot.stores.tracker_store import TurnLimitedSQLTrackerStore, _row
from tests.system.running_assistant import start_assistant

API_TOKEN = "persistence-test-token"
DAY = 86_400
EVENTS = TurnLimitedSQLTrackerStore.SQLEvent.__table__


def say(base_url: str, sender: str, message: str) -> str:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(f"{base_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return "\n".join(m.get("text", "") for m in json.loads(response.read()))


def tracker(base_url: str, sender: str) -> dict:
    url = f"{base_url}/conversations/{sender}/tracker?token={API_TOKEN}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def test_a_conversation_continues_after_the_assistant_restarts(tmp_path):
    database = tmp_path / "conversations.db"
    env = {"TRACKER_DB": str(database), "RASA_API_TOKEN": API_TOKEN}

    with start_assistant(**env) as first:
        assert "Hoka Bondi 9" in say(first.base_url, "restart-me", "best shoes for knee bme?")
    assert database.exists()

    with start_assistant(**env) as second:
        # The follow-up only makes sense with the remembered topic and slots.
        reply = say(second.base_url, "restart-me", "and the hip?")
        assert "Asics Gel-Nimbus 26" in reply
        assert "I can explain what BME is" not in reply  # no new welcome: same session
        state = tracker(second.base_url, "restart-me")
    user_texts = [e["text"] for e in state["events"] if e["event"] == "user"]
    assert user_texts == ["best shoes for knee bme?", "and the hip?"]
    assert state["slots"]["topic"] == "shoes"


def test_conversations_idle_past_retention_are_deleted_at_start_up(tmp_path):
    """CONVERSATION_RETENTION_DAYS: the purge runs when the assistant starts (then hourly)."""
    database = tmp_path / "conversations.db"
    store = TurnLimitedSQLTrackerStore(domain=None, dialect="sqlite", db=str(database))
    now = time.time()
    rows = [_row("idle-50-days", UserUttered("old question", timestamp=now - 50 * DAY + n)) for n in range(5)]
    rows += [_row("idle-40-days", UserUttered("newer question", timestamp=now - 40 * DAY + n)) for n in range(5)]
    with store.engine.begin() as connection:
        connection.execute(EVENTS.insert(), rows)
    store.engine.dispose()

    with start_assistant(TRACKER_DB=str(database), CONVERSATION_RETENTION_DAYS="45") as running:
        deadline = time.monotonic() + 30
        while "idle-50-days" in senders(database) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert senders(database) == {"idle-40-days"}
        assert "marrow" in say(running.base_url, "new-user", "what is bme")
        assert any("Retention: deleted 5 events of 1 conversations" in line for line in running.output)


def senders(database) -> set[str]:
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            return set(connection.execute(sqlalchemy.text("SELECT DISTINCT sender_id FROM events")).scalars())
    finally:
        engine.dispose()
