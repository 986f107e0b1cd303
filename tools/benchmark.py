"""The benchmark: our assistant against a baseline of our data on Rasa's stock `rasa init` config.

The baseline is served the way a `rasa init` project is: plain `rasa run` with Rasa's REST
channel and its default in-memory tracker store (nothing persisted), with the same action
server and virtualenv (so also with our jsonschema pin, see requirements.in). Ours is served as
`make run` serves it: tools/serve.py, conversations persisted in SQLite.

For each of the two it measures full training time, model size, start-up time (process start
to the first answer), REST latency (p50/p95/p99), throughput and errors at concurrency 1, 10
and 50 for a bounded time each, with a realistic mix of multi-turn conversations, peak and
steady memory (Rasa plus the action server), and held-out NLU accuracy. For ours it also
measures the in-process NLU parse time (the floor under the round trip) and whether a very
long conversation answers as fast at its end as at its start, on our tracker store and on
Rasa's own. Results go to results/bench.json and results/bench.png.

A soak (`--soak SECONDS`) runs a mixed load for that long against our assistant, sampling
memory and latency, and reports growth after warm-up and latency drift.

Scale-out (`--cluster`) runs the production set-up (tools/cluster.py: PostgreSQL, Redis, nginx)
with one and then two `rasa run` instances and compares their throughput at concurrency 10.

Usage: python -m tools.benchmark [--seconds 20] [--soak 600] [--no-baseline] [--cluster | --cluster-only]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.settings import RESULTS, ROOT
from tools.serve import action_server_command, free_port

OUR_MODEL = ROOT / "models" / "bme.tar.gz"
CONCURRENCY = (1, 10, 50)
LONG_CONVERSATION_TURNS = 600

# Rasa's stock `rasa init` configuration (3.6), trained on our data, domain and rules.
BASELINE_CONFIG = """
recipe: default.v1
language: en
assistant_id: bme-baseline
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
    constrain_similarities: true
  - name: EntitySynonymMapper
  - name: ResponseSelector
    epochs: 100
    constrain_similarities: true
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.1
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: UnexpecTEDIntentPolicy
    max_history: 5
    epochs: 100
  - name: TEDPolicy
    max_history: 5
    epochs: 100
    constrain_similarities: true
