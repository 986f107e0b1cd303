"""Loads and validates the knowledge file, the assistant's only source of medical facts.

The file (`content/knowledge.yml`) is checked against the models below when it is loaded, so a
typo, a missing field, an answer that names an unknown section, or a bubble too long for a
chat window stops the assistant at start-up with a message naming the field, instead of
surfacing as a broken answer in the middle of a chat. Pure Python: no Rasa import, so the
facts can be unit-tested in milliseconds.

Answers are keyed by their answer id (docs/answers.md). Two families of answers come from
tables rather than prose: `recovery.<cause>` from `recovery_by_cause` and `shoes.<row>` from
`shoe_table`; `answer_ids()` lists them all.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, Extra, ValidationError, constr, root_validator, validator

from bot.settings import KNOWLEDGE

DEFAULT_PATH = KNOWLEDGE

# A chat bubble longer than this needs scrolling on a phone: split it into two bubbles.
MAX_BUBBLE_CHARS = 450

if TYPE_CHECKING:
    Text = str
else:
    Text = constr(strip_whitespace=True, min_length=1)  # a non-empty string, trimmed


class KnowledgeError(Exception):
    """The knowledge file is missing, unreadable or does not match the schema."""


def _fits_a_bubble(bubble: str) -> str:
    if len(bubble) > MAX_BUBBLE_CHARS:
        raise ValueError(f"a bubble of {len(bubble)} characters (at most {MAX_BUBBLE_CHARS}): split it")
    return bubble


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid  # an unknown key is almost always a typo of a known one
        allow_mutation = False


class Answer(_Strict):
    """One answer: its bubbles, and optionally a question back with its choices."""

    section: Text
    title: Text  # how the answer is named on a button
    text: list[Text]  # one string per bubble (a single string in the file is one bubble)
    ask: Text | None = None  # a question back; its choices are `items`
    items: list[Text] = []  # the answers this one lists, in the article's order
    offer: list[Text] = []  # other answers offered as buttons after this one
    notes: Text | None = None  # editorial decisions, never shown

    @validator("text", pre=True)
    def _one_bubble_or_several(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @validator("text", each_item=True)
    def _fits_a_bubble(cls, bubble: str) -> str:
        return _fits_a_bubble(bubble)

    @root_validator(skip_on_failure=True)
    def _asks_about_items(cls, values: dict) -> dict:
        if values.get("ask") and not values.get("items"):
            raise ValueError("an answer that asks back needs the `items` to choose from")
        return values


class CauseRecovery(_Strict):
    """The article's recovery timeline for one cause, or why it gives none."""

    duration: Text | None = None
    text: Text
    basis: Text | None = None  # why an unlabelled timeline is read as this cause's

    @validator("text")
    def _fits_a_bubble(cls, text: str) -> str:
        return _fits_a_bubble(text)


class ShoeRow(_Strict):
    label: Text
    covers: list[Text]
    shoe_type: Text
    features: list[Text]
    examples: list[Text]
    notes: Text | None = None


class Knowledge(_Strict):
    title: Text
    sections: dict[str, Text]
    notes: list[Text]
    answers: dict[str, Answer]
    recovery_by_cause: dict[str, CauseRecovery]
    shoe_table: dict[str, ShoeRow]

    @validator("shoe_table")
    def _each_location_in_one_row(cls, rows: dict[str, ShoeRow]) -> dict[str, ShoeRow]:
        seen: dict[str, str] = {}
        for row_id, row in rows.items():
            for location in row.covers:
                if location in seen:
                    raise ValueError(f"'{location}' is covered by both '{seen[location]}' and '{row_id}'")
                seen[location] = row_id
        return rows

    @root_validator(skip_on_failure=True)
    def _references_resolve(cls, values: dict) -> dict:
        """Every section and every listed or offered answer exists, so each reply is traceable
        to the article and every button leads somewhere."""
        known_sections = set(values["sections"])
        ids = set(values["answers"])
        ids |= {f"recovery.{cause}" for cause in values["recovery_by_cause"]}
        ids |= {f"shoes.{row}" for row in values["shoe_table"]}
        for answer_id, answer in values["answers"].items():
            if answer.section not in known_sections:
                raise ValueError(f"answers -> {answer_id}: unknown section '{answer.section}'")
            for listed in [*answer.items, *answer.offer]:
                if listed not in ids:
                    raise ValueError(f"answers -> {answer_id}: lists unknown answer '{listed}'")
        for cause in values["recovery_by_cause"]:
            if f"causes.{cause}" not in values["answers"]:
                raise ValueError(f"recovery_by_cause -> {cause}: not a cause (no answer causes.{cause})")
        return values

    # --- look-ups used by the assistant ---------------------------------------------------

    def answer_ids(self) -> list[str]:
        """Every answer id the knowledge file can answer, prose and table answers alike."""
        return [
            *self.answers,
            *(f"recovery.{cause}" for cause in self.recovery_by_cause),
            *(f"shoes.{row}" for row in self.shoe_table),
        ]

    def shoe_row_for(self, location: str) -> str | None:
        """The shoe-table row (knee, ankle, foot, hip) covering a canonical location."""
        return next((row_id for row_id, row in self.shoe_table.items() if location in row.covers), None)


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
