"""Serving speed against an earlier commit, measured side by side in one run.

Absolute times on these machines vary up to 2x from day to day, so a change is judged by the
ratio to the code before it, on the same machine in the same minutes. This checks the earlier
commit out into a temporary worktree (sharing our virtualenv), builds its spaCy pipeline and
trains its model there, serves both assistants (each as its own `make run` serves it), and
runs the benchmark's conversation mix against them in alternating rounds, so that a slow
minute hurts both. It reports p50/p95 and throughput for each, our p95 as a ratio of theirs,
and each one's per-turn ratio (the median reply at turns 18-22 over turns 2-4).

Usage: python -m tools.bench_against REF [--concurrency 10] [--seconds 15] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.settings import MODEL, RESULTS, ROOT
from tools.benchmark.load import percentile, run_load, turn_curve
from tools.serve import free_port

ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}


def checkout(ref: str, folder: Path) -> Path:
    """The commit in a worktree of its own, with our venv, its spaCy pipeline and its model."""
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=ROOT, check=True, capture_output=True)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    python = str(ROOT / ".venv" / "bin" / "python")
    steps = [
        [python, "-m", "bot.nlu.spacy_pipeline", "models/spacy/bme_en"],
        [python, "-m", "rasa", "train", "--fixed-model-name", "bme", "--out", "models"],
    ]
    for step in steps:
        subprocess.run(step, cwd=folder, env=ENV, check=True, capture_output=True)
    return folder / "models" / "bme.tar.gz"


def serve(folder: Path, module: str, model: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    """One assistant as its own `make run` starts it, on free ports; its REST URL."""
    rasa_port = free_port()
    env = {
        **ENV,
        "RASA_PORT": str(rasa_port),
        "ACTIONS_PORT": str(free_port()),
        "TRACKER_DB": str(workdir / f"{module}-{rasa_port}.db"),
        "BME_MODEL": str(model),
        "SENDER_MESSAGES_PER_MINUTE": "0",  # the users chat without pause: a load, not a flood
    }
    process = subprocess.Popen(
        [sys.executable, "-m", module], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
    _wait_for_an_answer(url, process)
    return process, url


def _wait_for_an_answer(url: str, process: subprocess.Popen, timeout_s: float = 300) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    body = json.dumps({"sender": "warm-up", "message": "what is bme"}).encode()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the assistant exited during start-up")
        try:
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url}: no answer within {timeout_s} s")


def _latencies(url: str, concurrency: int, seconds: float) -> tuple[list[float], int, float]:
    """Every reply time (ms) of one round, the errors, and the messages per second."""
    times, errors, elapsed = asyncio.run(run_load(url, concurrency, seconds))
    return times, errors, len(times) / elapsed


def compare(ref: str, concurrency: int, seconds: float, rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bme-against-") as scratch:
        folder = Path(scratch) / "checkout"
        theirs_model = checkout(ref, folder)
        servers = []
        try:
            servers.append(("theirs", *serve(folder, _serve_module(folder), theirs_model, Path(scratch))))
            servers.append(("ours", *serve(ROOT, "tools.serve", MODEL, Path(scratch))))
            samples: dict[str, list[float]] = {"theirs": [], "ours": []}
            errors = dict.fromkeys(samples, 0)
            rates: dict[str, list[float]] = {"theirs": [], "ours": []}
            curves = {name: turn_curve(url) for name, _, url in servers}
            for round_number in range(rounds):
                order = servers if round_number % 2 == 0 else list(reversed(servers))
                for name, _, url in order:
                    times, failed, throughput = _latencies(url, concurrency, seconds)
                    samples[name] += times
                    errors[name] += failed
                    rates[name].append(throughput)
        finally:
            for _, process, _ in servers:
                process.terminate()
                process.wait(60)
            subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True)
    report = {
        name: {
            "p50_ms": round(percentile(samples[name], 0.5), 1),
            "p95_ms": round(percentile(samples[name], 0.95), 1),
            "messages_per_s": round(sum(rates[name]) / len(rates[name]), 1),
            "messages": len(samples[name]),
            "errors": errors[name],
            "turns_18_22_over_2_4": curves[name]["late_over_early"],
        }
        for name in samples
    }
    report["ref"] = ref
    report["concurrency"] = concurrency
    report["p95_ratio_ours_to_theirs"] = round(report["ours"]["p95_ms"] / report["theirs"]["p95_ms"], 3)
    return report


def _serve_module(folder: Path) -> str:
    """Where the earlier commit kept its launcher."""
    return "tools.serve" if (folder / "tools" / "serve.py").exists() else "bot.serve"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the earlier commit, e.g. 19adcfa")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=15, help="seconds of load per round and assistant")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    report = compare(args.ref, args.concurrency, args.seconds, args.rounds)
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"bench-against-{args.ref}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
