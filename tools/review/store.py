"""The turns worth a look, read from the tracker store's `events` table.

Rasa keeps every event of every conversation in one table, appended in order: its `id` only
grows. The index reads it once, keeping one small record per user message (a turn) with what
the review needs: the text, the classifier's likeliest intents, the red-flag layer, the answer
ids of the replies and any 👍 / 👎. After that, each refresh reads only the rows added since
(plus a margin, for rows another instance committed late), so a page costs a few milliseconds
however large the store is. Only user and bot events and feedback are read (the `type_name`
and `action_name` columns select them), and each is read as bot/turns.py reads it.

The store is the one `make run` uses (RASA_ENDPOINTS, TRACKER_DB): SQLite by default,
PostgreSQL with endpoints.production.yml (the DB_* variables, expanded by Rasa's YAML reader).
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy

from bot.domain.feedback import THUMBS_DOWN
from bot.names import FEEDBACK_SLOT
from bot.settings import ROOT, Settings
from bot.turns import (
    CLARIFY,
    OUT_OF_SCOPE,
    URGENT,
    answer_of,
    classifier_ranking,
    feedback_of,
    is_low_confidence,
    red_flag_layer,
)

# The kinds of turn worth a look, in the order the page offers them.
FALLBACK = "fallback"
OUT_OF_SCOPE_KIND = "out_of_scope"
LOW_CONFIDENCE = "low_confidence"
RED_FLAG = "red_flag"
THUMBS_DOWN_KIND = "thumbs_down"
KINDS = {
    FALLBACK: '"Did you mean"',
    OUT_OF_SCOPE_KIND: "Out of scope",
    LOW_CONFIDENCE: "Low confidence",
    RED_FLAG: "Red flag",
    THUMBS_DOWN_KIND: "Thumbs down",
}

# Rows another instance may have committed after later ones (a PostgreSQL sequence hands out ids
# at insert, not at commit): each refresh reads this many ids back again.
LATE_ROWS = 1000

_EVENTS = sqlalchemy.table(
    "events",
    sqlalchemy.column("id"),
    sqlalchemy.column("sender_id"),
    sqlalchemy.column("type_name"),
    sqlalchemy.column("timestamp"),
    sqlalchemy.column("action_name"),
    sqlalchemy.column("data"),
)
_WANTED = sqlalchemy.or_(
    _EVENTS.c.type_name.in_(["user", "bot"]),
    sqlalchemy.and_(_EVENTS.c.type_name == "slot", _EVENTS.c.action_name == FEEDBACK_SLOT),
)
_COLUMNS = (_EVENTS.c.id, _EVENTS.c.sender_id, _EVENTS.c.data)
_AFTER = sqlalchemy.select(*_COLUMNS).where(_EVENTS.c.id > sqlalchemy.bindparam("after"), _WANTED)
_AFTER = _AFTER.order_by(_EVENTS.c.id)
_SENDER = _EVENTS.c.sender_id == sqlalchemy.bindparam("sender")
_BEFORE_TURN = sqlalchemy.select(*_COLUMNS).where(_SENDER, _EVENTS.c.id < sqlalchemy.bindparam("turn"), _WANTED)
_BEFORE_TURN = _BEFORE_TURN.order_by(_EVENTS.c.id.desc()).limit(sqlalchemy.bindparam("limit"))
_FROM_TURN = sqlalchemy.select(*_COLUMNS).where(_SENDER, _EVENTS.c.id >= sqlalchemy.bindparam("turn"), _WANTED)
_FROM_TURN = _FROM_TURN.order_by(_EVENTS.c.id).limit(sqlalchemy.bindparam("limit"))


def store_url(settings: Settings) -> sqlalchemy.engine.URL:
    """The tracker store `make run` uses, as an SQLAlchemy URL."""
    from rasa.shared.utils.io import read_yaml_file  # expands ${VAR}, as Rasa reads the file

    endpoints = read_yaml_file(ROOT / settings.endpoints)
    store = (endpoints or {}).get("tracker_store") or {}
    dialect = store.get("dialect") or "sqlite"
    if dialect == "sqlite":
        database = Path(settings.tracker_db or ROOT / str(store.get("db") or "var/conversations.db"))
        return sqlalchemy.engine.URL.create("sqlite", database=str(database.resolve()))
    port = store.get("port")
    return sqlalchemy.engine.URL.create(
        dialect,
        username=store.get("username"),
        password=store.get("password"),
        host=store.get("url"),
        port=int(port) if port else None,
        database=store.get("db"),
    )


@dataclass(eq=False, slots=True)
class Turn:
    """A user message and what the assistant answered."""

    id: int  # the user event's row id
    sender: str
    at: float
    text: str
    channel: str | None
    intent: str | None
    ranking: list[tuple[str, float]]  # the classifier's three likeliest intents
    low_confidence: bool
    red_flag: str | None  # the layer that sent it to urgent care
    answers: list[str] = field(default_factory=list)
    rating: str | None = None  # the latest 👍 / 👎 on one of its answers
    rated_answer: str | None = None

    @property
    def kinds(self) -> list[str]:
        kinds = []
        if CLARIFY in self.answers:
            kinds.append(FALLBACK)
        if OUT_OF_SCOPE in self.answers:
            kinds.append(OUT_OF_SCOPE_KIND)
        if self.low_confidence:
            kinds.append(LOW_CONFIDENCE)
        if self.red_flag:
            kinds.append(RED_FLAG)
        if self.rating == THUMBS_DOWN:
            kinds.append(THUMBS_DOWN_KIND)
        return kinds

    @property
    def day(self) -> date:
        return datetime.fromtimestamp(self.at).date()


@dataclass(frozen=True)
class Line:
    """One line of a conversation as the review shows it."""

    id: int
    who: str  # "user", "bot" or "feedback"
    text: str
    answer: str | None = None


@dataclass(frozen=True)
class Day:
    day: date
    conversations: int
    turns: int
    fallbacks: int
    urgent: int

    @property
    def fallback_rate(self) -> float:
        return self.fallbacks / self.turns if self.turns else 0.0


class ReviewIndex:
    """Every turn of the store, kept up to date by `refresh()`; thread-safe."""

    def __init__(self, engine: sqlalchemy.engine.Engine) -> None:
        self.engine = engine
        self.turns: list[Turn] = []  # by id
        self._ids: list[int] = []
        self._last_turn: dict[str, Turn] = {}
        self._by_bubble: dict[tuple[str, float], Turn] = {}
        self._seen: set[int] = set()  # event ids read, within the last LATE_ROWS
        self.last_id = 0
        self.events_read = 0
        self.lock = threading.RLock()

    @classmethod
    def open(cls, url: sqlalchemy.engine.URL | str) -> ReviewIndex:
        return cls(sqlalchemy.create_engine(url))

    def refresh(self) -> int:
        """Reads the rows added since the last refresh; returns how many."""
        with self.lock, self.engine.connect() as connection:
            if not sqlalchemy.inspect(connection).has_table("events"):
                return 0
            rows = connection.execute(_AFTER, {"after": max(0, self.last_id - LATE_ROWS)})
            read = 0
            for event_id, sender, data in rows:
                if event_id in self._seen:
                    continue
                self._read(event_id, sender, json.loads(data))
                self._seen.add(event_id)
                self.last_id = max(self.last_id, event_id)
                read += 1
            self._seen = {i for i in self._seen if i > self.last_id - LATE_ROWS}
            self.events_read += read
            return read

    def _read(self, event_id: int, sender: str, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "user":
            parse_data = event.get("parse_data") or {}
            new = Turn(
                event_id,
                sender,
                float(event.get("timestamp") or 0),
                str(event.get("text") or ""),
                event.get("input_channel"),
                (parse_data.get("intent") or {}).get("name"),
                classifier_ranking(parse_data),
                is_low_confidence(parse_data),
                red_flag_layer(parse_data),
            )
            position = bisect.bisect(self._ids, event_id)
            self._ids.insert(position, event_id)
            self.turns.insert(position, new)
            last = self._last_turn.get(sender)
            if last is None or last.id < event_id:
                self._last_turn[sender] = new
        elif kind == "bot":
            turn = self._last_turn.get(sender)
            answer = answer_of(event.get("metadata"))
            if turn is not None and answer is not None:
                turn.answers.append(answer)
                self._by_bubble[(sender, float(event.get("timestamp") or 0))] = turn
        else:
            feedback = feedback_of(event)
            rated = self._by_bubble.get((sender, feedback.bot_at)) if feedback else None
            if feedback is not None and rated is not None:
                rated.rating, rated.rated_answer = feedback.rating, feedback.answer

    def turn(self, turn_id: int) -> Turn | None:
        with self.lock:
            position = bisect.bisect_left(self._ids, turn_id)
            if position < len(self._ids) and self._ids[position] == turn_id:
                return self.turns[position]
            return None

    def worth_a_look(
        self, kinds: Iterable[str] = KINDS, since: date | None = None, until: date | None = None
    ) -> Iterator[Turn]:
        """The turns of any of these kinds, newest first, within the dates (inclusive)."""
        wanted = set(kinds)
        start = datetime.combine(since, datetime.min.time()).timestamp() if since else None
        end = datetime.combine(until + timedelta(days=1), datetime.min.time()).timestamp() if until else None
        with self.lock:
            turns = list(reversed(self.turns))
        for turn in turns:
            if end is not None and turn.at >= end:
                continue
            if start is not None and turn.at < start:
                break  # ids grow with time, so everything after is older
            if wanted.intersection(turn.kinds):
                yield turn

    def days(self, count: int = 30, today: date | None = None) -> list[Day]:
        """Conversations, turns, fallbacks and urgent responses on each of the last `count` days."""
        today = today or date.today()
        first = today - timedelta(days=count - 1)
        start = datetime.combine(first, datetime.min.time()).timestamp()
        senders: dict[date, set[str]] = {first + timedelta(days=n): set() for n in range(count)}
        turns = dict.fromkeys(senders, 0)
        fallbacks = dict.fromkeys(senders, 0)
        urgent = dict.fromkeys(senders, 0)
        with self.lock:
            recent = []
            for turn in reversed(self.turns):
                if turn.at < start:
                    break  # ids grow with time, so everything after is older
                recent.append(turn)
        for turn in recent:
            day = turn.day
            if day not in senders:
                continue
            senders[day].add(turn.sender)
            turns[day] += 1
            fallbacks[day] += CLARIFY in turn.answers
            urgent[day] += URGENT in turn.answers
        return [Day(d, len(senders[d]), turns[d], fallbacks[d], urgent[d]) for d in senders]

    def conversation_around(self, turn: Turn, before: int = 3, after: int = 2) -> list[Line]:
        """The turn with up to `before` user messages before it and `after` after, with every
        reply and 👍 / 👎 in between."""
        with self.engine.connect() as connection:
            earlier = connection.execute(_BEFORE_TURN, {"sender": turn.sender, "turn": turn.id, "limit": 60}).all()
            later = connection.execute(_FROM_TURN, {"sender": turn.sender, "turn": turn.id, "limit": 60}).all()
        lines = [line for row in [*reversed(earlier), *later] if (line := _line(row)) is not None]
        users = [index for index, line in enumerate(lines) if line.who == "user"]
        here = next(index for index, line in enumerate(lines) if line.id == turn.id)
        position = users.index(here)
        start = users[max(0, position - before)]
        end = users[position + after + 1] if position + after + 1 < len(users) else len(lines)
        return lines[start:end]

    def event_count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(_EVENTS)).scalar_one())


def _line(row: Any) -> Line | None:
    event_id, _sender, data = row
    event = json.loads(data)
    kind = event.get("event")
    if kind == "user":
        return Line(event_id, "user", str(event.get("text") or ""))
    if kind == "bot":
        return Line(event_id, "bot", str(event.get("text") or ""), answer_of(event.get("metadata")))
    feedback = feedback_of(event)
    if feedback is None:
        return None
    return Line(event_id, "feedback", f"thumbs {feedback.rating}", feedback.answer)


def timed(function: Any, *args: Any) -> tuple[Any, float]:
    """The function's result and the seconds it took."""
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started
