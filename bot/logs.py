"""What the logs may say: no message text, no sender id, no slot value, and never a secret.

These are conversations about people's health, and logs are copied, shipped and kept far more
loosely than the database. So, at the default log level (INFO):

- our own log lines name a sender only by `pseudonym(sender)`: a keyed hash, the key random
  per process and never written anywhere, so lines of one process can be correlated but the id
  cannot be recovered, not even by hashing a guessed one;
- our own log lines never quote a message (`said(text)` gives its length), nor a slot value;
- database errors show the statement, never its values (SQLAlchemy's `hide_parameters` in our
  tracker store, and PostgreSQL's own quotes of the statement and row hidden here);
- Rasa's own lines that name a conversation ("... for sender 'x'", "conversation ID 'x'")
  get the pseudonym instead, whatever their level;
- every secret the environment holds (tokens, signing secret, database and Redis passwords),
  and anything shaped like a Slack or Telegram token or a `?token=` in a URL, is replaced by
  `[secret]` in every line and traceback, at every level, even with LOG_MESSAGES on.

`LOG_MESSAGES=true` is for debugging: sender ids in clear, and each message's text logged as
it arrives (by the input guard). Rasa's own DEBUG level (`rasa run --debug`) logs texts, slots
and whole trackers whatever this says: never run it on real conversations.

`install()` puts the cleaning in Python's log record factory, so it applies to every logger
and handler of the process, including those Rasa, Sanic and the action server configure after
it, and sets our own loggers to INFO, as Rasa does its own (the root logger stays at WARNING).
`python -m bot` (Rasa) and the `actions` package (the action server) call it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from bot.settings import Settings

SECRET = "[secret]"
_MIN_SECRET_CHARS = 4  # shorter "secrets" would blank out ordinary words
_TOKEN_SHAPES = [
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]+"), SECRET),  # Slack tokens
    (re.compile(r"\bbot\d{3,}:[A-Za-z0-9_-]{3,}"), f"bot{SECRET}"),  # Telegram's token in an API URL
    (re.compile(r"([?&](?:token|auth_token|access_token)=)[^&\s'\"]+"), rf"\g<1>{SECRET}"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\g<1>{SECRET}"),
]
# How Rasa's own log lines name a conversation (rasa/core/processor.py, agent.py, exporter.py).
_RASA_SENDER = re.compile(r"(\b(?:sender|sender_id|sender id|conversation ID|conversation_id) )'([^']*)'")
# PostgreSQL's errors quote the failing statement with its values ("LINE 1: ... = 'U123'") and
# a conflicting row ("DETAIL:  Key (sender_id)=(U123)"); SQLAlchemy hides only its own copy.
_SQL_VALUES = re.compile(r"(?m)^(\s*(?:LINE \d+|DETAIL|HINT|CONTEXT|QUERY):).*$")


class LogPolicy:
    """What one process may log, from its settings."""

    def __init__(self, log_messages: bool = False, secret_values: Iterable[str] = ()) -> None:
        self.log_messages = log_messages
        self.secret_values = sorted({s for s in secret_values if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True)
        self._key = secrets.token_bytes(16)

    def pseudonym(self, sender: object) -> str:
        if self.log_messages:
            return repr(sender)
        digest = hmac.new(self._key, str(sender).encode(), hashlib.sha256).hexdigest()
        return f"sender#{digest[:10]}"

    def said(self, text: str) -> str:
        return repr(text) if self.log_messages else f"<{len(text)} characters>"

    def clean(self, line: str) -> str:
        """The line with every secret replaced and, unless LOG_MESSAGES, Rasa's sender ids hashed."""
        for value in self.secret_values:
            line = line.replace(value, SECRET)
        for pattern, replacement in _TOKEN_SHAPES:
            line = pattern.sub(replacement, line)
        if not self.log_messages:
            line = _SQL_VALUES.sub(r"\1 [hidden]", line)
            line = _RASA_SENDER.sub(lambda m: f"{m.group(1)}{self.pseudonym(m.group(2))}", line)
        return line


# Our packages' loggers: at INFO, like Rasa's own ("rasa"), whatever the root logger's level.
OUR_LOGGERS = ("bot", "actions", "tools")
_policy = LogPolicy()
_FORMATTER = logging.Formatter()
_INSTALLED = "_bme_cleaning_factory"


def pseudonym(sender: object) -> str:
    """How a log line names a sender: a keyed hash (in clear with LOG_MESSAGES)."""
    return _policy.pseudonym(sender)


def said(text: str) -> str:
    """How a log line shows a message: its length (the text itself with LOG_MESSAGES)."""
    return _policy.said(text)


def messages_logged() -> bool:
    return _policy.log_messages


def install(settings: Settings | None = None) -> LogPolicy:
    """Cleans every log record this process makes from now on (idempotent)."""
    global _policy
    settings = settings or Settings.from_env()
    _policy = LogPolicy(settings.log_messages, settings.secrets())
    current = logging.getLogRecordFactory()
    if not getattr(current, _INSTALLED, False):
        logging.setLogRecordFactory(_cleaning(current))
    for ours in OUR_LOGGERS:  # INFO, as Rasa sets its own: the root logger stays at WARNING
        logging.getLogger(ours).setLevel(logging.INFO)
    return _policy


def _cleaning(make_record: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            line = record.getMessage()
        except Exception:  # a malformed call: logging reports it itself when formatting
            return record
        try:
            cleaned = _policy.clean(line)
        except ImportError:  # a destructor logging while the interpreter shuts down
            return record
        if cleaned != line:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _policy.clean(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = _policy.clean(record.stack_info)
        return record

    setattr(make, _INSTALLED, True)
    return make
