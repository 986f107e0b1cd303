"""Times the retention purge on a large table: how long each bounded batch holds the database,
and how long a conversation's save waits meanwhile.

Fills a fresh `events` table with 100,000 events of idle conversations (1,000 of 100 events,
50 days old), then runs `purge_idle` as the assistant does (30 days, default batch size) in a
worker thread while the main thread keeps saving turns of one active conversation. SQLite in a
temporary file, and PostgreSQL started as the cluster starts it (needs Debian's postgresql;
`--sqlite-only` skips it), once just after filling and once with the planner's statistics up to
date (what autovacuum keeps on a live database).

Usage: python -m tools.purge_timing [--events N] [--batch-rows N] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

EVENTS_PER_CONVERSATION = 100
DAY = 86_400


def _fill(store: Any, events: int) -> None:
    from rasa.shared.core.events import UserUttered

    from bot.stores.tracker_store import _row

    table = store.SQLEvent.__table__
    start = time.time() - 50 * DAY
    rows = [
        _row(f"idle-{n // EVENTS_PER_CONVERSATION:06d}", UserUttered(f"message {n}", timestamp=start + n))
        for n in range(events)
    ]
    with store.engine.begin() as connection:
        for first in range(0, len(rows), 10_000):
            connection.execute(table.insert(), rows[first : first + 10_000])


def _save_turns_until(store: Any, done: threading.Event) -> list[float]:
    """Saves turns of one active conversation until `done`; how long each save took."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

    waits: list[float] = []

    async def turns() -> None:
        tracker = store.init_tracker("active")
        while not done.is_set():
            for event in (UserUttered("a question"), BotUttered("an answer"), ActionExecuted(ACTION_LISTEN_NAME)):
                tracker.update(event)
            started = time.perf_counter()
            await store.save(tracker)
            waits.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)

    asyncio.run(turns())
    return waits


def measure(store: Any, events: int, batch_rows: int, analyze: bool = False) -> dict[str, Any]:
    import sqlalchemy

    from bot.stores import retention

    _fill(store, events)
    if analyze:  # the planner's statistics, as autovacuum keeps them on a live database
        with store.engine.begin() as connection:
            connection.execute(sqlalchemy.text("ANALYZE events"))
    done = threading.Event()
    report: list[retention.PurgeReport] = []

    def purge() -> None:
        try:
            report.append(retention.purge_idle(store.engine, 30 * DAY, batch_rows=batch_rows))
        finally:
            done.set()

    worker = threading.Thread(target=purge)  # off the saving thread, as the assistant runs it
    worker.start()
    saves = _save_turns_until(store, done)
    worker.join()
    result = report[0]
    return {
        "events deleted": result.events,
        "batches": result.batches,
        "batch median ms": round(statistics.median(result.batch_s) * 1000, 1),
        "batch slowest ms": round(result.slowest_batch_s * 1000, 1),
        "whole purge s": round(result.seconds, 2),
        "saves during purge": len(saves),
        "save slowest ms": round(max(saves) * 1000, 1) if saves else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-rows", type=int, default=None)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from rasa.shared.core.domain import Domain

    from bot.settings import DOMAIN
    from bot.stores import retention
    from bot.stores.tracker_store import TurnLimitedSQLTrackerStore
    from tools.cluster import stores

    batch_rows = args.batch_rows or retention.BATCH_ROWS
    domain = Domain.load(str(DOMAIN))
    print(f"Purging {args.events:,} idle events in batches of {batch_rows:,} rows", flush=True)
    with tempfile.TemporaryDirectory() as work:
        store = TurnLimitedSQLTrackerStore(domain=domain, dialect="sqlite", db=str(Path(work) / "c.db"))
        print(f"  SQLite:     {measure(store, args.events, batch_rows)}", flush=True)
    if not args.sqlite_only:
        with stores() as running:
            store = TurnLimitedSQLTrackerStore(domain=domain, **running.database.store_settings())
            print(f"  PostgreSQL, just filled: {measure(store, args.events, batch_rows)}", flush=True)
            print(f"  PostgreSQL, analyzed:    {measure(store, args.events, batch_rows, analyze=True)}", flush=True)
            store.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
