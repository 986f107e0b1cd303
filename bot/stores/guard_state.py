"""What the input guard (bot/channels/guard.py) remembers between messages, behind one interface.

Three things, each short-lived:

- the messages of a sender being handled right now (at most `Limits.in_flight` at once);
- when each of a sender's recent messages was taken (at most `Limits.per_minute` in any
  minute);
- the delivery ids already seen (a Slack event and its retries, a Telegram update), so a
  redelivered one is acknowledged without a second answer.

Every process that answers messages must share them, or a Slack retry that reaches another
process is answered twice and a flood spread over N processes gets N times the limit. Which
memory a server uses follows from its lock store (`guard_state_for`), with no setting of its
own: the guard's state is shared exactly as widely as the conversations' locks.

- `SQLiteGuardState`, with the SQLite lock store (`make run`): in the locks' file, shared by
  every Sanic worker of the machine, each change one `BEGIN IMMEDIATE` transaction.
- `RedisGuardState`, with the Redis lock store (several instances,
  `RASA_ENDPOINTS=endpoints.production.yml`): each change one atomic script, every key with an
  expiry.
- `InProcessGuardState` otherwise (Rasa's in-memory lock store, which allows one process only).

Sender ids are stored only as hashes. Nothing here holds a message.
"""

from __future__ import annotations

import collections
import enum
import hashlib
import logging
import sqlite3
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from bot.settings import Settings
from bot.stores.sqlite_file import SharedFile

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT_PER_SENDER = 3
# An in-flight mark outlives the longest turn (the guard gives up after 12 s) by far, and is
# dropped after this even if its instance died before taking it back.
IN_FLIGHT_EXPIRY_S = 60.0
WINDOW_S = 60.0
# Slack retries for up to about an hour; Telegram redelivers for longer, but only while we fail.
DELIVERY_MEMORY_S = 3600.0
KEY_PREFIX = "bme:guard:"


class Admission(enum.Enum):
    ADMITTED = "admitted"
    BUSY = "busy"  # as many of the sender's messages as allowed are being handled
    TOO_FAST = "too_fast"  # the sender sent the most allowed within the last minute


@dataclass(frozen=True)
class Limits:
    in_flight: int = MAX_IN_FLIGHT_PER_SENDER
    per_minute: int = 30  # 0: no limit per minute
    in_flight_expiry_s: float = IN_FLIGHT_EXPIRY_S
    window_s: float = WINDOW_S

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Limits:
        settings = settings or Settings.from_env()
        return cls(per_minute=settings.sender_messages_per_minute)


class GuardState(ABC):
    """The guard's memory. `admit` and `release` bracket the handling of one message (the
    ticket tells its mark from the sender's other ones); `first_delivery` says whether a
    delivery id is new, remembering it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    @abstractmethod
    async def admit(self, sender: str, ticket: str) -> Admission: ...

    @abstractmethod
    async def release(self, sender: str, ticket: str) -> None: ...

    @abstractmethod
    async def first_delivery(self, delivery_id: str, remember_s: float = DELIVERY_MEMORY_S) -> bool: ...


class InProcessGuardState(GuardState):
    """The guard's memory in this process: enough for one `rasa run` with one worker."""

    SWEEP_EVERY = 1000  # admissions between sweeps of senders gone quiet

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self._in_flight: dict[str, dict[str, float]] = {}  # sender -> ticket -> expiry
        self._recent: dict[str, collections.deque[float]] = {}  # sender -> times admitted
        self._deliveries: collections.OrderedDict[str, float] = collections.OrderedDict()  # id -> expiry
        self._admissions = 0

    async def admit(self, sender: str, ticket: str) -> Admission:
        now = time.monotonic()
        marks = {t: e for t, e in self._in_flight.get(sender, {}).items() if e > now}
        recent = self._recent.setdefault(sender, collections.deque())
        while recent and recent[0] <= now - self.limits.window_s:
            recent.popleft()
        self._admissions += 1
        if self._admissions % self.SWEEP_EVERY == 0:
            self._sweep(now)
        if len(marks) >= self.limits.in_flight:
            return Admission.BUSY
        if self.limits.per_minute and len(recent) >= self.limits.per_minute:
            return Admission.TOO_FAST
        marks[ticket] = now + self.limits.in_flight_expiry_s
        self._in_flight[sender] = marks
        recent.append(now)
        return Admission.ADMITTED

    async def release(self, sender: str, ticket: str) -> None:
        marks = self._in_flight.get(sender, {})
        marks.pop(ticket, None)
        if not marks:
            self._in_flight.pop(sender, None)

    async def first_delivery(self, delivery_id: str, remember_s: float = DELIVERY_MEMORY_S) -> bool:
        now = time.monotonic()
        while self._deliveries and next(iter(self._deliveries.values())) <= now:
            self._deliveries.popitem(last=False)
        if delivery_id in self._deliveries:
            return False
        self._deliveries[delivery_id] = now + remember_s
        return True

    def _sweep(self, now: float) -> None:
        """Forgets senders with nothing in flight and nothing within the window."""
        for sender in [s for s, times in self._recent.items() if not times or times[-1] <= now - self.limits.window_s]:
            del self._recent[sender]
        for sender in [s for s, marks in self._in_flight.items() if all(e <= now for e in marks.values())]:
            del self._in_flight[sender]


