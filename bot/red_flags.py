"""Deterministic red-flag detection: does a message describe a warning sign happening now?

This is the second, independent safety layer beside the NLU intent (see
bot/nlu/red_flag_override.py): routing to urgent care never depends on a classifier's
confidence. It is plain spaCy, built in code: a lookup lemmatizer and an entity ruler whose
patterns (bot/red_flag_patterns.yml) are matched on lemmas, then a NegEx-style negation check.

Why not negspacy's `negex` pipe as it is: its scope runs from a cue to the end of the
sentence, so "I can't sleep because my leg is swollen" would count the swelling as negated,
a missed emergency. We keep NegEx's algorithm and negspacy's clinical cue lists, but bound the
scope (a token window, ended by clause breaks and new subjects), treat hedges ("not sure if")
as pseudo-negations, and let two negations cancel ("it's not like I don't have a fever").

A finding counts when it is not negated and the message is a report (it mentions a person, or
is not phrased as a general question): "is swelling a symptom?" is a question for the FAQ,
"my ankle is swollen" and "ankle swollen, fever 38" are reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import spacy
import yaml
from negspacy.termsets import termset
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

DEFAULT_PATTERNS = Path(__file__).with_name("red_flag_patterns.yml")
_IGNORED = "not_a_finding"
_DENIAL = "denial"  # pattern id of phrases that deny a sign ("I can still walk")


@dataclass(frozen=True)
class Finding:
    category: str  # weight, fever, swelling or redness
    text: str
    negated: bool
    reported: bool  # its sentence is about a person, or is not a general question


@dataclass(frozen=True)
class Assessment:
    findings: tuple[Finding, ...]

    @property
    def categories(self) -> list[str]:
        """The warning signs the message reports, in a stable order."""
        return sorted({f.category for f in self.findings if f.reported and not f.negated})

    @property
    def fires(self) -> bool:
        return bool(self.categories)

    @property
    def only_denied_or_asked(self) -> bool:
        """Warning signs were mentioned, but only denied ("no fever", "I can still walk") or
        asked about in general ("is swelling a symptom?")."""
        return bool(self.findings) and not self.fires

    def as_parse_data(self) -> dict[str, list[str]]:
        """What Rasa's parse result carries under `red_flags` (bot/nlu/red_flag_override.py), so
        the action server can read the assessment without loading spaCy: the reported signs,
        the denied ones, and every sign mentioned at all."""
        return {
            "categories": self.categories,
            "negated": sorted({f.category for f in self.findings if f.negated}),
            "mentioned": sorted({f.category for f in self.findings}),
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

        self.nlp = spacy.blank("en")
        self.nlp.add_pipe("sentencizer")
        self.nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        self.nlp.initialize()
        self._lemmatizer = self.nlp.get_pipe("lemmatizer")
        ruler = self.nlp.add_pipe("entity_ruler", config={"validate": True})
        ruler.add_patterns(self._finding_patterns(config))

        clinical = termset("en_clinical").get_patterns()
        self._cues = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for kind, phrases in (
            ("pseudo", negation["pseudo"]),
            ("double", negation["double"]),
            ("preceding", clinical["preceding_negations"] + negation["preceding"]),
            ("following", clinical["following_negations"] + negation["following"]),
            ("termination", clinical["termination"] + negation["termination"]),
        ):
            self._cues.add(kind, list(self.nlp.tokenizer.pipe(sorted(set(phrases)))))

    def _lemmas(self, phrase: str) -> list[dict[str, str]]:
        return [{"LEMMA": token.lemma_} for token in self._lemmatizer(self.nlp.make_doc(phrase.lower()))]

    def _finding_patterns(self, config: dict) -> list[dict]:
        patterns = []
        for category, spec in config["categories"].items():
            phrases = list(spec.get("phrases", []))
            phrases += [f"{u} {a}" for u in spec.get("unable", []) for a in spec.get("action", [])]
            patterns += [{"label": category, "pattern": self._lemmas(p)} for p in phrases]
            denials = list(spec.get("denials", []))
            denials += [f"{a} {action}" for a in spec.get("able", []) for action in spec.get("action", [])]
            patterns += [{"label": category, "id": _DENIAL, "pattern": self._lemmas(p)} for p in denials]
        patterns += [{"label": _IGNORED, "pattern": self._lemmas(p)} for p in config["not_findings"]]
        return patterns

    def assess(self, text: str) -> Assessment:
        doc = self.nlp(text.lower())
        cues = self._negation_cues(doc)
        findings: list[Finding] = []
        previous: Span | None = None
        for ent in doc.ents:
            if ent.label_ == _IGNORED:
                continue
            previous_negated = findings[-1].negated if findings else False
            if ent.ent_id_ == _DENIAL:
                # "I can walk" denies the sign; "I don't think I can walk" and "not sure I can
                # walk" report it.
                denial_undone = self._is_negated(doc, ent, previous, False, cues, following=False)
                negated = not (denial_undone or self._is_hedged(ent, cues))
            else:
                negated = self._is_negated(doc, ent, previous, previous_negated, cues)
            findings.append(Finding(ent.label_, ent.text, negated, self._is_report(ent.sent)))
            previous = ent
        return Assessment(tuple(findings))

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
        if same_sentence and _is_list_continuation(doc[previous.end : ent.start]):
            return previous_negated  # "no fever, swelling or redness"
        scope_start = previous.end if same_sentence else ent.sent.start
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
            negated = len(in_scope) % 2 == 1  # "it's not like I don't": two negations cancel
            frames = [f for f in cues["double"] if f.end <= ent.start and f.sent.start == ent.sent.start]
            return not negated if negated and frames else negated
        for cue in cues["following"] if following else []:
            between = doc[ent.end : cue.start]
            if ent.end <= cue.start and len(between) <= self._following_window and not any(t.is_punct for t in between):
                return True
        return False

    def _is_report(self, sentence: Span) -> bool:
        words = [t.lower_ for t in sentence if not t.is_punct]
        if any(w in self._anchors for w in words):
            return True
        is_question = bool(words) and (words[0] in self._openers or sentence.text.rstrip().endswith("?"))
        return not is_question


def _overlaps(cue: Span, ent: Span) -> bool:
    """A cue inside a finding ("can't" in "can't walk") belongs to that finding."""
    return cue.start < ent.end and ent.start < cue.end


@cache
def detector() -> RedFlagDetector:
    """The default detector, built once per process."""
    return RedFlagDetector()


def build_pipeline() -> Language:
    """The detector's spaCy pipeline, e.g. to inspect its patterns."""
    return detector().nlp
