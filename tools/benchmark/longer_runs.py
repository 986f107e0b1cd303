"""Longer runs `make bench` adds on request: a soak (memory and latency drift over minutes) and
scale-out (one against two instances behind nginx, tools/cluster.py)."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tools.benchmark.load import load
from tools.benchmark.servers import OUR_MODEL, Server, cpu_seconds


def soak(seconds: float, workdir: Path, concurrency: int = 10, window_s: float = 30) -> dict[str, Any]:
    """A long mixed load: memory and latency per window, growth after the first two windows."""
    server = Server(OUR_MODEL, workdir / "soak")
    windows = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            result = load(server.url, concurrency, min(window_s, deadline - time.monotonic()))
            current, _ = server.memory_mb()
            windows.append({"p95_ms": result.p95_ms, "throughput": result.throughput, "rss_mb": round(current)})
            print(f"  soak window {len(windows)}: {windows[-1]}", flush=True)
    finally:
        server.stop()
    warm = windows[2:] if len(windows) > 3 else windows
    growth = (warm[-1]["rss_mb"] - warm[0]["rss_mb"]) / warm[0]["rss_mb"]
    half = len(warm) // 2 or 1
    drift = statistics.median(w["p95_ms"] for w in warm[half:]) / statistics.median(w["p95_ms"] for w in warm[:half])
    return {
        "seconds": seconds,
        "windows": windows,
        "memory_growth_after_warmup": round(growth, 3),
        "p95_drift": round(drift, 2),
    }


def scale_out(seconds: float, concurrency: int = 10) -> dict[str, Any]:
    """Throughput through nginx with one and with two instances sharing PostgreSQL and Redis,
    and how many cores each part used meanwhile: on a small machine the parts that are not
    Rasa (load generator, PostgreSQL, nginx, action server) bound what a second instance adds."""
    from tools.cluster import cluster

    report: dict[str, Any] = {}
    for instances in (1, 2):
        with cluster(instances=instances, env={"SENDER_MESSAGES_PER_MINUTE": "0"}) as running:
            url = f"{running.nginx_url}/webhooks/rest/webhook"
            load(url, 2, 5)  # warm-up: the first turns load lazily initialised parts
            before = {c.name: cpu_seconds(c.process.pid) for c in running.children}
            generator_before, started = time.process_time(), time.monotonic()
            result = load(url, concurrency, seconds)
            elapsed = time.monotonic() - started
            cores = {c.name: (cpu_seconds(c.process.pid) - before[c.name]) / elapsed for c in running.children}
            cores["load generator"] = (time.process_time() - generator_before) / elapsed
        report[f"{instances}_instances"] = asdict(result) | {"cpu_cores": {k: round(v, 2) for k, v in cores.items()}}
        print(f"  {instances} instance(s) behind nginx: {result}", flush=True)
        print(f"    cores used: {report[f'{instances}_instances']['cpu_cores']}", flush=True)
    one, two = report["1_instances"]["throughput"], report["2_instances"]["throughput"]
    report["speed_up_x"] = round(two / one, 2) if one else None
    return report
