"""The assistants a benchmark run compares, started, timed and measured as processes.

Ours is served as `make run` serves it (`python -m tools.serve`: SQLite stores, one Sanic
worker per core). Stock Rasa is served as a `rasa init` project is: plain `rasa run` with
Rasa's REST channel, its in-memory tracker and lock stores (so one worker), the same action
server and virtualenv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.settings import MODEL, ROOT
from tools.serve import action_server_command, free_port

OUR_MODEL = MODEL  # what `make run` serves (soaks use it; a full run trains its own)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process (VmRSS) or its peak (VmHWM), in MB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_pids(pid: int) -> list[int]:
    """A process and its descendants (Rasa's and the action server's processes)."""
    children = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                children.append(int(status.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return [pid] + [p for child in children for p in tree_pids(child)]


class Server:
    """One assistant with its action server, started and timed: ours as `make run` serves it
    (`python -m tools.serve`), or, with `stock=True`, as a `rasa init` project is served: plain
    `rasa run` with Rasa's REST channel and its default in-memory tracker store."""

    def __init__(self, model: Path, workdir: Path, *, stock: bool = False, **extra_env: str):
        self.model = model
        self.rasa_port, self.actions_port = free_port(), free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **extra_env,
            "RASA_PORT": str(self.rasa_port),
            "ACTIONS_PORT": str(self.actions_port),
            "TRACKER_DB": str(workdir / "conversations.db"),
            "BME_MODEL": str(model),
            "RASA_TELEMETRY_ENABLED": "false",
            # The benchmark's users chat without pause: a load to measure, not a flood to limit.
            "SENDER_MESSAGES_PER_MINUTE": "0",
        }
        if stock:  # Rasa refuses several workers on its in-memory lock store
            env["SANIC_WORKERS"] = "1"
        commands = self._stock_commands(workdir) if stock else [[sys.executable, "-m", "tools.serve"]]
        started = time.monotonic()
        self.processes = [
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for command in commands
        ]
        self.url = f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook"
        self._wait_for_first_answer()
        self.startup_s = time.monotonic() - started

    def _stock_commands(self, workdir: Path) -> list[list[str]]:
        endpoints, credentials = workdir / "endpoints.yml", workdir / "credentials.yml"
        endpoints.write_text(
            f"action_endpoint:\n  url: http://127.0.0.1:{self.actions_port}/webhook\n", encoding="utf-8"
        )
        credentials.write_text("rest:\n", encoding="utf-8")
        rasa = [sys.executable, "-m", "rasa", "run", "--model", str(self.model), "--port", str(self.rasa_port)]
        rasa += ["--endpoints", str(endpoints), "--credentials", str(credentials)]
        return [action_server_command(self.actions_port), rasa]

    def _wait_for_first_answer(self, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        body = json.dumps({"sender": "warmup", "message": "hi"}).encode()
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                self.stop()
                raise RuntimeError(f"{self.model.name}: the assistant exited during start-up")
            try:
                request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.model.name}: no answer within {timeout_s} s")

    def memory_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory of Rasa plus the action server."""
        pids = [pid for process in self.processes for pid in tree_pids(process.pid)]
        return sum(rss_mb(p) for p in pids), sum(rss_mb(p, "VmHWM") for p in pids)

    def cpu_seconds(self) -> float:
        """CPU time used so far by Rasa (every worker) and the action server."""
        return sum(cpu_seconds(process.pid) for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()  # tools.serve stops Rasa and the action server, then exits
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants, from /proc."""
    total = 0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def train(config: Path, out: Path, name: str) -> tuple[Path, float]:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "rasa", "train", "--config", str(config), "--out", str(out)]
    command += ["--fixed-model-name", name, "--force"]
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out / f"{name}.tar.gz", time.monotonic() - started