# KEYS: in-flight set, recent set. ARGV: ticket, in_flight, in_flight_expiry_s, per_minute, window_s.
# Redis's own clock, so instances on different hosts agree. Returns 0 admitted, 1 busy, 2 too fast.
_ADMIT = """
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes, Redis < 5
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local expiry, window = tonumber(ARGV[3]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 1 end
local per_minute = tonumber(ARGV[4])
if per_minute > 0 and redis.call('ZCARD', KEYS[2]) >= per_minute then return 2 end
redis.call('ZADD', KEYS[1], now + expiry, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(expiry * 1000))
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('PEXPIRE', KEYS[2], math.ceil(window * 1000))
return 0
"""
_ADMISSIONS = {0: Admission.ADMITTED, 1: Admission.BUSY, 2: Admission.TOO_FAST}


class RedisGuardState(GuardState):
    """The guard's memory in Redis, shared by every instance that uses the same Redis.

    Per sender, two sorted sets: the in-flight tickets scored by when they expire, and the
    tickets admitted within the window scored by when. One Lua script drops what expired, checks
    both limits and records the ticket, so two instances admitting the same sender at the same
    moment cannot both take the last place. A delivery id is remembered with `SET NX EX`. If
    Redis fails, the guard lets the message through (logged): the lock store, which shares that
    Redis, then decides whether the turn can run at all."""

    def __init__(self, client: Any, limits: Limits) -> None:
        super().__init__(limits)
        self.client = client
        self._admit = client.register_script(_ADMIT)

    @staticmethod
    def _key(kind: str, sender: str) -> str:
        return f"{KEY_PREFIX}{kind}:{hashlib.sha256(sender.encode()).hexdigest()[:32]}"

    async def admit(self, sender: str, ticket: str) -> Admission:
        limits = self.limits
        keys = [self._key("in_flight", sender), self._key("recent", sender)]
        arguments = [ticket, limits.in_flight, limits.in_flight_expiry_s, limits.per_minute, limits.window_s]
        try:
            return _ADMISSIONS[int(await self._admit(keys=keys, args=arguments))]
        except Exception as error:
            logger.warning("The guard's Redis failed (%s): message let through unlimited", type(error).__name__)
            return Admission.ADMITTED

    async def release(self, sender: str, ticket: str) -> None:
        try:
            await self.client.zrem(self._key("in_flight", sender), ticket)
        except Exception as error:  # the mark expires by itself
            logger.warning("The guard's Redis failed (%s) releasing a message", type(error).__name__)

    async def first_delivery(self, delivery_id: str, remember_s: float = DELIVERY_MEMORY_S) -> bool:
        key = f"{KEY_PREFIX}delivery:{hashlib.sha256(delivery_id.encode()).hexdigest()[:32]}"
        try:
            return bool(await self.client.set(key, 1, nx=True, ex=max(1, int(remember_s))))
        except Exception as error:
            logger.warning("The guard's Redis failed (%s): a redelivery may be answered again", type(error).__name__)
            return True


