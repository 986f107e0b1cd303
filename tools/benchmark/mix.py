"""The benchmark's users: conversations shaped like real chats with the assistant.

A user asks a first question, then, turn after turn, either clicks one of the buttons the last
reply offered (a location, a cause, a yes/no of the symptom check), follows up on the topic
("and the hip?"), asks something new, or says thanks. Conversations last 1 to 30 turns: most
are short, some long (`turns_of_next_conversation`). About one in twenty-five describes a
warning sign somewhere. The user reacts to the assistant's actual replies, so the same seed
gives the same conversation only against the same assistant; the mix of moves is the same for
every assistant a run compares.

Pure Python, no I/O: the load generator (load.py) sends what `next_message` picks.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_TURNS = 30

# How long conversations are: (share of conversations, shortest, longest) in turns.
LENGTHS = ((0.35, 1, 3), (0.35, 4, 10), (0.30, 11, MAX_TURNS))

RED_FLAG_SHARE = 0.04  # of conversations, one warning sign at a random turn
BUTTON_SHARE = 0.7  # a reply with buttons gets a click this often, else a typed message
FOLLOW_UP_SHARE = 0.35
SMALL_TALK_SHARE = 0.08

QUESTIONS = (
    "what is bone marrow edema",
    "what causes bme?",
    "how long does it take to heal",
    "which shoes help with bone marrow oedema",
    "best running shoes for knee bme?",
    "does an x-ray show bme?",
    "how is it diagnosed",
    "how is bme treated",
    "can I keep running with it?",
    "is bone marrow edema serious?",
    "can it heal on its own?",
    "do I need surgery?",
    "what are the symptoms",
    "how do I get back to running",
    "how do I stop it coming back",
    "is total rest the only cure?",
    "should I keep the leg raised?",
    "does vitamin D help?",
    "what is the Altra Paradigm for?",
    "how long does overuse bme take to heal",
    "is BME an emergency?",
    "can orthotics help?",
)

FOLLOW_UPS = (
    "and the hip?",
    "what about the ankle?",
    "and for a stress fracture?",
    "what about ibuprofen?",
    "how long for that?",
    "why?",
    "is that serious?",
    "and if it's from overuse?",
    "what about an MRI?",
)

SMALL_TALK = ("hi", "thanks", "ok thanks", "bye")

RED_FLAGS = (
    "my ankle is swollen and red and I have a fever",
    "I can't put any weight on my leg since this morning",
    "the pain in my knee is unbearable and it's hot to the touch",
    "I'm shivery with a fever and my shin really hurts",
)


@dataclass
class User:
    """One simulated user: the conversation so far and what they will do next."""

    rng: random.Random
    turns: int
    red_flag_at: int | None
    sent: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return len(self.sent) >= self.turns


def turns_of_next_conversation(rng: random.Random) -> int:
    """How many turns a new conversation will last: 1 to 30, most of them short."""
    roll, total = rng.random(), 0.0
    for share, shortest, longest in LENGTHS:
        total += share
        if roll < total:
            return rng.randint(shortest, longest)
    return MAX_TURNS


def new_user(rng: random.Random, turns: int | None = None) -> User:
    """A user about to start a conversation (of `turns` turns, or a length drawn from LENGTHS)."""
    length = turns if turns is not None else turns_of_next_conversation(rng)
    red_flag_at = rng.randrange(length) if rng.random() < RED_FLAG_SHARE else None
    return User(rng, length, red_flag_at)


def buttons_of(replies: Sequence[dict[str, Any]]) -> list[str]:
    """The payloads of the buttons in the assistant's last replies (Rasa's REST format)."""
    return [b["payload"] for r in replies for b in r.get("buttons") or [] if b.get("payload")]


def next_message(user: User, last_replies: Sequence[dict[str, Any]]) -> str:
    """What the user sends next, given the assistant's replies to their previous message."""
    rng, turn = user.rng, len(user.sent)
    buttons = buttons_of(last_replies)
    if turn == user.red_flag_at:
        text = rng.choice(RED_FLAGS)
    elif turn == 0:
        text = rng.choice(SMALL_TALK[:1] + QUESTIONS) if user.turns > 1 else rng.choice(QUESTIONS)
    elif buttons and rng.random() < BUTTON_SHARE:
        text = rng.choice(buttons)
    else:
        roll = rng.random()
        if roll < FOLLOW_UP_SHARE:
            text = rng.choice(FOLLOW_UPS)
        elif roll < FOLLOW_UP_SHARE + SMALL_TALK_SHARE:
            text = rng.choice(SMALL_TALK[1:])
        else:
            text = rng.choice(QUESTIONS)
    user.sent.append(text)
    return text
