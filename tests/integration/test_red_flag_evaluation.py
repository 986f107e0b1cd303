"""The safety gate: every red-flag message in tests/red_flags/ reaches urgent care.

Runs the evaluation command (`python -m tools.evaluate_red_flags`, also part of `make eval`)
on the trained model, so both layers are measured as they run in a conversation.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from bot.settings import ROOT
from tools import evaluate_red_flags as red_flag_evaluation


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    if not red_flag_evaluation.MODEL.exists():
        pytest.fail("no trained model: run the tests with `make test`, which trains it first")
    out = tmp_path_factory.mktemp("red_flags") / "red_flags.json"
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "tools.evaluate_red_flags", "--json", str(out)]
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    return json.loads(out.read_text(encoding="utf-8"))


SETS = ["evaluation", "holdout", "blind"]


@pytest.mark.parametrize("name", SETS)
def test_no_red_flag_is_missed(results, name):
    assert results[name]["missed"] == []


@pytest.mark.parametrize("name", SETS)
def test_negated_and_benign_messages_are_answered_normally(results, name):
    normal = results[name]["normal_rate"]
    assert normal["rate"] >= red_flag_evaluation.MIN_NORMAL_RATE, results[name]["over_triaged"]
    negated = results[name]["negated_answered_normally"]
    assert negated["rate"] >= red_flag_evaluation.MIN_NEGATED_NORMAL, results[name]["over_triaged"]


@pytest.mark.parametrize("name", SETS)
def test_benign_reports_are_rarely_sent_to_urgent_care(results, name):
    benign = results[name]["benign_answered_normally"]
    assert 1 - benign["rate"] <= red_flag_evaluation.MAX_BENIGN_OVER_TRIAGE, results[name]["over_triaged"]


def test_every_set_is_evaluated():
    assert sorted(p.stem for p in red_flag_evaluation.SETS) == sorted(SETS)


def test_the_sets_are_large_enough_to_mean_something():
    sets = {p.stem: p for p in red_flag_evaluation.SETS}
    evaluation = yaml.safe_load(sets["evaluation"].read_text(encoding="utf-8"))
    assert len(evaluation["red_flags"]) >= 200
    assert len(evaluation["negated"]) >= 60 and len(evaluation["benign"]) >= 60
    for category in ("weight", "fever", "swelling", "redness"):
        assert sum(category in item["categories"] for item in evaluation["red_flags"]) >= 40
