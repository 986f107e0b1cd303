"""Every reply the assistant can produce, in one list: for `make replies` and the reply audit.

The list covers the domain responses Rasa says itself (domain.yml), every answer of the
knowledge file, and every variant an answer has (each place the shoe table is asked about,
each cause's recovery), plus the few lines the actions say themselves. `make replies` writes it
to results/replies.md, grouped by article section, so a clinician can review the whole
assistant in one sitting; tests/test_reply_audit.py checks every bubble of it.

Usage: python -m tools.replies [OUTPUT.md]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.domain import privacy, replies
from bot.domain.knowledge import Knowledge, knowledge
from bot.domain.replies import LONG_BONES, reply, title_of
from bot.domain.topics import Pick
from bot.domain.vocabulary import vocabulary
from bot.settings import DOMAIN, RESULTS

OUTPUT = RESULTS / "replies.md"
CONVERSATION = "conversation"  # the section of replies that state no fact from the article

# Which article section each domain response draws on; the others state no article fact.
RESPONSE_SECTIONS = {"utter_urgent_care": "symptoms"}


@dataclass(frozen=True)
class CatalogueEntry:
    answer: str  # answer id, or the domain response's name
    section: str  # an article section id, or "conversation"
    variant: str  # what this version of the answer is for ("asked about the heel bone")
    bubbles: tuple[str, ...]
    buttons: tuple[str, ...] = ()


def _domain_entries(domain_path: Path) -> list[CatalogueEntry]:
    domain = yaml.safe_load(domain_path.read_text(encoding="utf-8"))
    entries = []
    for name, variants in domain["responses"].items():
        for variant in variants:
            buttons = tuple(b["title"] for b in variant.get("buttons") or [])
            section = RESPONSE_SECTIONS.get(name, CONVERSATION)
            entries.append(CatalogueEntry(name, section, "said by Rasa", (variant["text"],), buttons))
    return entries


def _entry(pick: Pick, variant: str, kb: Knowledge) -> CatalogueEntry:
    said = reply(pick, kb)
    return CatalogueEntry(
        said.answer, said.section, variant, said.bubbles, tuple(title_of(c, kb) for c in said.choices)
    )


def _knowledge_entries(kb: Knowledge) -> list[CatalogueEntry]:
    entries = []
    for answer_id in kb.answer_ids():
        if answer_id.startswith("shoes.") and answer_id != "shoes.other":
            continue  # by place, below
        entries.append(_entry(Pick(answer_id), "asked directly", kb))
    for location in vocabulary()["location"]:
        row = kb.shoe_row_for(location)
        if location in LONG_BONES:
            entries.append(_entry(Pick("shoes", location), f"shoes, asked about the {location} alone", kb))
        if row is not None:
            entries.append(_entry(Pick(f"shoes.{row}", location), f"shoes, asked about the {location}", kb))
        elif location not in LONG_BONES:
            entries.append(_entry(Pick("shoes.other", location), f"shoes, asked about the {location}", kb))
    return entries


def _action_lines() -> list[CatalogueEntry]:
    return [
        CatalogueEntry("clarify", CONVERSATION, "unsure what was meant", (replies.DID_YOU_MEAN,)),
        CatalogueEntry(
            "symptom_check.repeat", CONVERSATION, "an answer that is neither yes nor no", (replies.ANSWER_YES_OR_NO,)
        ),
        CatalogueEntry("out_of_scope", CONVERSATION, "a topic the article lacks", (replies.NOT_IN_ARTICLE,)),
        CatalogueEntry("feedback", CONVERSATION, "a 👍 or 👎 under an answer", (replies.FEEDBACK_THANKS,)),
        CatalogueEntry(privacy.DELETED_ANSWER, CONVERSATION, "deletion confirmed", (replies.CONVERSATION_DELETED,)),
        CatalogueEntry(privacy.KEPT_ANSWER, CONVERSATION, "deletion not confirmed", (replies.CONVERSATION_KEPT,)),
    ]


def all_replies(kb: Knowledge | None = None, domain_path: Path = DOMAIN) -> list[CatalogueEntry]:
    """Every reply, each variant once."""
    kb = kb or knowledge()
    return [*_domain_entries(domain_path), *_knowledge_entries(kb), *_action_lines()]


def to_markdown(entries: list[CatalogueEntry], kb: Knowledge | None = None) -> str:
    kb = kb or knowledge()
    distinct = len({entry.bubbles for entry in entries})
    bubbles = sum(len(entry.bubbles) for entry in entries)
    lines = [
        "# Every reply the assistant can give",
        "",
        f"{len(entries)} replies ({distinct} distinct, {bubbles} bubbles), grouped by the article section they",
        "come from. Written by `make replies` from content/knowledge.yml and domain.yml; the reply audit",
        "in `make test` checks every bubble below.",
    ]
    order = [*kb.sections, CONVERSATION]
    for section in order:
        group = [entry for entry in entries if entry.section == section]
        if not group:
            continue
        heading = kb.sections.get(section, "Conversation (no fact from the article)")
        lines += ["", f"## {heading}", ""]
        for entry in group:
            lines.append(f"### `{entry.answer}` ({entry.variant})")
            lines.append("")
            lines += [f"> {bubble}\n>" for bubble in entry.bubbles]
            if entry.buttons:
                lines.append(f"> Buttons: {' · '.join(entry.buttons)}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else OUTPUT
    entries = all_replies()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(to_markdown(entries), encoding="utf-8")
    print(f"{len(entries)} replies ({len({e.bubbles for e in entries})} distinct) written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
