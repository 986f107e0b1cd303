"""Intent classifier alternatives side by side: docs/classifier-comparison.md, reproduced.

For each variant: a config (config.yml with the classifier swapped), `rasa train`, the
conversation evaluation on tests/blind/set1.yml, the held-out NLU accuracy (tests/nlu), the NLU
parse time of every set1 text in one process (all models loaded, messages interleaved, three
rounds), and the RSS of a process that loaded one model and parsed the set. Everything runs one
after the other (the machine's two cores are shared); times are reported as ratios to variant 1.

Variant 4 needs wordllama's weights and tokenizer, taken from its wheel (`pip download
--no-deps`, never imported), and the `tokenizers` package, installed `--no-deps` into the
scratch folder: neither is in requirements.lock.

Usage: .venv/bin/python -m tools.experiments.classifier_comparison [--scratch var/classifier-comparison]
       [--only NAME ...] [--skip-training]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SET1 = ROOT / "tests" / "blind" / "set1.yml"
WORDLLAMA = "wordllama==0.3.9"
# The weights (a 32000 x 256 float16 matrix) and the Llama-2 tokenizer the wheel ships.
WORDLLAMA_FILES = (
    "wordllama/weights/l2_supercat_256.safetensors",
    "wordllama/tokenizers/l2_supercat_tokenizer_config.json",
)
TOKENIZERS = "tokenizers==0.22.1"
CATEGORIES = [
    "question",
    "item",
    "typed_answer",
    "follow_up",
    "multi",
    "benign",
    "red_flag",
    "out_of_scope",
    "smalltalk",
]
SVM = "bot.nlu.linear_svm_intent_classifier.LinearSvmIntentClassifier"
VARIANT = "tools.experiments.feature_svm_classifier.FeatureSvmIntentClassifier"


def variants(scratch: Path) -> dict[str, tuple[str, list[dict[str, Any]] | None]]:
    """name -> (what it is, the components replacing the intent classifier; None: config.yml as is)."""
    embedding = {
        "embedding_weights": str(scratch / "wordllama" / "l2_supercat_256.safetensors"),
        "embedding_tokenizer": str(scratch / "wordllama" / "l2_supercat_tokenizer_config.json"),
    }
    return {
        "1": ("today: SVM over char 1-5-grams", None),
        "2": ("+ word and lemma 1-2-grams", [{"name": VARIANT, "features": ["char", "word", "lemma"]}]),
        "3": (
            "+ vocabulary (entity type, type=value)",
            [{"name": VARIANT, "features": ["char", "word", "lemma", "vocabulary"]}],
        ),
        "4": (
            "+ wordllama sentence embedding",
            [{"name": VARIANT, "features": ["char", "word", "lemma", "vocabulary", "embedding"], **embedding}],
        ),
        "5": (
            "Rasa LogisticRegressionClassifier over CountVectorsFeaturizer (word 1-gram, char_wb 1-5)",
            [
                {"name": "CountVectorsFeaturizer"},
                {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 5},
                {"name": "LogisticRegressionClassifier"},
            ],
        ),
        "2a": ("char + word 1-2-grams (no lemmas)", [{"name": VARIANT, "features": ["char", "word"]}]),
        "3a": ("char + vocabulary", [{"name": VARIANT, "features": ["char", "vocabulary"]}]),
        "4a": ("char + wordllama embedding", [{"name": VARIANT, "features": ["char", "embedding"], **embedding}]),
        "4b": (
            "char + wordllama embedding, weight 2",
            [{"name": VARIANT, "features": ["char", "embedding"], "embedding_weight": 2.0, **embedding}],
        ),
    }


def _run(command: list[str], log: Path, env: dict[str, str]) -> None:
    with log.open("w") as out, log.with_suffix(".err").open("w") as err:
        if subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=err).returncode:
            raise RuntimeError(f"{' '.join(command)} failed: see {log} and {log.with_suffix('.err')}")


def prepare(scratch: Path, env: dict[str, str]) -> None:
    """Writes the variants' configs; fetches wordllama's files and `tokenizers` (variant 4)."""
    (scratch / "configs").mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((ROOT / "config.yml").read_text())
    for name, (_, replacement) in variants(scratch).items():
        config = copy.deepcopy(base)
        if replacement is not None:
            pipeline = []
            for component in config["pipeline"]:
                pipeline += replacement if component["name"] == SVM else [component]
            config["pipeline"] = pipeline
        (scratch / "configs" / f"{name}.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    target = scratch / "wordllama"
    if not (target / "l2_supercat_256.safetensors").exists():
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
        _run([*pip, "download", "--no-deps", "-d", str(scratch / "download"), WORDLLAMA], scratch / "pip.log", env)
        wheel = next((scratch / "download").glob("wordllama-*.whl"))
        target.mkdir(exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for member in WORDLLAMA_FILES:
                (target / Path(member).name).write_bytes(archive.read(member))
        _run([*pip, "install", "--no-deps", "--target", str(scratch / "site"), TOKENIZERS], scratch / "pip.log", env)


def train_and_evaluate(name: str, scratch: Path, env: dict[str, str]) -> None:
    model = scratch / "models" / f"{name}.tar.gz"
    rasa = str(Path(sys.executable).parent / "rasa")
    config = scratch / "configs" / f"{name}.yml"
    train = [rasa, "train", "--config", str(config), "--out", str(model.parent), "--fixed-model-name", name, "--force"]
    started = time.monotonic()
    _run(train, scratch / f"{name}.train.log", env)
    trained = time.monotonic()
    evaluation = ["-m", "tools.evaluate_conversations", str(SET1), "--model", str(model), "--quiet"]
    _run([sys.executable, *evaluation, "--json", str(scratch / f"{name}.json")], scratch / f"{name}.eval.log", env)
    heldout = f"from tools.evaluate_nlu import evaluate; from pathlib import Path; import json; print(json.dumps(evaluate(Path('{model}'), out=Path('{scratch}/heldout/{name}'))['accuracy']))"  # noqa: E501
    _run([sys.executable, "-c", heldout], scratch / f"{name}.heldout.log", env)
    print(f"variant {name}: trained in {trained - started:.0f} s, evaluated in {time.monotonic() - trained:.0f} s")


def _texts() -> list[str]:
    data = yaml.safe_load(SET1.read_text(encoding="utf-8"))
    return [turn["text"] for conversation in data["conversations"] for turn in conversation["turns"]]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _quiet_rasa() -> Any:
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    logging.disable(logging.WARNING)
    from rasa.core.agent import Agent

    return Agent


def measure_speed(models: dict[str, Path], rounds: int = 3) -> dict[str, dict[str, float]]:
    """Parse time of every set1 text with each model, in this one process, interleaved."""
    agent_class, loop = _quiet_rasa(), asyncio.new_event_loop()
    agents = {name: agent_class.load(str(path)) for name, path in models.items()}
    texts = _texts()
    for agent in agents.values():
        for text in texts[:50]:
            loop.run_until_complete(agent.parse_message(text))
    times: dict[str, list[float]] = {name: [] for name in agents}
    for round_ in range(rounds):
        for text in texts:
            for name in list(agents) if round_ % 2 == 0 else list(agents)[::-1]:
                started = time.perf_counter()
                loop.run_until_complete(agents[name].parse_message(text))
                times[name].append(time.perf_counter() - started)
    return {
        name: {"median_ms": 1000 * statistics.median(t), "p95_ms": 1000 * sorted(t)[int(0.95 * len(t))]}
        for name, t in times.items()
    }


def measure_memory(model: Path) -> dict[str, float]:
    """RSS of this process before loading, after loading one model, and after parsing set1."""
    agent_class, loop = _quiet_rasa(), asyncio.new_event_loop()
    before = _rss_mb()
    agent = agent_class.load(str(model))
    loaded = _rss_mb()
    for text in _texts():
        loop.run_until_complete(agent.parse_message(text))
    return {"before_mb": before, "loaded_mb": loaded, "after_parse_mb": _rss_mb()}


def _mcnemar(b: int, c: int) -> float:
    """Exact two-sided McNemar p: b turns only one model got right, c only the other."""
    n = b + c
    return 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n)


def table(scratch: Path, names: list[str]) -> str:
    speed = json.loads((scratch / "speed.json").read_text())
    memory = {n: json.loads((scratch / f"{n}.memory.json").read_text()) for n in names}
    heldout = {n: float((scratch / f"{n}.heldout.log").read_text().split()[-1]) for n in names}
    data = yaml.safe_load(SET1.read_text(encoding="utf-8"))
    urgent = {(c["id"], t["text"]) for c in data["conversations"] for t in c["turns"] if t["expect"] == ["urgent"]}
    described = variants(scratch)
    lines = [
        "| variant | overall | "
        + " | ".join(CATEGORIES)
        + " | fixed / broken vs 1 (McNemar p) | red flags routed | held-out NLU | parse median | parse p95 | RSS |",
        "|" + "---|" * (len(CATEGORIES) + 8),
    ]
    base: dict[str, Any] = {}
    for name in names:
        report = json.loads((scratch / f"{name}.json").read_text())["set1"]
        wrong = {(w["id"], w["text"]) for w in report["wrong"]}
        routed = urgent - {(w["id"], w["text"]) for w in report["wrong"] if w["expect"] == ["urgent"]}
        base = base or {"wrong": wrong, "routed": routed, "speed": speed[name], "rss": memory[name]["after_parse_mb"]}
        broken, fixed = len(wrong - base["wrong"]), len(base["wrong"] - wrong)
        lost = base["routed"] - routed
        cells = [f"{report['categories'][c]['hits']}/{report['categories'][c]['n']}" for c in CATEGORIES]
        rss = memory[name]["after_parse_mb"]
        lines.append(
            f"| {name}: {described[name][0]} | **{report['overall']['rate']:.1%}** | "
            + " | ".join(cells)
            + f" | +{fixed} / −{broken} (p={_mcnemar(fixed, broken):.2f})"
            + f" | {len(routed)}/{len(urgent)}{f' (misses {len(lost)} that 1 routes)' if lost else ''}"
            + f" | {heldout[name]:.1%}"
            + f" | {speed[name]['median_ms'] / base['speed']['median_ms']:.2f}×"
            + f" | {speed[name]['p95_ms'] / base['speed']['p95_ms']:.2f}×"
            + f" | {rss:.0f} MB ({rss - base['rss']:+.0f}) |"
        )
    first = speed[names[0]]
    lines.append(
        f"\nVariant 1 in this run: parse median {first['median_ms']:.2f} ms, p95 {first['p95_ms']:.2f} ms; "
        f"RSS {base['rss']:.0f} MB."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scratch", type=Path, default=ROOT / "var" / "classifier-comparison")
    parser.add_argument("--only", nargs="*", help="variants to run (default: all)")
    parser.add_argument("--skip-training", action="store_true", help="reuse trained models and evaluations")
    parser.add_argument("--speed", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--memory", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scratch = args.scratch.resolve()
    if args.memory:
        print(json.dumps(measure_memory(args.memory)))
        return 0
    names = args.only or list(variants(scratch))
    if args.speed is not None:
        print(json.dumps(measure_speed({n: scratch / "models" / f"{n}.tar.gz" for n in args.speed})))
        return 0
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(scratch / "site")]),
    }
    prepare(scratch, env)
    if not args.skip_training:
        for name in names:
            train_and_evaluate(name, scratch, env)
    me = [sys.executable, "-m", "tools.experiments.classifier_comparison", "--scratch", str(scratch)]
    _run([*me, "--speed", *names], scratch / "speed.log", env)
    (scratch / "speed.json").write_text((scratch / "speed.log").read_text().strip().splitlines()[-1])
    for name in names:
        _run([*me, "--memory", str(scratch / "models" / f"{name}.tar.gz")], scratch / f"{name}.memory.log", env)
        (scratch / f"{name}.memory.json").write_text((scratch / f"{name}.memory.log").read_text().splitlines()[-1])
    result = table(scratch, names)
    (scratch / "table.md").write_text(result + "\n")
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
