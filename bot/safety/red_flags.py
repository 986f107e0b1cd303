"""Deterministic red-flag detection: does a message describe a warning sign happening now?

This is the second, independent safety layer beside the NLU intent (see
bot/nlu/red_flag_override.py): routing to urgent care never depends on a classifier's
confidence. It is plain spaCy, built in code: a lookup lemmatizer and an entity ruler whose
patterns (content/red_flag_patterns.yml) are matched on lemmas, then a NegEx-style negation check.

Why not negspacy's `negex` pipe as it is: its scope runs from a cue to the end of the
sentence, so "I can't sleep because my leg is swollen" would count the swelling as negated,
a missed emergency. We keep NegEx's algorithm and negspacy's clinical cue lists, but bound the
scope (a token window, ended by clause breaks and new subjects), treat hedges ("not sure if")
as pseudo-negations, and let two negations cancel ("it's not like I don't have a fever").

Beyond the listed phrases, three rules find a sign (each with its settings in the patterns file):
misspellings of the sign words that spaCy's lookup table does not know as English ("swellng",
"reddd", "hott"): repeated letters collapsed, or one edit away for words of six letters or
more; temperature readings with a unit ("38.5 degrees", "101F"), while a normal reading next to
"temp" ("temp 36.8") denies a fever; and a colour naming a thing ("the red Brooks") is no sign.

A finding counts when it is not negated and is reported: its sentence mentions a person, or
its clause is no question. Sentences are cut into clauses at punctuation and words like "but"
and "because" (a comma between two findings joins a list instead). A clause is a question when
it opens with a question word, after fillers like "so" or "ok"; a subordinate clause ("if ...",
"because ...") is a question when its main clause is. So "is swelling a symptom?" is a question
for the FAQ; "my ankle is swollen", "ankle swollen, fever 38", "feverish and shivery with a
painful tibia, is that a worry?" (a statement, then a question) and "feel a bit feverish
maybe?" (a statement ending in "?") are reports. In a question about the signs "in general",
the asker's own "I" is no person the sign is about, nor is a "they" who call or say things;
"the sore bone" or "the painful shin" is the asker's own, as "my" is. A sign in a comparison
("like when an ankle swells up") or in what a sign would mean ("could a fever mean something
worse is going on with my bone?") is asked about, not reported.

A finding also counts only when it is current. The past scope (cues in the patterns file under
`past`) puts it in the past when its clause has a time cue ("last year", "back in", "years
ago", "in 2019", "as a teenager"; a clause holding only the cue, or a "when ..." clause, passes
it to the next clause), or when a resolution follows it ("went away", "cleared up", "has
settled", "gone now"): in its clause, or, after a pronoun ("..., but that resolved"), in the
nearest clause before with findings, across one sentence at most. When in doubt it stays
current: present markers in its clause ("now", "today", "since", "is", "can't", "has been"),
an onset against a time cue ("started two weeks ago"), ongoing markers in its sentence
("still", "again", "came back", "ever since") and negated resolutions ("hasn't gone away") keep
it current, and "two days ago" or "last week" are recent, not past. A sign in the past tense
that is denied later ("was swollen when I sprained it … no swelling now"), or a fever in the
past tense with another illness ("had a cold with a temperature last week"), is over.

The hypothetical scope (`hypothetical` in the patterns file) marks a finding imagined when its
clause has, before it, a cue ("what if", "in case", "hypothetically", "were I to"; "suppose",
"say" opening the clause; "Hypothetically, ..." reaching the next clause), a conditional with a
future cue ("if ... one day", "if I ever", "should the ankle ever swell"), or, in a question, a
plain "if" followed by a change of state ("if my son gets a temperature, who do we call?", "if
swelling appears, ..."; past forms only beside "would": "what would I do if it became
severe?"). A stated "if" is a habit and stays a report ("if I walk on it, it swells up"), and
so does a state after "if" ("what do I do if my knee is swollen?"): when in doubt, urgent. But
one sign after "if" in a question whether to worry ("should I be worried if the area feels
warm?", "is it bad if I can't bear weight?") is imagined: the answer explains the signs and
says to get seen at once if one is here. Having it ("if I have a fever"), several signs, or the
asker's own sore part keep it a report.
Present markers in the finding's clause ("right now", "today", "already") override, and make
a question about the signs specific enough to be a report; so does saying afterwards that the
imagined sign is here ("what if I get a fever? I've got one now").
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import cast

import yaml
from negspacy.termsets import termset
from spacy.matcher import PhraseMatcher
from spacy.pipeline import EntityRuler, Lemmatizer
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from bot.domain.spelling import collapse, english, one_edit
from bot.nlu.spacy_pipeline import english_words, lemmatizing_english
from bot.settings import RED_FLAG_PATTERNS

DEFAULT_PATTERNS = RED_FLAG_PATTERNS
_IGNORED = "not_a_finding"
_DENIAL = "denial"  # pattern id of phrases that deny a sign ("I can still walk")


@dataclass(frozen=True)
class Finding:
    category: str  # weight, fever, swelling or redness
    text: str
    negated: bool
    reported: bool  # its sentence is about a person, or its clause is no general question
    timing: str = "current"  # "current", "past" when it is over, "hypothetical" when imagined

    @property
    def counts(self) -> bool:
        """A warning sign happening now."""
        return self.reported and not self.negated and self.timing == CURRENT


CURRENT, PAST, HYPOTHETICAL = "current", "past", "hypothetical"


@dataclass(frozen=True)
class Assessment:
    findings: tuple[Finding, ...]

    @property
    def categories(self) -> list[str]:
        """The warning signs the message reports, in a stable order."""
        return sorted({f.category for f in self.findings if f.counts})

    @property
    def fires(self) -> bool:
        return bool(self.categories)

    @property
    def mentioned_not_reported(self) -> bool:
        """Warning signs were mentioned, but only denied ("no fever", "I can still walk"), asked
        about in general ("is swelling a symptom?"), over ("I had a fever last year") or
        imagined ("what if I get a fever?")."""
        return bool(self.findings) and not self.fires

    def as_parse_data(self) -> dict[str, list[str]]:
        """What Rasa's parse result carries under `red_flags` (bot/nlu/red_flag_override.py), so
        the action server can read the assessment without loading spaCy: the reported signs,
        the denied ones, and every sign mentioned at all."""
        return {
            "categories": self.categories,
            "negated": sorted({f.category for f in self.findings if f.negated}),
            "mentioned": sorted({f.category for f in self.findings}),
            "past": sorted({f.category for f in self.findings if f.timing == PAST}),
            "hypothetical": sorted({f.category for f in self.findings if f.timing == HYPOTHETICAL}),
        }


# Between two findings, only a list joint leaves the first one's negation in force: "no fever,
# swelling or redness" denies all three; "no fever, my knee is swollen" denies only the fever.
_LIST_JOINTS = {",", "or", "and", "/", "&"}
_ARTICLES = {"a", "an", "any"}


def _is_list_continuation(gap: Span) -> bool:
    """True for gaps like ", ", " or ", ", or a " between two findings (an article only after "or"/"and")."""
    words = [t.lower_ for t in gap]
    if words and words[-1] in _ARTICLES and len(words) > 1 and words[-2] in ("or", "and"):
        words = words[:-1]
    return all(w in _LIST_JOINTS for w in words)


class RedFlagDetector:
    """Finds warning signs in a message; build once and reuse (building takes about a second)."""

    def __init__(self, patterns_path: Path = DEFAULT_PATTERNS):
        config = yaml.safe_load(patterns_path.read_text(encoding="utf-8"))
        negation = config["negation"]
        self._window = int(negation["window"])
        self._following_window = int(negation["following_window"])
        self._anchors = set(config["report_anchors"])
        self._openers = set(config["question_openers"])
        self._askers = set(config["askers"])
        clauses = config["clauses"]
        self._clause_punctuation = set(clauses["punctuation"])
        self._fillers = set(clauses["fillers"])
        past = config["past"]
        self._ago_units = set(past["ago_units"])
        self._year_prefixes = set(past["year_prefixes"])
        self._time_clauses = set(past["time_clauses"])
        self._resolution_window = int(past["resolution_window"])
        self._pronoun_subjects = set(past["pronoun_subjects"]) | self._fillers
        self._recurrence = set(config["recurrence"])
        self._other_complaints = set(config["other_complaints"])
        self._pronoun_objects = {"it", "that", "this", "them", "they", "those", "these", "one"}
        self._resolution_negations = set(past["negations"])
        self._past_tense = list(past["tense"])
        self._generic_they = set(config["generic_they"])
        hypothetical = config["hypothetical"]
        self._clause_initial = set(hypothetical["clause_initial"])
        self._if_complements = set(hypothetical["if_complements"])
        self._fronted = set(hypothetical["fronted"])

        self.nlp = lemmatizing_english(sentences=True)
        self._lemmatizer = cast(Lemmatizer, self.nlp.get_pipe("lemmatizer"))
        # phrase patterns matched on lemmas: a PhraseMatcher, several times faster than token
        # patterns for the ~2,000 phrases ("<unable> <action>" alone makes most of them)
        ruler = cast(
            EntityRuler, self.nlp.add_pipe("entity_ruler", config={"validate": True, "phrase_matcher_attr": "LEMMA"})
        )
        ruler.add_patterns(self._finding_patterns(config))
        self._init_spelling(config)
        temperature = config["temperature"]
        self._fever_c = float(temperature["fever_celsius"])
        self._fever_f = float(temperature["fever_fahrenheit"])
        self._units = set(temperature["units"])
        self._temperature_window = int(temperature["window"])

        clinical = termset("en_clinical").get_patterns()
        tokenizer = cast(Tokenizer, self.nlp.tokenizer)
        self._cues = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for kind, phrases in (
            ("pseudo", negation["pseudo"]),
            ("double", negation["double"]),
            ("preceding", clinical["preceding_negations"] + negation["preceding"]),
            ("following", clinical["following_negations"] + negation["following"]),
            ("termination", clinical["termination"] + negation["termination"]),
        ):
            self._cues.add(kind, list(tokenizer.pipe(sorted(set(phrases)))))
        self._scope = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for kind, phrases in (
            ("break", clauses["breaks"]),
            ("subordinate", clauses["subordinate"]),
            ("general", config["general_scope"]),
        ):
            self._scope.add(kind, list(tokenizer.pipe(sorted(set(phrases)))))
        self._timing = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for kind, phrases in (
            ("past_time", past["time"] + [f"last {x}" for x in past["last"]]),
            ("resolved", past["resolved"]),
            ("present", config["present"]),
            ("present_tense", config["present_tense"]),
            ("ongoing", config["ongoing"]),
            ("onset", config["onset"]),
        ):
            self._timing.add(kind, list(tokenizer.pipe(sorted(set(phrases)))))
        self._worry_about = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for kind in ("own_part", "comparisons", "other_illnesses"):
            self._worry_about.add(kind, list(tokenizer.pipe(sorted(set(config[kind])))))
        self._worry_about.add("worry_about", list(tokenizer.pipe(sorted(set(config["worry_about"])))))
        self._hypothetical = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for kind in hypothetical.keys() - {"if_complements", "fronted"}:  # here_now too
            self._hypothetical.add(kind, list(tokenizer.pipe(sorted(set(hypothetical[kind])))))

    def _lemmas(self, phrase: str) -> list[dict[str, str]]:
        return [{"LEMMA": token.lemma_} for token in self._lemmatizer(self.nlp.make_doc(phrase.lower()))]

    def _finding_patterns(self, config: dict) -> list[dict]:
        patterns = []
        for category, spec in config["categories"].items():
            phrases = list(spec.get("phrases", []))
            phrases += [f"{u} {a}" for u in spec.get("unable", []) for a in spec.get("action", [])]
            patterns += [{"label": category, "pattern": p.lower()} for p in phrases]
            denials = list(spec.get("denials", []))
            denials += [f"{a} {action}" for a in spec.get("able", []) for action in spec.get("action", [])]
            patterns += [{"label": category, "id": _DENIAL, "pattern": p.lower()} for p in denials]
        ignored = list(config["not_findings"])
        ignored += [f"{c} {thing}" for c in config["colours"] for thing in config["coloured_things"]]
        patterns += [{"label": _IGNORED, "pattern": p.lower()} for p in ignored]
        return patterns

    def _init_spelling(self, config: dict) -> None:
        self._known_words = english_words(self.nlp)
        self._is_english = english(self._known_words)
        spelling = config["spelling"]
        self._min_fuzzy_length = int(spelling["min_length"])
        phrases: list[str] = list(config["not_findings"])
        for spec in config["categories"].values():
            for key in ("phrases", "unable", "action", "able", "denials"):
                phrases += spec.get(key, [])
        words = {w for p in phrases for w in re.findall(r"[a-z]+", p.lower()) if len(w) >= 3}
        self._sign_words = {w: self._lemmas(w)[0]["LEMMA"] for w in words - set(spelling["ignore"])}
        self._collapsed_sign_words: dict[str, str] = {}
        for word in sorted(self._sign_words):
            self._collapsed_sign_words.setdefault(collapse(word), word)

    def _respell(self, doc: Doc) -> None:
        """Gives a misspelt sign word the lemma of the word it stands for, so the patterns find it."""
        for token in doc:
            word = token.lower_
            if len(word) < 3 or not word.isalpha() or self._is_english(word) or word in self._sign_words:
                continue
            lemma = self._respelt_lemma(word)
            if lemma is not None:
                token.lemma_ = lemma

    def _respelt_lemma(self, word: str) -> str | None:
        collapsed = self._collapsed_sign_words.get(collapse(word))
        if collapsed is not None:
            return self._sign_words[collapsed]
        if len(word) < self._min_fuzzy_length:
            return None
        close = [w for w in self._sign_words if len(w) >= self._min_fuzzy_length and one_edit(word, w)]
        if len({self._sign_words[w] for w in close}) > 1:
            # "swellng" is one edit from "swelling" and from the listed misspelling "sweling":
            # the English word wins
            close = [w for w in close if w in self._known_words]
        lemmas = {self._sign_words[w] for w in close}
        return lemmas.pop() if len(lemmas) == 1 else None

    def _parse(self, text: str) -> Doc:
        doc = self.nlp.make_doc(text.lower())
        for name, pipe in self.nlp.pipeline:
            if name == "entity_ruler":
                self._respell(doc)
            doc = pipe(doc)
        readings = [s for s in self._readings(doc) if not any(_overlaps(s, e) for e in doc.ents)]
        doc.ents = tuple(sorted([*doc.ents, *readings], key=lambda e: e.start))  # type: ignore[assignment]  # spaCy types ents as a 1-tuple
        return doc

    def _temperature(self, token: Token) -> tuple[float, str] | None:
        """The value of a token that reads like a body temperature, and its scale ("c" or "f")."""
        match = _READING.match(token.lower_)
        if match is None:
            return None
        value = float(match.group(1).replace(",", "."))
        if 34 <= value < 44:
            return value, "c"
        if 93 <= value < 112:
            return value, "f"
        return None

    def _is_fever(self, value: float, scale: str) -> bool:
        return value >= (self._fever_c if scale == "c" else self._fever_f)

    def _readings(self, doc: Doc) -> list[Span]:
        """Fever readings with a unit ("39.2 degrees", "38.5c", "101f"), or with a decimal in a
        message about fever ("a fever with this? I've got 38.2"): reports on their own."""
        spans = []
        about_fever = any(t.lower_.startswith(("fever", "temp", "thermometer")) for t in doc)
        for token in doc:
            reading = self._temperature(token)
            if reading is None or not self._is_fever(*reading):
                continue
            match = _READING.match(token.lower_)
            has_unit = bool(match and match.group(2))
            unit_next = token.i + 1 < len(doc) and doc[token.i + 1].lower_ in self._units
            decimal = bool(re.search(r"[.,]\d", token.text))
            if has_unit or unit_next or (about_fever and decimal):
                spans.append(Span(doc, token.i, token.i + 1 + (unit_next and not has_unit), label="fever"))
        return spans

    def _normal_reading(self, doc: Doc, ent: Span) -> bool:
        """ "temp 36.8", "my temperature was 98.4F", "I thought I had a fever but the
        thermometer said 36.9": readings near a temperature word, all normal."""
        thermometer = any(t.lower_.startswith("thermometer") for t in ent.sent)
        if ent.label_ != "fever" or not ("temp" in ent.text or thermometer):
            return False
        window = len(ent.sent) if thermometer else self._temperature_window  # the thermometer's reading
        start = max(ent.sent.start, ent.start - window)
        end = min(ent.sent.end, ent.end + window)
        readings = [r for r in (self._temperature(t) for t in doc[start:end]) if r is not None]
        return bool(readings) and not any(self._is_fever(*r) for r in readings)

    def assess(self, text: str) -> Assessment:
        doc = self._parse(text)
        cues = self._negation_cues(doc)
        ents = [e for e in doc.ents if e.label_ != _IGNORED]
        clauses = self._clauses(doc, ents)
        timing = self._timing_cues(doc, clauses)
        imagined: dict[str, list[Span]] = {}
        for match, start, end in self._hypothetical(doc):
            imagined.setdefault(self.nlp.vocab.strings[match], []).append(doc[start:end])
        findings: list[Finding] = []
        previous: Span | None = None
        for ent in ents:
            previous_negated = findings[-1].negated if findings else False
            if ent.ent_id_ == _DENIAL:
                # "I can walk" denies the sign; "I don't think I can walk" and "not sure I can
                # walk" report it.
                denial_undone = self._is_negated(doc, ent, previous, False, cues, following=False)
                negated = not (denial_undone or self._is_hedged(ent, cues))
            else:
                negated = self._is_negated(doc, ent, previous, previous_negated, cues)
                if negated and self._comes_back(ent, clauses, timing["ongoing"]):
                    # "went down but it came back": only a cue after the sign may be undone
                    negated = self._is_negated(doc, ent, previous, previous_negated, cues, following=False)
                negated = negated or self._normal_reading(doc, ent)
            when = CURRENT
            if self._is_hypothetical(doc, ent, ents, clauses, timing["present"], imagined):
                when = HYPOTHETICAL
            elif self._is_past(ent, ents, clauses, timing) or self._could_not_then_can(ent, ents):
                when = PAST
            reported = self._is_report(doc, ent, clauses, timing["present"] + timing["onset"])
            findings.append(Finding(ent.label_, ent.text, negated, reported, when))
            previous = ent
        return Assessment(tuple(self._denied_since(doc, ents, findings, clauses)))

    def _denied_since(self, doc: Doc, ents: list[Span], findings: list[Finding], clauses: Clauses) -> list[Finding]:
        """ "my ankle was swollen when I sprained it, … no swelling now": a finding in the past
        tense, and the same sign denied in a later clause, is over; so is a fever in the past
        tense that came with another illness ("had a cold with a temperature last week")."""
        over = []
        for i, (ent, finding) in enumerate(zip(ents, findings, strict=True)):
            clause = clauses.span(clauses.index(ent.start))
            before = f" {' '.join(t.lower_ for t in doc[clause.start : ent.end - 1])} "  # "i felt a bit warm"
            in_past_tense = any(f" {word} " in before for word in self._past_tense)
            denied_later = any(
                later.negated
                and later.timing == CURRENT  # denied now; "the swelling went down" may leave some
                and later.category == finding.category
                and clauses.index(e.start) > clauses.index(ent.start)
                for e, later in zip(ents[i + 1 :], findings[i + 1 :], strict=True)
            )
            with_an_illness = finding.category == "fever" and any(
                _within(p, clause) for p in self._phrases(doc, "other_illnesses")
            )
            if finding.counts and in_past_tense and (denied_later or with_an_illness):
                finding = Finding(finding.category, finding.text, finding.negated, finding.reported, PAST)
            over.append(finding)
        return over

    def _could_not_then_can(self, ent: Span, ents: list[Span]) -> bool:
        """ "Last week I couldn't put weight on it, but now I'm walking normally": an inability
        in the past tense, and the ability said after it."""
        past = ent.text.lower().startswith(_PAST_UNABLE)
        return past and any(e.ent_id_ == _DENIAL and e.label_ == ent.label_ and e.start > ent.end for e in ents)

    def _about_another_complaint(self, cue: Span, ent: Span, clauses: Clauses) -> bool:
        """ "I had a fever last year, still get knee pain", "…, foot still a bit achy": in
        another clause than the finding's, the marker's object is a complaint that is no
        warning sign (within a few words, with no "it" or "that" between that could be the sign)."""
        if clauses.index(cue.start) == clauses.index(ent.start):
            return False
        after = cue.doc[cue.end : cue.end + _COMPLAINT_WINDOW]
        for token in after:
            if token.lower_ in self._pronoun_objects or token.is_punct:
                return False
            if token.lower_ in self._other_complaints:
                return True
        return False

    def _comes_back(self, ent: Span, clauses: Clauses, ongoing: list[Span]) -> bool:
        """A recurrence marker later in the finding's sentence, about the sign ("but it came
        back", "but came back again"), not about something else ("and I'm walking again")."""
        return any(
            cue.text.lower() in self._recurrence
            and cue.start >= ent.end
            and cue.sent.start == ent.sent.start
            and self._has_pronoun_subject(cue, clauses)
            for cue in ongoing
        )

    def _negation_cues(self, doc: Doc) -> dict[str, list[Span]]:
        # Longest cues win, so "isn't" counts once, not as "isn't" plus "n't" (a double negation).
        spans = filter_spans([Span(doc, start, end, label=m) for m, start, end in self._cues(doc)])
        pseudo = [s for s in spans if s.label_ == "pseudo"]
        cues: dict[str, list[Span]] = {"preceding": [], "following": [], "termination": [], "double": []}
        for span in spans:
            if span.label_ != "pseudo" and not any(p.start <= span.start < p.end for p in pseudo):
                cues[span.label_].append(span)
        cues["pseudo"] = pseudo
        return cues

    def _is_hedged(self, ent: Span, cues: dict[str, list[Span]]) -> bool:
        """A hedge ("not sure", "don't know if") shortly before the finding."""
        return any(p.end <= ent.start and ent.start - p.end <= self._window for p in cues["pseudo"])

    def _is_negated(
        self,
        doc: Doc,
        ent: Span,
        previous: Span | None,
        previous_negated: bool,
        cues: dict[str, list[Span]],
        following: bool = True,
    ) -> bool:
        same_sentence = previous is not None and previous.sent.start == ent.sent.start
        if previous is not None and same_sentence and _is_list_continuation(doc[previous.end : ent.start]):
            return previous_negated  # "no fever, swelling or redness"
        scope_start = previous.end if previous is not None and same_sentence else ent.sent.start
        stops = [t.end for t in cues["termination"] if scope_start <= t.start < ent.start]
        if stops:
            scope_start = max(stops)
        in_scope = [
            c
            for c in cues["preceding"]
            if scope_start <= c.start
            and c.end <= ent.start
            and ent.start - c.end <= self._window
            and not any(_overlaps(c, other) for other in doc.ents)
        ]
        if in_scope:
            # "it's not like I don't" and "it's not not swollen": two negations cancel; but the
            # answer "no, not severe" says no twice (an answer word right before a cue counts once)
            repeated = {i for i in range(len(in_scope) - 1) if _answers_no(doc, in_scope[i], in_scope[i + 1])}
            said = [c for i, c in enumerate(in_scope) if i not in repeated]
            negated = len(said) % 2 == 1
            frames = [f for f in cues["double"] if f.end <= ent.start and f.sent.start == ent.sent.start]
            return not negated if negated and frames else negated
        for cue in cues["following"] if following else []:
            if any(_overlaps(cue, other) for other in doc.ents):
                continue  # "gone" in "gone red" belongs to that finding
            between = doc[ent.end : cue.start]
            if ent.end <= cue.start and len(between) <= self._following_window and not any(t.is_punct for t in between):
                # "the swelling hasn't gone down": a negated following cue negates nothing
                return not any(t.lower_ in self._resolution_negations for t in between)
        return False

    def _clauses(self, doc: Doc, ents: list[Span]) -> Clauses:
        """Cuts each sentence into clauses (see `clauses` in the patterns file)."""
        scope = [Span(doc, start, end, label=m) for m, start, end in self._scope(doc)]
        subordinate = {s.start for s in scope if s.label_ == "subordinate"}
        breaks = {s.start for s in scope if s.label_ == "break"}
        breaks -= {i for i in breaks if i and doc[i - 1].lower_ in _ARTICLES}  # "for a while" is no "while ..." clause
        cuts = breaks | {s.start for s in doc.sents}
        ends, starts = {e.end for e in ents}, {e.start for e in ents}
        for token in doc:
            if token.lower_ not in self._clause_punctuation or _joins_words(doc, token):
                continue
            after = token.i + 1
            while after < len(doc) and doc[after].lower_ in _LIST_JOINTS | _ARTICLES | {"no", "nor"}:
                after += 1
            if not (token.i in ends and after in starts):  # "fever, chills": a list, not a new clause
                cuts.add(token.i)
        return Clauses(doc, sorted(cuts), subordinate, self._fillers, {s.start for s in scope if s.label_ == "general"})

    def _timing_cues(self, doc: Doc, clauses: Clauses) -> dict[str, list[Span]]:
        """Cues of time, longest first where they overlap ("not since" over "since"), by kind;
        a negated resolution ("hasn't gone away") counts as ongoing."""
        labels: dict[tuple[int, int], set[str]] = {}
        for match, start, end in self._timing(doc):
            labels.setdefault((start, end), set()).add(self.nlp.vocab.strings[match])
        for span in self._past_dates(doc):
            labels.setdefault((span.start, span.end), set()).add("past_time")
        spans = filter_spans([Span(doc, start, end) for start, end in labels])
        kinds = ("past_time", "resolved", "present", "present_tense", "ongoing", "onset")
        cues: dict[str, list[Span]] = {k: [] for k in kinds}
        for span in spans:
            for label in labels[(span.start, span.end)]:
                if label == "resolved" and self._resolution_negated(doc, span, clauses):
                    label = "ongoing"
                cues[label].append(span)
        return cues

    def _past_dates(self, doc: Doc) -> list[Span]:
        """ "two years ago", "months ago", "a while ago"; "in 2019", "back in 2021"."""
        spans = []
        for token in doc:
            if token.lower_ == "ago":
                units = [t for t in doc[max(0, token.i - 3) : token.i] if t.lemma_ in self._ago_units]
                if units:
                    start = units[0].i
                    while start > 0 and (doc[start - 1].like_num or doc[start - 1].lower_ in _QUANTIFIERS):
                        start -= 1
                    spans.append(doc[start : token.i + 1])
            elif self._is_past_year(doc, token):
                spans.append(doc[token.i - 1 : token.i + 1])
        return spans

    def _is_past_year(self, doc: Doc, token: Token) -> bool:
        if not re.fullmatch(r"(19|20)\d\d", token.text) or int(token.text) >= date.today().year:
            return False
        return token.i > 0 and doc[token.i - 1].lower_ in self._year_prefixes

    def _resolution_negated(self, doc: Doc, cue: Span, clauses: Clauses) -> bool:
        """ "hasn't gone away", "never settled": negated, a resolution says the sign goes on."""
        start = max(clauses.start(clauses.index(cue.start)), cue.start - 3)
        return any(t.lower_ in self._resolution_negations for t in doc[start : cue.start])

    def _is_past(self, ent: Span, ents: list[Span], clauses: Clauses, cues: dict[str, list[Span]]) -> bool:
        """Is the finding over? Only past cues say so, and present or ongoing markers undo them."""
        index = clauses.index(ent.start)
        clause = clauses.span(index)
        if any(_within(c, clause) for kind in ("present", "present_tense") for c in cues[kind]):
            return False
        resolutions = [c for c in cues["resolved"] if self._resolves(c, ent, ents, clauses)]
        denials = [e for e in ents if e.ent_id_ == _DENIAL]
        for cue in cues["ongoing"]:
            if any(0 <= cue.start - d.end <= 1 for d in denials):
                continue  # "now I'm walking normally again": the walking goes on
            # "a temperature a fortnight ago, that's gone now, but my ankle still aches": after
            # the sign is said to be over, "still" about something else does not bring it back
            # ("…, it went away but it still comes back" does).
            after_its_end = any(cue.start >= r.end for r in resolutions)
            elsewhere = after_its_end and not self._has_pronoun_subject(cue, clauses)
            if self._reaches(cue, ent, clauses) and not (elsewhere or self._about_another_complaint(cue, ent, clauses)):
                return False
        onset = any(_within(c, clause) for c in cues["onset"])  # "the fever started two weeks ago"
        for cue in [] if onset else cues["past_time"]:
            where = clauses.index(cue.start)
            if where == index or (where == index - 1 and self._passes_on(cue, clauses, where, index)):
                return True
        return any(self._resolves(c, ent, ents, clauses) for c in cues["resolved"])

    def _reaches(self, cue: Span, ent: Span, clauses: Clauses) -> bool:
        """An ongoing marker covers its sentence, and the sentence before when it opens its own
        sentence after at most a pronoun ("... last month. Still have it.")."""
        if cue.sent.start == ent.sent.start:
            return True
        return cue.sent.start == ent.sent.end and self._has_pronoun_subject(cue, clauses)

    def _passes_on(self, cue: Span, clauses: Clauses, where: int, index: int) -> bool:
        """A clause holding only the time cue ("Last summer, ...") or a time clause ("when I first
        hurt it last year, ...") sets the time of the clause after it in the same sentence."""
        if not clauses.same_sentence(where, index):
            return False
        rest = [t for t in clauses.span(where) if not (t.is_punct or _within(t, cue) or t.lower_ in self._fillers)]
        return not rest or clauses.first_word(where) in self._time_clauses

    def _resolves(self, cue: Span, ent: Span, ents: list[Span], clauses: Clauses) -> bool:
        """Does the resolution cue say this finding is over?"""
        if cue.start < ent.end:
            return False
        where, index = clauses.index(cue.start), clauses.index(ent.start)
        if where == index:  # "the redness around my ankle went away weeks ago"
            return cue.start - ent.end <= self._resolution_window
        if not self._has_pronoun_subject(cue, clauses):
            return False
        same_or_next = cue.sent.start == ent.sent.start or (
            cue.sent.start == ent.sent.end and clauses.index(cue.sent.start) == where
        )
        # "..., but that resolved": the nearest clause before the cue with findings
        nearest = max((clauses.index(e.start) for e in ents if e.end <= cue.start), default=None)
        return same_or_next and nearest == index

    def _has_pronoun_subject(self, cue: Span, clauses: Clauses) -> bool:
        """Only a pronoun and the like stand before the cue in its clause ("but that resolved")."""
        before = clauses.span(clauses.index(cue.start))
        words = [t for t in before if t.i < cue.start and not t.is_punct]
        return all(t.lower_ in self._pronoun_subjects for t in words)

    def _is_hypothetical(
        self,
        doc: Doc,
        ent: Span,
        ents: list[Span],
        clauses: Clauses,
        present: list[Span],
        cues: dict[str, list[Span]],
    ) -> bool:
        """Is the finding imagined ("what if I get a fever?") rather than reported?"""
        index = clauses.index(ent.start)
        clause = clauses.span(index)
        if any(_within(c, clause) for c in present):  # "what if I can't walk on it right now"
            return False
        # "what if I get a fever? I've got one now": the imagined sign is said to be here
        if any(c.start >= ent.end and c.sent.start <= ent.sent.end for c in cues.get("here_now", [])):
            return False

        def in_clause(kind: str, after: int = clause.start) -> list[Span]:
            return [c for c in cues.get(kind, []) if _within(c, clause) and c.start >= after]

        for cue in cues.get("cues", []) + [c for c in cues.get("clause_initial", []) if self._opens_clause(c, clauses)]:
            where = clauses.index(cue.start)
            if where == index and cue.start <= ent.start:
                return True
            fronted = cue.text in self._fronted and clauses.same_sentence(where, index)
            if where == index - 1 and fronted and self._holds_only(cue, clauses, where):
                return True
        first = clauses.first_token(index)
        if first is not None and first.lower_ == "should" and first.i < ent.start and in_clause("future", first.i):
            return True  # "should the ankle ever swell, ..."
        for token in clause:
            if token.lower_ != "if" or token.i >= ent.start or self._is_complement(doc, token):
                continue
            if in_clause("future", token.i):  # "if I can't bear weight one day"
                return True
            if not self._is_question(clauses, ent):
                continue  # "if I walk on it, it swells up": a habit, reported
            if self._asks_whether_one_sign_is_a_worry(ent, ents, token, cues.get("worry", [])):
                return True
            if any(c.end <= ent.start and not self._is_possessive(c) for c in in_clause("stative", token.i)):
                continue  # "what do I do if my knee is swollen?"
            starts = {e.start for e in ents}
            changes = in_clause("change", token.i) + [
                t for t in doc[token.i : clause.end] if t.lower_ in ("go", "goes") and t.i + 1 in starts
            ]
            if changes:
                return True
            counterfactual = any(c.sent.start == ent.sent.start for c in cues.get("counterfactual", []))
            if counterfactual and in_clause("counterfactual_change", token.i):
                return True
        return False

    def _compares(self, doc: Doc, ent: Span, clauses: Clauses) -> bool:
        """The sign is in a comparison ("…, like when an ankle swells up?") with no person in it."""
        clause = clauses.span(clauses.index(ent.start))
        before = [p for p in self._phrases(doc, "comparisons") if clause.start <= p.start < ent.start]
        persons = [t for t in doc[clause.start : ent.end] if t.lower_ in self._anchors]
        return bool(before) and not persons

    def _asks_whether_one_sign_is_a_worry(
        self, ent: Span, ents: list[Span], condition: Token, worry: list[Span]
    ) -> bool:
        """ "should I be worried if the area feels warm?", "is it bad if I can't bear weight?": one
        sign after "if", and the rest of the sentence asks whether to worry. Several signs
        ("...if my shin is red and swollen?") read like what the asker sees, and so does having
        one ("is it bad if I have a fever?"): they stay reports."""
        signs = [e for e in ents if e.sent.start == ent.sent.start and e.ent_id_ != _DENIAL]
        asks = any(c.sent.start == ent.sent.start and not condition.i <= c.start < ent.end for c in worry)
        # "is it bad if I have a fever?" says what the asker has
        has = any(t.lower_ in _POSSESSION for t in ent.doc[condition.i : ent.start])
        own = any(p.sent.start == ent.sent.start for p in self._phrases(ent.doc, "own_part"))
        return asks and len(signs) == 1 and not has and not own

    def _is_possessive(self, cue: Span) -> bool:
        """ "my son's shin": an 's after a person is no "is"."""
        return cue.text == "'s" and cue.start > 0 and cue.doc[cue.start - 1].lower_ in self._anchors

    def _opens_clause(self, cue: Span, clauses: Clauses) -> bool:
        first = clauses.first_token(clauses.index(cue.start))
        return first is not None and first.i == cue.start

    def _holds_only(self, cue: Span, clauses: Clauses, index: int) -> bool:
        """The clause holds only the cue: "Hypothetically, ..." passes it to the next clause."""
        return not [t for t in clauses.span(index) if not (t.is_punct or _within(t, cue) or t.lower_ in self._fillers)]

    def _is_complement(self, doc: Doc, token: Token) -> bool:
        """ "not sure if", "wondering if": "if" asks about the present and is no condition."""
        return any(t.lower_ in self._if_complements for t in doc[max(0, token.i - 2) : token.i])

    def _is_question(self, clauses: Clauses, ent: Span) -> bool:
        sentence = ent.sent
        if "?" in sentence.text:
            return True
        indices = {clauses.index(t.i) for t in sentence}
        if any(clauses.first_word(i) in self._openers for i in indices):
            return True
        # "if my leg swells up over the bone what should I do": a question after the condition
        words = [t.lower_ for t in sentence]
        return any(
            a in _WH and b in _MODALS and c in _PRONOUNS for a, b, c in zip(words, words[1:], words[2:], strict=False)
        )

    def _is_report(self, doc: Doc, ent: Span, clauses: Clauses, now_cues: list[Span]) -> bool:
        """Is the finding reported (about a person, or stated), or asked about in general? A
        question followed by a person having it now ("is it normal for the area over the bone
        to be red and hot? mine is right now") is a report."""
        sentence = ent.sent
        # someone, or "it", after the question, with a now or an onset: "mine is right now",
        # "it started last night, 38.2"
        later = [t for t in doc[sentence.end :] if t.lower_ in self._anchors or t.lower_ in ("it", "it's", "its")]
        if later and any(cue.start >= sentence.end for cue in now_cues):
            return True
        index = clauses.index(ent.start)
        asked = self._is_asked(clauses, index)
        if asked and self._asks_what_a_sign_would_mean(doc, ent, clauses):
            return False
        general = asked and (clauses.has_general(sentence) or self._asks_what_a_sign_means(doc, ent, clauses))
        general = general or (asked and self._asks_whether_to_worry_about(doc, ent))
        anchors = [t.lower_ for t in sentence if t.lower_ in self._anchors and not self._is_generic_they(t)]
        anchors += ["the sore" for p in self._phrases(doc, "own_part") if _within(p, sentence)]  # "the sore bone"
        if self._compares(doc, ent, clauses):
            return False  # "like when an ankle swells up"
        if any(not (general and a in self._askers) for a in anchors):
            return True
        return not asked

    def _phrases(self, doc: Doc, kind: str) -> list[Span]:
        """The message's phrases of one kind of the patterns file (own_part, comparisons…)."""
        return [doc[start:end] for match, start, end in self._worry_about(doc) if self.nlp.vocab.strings[match] == kind]

    def _is_generic_they(self, token: Token) -> bool:
        """ "why do they call swelling a red flag?": "they" who say or call things, no one in pain."""
        following = token.doc[token.i + 1] if token.i + 1 < len(token.doc) else None
        return token.lower_ == "they" and following is not None and following.lower_ in self._generic_they

    def _asks_whether_to_worry_about(self, doc: Doc, ent: Span) -> bool:
        """ "do I need to worry about swelling if I have BME?": a sign named in general right after
        "worry about", and only the asker in the message. "Should I worry about my swelling?" and
        "…? I have swelling now" stay reports."""
        right_after = any(p.end == ent.start for p in self._phrases(doc, "worry_about"))
        persons = [t for t in doc if t.lower_ in self._anchors and not self._is_generic_they(t)]
        return right_after and all(t.lower_ in self._askers for t in persons)

    def _asks_what_a_sign_would_mean(self, doc: Doc, ent: Span, clauses: Clauses) -> bool:
        """ "could a fever mean something worse is going on with my bone?": what a sign would mean,
        the asker's bone only after it. A person before it, or in another sentence ("…? I have
        one"), makes it a report."""
        clause = clauses.span(clauses.index(ent.start))
        means = ent.end < len(doc) and doc[ent.end].lower_ in _MEANS
        if not (means and ent.start > clause.start and doc[ent.start - 1].lower_ in ("a", "an")):
            return False
        persons = [t for t in doc if t.lower_ in self._anchors]
        return all(t.i >= ent.end and t.sent.start == ent.sent.start for t in persons)

    def _asks_what_a_sign_means(self, doc: Doc, ent: Span, clauses: Clauses) -> bool:
        """ "Does swelling mean I need to go to hospital?": a sign named in general (no "the",
        "my" or "this" before it), and the asker only after it, in the same clause, as the
        one who would act on the answer, and nowhere else in the message. "Does the swelling
        mean…", "my swelling" and "…? I have one now" stay reports."""
        index = clauses.index(ent.start)
        clause = clauses.span(index)
        if ent.start > clause.start and doc[ent.start - 1].lower_ in _SPECIFIC:
            return False
        persons = [t for t in doc if t.lower_ in self._anchors]  # "…? I have one now" is a report
        return bool(persons) and all(
            t.lower_ in self._askers and t.i >= ent.end and clauses.index(t.i) == index for t in persons
        )

    def _is_asked(self, clauses: Clauses, index: int) -> bool:
        """Does the clause open with a question word? A subordinate clause ("because ...",
        "if ...") takes the answer of the main clause before it, or, first in its sentence, after it."""
        if not clauses.is_subordinate(index):
            return clauses.first_word(index) in self._openers
        for neighbour in (index - 1, index + 1):
            if clauses.same_sentence(index, neighbour) and not clauses.is_subordinate(neighbour):
                return clauses.first_word(neighbour) in self._openers
        return clauses.first_word(index) in self._openers  # alone: "when is swelling a worry?"


