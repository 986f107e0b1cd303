"""Conversations survive a restart: the embedded SQLite tracker store, with real processes."""

from __future__ import annotations

import json
import urllib.request

from tests.system.running_assistant import start_assistant

API_TOKEN = "persistence-test-token"


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