"""

# Conversations people have with the assistant: follow-ups, buttons, FAQs, a red flag.
CONVERSATIONS = [
    ["hi", "best running shoes for knee bme?", "and the hip?", "thanks"],
    ["how long does overuse bme take to heal", "what if it's a stress fracture?", "can it heal on its own?"],
    ["what is bone marrow edema", "is it serious?", "what causes it", '/inform{"cause": "avascular_necrosis"}'],
    ["which shoes help with bone marrow oedema", '/inform{"location": "ankle"}', "can I walk on it?"],
    ["does an x-ray show bme?", "how is it diagnosed", "and a ct scan?", "bye"],
    ["how is bme treated", "what about ibuprofen?", "do I need surgery?"],
    ["my ankle is swollen and red and I have a fever", "what is bme"],
    ["the pain is gone, am I healed?", "how do I get back to running", "how do I stop it coming back"],
]


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    messages: int
    errors: int
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


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
            # One sender's 300-turn conversation is the benchmark, not a flood to limit.
            "SENDER_MESSAGES_PER_MINUTE": "0",
        }
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

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()  # tools.serve stops Rasa and the action server, then exits
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


async def _conversation_worker(session, url: str, deadline: float, latencies: list, errors: list, worker: int) -> None:
    import aiohttp

    for n in itertools.count():
        script = CONVERSATIONS[(worker + n) % len(CONVERSATIONS)]
        sender = f"bench-{worker}-{n}-{random.randrange(10**9)}"
        for text in script:
            if time.monotonic() >= deadline:
                return
            started = time.monotonic()
            try:
                async with session.post(url, json={"sender": sender, "message": text}) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            (latencies if ok else errors).append(time.monotonic() - started)


async def run_load(url: str, concurrency: int, seconds: float) -> tuple[list[float], int, float]:
    """The conversation mix from `concurrency` users for `seconds`: every reply time (ms), the
    number of errors, and the seconds it took."""
    import aiohttp

    latencies: list[float] = []
    errors: list[float] = []
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.monotonic()
        deadline = started + seconds
        workers = [_conversation_worker(session, url, deadline, latencies, errors, w) for w in range(concurrency)]
        await asyncio.gather(*workers)
        elapsed = time.monotonic() - started
    return [x * 1000 for x in latencies], len(errors), elapsed


async def _load(url: str, concurrency: int, seconds: float) -> LoadResult:
    ms, error_count, elapsed = await run_load(url, concurrency, seconds)
    return LoadResult(
        concurrency,
        round(elapsed, 1),
        len(ms),
        error_count,
        round(len(ms) / elapsed, 1),
        round(percentile(ms, 0.50), 1),
        round(percentile(ms, 0.95), 1),
        round(percentile(ms, 0.99), 1),
    )


def load(url: str, concurrency: int, seconds: float) -> LoadResult:
    return asyncio.run(_load(url, concurrency, seconds))


def long_conversation(url: str, turns: int) -> dict[str, float]:
    """Median latency of the first and last 30 turns of one very long conversation."""
    messages = list(itertools.islice(itertools.cycle(itertools.chain(*CONVERSATIONS[:6])), turns))
    latencies = []
    for text in messages:
        body = json.dumps({"sender": "bench-long", "message": text}).encode()
        started = time.monotonic()
        with urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": "application/json"})) as r:
            r.read()
        latencies.append((time.monotonic() - started) * 1000)
    return {
        "turns": turns,
        "first_30_median_ms": round(statistics.median(latencies[:30]), 1),
        "last_30_median_ms": round(statistics.median(latencies[-30:]), 1),
    }


def long_conversation_on_stock_store(workdir: Path, turns: int) -> dict[str, float]:
    """The same long conversation on Rasa's own SQLTrackerStore (no session cap, no extra
    indexes): what bot/stores/tracker_store.py saves."""
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    # The db is moved into workdir by Server's TRACKER_DB, as for every store it starts.
    endpoints["tracker_store"] = {"type": "SQL", "dialect": "sqlite", "db": "var/conversations.db"}
    # Rasa's own store would load the conversation again per save to find the events for the
    # metrics' broker (our store knows them): compare the stores as they were, without it.
    endpoints.pop("event_broker", None)
    path = workdir / "endpoints-stock-store.yml"
    path.write_text(yaml.safe_dump(endpoints), encoding="utf-8")
    server = Server(OUR_MODEL, workdir / "stock-store", RASA_ENDPOINTS=str(path))
    try:
        return long_conversation(server.url, turns)
    finally:
        server.stop()


def train(config: Path, out: Path, name: str) -> tuple[Path, float]:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "rasa", "train", "--config", str(config), "--out", str(out)]
    command += ["--fixed-model-name", name, "--force"]
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out / f"{name}.tar.gz", time.monotonic() - started


def heldout_accuracy(model: Path, out: Path) -> float:
    from tools.evaluate_nlu import evaluate

    return round(evaluate(model=model, out=out)["accuracy"], 3)


def nlu_parse_floor_ms(model: Path) -> float:
    """Median in-process NLU parse time over the benchmark's messages: the floor of a round trip."""
    code = (
        "import asyncio, json, statistics, sys, time\n"
        "from rasa.core.agent import Agent\n"
        "agent = Agent.load(sys.argv[1])\n"
        "texts = json.loads(sys.argv[2])\n"
        "async def main():\n"
        "    for t in texts: await agent.parse_message(t)\n"
        "    times = []\n"
        "    for t in texts * 5:\n"
        "        s = time.perf_counter(); await agent.parse_message(t); times.append(time.perf_counter() - s)\n"
        "    print(statistics.median(times) * 1000)\n"
        "asyncio.run(main())\n"
    )
    texts = json.dumps([t for c in CONVERSATIONS for t in c])
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3", "LOG_LEVEL": "ERROR"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(model), texts], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return round(float(result.stdout.strip().splitlines()[-1]), 2)


