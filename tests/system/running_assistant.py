"""Starts the real assistant (a `rasa run` and an action server) for tests, as `make run` does."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.channels.credentials import credentials_from_env
from bot.settings import ROOT, Settings
from tests.system.fakes import ActionServerSwitch
from tools.serve import (
    action_server_command,
    endpoints_for,
    free_port,
    rasa_command,
    rasa_environment,
    wait_until_ready,
)


@dataclass
class RunningAssistant:
    rasa_port: int
    actions_port: int
    process: subprocess.Popen
    output: list[str]
    database: Path | None = None  # the SQLite conversation store (TRACKER_DB)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"


def _drain(process: subprocess.Popen, output: list[str], keep: int = 2000) -> None:
    for line in process.stdout:
        output.append(line)
        del output[:-keep]


def stop_group(process: subprocess.Popen, stop_signal: int, grace_s: float = 30) -> None:
    """Stops a process started in its own session, and everything it started: Rasa's Sanic
    workers outlive a main process that is killed, and under load the graceful stop can take
    longer than the grace period. The group is killed whatever the main process did."""
    process.send_signal(stop_signal)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def start_assistant(*, as_background_job: bool = False, **env: str) -> Iterator[RunningAssistant]:
    """Runs `python -m tools.serve` (what `make run` runs) on free ports until the block ends.

    `as_background_job` starts it with SIGINT ignored, as a shell starts `make run &` or CI."""
    rasa_port, actions_port = free_port(), free_port()
    # Each assistant gets its own conversation database unless the test chooses one.
    database = Path(tempfile.mkdtemp(prefix="bme-test-")) / "conversations.db"
    environment = {
        # Several Sanic workers, as `make run` uses on any machine with more than one core, so that
        # every system test also shows that the workers share what they must.
        "SANIC_WORKERS": "2",
        **os.environ,
        "RASA_PORT": str(rasa_port),
        "ACTIONS_PORT": str(actions_port),
        "TRACKER_DB": str(database),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.serve"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if as_background_job else None,
        start_new_session=True,  # its own process group: see stop_group
    )
    output: list[str] = []
    for line in process.stdout:  # tools.serve announces readiness once Rasa answers
        output.append(line)
        if "The assistant is ready" in line:
            break
    else:
        process.kill()
        pytest.fail("the assistant did not start:\n" + "".join(output[-40:]))
    # Keep reading, or a full pipe would block Rasa's logging and freeze the assistant.
    threading.Thread(target=_drain, args=(process, output), daemon=True).start()
    try:
        yield RunningAssistant(rasa_port, actions_port, process, output, Path(environment["TRACKER_DB"]))
    finally:
        stop_group(process, signal.SIGINT)


@dataclass
class SwitchedRasa:
    """A `rasa run` whose action server sits behind a switch (down, hanging or slow on demand)."""

    base_url: str
    rasa: subprocess.Popen
    switch: ActionServerSwitch
    rasa_log: Path
    actions_log: Path
    env: dict[str, str]  # Rasa's environment: TRACKER_DB, PROMETHEUS_MULTIPROC_DIR, ...


@contextlib.contextmanager
def rasa_behind_switch(work: Path, env: dict[str, str], api_token: str | None = None) -> Iterator[SwitchedRasa]:
    """Starts the action server and `rasa run` as tools/serve.py does (its endpoints, credentials
    from `env`, SANIC_WORKERS and the metrics directory), but with Rasa calling the action server
    through an `ActionServerSwitch`; logs and files under `work`. Stops both when the block ends."""
    rasa_port, actions_port = free_port(), free_port()
    env, _ = rasa_environment(Settings.from_env(env), env, temp_parent=work)  # under work: removed with it
    rasa_log, actions_log = work / "rasa.log", work / "actions.log"
    with actions_log.open("wb") as out:
        actions = subprocess.Popen(action_server_command(actions_port), cwd=ROOT, stdout=out, stderr=out)
    switch = ActionServerSwitch(f"http://127.0.0.1:{actions_port}")
    credentials = work / "credentials.yml"
    credentials.write_text(yaml.safe_dump(credentials_from_env(env, rasa_port)), encoding="utf-8")
    endpoints = endpoints_for(switch.port, env)
    command = [*rasa_command(rasa_port, endpoints, credentials, api_token), "--interface", "127.0.0.1"]
    with rasa_log.open("wb") as out:
        rasa = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        base_url = f"http://127.0.0.1:{rasa_port}"
        if not wait_until_ready(f"{base_url}/", rasa):
            pytest.fail("Rasa did not start:\n" + rasa_log.read_text(errors="replace")[-3000:])
        yield SwitchedRasa(base_url, rasa, switch, rasa_log, actions_log, env)
    finally:
        stop_group(rasa, signal.SIGTERM)
        actions.terminate()
        try:
            actions.wait(30)
        except subprocess.TimeoutExpired:
            actions.kill()
        endpoints.unlink(missing_ok=True)
        switch.down()
