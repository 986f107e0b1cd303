"""The words people use for locations, causes, scans and treatments (content/vocabulary.yml).

Shared by the spaCy pipeline build (which turns the phrases into entity-ruler patterns) and
by the replies (which name a canonical value the way a patient would read it).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from bot.settings import VOCABULARY

DEFAULT_PATH = VOCABULARY
# The vocabulary's section of phrases that hide the entities inside them ("physio here").
NOT_AN_ENTITY = "not_an_entity"

Vocabulary = dict[str, dict[str, list[str]]]


def load_vocabulary(path: Path | str = DEFAULT_PATH) -> Vocabulary:
    """Reads the vocabulary: entity -> canonical value -> phrases (first one is the name)."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for entity, values in raw.items():
        for value, phrases in values.items():
            if not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
                raise ValueError(f"{path}: {entity} -> {value} needs a non-empty list of phrases")
    return raw


@cache
def vocabulary() -> Vocabulary:
    return load_vocabulary(DEFAULT_PATH)


def display_name(entity: str, value: str) -> str:
    """How a canonical value reads in a reply ("femoral_head" -> "femoral head")."""
    phrases = vocabulary().get(entity, {}).get(value)
    return phrases[0] if phrases else value.replace("_", " ")
