"""Two `rasa run` instances sharing PostgreSQL and Redis behind nginx (tools/cluster.py), with real
processes: conversations that hop between instances keep every turn in order, simultaneous turns
of one conversation are serialised by the lock store, the input guard's state is shared (a
Slack event and its retry reaching both instances get one answer, a flood spread over both is
limited as one sender's), erasure works on PostgreSQL from the chat and from `make forget`, a
killed instance loses no request, and nginx balances round-robin. Needs Debian's
redis-server, postgresql and nginx."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.domain.replies import CONVERSATION_DELETED
from bot.settings import ROOT, Settings
from tests.system.fakes import SLACK_SECRET, SLACK_TOKEN, FakeSlack, FakeSlackApi
from tools.cluster import Cluster, ClusterError, Database, cluster, find_binaries
from tools.review.store import ReviewIndex, store_url


def _missing_packages() -> str | None:
    try:
        find_binaries()
    except ClusterError as error:
        return str(error)
    return None


pytestmark = pytest.mark.skipif(
    _missing_packages() is not None, reason=f"the scale-out tests need Debian packages: {_missing_packages()}"
)

# Each turn and a phrase its answer must contain. The follow-ups ("and the hip?", "what if it's
# a stress fracture?") only work with the topic and slots the previous turn wrote.
SHOES_FIRST = [
    ("best shoes for knee bme?", "Hoka Bondi 9"),
    ("and the hip?", "Asics Gel-Nimbus 26"),
    ("how long does overuse bme take to heal", "4–8 weeks"),
    ("what if it's a stress fracture?", "3–6 months"),
    ("what is bme", "marrow"),
    ("thanks", "You're welcome"),
]
RECOVERY_FIRST = [SHOES_FIRST[i] for i in (2, 3, 0, 1, 5, 4)]


@pytest.fixture(scope="module")
def slack_api() -> Iterator[FakeSlackApi]:
    api = FakeSlackApi()
    yield api
    api.server.shutdown()


@pytest.fixture(scope="module")
def running(slack_api: FakeSlackApi) -> Iterator[Cluster]:
    slack = {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_URL": slack_api.url}
    with cluster(instances=2, env=slack) as started:
        yield started


def send(base_url: str, sender: str, message: str) -> tuple[int, str]:
    """One REST turn: the status and the reply's texts joined."""
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(f"{base_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, "\n".join(m.get("text", "") for m in json.loads(response.read()))


def stored_events(database: Database, sender: str) -> list[dict]:
    """The sender's events as SQLTrackerStore wrote them, in insertion order."""
    import psycopg2

    connection = psycopg2.connect(
        host=database.host, port=database.port, dbname=database.name, user=database.user, password=database.password
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (sender,))
            return [json.loads(data) for (data,) in cursor.fetchall()]
    finally:
        connection.close()


def stored_turns(database: Database, sender: str) -> list[tuple[str, str]]:
    """Each stored user message with the bot's texts that follow it."""
    turns: list[tuple[str, str]] = []
    for event in stored_events(database, sender):
        if event["event"] == "user":
            turns.append((event["text"], ""))
        elif event["event"] == "bot" and turns:
            turns[-1] = (turns[-1][0], turns[-1][1] + "\n" + (event.get("text") or ""))
    return turns


def _hop_between_instances(running: Cluster, sender: str, script: list[tuple[str, str]]) -> list[str]:
    """Sends turn i straight to instance i % 2 (no nginx): every turn needs the other's writes."""
    problems = []
    for turn, (message, expected) in enumerate(script):
        status, reply = send(running.instance_urls[turn % 2], sender, message)
        if status != 200 or expected not in reply:
            problems.append(f"{sender} turn {turn} {message!r} on instance {turn % 2}: {status} {reply[:200]!r}")
    return problems


def test_conversations_alternating_between_instances_keep_every_turn_in_order(running):
    senders = {f"hop-{n}": SHOES_FIRST if n % 2 else RECOVERY_FIRST for n in range(20)}
    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        results = pool.map(lambda item: _hop_between_instances(running, *item), senders.items())
        problems = [p for result in results for p in result]
    assert not problems, "\n".join(problems)

    for sender, script in senders.items():
        turns = stored_turns(running.database, sender)
        assert [text for text, _ in turns] == [message for message, _ in script], sender
        for (message, expected), (_, answer) in zip(script, turns, strict=True):
            assert expected in answer, f"{sender}: stored answer to {message!r}"


def _simultaneous_turns(running: Cluster, sender: str) -> list[str]:
    """After one turn, two more of the same conversation at once, one to each instance."""
    problems = _hop_between_instances(running, sender, [("what is bme", "marrow")])
    together = threading.Barrier(2)

    def turn(instance: int, message: str, expected: str) -> None:
        together.wait()
        status, reply = send(running.instance_urls[instance], sender, message)
        if status != 200 or expected not in reply:  # a LockError still answers 200, with no text
            problems.append(f"{sender} {message!r} on instance {instance}: {status} {reply[:200]!r}")

    with ThreadPoolExecutor(max_workers=2) as pool:
        for instance, (message, expected) in enumerate([SHOES_FIRST[0], SHOES_FIRST[2]]):
            pool.submit(turn, instance, message, expected)
    return problems


def test_simultaneous_turns_of_one_conversation_on_both_instances_are_serialised(running):
    senders = [f"together-{n}" for n in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for result in pool.map(lambda s: _simultaneous_turns(running, s), senders) for p in result]
    assert not problems, "\n".join(problems)

    expected = {"what is bme": "marrow", SHOES_FIRST[0][0]: SHOES_FIRST[0][1], SHOES_FIRST[2][0]: SHOES_FIRST[2][1]}
    for sender in senders:
        turns = stored_turns(running.database, sender)
        # Each message exactly once; the two simultaneous ones in either order, but each stored
        # with its own complete answer (one turn finished before the other started).
        assert sorted(text for text, _ in turns) == sorted(expected), sender
        assert turns[0][0] == "what is bme", sender
        for text, answer in turns:
            assert expected[text] in answer, f"{sender}: stored answer to {text!r}"


def test_nginx_balances_round_robin(running):
    upstreams = []
    for _ in range(6):
        with urllib.request.urlopen(f"{running.nginx_url}/", timeout=10) as response:
            assert response.status == 200
            upstreams.append(response.headers["X-Upstream"])
    instances = [url.removeprefix("http://") for url in running.instance_urls]
    assert set(upstreams) == set(instances)
    assert all(a != b for a, b in itertools.pairwise(upstreams)), upstreams
    logged = re.findall(r'"GET / HTTP/1.1" 200 upstream=(\S+)', running.nginx_access_log.read_text())
    assert logged[-6:] == upstreams


def metric(base_url: str, name: str, **labels: str) -> float:
    """One sample of an instance's /metrics (the cluster sets no METRICS_TOKEN: this machine only)."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_each_instance_exposes_its_own_metrics_and_nginx_passes_none_on(running):
    before = [metric(url, "bme_messages_total", channel="rest") for url in running.instance_urls]
    for n in range(3):
        assert send(running.instance_urls[0], f"metrics-a-{n}", "what is bme")[0] == 200
    assert send(running.instance_urls[1], "metrics-b", "what is bme")[0] == 200
    after = [metric(url, "bme_messages_total", channel="rest") for url in running.instance_urls]
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 1]  # Prometheus sums the instances
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{running.nginx_url}/metrics", timeout=10)
    assert refused.value.code == 404


def test_the_review_page_reads_the_shared_postgresql_store(running, monkeypatch):
    assert send(running.instance_urls[1], "review-pg", "blorp the snarfle")[0] == 200
    for name, value in {**running.environment(), "RASA_ENDPOINTS": "endpoints.production.yml"}.items():
        monkeypatch.setenv(name, value)
    url = store_url(Settings.from_env())
    assert url.get_backend_name() == "postgresql"
    index = ReviewIndex.open(url)
    index.refresh()
    turn = next(t for t in index.worth_a_look(["fallback"]) if t.sender == "review-pg")
    assert turn.text == "blorp the snarfle" and "clarify" in turn.answers
    assert [line.who for line in index.conversation_around(turn)][:2] == ["user", "bot"]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """A POST: its status, the instance nginx chose (X-Upstream) and the body."""
    request = urllib.request.Request(url, body, headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get("X-Upstream", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Upstream", ""), error.read()


def test_a_slack_event_and_its_retry_on_different_instances_get_one_answer(running, slack_api):
    slack = FakeSlack(running.nginx_url, slack_api)
    answered: list[str] = []
    for n in range(4):  # several events, each delivered three times through nginx
        channel = f"D_RETRY_{n}"
        event = json.dumps(slack.message_event(f"U_RETRY_{n}", channel, "which shoes are best for my heel?")).encode()
        upstreams = set()
        for retry in range(3):
            headers = {"Content-Type": "application/json", **signed(event)}
            if retry:
                headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            status, upstream, _ = post(f"{running.nginx_url}/webhooks/slack/webhook", event, headers)
            assert status == 200
            upstreams.add(upstream)
        assert len(upstreams) == 2, "the deliveries must reach both instances"
        slack.answered(f"U_RETRY_{n}", channel, "what is bone marrow edema?", expected="MRI")
        answered.append(channel)
    for channel in answered:
        assert sum("Altra Paradigm 7" in p.get("text", "") for p in slack_api.posts(channel)) == 1, channel


def signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def rest(running: Cluster, sender: str, message: str) -> tuple[int, str]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    status, upstream, _ = post(f"{running.nginx_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    return status, upstream


def test_a_flood_over_two_instances_is_limited_as_one_sender(running):
    """One message after another, round-robin over both instances: the minute's limit (30) is
    counted once for both. Kept per instance, 40 would pass (20 on each)."""
    results = [rest(running, "flood-steady", "what is bme") for _ in range(40)]
    statuses = [status for status, _ in results]
    assert len({upstream for _, upstream in results}) == 2
    assert statuses.count(200) == 30 and statuses.count(429) == 10, statuses
    print(f"\nflood, one at a time over 2 instances: 40 sent, {statuses.count(429)} refused (limit 30/min)")


def test_simultaneous_messages_over_two_instances_are_limited_as_one_sender(running):
    """20 at once, spread by nginx over both instances: at most 3 of one sender's messages are
    handled at a time across the cluster, so most are refused at once (kept per instance, 6
    would be taken)."""
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: rest(running, "flood-burst", "what is bme"), range(20)))
    statuses = [status for status, _ in results]
    assert len({upstream for _, upstream in results}) == 2
    assert set(statuses) == {200, 429}
    assert statuses.count(429) >= 10
    print(f"\nflood, 20 at once over 2 instances: {statuses.count(429)} refused, {statuses.count(200)} answered")


def test_erasure_on_postgresql_from_the_chat_and_from_make_forget(running):
    for message in ("what is bme", "best shoes for knee bme?"):
        assert send(running.nginx_url, "pg-erase-me", message)[0] == 200
    assert send(running.nginx_url, "pg-erase-me", "please delete my conversation")[0] == 200
    assert CONVERSATION_DELETED in send(running.nginx_url, "pg-erase-me", "/affirm")[1]
    deadline = time.monotonic() + 5
    while stored_events(running.database, "pg-erase-me") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored_events(running.database, "pg-erase-me") == []

    assert send(running.nginx_url, "pg-operator-forgets", "what is bme")[0] == 200
    assert send(running.nginx_url, "pg-stays", "what is bme")[0] == 200
    env = {**os.environ, **running.environment(), "RASA_ENDPOINTS": "endpoints.production.yml"}
    forget = [sys.executable, "-m", "tools.forget", "pg-operator-forgets"]
    result = subprocess.run(forget, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Deleted" in result.stdout and "pg-operator-forgets" not in result.stdout
    assert stored_events(running.database, "pg-operator-forgets") == []
    assert stored_events(running.database, "pg-stays") != []


def _converse_through_nginx(running: Cluster, sender: str, answered: list[int], problems: list[str]) -> None:
    for message, expected in SHOES_FIRST:
        try:
            status, reply = send(running.nginx_url, sender, message)
        except OSError as error:
            problems.append(f"{sender} {message!r}: {error}")
            continue
        if status != 200 or expected not in reply:
            problems.append(f"{sender} {message!r}: {status} {reply[:200]!r}")
        answered.append(1)


def test_a_killed_instance_loses_no_request_and_no_turn(running):
    """Last in the module: it leaves one instance dead."""
    senders = [f"crash-{n}" for n in range(12)]
    total = len(senders) * len(SHOES_FIRST)
    answered: list[int] = []
    problems: list[str] = []
    threads = [threading.Thread(target=_converse_through_nginx, args=(running, s, answered, problems)) for s in senders]
    for thread in threads:
        thread.start()
    give_up = time.monotonic() + 120  # requests that fail are not counted: never wait for ever
    while len(answered) < total // 3 and time.monotonic() < give_up:  # kill mid-run, turns in flight
        time.sleep(0.05)
    answered_before_kill = len(answered)
    running.kill_instance(1)
    for thread in threads:
        thread.join(120)

    assert answered_before_kill < total
    assert not problems, "\n".join(problems)
    assert len(answered) == total
    killed = running.instance_urls[1].removeprefix("http://")
    assert killed in running.nginx_error_log.read_text(), "no request reached the killed instance"
    for sender in senders:
        stored = [text for text, _ in stored_turns(running.database, sender)]
        # nginx resends a turn the dead instance never answered; were it killed between saving
        # and answering, the turn would be stored twice (at least once, never lost).
        deduplicated = [text for i, text in enumerate(stored) if i == 0 or text != stored[i - 1]]
        assert deduplicated == [message for message, _ in SHOES_FIRST], sender
