"""Turns knowledge-file entries into chat replies.

Each function answers one kind of question and returns a `Reply`: short text for a chat
bubble, optional quick-reply choices and the article section it comes from. Nothing here knows
about Rasa; the actions translate a `Choice` into a button. Unknown or missing values get a
helpful reply (usually a question with choices), never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.knowledge import Knowledge, knowledge
from bot.vocabulary import display_name

CLINICIAN = "Your doctor or physio can tell you what applies to you."

# Copy only the actions say. It lives here rather than in domain.yml because Rasa's
# validator counts a domain response that no rule or story uses as a warning.
WELCOME = (
    "Hi, I'm the bone marrow edema (BME) assistant. I can explain what BME is, its causes, "
    "symptoms and warning signs, scans, treatment, recovery times and shoes."
)
NOT_IN_ARTICLE = "The article I answer from doesn't cover that, so I can't say. Please ask a doctor or physio."
ANSWER_YES_OR_NO = 'Sorry, I need a yes or a no (or "not sure") for this one.'
DID_YOU_MEAN = "Sorry, I'm not sure I understood. Did you mean one of these?"
ASK_WHAT_ABOUT = (
    "Could you say a bit more? You can name a place (knee, hip, ankle, foot), a cause, a scan or a treatment."
)


@dataclass(frozen=True)
class Choice:
    """A quick reply: its title, and the entity value it stands for."""

    title: str
    entity: str
    value: str


@dataclass(frozen=True)
class Reply:
    text: str
    section: str | None = None
    choices: list[Choice] = field(default_factory=list)
    answer: str | None = None  # the answer id (docs/answers.md)


def _kb(kb: Knowledge | None) -> Knowledge:
    return kb if kb is not None else knowledge()


_TOPIC_ANSWERS = {
    "ask_definition": "definition",
    "ask_nature": "nature",
    "ask_locations": "locations",
    "ask_symptoms": "symptoms",
    "ask_return_to_activity": "return_to_activity",
    "ask_prevention": "prevention",
}


def _topic_answer(topic_id: str) -> str:
    if topic_id in _TOPIC_ANSWERS:
        return _TOPIC_ANSWERS[topic_id]
    return topic_id.replace("faq_", "faq.", 1).replace("myth_", "myths.", 1)


def topic(topic_id: str, kb: Knowledge | None = None) -> Reply | None:
    """A fixed answer for a topic intent, or None if the knowledge file has none for it."""
    entry = _kb(kb).topics.get(topic_id)
    return Reply(entry.text, entry.section, answer=_topic_answer(topic_id)) if entry else None


def disclaimer(kb: Knowledge | None = None) -> Reply:
    entry = _kb(kb).disclaimer
    return Reply(entry.text, entry.section, answer="disclaimer")


def red_flag_signs(kb: Knowledge | None = None) -> Reply:
    """The warning signs and what to do about them (a general question, not an emergency)."""
    flags = _kb(kb).red_flags
    signs = "; ".join(flags.signs.values())
    causes = ", ".join(flags.possible_causes)
    text = f"Warning signs: {signs}. They can mean {causes}. {flags.advice}"
    return Reply(text, flags.section, answer="red_flags")


def cause(cause_id: str | None, kb: Knowledge | None = None) -> Reply:
    """One cause in detail, or the list of the six causes to choose from."""
    causes = _kb(kb).causes
    item = causes.items.get(cause_id) if cause_id else None
    if item is None:
        names = [c.name for c in causes.items.values()]
        text = (
            f"{causes.summary} The six common triggers: {', '.join(names)}. "
            f"{causes.most_common_note} Which one would you like to know about?"
        )
        choices = [Choice(c.name, "cause", cid) for cid, c in causes.items.items()]
        return Reply(text, causes.section, choices, answer="causes")
    parts = [f"{item.name}, {item.tagline}: {item.mechanism}", item.who, item.where, item.management]
    return Reply(" ".join(p for p in parts if p), causes.section, answer=f"causes.{cause_id}")


def imaging(modality: str | None, kb: Knowledge | None = None) -> Reply:
    """What one scan shows and its role for BME, or how BME is diagnosed in general."""
    imaging_kb = _kb(kb).imaging
    item = imaging_kb.modalities.get(modality) if modality else None
    if item is None:
        text = f"{imaging_kb.summary} Which scan would you like to know about?"
        choices = [Choice(m.name, "modality", mid) for mid, m in imaging_kb.modalities.items()]
        return Reply(text, imaging_kb.section, choices, answer="diagnosis")
    return Reply(
        f"{item.name} shows {item.shows}. For BME: {item.role}", imaging_kb.section, answer=f"imaging.{modality}"
    )


def mri_patterns(kb: Knowledge | None = None) -> Reply:
    imaging_kb = _kb(kb).imaging
    patterns = "; ".join(f"{p.pattern} suggests {p.suggests}" for p in imaging_kb.mri_patterns.items)
    text = f"{imaging_kb.mri_patterns.summary} A {patterns}. Your radiologist reads your own scan."
    return Reply(text, imaging_kb.section, answer="mri_patterns")


def treatment(option: str | None, advanced: bool = False, kb: Knowledge | None = None) -> Reply:
    """One treatment in detail, or the first-line (or advanced) options."""
    treatments = _kb(kb).treatments
    item = treatments.options.get(option) if option else None
    if item is not None:
        note = f" {item.article_note}" if item.article_note else ""
        answer = "treatment.biologics" if option == "biologic_injections" else f"treatment.{option}"
        return Reply(f"{item.name}: {item.detail}{note}", treatments.section, answer=answer)
    line = "advanced" if advanced else "conservative"
    chosen = {oid: o for oid, o in treatments.options.items() if o.line == line}
    listing = "; ".join(f"{o.name.lower()}" for o in chosen.values())
    if advanced:
        text = f"When first-line care is not enough, the options the article lists are: {listing}."
    else:
        text = f"{treatments.principles} First-line care: {listing}."
    text += " Which one would you like to know more about?"
    choices = [Choice(o.name, "treatment", oid) for oid, o in chosen.items()]
    return Reply(text, treatments.section, choices, answer="treatment.advanced" if advanced else "treatment")


def recovery_time(cause_id: str | None, kb: Knowledge | None = None) -> Reply:
    """The article's recovery timeline for a cause, saying so where it gives none."""
    kb = _kb(kb)
    recovery = kb.recovery
    cause_item = kb.causes.items.get(cause_id) if cause_id else None
    if cause_item is None:
        text = f"{recovery.summary} {recovery.overall_range.text} What is causing your BME?"
        choices = [Choice(c.name, "cause", cid) for cid, c in kb.causes.items.items()]
        return Reply(text, recovery.section, choices, answer="recovery")
    timeline = kb.timeline_for(cause_id)
    if timeline is None:
        text = (
            f"The article gives no specific timeline for BME from {cause_item.name.lower()}. "
            f"In general, {recovery.overall_range.text[0].lower()}{recovery.overall_range.text[1:]} "
            f"{CLINICIAN}"
        )
        return Reply(text, recovery.section, answer=f"recovery.{cause_id}")
    note = f" (Note: {timeline.article_note})" if timeline.article_note else ""
    text = f"{cause_item.name}: about {timeline.duration}; {timeline.detail}{note}"
    return Reply(text, recovery.section, answer=f"recovery.{cause_id}")


