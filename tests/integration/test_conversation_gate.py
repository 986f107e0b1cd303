"""The blind sets, end to end through the trained model and a real action server: the gate.

Each set was written blind (tests/blind/README.md) and scored once before any tuning; since then
it is development data, so this gate guards against regressions rather than measuring what
users get (each set's first run does that, docs/evaluation.md). A set's floor is what the
assistant scored when the set became development data (its first run: set 2 93.4%, the probe
87.6%, set 3 94.9%, set 4 95.0%, set 5 93.5%, set 6 95.9%, set 7 96.6%, set 8 96.1%, set 9 93.7%, set 10 94.7%,
set 11 96.9%, set 12 97.9%; set 1 is held at 95%, well above its first 59%).
"""

from __future__ import annotations

import pytest

from bot.settings import MODEL, ROOT
from tools import evaluate_conversations

MIN_RIGHT = {
    "set1": 0.95,
    "set2": 0.93,
    "probe1": 0.87,
    "set3": 0.94,
    "set4": 0.95,
    "set5": 0.93,
    "set6": 0.95,
    "set7": 0.96,
    "set8": 0.96,
    "set9": 0.93,
    "set10": 0.94,
    "set11": 0.96,
    "set12": 0.97,
}
BLIND = ROOT / "tests" / "blind"


@pytest.fixture(scope="module", params=sorted(MIN_RIGHT))
def report(request: pytest.FixtureRequest) -> dict:
    if not MODEL.exists():
        pytest.fail("no trained model: run the tests with `make test`, which trains it first")
    return {"name": request.param, **evaluate_conversations.evaluate([BLIND / f"{request.param}.yml"])[request.param]}


def wrong_turns(report: dict) -> str:
    return "\n".join(f"{w['id']} [{w['category']}] {w['text']!r}: {w['expect']} -> {w['got']}" for w in report["wrong"])


def test_every_set_is_gated():
    assert sorted(MIN_RIGHT) == sorted(path.stem for path in BLIND.glob("*.yml"))


def test_no_fewer_turns_are_answered_right_than_when_the_set_became_development_data(report):
    assert report["overall"]["rate"] >= MIN_RIGHT[report["name"]], wrong_turns(report)


def test_no_red_flag_is_missed(report):
    recall = report["red_flag_recall"]
    assert recall["hits"] == recall["n"], wrong_turns(report)
