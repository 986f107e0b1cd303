"""What a message asks for, as answer ids: the assistant's decisions, in plain Python.

Rasa's NLU gives each message (and each question of a message that asks several) an intent,
a ranking and entities. This module turns that into the answers to give:

- an intent with one fixed answer gets it (`faq_walking` -> `faq.walking`);
- a topic intent gets the item its entities name ("recovery time for AVN?" ->
  `recovery.avascular_necrosis`), or the topic's overview, which asks back;
- a bare value ("and the hip?") continues the previous topic, or the value's own topic;
- when the classifier was unsure, the answers of its likeliest intents are ranked: a clear
  winner is answered, otherwise the best three are offered (`clarify`);
- a typed answer to the assistant's own question is read by `read_choice`: an entity, an
  ordinal ("the second one"), or words of an item's title.

No Rasa import: actions/ and the NLU components call it, tests call it directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import Any

from bot.domain.knowledge import Knowledge, knowledge
from bot.domain.message_parts import is_a_question, sentence_spans, starts_like_a_question
from bot.domain.replies import LONG_BONES, title_of
from bot.domain.topics import BY_INTENT, BY_NAME, DEFAULT_TOPIC, FIXED, Pick, Topic, item_for, topic_of
from bot.names import FALLBACK_INTENT, PARTS_KEY, RED_FLAG_INTENT, RED_FLAGS_KEY, WHOLE_KEY

CLARIFY = "clarify"
OUT_OF_SCOPE = "out_of_scope"
# Conversation intents a several-question message may contain: answered by domain responses
# (or not at all: a "thanks" in the middle of a question needs no reply of its own).
CONVERSATION = {"bot_challenge": "bot_challenge", "help": "help", "out_of_scope": OUT_OF_SCOPE}
SILENT = {"greet", "thank", "goodbye", "affirm", "deny"}
# When the classifier is unsure but its best guesses are small talk ("ok thanks bye").
SMALL_TALK = {
    "greet": "greet",
    "thank": "thank",
    "goodbye": "goodbye",
    "bot_challenge": "bot_challenge",
    "help": "help",
    "affirm": "anything_else",
    "deny": "anything_else",
}

# A question about a dose or an amount to take, which the article never gives ("high-dose
# steroids" names a medication and asks no dose).
_DOSE = re.compile(
    r"(?<![-\w])(?<!high )(?<!low )(dose|doses|dosage|dosing|mg|milligrams?"
    r"|how (much|many)\b(?!\s+(time|months?|weeks?|days?|years?|longer)\b)"  # "how many weeks will it take" is no dose
    r".{0,30}\b(take|tablets?|pills?|a day|daily))\b",
    re.IGNORECASE,
)

# Things "what is X?" asks about, rather than about BME itself.
_DEFINABLE = {"cause", "modality", "treatment", "shoe", "mri_pattern"}
# "Beyond rest and physio, what else?": the items named are the ones the user already knows.
# "Does every case of BME need treating?": Dr Kim's point in the article is that not all does.
_EVERY_CASE_TREATED = re.compile(
    r"^(?=.*\b(?:every|everyone|everybody|all|always|each)\b)(?=.*\bneed)(?=.*\btreat)", re.IGNORECASE | re.DOTALL
)
_ANSWERED_BY_KIM = {
    "ask_treatment",
    "faq_heal_on_own",
    "ask_expert_views",
    "ask_nature",
    "faq_is_serious",
    FALLBACK_INTENT,
}
# "does BME show up on an X-ray?", "can an x-ray see it?": whether an X-ray shows BME, the
# myth; "what does an X-ray show?" or "why an X-ray first?" ask what X-rays are for.
_ASKS_IF_AN_XRAY_SHOWS_IT = re.compile(
    r"\b(?:bme|it|edema|oedema|marrow|this|swelling)\b\s+(?:\w+\s+){0,3}?(?:show|shows|seen|see|visible|detected|picked|appear)"
    r"|\b(?:see|detect|pick up|spot|miss|catch)\s+(?:\w+\s+){0,2}?(?:bme|it|edema|oedema)\b"
    r"|\bshows?\s+(?:up\s+)?(?:the\s+)?(?:bme|it|edema|oedema|bone marrow|marrow)\b"
    r"|x-?\s?rays?\b[^?]*\b(?:normal|clear|nothing)\b",
    re.IGNORECASE,
)

_EXCLUDING = re.compile(
    r"\b(beyond|besides|other than|apart from|aside from|except|instead of|rather than|not working|"
    r"isn'?t working|aren'?t working|doesn'?t work|don'?t work|didn'?t work|did not work|does not work|"
    r"not helping|doesn'?t help|didn'?t help|failed|fails|not enough|(?:is|are)n'?t getting better|not getting better|"
    r"(?:is|are)n'?t improving|not improving|(?:has|have)n'?t (?:helped|improved|worked)|what else|"
    r"(?:does|do|did|wo)n'?t get better|(?:does|do|did|will) not get better|still there|still showing)\b",
    re.IGNORECASE,
)
# First-line care named as a whole: "the basic treatment doesn't help" leaves the advanced options.
_FIRST_LINE = re.compile(
    r"\b(basic|first[- ]line|usual|standard|conservative|normal|simple|initial)\s+"
    r"(treatments?|care|measures|options|stuff|things)\b",
    re.IGNORECASE,
)

# When the classifier is unsure: answer its best guess only if it is this sure and this far
# ahead of the next distinct answer; otherwise offer the best three.
CLEAR_CONFIDENCE = 0.3
# The classifier's out of scope wins only when it is this sure ("gout in my toe?"), and never
# over a named treatment or shoe: "can I take ibuprofen?" is about the NSAIDs item
# (a dose question is out of scope before that: the article gives no doses).
SURELY_OUT_OF_SCOPE = 0.6
# Entities that name an item a question can be about on its own: a drug, a brace, a shoe model.
ITEM_KINDS = frozenset({"treatment", "shoe"})
# A physio is also a person one looks for ("can you recommend a good physio in Leeds?").
_NOT_OVER_OUT_OF_SCOPE = {("treatment", "physical_therapy")}
CLEAR_MARGIN = 0.15
OFFERED = 3


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Part:
    """One question of a message: its text, intent, ranking and entities."""

    text: str
    intent: str | None
    confidence: float = 1.0
    entities: tuple[Entity, ...] = ()
    ranking: tuple[tuple[str, float], ...] = ()
    start: int = 0  # where the part starts in the message (entities' offsets are the message's)
    names_a_sign: bool = False  # the message mentions a warning sign (the red-flag detector's view)
    # it asks about a sign, neither reporting nor denying one: "should I worry if it feels warm?"
    asks_about_a_sign: bool = False


@dataclass(frozen=True)
class Decision:
    """What to answer for one part: picks in order, or a choice of likely answers."""

    picks: tuple[Pick, ...] = ()
    clarify: tuple[str, ...] = ()  # answer ids offered with "did you mean" when unsure
    responses: tuple[str, ...] = field(default=())  # conversation answers (domain responses)


def parts_of(message: dict[str, Any], *, join_lead_in: bool = True) -> list[Part]:
    """The questions of a parsed message (Rasa's parse data, as the tracker keeps it).

    A short lead-in that names something, then a question about it ("RA bone oedema, how long
    to settle?", "scintigraphy - worth it?") is one question: the undivided message, as the
    classifier read it whole. Not when the lead-in may be a typed answer to the assistant's own
    question (`join_lead_in=False`: "hip - and can I still swim?")."""
    raw_parts = message.get(PARTS_KEY) or [message]
    if join_lead_in and len(raw_parts) == 2 and message.get(WHOLE_KEY) and _is_lead_in(message, raw_parts):
        raw_parts = [{**message[WHOLE_KEY], "text": message.get("text") or ""}]
    entities = [
        Entity(e["entity"], str(e["value"]), int(e.get("start", 0)), int(e.get("end", 0)))
        for e in message.get("entities") or []
        if e.get("entity") and e.get("value") is not None
    ]
    signs = message.get(RED_FLAGS_KEY) or {}
    names_a_sign = bool(signs.get("mentioned"))
    said = {*signs.get("categories", []), *signs.get("negated", []), *signs.get("past", [])}
    asks_about_a_sign = bool(set(signs.get("mentioned", [])) - said)
    parts = []
    for raw in raw_parts:
        intent = raw.get("intent") or {}
        start, end = raw.get("start", 0), raw.get("end", len(message.get("text") or ""))
        ranking = tuple((r["name"], float(r.get("confidence") or 0)) for r in raw.get("intent_ranking") or [])
        name, confidence = intent.get("name"), float(intent.get("confidence") or 0)
        if name == RED_FLAG_INTENT:
            # The message did not go to urgent care (the action runs only then), so a part the
            # classifier took for a red flag is answered as its next likeliest question.
            name, confidence = next(
                ((n, c) for n, c in ranking if n not in (RED_FLAG_INTENT, FALLBACK_INTENT)), (FALLBACK_INTENT, 0.0)
            )
        parts.append(
            Part(
                text=raw.get("text") or "",
                intent=name,
                confidence=confidence,
                entities=tuple(e for e in entities if start <= e.start and e.end <= end),
                ranking=ranking,
                start=start,
                names_a_sign=names_a_sign,
                asks_about_a_sign=asks_about_a_sign,
            )
        )
    return parts


_ANAPHOR = re.compile(r"\b(it|its|that|this|they|them|those|these)\b", re.IGNORECASE)
_WORTH_IT = re.compile(r"\bworth (?:it|doing|trying)\b", re.IGNORECASE)
_LEAD_IN_WORDS = 6
_BARE_LEAD_IN_WORDS = 2
_ELLIPTICAL_WORDS = 5


def _is_lead_in(message: dict[str, Any], raw_parts: list[dict[str, Any]]) -> bool:
    """A first part that names something without asking, then a question that refers back to it
    or leaves it out ("how long to settle?")."""
    first, second = raw_parts
    lead, question = first.get("text") or "", second.get("text") or ""
    if lead.rstrip().endswith("?") or starts_like_a_question(lead) or len(lead.split()) > _LEAD_IN_WORDS:
        return False

    def names(part: dict[str, Any]) -> bool:
        start, end = part.get("start", 0), part.get("end", 0)
        return any(start <= e.get("start", -1) and e.get("end", -1) <= end for e in message.get("entities") or [])

    refers_back = bool(_ANAPHOR.search(question)) or len(question.split()) <= _ELLIPTICAL_WORDS
    if names(first) and names(second):  # "Hoka Kaha 2 - would that work for my ankle": "that" is the shoe
        return bool(_ANAPHOR.search(_WORTH_IT.sub("", question)))  # "…and are orthotics worth it?" refers to no one
    # "scintigraphy - worth it?" names a thing; "treating bme - what actually works?" is as short
    return (names(first) or len(lead.split()) <= _BARE_LEAD_IN_WORDS) and not names(second) and refers_back


def _picks_for(topic: Topic, entities: Iterable[Entity], kb: Knowledge) -> list[Pick]:
    picks: list[Pick] = []
    for entity in entities:
        pick = item_for(topic, entity.entity, entity.value, kb)
        if pick and pick.answer not in [p.answer for p in picks]:
            picks.append(pick)
    return picks


def _by_entities(entities: Sequence[Entity], kb: Knowledge, prefer: Topic | None = None) -> list[Pick]:
    """Items named by a message's values: of the preferred topic if it takes them, else of the
    most telling value's own topic."""
    if prefer is not None:
        picks = _picks_for(prefer, entities, kb)
        if picks:
            return picks
    for kind, topic_name in DEFAULT_TOPIC.items():
        topic = BY_NAME[topic_name]
        picks = _picks_for(topic, [e for e in entities if e.entity == kind], kb)
        if picks:
            return picks
    return []


# Causes whose own item says how BME with them is treated (content/knowledge.yml).
_TREATED_WITH_THE_CAUSE = {"osteoarthritis", "inflammatory_arthritis"}


def _answer_for_intent(
    intent: str, entities: Sequence[Entity], kb: Knowledge, location: str | None = None
) -> list[Pick]:
    if intent == "ask_definition":
        # "what is AVN?", "what is core decompression?": the item, not the definition of BME
        # (`entities` are only what the question itself names: `_named_in_the_question`).
        things = [e for e in entities if e.entity in _DEFINABLE]
        picks = _by_entities(things, kb)
        if picks:
            return picks
    if intent in FIXED:
        return [Pick(FIXED[intent])]
    topic = BY_INTENT.get(intent)
    if topic is None:
        return []
    if "treatment" not in topic.entities and not _picks_for(topic, entities, kb):
        # "should I wear a brace?", "how long should I ice for?": a named treatment is what
        # the question is about, whatever list it was asked from.
        named = _picks_for(BY_NAME["treatment"], [e for e in entities if e.entity == "treatment"], kb)
        if named:
            return named
    treated_with = [e for e in entities if e.entity == "cause" and e.value in _TREATED_WITH_THE_CAUSE]
    names_a_treatment = any(e.entity == "treatment" for e in entities)
    if topic.name in ("treatment", "advanced_treatment") and treated_with and not names_a_treatment:
        # "How is BME managed with knee OA?": that cause's item says how (treating the OA itself)
        return _picks_for(BY_NAME["causes"], treated_with[:1], kb)
    if topic.name == "shoes" and location and not any(e.entity in topic.entities for e in entities):
        entities = [*entities, Entity("location", location)]  # "which shoes then?" after "BME in my foot"
    long_bone = next((e.value for e in entities if e.entity == "location" and e.value in LONG_BONES), None)
    if topic.name == "shoes" and long_bone and len(entities) == 1:
        return [Pick("shoes", long_bone)]
    picks = _picks_for(topic, entities, kb)
    if topic.name == "advanced_treatment":
        # "I've rested for 3 months, what are the next-level treatments?": first-line care
        # named in a question about the advanced options is what has been tried
        picks = [p for p in picks if p.answer in kb.answers[topic.overview].items]
    return picks or [Pick(topic.overview)]


def _excluding(part: Part) -> Part:
    """A question that names items to set them aside ("what if rest and physio aren't working?")
    is about the rest of the list: first-line care set aside leaves the advanced options."""
    if not _EXCLUDING.search(part.text):
        return part
    if _FIRST_LINE.search(part.text):  # however unsure the classifier was
        return replace(part, intent="ask_advanced_treatment", confidence=max(part.confidence, CLEAR_CONFIDENCE))
    topic = BY_INTENT.get(part.intent or "")
    if topic is None:
        return part
    aside = [e for e in part.entities if e.entity in topic.entities and _set_aside(part, e)]
    if not aside:
        return part  # "deep inside the bone rather than on the surface?" sets none of the list aside
    intent = "ask_advanced_treatment" if topic.name == "treatment" else part.intent
    kept = tuple(e for e in part.entities if e not in aside)
    return replace(part, intent=intent, entities=kept)


# Cues that name what they set aside after them ("instead of physio"); the others say it of
# what came before ("rest and physio aren't working").
_ASIDE_AFTER = {"beyond", "besides", "other than", "apart from", "aside from", "except", "instead of", "rather than"}


def _set_aside(part: Part, entity: Entity) -> bool:
    start = entity.start - part.start
    for cue in _EXCLUDING.finditer(part.text):
        if cue.group(1).lower() in _ASIDE_AFTER:
            if cue.end() <= start:
                return True
        elif start < cue.start():
            return True
    return False


_CLAUSE_START = re.compile(r"[,;:]\s*|\.{2,}\s*|…\s*")


def _named_in_the_question(part: Part) -> tuple[Entity, ...]:
    """ "MRI says marrow oedema in my talus, what does that mean?": the MRI is where the user
    read it, not what they ask about; only the clause that asks names the thing to define."""
    start, end = 0, len(part.text)
    for sentence_start, sentence_end in sentence_spans(part.text):
        sentence = part.text[sentence_start:sentence_end]
        cuts = [0] + [m.end() for m in _CLAUSE_START.finditer(sentence)]
        for cut in cuts:
            if starts_like_a_question(sentence[cut:]):
                start, end = sentence_start + cut, sentence_end
    return tuple(e for e in part.entities if part.start + start <= e.start and e.end <= part.start + end)


_ASKS_IF_URGENT = re.compile(
    r"\b(?:emergency|urgent|a&e|a and e|er|e\.r\.|hospital|worr\w*|concern\w*|serious|dangerous|red flag|"
    r"warning sign|mean|means)\b",
    re.IGNORECASE,
)
_ASKS_WHAT_FOR = re.compile(r"\b(?:point|purpose)\b|\bwhy (?:do|did|would|bother)\b", re.IGNORECASE)
# "Can BME become a proper fracture if I keep running?": the stress fracture it can lead to, not
# the myth that BME always is one.
_BECOMES = re.compile(
    r"\b(?:become|becomes|turn into|turns into|progress|progresses|lead to|leads to|develop into)\b", re.IGNORECASE
)
_ONLY_WHAT_IS_THAT = re.compile(r"^\W*(?:so\s+|and\s+)?what(?:'s|s| is)\s+(?:that|this|it)\W*$", re.IGNORECASE)
# "What are the usual causes of this?" asks for the list, whatever cause a story before named.
_THE_CAUSES = re.compile(r"\b(?:the|usual|common|main|possible|other|all)\s+causes\b", re.IGNORECASE)
_WHAT_IF = re.compile(r"\bif\b", re.IGNORECASE)
_WHY = re.compile(r"^\W*(?:but\s+|so\s+|and\s+)?(?:why|how come)\b", re.IGNORECASE)
_WHY_INTENTS = {"ask_cause", "ask_nature", "ask_definition", FALLBACK_INTENT}
_CARRIES_ON = re.compile(
    r"\b(?:ignore it|ignored it|keep (?:running|training|going|playing|loading)|carry on|carried on|"
    r"push through|pushing through|run through|running through|train through)\b",
    re.IGNORECASE,
)
# What says first-line care has been tried, so the advanced options are asked for.
_TRIED = re.compile(
    r"\b(?:tried|trying|after|already|done|doing|did|been|beyond|besides|other than|instead|next|"
    r"not (?:working|helping|enough)|isn't|aren't|didn't|doesn't|does not|don't|won't|none|work|works|worked|"
    r"better|worse|failed|months?|weeks?)\b",
    re.IGNORECASE,
)

_LOOKS_ON_A_SCAN = re.compile(r"\b(?:show|shows|showing|look|looks|appear|appears|pattern|seen)\b", re.IGNORECASE)


def _asks_how_it_looks(part: Part) -> bool:
    """ "how does a stress fracture show up on the mri": the question itself asks how something
    looks on a scan ("the MRI shows oedema… how are they connected?" does not)."""
    asked = [part.text[a:b] for a, b in sentence_spans(part.text) if is_a_question(part.text[a:b])]
    return any(_LOOKS_ON_A_SCAN.search(sentence) for sentence in asked[-1:])


def _only_first_line(part: Part, kb: Knowledge) -> bool:
    """The question names treatments, none of them advanced."""
    named = [f"treatment.{e.value}" for e in part.entities if e.entity == "treatment"]
    return bool(named) and not set(named) & set(kb.answers[BY_NAME["advanced_treatment"].overview].items)


# "Is steroid use a risk for AVN?": the cause after "risk for" is the one asked about; the one
# before it is among its risk factors.
_RISK_FOR = re.compile(r"\brisks?(?:\s+factors?)?\s+(?:for|of)\b", re.IGNORECASE)
# "I'm limping, is that part of this?": whether a symptom belongs to BME, the symptom's item
_PART_OF_IT = re.compile(
    r"\b(?:part of (?:this|it|bme|that)|(?:a|one of the) symptoms?\b|symptoms? of (?:this|it|bme)|"
    r"normal (?:with|for) (?:this|it|bme)|to be expected|expected with)",
    re.IGNORECASE,
)
UNLISTED = "unlisted"  # the vocabulary's kind for what the article never mentions


def _names_a_walking_aid(part: Part) -> bool:
    """Crutches, a cane or a walking stick, not the verb in "should I stick to walking?"."""
    return any(
        (e.entity, e.value) == ("treatment", "crutches")
        and part.text[e.start - part.start : e.end - part.start].lower() != "stick"
        for e in part.entities
    )


def _names_only_the_unlisted(part: Part) -> bool:
    """The question names something the article never mentions ("is BME hereditary?", "does
    acupuncture help?") and nothing of the article's beside it but a place ("is physio better
    than massage?" is still about physiotherapy, "sickle cell is genetic, does it raise the
    risk?" about AVN)."""
    kinds = {e.entity for e in part.entities}
    return UNLISTED in kinds and kinds <= {UNLISTED, "location"} and (part.intent or "") not in CONVERSATION


# "…? what about long-term bisphosphonates?": the question before, asked again for a new value
_WHAT_ABOUT = re.compile(r"^\W*(?:and\s+)?(?:what|how)\s+about\b", re.IGNORECASE)


def _continued(part: Part, decisions: Sequence[Decision], kb: Knowledge) -> Decision | None:
    """A "what about …?" after a question of the same message continues that question's list
    ("does alcohol cause BME? what about long term bisphosphonates?" asks whether they cause
    it), when what it names is an item of that list."""
    before = next((d.picks[-1].answer for d in reversed(decisions) if d.picks), None)
    topic = topic_of(before, kb) if before and _WHAT_ABOUT.match(part.text) else None
    if topic is None:
        return None
    picks = [pick for e in part.entities if (pick := item_for(topic, e.entity, e.value, kb)) is not None]
    return Decision((picks[0],)) if picks else None


def decide(
    part: Part, previous_topic: str | None, kb: Knowledge | None = None, location: str | None = None
) -> Decision:
    """The answers for one question, given the topic the previous answer was about and the
    place of the user's BME if the conversation said it (`location`)."""
    kb = kb or knowledge()
    if _DOSE.search(part.text):
        return Decision(responses=(OUT_OF_SCOPE,))  # never a dose: the article gives none
    if _names_only_the_unlisted(part):
        return Decision(responses=(OUT_OF_SCOPE,))  # "does acupuncture help?": the article is silent
    part = _excluding(part)
    intent = part.intent or FALLBACK_INTENT
    previous = BY_NAME.get(previous_topic or "")
    follows_up = previous is not None and all(e.entity in previous.entities for e in part.entities)
    if (
        intent == "ask_red_flags"
        and not part.names_a_sign
        and part.entities
        and (_WHAT_IF.search(part.text) or follows_up)
    ):
        # "what if it's a stress fracture?", "what if it were my shoulder?": a what-if about an
        # item, not about a warning sign; "what would you suggest for the hip then?" after the
        # shoe table asks for its hip row.
        intent = "inform"
    if part.asks_about_a_sign and (intent == "faq_is_serious" or _ASKS_IF_URGENT.search(part.text)):
        # "should I be worried if the area feels warm?", "if my foot went red and swollen would
        # that be an emergency?": the warning signs
        intent = "ask_red_flags"
    if intent in _ANSWERED_BY_KIM and _EVERY_CASE_TREATED.search(part.text):
        return Decision((Pick("experts.kim"),))
    elliptical = len(part.text.split()) <= 3  # "can an x-ray?", "and xrays?"
    purpose = _ASKS_WHAT_FOR.search(part.text)  # "what's the point of an x-ray if it doesn't show it?"
    if intent == "myth_xray" and (purpose or not (elliptical or _ASKS_IF_AN_XRAY_SHOWS_IT.search(part.text))):
        return Decision((Pick("imaging.xray"),))  # "what does an x-ray show?"
    if intent == "faq_walking" and _names_a_walking_aid(part):
        return Decision((Pick("treatment.crutches"),))  # "can I use a walking stick?": the walking aid
    if intent == "myth_always_fracture" and _BECOMES.search(part.text):
        return Decision((Pick("causes.stress_fracture"),))  # "could it become a stress fracture?"
    if intent == "ask_cause" and _THE_CAUSES.search(part.text):
        part = replace(part, entities=tuple(e for e in part.entities if e.entity != "cause"))  # the list
    kinds = {e.entity for e in part.entities}
    causes = [e for e in part.entities if e.entity == "cause"]
    risk_for = _RISK_FOR.search(part.text)
    if intent == "ask_cause" and len({e.value for e in causes}) > 1 and risk_for:
        after = part.start + risk_for.end()
        part = replace(part, entities=tuple(e for e in part.entities if e.entity != "cause" or e.start >= after))
    if "symptom" in kinds and _PART_OF_IT.search(part.text) and intent not in ("ask_red_flags", "symptom_check"):
        intent = "ask_symptoms"  # "I'm walking with a bit of a limp, is that part of this?"
    on_a_scan = "modality" in kinds and kinds & {"cause", "mri_pattern"} and _asks_how_it_looks(part)
    if intent in ("ask_cause", FALLBACK_INTENT) and on_a_scan:
        intent = "ask_mri_patterns"  # "how does inflammatory arthritis show on MRI?": its pattern
    if intent in _WHY_INTENTS and "symptom" in kinds and "cause" not in kinds and _WHY.match(part.text):
        intent = "ask_symptoms"  # "why would BME cause an antalgic gait?": the limp, as a symptom
    if intent == "ask_advanced_treatment" and _only_first_line(part, kb) and not _TRIED.search(part.text):
        intent = "ask_treatment"  # "is physio worth it for bme": physio, not the advanced options
    if intent == "ask_red_flags" and not part.names_a_sign and _CARRIES_ON.search(part.text):
        # "what happens if I ignore it and keep running?": the loading that turns BME into a
        # stress fracture, not the warning signs
        return Decision((Pick("causes.stress_fracture"),))
    if intent == "ask_locations" and "cause" in kinds:
        # "is it common in dancers?": who gets it, the cause; "is the femoral head the usual place
        # for AVN?": the cause's item names its usual places
        intent = "ask_cause"
    entities = _named_in_the_question(part) if intent == "ask_definition" else part.entities
    answers = _answer_for_intent(intent, entities, kb, location)
    if answers:
        return Decision(tuple(answers))
    if intent == "inform":
        picks = _by_entities(part.entities, kb, prefer=BY_NAME.get(previous_topic or ""))
        picks = picks or _by_previous_titles(part, previous_topic, kb)
        return Decision(tuple(picks)) if picks else _unsure(part, kb)
    names_an_item = any(
        e.entity in ITEM_KINDS and (e.entity, e.value) not in _NOT_OVER_OUT_OF_SCOPE for e in part.entities
    )
    if intent == OUT_OF_SCOPE and part.confidence >= SURELY_OUT_OF_SCOPE and not names_an_item:
        return Decision(responses=(OUT_OF_SCOPE,))  # "gout in my toe?"
    if intent in (FALLBACK_INTENT, OUT_OF_SCOPE):
        # A named item is a question about it, however unsure the classifier was about the
        # rest: "what is the Altra Paradigm for?", "naproxen?"
        picks = _by_entities(part.entities, kb, prefer=BY_NAME.get(previous_topic or ""))
        picks = picks or ([] if intent == OUT_OF_SCOPE else _by_previous_titles(part, previous_topic, kb))
        if picks:
            return Decision(tuple(picks))
        return Decision(responses=(OUT_OF_SCOPE,)) if intent == OUT_OF_SCOPE else _unsure(part, kb)
    if intent in CONVERSATION and part.confidence < SURELY_OUT_OF_SCOPE:
        # "why am I limping with this" is no "am I talking to a bot?": what it names is asked about
        picks = _by_entities([e for e in part.entities if e.entity != "location"], kb)
        if picks:
            return Decision(tuple(picks))
    if intent in CONVERSATION:
        return Decision(responses=(CONVERSATION[intent],))
    return Decision()  # greet, thanks… inside a longer message: nothing to add


def _by_previous_titles(part: Part, previous_topic: str | None, kb: Knowledge) -> list[Pick]:
    """ "and the injections?" after the advanced treatments: a word of one item's title in the
    list the conversation is on."""
    topic = BY_NAME.get(previous_topic or "")
    if topic is None:
        return []
    titled = _by_title_word(part.text, kb.answers[topic.overview].items, kb)
    return [Pick(titled)] if titled else []


def decide_all(
    parts: Sequence[Part],
    previous_topic: str | None,
    kb: Knowledge | None = None,
    given: Iterable[str] = (),
    location: str | None = None,
    named: tuple[Entity, ...] = (),
) -> list[Decision]:
    """The answers for each question of a message, in order, none given twice (nor any of
    `given`, already answered). A question that names nothing borrows the values of the one
    before: "can RA cause this, and what pattern would the MRI show?" asks about the RA pattern;
    the first borrows `named`, what a typed answer before it chose ("OA - and how long does
    that take?")."""
    kb = kb or knowledge()
    decisions: list[Decision] = []
    given = set(given)
    answered_before = bool(given)  # a typed answer to the assistant's question, read already
    for part in parts:
        if any(d.picks for d in decisions) and (_ONLY_WHAT_IS_THAT.match(part.text) or _adds_nothing(part)):
            # "…drilling a small hole to relieve pressure?? what is that": the item just answered
            decisions.append(Decision())
            continue
        topic = BY_INTENT.get(part.intent or "")
        names_nothing = topic is not None and not any(e.entity in topic.entities for e in part.entities)
        # "…, and should I wear a brace too?" is about the brace, not the knee before it.
        names_an_item = any(e.entity in ITEM_KINDS for e in part.entities)
        # what the question's list can use: "…bisphosphonates…, and can they also cause it?"
        borrowed = tuple(e for e in named if topic is not None and item_for(topic, e.entity, e.value, kb))
        chooses = _CHOOSES.match(part.text)  # "…x-ray show it? and if not, which scan does?": another one
        if names_nothing and borrowed and not names_an_item and not chooses:
            part = replace(part, entities=borrowed)
        decision = _continued(part, decisions, kb) or decide(part, previous_topic, kb, location)
        picks = tuple(pick for pick in decision.picks if pick.answer not in given)
        given |= {pick.answer for pick in picks}
        decisions.append(Decision(picks, decision.clarify, decision.responses))
        named = part.entities or named
    silent = parts and all(p.intent in SILENT for p in parts)
    if silent and not any(d.picks or d.responses for d in decisions):
        # Small talk on its own (a "thanks" in reply to the assistant's question, "ok cheers,
        # that's all. bye") is answered, by its last part: never silence.
        decisions = [Decision(responses=(SMALL_TALK[parts[-1].intent or ""],))]
    if answered_before or (len(decisions) > 1 and any(d.picks for d in decisions)):
        # In a message of several questions, a fragment nobody could place ("worth it?",
        # "what's that point to?") adds nothing beside the answers the rest got; a whole
        # question the article does not cover ("is the cold weather making it worse?") is
        # still told so, or the user would think it was answered.
        decisions = [
            d
            for d, part in zip(decisions, parts, strict=True)
            if d.picks
            or (OUT_OF_SCOPE in d.responses and (_whole_question(part) or _DOSE.search(part.text)))
            or not (d.clarify or OUT_OF_SCOPE in d.responses)
        ]
    if parts and not answered_before and not any(d.picks or d.responses or d.clarify for d in decisions):
        # Never silence: a message none of whose parts got an answer ("…it's a 3/10. nothing
        # visible.") gets the likeliest answers for its first part that is no small talk.
        lead = next((p for p in parts if p.intent not in SILENT), parts[0])
        decisions = [_unsure(lead, kb)]
    return decisions


_WHOLE_QUESTION_WORDS = 4
_CHOOSES = re.compile(r"^\W*(?:and\s+|so\s+|then\s+)?(?:which|what other)\b", re.IGNORECASE)
# "…what do I do then": what to do about what the question before asked
_WHAT_TO_DO = re.compile(
    r"^\W*(?:and\s+|so\s+)?what (?:do|should|would|can) (?:i|we|you) do"
    r"(?:\s+(?:then|now|next|in that case|about (?:it|that|this)))?\W*$",
    re.IGNORECASE,
)


def _adds_nothing(part: Part) -> bool:
    """ "what if my leg goes red? what do I do then": the answer just given says what to do."""
    return bool(_WHAT_TO_DO.match(part.text)) and not part.entities


def _whole_question(part: Part) -> bool:
    """A part that asks a question in words of its own, not a fragment of another one."""
    return len(part.text.split()) >= _WHOLE_QUESTION_WORDS and starts_like_a_question(part.text)


def _unsure(part: Part, kb: Knowledge) -> Decision:
    """Ranks the answers the likeliest intents stand for: a clear winner is answered, else
    the best three are offered."""
    scored: dict[str, float] = {}
    talk = [(intent, confidence) for intent, confidence in part.ranking if intent != FALLBACK_INTENT]
    if talk and talk[0][0] in SMALL_TALK and talk[0][1] >= CLEAR_CONFIDENCE:
        return Decision(responses=(SMALL_TALK[talk[0][0]],))
    for intent, confidence in part.ranking:
        if intent in (FALLBACK_INTENT, "inform") or intent in SILENT:
            continue
        for pick in _answer_for_intent(intent, part.entities, kb)[:1]:
            scored[pick.answer] = max(scored.get(pick.answer, 0.0), confidence)
    ranked = sorted(scored.items(), key=lambda item: -item[1])
    if not ranked:
        return Decision(responses=(OUT_OF_SCOPE,))
    best, best_score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best_score >= CLEAR_CONFIDENCE and best_score - runner_up >= CLEAR_MARGIN:
        return Decision((Pick(best),))
    return Decision(clarify=tuple(answer for answer, _ in ranked[:OFFERED]))


# --- typed answers to the assistant's own question -----------------------------------------

_ORDINALS = {
    "first": 0, "1st": 0, "one": 0, "1": 0,
    "second": 1, "2nd": 1, "two": 1, "2": 1,
    "third": 2, "3rd": 2, "three": 2, "3": 2,
    "fourth": 3, "4th": 3, "four": 3, "4": 3,
    "fifth": 4, "5th": 4, "five": 4, "5": 4,
    "sixth": 5, "6th": 5, "six": 5, "6": 5,
}  # fmt: skip
_ORDINAL = re.compile(
    r"\b(?:(?:the\s+)?(?P<word>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th)\b"
    r"|(?:number|no\.?|option|#)\s*(?P<number>[1-6]|one|two|three|four|five|six)\b"
    r"|^\s*(?P<bare>[1-6])\s*[.)]?\s*$"
    r"|\b(?P<last>last|final)\b)",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(how|what|which|when|where|why|who|can|could|do|does|did|is|are|will|would|should|may|might)\b",
    re.IGNORECASE,
)
# Intents a typed answer is often mistaken for; anything else, asked as a question, is one.
_ANSWER_LIKE = {"inform", FALLBACK_INTENT, OUT_OF_SCOPE, "affirm", "deny", "greet", "thank", "describe_symptoms"}
_ASKS_SOMETHING_ELSE = 0.6  # a question classified this surely about another topic is not an answer


def _ordinal(text: str, count: int) -> int | None:
    match = _ORDINAL.search(text)
    if not match:
        return None
    if match.group("last"):
        return count - 1
    word = (match.group("word") or match.group("number") or match.group("bare") or "").lower()
    index = _ORDINALS.get(word)
    return index if index is not None and index < count else None


def _by_title(text: str, items: Sequence[str], kb: Knowledge) -> str | None:
    """An item whose title the text spells, allowing typos ("inflamatory arthritis")."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    best, best_ratio = None, 0.0
    for item in items:
        title_words = re.findall(r"[a-z0-9]+", re.sub(r"\(.*?\)", "", title_of(item, kb)).lower())
        n = len(title_words)
        for i in range(max(1, len(words) - n + 1)):
            window = " ".join(words[i : i + n])
            ratio = SequenceMatcher(None, window, " ".join(title_words)).ratio()
            if ratio > best_ratio:
                best, best_ratio = item, ratio
    return best if best_ratio >= 0.8 else None


_GENERIC_WORDS = {"one", "ones", "that", "this", "thing", "those", "them", "about", "what", "which", "please", "think"}
_WORD_STEM = 5  # letters two words must share from the start ("injection" and "injections")


def _by_title_word(text: str, items: Sequence[str], kb: Knowledge) -> str | None:
    """The one item whose title has a word of the reply ("the injection one": "BMAC or PRP
    injections"); None when no item or several do."""
    words = {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= _WORD_STEM and w not in _GENERIC_WORDS}
    matches = set()
    for item in items:
        title_words = re.findall(r"[a-z]+", title_of(item, kb).lower())
        if any(w[:_WORD_STEM] == t[:_WORD_STEM] and len(t) >= _WORD_STEM for w in words for t in title_words):
            matches.add(item)
    return matches.pop() if len(matches) == 1 else None


def asks_something_else(part: Part, expected_intent: str | None = None) -> bool:
    """True for a question classified surely as something other than an answer ("how long does
    it take to heal?" after "Where is your BME?"); a short or answer-like part is an answer."""
    if part.intent in _ANSWER_LIKE or part.intent in (RED_FLAG_INTENT, "symptom_check", expected_intent):
        return False
    asks = part.text.rstrip().endswith("?") or bool(_QUESTION_START.match(part.text))
    return asks and part.confidence >= _ASKS_SOMETHING_ELSE


def answers_the_question(part: Part, topic: Topic) -> bool:
    """False for a part that asks something else entirely; see `asks_something_else`."""
    return not asks_something_else(part, topic.intent)


# "that", "this one", "those": a question that refers back to what was just answered
_REFERS_BACK = re.compile(r"\b(?:that|this|those|these)\b", re.IGNORECASE)


def referred_to(part: Part, previous_answer: str | None) -> tuple[Entity, ...]:
    """What an item just answered names, when the question refers back to it: after
    `causes.overuse`, "how long does that kind take to heal?" asks about recovery from overuse.
    An overview names nothing, and neither does a question without "that" or "this" ("how long
    does it take?" asks about BME)."""
    topic = topic_of(previous_answer) if previous_answer else None
    if topic is None or previous_answer == topic.overview or not _REFERS_BACK.search(part.text):
        return ()
    return named_by(Pick(previous_answer or ""), topic.name)


_THE_OTHER = re.compile(
    r"\bthe other (?:one|doctor|expert|specialist|view|opinion|option|guy|surgeon)\b", re.IGNORECASE
)


def the_other(part: Part, previous_answer: str | None, kb: Knowledge | None = None) -> Pick | None:
    """ "and the other doctor?" after one of the article's two experts: the other one, when the
    item just answered is one of a list of two."""
    kb = kb or knowledge()
    topic = topic_of(previous_answer, kb) if previous_answer and _THE_OTHER.search(part.text) else None
    items = kb.answers[topic.overview].items if topic is not None else []
    if len(items) != 2 or previous_answer not in items:
        return None
    return Pick(next(item for item in items if item != previous_answer))


def named_by(pick: Pick, topic_name: str) -> tuple[Entity, ...]:
    """What an item chosen from a topic's list names ("causes.osteoarthritis": the cause OA)."""
    topic = BY_NAME[topic_name]
    return (Entity(topic.entities[0], pick.value or pick.answer.rpartition(".")[2]),)


@dataclass(frozen=True)
class Choice:
    """What a typed reply chose, and which part of the message it used up (None: it was a
    statement inside a part that also asks something, which is still to be answered)."""

    pick: Pick
    part: int | None
    also: tuple[Pick, ...] = ()  # more items the reply chose ("ice and nsaids")


# Items named as a list: "ice and nsaids", "physio, ice".
_NOT = re.compile(r"\b(?:not|no|nor|isn't|wasn't|rather than)\b", re.IGNORECASE)
_LIST_WORDS = 6
_LISTED = re.compile(r"^[^.?!]*?\w\s*(?:,|&|\+|\band\b|\bplus\b)\s*\w[^.?!]*$", re.IGNORECASE)


def _chosen(part: Part, topic: Topic, items: Sequence[str], kb: Knowledge) -> list[Pick]:
    """The items a reply chooses from the list it was offered, in the order it names them."""
    long_bone = next((e.value for e in part.entities if e.entity == "location" and e.value in LONG_BONES), None)
    if topic.name == "shoes" and long_bone and len(part.entities) == 1:
        return [Pick("shoes", long_bone)]
    picks = _picks_for(topic, part.entities, kb)
    if picks:
        listed = _LISTED.search(part.text) and not _NOT.search(part.text) and len(part.text.split()) <= _LIST_WORDS
        return picks if listed else picks[:1]  # "AVN from the steroids" is one, and "OA, not RA"
    position = _ordinal(part.text, len(items))
    if position is not None:
        return [Pick(items[position])]
    titled = _by_title(part.text, items, kb) or _by_title_word(part.text, items, kb)
    return [Pick(titled)] if titled else []


def _statements(part: Part) -> list[Part]:
    """The sentences of a part that are not questions, as parts of their own."""
    pieces = []
    for start, end in sentence_spans(part.text):
        text = part.text[start:end]
        if text.rstrip().endswith("?") or _QUESTION_START.match(text):
            continue
        offset = part.start + start
        entities = tuple(e for e in part.entities if offset <= e.start and e.end <= offset + len(text))
        pieces.append(replace(part, text=text, intent="inform", entities=entities, ranking=(), start=offset))
    return pieces


def read_choice(parts: Sequence[Part], topic_name: str, kb: Knowledge | None = None) -> Choice | None:
    """The item a typed reply chooses after the assistant asked about `topic_name`; None when
    the reply is not an answer to that question.

    The answer may be a whole part ("left knee"), or sit in front of a question of its own:
    a statement ("overuse i think, too much running. what shoes should i get?") or a leading
    phrase ("resting, but I'm a swimmer, can I keep swimming?"). Then the part is still
    answered as the question it also is (`Choice.part` is None)."""
    kb = kb or knowledge()
    topic = BY_NAME[topic_name]
    items = kb.answers[topic.overview].items
    for index, part in enumerate(parts):
        ahead = [*_statements(part), *_leading_phrase(part)] if _asks_too(part) else []
        for piece in ahead:
            picks = _chosen(piece, topic, items, kb)
            if picks:
                return Choice(picks[0], None, tuple(picks[1:]))
        if answers_the_question(part, topic):
            picks = _chosen(part, topic, items, kb)
            if picks:
                return Choice(picks[0], index, tuple(picks[1:]))
    return None


def _asks_too(part: Part) -> bool:
    """A part with a question in it after something else: "overuse. what shoes?"."""
    spans = sentence_spans(part.text)
    if len(spans) > 1:
        return any(part.text[a:b].rstrip().endswith("?") or _QUESTION_START.match(part.text[a:b]) for a, b in spans)
    return part.text.rstrip().endswith("?") and _LEADING_PHRASE.match(part.text) is not None


# A short phrase, then a comma, a dash or a colon: "resting, but…", "hip - can I…".
_LEADING_PHRASE = re.compile(r"^\s*(?P<lead>[^,;:.?!\-–—]{1,40}?)\s*(?:[,;:]|\s[-–—]+\s)")
_LEADING_WORDS = 4


def _leading_phrase(part: Part) -> list[Part]:
    match = _LEADING_PHRASE.match(part.text)
    if not match or len(match.group("lead").split()) > _LEADING_WORDS or _QUESTION_START.match(match.group("lead")):
        return []
    start, end = part.start + match.start("lead"), part.start + match.end("lead")
    entities = tuple(e for e in part.entities if start <= e.start and e.end <= end)
    return [replace(part, text=match.group("lead"), intent="inform", entities=entities, ranking=(), start=start)]
