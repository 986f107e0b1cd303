"""The review page (tools/review/) over real tracker stores (SQLite, written by our store): the
turns worth a look and why, the conversation around one, the chart's figures, labels exported
as Rasa NLU data without any test-set message, who may open the page, and its speed over
100,000 events."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.nlu.training_data.loading import load_data

from bot.names import FEEDBACK_SLOT
from bot.settings import ROOT
from bot.stores.tracker_store import TurnLimitedSQLTrackerStore
from tests.integration.sessions import tracker_for_turn
from tools.review import labels as labelling
from tools.review.__main__ import Review, handler_for, host_name
from tools.review.labels import Labels, export, normalise, texts_in
from tools.review.store import (
    FALLBACK,
    LOW_CONFIDENCE,
    OUT_OF_SCOPE_KIND,
    RED_FLAG,
    THUMBS_DOWN_KIND,
    ReviewIndex,
)
from tools.review.timing import measure

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def parse(intent: str, confidence: float, categories: list[str] | None = None, top: str | None = None) -> dict:
    ranking = [{"name": top or intent, "confidence": confidence}, {"name": "inform", "confidence": 0.1}]
    if intent == "nlu_fallback":
        ranking = [{"name": "nlu_fallback", "confidence": 0.5}, {"name": top or "ask_cause", "confidence": confidence}]
    return {
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking,
        "red_flags": {"categories": categories or []},
    }


class Conversations:
    """Writes conversations through our tracker store, as Rasa would."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        self.store = TurnLimitedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))

    def turn(self, sender: str, text: str, parse_data: dict, *answers: dict) -> float:
        """One turn; returns its last bubble's timestamp."""

        async def run() -> float:
            tracker = await tracker_for_turn(self.store, sender)
            tracker.update(UserUttered(text, parse_data["intent"], parse_data=parse_data, input_channel="rest"))
            tracker.update(ActionExecuted("action_answer"))
            bubbles = [BotUttered(f"reply to {text}", metadata=metadata) for metadata in answers]
            for bubble in bubbles:
                tracker.update(bubble)
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            await self.store.save(tracker)
            return bubbles[-1].timestamp if bubbles else 0.0

        return asyncio.run(run())

    def rate(self, sender: str, at: float, rating: str, answer: str) -> None:
        async def run() -> None:
            tracker = await self.store.retrieve(sender)
            tracker.update(SlotSet(FEEDBACK_SLOT, {"rating": rating, "at": at, "answer": answer}))
            await self.store.save(tracker)

        asyncio.run(run())


@pytest.fixture
def conversations(tmp_path) -> Conversations:
    c = Conversations(tmp_path / "conversations.db")
    c.turn("anna", "what is bme", parse("ask_definition", 0.95), {"answer": "definition", "rate": True})
    c.turn("anna", "blorp the snarfle", parse("nlu_fallback", 0.31), {"answer": "clarify"})
    c.turn("anna", "can I eat pizza", parse("out_of_scope", 0.9), {"utter_action": "utter_out_of_scope"})
    c.turn("ben", "sort of hurts when I walk", parse("describe_symptoms", 0.55), {"answer": "symptoms"})
    urgent = {"utter_action": "utter_urgent_care"}
    c.turn("ben", "fever and a red hot knee", parse("red_flag", 1.0, ["fever"], top="red_flag"), urgent)
    c.turn("cleo", "it is swollen over the bone", parse("red_flag", 1.0, ["swelling"], top="ask_cause"), urgent)
    at = c.turn("cleo", "how long to heal", parse("ask_recovery_time", 0.9), {"answer": "recovery", "rate": True})
    c.rate("cleo", at, "down", "recovery")
    c.turn("cleo", "and for AVN?", parse("inform", 0.9), {"answer": "recovery.avascular_necrosis"})
    return c


def test_the_turns_worth_a_look_newest_first_and_why(conversations):
    index = ReviewIndex.open(conversations.url)
    index.refresh()
    listed = [(turn.text, turn.kinds) for turn in index.worth_a_look()]
    assert listed == [
        ("how long to heal", [THUMBS_DOWN_KIND]),
        ("it is swollen over the bone", [RED_FLAG]),
        ("fever and a red hot knee", [RED_FLAG]),
        ("sort of hurts when I walk", [LOW_CONFIDENCE]),
        ("can I eat pizza", [OUT_OF_SCOPE_KIND]),
        ("blorp the snarfle", [FALLBACK, LOW_CONFIDENCE]),
    ]
    by_text = {turn.text: turn for turn in index.turns}
    assert by_text["fever and a red hot knee"].red_flag == "both"
    assert by_text["it is swollen over the bone"].red_flag == "detector"
    assert by_text["blorp the snarfle"].ranking[0] == ("ask_cause", 0.31)  # the classifier's, not the fallback
    assert by_text["how long to heal"].rated_answer == "recovery"
    red_flags = [t.text for t in index.worth_a_look([RED_FLAG])]
    assert red_flags == ["it is swollen over the bone", "fever and a red hot knee"]
    tomorrow = date.today() + timedelta(days=1)
    assert list(index.worth_a_look(since=tomorrow)) == []
    assert len(list(index.worth_a_look(until=tomorrow))) == 6


