"""`make run`'s launcher (bot/serve.py) stops everything it started, even when it was started in
the background, where a shell hands it SIGINT as ignored (CI, nohup, `make run &`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.running_assistant import ROOT, free_port


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
def test_stopping_the_launcher_stops_rasa_and_the_action_server(tmp_path, stop_with):
    env = {
        **os.environ,
        "RASA_PORT": str(free_port()),
        "ACTIONS_PORT": str(free_port()),
        "TRACKER_DB": str(tmp_path / "conversations.db"),
    }
    launcher = subprocess.Popen(
        [sys.executable, "-m", "bot.serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as a background job
    )
    try:
        for line in launcher.stdout:
            if "The assistant is ready" in line:
                break
        started = children_of(launcher.pid)
        assert len(started) == 2, "Rasa and the action server"
        launcher.send_signal(stop_with)
        launcher.wait(30)
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in started if alive(pid)], "children left running"
    finally:
        for pid in children_of(launcher.pid) if launcher.poll() is None else []:
            os.kill(pid, signal.SIGKILL)
        launcher.kill()
