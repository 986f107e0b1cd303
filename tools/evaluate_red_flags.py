"""Red-flag evaluation: does every described warning sign reach the urgent response?

Parses each message of a red-flag set (tests/red_flags/*.yml) with the trained model, so both
safety layers (the classifier's `red_flag` intent and the deterministic detector) are measured together, exactly
as in a conversation: a message is routed to urgent care when its intent is `red_flag` (a rule
then always answers with `utter_urgent_care`).

Prints sensitivity per warning sign with a 95% Clopper-Pearson interval, how often negated and
benign messages were answered normally, and the over-triage rate; writes the figures as JSON.
By default it runs every set: evaluation.yml, holdout.yml and blind.yml (written blind and
scored before any tuning, development data since). It fails on any missed red flag, below 95%
of negated messages answered normally, or above 2% of benign reports sent to urgent care.

Usage: python -m tools.evaluate_red_flags [SET.yml ...] [--json results/red_flags.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.names import RED_FLAG_INTENT
from bot.settings import MODEL, RESULTS, ROOT
from tools.proportions import line, rate

SETS = [ROOT / "tests" / "red_flags" / f"{name}.yml" for name in ("evaluation", "holdout", "blind")]
RESULTS_FILE = RESULTS / "red_flags.json"
MIN_NORMAL_RATE = 0.95  # negated and benign messages answered normally
MIN_NEGATED_NORMAL = 0.95  # messages that deny every sign, answered normally
MAX_BENIGN_OVER_TRIAGE = 0.02  # benign reports (pain, place, past, what-ifs...) sent to urgent care


def score(items: dict[str, list[dict]], routed: dict[str, bool]) -> dict[str, Any]:
    """Sensitivity per category and overall, normal-answer rates, over-triage, and the misses."""
    red = items.get("red_flags", [])
    categories = sorted({c for item in red for c in item["categories"]})
    report: dict[str, Any] = {"sensitivity": {}, "missed": [], "over_triaged": []}
    for category in categories:
        members = [i for i in red if category in i["categories"]]
        report["sensitivity"][category] = rate(sum(routed[i["text"]] for i in members), len(members))
    report["sensitivity"]["all"] = rate(sum(routed[i["text"]] for i in red), len(red))
    report["missed"] = [i["text"] for i in red if not routed[i["text"]]]
    for kind in ("negated", "benign"):
        group = items.get(kind, [])
        report[f"{kind}_answered_normally"] = rate(sum(not routed[i["text"]] for i in group), len(group))
        report["over_triaged"] += [i["text"] for i in group if routed[i["text"]]]
    normal = [i for kind in ("negated", "benign") for i in items.get(kind, [])]
    report["normal_rate"] = rate(sum(not routed[i["text"]] for i in normal), len(normal))
    report["over_triage_rate"] = rate(sum(routed[i["text"]] for i in normal), len(normal))
    return report


async def _route_all(model: Path, texts: list[str]) -> dict[str, bool]:
    from rasa.core.agent import Agent  # imported here: loading Rasa takes seconds

    agent = Agent.load(str(model))
    routed = {}
    for text in texts:
        parsed = await agent.parse_message(text)
        routed[text] = parsed["intent"]["name"] == RED_FLAG_INTENT
    return routed


def evaluate(sets: list[Path], model: Path = MODEL) -> dict[str, Any]:
    loaded = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in sets}
    texts = sorted({i["text"] for items in loaded.values() for group in items.values() for i in group})
    routed = asyncio.run(_route_all(model, texts))
    return {name: score(items, routed) for name, items in loaded.items()}


def print_report(results: dict[str, Any]) -> None:
    for name, report in results.items():
        print(f"\n{name}: sensitivity (routed to urgent care)")
        for category, r in report["sensitivity"].items():
            print(line(category, r))
        print(line("negated: normal", report["negated_answered_normally"]))
        print(line("benign: normal", report["benign_answered_normally"]))
        print(line("over-triage", report["over_triage_rate"]))
        for text in report["missed"]:
            print(f"  MISSED: {text}")
        for text in report["over_triaged"]:
            print(f"  over-triaged: {text}")


def passes(results: dict[str, Any]) -> bool:
    return all(
        not r["missed"]
        and r["normal_rate"]["rate"] >= MIN_NORMAL_RATE
        and r["negated_answered_normally"]["rate"] >= MIN_NEGATED_NORMAL
        and 1 - r["benign_answered_normally"]["rate"] <= MAX_BENIGN_OVER_TRIAGE
        for r in results.values()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", type=Path, default=SETS)
    parser.add_argument("--json", type=Path, default=RESULTS_FILE)
    args = parser.parse_args(argv)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)  # Rasa logs every parse at debug level otherwise
    logging.disable(logging.WARNING)
    results = evaluate(args.sets)
    print_report(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nFigures written to {args.json}")
    return 0 if passes(results) else 1


if __name__ == "__main__":
    sys.exit(main())
