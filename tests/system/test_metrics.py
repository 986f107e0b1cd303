"""/metrics on the real assistant (`make run`'s way, with METRICS_TOKEN): scraped before and after a
known conversation over REST, every counter moved by exactly what that conversation did. Also
the 👍 / 👎 payloads over REST: kept in the conversation, thanked, counted, never a turn."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.domain.feedback import payload
from bot.domain.replies import FEEDBACK_THANKS
from tests.system.running_assistant import RunningAssistant, start_assistant

TOKEN = "metrics-test-token"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def assistant() -> Iterator[RunningAssistant]:
    with start_assistant(METRICS_TOKEN=TOKEN) as running:
        yield running


def get_metrics(assistant: RunningAssistant, token: str | None = TOKEN) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{assistant.base_url}/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def scrape(assistant: RunningAssistant) -> Samples:
    status, _, text = get_metrics(assistant)
    assert status == 200, text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in after, f"{name}{labels} is not exposed"
    return after[key] - before.get(key, 0.0)


def say(assistant: RunningAssistant, sender: str, message: str) -> tuple[int, list[dict]]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(
        f"{assistant.base_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, []


def stored(assistant: RunningAssistant, sender: str) -> list[dict]:
    with sqlite3.connect(assistant.database) as connection:
        rows = connection.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()
    return [json.loads(data) for (data,) in rows]


def test_metrics_need_the_token(assistant):
    assert get_metrics(assistant, token=None)[0] == 401
    assert get_metrics(assistant, token="wrong")[0] == 401
    status, content_type, text = get_metrics(assistant)
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert "bme_messages_total" in text and "process_cpu_seconds_total" in text


def test_a_known_conversation_moves_every_counter_by_what_it_did(assistant):
    before = scrape(assistant)
    sender = "metrics-known"
    texts = {}
    for message in [
        "what is bone marrow edema?",
        "blorp the snarfle",
        "can I eat pizza",
        "my knee is red hot and swollen and I have a fever",
    ]:
        status, replies = say(assistant, sender, message)
        assert status == 200
        texts[message] = " ".join(reply.get("text", "") for reply in replies)
    assert "Did you mean" in texts["blorp the snarfle"]
    assert "outside what I can help with" in texts["can I eat pizza"]
    assert "urgent attention" in texts["my knee is red hot and swollen and I have a fever"]
    assert say(assistant, sender, "   ")[0] == 400  # refused by the input guard

    # 👎 then 👍 on the definition, as its buttons would send them; and a forged one.
    definition = next(e for e in stored(assistant, sender) if e["event"] == "bot" and e["metadata"].get("rate"))
    assert definition["metadata"]["answer"] == "definition"
    for text in (payload("down", definition["timestamp"]), payload("up", definition["timestamp"]), payload("up", 1.5)):
        status, replies = say(assistant, sender, text)
        assert (status, [r["text"] for r in replies]) == (200, [FEEDBACK_THANKS])
    after = scrape(assistant)

    assert moved(before, after, "bme_messages_total", channel="rest") == 4  # feedback is no message
    assert moved(before, after, "bme_reply_seconds_count", channel="rest") == 4
    for intent in ("ask_definition", "nlu_fallback", "out_of_scope", "red_flag"):
        assert moved(before, after, "bme_intents_total", intent=intent) == 1, intent
    assert moved(before, after, "bme_fallbacks_total") == 1
    assert moved(before, after, "bme_out_of_scope_answers_total") == 1
    assert moved(before, after, "bme_urgent_responses_total") == 1
    assert moved(before, after, "bme_red_flags_total", layer="both") == 1
    assert moved(before, after, "bme_red_flags_total", layer="detector") == 0
    assert moved(before, after, "bme_red_flags_total", layer="classifier") == 0
    assert moved(before, after, "bme_feedback_total", rating="down") == 1
    assert moved(before, after, "bme_feedback_total", rating="up") == 1  # the forged one is not kept
    assert moved(before, after, "bme_guard_refusals_total", reason="bad_input") == 1
    for kind in ("exception", "timeout", "apology"):
        assert moved(before, after, "bme_errors_total", kind=kind) == 0, kind

    events = stored(assistant, sender)
    kept = [e["value"] for e in events if e["event"] == "slot" and e["name"] == "feedback"]
    assert kept == [
        {"rating": "down", "at": definition["timestamp"], "answer": "definition"},
        {"rating": "up", "at": definition["timestamp"], "answer": "definition"},
    ]
    assert [e["text"] for e in events if e["event"] == "user"] == [
        "what is bone marrow edema?",
        "blorp the snarfle",
        "can I eat pizza",
        "my knee is red hot and swollen and I have a fever",
    ]  # no feedback payload became a user message


def test_a_conversation_goes_on_as_before_after_feedback(assistant):
    sender = "metrics-after-feedback"
    status, replies = say(assistant, sender, "which shoes help with bone marrow oedema?")
    assert status == 200 and "Where is your BME" in replies[-1]["text"]  # the choice form waits
    welcome = next(e for e in stored(assistant, sender) if e["event"] == "bot")
    assert say(assistant, sender, payload("down", welcome["timestamp"]))[1][0]["text"] == FEEDBACK_THANKS
    status, replies = say(assistant, sender, "left knee")  # still read as the answer to the question
    assert "Hoka Bondi 9" in " ".join(r["text"] for r in replies)
