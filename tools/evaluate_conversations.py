"""Conversation evaluation: does the assistant give the right answer at every turn?

Runs each conversation of a set (tests/blind/*.yml, format in tests/blind/README.md) through
the trained model and a real action server, turn by turn, and compares the answers the
assistant gave with the answers the set expects. Answers are compared by id (docs/answers.md):
every bubble carries its answer id in the bot event's metadata (`answer`, set by the actions)
or is a domain response (`utter_action`), so wording can change without touching the sets.

A turn is right when:
- `expect: [urgent]`: the urgent-care response was among the replies;
- `expect: [not_urgent]`: the assistant answered, and not with the urgent response;
- otherwise: no urgent response, and the turn's answers are exactly the expected parts, in
  order (each part one id or a list of acceptable ids). A "did you mean" (`clarify`) counts
  as wrong unless the set accepts it.

Prints accuracy by category with 95% intervals, red-flag recall and over-triage, and every
wrong turn; writes the figures as JSON.

Usage: python -m tools.evaluate_conversations [SET.yml ...] [--json results/conversations.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.settings import MODEL, RESULTS, ROOT
from bot.turns import URGENT, answer_of
from tools.proportions import line, rate
from tools.serve import action_server_command, free_port, wait_until_ready

SETS = sorted((ROOT / "tests" / "blind").glob("*.yml"))
RESULTS_FILE = RESULTS / "conversations.json"

NOT_URGENT = "not_urgent"


@dataclass
class Turn:
    conversation: str
    text: str
    category: str
    expect: list[str | list[str]]
    answers: list[str] = field(default_factory=list)

    @property
    def right(self) -> bool:
        return judge(self.expect, self.answers)


def judge(expect: list[str | list[str]], answers: list[str]) -> bool:
    if expect == [URGENT]:
        return URGENT in answers
    if URGENT in answers or not answers:
        return False
    if expect == [NOT_URGENT]:
        return True
    if len(answers) != len(expect):
        return False
    pairs = zip(expect, answers, strict=True)  # lengths checked above
    return all(answer in ([part] if isinstance(part, str) else part) for part, answer in pairs)


def load_turns(path: Path) -> list[list[Turn]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        [Turn(conv["id"], t["text"], t["category"], list(t["expect"])) for t in conv["turns"]]
        for conv in data["conversations"]
    ]


async def _run(model: Path, conversations: list[list[Turn]], actions_url: str, tracker_store: Any = None) -> None:
    from rasa.core.agent import Agent  # imported here: loading Rasa takes seconds
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.utils.endpoints import EndpointConfig

    from bot.handler import handle_message

    class Replies(CollectingOutputChannel):
        """The answer ids of what the handler sent itself (the thanks for a 👍)."""

        def __init__(self) -> None:
            super().__init__()
            self.answers: list[str | None] = []

        async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
            self.answers.append(answer_of(message))
            await super().send_response(recipient_id, message)

    agent = Agent.load(str(model), action_endpoint=EndpointConfig(actions_url), tracker_store=tracker_store)
    for conversation in conversations:
        sender = f"eval-{uuid.uuid4().hex[:12]}"
        for turn in conversation:
            # through the channels' handler, as a user's message goes: a typed 👍 is feedback
            output = Replies()
            await handle_message(agent, UserMessage(turn.text, output, sender))
            # Every session: a store with a session window may have started a new one already.
            tracker = await agent.tracker_store.retrieve_full_tracker(sender)
            events = list(tracker.events)
            last_user = max((i for i, e in enumerate(events) if e.type_name == "user"), default=-1)
            if last_user < 0 or events[last_user].text != turn.text:  # kept as feedback, not a turn
                answers = [a for a in output.answers if a]
            else:
                bubbles = [e for e in events[last_user + 1 :] if e.type_name == "bot"]
                answers = [a for a in (answer_of(b.metadata or {}) for b in bubbles) if a]
            # An answer of several bubbles counts once.
            turn.answers = [a for i, a in enumerate(answers) if i == 0 or answers[i - 1] != a]


def answer(conversations_by_set: list[list[list[Turn]]], model: Path = MODEL, tracker_store: Any = None) -> None:
    """Runs every conversation through the model and a real action server, filling in each
    turn's answers. Rasa's in-memory tracker store unless `tracker_store` is given (a
    `TrackerStore`, e.g. ours with its session window)."""
    port = free_port()
    actions = subprocess.Popen(
        action_server_command(port), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if not wait_until_ready(f"http://127.0.0.1:{port}/health", actions, timeout_s=60):
            raise RuntimeError("the action server did not start")
        for conversations in conversations_by_set:
            asyncio.run(_run(model, conversations, f"http://127.0.0.1:{port}/webhook", tracker_store))
    finally:
        actions.terminate()
        actions.wait(10)


def evaluate(sets: list[Path], model: Path = MODEL) -> dict[str, Any]:
    loaded = {path.stem: load_turns(path) for path in sets}
    answer(list(loaded.values()), model)
    return {name: score([t for c in conversations for t in c]) for name, conversations in loaded.items()}


def score(turns: list[Turn]) -> dict[str, Any]:
    by_category: dict[str, list[Turn]] = defaultdict(list)
    for turn in turns:
        by_category[turn.category].append(turn)
    urgent = [t for t in turns if t.expect == [URGENT]]
    not_urgent = [t for t in turns if t.expect != [URGENT]]
    return {
        "overall": rate(sum(t.right for t in turns), len(turns)),
        "categories": {c: rate(sum(t.right for t in ts), len(ts)) for c, ts in sorted(by_category.items())},
        "red_flag_recall": rate(sum(URGENT in t.answers for t in urgent), len(urgent)),
        "over_triage": rate(sum(URGENT in t.answers for t in not_urgent), len(not_urgent)),
        "benign_over_triage": rate(
            sum(URGENT in t.answers for t in by_category.get("benign", [])), len(by_category.get("benign", []))
        ),
        "wrong": [
            {"id": t.conversation, "category": t.category, "text": t.text, "expect": t.expect, "got": t.answers}
            for t in turns
            if not t.right
        ],
    }


def print_report(results: dict[str, Any], show_wrong: bool = True) -> None:
    for name, report in results.items():
        print(f"\n{name}: turns answered right")
        for category, r in report["categories"].items():
            print(line(category, r))
        print(line("overall", report["overall"]))
        print(line("red flags routed", report["red_flag_recall"]))
        print(line("over-triage (benign)", report["benign_over_triage"]))
        print(line("over-triage (all)", report["over_triage"]))
        if show_wrong:
            for wrong in report["wrong"]:
                where = f"{wrong['id']} [{wrong['category']}]"
                print(f"  WRONG {where} {wrong['text']!r}: {wrong['expect']} -> {wrong['got']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", type=Path, default=SETS)
    parser.add_argument("--json", type=Path, default=RESULTS_FILE)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--quiet", action="store_true", help="figures only, not the wrong turns")
    args = parser.parse_args(argv)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    logging.disable(logging.WARNING)
    results = evaluate(args.sets, args.model)
    print_report(results, show_wrong=not args.quiet)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nFigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
