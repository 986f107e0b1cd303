"""Lock stores that serialise each conversation's turns across processes: several Sanic workers of one
`rasa run` (SQLite, no server to install) or several instances on several hosts (Redis).

Rasa runs one turn of a conversation at a time by handing out numbered tickets per conversation
(`TicketLock`): a turn waits until its ticket is served. Its in-memory lock store covers one
process only, so Rasa refuses several Sanic workers with it; its Redis lock store has two races,
both measured on two instances behind nginx (tests/test_scale_out.py):

- It changes a conversation's ticket lock with a separate GET and SET. Two instances taking
  turns of one conversation at the same moment can both read the empty lock, both take ticket 0
  and run together; the later tracker save then drops the other turn (about one pair of
  simultaneous turns in six lost one).
- A waiting ticket's lifetime runs from when it was issued, not from when it is served. When a
  crashed instance's ticket expires, the ticket queued behind it has often expired too; the
  lock is then empty and Rasa raises `LockError` instead of answering.

Both stores here make every read-modify-write of a lock one transaction (`LeasedTickets`), and
a waiting turn renews its own ticket at every poll, like a lease: only a ticket whose owner
stopped polling (crashed) expires, and a served ticket has the whole lifetime for its turn. A
lock with no tickets left is deleted in the same transaction, so nothing stays behind.

- `SQLiteLockStore` (endpoints.yml, what `make run` uses): the locks in a small SQLite file
  beside the conversations (`BEGIN IMMEDIATE` takes the file's write lock for the change).
  Enough for every worker of one machine: SQLite serialises writers across processes, and a
  change takes well under a millisecond. Rasa allows several Sanic workers with any custom lock
  store (`rasa.core.utils.number_of_sanic_workers`), so `SANIC_WORKERS` then takes effect.
- `AtomicRedisLockStore` (endpoints.production.yml): each change is one Redis transaction on
  the lock's key (WATCH, MULTI/EXEC, retried when another instance changed the key in between),
  and the key expires with its last ticket.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot import logs
from bot.stores.sqlite_file import SharedFile

# How often a queued turn checks whether it is its turn. Rasa polls every second, which adds up
# to a second to every queued turn; a change costs well under 1 ms in loopback Redis or SQLite.
POLL_INTERVAL_S = 0.05

Result = TypeVar("Result")


class LeasedTickets(LockStore):
    """Rasa's ticket lock protocol with each lock change one transaction and waiting tickets
    renewed; a subclass says how to make one change atomically (`_change_atomically`)."""

    def _change_atomically(self, conversation_id: str, change: Callable[[TicketLock], Result]) -> Result:
        """Reads the lock, drops expired tickets, applies `change` and writes the lock back (or
        deletes it when no ticket is left), as one transaction; returns what `change` did."""
        raise NotImplementedError

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Issues the next ticket for the conversation (creating its lock if needed)."""
        try:
            return self._change_atomically(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))
        except Exception as error:  # Rasa's contract: any failure to take a ticket is a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_INTERVAL_S,
    ) -> AsyncGenerator[TicketLock, None]:
        """Holds the conversation's lock for the block; waits in line (renewing) until served."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            poll_s = min(wait_time_in_seconds, POLL_INTERVAL_S)
            yield await self._wait_until_served(conversation_id, ticket, lock_lifetime, poll_s)
        finally:
            self.cleanup(conversation_id, ticket)

    async def _wait_until_served(self, conversation_id: str, ticket: int, lifetime: float, poll_s: float) -> TicketLock:
        while True:
            lock = self._change_atomically(conversation_id, lambda lock: _renew(lock, ticket, lifetime))
            if lock is None:
                # Only if this process stalled for longer than the lifetime between two polls.
                raise LockError(f"Could not acquire lock for {logs.pseudonym(conversation_id)}.")
            if lock.now_serving == ticket:
                return lock
            await asyncio.sleep(poll_s)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Removes a served ticket; deletes the lock when no one else holds a ticket."""
        self._change_atomically(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Rasa's cleanup is finish_serving, then a separate check and delete that could delete a
        ticket issued in between. finish_serving here already deletes an empty lock atomically."""
        self.finish_serving(conversation_id, ticket_number)


class AtomicRedisLockStore(LeasedTickets, RedisLockStore):
    """`RedisLockStore` with race-free tickets and leases. Takes the same settings as `redis`."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        # Rasa hands a custom lock store its endpoint config; `url` is the host, as for `redis`.
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _change_atomically(self, conversation_id: str, change: Callable[[TicketLock], Result]) -> Result:
        key = self.key_prefix + conversation_id
        outcome: list[Result] = []

        def transaction(pipe: Any) -> None:
            outcome.clear()
            stored = pipe.get(key)  # runs at once: the pipeline stays in WATCH mode until multi()
            lock = TicketLock.from_dict(json.loads(stored)) if stored else self.create_lock(conversation_id)
            lock.remove_expired_tickets()
            outcome.append(change(lock))
            pipe.multi()
            if lock.tickets:
                expires_in = max(ticket.expires for ticket in lock.tickets) - time.time()
                pipe.set(key, lock.dumps(), ex=max(1, math.ceil(expires_in)))
            else:
                pipe.delete(key)

        self.red.transaction(transaction, key)
        return outcome[0]


class SQLiteLockStore(LeasedTickets):
    """Ticket locks in a SQLite file, shared by every process on the machine that opens it.

    Endpoint settings: `db`, the file (created if missing). Each process (each Sanic worker)
    opens its own connection: Rasa creates the lock store after the workers have started."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        self.file = SharedFile(Path(endpoint_config.kwargs.get("db") or "var/conversations-locks.db"))
        self.file.execute(
            "CREATE TABLE IF NOT EXISTS ticket_locks (conversation_id TEXT PRIMARY KEY, lock TEXT NOT NULL)"
        )
        super().__init__()

    @property
    def path(self) -> Path:
        return self.file.path

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        rows = self.file.execute("SELECT lock FROM ticket_locks WHERE conversation_id = ?", (conversation_id,))
        return TicketLock.from_dict(json.loads(rows[0][0])) if rows else None

    def delete_lock(self, conversation_id: str) -> None:
        self.file.execute("DELETE FROM ticket_locks WHERE conversation_id = ?", (conversation_id,))

    def save_lock(self, lock: TicketLock) -> None:
        self.file.execute(
            "INSERT OR REPLACE INTO ticket_locks (conversation_id, lock) VALUES (?, ?)",
            (lock.conversation_id, lock.dumps()),
        )

    def _change_atomically(self, conversation_id: str, change: Callable[[TicketLock], Result]) -> Result:
        with self.file.transaction() as db:
            row = db.execute("SELECT lock FROM ticket_locks WHERE conversation_id = ?", (conversation_id,)).fetchone()
            lock = TicketLock.from_dict(json.loads(row[0])) if row else self.create_lock(conversation_id)
            lock.remove_expired_tickets()
            outcome = change(lock)
            if lock.tickets:
                db.execute(
                    "INSERT OR REPLACE INTO ticket_locks (conversation_id, lock) VALUES (?, ?)",
                    (conversation_id, lock.dumps()),
                )
            elif row:
                db.execute("DELETE FROM ticket_locks WHERE conversation_id = ?", (conversation_id,))
        return outcome


def _renew(lock: TicketLock, ticket_number: int, lifetime: float) -> TicketLock | None:
    """Extends a waiting ticket's lease to `lifetime` from now; None if the ticket is gone."""
    for ticket in lock.tickets:
        if ticket.number == ticket_number:
            ticket.expires = max(ticket.expires, time.time() + lifetime)
            return lock
    return None
