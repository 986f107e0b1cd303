"""Blind set 1, end to end through the trained model and a real action server: the gate.

Set 1 was written blind (tests/blind/README.md) and scored once before any tuning; since then it
is development data, so this gate guards against regressions rather than measuring what users
get (the sealed set 2's first run does that, docs/evaluation.md).
"""

from __future__ import annotations

import pytest

from bot.settings import MODEL, ROOT
from tools import evaluate_conversations

MIN_RIGHT = 0.95
SET1 = ROOT / "tests" / "blind" / "set1.yml"


@pytest.fixture(scope="module")
def report() -> dict:
    if not MODEL.exists():
        pytest.fail("no trained model: run the tests with `make test`, which trains it first")
    return evaluate_conversations.evaluate([SET1])["set1"]


def wrong_turns(report: dict) -> str:
    return "\n".join(f"{w['id']} [{w['category']}] {w['text']!r}: {w['expect']} -> {w['got']}" for w in report["wrong"])


def test_at_least_95_percent_of_turns_are_answered_right(report):
    assert report["overall"]["rate"] >= MIN_RIGHT, wrong_turns(report)


def test_no_red_flag_is_missed(report):
    recall = report["red_flag_recall"]
    assert recall["hits"] == recall["n"], wrong_turns(report)