class SQLiteGuardState(GuardState):
    """The guard's memory in a SQLite file, shared by every process on the machine that opens it
    (the SQLite lock store's file). One table per kind of mark, each row with its expiry; a change
    is one `BEGIN IMMEDIATE` transaction, so two workers admitting one sender at the same moment
    cannot both take the last place. Expired rows of the sender are dropped as it is admitted,
    and every `SWEEP_EVERY` admissions everyone's. If the file fails, the message is let through
    (logged), as with Redis: the lock store, in the same file, then decides whether it can run."""

    SWEEP_EVERY = 1000

    def __init__(self, file: SharedFile, limits: Limits) -> None:
        super().__init__(limits)
        self.file = file
        self._admissions = 0
        with self.file.transaction() as db:
            for table in ("guard_in_flight", "guard_recent"):
                db.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (sender TEXT NOT NULL, ticket TEXT NOT NULL,"
                    " expires REAL NOT NULL, PRIMARY KEY (sender, ticket))"
                )
            db.execute("CREATE TABLE IF NOT EXISTS guard_deliveries (delivery TEXT PRIMARY KEY, expires REAL NOT NULL)")

    async def admit(self, sender: str, ticket: str) -> Admission:
        key, now, limits = _hashed(sender), time.time(), self.limits
        self._admissions += 1
        try:
            with self.file.transaction() as db:
                if self._admissions % self.SWEEP_EVERY == 0:
                    for table in ("guard_in_flight", "guard_recent", "guard_deliveries"):
                        db.execute(f"DELETE FROM {table} WHERE expires <= ?", (now,))
                for table in ("guard_in_flight", "guard_recent"):
                    db.execute(f"DELETE FROM {table} WHERE sender = ? AND expires <= ?", (key, now))
                in_flight = db.execute("SELECT count(*) FROM guard_in_flight WHERE sender = ?", (key,)).fetchone()[0]
                if in_flight >= limits.in_flight:
                    return Admission.BUSY
                recent = db.execute("SELECT count(*) FROM guard_recent WHERE sender = ?", (key,)).fetchone()[0]
                if limits.per_minute and recent >= limits.per_minute:
                    return Admission.TOO_FAST
                marks = [("guard_in_flight", limits.in_flight_expiry_s), ("guard_recent", limits.window_s)]
                for table, lifetime_s in marks:
                    db.execute(f"INSERT INTO {table} VALUES (?, ?, ?)", (key, ticket, now + lifetime_s))
            return Admission.ADMITTED
        except sqlite3.Error as error:
            logger.warning("The guard's SQLite file failed (%s): message let through unlimited", type(error).__name__)
            return Admission.ADMITTED

    async def release(self, sender: str, ticket: str) -> None:
        try:
            self.file.execute("DELETE FROM guard_in_flight WHERE sender = ? AND ticket = ?", (_hashed(sender), ticket))
        except sqlite3.Error as error:  # the mark expires by itself
            logger.warning("The guard's SQLite file failed (%s) releasing a message", type(error).__name__)

    async def first_delivery(self, delivery_id: str, remember_s: float = DELIVERY_MEMORY_S) -> bool:
        key, now = _hashed(delivery_id), time.time()
        try:
            with self.file.transaction() as db:
                seen = db.execute(
                    "SELECT 1 FROM guard_deliveries WHERE delivery = ? AND expires > ?", (key, now)
                ).fetchone()
                if seen:
                    return False
                db.execute("INSERT OR REPLACE INTO guard_deliveries VALUES (?, ?)", (key, now + remember_s))
            return True
        except sqlite3.Error as error:
            failed = type(error).__name__
            logger.warning("The guard's SQLite file failed (%s): a redelivery may be answered again", failed)
            return True


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def redis_client_like(sync_client: Any) -> Any:
    """An asyncio Redis client for the server `sync_client` (a lock store's) talks to."""
    import redis.asyncio

    settings = sync_client.connection_pool.connection_kwargs
    wanted = ("host", "port", "db", "username", "password", "socket_timeout", "socket_connect_timeout")
    options = {name: settings[name] for name in wanted if name in settings}
    if sync_client.connection_pool.connection_class.__name__ == "SSLConnection":
        options["ssl"] = True
    return redis.asyncio.Redis(**options)


_IN_PROCESS: dict[Limits, InProcessGuardState] = {}


def in_process_state(limits: Limits) -> InProcessGuardState:
    """One memory per process (per limits), shared by its channels like Redis would be."""
    return _IN_PROCESS.setdefault(limits, InProcessGuardState(limits))


def guard_state_for(lock_store: object | None, limits: Limits | None = None) -> GuardState:
    """Where the lock store keeps the locks: in Redis (several instances share it), in the
    SQLite lock store's file (every worker of the machine shares it), otherwise in this process."""
    from rasa.core.lock_store import RedisLockStore

    from bot.stores.lock_store import SQLiteLockStore

    limits = limits or Limits.from_settings()
    if isinstance(lock_store, RedisLockStore):
        return RedisGuardState(redis_client_like(lock_store.red), limits)
    if isinstance(lock_store, SQLiteLockStore):
        return SQLiteGuardState(SharedFile(lock_store.path), limits)
    return in_process_state(limits)
