"""Runs the whole assistant in the foreground: the action server and `rasa run` (or `rasa shell`).

`make run` calls this after building what is missing. Ports come from RASA_PORT (5005) and
ACTIONS_PORT (5055); Rasa is pointed at the action server through a copy of endpoints.yml
with that port, and gets the channels the environment enables (bot/channels/credentials.py).
Rasa's HTTP API stays off unless RASA_API_TOKEN is set, and then requires that token.
Ctrl-C (or SIGTERM) stops both processes; if either dies, the other is stopped too, so the
assistant never runs half-alive.

Every core answers: Rasa runs SANIC_WORKERS processes on RASA_PORT (its own setting; here it
defaults to the machine's cores), which share the conversations (SQLite's write-ahead log), the
turn locks and the input guard's limits (bot/stores/lock_store.py, a SQLite file beside the
conversations), and /metrics (prometheus-client's multiprocess mode, in a directory made for
this run and removed after it). docs/deployment.md says what else spans the workers.

Usage: python -m tools.serve [--shell]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from bot.channels.credentials import credentials_from_env
from bot.settings import MODEL, ROOT, Settings

READY_TIMEOUT_S = 180


def _write_temp_yaml(data: dict, prefix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=".yml")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        yaml.safe_dump(data, out)
    return Path(name)


def endpoints_for(actions_port: int, env: dict[str, str]) -> Path:
    """The endpoints file (RASA_ENDPOINTS, default endpoints.yml) with our action server's
    port and, for the embedded SQLite store, the database file TRACKER_DB."""
    settings = Settings.from_env(env)
    source = ROOT / settings.endpoints
    endpoints = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    endpoints["action_endpoint"] = {"url": f"http://localhost:{actions_port}/webhook"}
    store = endpoints.get("tracker_store") or {}
    if store.get("dialect") == "sqlite":
        database = Path(settings.tracker_db or ROOT / store["db"]).resolve()
        database.parent.mkdir(parents=True, exist_ok=True)
        store["db"] = str(database)
        locks = endpoints.get("lock_store") or {}
        if str(locks.get("type", "")).endswith("SQLiteLockStore"):
            # Beside the conversations: each assistant (each TRACKER_DB) its own locks.
            locks["db"] = str(database.with_name(f"{database.stem}-locks.db"))
    return _write_temp_yaml(endpoints, "bme-endpoints-")


def rasa_environment(
    settings: Settings, env: dict[str, str], temp_parent: Path | None = None
) -> tuple[dict[str, str], Path | None]:
    """Rasa's environment: SANIC_WORKERS processes (the cores by default) and, with more than
    one, a fresh directory where each keeps its metrics (returned, to be removed at the end)."""
    env = {**env, "SANIC_WORKERS": str(settings.sanic_workers)}
    if settings.sanic_workers <= 1:
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return env, None
    metrics_dir = Path(tempfile.mkdtemp(prefix="bme-metrics-", dir=temp_parent))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env, metrics_dir


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for tests, the benchmark, the cluster)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat_page_url(rasa_port: int) -> str:
    return f"http://localhost:{rasa_port}/webhooks/socketio/chat"


def action_server_command(port: int) -> list[str]:
    # rasa_sdk directly: the action server needs neither Rasa nor TensorFlow in its process.
    return [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]


def rasa_command(
    port: int, endpoints: Path, credentials: Path | None, api_token: str | None, model: Path = MODEL
) -> list[str]:
    """`rasa run` with the given channels, or `rasa shell` when there are none (through
    python -m bot: Rasa's command line with our patches, bot/patches)."""
    common = ["--model", str(model), "--endpoints", str(endpoints)]
    rasa = [sys.executable, "-m", "bot"]
    if credentials is None:
        return [*rasa, "shell", *common]
    command = [*rasa, "run", *common, "--port", str(port), "--credentials", str(credentials)]
    if api_token:  # the HTTP API exposes every conversation: never without a token
        command += ["--enable-api", "--auth-token", api_token]
    return command


def model_problem(model: Path) -> str | None:
    """Why a model file cannot be served, or None. Checked before starting anything: a
    corrupt model would otherwise leave Rasa running but unable to answer."""
    if not model.exists():
        return f"No trained model at {model}: run `make run` (or `make train`) to train one."
    try:
        with tarfile.open(model, "r:gz") as archive:
            if not any(name.endswith("metadata.json") for name in archive.getnames()):
                return f"{model} is not a Rasa model (no metadata.json inside): delete it and run `make train`."
    except (tarfile.TarError, OSError, EOFError) as error:
        return f"{model} is damaged ({error}): delete it and run `make train`."
    return None


def wait_until_ready(url: str, process: subprocess.Popen, timeout_s: float = READY_TIMEOUT_S) -> bool:
    """Polls the server's root URL; Rasa only listens once the model has loaded."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def stop(processes: list[subprocess.Popen], grace_s: float = 10) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shell", action="store_true", help="chat in the terminal instead of serving")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    model = settings.model
    problem = model_problem(model)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    rasa_port, actions_port = settings.rasa_port, settings.actions_port
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    endpoints = endpoints_for(actions_port, dict(os.environ))
    credentials = None if args.shell else _write_temp_yaml(credentials_from_env(os.environ, rasa_port), "bme-creds-")
    api_token = settings.rasa_api_token

    if args.shell:  # one terminal, one reader of it: a forked worker's console gets no terminal
        settings = dataclasses.replace(settings, sanic_workers=1)
    rasa_env, metrics_dir = rasa_environment(settings, dict(os.environ))
    actions = subprocess.Popen(action_server_command(actions_port), cwd=ROOT)
    rasa = subprocess.Popen(rasa_command(rasa_port, endpoints, credentials, api_token, model), cwd=ROOT, env=rasa_env)
    processes = [actions, rasa]

    def on_signal(signum: int, _frame: object) -> None:
        stop(processes)
        sys.exit(128 + signum)

    # Both set explicitly: a process started in the background by a shell (`make run &`, CI,
    # nohup) inherits SIGINT as ignored, and Python then never raises KeyboardInterrupt; the
    # children would outlive us.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if args.shell:
            return rasa.wait()
        if wait_until_ready(f"http://127.0.0.1:{rasa_port}/", rasa):
            print(
                f"\nThe assistant is ready. Chat in your browser: {chat_page_url(rasa_port)}"
                f"\nREST: http://localhost:{rasa_port}/webhooks/rest/webhook",
                flush=True,
            )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        dead = next(p for p in processes if p.poll() is not None)
        name = "action server" if dead is actions else "rasa"
        print(f"The {name} stopped (exit code {dead.returncode}); stopping the rest.", file=sys.stderr)
        return dead.returncode or 1
    except KeyboardInterrupt:
        return 130
    finally:
        stop(processes)
        for temp in (endpoints, credentials):
            if temp is not None:
                temp.unlink(missing_ok=True)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
