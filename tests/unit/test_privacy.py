"""Erasure on request, the parts without a server: which answer deletes, what the actions say
and return, and that every new reply is catalogued (the tracker store's side is in
tests/integration/test_privacy_stores.py, the whole path over every channel in
tests/system/test_every_channel.py)."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import actions
from bot import names
from bot.domain import privacy, replies
from bot.settings import DOMAIN, ROOT
from tools.replies import all_replies

DOMAIN_DATA = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("text", "intent"),
    [("/affirm", "affirm"), ("yes", "affirm"), ("ok", "affirm"), ("Yes, delete it", "delete_conversation"),
     ("yeah do it", None), ("sure", "affirm")],
)  # fmt: skip
def test_a_clear_yes_deletes(text, intent):
    assert privacy.confirms_erasure(text, intent)


@pytest.mark.parametrize(
    ("text", "intent"),
    [("/deny", "deny"), ("no", "deny"), ("no, keep it", "deny"), ("not sure", "affirm"), ("yes? what happens", None),
     ("wait", None), ("what is bme", "ask_definition"), ("yes but keep my shoes answer", "affirm"),
     ("maybe", "affirm"), ("", None), ("my knee is red and swollen", "red_flag")],
)  # fmt: skip
def test_anything_else_keeps_the_conversation(text, intent):
    assert not privacy.confirms_erasure(text, intent)


def tracker(text: str, intent: str, **slots: object) -> Tracker:
    latest = {"intent": {"name": intent, "confidence": 0.9}, "text": text, "entities": []}
    events = [{"event": "user", "text": text}]
    loop = {"name": names.ERASURE_FORM}
    return Tracker("someone", dict(slots), latest, events, False, None, loop, "action_listen")


def test_the_form_reads_the_answer():
    validate = actions.ValidateErasureForm()
    for text, intent, expected in [("/affirm", "affirm", "yes"), ("no thanks", "deny", "no")]:
        result = asyncio.run(validate.validate_erasure_answer(text, CollectingDispatcher(), tracker(text, intent), {}))
        assert result == {names.ERASURE_ANSWER_SLOT: expected}


def test_a_yes_says_so_and_returns_the_marker_the_tracker_store_acts_on():
    dispatcher = CollectingDispatcher()
    events = asyncio.run(
        actions.ActionEraseConversation().run(dispatcher, tracker("/affirm", "affirm", erasure_answer="yes"), {})
    )
    assert events == [SlotSet(names.ERASE_SLOT, True)]
    assert [(m["text"], m["answer"]) for m in dispatcher.messages] == [
        (replies.CONVERSATION_DELETED, names.ERASED_ANSWER)
    ]


def test_a_no_keeps_everything_and_sets_no_marker():
    dispatcher = CollectingDispatcher()
    events = asyncio.run(
        actions.ActionEraseConversation().run(dispatcher, tracker("no", "deny", erasure_answer="no"), {})
    )
    assert events == [SlotSet(names.ERASURE_ANSWER_SLOT, None)]
    assert dispatcher.messages[0]["answer"] == privacy.KEPT_ANSWER


def test_the_names_are_the_domains():
    assert names.DELETE_INTENT in DOMAIN_DATA["intents"]
    assert {names.ERASURE_ANSWER_SLOT, names.ERASE_SLOT} <= set(DOMAIN_DATA["slots"])
    assert names.ERASURE_FORM in DOMAIN_DATA["forms"]
    assert {names.ERASE_ACTION, f"validate_{names.ERASURE_FORM}"} <= set(DOMAIN_DATA["actions"])
    assert DOMAIN_DATA["slots"][names.ERASE_SLOT]["influence_conversation"] is False


def test_the_new_replies_are_catalogued_and_documented():
    catalogue = {entry.answer: entry for entry in all_replies()}
    assert {privacy.DELETED_ANSWER, privacy.KEPT_ANSWER, "utter_ask_erasure_answer"} <= set(catalogue)
    assert catalogue["utter_ask_erasure_answer"].buttons == ("Yes, delete it", "No, keep it")
    documented = (ROOT / "docs" / "answers.md").read_text(encoding="utf-8")
    for answer in (privacy.CONFIRM_ANSWER, privacy.DELETED_ANSWER, privacy.KEPT_ANSWER):
        assert f"`{answer}`" in documented


def test_at_least_sixty_varied_ways_to_ask():
    data = yaml.safe_load((ROOT / "data" / "nlu" / "privacy.yml").read_text(encoding="utf-8"))
    (block,) = [item for item in data["nlu"] if item["intent"] == names.DELETE_INTENT]
    examples = [line.removeprefix("- ").strip() for line in block["examples"].splitlines() if line.strip()]
    assert len(examples) >= 60 and len(set(map(str.lower, examples))) == len(examples)
    verbs = ("delete", "erase", "wipe", "remove", "forget", "clear", "get rid", "purge", "destroy")
    assert all(sum(verb in e.lower() for e in examples) >= 2 for verb in verbs)
