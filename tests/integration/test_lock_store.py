"""The lock stores (bot/stores/lock_store.py), against a real redis-server and on a SQLite file: two store
objects stand in for two `rasa run` instances sharing one Redis, or two Sanic workers sharing the
file; and turns in two real processes never overlap."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rasa.core.lock_store import LockError
from rasa.utils.endpoints import EndpointConfig

from bot.stores.lock_store import AtomicRedisLockStore, LeasedTickets, SQLiteLockStore
from tools.serve import free_port

REDIS_SERVER = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin")
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="needs Debian's redis-server: apt-get install redis-server"
)


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    port = free_port()
    command = [str(REDIS_SERVER), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        store = AtomicRedisLockStore(EndpointConfig(url="127.0.0.1", port=port))
        for _ in range(100):
            try:
                store.red.ping()
                break
            except Exception:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(10)


def instance(port: int) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(EndpointConfig(url="127.0.0.1", port=port, db=1))


def sqlite_instance(path: Path) -> SQLiteLockStore:
    return SQLiteLockStore(EndpointConfig(db=str(path)))


Instance = Callable[[], LeasedTickets]


@pytest.fixture(params=["redis", "sqlite"])
def new_instance(request, redis_port, tmp_path) -> Instance:
    """Another instance (Redis) or worker (SQLite) of the same assistant, on the same store."""
    if request.param == "redis":
        return lambda: instance(redis_port)
    return lambda: sqlite_instance(tmp_path / "locks.db")


def test_simultaneous_tickets_from_two_instances_are_unique_and_in_order(new_instance):
    stores = [new_instance(), new_instance()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        tickets = list(pool.map(lambda n: stores[n % 2].issue_ticket("same-conversation", 30), range(200)))
    assert sorted(tickets) == list(range(200))


def test_turns_of_one_conversation_on_two_instances_never_overlap(new_instance):
    stores = [new_instance(), new_instance()]
    inside: list[str] = []
    overlaps: list[str] = []

    async def turn(n: int) -> None:
        async with stores[n % 2].lock("busy-conversation", lock_lifetime=10):
            if inside:
                overlaps.append(f"turn {n} ran beside {inside}")
            inside.append(f"turn {n}")
            await asyncio.sleep(0.01)  # the await lets the other turns' polls run meanwhile
            inside.pop()

    async def all_turns() -> None:
        await asyncio.gather(*(turn(n) for n in range(30)))

    asyncio.run(all_turns())
    assert not overlaps
    assert stores[0].get_lock("busy-conversation") is None, "the lock must be gone after the last turn"


def test_a_turn_queued_behind_a_crashed_instance_is_served_once_its_ticket_expires(new_instance):
    crashed, survivor = new_instance(), new_instance()
    crashed.issue_ticket("orphaned", 1)  # taken, never released: its instance died mid-turn

    async def queued_turn() -> float:
        started = time.monotonic()
        async with survivor.lock("orphaned", lock_lifetime=1):
            return time.monotonic() - started

    waited = asyncio.run(queued_turn())
    # Rasa's RedisLockStore raises LockError here: its waiting ticket expires with the dead one.
    assert 0.9 < waited < 3
    assert survivor.get_lock("orphaned") is None


def _turns_in_another_process(path: str, counter: str, start_at: float, turns: int) -> None:
    """One worker's turns of one conversation, each a read-modify-write of a file (new process)."""
    store = sqlite_instance(Path(path))
    time.sleep(max(0.0, start_at - time.time()))

    async def turn() -> None:
        async with store.lock("shared-conversation", lock_lifetime=10):
            seen = int(Path(counter).read_text())
            await asyncio.sleep(0.005)  # another turn running now would read the same number
            Path(counter).write_text(str(seen + 1))

    async def all_turns() -> None:
        await asyncio.gather(*(turn() for _ in range(turns)))

    asyncio.run(all_turns())


def test_turns_in_two_worker_processes_never_overlap(tmp_path):
    counter = tmp_path / "turns"
    counter.write_text("0")
    path = tmp_path / "locks.db"
    sqlite_instance(path)  # the table, as the first worker makes it
    start_at = time.time() + 3  # both processes have imported Rasa by then
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.starmap(_turns_in_another_process, [(str(path), str(counter), start_at, 15)] * 2)
    assert counter.read_text() == "30", "a lost update: two turns of the conversation ran at once"
    assert sqlite_instance(path).get_lock("shared-conversation") is None


def test_lock_errors_surface_as_rasa_lock_errors_when_redis_is_gone():
    store = instance(free_port())  # nothing listens there
    with pytest.raises(LockError):
        store.issue_ticket("anyone")