_POSSESSION = {"have", "has", "'ve", "got", "having"}
_WH = {"what", "who", "how", "when", "where"}
_MODALS = {"should", "do", "does", "can", "could", "would", "will", "shall"}
_PRONOUNS = {"i", "we", "you", "he", "she", "they"}

# Words that make a named sign a particular one: "the swelling", "this redness".
_MEANS = {"mean", "means", "indicate", "indicates", "signal", "signals", "suggest", "suggests"}
_SPECIFIC = {"the", "this", "that", "these", "those", "any", "some", "a", "an"}

# A number that may be a temperature, with an optional unit stuck to it: "38.5", "38,5c", "101f".
_READING = re.compile(r"^(\d{2,3}(?:[.,]\d{1,2})?)(°?[cf]|°)?$")


_ANSWER_NO = {"no", "nope", "nah", "nop"}
_COMPLAINT_WINDOW = 5  # words after "still" in which its object may be named
_PAST_UNABLE = ("couldn't", "couldnt", "could not", "wasn't able", "was not able", "was unable", "weren't able")


def _answers_no(doc: Doc, first: Span, second: Span) -> bool:
    """An answer word, then only punctuation, then another cue: "no, not", "nope not"."""
    adjacent = first.end <= second.start and all(t.is_punct for t in doc[first.end : second.start])
    return adjacent and first.text.lower() in _ANSWER_NO


