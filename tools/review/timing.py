"""How long the review page takes over a large store: N events of made-up conversations.

Seeds a temporary SQLite store through our tracker store's table (Rasa's `events`, with its
indexes) with conversations shaped as Rasa stores them (a session start, then per turn the
user message with its parse data, the action, the reply with its answer id, the slots, the
listen), with fallbacks, out-of-scope answers, red flags, unsure intents and 👍 / 👎 among them,
over the last 45 days. Then serves the page on 127.0.0.1 and times, over HTTP: reading the store
at start-up, the list (every kind, each kind, an older page, a date range), a conversation,
and a label (which also rewrites the NLU file).

Usage: python -m tools.review.timing [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy

from tools.review.__main__ import Review, handler_for
from tools.review.labels import Labels
from tools.review.store import KINDS, ReviewIndex

_PLACES = ["knee", "hip", "ankle", "foot", "heel", "shin"]
_ASKS = ["how long until my {} is better", "what shoes for a sore {}", "is running ok with a bad {}",
         "why does my {} ache at night", "can the {} get worse", "what scan shows the {} best"]  # fmt: skip
_INTENTS = ["ask_recovery_time", "ask_shoes", "faq_walking", "describe_symptoms", "faq_is_serious", "ask_imaging"]
_ANSWERS = ["recovery", "shoes.knee", "faq.walking", "symptoms", "faq.is_serious", "diagnosis"]


def _ranking(intent: str, confidence: float) -> list[dict[str, Any]]:
    others = [name for name in _INTENTS if name != intent]
    rest = (1 - confidence) / len(others)
    return [{"name": intent, "confidence": confidence}] + [{"name": n, "confidence": rest} for n in others]


def _conversation(rng: random.Random, sender: str, start: float, turns: int) -> Iterator[dict[str, Any]]:
    """One conversation's events, as Rasa's store writes them (`sender_id` added)."""
    at = start
    meta = {"model_id": "0" * 32, "assistant_id": "bme-assistant"}

    def event(kind: str, **data: Any) -> dict[str, Any]:
        nonlocal at
        at += rng.uniform(0.001, 0.02)
        return {"event": kind, "timestamp": at, **data}

    yield event("action", name="action_session_start", policy=None, confidence=1.0)
    yield event("bot", text="Hi, I'm the assistant.", metadata={"answer": "welcome", **meta}, data={})
    yield event("session_started", metadata=meta)
    yield event("action", name="action_listen", policy=None, confidence=None)
    for _ in range(turns):
        at += rng.uniform(5, 120)
        pick = rng.randrange(len(_INTENTS))
        place = rng.choice(_PLACES)
        text = _ASKS[pick].format(place) + rng.choice(["", "?", " please", " thanks"])
        roll = rng.random()
        confidence = rng.uniform(0.3, 0.59) if roll < 0.25 else rng.uniform(0.6, 0.99)
        intent = "nlu_fallback" if confidence < 0.5 else _INTENTS[pick]
        answer = "clarify" if roll < 0.1 else _ANSWERS[pick]
        red_flags: dict[str, list[str]] = {"categories": [], "negated": [], "mentioned": []}
        if roll > 0.97:
            intent, answer, red_flags["categories"] = "red_flag", "urgent", ["fever"]
        elif 0.9 < roll <= 0.95:
            answer = "out_of_scope"
        ranking = _ranking(_INTENTS[pick], confidence)
        if intent == "nlu_fallback":
            ranking = [{"name": "nlu_fallback", "confidence": 0.5}, *ranking]
        parse = {
            "intent": {"name": intent, "confidence": 1.0 if intent == "red_flag" else confidence},
            "entities": [{"entity": "location", "value": place, "start": 0, "end": len(place)}],
            "text": text,
            "message_id": f"{rng.getrandbits(128):032x}",
            "metadata": {},
            "intent_ranking": ranking,
            "red_flags": red_flags,
        }
        yield event("user", text=text, parse_data=parse, input_channel="socketio", metadata=meta)
        yield event("user_featurization", use_text_for_featurization=False)
        yield event("action", name="action_answer", policy="RulePolicy", confidence=1.0)
        bubble = "Made-up answer text about the " + place + ". " * 8
        bot = event("bot", text=bubble, metadata={"answer": answer, "rate": True, **meta}, data={})
        yield bot
        yield event("slot", name="topic", value=_ANSWERS[pick].split(".")[0])
        yield event("slot", name="choice", value=None)
        yield event("action", name="action_listen", policy=None, confidence=None)
        if rng.random() < 0.05:
            rating = "down" if rng.random() < 0.4 else "up"
            yield event("slot", name="feedback", value={"rating": rating, "at": bot["timestamp"], "answer": answer})


def seed(url: str, events: int, seed_value: int = 14) -> int:
    """Writes about `events` events into the store at `url`; returns how many."""
    from bot.stores.tracker_store import TurnLimitedSQLTrackerStore, _row

    store = TurnLimitedSQLTrackerStore(dialect="sqlite", db=sqlalchemy.engine.make_url(url).database)
    rng = random.Random(seed_value)
    now = time.time()
    rows: list[dict[str, Any]] = []
    while len(rows) < events:
        sender = f"{rng.getrandbits(64):016x}"
        start = now - rng.uniform(0, 45 * 86400)
        rows += [_row(sender, _Event(event)) for event in _conversation(rng, sender, start, rng.randint(1, 12))]
    rows = rows[:events]
    # In time order, as a live store would have them (ids grow with time).
    rows.sort(key=lambda row: row["timestamp"])
    with store.engine.begin() as connection:
        connection.execute(store.SQLEvent.__table__.insert(), rows)
    return len(rows)


class _Event:
    """Enough of a Rasa event for the tracker store's `_row`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data, self.type_name = data, data["event"]

    def as_dict(self) -> dict[str, Any]:
        return self.data


