"""The load generator: simulated users (mix.py) talking to an assistant over Rasa's REST channel.

Closed loop, as people chat: each of `concurrency` users sends a message, waits for the reply,
reads its buttons and sends the next, conversation after conversation, each under a new sender
id, until time is up. Every reply is recorded with the turn it answered, which gives both the
throughput and the cost of a turn by its position in the conversation.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from tools.benchmark import mix

# The turns compared for "does a turn cost more later in a conversation" (issue 15): the median
# reply at turns 18-22 over the median at turns 2-4 (turn 1 is the first, so 1-based here).
EARLY_TURNS = range(2, 5)
LATE_TURNS = range(18, 23)


@dataclass(frozen=True)
class Reply:
    turn: int  # 1-based position of the message in its conversation
    ms: float
    ok: bool


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    messages: int
    conversations: int
    errors: int
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


async def _send(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> tuple[bool, list[Any]]:
    try:
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            body = await response.json(content_type=None) if response.status == 200 else None
            return response.status == 200 and isinstance(body, list), body or []
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return False, []


async def _conversation(
    session: aiohttp.ClientSession, url: str, user: mix.User, sender: str, deadline: float, replies: list[Reply]
) -> None:
    last: list[Any] = []
    while not user.done and time.monotonic() < deadline:
        text = mix.next_message(user, last)
        started = time.perf_counter()
        ok, last = await _send(session, url, sender, text)
        replies.append(Reply(len(user.sent), (time.perf_counter() - started) * 1000, ok))


async def _user_loop(url: str, seed: str, deadline: float, replies: list[Reply]) -> None:
    rng = random.Random(seed)
    n = 0
    while time.monotonic() < deadline:
        user = mix.new_user(rng)
        async with _session() as session:  # a new user comes on a new connection, as from a browser
            await _conversation(session, url, user, f"bench-{seed}-{n}-{rng.randrange(10**9)}", deadline, replies)
        n += 1


def _session() -> aiohttp.ClientSession:
    """One user's HTTP client. Each conversation gets its own connection, as people's browsers
    and the chat platforms' webhooks do: a server of several workers hands each new connection
    to one of them, so a handful of connections kept alive for a whole run would measure how
    the kernel happened to spread those few, not how the workers share real traffic."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), connector=aiohttp.TCPConnector(limit=1))


async def run_mix(url: str, concurrency: int, seconds: float, seed: int = 0) -> tuple[list[Reply], int, float]:
    """`concurrency` users chatting for `seconds`: every reply, the conversations started, and
    the seconds it took. The same seed gives every assistant the same users."""
    replies: list[Reply] = []
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(_user_loop(url, f"{seed}-{w}", deadline, replies) for w in range(concurrency)))
    return replies, sum(reply.turn == 1 for reply in replies), time.monotonic() - started


async def run_load(url: str, concurrency: int, seconds: float) -> tuple[list[float], int, float]:
    """The mix as tools/bench_against.py reads it: reply times (ms), errors, seconds taken."""
    replies, _, elapsed = await run_mix(url, concurrency, seconds)
    return [r.ms for r in replies if r.ok], sum(not r.ok for r in replies), elapsed


def load(url: str, concurrency: int, seconds: float, seed: int = 0) -> LoadResult:
    replies, conversations, elapsed = asyncio.run(run_mix(url, concurrency, seconds, seed))
    ms = [r.ms for r in replies if r.ok]
    return LoadResult(
        concurrency,
        round(elapsed, 1),
        len(ms),
        conversations,
        sum(not r.ok for r in replies),
        round(len(ms) / elapsed, 1),
        round(percentile(ms, 0.50), 1),
        round(percentile(ms, 0.95), 1),
        round(percentile(ms, 0.99), 1),
    )


# The per-turn curve's conversations: one chat's messages (a question that asks back, the button,
# a follow-up, a question answered by typing, another follow-up, thanks), each conversation
# starting one further along the cycle. Over len(CURVE_CYCLE) conversations every turn sees
# every message exactly once, so the turns compare the same work done later in a conversation.
CURVE_CYCLE = (
    "which shoes help with bone marrow oedema",
    '/inform{"location": "knee"}',
    "and the hip?",
    "how long does it take to heal",
    "it's from overuse",
    "what about ibuprofen?",
    "thanks",
)


async def _turn_curve(url: str, conversations: int, turns: int) -> list[Reply]:
    replies: list[Reply] = []
    for n in range(conversations):
        sender = f"curve-{n}-{time.time_ns()}"
        async with _session() as session:
            for turn in range(1, turns + 1):
                text = CURVE_CYCLE[(n + turn - 1) % len(CURVE_CYCLE)]
                started = time.perf_counter()
                ok, _ = await _send(session, url, sender, text)
                replies.append(Reply(turn, (time.perf_counter() - started) * 1000, ok))
    return replies


def turn_curve(url: str, conversations: int = len(CURVE_CYCLE), turns: int = mix.MAX_TURNS) -> dict[str, Any]:
    """`conversations` fresh conversations of `turns` turns, one at a time (CURVE_CYCLE): the
    median reply by turn, and the late-over-early ratio (LATE_TURNS over EARLY_TURNS)."""
    replies = asyncio.run(_turn_curve(url, conversations, turns))
    by_turn: dict[int, list[float]] = {}
    for reply in replies:
        if reply.ok:
            by_turn.setdefault(reply.turn, []).append(reply.ms)
    early = [ms for t in EARLY_TURNS for ms in by_turn.get(t, [])]
    late = [ms for t in LATE_TURNS for ms in by_turn.get(t, [])]
    return {
        "conversations": conversations,
        "errors": sum(not r.ok for r in replies),
        "median_ms_by_turn": {t: round(statistics.median(v), 1) for t, v in sorted(by_turn.items())},
        "early_median_ms": round(statistics.median(early), 1) if early else None,
        "late_median_ms": round(statistics.median(late), 1) if late else None,
        "late_over_early": round(statistics.median(late) / statistics.median(early), 2) if early and late else None,
    }
