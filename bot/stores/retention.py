"""Retention: the events of conversations idle longer than CONVERSATION_RETENTION_DAYS are deleted.

A conversation is idle since its last event, whatever session it is in. `purge_idle` finds
the idle conversations a page at a time (by sender id, in order) and deletes their events in
bounded batches of `BATCH_ROWS` rows, each batch its own short transaction: a large table is
worked through in many small steps, and between them the assistant's own reads and writes go
ahead (on SQLite, a writer waits for at most one batch). Each batch deletes only events older
than the cut-off, and only of a conversation that has none newer, checked in the same statement:
a conversation that comes back while the purge runs keeps everything. Batches go through the
conversations in order, so an interrupted purge leaves few of them partly deleted.

Our tracker store starts `keep_purging` when Rasa creates it in a running server: at start-up,
then every `PURGE_INTERVAL_S`, in a worker thread so the event loop keeps serving. Several
processes may share the table (instances on PostgreSQL, Sanic workers on a SQLite file): one of
them purges at a time, holding a session advisory lock (PostgreSQL) or a file lock beside the
database (SQLite), and the others skip that round. `CONVERSATION_RETENTION_DAYS=0` keeps every
conversation, and nothing runs.

Nothing is logged but counts and times (docs/privacy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy
from rasa.core.tracker_store import SQLTrackerStore

from bot.stores.sqlite_file import one_process_at_a_time

logger = logging.getLogger(__name__)

DAY_S = 86_400
PURGE_INTERVAL_S = 3600.0
# Rows per delete. On this 2-core machine a batch of 2,000 took about 10 ms on SQLite and 20 ms
# on PostgreSQL (60 ms before its statistics were up to date) in a table of 100,000 events
# (`python -m tools.purge_timing`).
BATCH_ROWS = 2000
SENDERS_PER_PAGE = 100  # a page's events are sorted per batch: keep it small
# Any constant: the key of the PostgreSQL advisory lock that lets one instance purge at a time.
ADVISORY_LOCK_KEY = 0x626D655F7075  # "bme_pu"

_EVENTS = SQLTrackerStore.SQLEvent.__table__
_NEWER = _EVENTS.alias("newer")


@dataclass
class PurgeReport:
    conversations: int = 0  # idle conversations found (a conversation that came back is kept)
    events: int = 0  # events deleted
    batch_s: list[float] = field(default_factory=list)  # how long each batch's transaction took
    seconds: float = 0.0
    skipped: bool = False  # another instance was purging

    @property
    def batches(self) -> int:
        return len(self.batch_s)

    @property
    def slowest_batch_s(self) -> float:
        return max(self.batch_s, default=0.0)


def _idle_senders(after: str, limit: int) -> sqlalchemy.sql.Select:
    return (
        sqlalchemy.select(_EVENTS.c.sender_id)
        .where(_EVENTS.c.sender_id > sqlalchemy.bindparam("after", after))
        .group_by(_EVENTS.c.sender_id)
        .having(sqlalchemy.func.max(_EVENTS.c.timestamp) < sqlalchemy.bindparam("cutoff"))
        .order_by(_EVENTS.c.sender_id)
        .limit(limit)
    )


def _no_newer_event() -> sqlalchemy.sql.ColumnElement:
    """The row's conversation has no event at or after the cut-off (checked when it runs)."""
    newer = sqlalchemy.exists().where(
        _NEWER.c.sender_id == _EVENTS.c.sender_id, _NEWER.c.timestamp >= sqlalchemy.bindparam("cutoff")
    )
    return ~newer


def _old_rows(rows: int) -> sqlalchemy.sql.Select:
    """Up to `rows` ids of events older than the cut-off, of the given senders, none of whom
    has a newer event; one conversation after another."""
    return (
        sqlalchemy.select(_EVENTS.c.id)
        .where(
            _EVENTS.c.sender_id.in_(sqlalchemy.bindparam("senders", expanding=True)),
            _EVENTS.c.timestamp < sqlalchemy.bindparam("cutoff"),
            _no_newer_event(),
        )
        .order_by(_EVENTS.c.sender_id, _EVENTS.c.id)
        .limit(rows)
    )