def get(url: str) -> tuple[bytes, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    return body, time.perf_counter() - started


def measure(events: int, folder: Path) -> dict[str, float]:
    """Seconds for the start-up read and each page, over a fresh store of `events` events."""
    url = f"sqlite:///{folder / 'conversations.db'}"
    written = seed(url, events)
    index = ReviewIndex.open(url)
    started = time.perf_counter()
    index.refresh()
    times = {"start-up: read the store": time.perf_counter() - started}
    review = Review(index, Labels(folder / "labels.json"), folder / "reviewed.yml", token=None, tests=[])
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(review, "127.0.0.1", 0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://localhost:{server.server_port}"
    try:
        _, times["list, every kind"] = get(f"{base}/")
        for kind in KINDS:
            _, times[f"list, {kind}"] = get(f"{base}/?kind={kind}")
        _, times["list, page 10"] = get(f"{base}/?page=10")
        since = time.strftime("%Y-%m-%d", time.localtime(time.time() - 7 * 86400))
        _, times["list, last 7 days"] = get(f"{base}/?since={since}")
        turn = next(index.worth_a_look())
        _, times["a conversation"] = get(f"{base}/turn/{turn.id}")
        form = urllib.parse.urlencode({"turn": turn.id, "intent": "ask_cause", "csrf": review.csrf, "back": "/"})
        started = time.perf_counter()
        request = urllib.request.Request(f"{base}/label", form.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()  # follows the redirect: the label, the export and the list again
        times["a label (and the list after it)"] = time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()
    times["events"] = float(index.event_count())
    times["events read"] = float(index.events_read)
    assert written <= times["events"]
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bme-review-timing-") as folder:
        times = measure(args.events, Path(folder))
    print(f"Review page over {times.pop('events'):.0f} events ({times.pop('events read'):.0f} of them read):")
    for what, seconds in times.items():
        print(f"  {what:34} {seconds * 1000:7.0f} ms")
    print(json.dumps({k: round(v, 4) for k, v in times.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
