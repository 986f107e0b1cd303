"""One `rasa run` with two Sanic workers on one port, as `make run` starts it on any machine of two
cores or more, with the embedded stores only (SQLite): both workers answer; simultaneous turns of
one sender run one at a time, in the order they arrived, each stored whole; one sender's flood
meets one limit however the kernel spreads it; /metrics counts every worker's messages; and a
web chat on HTTP long-polling, whose requests land on either worker, is answered throughout.

The action server sits behind a switch that can slow every call down, so that turns overlap."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from bot.channels.socketio_workers import owner_of
from tests.system.fakes import ActionServerSwitch
from tests.system.running_assistant import rasa_behind_switch
from tools.benchmark.servers import cpu_seconds

QUESTIONS = {
    "what is bme": "marrow",
    "how long does overuse bme take to heal": "4–8 weeks",
    "best shoes for knee bme?": "Hoka Bondi 9",
}


@dataclass
class Server:
    base_url: str
    rasa: subprocess.Popen
    database: Path
    metrics_dir: Path
    switch: ActionServerSwitch

    def workers(self) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.rasa.pid:
                    children.append(int(stat.parent.name))
            except (OSError, IndexError, ValueError):
                continue
        return children

    def ask(self, sender: str, message: str) -> tuple[int, str]:
        """One REST message on a connection of its own (the kernel picks the worker)."""
        body = json.dumps({"sender": sender, "message": message}).encode()
        request = urllib.request.Request(f"{self.base_url}/webhooks/rest/webhook", body, {"Connection": "close"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, "\n".join(m.get("text", "") for m in json.loads(response.read()))
        except urllib.error.HTTPError as error:
            return error.code, ""

    def stored(self, sender: str) -> list[dict[str, Any]]:
        with sqlite3.connect(self.database) as db:
            rows = db.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()
        return [json.loads(data) for (data,) in rows]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("workers")
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TRACKER_DB": str(work / "conversations.db"),
        "SANIC_WORKERS": "2",
    }
    with rasa_behind_switch(work, env) as rasa:
        metrics_dir = Path(rasa.env["PROMETHEUS_MULTIPROC_DIR"])
        running = Server(rasa.base_url, rasa.rasa, Path(env["TRACKER_DB"]), metrics_dir, rasa.switch)
        for _ in range(100):  # both workers load the model; the port answers once the first has
            if len(running.workers()) == 2 and all(running.ask(f"warm-{n}", "hi")[0] == 200 for n in range(6)):
                break
            time.sleep(0.2)
        yield running


@pytest.fixture
def slow_actions(server: Server) -> Iterator[None]:
    server.switch.delay_s = 0.4
    try:
        yield
    finally:
        server.switch.delay_s = 0.0


def test_both_workers_answer_on_the_one_port(server):
    workers = server.workers()
    assert len(workers) == 2
    before = {pid: cpu_seconds(pid) for pid in workers}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: server.ask(f"spread-{n}", "what is bme"), range(40)))
    assert all(status == 200 and "marrow" in text for status, text in results)
    assert all(cpu_seconds(pid) > before[pid] for pid in workers), "one worker answered everything"


def _send_staggered(server: Server, sender: str, messages: list[str], gap_s: float) -> list[tuple[str, str, float]]:
    """Each message on its own connection, `gap_s` after the one before; (message, reply, when
    the reply came), in the order sent."""
    results: list[tuple[str, str, float]] = [("", "", 0.0)] * len(messages)

    def send(index: int) -> None:
        time.sleep(index * gap_s)
        status, text = server.ask(sender, messages[index])
        results[index] = (messages[index], text if status == 200 else f"HTTP {status}", time.monotonic())

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(messages))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_simultaneous_turns_of_one_sender_run_one_at_a_time_in_arrival_order(server, slow_actions):
    # Every turn waits 0.4 s for the action server, so the second and third message arrive
    # (on either worker) while the first is being answered, and must queue behind it.
    for round_number in range(3):
        sender = f"queue-{round_number}"
        messages = list(QUESTIONS)[round_number:] + list(QUESTIONS)[:round_number]
        started = time.monotonic()
        results = _send_staggered(server, sender, messages, gap_s=0.1)
        for message, reply, _ in results:
            assert QUESTIONS[message] in reply, f"{message!r} got {reply[:200]!r}"
        finished = [at for _, _, at in results]
        assert finished == sorted(finished), "answered out of the order they arrived"
        assert finished[-1] - started > 3 * 0.4, "the turns ran at the same time"

        events = server.stored(sender)
        users = [i for i, e in enumerate(events) if e["event"] == "user"]
        assert [events[i]["text"] for i in users] == messages, "stored out of the order they arrived"
        for index in users[1:]:  # each turn stored whole: the one before ended listening
            assert events[index - 1]["event"] == "action" and events[index - 1]["name"] == "action_listen"


def test_a_flood_from_one_sender_over_both_workers_meets_one_limit(server, slow_actions):
    # 12 at once; each turn takes over 0.4 s, so all arrive while the first three are in flight.
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = [status for status, _ in pool.map(lambda _: server.ask("flooder", "what is bme"), range(12))]
    assert statuses.count(200) == 3 and statuses.count(429) == 9, statuses  # kept per worker: 6 would pass


def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_the_messages_of_every_worker(server):
    rest = ("bme_messages_total", (("channel", "rest"),))
    before = scrape(server)
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(s == 200 for s, _ in pool.map(lambda n: server.ask(f"counted-{n}", "what is bme"), range(20)))
    after = scrape(server)
    assert after[rest] - before[rest] == 20
    assert after[("process_cpu_seconds_total", ())] > 0  # the workers' CPU, summed

    per_worker = {}
    for path in server.metrics_dir.glob("counter_*.db"):
        samples = [s for m in MultiProcessCollector.merge([str(path)]) for s in m.samples]
        per_worker[path.stem] = sum(s.value for s in samples if s.name == rest[0] and s.labels == dict(rest[1]))
    shares = [value for value in per_worker.values() if value]
    assert len(shares) == 2 and sum(shares) == after[rest], per_worker  # each worker its share, summed


def test_a_web_chat_on_long_polling_is_answered_whichever_worker_takes_each_request(server):
    http = requests.Session()
    http.headers["Connection"] = "close"  # every polling request a new connection: either worker
    client = socketio.Client(http_session=http)
    heard: list[str] = []
    confirmed = threading.Event()
    client.on("bot_uttered", lambda data: heard.append(data.get("text", "")))
    client.on("session_confirm", lambda _: confirmed.set())
    client.connect(server.base_url, socketio_path="/socket.io", transports=["polling"])
    try:
        assert owner_of(client.eio.sid) in server.workers()
        client.emit("session_request", {"session_id": "polling-chat"})
        assert confirmed.wait(10)
        for message, expected in QUESTIONS.items():
            client.emit("user_uttered", {"message": message, "session_id": "polling-chat"})
            deadline = time.monotonic() + 15
            while not any(expected in text for text in heard) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert any(expected in text for text in heard), f"no answer to {message!r}: {heard}"
    finally:
        client.disconnect()
