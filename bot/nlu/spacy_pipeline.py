"""Builds the assistant's spaCy pipeline from code and saves it for Rasa's SpacyNLP.

No pretrained spaCy model can be downloaded on our machines, and none is needed: the
pipeline is `spacy.blank("en")` plus a lookup lemmatizer (tables from spacy-lookups-data)
and an entity ruler whose patterns come from content/vocabulary.yml, matched on lemmas so that
plurals and verb forms match without listing them. Rasa lowercases text before spaCy sees it
(SpacyNLP `case_sensitive: false`), and the lookup tables are lowercase, so the patterns are
built from lowercased phrases too.

Usage: python -m bot.nlu.spacy_pipeline OUTPUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

import spacy
from spacy.language import Language
from spacy.pipeline import EntityRuler, Lemmatizer

from bot.domain.vocabulary import NOT_AN_ENTITY, Vocabulary, load_vocabulary

PIPELINE_NAME = "bme_en"


def _lemma_pattern(nlp: Language, phrase: str) -> list[dict[str, str]]:
    doc = nlp(phrase.lower())
    return [{"LEMMA": token.lemma_} for token in doc]


def lemmatizing_english(*, sentences: bool = False) -> Language:
    """A blank English pipeline with a lookup lemmatizer, initialised (and optionally a
    sentencizer first): the base of both our NLU pipeline and the red-flag detector's. Add
    entity-ruler patterns after this, since LEMMA patterns need the lookup tables loaded."""
    nlp = spacy.blank("en")
    if sentences:
        nlp.add_pipe("sentencizer")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lookup tables; must happen before lemmas are computed
    return nlp


def english_words(nlp: Language) -> set[str]:
    """Every word form in the lookup table of a pipeline from `lemmatizing_english`, and its
    lemma: what the respellers (bot/domain/spelling.py) take for English, never a typo."""
    lookup = cast(Lemmatizer, nlp.get_pipe("lemmatizer")).lookups.get_table("lemma_lookup")
    return set(lookup.keys()) | set(lookup.values())


def build_pipeline(vocab: Vocabulary) -> Language:
    """A blank English pipeline with lemmas and entity-ruler patterns for our vocabulary."""
    nlp = lemmatizing_english()
    patterns: list[dict[str, Any]] = [
        {"label": entity, "id": value, "pattern": _lemma_pattern(nlp, phrase)}
        for entity, values in vocab.items()
        for value, phrases in values.items()
        for phrase in phrases
    ]
    for pattern in patterns:  # matched, so they win over the shorter phrases inside, but no value
        if pattern["label"] == NOT_AN_ENTITY:
            del pattern["id"]
    ruler = cast(EntityRuler, nlp.add_pipe("entity_ruler", config={"validate": True}))
    ruler.add_patterns(patterns)
    nlp.meta["name"] = PIPELINE_NAME
    nlp.meta["description"] = "Bone marrow edema assistant: lemmas and entity patterns"
    return nlp


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    output = Path(argv[1])
    output.parent.mkdir(parents=True, exist_ok=True)
    build_pipeline(load_vocabulary()).to_disk(output)
    print(f"spaCy pipeline written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