def measure(
    name: str, model: Path, train_s: float, seconds: float, workdir: Path, stock: bool = False
) -> dict[str, Any]:
    print(f"\n== {name}: start-up and load", flush=True)
    server = Server(model, workdir / name, stock=stock)
    try:
        report: dict[str, Any] = {
            "model": str(model.relative_to(ROOT) if model.is_relative_to(ROOT) else model),
            "training_s": round(train_s, 1),
            "model_mb": round(model.stat().st_size / 1e6, 1),
            "startup_s": round(server.startup_s, 1),
            "load": [],
        }
        for concurrency in CONCURRENCY:
            result = load(server.url, concurrency, seconds)
            report["load"].append(asdict(result))
            print(f"  c={concurrency:<3} {result}", flush=True)
        current, peak = server.memory_mb()
        report["memory_mb"] = {"steady": round(current), "peak": round(peak)}
        if name == "ours":
            report["long_conversation"] = long_conversation(server.url, LONG_CONVERSATION_TURNS)
    finally:
        server.stop()
    report["heldout_accuracy"] = heldout_accuracy(model, workdir / f"{name}-heldout")
    return report


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


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, report in results["assistants"].items():
        levels = [r["concurrency"] for r in report["load"]]
        left.plot(levels, [r["throughput"] for r in report["load"]], marker="o", label=name)
        right.plot(levels, [r["p95_ms"] for r in report["load"]], marker="o", label=name)
    left.set(title="Throughput", xlabel="concurrent conversations", ylabel="messages / s", xscale="log", ylim=(0, None))
    right.set(title="p95 latency", xlabel="concurrent conversations", ylabel="ms", xscale="log", yscale="log")
    for axis in (left, right):
        axis.legend()
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def ratios(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    by_c = {r["concurrency"]: r for r in base["load"]}
    return {
        "throughput_x": {
            str(r["concurrency"]): round(r["throughput"] / by_c[r["concurrency"]]["throughput"], 2)
            for r in ours["load"]
        },
        "p95_x": {
            str(r["concurrency"]): round(by_c[r["concurrency"]]["p95_ms"] / r["p95_ms"], 2) for r in ours["load"]
        },
        "training_x": round(base["training_s"] / ours["training_s"], 2),
        "startup_x": round(base["startup_s"] / ours["startup_s"], 2),
        "memory_x": round(base["memory_mb"]["peak"] / ours["memory_mb"]["peak"], 2),
        "accuracy_delta": round(ours["heldout_accuracy"] - base["heldout_accuracy"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="seconds of load per concurrency level")
    parser.add_argument("--soak", type=float, default=0, help="also run a soak of this many seconds")
    parser.add_argument("--no-baseline", action="store_true", help="measure our assistant only")
    parser.add_argument("--cluster", action="store_true", help="also measure 1 vs 2 instances behind nginx")
    parser.add_argument(
        "--cluster-only", action="store_true", help="only 1 vs 2 instances; updates scale_out in results/bench.json"
    )
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    if args.cluster_only:
        path = RESULTS / "bench.json"
        results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        results["scale_out"] = scale_out(args.seconds)
        path.write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(json.dumps(results["scale_out"], indent=2))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bme-bench-"))
    results: dict[str, Any] = {"machine": {"cores": os.cpu_count()}, "seconds_per_level": args.seconds}
    try:
        print("== training ours (config.yml, from scratch)", flush=True)
        our_model, our_train_s = train(ROOT / "config.yml", workdir / "models", "ours")
        results["assistants"] = {"ours": measure("ours", our_model, our_train_s, args.seconds, workdir)}
        results["assistants"]["ours"]["nlu_parse_ms"] = nlu_parse_floor_ms(our_model)
        if not args.no_baseline:
            config = workdir / "baseline-config.yml"
            config.write_text(BASELINE_CONFIG, encoding="utf-8")
            print("== training the baseline (stock rasa init config, our data)", flush=True)
            base_model, base_train_s = train(config, workdir / "models", "baseline")
            baseline = measure("baseline", base_model, base_train_s, args.seconds, workdir, stock=True)
            baseline["nlu_parse_ms"] = nlu_parse_floor_ms(base_model)
            results["assistants"]["baseline"] = baseline
            results["ours_vs_baseline"] = ratios(results["assistants"]["ours"], baseline)
        print(f"== a {LONG_CONVERSATION_TURNS}-turn conversation on Rasa's own SQL tracker store", flush=True)
        results["assistants"]["ours"]["long_conversation_stock_store"] = long_conversation_on_stock_store(
            workdir, LONG_CONVERSATION_TURNS
        )
        if args.soak:
            print(f"== soak, {args.soak:.0f} s", flush=True)
            results["soak"] = soak(args.soak, workdir)
        if args.cluster:
            print("== scale-out: 1 and 2 instances behind nginx", flush=True)
            results["scale_out"] = scale_out(args.seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    (RESULTS / "bench.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    plot(results, RESULTS / "bench.png")
    print(json.dumps({k: v for k, v in results.items() if k != "soak"}, indent=2))
    print(f"\nWritten: {RESULTS / 'bench.json'}, {RESULTS / 'bench.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
