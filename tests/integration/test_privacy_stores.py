"""Retention and erasure in our tracker store, on real databases: SQLite and PostgreSQL (a
throw-away server, as the cluster runs it). Tests read the `events` table itself."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot import logs
from bot.names import ERASE_SLOT
from bot.settings import ROOT
from bot.stores import retention
from bot.stores.erasure import erase_conversation, stored_events
from bot.stores.sqlite_file import one_process_at_a_time
from bot.stores.tracker_store import TurnLimitedSQLTrackerStore, _row
from tests.integration.sessions import tracker_for_turn
from tools.cluster import Cluster, stores

DOMAIN = Domain.load(str(ROOT / "domain.yml"))
DAY = 86_400
EVENTS = TurnLimitedSQLTrackerStore.SQLEvent.__table__


@pytest.fixture(scope="module")
def postgres() -> Iterator[Cluster]:
    with stores() as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[TurnLimitedSQLTrackerStore]:
    if request.param == "sqlite":
        yield TurnLimitedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "c.db"))
        return
    database = request.getfixturevalue("postgres").database
    made = TurnLimitedSQLTrackerStore(domain=DOMAIN, **database.store_settings())
    yield made
    with made.engine.begin() as connection:  # one database for every PostgreSQL test
        connection.execute(EVENTS.delete())


def seed(store: TurnLimitedSQLTrackerStore, senders: list[str], events_each: int, age_s: float) -> None:
    """Conversations as Rasa stores them, each `events_each` events, the last `age_s` ago."""
    rows = []
    for sender in senders:
        start = time.time() - age_s - events_each
        for n in range(events_each):
            rows.append(_row(sender, UserUttered(f"message {n}", timestamp=start + n)))
    with store.engine.begin() as connection:
        for first in range(0, len(rows), 10_000):
            connection.execute(EVENTS.insert(), rows[first : first + 10_000])


def senders_stored(store: TurnLimitedSQLTrackerStore) -> dict[str, int]:
    query = sqlalchemy.select(EVENTS.c.sender_id, sqlalchemy.func.count()).group_by(EVENTS.c.sender_id)
    with store.engine.connect() as connection:
        return dict(connection.execute(query).all())


def take_turn(store: TurnLimitedSQLTrackerStore, sender: str, text: str, *extra: SlotSet) -> None:
    """One turn as Rasa runs it: retrieve (or start), the user's message and a reply, save."""

    async def run() -> None:
        tracker = await tracker_for_turn(store, sender)
        for event in (UserUttered(text), BotUttered(f"reply to {text}"), *extra, ActionExecuted(ACTION_LISTEN_NAME)):
            tracker.update(event)
        await store.save(tracker)

    asyncio.run(run())


def user_texts(store: TurnLimitedSQLTrackerStore, sender: str) -> list[str]:
    full = asyncio.run(store.retrieve_full_tracker(sender))
    return [e.text for e in full.events if isinstance(e, UserUttered)]


def test_idle_conversations_are_purged_and_others_kept(store):
    seed(store, ["idle-a", "idle-b"], 20, age_s=40 * DAY)
    seed(store, ["recent"], 20, age_s=2 * DAY)
    seed(store, ["came-back"], 20, age_s=90 * DAY)
    seed(store, ["came-back"], 1, age_s=60)  # an old conversation with one new message: not idle

    report = retention.purge_idle(store.engine, 30 * DAY, batch_rows=7)
    assert senders_stored(store) == {"recent": 20, "came-back": 21}
    assert (report.conversations, report.events) == (2, 40)
    assert report.batches >= 40 // 7


def test_retention_off_runs_nothing_and_a_script_starts_no_purge(store):
    async def in_a_server() -> tuple[object, object]:
        return retention.start(store.engine, 0), retention.start(store.engine, 30)

    off, on = asyncio.run(in_a_server())
    assert off is None and on is not None
    assert retention.start(store.engine, 30) is None  # no running loop: a script, a test
    assert store.retention_task is None


