"""Decides what a short follow-up ("and the hip?", "what if it's a stress fracture?") is about.

A follow-up names a location, cause, scan or treatment and means "the same question as
before, for this". When the previous answer's topic cannot use the new value (a shoe answer,
then "what about AVN?"), the value itself decides the topic.
"""

from __future__ import annotations

from collections.abc import Iterable

# Which topics take which entity, in the order a follow-up is matched.
TOPIC_ENTITIES = {
    "shoes": "location",
    "recovery": "cause",
    "cause": "cause",
    "imaging": "modality",
    "treatment": "treatment",
}

# The topic a value answers when the previous topic cannot use it.
DEFAULT_TOPIC = {"location": "shoes", "cause": "cause", "modality": "imaging", "treatment": "treatment"}


def follow_up_topic(entities: Iterable[str], previous_topic: str | None) -> str | None:
    """The topic to answer, given the entity types in the message and the previous topic.

    None when the message names nothing the assistant can look up.
    """
    found = set(entities)
    if previous_topic in TOPIC_ENTITIES and TOPIC_ENTITIES[previous_topic] in found:
        return previous_topic
    for entity, topic in DEFAULT_TOPIC.items():
        if entity in found:
            return topic
    return None
