"""The reply audit: every bubble the assistant can say (bot/reply_catalogue.py) fits a chat
window, spells acronyms as the article does, shows no internal note, nests no brackets, states
only numbers the article gives, and names the article section it comes from. Plus the
clinician review's findings (issue 11) that each would have failed before the fix."""

from __future__ import annotations

import re

import pytest

from bot.domain.knowledge import MAX_BUBBLE_CHARS, knowledge
from bot.domain.replies import reply
from bot.domain.topics import Pick
from bot.settings import ARTICLE as ARTICLE_PATH
from tools.replies import CONVERSATION, all_replies

ARTICLE = ARTICLE_PATH.read_text(encoding="utf-8")
ENTRIES = all_replies()
BUBBLES = [(entry.answer, bubble) for entry in ENTRIES for bubble in entry.bubbles]
# Acronyms as the article writes them; a reply must never lowercase them ("nsaids", "(avn)").
ACRONYMS = ["BME", "MRI", "CT", "NSAIDs", "ESWT", "BMAC", "PRP", "OA", "AVN", "STIR", "T2"]
INTERNAL = re.compile(r"\(Note:|article_note|\bnotes?:|TODO|\bbasis\b", re.IGNORECASE)
# Jargon a reply must explain in plain words where it uses it: the term, then the explanation.
JARGON = {
    "STIR": "scan settings",
    "stack height": "sole)",
    "heel counter": "(the stiff cup around the heel)",
    "rocker outsole": "(a curved sole",
    "rocker sole": "(curved so the foot rolls forward)",
    "antalgic": "limp",
    "periosteum": "outer lining",
}


def test_the_catalogue_covers_every_answer_and_every_shoe_place():
    answered = {entry.answer for entry in ENTRIES}
    assert set(knowledge().answer_ids()) <= answered
    assert len(ENTRIES) >= 100


@pytest.mark.parametrize(("answer", "bubble"), BUBBLES)
def test_every_bubble_fits_a_chat_window(answer, bubble):
    assert len(bubble) <= MAX_BUBBLE_CHARS, f"{answer}: {len(bubble)} characters"


@pytest.mark.parametrize(("answer", "bubble"), BUBBLES)
def test_acronyms_keep_their_case(answer, bubble):
    for acronym in ACRONYMS:
        for found in re.findall(rf"\b{re.escape(acronym)}\b", bubble, re.IGNORECASE):
            assert found == acronym, f"{answer}: {found!r} should read {acronym!r}"


@pytest.mark.parametrize(("answer", "bubble"), BUBBLES)
def test_no_internal_marker_is_shown(answer, bubble):
    assert not INTERNAL.search(bubble), answer


@pytest.mark.parametrize(("answer", "bubble"), BUBBLES)
def test_no_nested_brackets(answer, bubble):
    depth = 0
    for char in bubble:
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth <= 1, f"{answer}: nested brackets in {bubble!r}"
    assert depth == 0, f"{answer}: unbalanced brackets"


@pytest.mark.parametrize(("answer", "bubble"), BUBBLES)
def test_no_stray_fragment(answer, bubble):
    """Every sentence says something: no "The femur." left over from a field."""
    for sentence in re.split(r"(?<!Dr\.)(?<=[.!?])\s+", bubble):
        words = re.findall(r"[\w'’-]+", sentence)
        interjection = sentence.endswith("!") or sentence in ("Thanks.", "No.", "OK.")
        assert len(words) >= 2 or interjection, f"{answer}: fragment {sentence!r}"


@pytest.mark.parametrize(("answer", "bubble"), BUBBLES)
def test_every_number_comes_from_the_article(answer, bubble):
    article_numbers = set(re.findall(r"\d+", ARTICLE))
    for number in re.findall(r"\d+", bubble):
        assert number in article_numbers, f"{answer}: {number} is not in the article"


@pytest.mark.parametrize(("answer", "bubble"), BUBBLES)
def test_jargon_is_explained_where_it_is_used(answer, bubble):
    for term, explanation in JARGON.items():
        if term in bubble:
            assert explanation in bubble, f"{answer}: {term!r} without its plain explanation"