def test_a_conversation_active_during_the_purge_loses_nothing(store):
    idle = [f"idle-{n:03d}" for n in range(150)]
    seed(store, idle, 100, age_s=40 * DAY)  # 15,000 events to purge
    seed(store, ["zz-comes-back"], 50, age_s=40 * DAY)  # idle when the purge starts, purged last
    take_turn(store, "ongoing", "first")
    total = sum(senders_stored(store).values())

    reports: list[retention.PurgeReport] = []
    purge = threading.Thread(
        target=lambda: reports.append(retention.purge_idle(store.engine, 30 * DAY, batch_rows=500, pause_s=0.02))
    )
    purge.start()  # in a worker thread, as the server runs it
    while sum(senders_stored(store).values()) == total:  # the purge has listed the idle conversations
        time.sleep(0.005)
    take_turn(store, "zz-comes-back", "I'm back")
    turns = 0
    while purge.is_alive():
        turns += 1
        take_turn(store, "ongoing", f"turn {turns}")
    purge.join()

    left = senders_stored(store)
    assert set(left) == {"ongoing", "zz-comes-back"}
    assert user_texts(store, "zz-comes-back") == [f"message {n}" for n in range(50)] + ["I'm back"]
    assert user_texts(store, "ongoing") == ["first"] + [f"turn {n}" for n in range(1, turns + 1)]
    assert reports[0].events == 15_000 and reports[0].batches >= 30 and turns >= 3


def test_a_confirmed_erasure_deletes_every_event_and_saves_nothing_of_the_turn(store):
    for text in ("what is bme", "best shoes for knee bme?", "and the hip?"):
        take_turn(store, "forget-me", text)
    take_turn(store, "someone-else", "hi")
    assert stored_events(store.engine, "forget-me") > 10

    take_turn(store, "forget-me", "yes, delete it", SlotSet(ERASE_SLOT, True))
    assert stored_events(store.engine, "forget-me") == 0
    assert asyncio.run(store.retrieve("forget-me")) is None  # the next message starts afresh
    assert stored_events(store.engine, "someone-else") > 0

    take_turn(store, "forget-me", "hello again")
    events = asyncio.run(store.retrieve("forget-me")).events
    assert [e.text for e in events if isinstance(e, UserUttered)] == ["hello again"]


def test_an_operator_erases_one_sender(store):
    take_turn(store, "operator-forgets", "what is bme")
    take_turn(store, "stays", "what is bme")
    assert erase_conversation(store.engine, "operator-forgets") > 0
    assert "operator-forgets" not in senders_stored(store) and "stays" in senders_stored(store)
    assert erase_conversation(store.engine, "nobody") == 0


def test_sql_errors_in_the_log_do_not_show_their_values(store):
    with pytest.raises(sqlalchemy.exc.DBAPIError) as failed, store.engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT * FROM no_such_table WHERE x = :x"), {"x": "U_PRIVATE"})
    logged = logs.LogPolicy().clean(str(failed.value))
    assert "U_PRIVATE" not in logged and "no_such_table" in logged


def test_on_postgresql_one_instance_purges_at_a_time(postgres):
    store = TurnLimitedSQLTrackerStore(domain=DOMAIN, **postgres.database.store_settings())
    seed(store, ["idle-x"], 3, age_s=40 * DAY)
    try:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other_instance:
            key = {"key": retention.ADVISORY_LOCK_KEY}
            other_instance.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), key)
            assert retention.purge_idle(store.engine, 30 * DAY).skipped
            other_instance.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), key)
        assert retention.purge_idle(store.engine, 30 * DAY).events == 3
    finally:
        with store.engine.begin() as connection:
            connection.execute(EVENTS.delete())


def test_on_sqlite_one_worker_purges_at_a_time(tmp_path):
    # The Sanic workers of `make run` share one SQLite file, and each starts the hourly purge.
    store = TurnLimitedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "c.db"))
    seed(store, ["idle-y"], 3, age_s=40 * DAY)
    with one_process_at_a_time(tmp_path / "c.db-purge.lock"):  # another worker is purging
        assert retention.purge_idle(store.engine, 30 * DAY).skipped
    assert retention.purge_idle(store.engine, 30 * DAY).events == 3
