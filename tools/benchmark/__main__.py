"""`make bench`: our assistant against stock Rasa, in one run, on a load shaped like real use.

Both are trained from scratch on our data, domain and stories: ours with config.yml, stock Rasa
with the config `rasa init` writes (BASELINE_CONFIG). Each is then served as its users would
serve it (servers.py) and measured the same way, one after the other:

- start-up time (process start to the first answer) and training time;
- the per-turn curve: 7 fresh 30-turn conversations one at a time, every turn of them seeing the
  same 7 messages (load.CURVE_CYCLE), the median reply by turn, and its late-over-early ratio
  (turns 18-22 over turns 2-4);
- throughput and latency under the mix (mix.py: 1-30 turn conversations, buttons, follow-ups,
  a warning sign now and then) at each concurrency level, and the c10-over-c1 ratio that shows
  whether every core is used;
- memory, held-out intent accuracy and the in-process NLU parse time.

Absolute times on these machines vary up to 2x from day to day, so the report leads with
ratios measured in this run, and a CPU calibration (calibration.py) at its start and end dates
the machine's speed. Results: results/bench.json, results/bench.md (the tables the README
quotes) and results/bench.png.

Stock Rasa's model takes many minutes to train here; it is kept in models/ for the current
training data and reused (the report says so, with the time its training took).

Usage: python -m tools.benchmark [--seconds 20] [--concurrency 1 10] [--no-baseline] [--retrain]
                                 [--soak 600] [--cluster | --cluster-only]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.settings import RESULTS, ROOT
from tools.benchmark.calibration import calibrate
from tools.benchmark.load import load, turn_curve
from tools.benchmark.longer_runs import scale_out, soak
from tools.benchmark.nlu import heldout_accuracy, nlu_parse_floor_ms
from tools.benchmark.report import markdown, plot, ratios
from tools.benchmark.servers import Server, train

CONCURRENCY = (1, 10)
WARM_UP_SECONDS = 3

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


def training_inputs_digest(config: str) -> str:
    """A digest of what a model is trained from: the config, the domain and every training file."""
    digest = hashlib.sha256(config.encode())
    for path in [ROOT / "domain.yml", *sorted((ROOT / "data").rglob("*.yml"))]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def stock_model(workdir: Path, retrain: bool) -> tuple[Path, float, bool]:
    """Stock Rasa's model and how long it took to train: trained once for the current training
    data (DIET and TED take many minutes on two cores), then kept in models/ and reused by later
    runs, unless `retrain`. Whether it was reused is in the report."""
    cached = ROOT / "models" / f"stock-{training_inputs_digest(BASELINE_CONFIG)}.tar.gz"
    timing = cached.with_name(cached.name.replace(".tar.gz", ".json"))
    if cached.exists() and timing.exists() and not retrain:
        print(f"== stock Rasa: reusing {cached.relative_to(ROOT)} (--retrain trains it again)", flush=True)
        return cached, json.loads(timing.read_text(encoding="utf-8"))["training_s"], True
    config = workdir / "baseline-config.yml"
    config.write_text(BASELINE_CONFIG, encoding="utf-8")
    print("== training stock Rasa (the rasa init config, our data)", flush=True)
    model, train_s = train(config, workdir / "models", "stock")
    cached.parent.mkdir(exist_ok=True)
    shutil.copyfile(model, cached)
    timing.write_text(json.dumps({"training_s": round(train_s, 1)}), encoding="utf-8")
    return cached, train_s, False


def measure(
    name: str, model: Path, train_s: float, args: argparse.Namespace, workdir: Path, stock: bool = False
) -> dict[str, Any]:
    print(f"\n== {name}: start-up, per-turn curve, load", flush=True)
    server = Server(model, workdir / name, stock=stock)
    try:
        report: dict[str, Any] = {
            "training_s": round(train_s, 1),
            "model_mb": round(model.stat().st_size / 1e6, 1),
            "startup_s": round(server.startup_s, 1),
        }
        load(server.url, 2, WARM_UP_SECONDS, seed=-1)  # lazily initialised parts load on first turns
        report["turn_curve"] = turn_curve(server.url)
        print(f"  per-turn: late/early x{report['turn_curve']['late_over_early']}", flush=True)
        report["load"] = []
        for concurrency in args.concurrency:
            server_cpu, generator_cpu, started = server.cpu_seconds(), time.process_time(), time.monotonic()
            result = load(server.url, concurrency, args.seconds, seed=concurrency)
            elapsed = time.monotonic() - started
            cores = {
                "assistant": round((server.cpu_seconds() - server_cpu) / elapsed, 2),
                "load_generator": round((time.process_time() - generator_cpu) / elapsed, 2),
            }
            report["load"].append(asdict(result) | {"cores_used": cores})
            print(f"  c={concurrency:<3} {result} cores used: {cores}", flush=True)
        current, peak = server.memory_mb()
        report["memory_mb"] = {"steady": round(current), "peak": round(peak)}
    finally:
        server.stop()
    report["heldout_accuracy"] = heldout_accuracy(model, workdir / f"{name}-heldout")
    report["nlu_parse_ms"] = nlu_parse_floor_ms(model)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="seconds of load per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY), help="levels to load")
    parser.add_argument("--no-baseline", action="store_true", help="measure our assistant only")
    parser.add_argument("--retrain", action="store_true", help="train stock Rasa again even if models/ has it")
    parser.add_argument("--soak", type=float, default=0, help="also run a soak of this many seconds")
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
    results: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": {"cores": os.cpu_count(), "calibration_ms_at_start": calibrate()},
        "seconds_per_level": args.seconds,
        "assistants": {},
    }
    try:
        print("== training ours (config.yml, from scratch)", flush=True)
        model, train_s = train(ROOT / "config.yml", workdir / "models", "ours")
        results["assistants"]["ours"] = measure("ours", model, train_s, args, workdir)
        if not args.no_baseline:
            model, train_s, reused = stock_model(workdir, args.retrain)
            results["assistants"]["stock"] = measure("stock", model, train_s, args, workdir, stock=True)
            results["assistants"]["stock"]["training_reused"] = reused
        if args.soak:
            print(f"== soak, {args.soak:.0f} s", flush=True)
            results["soak"] = soak(args.soak, workdir)
        if args.cluster:
            print("== scale-out: 1 and 2 instances behind nginx", flush=True)
            results["scale_out"] = scale_out(args.seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["machine"]["calibration_ms_at_end"] = calibrate()
    results["ratios"] = ratios(results)
    (RESULTS / "bench.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (RESULTS / "bench.md").write_text(markdown(results), encoding="utf-8")
    plot(results, RESULTS / "bench.png")
    print("\n" + markdown(results))
    print(f"Written: {RESULTS / 'bench.json'}, {RESULTS / 'bench.md'}, {RESULTS / 'bench.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
