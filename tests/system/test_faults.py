"""Faults: the action server down or slow, and a missing or corrupt model.

Here Rasa and the action server are started separately (not through tools/serve.py, which
stops the whole assistant when one part dies), so one can fail while the other runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.channels.guard import APOLOGY, REPLY_TIMEOUT_S
from bot.settings import ROOT
from tests.system.running_assistant import free_port
from tools.serve import MODEL, action_server_command, endpoints_for

URGENT = "get seen by a doctor straight away"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


def wait_for(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


def ask(rasa_port: int, sender: str, message: str) -> tuple[str, float]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
    started = time.monotonic()
    with urllib.request.urlopen(
        urllib.request.Request(url, body, {"Content-Type": "application/json"}), timeout=60
    ) as r:
        replies = json.loads(r.read())
    return "\n".join(m.get("text", "") for m in replies), time.monotonic() - started


def start_actions(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        action_server_command(port), cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for(f"http://127.0.0.1:{port}/health")
    return process


@pytest.fixture(scope="module")
def rasa_without_supervisor(tmp_path_factory):
    rasa_port, actions_port = free_port(), free_port()
    env = {**ENV, "TRACKER_DB": str(tmp_path_factory.mktemp("faults") / "conversations.db")}
    endpoints = endpoints_for(actions_port, env)
    credentials = tmp_path_factory.mktemp("creds") / "credentials.yml"
    credentials.write_text("bot.channels.rest.TokenRestInput:\n", encoding="utf-8")
    command = [sys.executable, "-m", "bot", "run", "--model", str(MODEL), "--endpoints", str(endpoints)]
    command += ["--credentials", str(credentials), "--port", str(rasa_port)]
    rasa = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{rasa_port}/")
    yield rasa_port, actions_port
    rasa.terminate()
    rasa.wait(30)


def test_action_server_down_gets_an_apology_then_recovers(rasa_without_supervisor):
    rasa_port, actions_port = rasa_without_supervisor
    actions = start_actions(actions_port)
    assert "Hoka Bondi 9" in ask(rasa_port, "down", "best shoes for knee bme?")[0]
    actions.kill()
    actions.wait()

    reply, seconds = ask(rasa_port, "down", "and the hip?")
    assert APOLOGY in reply and seconds < REPLY_TIMEOUT_S + 5
    # Warning signs need no action server: Rasa says the urgent response itself.
    assert URGENT in ask(rasa_port, "down-urgent", "my knee is red and swollen and I have a fever")[0]

    actions = start_actions(actions_port)
    try:
        assert "Asics Gel-Nimbus 26" in ask(rasa_port, "down", "and the hip?")[0]  # the conversation recovers
    finally:
        actions.kill()
        actions.wait()


def test_a_slow_action_server_gets_an_apology_within_bounded_time(rasa_without_supervisor):
    rasa_port, actions_port = rasa_without_supervisor

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(REPLY_TIMEOUT_S + 20)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", actions_port), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        reply, seconds = ask(rasa_port, "slow", "best shoes for knee bme?")
    finally:
        server.shutdown()
        server.server_close()
    assert APOLOGY in reply
    assert seconds < REPLY_TIMEOUT_S + 5


@pytest.mark.parametrize(("content", "expected"), [(None, "No trained model"), (b"not a model", "is damaged")])
def test_a_missing_or_corrupt_model_fails_start_up_clearly(tmp_path, content, expected):
    model = tmp_path / "model.tar.gz"
    if content is not None:
        model.write_bytes(content)
    env = {**ENV, "BME_MODEL": str(model), "RASA_PORT": str(free_port()), "ACTIONS_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "tools.serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert expected in result.stderr
