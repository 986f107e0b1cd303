"""Held-out NLU evaluation: how well the trained model understands questions it never saw.

`make eval` prints the report; the test suite enforces `MIN_ACCURACY`. It runs Rasa's own
`rasa test nlu` on tests/nlu/heldout.yml, which also writes the confusion matrix and
histogram images under results/heldout/.

Usage: python -m tools.evaluate_nlu
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.settings import MODEL, ROOT
from bot.settings import RESULTS as RESULTS_DIR

HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
RESULTS = RESULTS_DIR / "heldout"
MIN_ACCURACY = 0.95


def evaluate(model: Path = MODEL, heldout: Path = HELDOUT, out: Path = RESULTS) -> dict[str, Any]:
    """Runs `rasa test nlu` and returns its intent report (accuracy, per-intent scores)."""
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [
        sys.executable,
        "-m",
        "rasa",
        "test",
        "nlu",
        "--model",
        str(model),
        "--nlu",
        str(heldout),
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"rasa test nlu failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads((out / "intent_report.json").read_text(encoding="utf-8"))


def misclassified(out: Path = RESULTS) -> list[dict[str, Any]]:
    errors = out / "intent_errors.json"
    return json.loads(errors.read_text(encoding="utf-8")) if errors.exists() else []


def main() -> int:
    report = evaluate()
    intents = {name: scores for name, scores in report.items() if isinstance(scores, dict) and "support" in scores}
    intents = {k: v for k, v in intents.items() if k not in ("micro avg", "macro avg", "weighted avg")}
    print(f"{'intent':28} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>4}")
    for name, s in sorted(intents.items()):
        print(f"{name:28} {s['precision']:9.2f} {s['recall']:7.2f} {s['f1-score']:6.2f} {s['support']:4d}")
    print("\nMisclassified:")
    for error in misclassified():
        predicted = error["intent_prediction"]
        print(f"  {error['intent']} -> {predicted['name']} ({predicted['confidence']:.2f}): {error['text']}")
    total = sum(s["support"] for s in intents.values())
    print(f"\nHeld-out intent accuracy: {report['accuracy']:.3f} on {total} questions (floor {MIN_ACCURACY})")
    print(f"Confusion matrix: {RESULTS / 'intent_confusion_matrix.png'}")
    return 0 if report["accuracy"] >= MIN_ACCURACY else 1


if __name__ == "__main__":
    sys.exit(main())
