"""The Rasa project as Rasa itself checks it: data validation, conversation tests, held-out NLU.

These run Rasa's own commands on the trained model (`make test` trains it first when stale).
"""

import os
import re
import subprocess
import sys

import pytest
import yaml

from bot.settings import ROOT
from tools import evaluate_nlu as evaluation

ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def rasa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rasa", *args], cwd=ROOT, env=ENV, capture_output=True, text=True)


@pytest.fixture(scope="module", autouse=True)
def trained_model():
    if not evaluation.MODEL.exists():
        pytest.fail("no trained model: run the tests with `make test`, which trains it first")


# Rasa 3.6's validator does not know that Rasa's default fallback action says `utter_default`,
# nor that action_answer says `utter_out_of_scope` (an out-of-scope question that names an item
# is answered about the item), nor that a form asks for its slot with `utter_ask_<slot>`: it
# reports them as unused.
IMPLICITLY_USED = {"utter_default", "utter_out_of_scope", "utter_ask_erasure_answer"}


def test_training_data_validates_without_warnings():
    result = rasa("data", "validate", "--fail-on-warnings")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    unused = set(re.findall(r"The utterance '(\w+)' is not used in any story or rule", output))
    assert unused <= IMPLICITLY_USED
    other_warnings = [
        line for line in output.splitlines() if "UserWarning" in line and "is not used in any story or rule" not in line
    ]
    assert other_warnings == []


def test_conversation_stories_pass(tmp_path):
    result = rasa(
        "test", "core",
        "--model", str(evaluation.MODEL),
        "--stories", "tests/stories",
        "--fail-on-prediction-errors",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_held_out_questions_are_understood(tmp_path):
    report = evaluation.evaluate(out=tmp_path)
    errors = "\n".join(
        f"{e['intent']} -> {e['intent_prediction']['name']}: {e['text']}" for e in evaluation.misclassified(tmp_path)
    )
    assert report["accuracy"] >= evaluation.MIN_ACCURACY, errors


def test_conversation_stories_cover_every_intent():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    story_intents = set()
    for path in (ROOT / "tests" / "stories").glob("*.yml"):
        for story in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]:
            story_intents |= {step["intent"] for step in story["steps"] if "intent" in step}
    assert set(domain["intents"]) - story_intents == set()
