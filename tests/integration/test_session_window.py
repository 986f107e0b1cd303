"""Our tracker store's session window (bot/stores/tracker_store.py) changes no answer: blind set 1's
conversations of two turns or more, run through the store with a new session after every turn,
get exactly the answers they get on Rasa's in-memory store, which keeps each conversation whole.

That is what lets the store keep sessions short, and every turn about as fast as the first."""

from __future__ import annotations

import pytest

from bot.settings import MODEL, ROOT
from bot.stores.tracker_store import TurnLimitedSQLTrackerStore
from tools import evaluate_conversations

SET1 = ROOT / "tests" / "blind" / "set1.yml"


def multi_turn_conversations() -> list[list[evaluate_conversations.Turn]]:
    return [c for c in evaluate_conversations.load_turns(SET1) if len(c) > 1]


def answers(conversations: list[list[evaluate_conversations.Turn]]) -> list[list[list[str]]]:
    return [[turn.answers for turn in conversation] for conversation in conversations]


def test_a_session_of_one_turn_gives_every_answer_a_whole_conversation_gives(tmp_path):
    if not MODEL.exists():
        pytest.fail("no trained model: run the tests with `make test`, which trains it first")
    whole, windowed = multi_turn_conversations(), multi_turn_conversations()
    store = TurnLimitedSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "c.db"), max_turns_per_session=1)
    evaluate_conversations.answer([whole])
    evaluate_conversations.answer([windowed], tracker_store=store)

    assert sum(len(c) for c in whole) > 500  # about 250 conversations of 2 to 5 turns
    different = [
        (conversation[0].conversation, a, b)
        for conversation, a, b in zip(whole, answers(whole), answers(windowed), strict=True)
        if a != b
    ]
    assert not different
    rolled = store.engine.execute("SELECT count(*) FROM events WHERE type_name = 'session_started'").scalar()
    assert rolled > sum(len(c) for c in windowed) / 2, "the window must actually have cut the conversations"
