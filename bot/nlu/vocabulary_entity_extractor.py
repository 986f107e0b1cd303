"""A Rasa NLU component that turns the spaCy entity ruler's matches into Rasa entities.

Rasa's own SpacyEntityExtractor reports the matched text ("feet", "heel bone") and parses the
message a second time. This component reads the doc SpacyNLP already made and reports the
pattern's id, the canonical value from content/vocabulary.yml ("foot", "calcaneus"), so slots and
actions only ever see the values the knowledge file uses.
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


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class VocabularyEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts location, cause, modality and treatment entities with canonical values."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [SpacyNLP]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

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
            found = [
                {
                    "entity": ent.label_,
                    "value": ent.ent_id_,
                    "text": text[ent.start_char : ent.end_char],
                    "start": ent.start_char,
                    "end": ent.end_char,
                    "confidence": 1.0,
                }
                for ent in doc.ents
                if ent.ent_id_
            ]
            message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name(found), add_to_output=True)
        return messages