def _joins_words(doc: Doc, token: Token) -> bool:
    """A hyphen inside a word ("anti-inflammatories", "weight-bear") is no clause break."""
    spaced = bool(token.whitespace_) or (token.i > 0 and bool(doc[token.i - 1].whitespace_))
    return token.lower_ in ("-", "–") and not spaced


class Clauses:
    """A message's clauses: where each starts, and which open with a subordinating word."""

    def __init__(self, doc: Doc, starts: list[int], subordinate: set[int], fillers: set[str], general: set[int]):
        self._doc = doc
        self._starts = starts
        self._bounds = [*starts[1:], len(doc)]
        self._subordinate = subordinate
        self._fillers = fillers
        self._general = general

    def index(self, token: int) -> int:
        return bisect_right(self._starts, token) - 1

    def start(self, index: int) -> int:
        return self._starts[index]

    def span(self, index: int) -> Span:
        return self._doc[self._starts[index] : self._bounds[index]]

    def same_sentence(self, a: int, b: int) -> bool:
        if not (0 <= a < len(self._starts) and 0 <= b < len(self._starts)):
            return False
        return self._doc[self._starts[a]].sent.start == self._doc[self._starts[b]].sent.start

    def first_token(self, index: int) -> Token | None:
        """The clause's first word, after punctuation and fillers ("so", "ok", "and")."""
        return next((t for t in self.span(index) if not t.is_punct and t.lower_ not in self._fillers), None)

    def first_word(self, index: int) -> str | None:
        first = self.first_token(index)
        return first.lower_ if first is not None else None

    def is_subordinate(self, index: int) -> bool:
        words = [t for t in self.span(index) if not t.is_punct and t.lower_ not in self._fillers]
        return bool(words) and words[0].i in self._subordinate

    def has_general(self, sentence: Span) -> bool:
        return any(sentence.start <= i < sentence.end for i in self._general)


# Words that may stand before the unit of "<number> <unit> ago": "a couple of years ago".
_QUANTIFIERS = {"a", "an", "few", "couple", "of", "many", "several", "some", "two", "three", "the"}


def _within(part: Span | Token, whole: Span) -> bool:
    start, end = (part.i, part.i + 1) if isinstance(part, Token) else (part.start, part.end)
    return whole.start <= start and end <= whole.end


def _overlaps(cue: Span, ent: Span) -> bool:
    """A cue inside a finding ("can't" in "can't walk") belongs to that finding."""
    return cue.start < ent.end and ent.start < cue.end


@cache
def detector() -> RedFlagDetector:
    """The default detector, built once per process."""
    return RedFlagDetector()
