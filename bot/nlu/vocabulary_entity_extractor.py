"""A Rasa NLU component that turns the spaCy entity ruler's matches into Rasa entities.

Rasa's own SpacyEntityExtractor reports the matched text ("feet", "heel bone") and parses the
message a second time. This component reads the doc SpacyNLP already made and reports the
pattern's id, the canonical value from content/vocabulary.yml ("foot", "calcaneus"), so slots and
actions only ever see the values the knowledge file uses.

A word the ruler missed that is one edit from exactly one one-word name in the vocabulary, and
no English word, is read as that name ("ankel", "ibuprofin", "scintigrapy"): the ruler matches
exactly, and people type names of drugs and scans as they hear them.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.utils.spacy_utils import SpacyNLP
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from spacy.tokens import Doc

from bot.domain.spelling import Respeller, english
from bot.domain.vocabulary import NOT_AN_ENTITY, vocabulary
from bot.nlu.spacy_pipeline import english_words, lemmatizing_english


def _entity(entity: str, value: str, text: str, start: int, end: int) -> dict[str, Any]:
    return {"entity": entity, "value": value, "text": text[start:end], "start": start, "end": end, "confidence": 1.0}


def vocabulary_names() -> dict[str, tuple[str, str]]:
    """Every one-word name in the vocabulary, with its entity and value ("ankle": location)."""
    names: dict[str, tuple[str, str]] = {}
    for entity, values in vocabulary().items():
        for value, phrases in values.items():
            for phrase in phrases:
                if entity != NOT_AN_ENTITY and phrase.isalpha():
                    names.setdefault(phrase.lower(), (entity, value))
    return names


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class VocabularyEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts location, cause, modality and treatment entities with canonical values."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [SpacyNLP]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    def __init__(self) -> None:
        self._names = names = vocabulary_names()
        self._respeller = Respeller(names, english(english_words(lemmatizing_english())))

    def _respelt(self, doc: Doc, text: str) -> list[dict[str, Any]]:
        covered = {token.i for ent in doc.ents for token in ent}
        found = []
        for token in doc:
            word = self._respeller.respell(token.lower_) if token.i not in covered else None
            if word is not None:
                found.append(_entity(*self._names[word], text, token.idx, token.idx + len(token.text)))
        return found

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VocabularyEntityExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            if doc is None:  # an empty message has no doc
                continue
            text = message.get(TEXT)
            named = [ent for ent in doc.ents if ent.ent_id_]  # not the not_an_entity phrases
            found = [_entity(ent.label_, ent.ent_id_, text, ent.start_char, ent.end_char) for ent in named]
            found += self._respelt(doc, text)
            message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name(found), add_to_output=True)
        return messages
