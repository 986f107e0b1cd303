"""A reviewer's labels, and the Rasa NLU training file they become.

A label gives one user message (a turn, by its event id) the intent it should have had, or
`out_of_scope`. Labels are kept in a JSON file (var/review-labels.json, git-ignored) and the
NLU file (data/nlu/reviewed.yml) is rewritten from all of them after every change, so it is
always ready for `make train`.

Never exported: a message already in a test set (tests/nlu/heldout.yml, tests/red_flags/,
tests/blind/: those measure what the assistant understands without having seen it, so they
are read only to leave their messages out, whatever their layout), one already in the training
data (Rasa refuses an example given two intents, and a repeat teaches nothing), a button's
payload ("/ask_cause"), and text Rasa would read as entity markup ("[knee](location)").
Messages are compared as a reader would: case, spacing and final punctuation aside.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from bot.settings import DOMAIN, ROOT

LABELS = ROOT / "var" / "review-labels.json"
REVIEWED = ROOT / "data" / "nlu" / "reviewed.yml"
TRAINING = ROOT / "data" / "nlu"
TESTS = ROOT / "tests"


def test_sets(tests: Path = TESTS) -> list[Path]:
    """The sets that measure the assistant on messages it has never seen."""
    return [
        tests / "nlu" / "heldout.yml",
        *sorted((tests / "red_flags").glob("*.yml")),
        *sorted((tests / "blind").glob("*.yml")),
    ]


OUT_OF_SCOPE = "out_of_scope"
_ENTITY_MARKUP = re.compile(r"\]\s*[({]")
_SPACES = re.compile(r"\s+")
_EDGES = " \t\n.?!,;:…\"'“”‘’"
HEADER = """\
# Messages from real conversations, with the intent a reviewer gave them on the review page
# (`make review`, tools/review/). Rewritten from the labels after every change; messages that
# are in a test set or already in the training data are left out. Ready for `make train`.
"""


def intents(domain: Path = DOMAIN) -> list[str]:
    """The intents a reviewer can choose, from the domain."""
    data = yaml.safe_load(domain.read_text(encoding="utf-8")) or {}
    return sorted(str(intent) for intent in data.get("intents") or [])


def normalise(text: str) -> str:
    """A message as a reader compares it: case, spacing and final punctuation aside."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", text).strip(_EDGES)


def one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def texts_in(path: Path) -> set[str]:
    """Every message a YAML file holds, whatever its layout: every string in it, and each line
    of a Rasa `examples: |` block. (More than the messages, never fewer: an id or a category
    name that matches a label would only leave that label out.)"""
    found: set[str] = set()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for text in _strings(data):
        found.add(normalise(text))
        for line in text.splitlines():
            if line.lstrip().startswith("- "):
                found.add(normalise(line.lstrip()[2:]))
    found.discard("")
    return found


def training_examples(folder: Path = TRAINING, leave_out: Path | None = REVIEWED) -> dict[str, str]:
    """The training examples of data/nlu/ (but the reviewed file itself), by normalised text."""
    examples: dict[str, str] = {}
    for path in sorted(folder.glob("*.yml")):
        if leave_out is not None and path.resolve() == leave_out.resolve():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if not isinstance(block, dict) or "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                if line.lstrip().startswith("- "):
                    examples[normalise(line.lstrip()[2:])] = str(block["intent"])
    return examples


@dataclass(frozen=True)
class Label:
    turn: int
    text: str
    intent: str
    labelled_at: str


class Labels:
    """The labels file: one label per turn, the latest wins."""

    def __init__(self, path: Path = LABELS) -> None:
        self.path = path
        self._labels: dict[int, Label] = {}
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8") or "{}")
            for item in data.get("labels") or []:
                label = Label(int(item["turn"]), str(item["text"]), str(item["intent"]), str(item["labelled_at"]))
                self._labels[label.turn] = label

    def get(self, turn: int) -> Label | None:
        return self._labels.get(turn)

    def all(self) -> list[Label]:
        return sorted(self._labels.values(), key=lambda label: label.turn)

    def set(self, turn: int, text: str, intent: str) -> Label:
        label = Label(turn, text, intent, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self._labels[turn] = label
        _write_atomically(self.path, json.dumps({"labels": [asdict(x) for x in self.all()]}, indent=1) + "\n")
        return label


@dataclass
class Export:
    """What the NLU file got, and why each label it did not get was left out."""

    path: Path
    examples: dict[str, list[str]] = field(default_factory=dict)  # intent -> texts
    left_out: dict[int, str] = field(default_factory=dict)  # turn -> reason

    @property
    def count(self) -> int:
        return sum(len(texts) for texts in self.examples.values())


LEFT_OUT_SEEN = "already in the training or test data"
LEFT_OUT_PAYLOAD = "a button's payload, not typed text"
LEFT_OUT_MARKUP = "reads as entity markup"


def export(
    labels: Iterable[Label],
    path: Path = REVIEWED,
    tests: Iterable[Path] | None = None,
    training: Path = TRAINING,
) -> Export:
    """Writes the labelled messages as Rasa NLU YAML, leaving out what must not be in it."""
    seen: set[str] = set()
    for test_set in test_sets() if tests is None else tests:
        seen |= texts_in(test_set)
    seen |= set(training_examples(training, leave_out=path))
    result = Export(path)
    given: set[str] = set()
    for label in labels:
        text, key = one_line(label.text), normalise(label.text)
        if text.startswith("/"):
            result.left_out[label.turn] = LEFT_OUT_PAYLOAD
        elif _ENTITY_MARKUP.search(text):
            result.left_out[label.turn] = LEFT_OUT_MARKUP
        elif key in seen:
            result.left_out[label.turn] = LEFT_OUT_SEEN
        elif key and key not in given:
            given.add(key)
            result.examples.setdefault(label.intent, []).append(text)
    _write_atomically(path, to_yaml(result.examples))
    return result


def to_yaml(examples: dict[str, list[str]]) -> str:
    lines = [HEADER + 'version: "3.1"', ""]
    if not examples:
        return "\n".join([*lines, "nlu: []", ""])
    lines.append("nlu:")
    for intent in sorted(examples):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in examples[intent]]
    return "\n".join(lines) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    """A reader (`make train`, another request) sees the old file or the new one, never half.
    The same text is not written again: a newer file would make `make train` train again."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
