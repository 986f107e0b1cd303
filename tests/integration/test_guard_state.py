"""The input guard's shared state (bot/stores/guard_state.py), in a real redis-server and in a SQLite
file: two state objects stand in for two `rasa run` instances sharing one Redis, or for two Sanic
workers sharing the file, as in the lock store's test; and real processes admit one sender at once."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from rasa.core.lock_store import InMemoryLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.stores.guard_state import (
    Admission,
    GuardState,
    InProcessGuardState,
    Limits,
    RedisGuardState,
    SQLiteGuardState,
    guard_state_for,
    redis_client_like,
)
from bot.stores.lock_store import AtomicRedisLockStore, SQLiteLockStore
from bot.stores.sqlite_file import SharedFile
from tools.serve import free_port

REDIS_SERVER = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin")
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="needs Debian's redis-server: apt-get install redis-server"
)
PASSWORD = "guard-test-password"


@pytest.fixture(scope="module")
def lock_store() -> Iterator[AtomicRedisLockStore]:
    port = free_port()
    command = [str(REDIS_SERVER), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([*command, "--requirepass", PASSWORD], stdout=subprocess.DEVNULL)
    try:
        store = AtomicRedisLockStore(EndpointConfig(url="127.0.0.1", port=port, password=PASSWORD, db=1))
        for _ in range(100):
            try:
                store.red.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        yield store
    finally:
        server.terminate()
        server.wait(10)


Instances = Callable[[Limits], list[GuardState]]


@pytest.fixture(params=["redis", "sqlite"])
def instances(request, lock_store, tmp_path) -> Instances:
    """Two states sharing one memory: two instances on one Redis, or two workers on one file."""
    if request.param == "redis":
        return lambda limits: [RedisGuardState(redis_client_like(lock_store.red), limits) for _ in range(2)]
    return lambda limits: [SQLiteGuardState(SharedFile(tmp_path / "locks.db"), limits) for _ in range(2)]


def test_the_state_follows_the_lock_store(lock_store, tmp_path):
    assert isinstance(guard_state_for(lock_store), RedisGuardState)
    assert isinstance(guard_state_for(SQLiteLockStore(EndpointConfig(db=str(tmp_path / "l.db")))), SQLiteGuardState)
    assert isinstance(guard_state_for(InMemoryLockStore()), InProcessGuardState)
    assert isinstance(guard_state_for(None), InProcessGuardState)


def test_simultaneous_messages_on_two_instances_are_limited_as_one_sender(instances):
    first, second = instances(Limits(in_flight=3, per_minute=0))

    async def flood() -> list[Admission]:
        return list(await asyncio.gather(*(s.admit("flooder", f"t{n}") for n, s in enumerate([first, second] * 20))))

    admissions = asyncio.run(flood())
    assert admissions.count(Admission.ADMITTED) == 3 and admissions.count(Admission.BUSY) == 37

    async def release_one_and_retry() -> Admission:
        ticket = f"t{admissions.index(Admission.ADMITTED)}"
        await second.release("flooder", ticket)  # released by the other instance than took it
        return await first.admit("flooder", "again")

    assert asyncio.run(release_one_and_retry()) is Admission.ADMITTED


def test_the_minute_limit_counts_both_instances(instances):
    first, second = instances(Limits(in_flight=3, per_minute=10))

    async def one_at_a_time() -> list[Admission]:
        results = []
        for n in range(14):
            state = (first, second)[n % 2]
            results.append(await state.admit("steady", f"s{n}"))
            await state.release("steady", f"s{n}")
        return results

    assert asyncio.run(one_at_a_time()) == [Admission.ADMITTED] * 10 + [Admission.TOO_FAST] * 4


def test_a_crashed_instances_marks_expire(instances):
    crashed, survivor = instances(Limits(in_flight=1, per_minute=0, in_flight_expiry_s=0.3))

    async def run() -> list[Admission]:
        results = [await crashed.admit("orphan", "never-released"), await survivor.admit("orphan", "x")]
        await asyncio.sleep(0.5)
        return [*results, await survivor.admit("orphan", "y")]

    assert asyncio.run(run()) == [Admission.ADMITTED, Admission.BUSY, Admission.ADMITTED]


def test_a_delivery_is_new_once_across_instances(instances):
    first, second = instances(Limits())

    async def deliveries() -> list[bool]:
        together = await asyncio.gather(*(s.first_delivery("slack:Ev42") for s in [first, second] * 5))
        return [*together, await second.first_delivery("slack:Ev43")]

    results = asyncio.run(deliveries())
    assert results[:10].count(True) == 1 and results[10] is True


def test_a_delivery_is_forgotten_after_its_time(instances):
    first, second = instances(Limits())

    async def deliveries() -> list[bool]:
        remembered = [await first.first_delivery("slack:Ev44", remember_s=1), await second.first_delivery("slack:Ev44")]
        await asyncio.sleep(1.2)
        return [*remembered, await second.first_delivery("slack:Ev44")]

    assert asyncio.run(deliveries()) == [True, False, True]


def _admit_in_another_process(path: str, start_at: float, tickets: list[str]) -> list[str]:
    """One Sanic worker's admissions of one sender, all at `start_at` (run in a new process)."""
    state = SQLiteGuardState(SharedFile(Path(path)), Limits(in_flight=3, per_minute=0))
    time.sleep(max(0.0, start_at - time.time()))

    async def admit_all() -> list[Admission]:
        return list(await asyncio.gather(*(state.admit("flooder", t) for t in tickets)))

    return [admission.value for admission in asyncio.run(admit_all())]


def test_workers_in_separate_processes_admit_one_sender_as_one(tmp_path):
    path = str(tmp_path / "locks.db")
    SQLiteGuardState(SharedFile(Path(path)), Limits())  # the tables, as the first worker makes them
    start_at = time.time() + 1.5  # both processes have started by then
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        work = [(path, start_at, [f"w{w}-{n}" for n in range(15)]) for w in range(2)]
        results = [value for worker in pool.starmap(_admit_in_another_process, work) for value in worker]
    assert results.count("admitted") == 3 and results.count("busy") == 27


def test_no_sender_id_is_stored_in_clear(lock_store, tmp_path):
    redis_state = RedisGuardState(redis_client_like(lock_store.red), Limits())
    sqlite_state = SQLiteGuardState(SharedFile(tmp_path / "locks.db"), Limits())
    for state in (redis_state, sqlite_state):
        asyncio.run(state.admit("U_VERY_PRIVATE_ID", "t"))
        asyncio.run(state.first_delivery("slack:Ev45"))
    assert not [key for key in lock_store.red.scan_iter("*") if b"U_VERY_PRIVATE_ID" in key]
    ttls = {key: lock_store.red.pttl(key) for key in lock_store.red.scan_iter("bme:guard:*")}
    assert all(ttl > 0 or ttl == -2 for ttl in ttls.values()), ttls  # -2: expired meanwhile
    assert 0 < lock_store.red.ttl(next(iter(lock_store.red.scan_iter("bme:guard:delivery:*")))) <= 3600
    for table in ("guard_in_flight", "guard_recent"):
        stored = sqlite_state.file.execute(f"SELECT sender FROM {table}")
        assert stored and "U_VERY_PRIVATE_ID" not in str(stored)


def test_without_redis_messages_are_let_through():
    state = RedisGuardState(redis_client_like(redis.Redis(host="127.0.0.1", port=free_port())), Limits())

    async def run() -> tuple[Admission, bool]:
        return await state.admit("s", "t"), await state.first_delivery("x")

    assert asyncio.run(run()) == (Admission.ADMITTED, True)
