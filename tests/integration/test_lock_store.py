"""The Redis lock store (bot/stores/lock_store.py) against a real redis-server: two store objects stand in
for two `rasa run` instances sharing one Redis."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from rasa.core.lock_store import LockError
from rasa.utils.endpoints import EndpointConfig

from bot.stores.lock_store import AtomicRedisLockStore
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


def test_simultaneous_tickets_from_two_instances_are_unique_and_in_order(redis_port):
    stores = [instance(redis_port), instance(redis_port)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        tickets = list(pool.map(lambda n: stores[n % 2].issue_ticket("same-conversation", 30), range(200)))
    assert sorted(tickets) == list(range(200))


def test_turns_of_one_conversation_on_two_instances_never_overlap(redis_port):
    stores = [instance(redis_port), instance(redis_port)]
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


def test_a_turn_queued_behind_a_crashed_instance_is_served_once_its_ticket_expires(redis_port):
    crashed, survivor = instance(redis_port), instance(redis_port)
    crashed.issue_ticket("orphaned", 1)  # taken, never released: its instance died mid-turn

    async def queued_turn() -> float:
        started = time.monotonic()
        async with survivor.lock("orphaned", lock_lifetime=1):
            return time.monotonic() - started

    waited = asyncio.run(queued_turn())
    # Rasa's RedisLockStore raises LockError here: its waiting ticket expires with the dead one.
    assert 0.9 < waited < 3
    assert survivor.get_lock("orphaned") is None


def test_lock_errors_surface_as_rasa_lock_errors_when_redis_is_gone():
    store = instance(free_port())  # nothing listens there
    with pytest.raises(LockError):
        store.issue_ticket("anyone")