def _location_choices(kb: Knowledge, row_ids: list[str] | None = None) -> list[Choice]:
    rows = kb.shoes.by_location
    return [Choice(rows[r].label.split(" (")[0], "location", r) for r in (row_ids or list(rows))]


# Locations the shoe table could mean two ways: the choices to offer for each.
_AMBIGUOUS_LOCATIONS = {"femur": ["hip", "knee"]}


def shoes(location: str | None, kb: Knowledge | None = None) -> Reply:
    """The shoe-table row for a location, or a question asking where the BME is."""
    kb = _kb(kb)
    table = kb.shoes
    if location is None:
        text = f"{table.summary} Where is your BME?"
        return Reply(text, table.section, _location_choices(kb), answer="shoes")
    if location in _AMBIGUOUS_LOCATIONS:
        name = display_name("location", location)
        text = f"The {name} reaches from the hip to the knee. Which end is your BME at?"
        return Reply(text, table.section, _location_choices(kb, _AMBIGUOUS_LOCATIONS[location]), answer="shoes")
    row_id = kb.shoe_row_for(location)
    if row_id is None:
        name = display_name("location", location)
        text = (
            f"The article's shoe advice covers the knee, ankle, foot and hip only, not the {name}. "
            f"{CLINICIAN} Is your BME in one of these?"
        )
        return Reply(text, table.section, _location_choices(kb), answer="shoes.other")
    row = table.by_location[row_id]
    name = display_name("location", location)
    text = (
        f"For BME in the {name}, the article's shoe table ({row.label}) suggests {row.shoe_type}. "
        f"Look for {', '.join(row.features)}. Examples it names: {', '.join(row.examples)}."
    )
    if location == "tibia":
        text += " If it's the lower end of the shin, near the ankle, ask me about the ankle."
    if row.article_note and location not in row.label.lower():
        text += f" ({row.article_note})"
    return Reply(text, table.section, answer=f"shoes.{row_id}")


def expert_views(kb: Knowledge | None = None) -> Reply:
    quotes = _kb(kb).quotes
    text = " ".join(f"{q.speaker} ({q.role}): {q.view}" for q in quotes)
    return Reply(text, quotes[0].section, answer="experts")


def symptom_check_clear(kb: Knowledge | None = None) -> Reply:
    """After a symptom check with no warning sign: typical symptoms and how BME is diagnosed."""
    kb = _kb(kb)
    symptoms = kb.topics["ask_symptoms"]
    text = (
        f"Good: none of the urgent warning signs. {symptoms.text} {kb.imaging.summary} "
        f"If you're worried or it isn't improving, see your doctor or physio."
    )
    return Reply(text, symptoms.section, answer="symptom_check.clear")
