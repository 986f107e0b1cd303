"""Misspellings one edit away: "ankel" is "ankle", "ibuprofin" is "ibuprofen".

Shared by the red-flag detector (bot/safety/red_flags.py), which respells sign words, and the
vocabulary entity extractor (bot/nlu/vocabulary_entity_extractor.py), which respells the names
of places, drugs, scans and treatments that the vocabulary lists. Pure Python: the caller says
which words are English, so an English word is never taken for a misspelt one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable


def collapse(word: str) -> str:
    """The word with runs of a letter cut to one: "reddd" and "red" are both "red"."""
    return re.sub(r"(.)\1+", r"\1", word)


def one_edit(a: str, b: str) -> bool:
    """True when one letter added, dropped or changed, or two neighbours swapped, turn a into b."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i, j = diff if len(diff) == 2 else (0, 0)
        return j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i in range(len(short)) if short[i] != long_[i]), len(short))
    return short[i:] == long_[i + 1 :]


def english(known_words: set[str]) -> Callable[[str], bool]:
    """Is a word a form in `known_words` (spaCy's lookup table), or a regular inflection of one
    ("talking", "waking", "running")?"""

    def is_english(word: str) -> bool:
        if word in known_words:
            return True
        for suffix in ("ing", "ed", "es", "s", "er", "est", "ly"):
            stem = word[: -len(suffix)]
            stems = {stem, stem + "e"} | ({stem[:-1]} if stem[-2:-1] == stem[-1:] else set())
            if word.endswith(suffix) and len(stem) >= 3 and stems & known_words:
                return True
        return False

    return is_english


class Respeller:
    """Finds the one listed word a misspelt word stands for, if exactly one is one edit away.

    Words shorter than `min_length` are left alone: at four letters, one edit reaches too many
    other words."""

    def __init__(self, words: Iterable[str], is_english: Callable[[str], bool], min_length: int = 5):
        self._words = {w for w in words if len(w) >= min_length}
        self._is_english = is_english
        self._min_length = min_length

    def respell(self, word: str) -> str | None:
        word = word.lower()
        if len(word) < self._min_length or not word.isalpha() or word in self._words or self._is_english(word):
            return None
        close = {w for w in self._words if one_edit(word, w)}
        return close.pop() if len(close) == 1 else None