# By primary key, so each batch costs the same however large the table (as one statement with
# `id IN (SELECT ...)`, PostgreSQL scanned the whole table per batch). The check for a newer
# event is made again as the rows are deleted.
_DELETE_ROWS = _EVENTS.delete().where(_EVENTS.c.id.in_(sqlalchemy.bindparam("ids", expanding=True)), _no_newer_event())


@contextlib.contextmanager
def _one_purger_at_a_time(engine: sqlalchemy.engine.Engine) -> Iterator[bool]:
    """True if this process may purge now: on PostgreSQL while it holds the advisory lock, on a
    SQLite file while it holds a file lock beside it (the Sanic workers of one machine share the
    file); False when another process is purging."""
    if engine.dialect.name != "postgresql":
        database = engine.url.database
        if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
            yield True
            return
        with one_process_at_a_time(Path(f"{database}-purge.lock"), wait=False) as mine:
            yield mine
        return
    # Autocommit: the lock is the session's, and no transaction stays open while purging.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        key = {"key": ADVISORY_LOCK_KEY}
        held = bool(connection.execute(sqlalchemy.text("SELECT pg_try_advisory_lock(:key)"), key).scalar())
        try:
            yield held
        finally:
            if held:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), key)


def purge_idle(
    engine: sqlalchemy.engine.Engine,
    idle_s: float,
    *,
    now: float | None = None,
    batch_rows: int = BATCH_ROWS,
    senders_per_page: int = SENDERS_PER_PAGE,
    pause_s: float = 0.0,
) -> PurgeReport:
    """Deletes the events of every conversation whose last event is older than `idle_s`."""
    started = time.perf_counter()
    cutoff = (time.time() if now is None else now) - idle_s
    report = PurgeReport()
    old_rows = _old_rows(batch_rows)
    with _one_purger_at_a_time(engine) as mine:
        if not mine:
            report.skipped = True
            return report
        after = ""
        while True:
            with engine.connect() as connection:
                page = list(connection.execute(_idle_senders(after, senders_per_page), {"cutoff": cutoff}).scalars())
            if not page:
                break
            report.conversations += len(page)
            found = batch_rows
            while found == batch_rows:
                batch_started = time.perf_counter()
                with engine.begin() as connection:
                    ids = list(connection.execute(old_rows, {"senders": page, "cutoff": cutoff}).scalars())
                    found = len(ids)
                    deleted = connection.execute(_DELETE_ROWS, {"ids": ids, "cutoff": cutoff}).rowcount if ids else 0
                report.batch_s.append(time.perf_counter() - batch_started)
                report.events += deleted
                if pause_s:
                    time.sleep(pause_s)
            after = page[-1]
    report.seconds = time.perf_counter() - started
    return report


async def keep_purging(engine: sqlalchemy.engine.Engine, days: float, interval_s: float = PURGE_INTERVAL_S) -> None:
    """Purges now, then every `interval_s`, off the event loop; never raises."""
    while True:
        try:
            report = await asyncio.to_thread(purge_idle, engine, days * DAY_S)
            if report.events:
                logger.info(
                    "Retention: deleted %d events of %d conversations idle over %g days in %.1f s "
                    "(%d batches, the slowest %.0f ms)",
                    report.events,
                    report.conversations,
                    days,
                    report.seconds,
                    report.batches,
                    report.slowest_batch_s * 1000,
                )
        except Exception as error:  # a database hiccup must not end the periodic purge
            failed = type(error).__name__
            logger.warning("Retention: the purge failed (%s); next try in %.0f min", failed, interval_s / 60)
        await asyncio.sleep(interval_s)


def start(engine: sqlalchemy.engine.Engine, days: float) -> asyncio.Task | None:
    """Starts the periodic purge on the running event loop (a server); None when retention is
    off (0 days), outside a running loop (a script, a test), or for an in-memory database,
    which a worker thread would not see."""
    if days <= 0 or engine.url.database in (None, "", ":memory:"):
        return None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.create_task(keep_purging(engine, days))
