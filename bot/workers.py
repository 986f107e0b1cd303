"""Which process of the server this is, when `rasa run` runs several Sanic workers (SANIC_WORKERS).

Sanic forks its workers from one main process that only waits for them; every worker loads the
model and serves on the shared port. Some things must happen once per server, not once per
worker (setting the Telegram webhook), or must reach a sibling worker (the web chat's polling
requests, bot/channels/socketio_workers.py), or must sum every worker (/metrics). A forked worker
runs the same command line as its parent: that is how one tells it is a worker.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


def _command_line(pid: int | str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None  # it ended meanwhile


@functools.cache
def _main_process(pid: int) -> int | None:
    parent = os.getppid()
    return parent if _command_line(parent) == _command_line("self") else None


def main_process() -> int | None:
    """The pid of the Sanic main process this worker was forked from; None when this process
    serves alone (one worker: Sanic serves in its main process)."""
    return _main_process(os.getpid())  # cached per process: a forked child asks again


def server_id() -> str:
    """The same in every worker of one server, different for the next start of it: the main
    process's pid and start time."""
    main = main_process() or os.getpid()
    try:
        started = Path(f"/proc/{main}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = "?"
    return f"{main}:{started}"


def worker_pids() -> list[int]:
    """Every live worker of this server (this process alone when it serves alone)."""
    main = main_process()
    if main is None:
        return [os.getpid()]
    workers = [
        int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat") if _parent_of(int(stat.parent.name)) == main
    ]
    return workers or [os.getpid()]
