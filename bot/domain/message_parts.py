"""Where a message may hold several questions: "what causes it and how long does it take to heal?".

Candidate parts are sentences, and clauses joined by "and", "also", a comma or a dash when the
clause after the joint starts like a question ("…, and can I still run?", "hip - and can I
still swim?"). The intent classifier decides whether to keep the split: only when every part
classifies confidently on its own (bot/nlu/linear_svm_intent_classifier.py). Pure Python.
"""

from __future__ import annotations

import re

_QUESTION_CUE = (
    r"(?:how|what|which|when|where|why|who|whats|what's|can|could|do|does|did|is|are|am|will|would|should|"
    # "…and tell me where it happens", not "…and tell me what I've got" (a reading of one's report)
    r"may|might|any|r|wat|wot|tell me(?= (?:where|how|when|why|which|about))|explain|describe)\b"
)
# A sentence ends at ? or !, at a full stop followed by a space, or at an ellipsis ("knee
# BME...can I take ibuprofen?").
_SENTENCE_END = re.compile(r"[?!]+|\.{2,}|…|\.(?=\s)")
# Inside a sentence: a joint ("and", "also", "plus", a comma, a semicolon or a dash) followed by
# a clause that starts like a question.
_JOINT = re.compile(
    rf"(?:\s*[,;]\s*|\s+[-–—]+\s*|\s+)(?:(?:and|also|plus|&|n)\s+)?(?:also\s+)?(?={_QUESTION_CUE})"
    rf"|\s+[-–—]+\s+|\s*;\s*|\s*\+\s*"
    # "or" only before a question of the asker's own ("…, or should I try shockwave?", "…or do I
    # need an MRI?"): "can it be temporary or is it always there" is one question
    r"|,?\s+or\s+(?=(?:do|does|should|will|would|can|could)\s+(?:i|we)\b)",
    re.IGNORECASE,
)
_STARTS_LIKE_A_QUESTION = re.compile(rf"^\W*{_QUESTION_CUE}", re.IGNORECASE)
# A part this short stands alone ("hip", "symptoms of bme"); a longer statement is context for
# the question next to it ("He has BME. What shoes should he buy?").
_SHORT_PART_WORDS = 3
_WORD = re.compile(r"\w")
_LEADING_JOINT = re.compile(r"^(?:(?:and|also|plus|but|so|or|&)\b[\s,]*)+", re.IGNORECASE)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of a text's sentences (ended by ?, ! or a full stop and a space)."""
    return [(start, end) for start, end in _sentences(text) if _WORD.search(text[start:end])]


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, cut = [], start
    for match in _JOINT.finditer(text, start, end):
        joint_start = match.start()
        # Only a joint with words before it in this clause ("and how…" at the start is no joint),
        # and only joints with "and"/punctuation: a bare space before "is" is not a joint.
        if joint_start <= cut or not _WORD.search(text[cut:joint_start]):
            continue
        joint = text[match.start() : match.end()]
        if not re.search(r"[,;+\-–—]|\b(?:and|also|plus|or|n)\b|&", joint, re.IGNORECASE):
            continue
        spans.append((cut, joint_start))
        cut = match.end()
    spans.append((cut, end))
    return spans


def starts_like_a_question(text: str) -> bool:
    """ "how…", "whats…", "can I…": the text opens the way a question does."""
    return bool(_STARTS_LIKE_A_QUESTION.match(text))


def is_a_question(text: str) -> bool:
    """Ends with "?", or opens like a question and does not end as a statement does ("does
    ballet, she's got BME in her foot." is no question)."""
    text = text.strip()
    return text.endswith("?") or (starts_like_a_question(text) and not text.endswith("."))


# A short label before a colon: "Two q's: does…", "Physio here: what…".
_LABEL = re.compile(r"^[^:?]{1,25}:\s*")
# Words that open a message without being its question: "ok, so how is it diagnosed".
_FILLERS = re.compile(r"^(?:(?:ok|okay|right|so|well|hmm+|um+|alright|cool|great|thanks)\b[\s,.!]*)+", re.IGNORECASE)
# A request without a verb: "best shoes for knee bme", "tips for a stress reaction".
_REQUEST = re.compile(
    r"^(?:best|good|recommended|suitable|ideal|top|tips|advice|info|information|options)\b", re.IGNORECASE
)
# A question after a statement in the same clause: "my pain's gone so am I healed".
_INVERTED = re.compile(
    r"\b(?:so|but|then)\s+(?:am|is|are|can|could|do|does|should|will|would)\s+(?:i|it|we|you|he|she|they|that|this)\b",
    re.IGNORECASE,
)


# A phrase that qualifies the question before it: "does a walking stick count? for foot bme"
_QUALIFIER = re.compile(r"^(?:for|in|on|with|at|re)\b", re.IGNORECASE)


def _stands_alone(piece: str) -> bool:
    """A question ("…?", "how…", "can I…", "Two q's: does…", "ok, so how…", "…so am I healed"),
    a request ("best shoes for knee bme") or a short phrase, not a statement nor a qualifier."""
    piece = _FILLERS.sub("", _LABEL.sub("", piece.strip()))
    if _QUALIFIER.match(piece) and not piece.endswith("?"):
        return False
    return (
        piece.endswith("?")
        or bool(_STARTS_LIKE_A_QUESTION.match(piece) or _REQUEST.match(piece) or _INVERTED.search(piece))
        or len(piece.split()) <= _SHORT_PART_WORDS
    )


def _join_statements(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Joins each statement to the question after it (or before it, at the end)."""
    joined: list[tuple[int, int]] = []
    pending_start: int | None = None
    for start, end in spans:
        alone = _stands_alone(text[start:end])  # the piece itself, before a statement joins it
        if pending_start is not None:
            start, pending_start = pending_start, None
        if alone:
            joined.append((start, end))
        else:
            pending_start = start
    if pending_start is not None:
        if joined:
            joined[-1] = (joined[-1][0], spans[-1][1])
        else:
            joined.append((pending_start, spans[-1][1]))
    return joined


def candidate_parts(text: str) -> list[tuple[int, int]]:
    """Character spans of the possible questions in a message, in order; one span for a
    message that holds one question."""
    spans = []
    for start, end in _sentences(text):
        for clause_start, clause_end in _clauses(text, start, end):
            piece = text[clause_start:clause_end]
            if _WORD.search(piece):
                stripped = _LEADING_JOINT.sub("", piece.lstrip())
                lead = len(piece) - len(stripped)
                spans.append((clause_start + lead, clause_start + len(piece.rstrip())))
    return _join_statements(spans, text) if len(spans) > 1 else spans or [(0, len(text))]
