"""Which intent asks for which answer, and which entity picks an item of a list: one table.

A *topic* is an answer that lists items (the six causes, the five scans, the shoe table's
rows…). A question about the topic gets its overview, which asks back which item; a question
that names an item ("does naproxen help?", "recovery time for AVN?") gets that item's answer
directly. The same table tells the follow-ups ("and the hip?") which topic a value continues,
the fallback which answers an intent stands for, and the buttons which message re-asks an
answer. Pure Python: no Rasa import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.domain.knowledge import Knowledge, knowledge


@dataclass(frozen=True)
class Topic:
    name: str  # also the value of the `topic` slot
    intent: str  # the intent that asks about it
    overview: str  # the answer id of its overview
    prefix: str  # an item's answer id is `<prefix>.<value>`
    entities: tuple[str, ...]  # entities whose values pick an item, the first is the canonical one


TOPICS: tuple[Topic, ...] = (
    Topic("causes", "ask_cause", "causes", "causes", ("cause",)),
    Topic("recovery", "ask_recovery_time", "recovery", "recovery", ("cause",)),
    Topic("diagnosis", "ask_imaging", "diagnosis", "imaging", ("modality",)),
    Topic("mri_patterns", "ask_mri_patterns", "mri_patterns", "mri_patterns", ("cause", "mri_pattern")),
    Topic("treatment", "ask_treatment", "treatment", "treatment", ("treatment",)),
    Topic("advanced_treatment", "ask_advanced_treatment", "treatment.advanced", "treatment", ("treatment",)),
    Topic("shoes", "ask_shoes", "shoes", "shoes", ("location", "shoe")),
    Topic("symptoms", "ask_symptoms", "symptoms", "symptoms", ("symptom",)),
    Topic("experts", "ask_expert_views", "experts", "experts", ("expert",)),
)
BY_NAME = {topic.name: topic for topic in TOPICS}
BY_INTENT = {topic.intent: topic for topic in TOPICS}
# A benign report ("it aches at night") is answered from the symptoms, item by item.
BY_INTENT["describe_symptoms"] = BY_NAME["symptoms"]

# Intents with one fixed answer.
FIXED = {
    "ask_definition": "definition",
    "ask_nature": "nature",
    "ask_locations": "locations",
    "ask_red_flags": "red_flags",
    "ask_return_to_activity": "return_to_activity",
    "ask_prevention": "prevention",
    "faq_heal_on_own": "faq.heal_on_own",
    "faq_is_serious": "faq.is_serious",
    "faq_what_to_avoid": "faq.what_to_avoid",
    "faq_ultrasound": "faq.ultrasound",
    "faq_surgery": "faq.surgery",
    "faq_walking": "faq.walking",
    "myth_always_fracture": "myths.always_fracture",
    "myth_total_rest": "myths.total_rest",
    "myth_xray": "myths.xray",
    "myth_pain_free_healed": "myths.pain_free_healed",
    "symptom_check": "symptom_check.weight",
    "ask_disclaimer": "disclaimer",
}

# The topic a value answers when nothing else says which ("knee?" is about shoes), in order of
# preference when a message names several: a place is the least telling ("navicular stress
# fracture, how are they linked?" is about the stress fracture).
DEFAULT_TOPIC = {
    "cause": "causes",
    "modality": "diagnosis",
    "treatment": "treatment",
    "symptom": "symptoms",
    "shoe": "shoes",
    "expert": "experts",
    "mri_pattern": "mri_patterns",
    "location": "shoes",
}

# Values of another entity that name a cause: bisphosphonates and steroid injections are
# treatments, and also the medication-related cause.
CAUSE_ALIASES = {
    ("treatment", "bisphosphonates"): "medication",
    ("treatment", "corticosteroid_injection"): "medication",
}


@dataclass(frozen=True)
class Pick:
    """An answer to give, with the value that picked it ("calcaneus" picks `shoes.foot`)."""

    answer: str
    value: str | None = None


def item_for(topic: Topic, entity: str, value: str, kb: Knowledge | None = None) -> Pick | None:
    """The item of `topic` that an entity value picks, or None if the value is not one of its items."""
    kb = kb or knowledge()
    if "cause" in topic.entities and (entity, value) in CAUSE_ALIASES:
        entity, value = "cause", CAUSE_ALIASES[(entity, value)]
    elif "cause" in topic.entities and entity == "mri_pattern" and entity not in topic.entities:
        entity = "cause"  # each MRI pattern is named after its cause ("the linear kind" heals as a stress fracture)
    if entity not in topic.entities:
        return None
    if topic.name == "shoes" and entity == "location":
        row = kb.shoe_row_for(value)
        return Pick(f"shoes.{row}" if row else "shoes.other", value)
    answer = f"{topic.prefix}.{value}"
    return Pick(answer, value) if answer in kb.answer_ids() else None


def overview_of(answer: str, kb: Knowledge | None = None) -> str | None:
    """The overview that lists an item answer ("causes" for "causes.avascular_necrosis")."""
    kb = kb or knowledge()
    return next((oid for oid, entry in kb.answers.items() if entry.ask and answer in entry.items), None) or next(
        (oid for oid, entry in kb.answers.items() if answer in entry.items), None
    )


def topic_of(answer: str, kb: Knowledge | None = None) -> Topic | None:
    """The topic an answer belongs to, as its overview or as one of its items."""
    kb = kb or knowledge()
    overview = answer if any(t.overview == answer for t in TOPICS) else overview_of(answer, kb)
    by_overview = next((t for t in TOPICS if t.overview == overview), None)
    return by_overview or next((t for t in TOPICS if answer.startswith(f"{t.prefix}.")), None)


def payload_for(answer: str, kb: Knowledge | None = None) -> str:
    """The message that asks for an answer again, as a button sends it ("/ask_cause{...}")."""
    kb = kb or knowledge()
    for intent, fixed in FIXED.items():
        if fixed == answer:
            return f"/{intent}"
    topic = topic_of(answer, kb)
    if topic is None:
        raise ValueError(f"no message asks for answer {answer!r}")
    if answer == topic.overview:
        return f"/{topic.intent}"
    value = answer.removeprefix(f"{topic.prefix}.")
    return f"/{topic.intent}{json.dumps({topic.entities[0]: value})}"
