"""How fast this machine is right now, so benchmark runs on different days can be compared.

These machines vary up to 2x from day to day. A run's absolute figures mean little alone, but
next to the time a fixed piece of pure-Python work took in the same minutes they can be
scaled: a run whose calibration took 1.5x as long should be about 1.5x slower throughout. The
work resembles a turn's (dictionaries, JSON, string handling, no I/O), and the best of several
tries is kept, since anything else running can only make a try slower.
"""

from __future__ import annotations

import json
import time

_EVENTS = [
    {"event": "user", "text": f"message number {i} about bone marrow edema", "parse_data": {"intent": {"name": "ask"}}}
    for i in range(200)
]


def _work() -> int:
    total = 0
    for _ in range(150):
        decoded = json.loads(json.dumps(_EVENTS))
        total += sum(len(event["text"].split()) for event in decoded)
        total += len({event["text"][:12]: i for i, event in enumerate(decoded)})
    return total


def calibrate(tries: int = 7) -> float:
    """Milliseconds the fixed work takes on this machine now (best of `tries`): lower is faster."""
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        _work()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)
