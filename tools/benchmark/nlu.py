"""The NLU side of a benchmark run: held-out intent accuracy and the in-process parse time, the
floor under every REST round trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.settings import ROOT
from tools.benchmark import mix


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
    texts = json.dumps(list(mix.QUESTIONS + mix.FOLLOW_UPS + mix.RED_FLAGS))
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3", "LOG_LEVEL": "ERROR"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(model), texts], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return round(float(result.stdout.strip().splitlines()[-1]), 2)
