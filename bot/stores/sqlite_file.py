"""SQLite files shared by several processes of one machine (the Sanic workers of `make run`):
short transactions on a small file, which the SQLite lock store (bot/stores/lock_store.py) and the
input guard's state (bot/stores/guard_state.py) are built on, and a file lock for work that one
process at a time should do (creating the conversations' table, retention's purge)."""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# How long a change waits for the file's write lock (held for well under a millisecond at a time).
BUSY_TIMEOUT_S = 10.0


class SharedFile:
    """One process's connection to the shared file. Other processes' changes wait for SQLite's
    write lock; this process's threads take turns on the connection (Rasa uses it from the event
    loop, but a connection must never run two transactions at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = _connect(path)
        self._turn = threading.Lock()

    def execute(self, statement: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement in its own transaction; its rows."""
        with self._turn:
            return self.connection.execute(statement, parameters).fetchall()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction from its first statement (`BEGIN IMMEDIATE`): another process's
        change waits for it, so a read-modify-write inside is atomic. Rolled back if the block
        raises."""
        with self._turn:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    """Autocommit (each change opens its own transaction), the write-ahead log so that reads never
    wait, and no fsync: locks and the guard's marks live seconds to an hour, and a power cut ends
    every process that held them."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    return connection


@contextlib.contextmanager
def one_process_at_a_time(path: Path, wait: bool = True) -> Iterator[bool]:
    """Holds an exclusive lock on `path` (created if missing) for the block, against every other
    process of the machine; yields False at once instead when `wait` is off and another holds it.
    The operating system releases the lock when its holder ends, however it ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
