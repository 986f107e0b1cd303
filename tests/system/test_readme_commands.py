"""Every command the README names, run the way a newcomer runs it, answers a question.

`make shell` and `rasa shell` are driven through a pseudo-terminal, as a person types into
them; `rasa run` uses the repository's own credentials.yml with the documented action server
(`rasa run actions`). Each uses free ports and a throw-away conversation database.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.settings import ENDPOINTS, ROOT
from tools.serve import free_port, wait_until_ready

RASA = str(Path(sys.executable).with_name("rasa"))
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
# The definition answer's own words: proof that the question was understood and answered.
DEFINITION = "extra fluid has collected"


class Terminal:
    """A command running in a pseudo-terminal: what it prints, and typing into it."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the command
            os.chdir(ROOT)
            os.execvpe(command[0], command, env)
        self.output = b""

    def wait_for(self, text: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                self.output += chunk
                if text.encode() in self.output:
                    return True
        return False

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(self.pid), signal.SIGINT)
        for _ in range(40):
            if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                break
            time.sleep(0.5)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(self.pid), signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def ask_in_terminal(command: list[str], env: dict[str, str]) -> str:
    terminal = Terminal(command, env)
    try:
        assert terminal.wait_for("Your input", 240), terminal.output.decode(errors="replace")[-3000:]
        terminal.type("what is bone marrow edema?")
        terminal.wait_for(DEFINITION, 60)
        terminal.type("/stop")
        return terminal.output.decode(errors="replace")
    finally:
        terminal.stop()


@contextlib.contextmanager
def documented_action_server() -> Iterator[Path]:
    """`rasa run actions` (as the README says, in another terminal) and an endpoints file that
    points to it, keeping conversations in a throw-away SQLite file."""
    port = free_port()
    server = subprocess.Popen(
        [RASA, "run", "actions", "--port", str(port)],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until_ready(f"http://127.0.0.1:{port}/health", server, 120), "rasa run actions did not start"
        endpoints = yaml.safe_load(ENDPOINTS.read_text(encoding="utf-8"))
        endpoints["action_endpoint"]["url"] = f"http://localhost:{port}/webhook"
        with contextlib.ExitStack() as cleanup:
            folder = Path(cleanup.enter_context(_temporary_folder()))
            endpoints["tracker_store"]["db"] = str(folder / "conversations.db")
            path = folder / "endpoints.yml"
            path.write_text(yaml.safe_dump(endpoints), encoding="utf-8")
            yield path
    finally:
        server.terminate()
        server.wait(30)


@contextlib.contextmanager
def _temporary_folder() -> Iterator[str]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bme-readme-") as folder:
        yield folder


def test_make_shell_answers_a_question():
    env = {**ENV, "RASA_PORT": str(free_port()), "ACTIONS_PORT": str(free_port())}
    output = ask_in_terminal(["make", "shell"], env)
    assert DEFINITION in output, output[-3000:]


def test_rasa_shell_answers_with_the_documented_action_server():
    with documented_action_server() as endpoints:
        command = [RASA, "shell", "--endpoints", str(endpoints), "--port", str(free_port())]
        output = ask_in_terminal(command, ENV)
    assert DEFINITION in output, output[-3000:]


def test_rasa_run_answers_with_the_repositorys_credentials_file():
    port = free_port()
    with documented_action_server() as endpoints:
        rasa = subprocess.Popen(
            [RASA, "run", "--credentials", "credentials.yml", "--endpoints", str(endpoints), "--port", str(port)],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_until_ready(f"http://127.0.0.1:{port}/", rasa, 240), "rasa run did not start"
            body = json.dumps({"sender": "readme", "message": "what is bone marrow edema?"}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/webhooks/rest/webhook", body, {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                texts = " ".join(m.get("text", "") for m in json.loads(response.read()))
        finally:
            rasa.terminate()
            rasa.wait(60)
    assert DEFINITION in texts


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ([RASA, "data", "validate"], "No story structure conflicts found"),
        ([RASA, "test", "--stories", "tests/stories", "--nlu", "tests/nlu/heldout.yml", "--out", "{out}"], ""),
        (["make", "replies"], "replies ("),
        (["make", "eval"], "Held-out intent accuracy"),
        # the long-running ones start and explain themselves (their own tests run them for real)
        ([sys.executable, "-m", "tools.benchmark", "--help"], "usage"),
        ([sys.executable, "-m", "tools.cluster", "--help"], "usage"),
        ([sys.executable, "-m", "tools.bench_against", "--help"], "usage"),
    ],
    ids=["rasa data validate", "rasa test", "make replies", "make eval", "bench", "cluster", "bench against"],
)
def test_a_readme_command_runs_and_reports(command, expected, tmp_path):
    command = [part.replace("{out}", str(tmp_path / "rasa-test")) for part in command]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert expected in output


def test_make_review_writes_a_report_of_the_conversation_store(tmp_path):
    """`make review` serves the page; with REVIEW_ARGS it writes the static report instead."""
    from tools.review.timing import seed

    database = tmp_path / "conversations.db"
    seed(f"sqlite:///{database}", 2000)
    report = tmp_path / "review.html"
    result = subprocess.run(
        ["make", "review", f"REVIEW_ARGS=--html {report}"],
        cwd=ROOT,
        env={**ENV, "TRACKER_DB": str(database)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "turns worth a look written" in result.stdout
    assert "Turns worth a look" in report.read_text(encoding="utf-8")


def test_make_forget_deletes_one_conversation(tmp_path):
    """`make forget SENDER=…` (README, docs/privacy.md) on the embedded SQLite store."""
    import asyncio

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered

    from bot.settings import DOMAIN
    from bot.stores.erasure import stored_events
    from bot.stores.tracker_store import TurnLimitedSQLTrackerStore

    database = tmp_path / "conversations.db"
    store = TurnLimitedSQLTrackerStore(domain=Domain.load(str(DOMAIN)), dialect="sqlite", db=str(database))
    for sender in ("U0FORGETME", "U0STAYS"):
        tracker = store.init_tracker(sender)
        tracker.update(UserUttered("what is bme"))
        asyncio.run(store.save(tracker))
    env = {**ENV, "TRACKER_DB": str(database)}
    result = subprocess.run(
        ["make", "forget", "SENDER=U0FORGETME"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "Deleted 1 stored events" in result.stdout
    assert stored_events(store.engine, "U0FORGETME") == 0 and stored_events(store.engine, "U0STAYS") == 1