def test_each_refresh_reads_only_what_was_added(conversations):
    index = ReviewIndex.open(conversations.url)
    first = index.refresh()
    assert index.refresh() == 0
    conversations.turn("dan", "zzz qqq", parse("nlu_fallback", 0.2), {"answer": "clarify"})
    assert index.refresh() == 2  # the message and its reply
    assert index.events_read == first + 2
    assert next(index.worth_a_look()).text == "zzz qqq"


def test_the_conversation_around_a_turn(conversations):
    index = ReviewIndex.open(conversations.url)
    index.refresh()
    turn = next(t for t in index.turns if t.text == "how long to heal")
    lines = index.conversation_around(turn)
    assert [(line.who, line.text) for line in lines] == [
        ("user", "it is swollen over the bone"),
        ("bot", "reply to it is swollen over the bone"),
        ("user", "how long to heal"),
        ("bot", "reply to how long to heal"),
        ("feedback", "thumbs down"),
        ("user", "and for AVN?"),
        ("bot", "reply to and for AVN?"),
    ]
    assert lines[1].answer == "urgent" and lines[4].answer == "recovery"


def test_the_chart_counts_conversations_fallbacks_and_urgent_responses_a_day(conversations):
    index = ReviewIndex.open(conversations.url)
    index.refresh()
    days = index.days()
    assert len(days) == 30 and days[-1].day == date.today()
    today = days[-1]
    assert (today.conversations, today.turns, today.fallbacks, today.urgent) == (3, 8, 1, 2)
    assert sum(day.turns for day in days[:-1]) == 0


def test_labels_become_nlu_data_without_any_message_of_a_test_set_or_the_training_data(tmp_path, conversations):
    index = ReviewIndex.open(conversations.url)
    index.refresh()
    turns = {turn.text: turn for turn in index.turns}
    # Stand-ins for the test sets and the training data, in their layouts.
    heldout = tmp_path / "heldout.yml"
    heldout.write_text('version: "3.1"\nnlu:\n- intent: ask_cause\n  examples: |\n    - Blorp the snarfle?\n')
    blind = tmp_path / "blind.yml"
    blind.write_text(yaml.safe_dump({"conversations": [{"id": "x", "turns": [{"text": "can I eat  PIZZA"}]}]}))
    training = tmp_path / "nlu"
    training.mkdir()
    (training / "faq.yml").write_text('version: "3.1"\nnlu:\n- intent: faq_walking\n  examples: |\n    - and for avn\n')
    labels = Labels(tmp_path / "labels.json")
    labels.set(turns["blorp the snarfle"].id, "blorp the snarfle", "ask_cause")  # in the held-out set
    labels.set(turns["can I eat pizza"].id, "can I eat pizza", "out_of_scope")  # in a blind set
    labels.set(turns["and for AVN?"].id, "and for AVN?", "inform")  # already a training example
    labels.set(turns["sort of hurts when I walk"].id, "sort of hurts when I walk", "describe_symptoms")
    labels.set(turns["how long to heal"].id, "how long to heal", "ask_recovery_time")
    labels.set(turns["how long to heal"].id, "how long to heal", "faq_heal_on_own")  # changed: the latest wins
    labels.set(10**9, "/ask_cause", "ask_cause")
    labels.set(10**9 + 1, "my [knee](location) hurts", "describe_symptoms")
    out = tmp_path / "reviewed.yml"

    result = export(Labels(tmp_path / "labels.json").all(), out, [heldout, blind], training)

    assert result.examples == {
        "describe_symptoms": ["sort of hurts when I walk"],
        "faq_heal_on_own": ["how long to heal"],
    }
    assert result.left_out == {
        turns["blorp the snarfle"].id: labelling.LEFT_OUT_SEEN,
        turns["can I eat pizza"].id: labelling.LEFT_OUT_SEEN,
        turns["and for AVN?"].id: labelling.LEFT_OUT_SEEN,
        10**9: labelling.LEFT_OUT_PAYLOAD,
        10**9 + 1: labelling.LEFT_OUT_MARKUP,
    }
    data = load_data(str(out))  # Rasa reads it as training data
    assert sorted((m.get("intent"), m.get("text")) for m in data.training_examples) == [
        ("describe_symptoms", "sort of hurts when I walk"),
        ("faq_heal_on_own", "how long to heal"),
    ]


