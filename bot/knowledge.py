"""Loads and validates the knowledge file, the assistant's only source of medical facts.

The file (`data/knowledge.yml`) is checked against the models below when it is loaded, so a
typo or a missing field stops the assistant at start-up with a message naming the field,
instead of surfacing as a broken answer in the middle of a chat. Pure Python: no Rasa import,
so the facts can be unit-tested in milliseconds.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Extra, ValidationError, constr, root_validator, validator

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "knowledge.yml"

Text = constr(strip_whitespace=True, min_length=1)


class KnowledgeError(Exception):
    """The knowledge file is missing, unreadable or does not match the schema."""


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid  # an unknown key is almost always a typo of a known one
        allow_mutation = False


class SectionText(_Strict):
    section: Text
    text: Text


class RedFlags(_Strict):
    section: Text
    signs: dict[str, Text]
    possible_causes: list[Text]
    advice: Text


class Cause(_Strict):
    name: Text
    tagline: Text
    mechanism: Text
    who: Text | None = None
    where: Text | None = None
    management: Text


class Causes(_Strict):
    section: Text
    summary: Text
    most_common_note: Text
    items: dict[str, Cause]


class Modality(_Strict):
    name: Text
    shows: Text
    role: Text


class MriPattern(_Strict):
    pattern: Text
    suggests: Text


class MriPatterns(_Strict):
    summary: Text
    items: list[MriPattern]


class Imaging(_Strict):
    section: Text
    summary: Text
    modalities: dict[str, Modality]
    mri_patterns: MriPatterns


class Treatment(_Strict):
    name: Text
    line: Literal["conservative", "advanced", "caution"]
    detail: Text
    article_note: Text | None = None


class Treatments(_Strict):
    section: Text
    principles: Text
    options: dict[str, Treatment]


class Timeline(_Strict):
    causes: list[Text]
    duration: Text
    detail: Text
    article_note: Text | None = None


class Recovery(_Strict):
    section: Text
    summary: Text
    overall_range: SectionText
    timelines: list[Timeline]


class ShoeRow(_Strict):
    label: Text
    covers: list[Text]
    shoe_type: Text
    features: list[Text]
    examples: list[Text]
    article_note: Text | None = None


class Shoes(_Strict):
    section: Text
    summary: Text
    article_note: Text
    by_location: dict[str, ShoeRow]

    @validator("by_location")
    def _each_location_in_one_row(cls, rows: dict[str, ShoeRow]) -> dict[str, ShoeRow]:
        seen: dict[str, str] = {}
        for row_id, row in rows.items():
            for location in row.covers:
                if location in seen:
                    raise ValueError(f"'{location}' is covered by both '{seen[location]}' and '{row_id}'")
                seen[location] = row_id
        return rows


class Quote(_Strict):
    speaker: Text
    role: Text
    section: Text
    view: Text


class Knowledge(_Strict):
    title: Text
    sections: dict[str, Text]
    disclaimer: SectionText
    topics: dict[str, SectionText]
    red_flags: RedFlags
    causes: Causes
    imaging: Imaging
    treatments: Treatments
    recovery: Recovery
    shoes: Shoes
    quotes: list[Quote]

    @root_validator(skip_on_failure=True)
    def _sections_exist(cls, values: dict) -> dict:
        """Every entry must name a section of the article, so each answer is traceable."""
        known = set(values["sections"])
        named = {
            "disclaimer": values["disclaimer"].section,
            "red_flags": values["red_flags"].section,
            "causes": values["causes"].section,
            "imaging": values["imaging"].section,
            "treatments": values["treatments"].section,
            "recovery": values["recovery"].section,
            "recovery -> overall_range": values["recovery"].overall_range.section,
            "shoes": values["shoes"].section,
        }
        named.update({f"topics -> {key}": entry.section for key, entry in values["topics"].items()})
        named.update({f"quotes -> {quote.speaker}": quote.section for quote in values["quotes"]})
        for where, section in named.items():
            if section not in known:
                raise ValueError(f"{where}: unknown section '{section}' (known: {', '.join(sorted(known))})")
        return values

    @root_validator(skip_on_failure=True)
    def _timelines_name_known_causes(cls, values: dict) -> dict:
        causes = set(values["causes"].items)
        for timeline in values["recovery"].timelines:
            for cause in timeline.causes:
                if cause not in causes:
                    raise ValueError(f"recovery -> timelines: unknown cause '{cause}'")
        return values

    # --- look-ups used by the assistant ---------------------------------------------------

    def section_title(self, section_id: str) -> str:
        return self.sections[section_id]

    def timeline_for(self, cause: str) -> Timeline | None:
        """The article's timeline for a cause, or None where the article gives none."""
        return next((t for t in self.recovery.timelines if cause in t.causes), None)

    def shoe_row_for(self, location: str) -> str | None:
        """The shoe-table row (knee, ankle, foot, hip) covering a canonical location."""
        return next((row_id for row_id, row in self.shoes.by_location.items() if location in row.covers), None)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = " -> ".join(str(part) for part in item["loc"] if part != "__root__") or "(file)"
        lines.append(f"  {field}: {item['msg']}")
    return "\n".join(lines)


def load_knowledge(path: Path | str = DEFAULT_PATH) -> Knowledge:
    """Reads and validates a knowledge file; raises KnowledgeError naming the bad field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeError(f"Cannot read knowledge file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"Knowledge file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise KnowledgeError(f"Knowledge file {path} must hold a mapping at the top level")
    try:
        return Knowledge.parse_obj(raw)
    except ValidationError as exc:
        raise KnowledgeError(f"Knowledge file {path} is invalid:\n{_describe(exc)}") from exc


@cache
def knowledge() -> Knowledge:
    """The validated default knowledge file, loaded once per process."""
    return load_knowledge(DEFAULT_PATH)
