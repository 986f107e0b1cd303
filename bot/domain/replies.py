"""Turns knowledge-file answers into chat replies: bubbles, buttons and the article section.

A `Reply` is what the assistant says for one answer id (docs/answers.md): one or more bubbles
(each at most 450 characters), the answers it offers as buttons, and, when it asks the user
to choose ("Where is your BME?"), the topic the choice is about. Most answers are prose from
the knowledge file; recovery by cause and shoes by location are built from its two tables.
Nothing here knows about Rasa: the actions turn a Reply into messages and buttons.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.knowledge import MAX_BUBBLE_CHARS, Knowledge, knowledge
from bot.domain.topics import Pick, topic_of
from bot.domain.vocabulary import display_name

# Copy only the actions say. It lives here rather than in domain.yml because Rasa's
# validator counts a domain response that no rule or story uses as a warning.
DID_YOU_MEAN = "Sorry, I'm not sure I understood. Did you mean one of these?"
ANSWER_YES_OR_NO = 'Sorry, I need a yes or a no (or "not sure") for this one.'
FEEDBACK_THANKS = "Thanks for your feedback."  # after a 👍 or 👎 (bot/feedback.py)
NOT_IN_ARTICLE = (
    "The article I answer from doesn't cover that, so I can't say. A doctor, physio or pharmacist can help."
)
# Erasure on request (docs/privacy.md): said after the user answered "Delete this conversation?".
CONVERSATION_DELETED = (
    "OK, deleting this conversation now. Nothing you said here will be kept. Anything you type next starts a new chat."
)
CONVERSATION_KEPT = "OK, I haven't deleted anything. What else would you like to know?"


@dataclass(frozen=True)
class Reply:
    answer: str  # the answer id (docs/answers.md)
    section: str  # the article section it comes from (knowledge file `sections`)
    bubbles: tuple[str, ...]
    choices: tuple[str, ...] = ()  # answer ids offered as buttons, in order
    asks: str | None = None  # the topic whose item the user is asked to choose, if any


def _kb(kb: Knowledge | None) -> Knowledge:
    return kb if kb is not None else knowledge()


def title_of(answer: str, kb: Knowledge | None = None) -> str:
    """How an answer is named on a button."""
    kb = _kb(kb)
    if answer in kb.answers:
        return kb.answers[answer].title
    kind, _, key = answer.partition(".")
    if kind == "recovery":
        return kb.answers[f"causes.{key}"].title
    if kind == "shoes":
        return key.capitalize()
    raise KeyError(answer)


def _with_question(bubbles: list[str], question: str | None) -> list[str]:
    """Ends the last bubble with the question, or adds it as its own bubble if it won't fit."""
    if not question:
        return bubbles
    if len(bubbles[-1]) + 1 + len(question) <= MAX_BUBBLE_CHARS:
        return [*bubbles[:-1], f"{bubbles[-1]} {question}"]
    return [*bubbles, question]


def _siblings(answer: str, kb: Knowledge) -> list[str]:
    """The rest of the list an item belongs to, offered after it."""
    parent = next((entry for entry in kb.answers.values() if entry.ask and answer in entry.items), None)
    parent = parent or next((entry for entry in kb.answers.values() if answer in entry.items), None)
    return [item for item in parent.items if item != answer] if parent else []


def reply(pick: Pick | str, kb: Knowledge | None = None) -> Reply:
    """The reply for an answer id (or a Pick: an answer id and the value that chose it)."""
    kb = _kb(kb)
    pick = Pick(pick) if isinstance(pick, str) else pick
    kind, _, key = pick.answer.partition(".")
    if kind == "recovery" and key:
        return _recovery(key, kb)
    if kind == "shoes" and key and key != "other":
        return _shoes(key, pick.value or key, kb)
    if pick.answer == "shoes" and pick.value in LONG_BONES:
        return _long_bone(pick.value)
    entry = kb.answers[pick.answer]
    if pick.answer == "shoes.other" and pick.value:
        place = display_name("location", pick.value)
        bubbles = (entry.text[0].replace(" only.", f" only, not the {place}.", 1), *entry.text[1:])
        return Reply(pick.answer, entry.section, bubbles, tuple(entry.items))
    if entry.ask:
        choices = [*entry.items, *entry.offer]
        topic = topic_of(pick.answer, kb)
        return Reply(
            pick.answer,
            entry.section,
            tuple(_with_question(list(entry.text), entry.ask)),
            tuple(choices),
            topic.name if topic else None,
        )
    choices = [*entry.items, *entry.offer] if entry.items else [*_siblings(pick.answer, kb), *entry.offer]
    return Reply(pick.answer, entry.section, tuple(entry.text), tuple(choices))


def _recovery(cause: str, kb: Knowledge) -> Reply:
    answer = f"recovery.{cause}"
    return Reply(answer, "recovery", (kb.recovery_by_cause[cause].text,), tuple(_siblings(answer, kb)))


def _shoes(row_id: str, location: str, kb: Knowledge) -> Reply:
    """A row of the article's shoe table, introduced for the place the user named."""
    row = kb.shoe_table[row_id]
    answer = f"shoes.{row_id}"
    if location == row_id:
        where = f"For BME in the {row.label}, the article's shoe table suggests"
    elif location in row.covers and location.replace("_", " ") in row.label:
        where = f"For BME in the {display_name('location', location)}, the article's row for the {row.label} suggests"
    else:
        where = (
            f"The article's shoe table doesn't name the {display_name('location', location)}. "
            f"For the {row.label}, it suggests"
        )
    features = row.features
    listing = ", ".join(features[:-1]) + f" and {features[-1]}" if len(features) > 1 else features[0]
    examples = " and ".join(row.examples)
    bubbles = [f"{where} {row.shoe_type}. Look for {listing}. Examples it names: {examples}."]
    return Reply(answer, "shoes", tuple(bubbles), tuple(_siblings(answer, kb)))


# Long bones whose two ends are in different rows of the shoe table, and whose middle is in none.
LONG_BONES = {
    "femur": ("The thigh bone (femur) reaches from the hip to the knee.", ("shoes.hip", "shoes.knee")),
    "tibia": ("The shin bone (tibia) runs from the knee to the ankle.", ("shoes.knee", "shoes.ankle")),
}


def _long_bone(bone: str) -> Reply:
    """Asks which end of a long bone: the shoe table has a row for each end, none for the middle."""
    reach, ends = LONG_BONES[bone]
    text = (
        f"{reach} Which end is your BME at? If it's in the middle of the bone, the article's shoe "
        "table doesn't cover it: your doctor or physio can advise."
    )
    return Reply("shoes", "shoes", (text,), ends, "shoes")