# Replies that state no fact from the article, so name no section.
NO_ARTICLE_FACT = {
    "utter_greet", "utter_goodbye", "utter_thank", "utter_bot_challenge", "utter_help", "utter_out_of_scope",
    "utter_anything_else", "utter_default", "clarify", "symptom_check.repeat", "out_of_scope", "feedback",
    "utter_ask_erasure_answer", "privacy.deleted", "privacy.kept",
}  # fmt: skip


def test_every_reply_names_its_article_section():
    sections = set(knowledge().sections)
    for entry in ENTRIES:
        if entry.section == CONVERSATION:
            assert entry.answer in NO_ARTICLE_FACT, f"{entry.answer} states a fact but names no section"
        else:
            assert entry.section in sections, entry.answer


# --- the clinician review's findings (issue 11) ----------------------------------------------


@pytest.mark.parametrize("cause", ["osteoarthritis", "avascular_necrosis", "inflammatory_arthritis", "medication"])
def test_recovery_for_a_disease_cause_follows_the_disease_not_the_general_range(cause):
    text = " ".join(reply(f"recovery.{cause}").bubbles)
    assert "6 weeks to 6 months" not in text
    assert "no recovery timeline" in text
    assert "doctor" in text or "specialist" in text or "team" in text


def test_the_symptom_check_all_clear_says_what_it_did_not_do_and_when_to_see_a_doctor():
    text = " ".join(reply("symptom_check.clear").bubbles)
    assert not text.startswith("Good")
    assert "can't tell whether you have BME" in text and "can't rule other problems out" in text
    assert all(word in text for word in ("severe", "worse", "not improving"))
    assert "deep, gnawing" not in text, "no list of BME symptoms that reads like a diagnosis"
    intro = " ".join(reply("symptom_check.intro").bubbles)
    assert "I can tell you if you should get seen urgently" not in intro
    assert "isn't a diagnosis" in intro


def test_warning_signs_follow_the_article():
    signs = " ".join(reply("red_flags").bubbles)
    assert "sudden, severe bone pain with inability to bear weight" in signs
    assert "complete fracture" in signs
    question = " ".join(reply(Pick("symptom_check.weight")).bubbles)
    assert "can't bear weight" in question and "the leg" not in question
    for entry in ENTRIES:  # extras the article does not list are not named as warning signs
        for bubble in entry.bubbles:
            assert "chills" not in bubble.lower() and "hot to the touch" not in bubble.lower(), entry.answer


def test_each_extra_decision_is_recorded_in_the_knowledge_file():
    notes = " ".join(knowledge().notes)
    for extra in ("Chills", "hot to the touch", "emergency number", "complete fracture"):
        assert extra in notes


def test_numbers_and_instructions_are_attributed_to_the_article():
    for answer in ("treatment.relative_rest", "treatment.ice", "return_to_activity"):
        assert "the article suggests" in " ".join(reply(answer).bubbles)


def test_paraphrases_say_no_more_than_the_article():
    everything = " ".join(b for _, b in BUBBLES)
    assert "a full break" not in everything
    assert "only if the loading carries on" not in everything
    assert "apply to everyone" not in everything
    assert "across the board" in " ".join(reply("treatment").bubbles)
    assert "risk factors include" in " ".join(reply("causes.avascular_necrosis").bubbles).lower()


def test_what_the_article_puts_together_stays_together():
    assert " ".join(reply("symptoms").bubbles).startswith("BME usually hurts most when the bone takes weight")
    symptoms = " ".join(reply("symptoms").bubbles)
    assert "get seen by a doctor straight away" in symptoms.lower() and "can't bear weight" in symptoms
    for answer in ("diagnosis", "imaging.mri"):
        assert "within days" in " ".join(reply(answer).bubbles)
    assert "not all BME needs treatment" in " ".join(reply("treatment").bubbles)


def test_the_goodbye_does_not_assume_the_user_has_bme():
    goodbye = next(e for e in ENTRIES if e.answer == "utter_goodbye")
    assert "bone" not in " ".join(goodbye.bubbles).lower()
