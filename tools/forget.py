"""Deletes every stored event of one conversation, for an operator: `make forget SENDER=<id>`.

The same deletion as a user's confirmed "delete my conversation" (bot/stores/erasure.py), on
the store the assistant uses: SQLite at TRACKER_DB with the default endpoints, PostgreSQL with
RASA_ENDPOINTS=endpoints.production.yml and its DB_* variables. It may run while the assistant
serves; a turn of that very conversation in progress at the same moment may save its own
events after the deletion, so run it again if the user was chatting right then.

The sender id is the conversation's: the Slack user id (`U…`), the Telegram chat id, the web
chat's session id, or the REST `sender`. Nothing is printed but the count.

Usage: python -m tools.forget SENDER_ID
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

from tools.serve import endpoints_for

OUR_STORE = "bot.stores.tracker_store.TurnLimitedSQLTrackerStore"


def store_from_endpoints() -> Any:
    """The tracker store the assistant's endpoints file (RASA_ENDPOINTS) selects, as Rasa makes it."""
    with warnings.catch_warnings():  # Rasa's imports warn about their own dependencies
        warnings.simplefilter("ignore")
        from rasa.utils.endpoints import read_endpoint_config

        from bot.stores.tracker_store import TurnLimitedSQLTrackerStore

        path = endpoints_for(0, dict(os.environ))  # with TRACKER_DB applied, as `make run` does
        try:
            config = read_endpoint_config(str(path), "tracker_store")
        finally:
            path.unlink(missing_ok=True)
        if config is None or config.type != OUR_STORE:
            raise SystemExit(f"The endpoints file does not select {OUR_STORE}: nothing to delete from.")
        return TurnLimitedSQLTrackerStore(host=config.url, **config.kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sender", help="the conversation's sender id")
    sender = parser.parse_args(argv).sender
    if not sender.strip():
        parser.error("give the sender id: make forget SENDER=<id>")
    from bot.stores.erasure import erase_conversation

    deleted = erase_conversation(store_from_endpoints().engine, sender)
    print(f"Deleted {deleted} stored events of that conversation." if deleted else "Nothing stored for that sender id.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
