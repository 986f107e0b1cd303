"""`make run`'s launcher (tools/serve.py) stops everything it started, even when it was started in
the background, where a shell hands it SIGINT as ignored (CI, nohup, `make run &`)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.system.running_assistant import start_assistant


def children_of(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.split(")")[-1].split()[0] != "Z"  # a zombie has already exited


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM])
def test_stopping_the_launcher_stops_rasa_and_the_action_server(stop_with):
    with start_assistant(as_background_job=True) as running:
        started = children_of(running.process.pid)
        assert len(started) == 2, "Rasa and the action server"
        try:
            running.process.send_signal(stop_with)
            running.process.wait(30)
            deadline = time.monotonic() + 15
            while any(alive(pid) for pid in started) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not [pid for pid in started if alive(pid)], "children left running"
        finally:
            for pid in filter(alive, started):
                os.kill(pid, signal.SIGKILL)