def test_the_real_test_sets_are_read_to_leave_their_messages_out():
    sets = labelling.test_sets()
    assert ROOT / "tests" / "nlu" / "heldout.yml" in sets
    assert any(path.parent.name == "red_flags" for path in sets) and any(path.parent.name == "blind" for path in sets)
    for path in sets:
        assert path.exists() and len(texts_in(path)) > 10, path
    assert normalise("  What causes it?? ") == normalise("what causes   it")


@pytest.fixture
def served(tmp_path, conversations) -> Iterator[tuple[str, Review]]:
    index = ReviewIndex.open(conversations.url)
    index.refresh()
    review = Review(index, Labels(tmp_path / "labels.json"), tmp_path / "reviewed.yml", token="s3cret", tests=[])
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(review, "127.0.0.1", 0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_port}", review
    server.shutdown()
    server.server_close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def request(url: str, data: bytes | None = None, **headers: str) -> tuple[int, dict[str, str], str]:
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data, headers), timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_the_page_wants_its_token_its_own_host_name_and_its_own_forms(served):
    base, review = served
    assert request(f"{base}/")[0] == 401
    status, headers, _ = request(f"{base}/?token=s3cret")
    assert status == 303 and "review_token=s3cret" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
    cookie = {"Cookie": "review_token=s3cret"}
    status, headers, page = request(f"{base}/?kind=red_flag", **cookie)
    assert status == 200 and "fever and a red hot knee" in page and "blorp" not in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert request(f"{base}/", Authorization="Bearer s3cret")[0] == 200
    # Another host name (a DNS rebinding page) gets nothing, even with the token.
    assert request(f"{base}/", Host="evil.example", **cookie)[0] == 421
    turn = next(review.index.worth_a_look([FALLBACK]))
    form = {"turn": str(turn.id), "intent": "ask_cause", "back": "/?kind=fallback"}
    forged = urllib.parse.urlencode({**form, "csrf": "guessed"}).encode()
    assert request(f"{base}/label", forged, **cookie)[0] == 403
    genuine = urllib.parse.urlencode({**form, "csrf": review.csrf}).encode()
    status, headers, _ = request(f"{base}/label", genuine, **cookie)
    assert status == 303 and headers["Location"] == f"/?kind=fallback#turn-{turn.id}"
    assert review.labels.get(turn.id).intent == "ask_cause"
    status, _, text = request(f"{base}/reviewed.yml", **cookie)
    assert status == 200 and "- blorp the snarfle" in text
    assert request(f"{base}/turn/{turn.id}", **cookie)[0] == 200


def test_host_names_and_the_loopback_rule():
    assert host_name("localhost:5080") == "localhost" and host_name("[::1]:5080") == "[::1]"
    assert host_name("127.0.0.1") == "127.0.0.1"


def test_every_page_takes_under_a_second_over_100000_events(tmp_path):
    times = measure(100_000, tmp_path)
    assert times.pop("events") == 100_000
    times.pop("events read")
    print({what: f"{seconds * 1000:.0f} ms" for what, seconds in times.items()})
    slow = {what: seconds for what, seconds in times.items() if seconds >= 1.0}
    assert slow == {}, slow


def test_served_only_on_this_machine_without_a_token(tmp_path, conversations):
    from tools.review.__main__ import main

    started = time.monotonic()
    assert main(["--host", "0.0.0.0", "--db", conversations.url, "--labels", str(tmp_path / "l.json")]) == 2
    assert time.monotonic() - started < 5  # refused before reading anything
    assert main(["--db", f"sqlite:///{tmp_path / 'none.db'}", "--html", str(tmp_path / "r.html")]) == 1


def test_an_unchanged_export_leaves_the_file_alone(tmp_path):
    """`make train` retrains when a training file is newer than the model."""
    labels = Labels(tmp_path / "labels.json")
    labels.set(1, "sort of hurts when I walk", "describe_symptoms")
    out = tmp_path / "reviewed.yml"
    export(labels.all(), out, [], tmp_path)
    written = out.stat().st_mtime_ns
    time.sleep(0.01)
    export(labels.all(), out, [], tmp_path)
    assert out.stat().st_mtime_ns == written
