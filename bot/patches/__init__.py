"""Every place this project replaces or reaches into a private part of Rasa, in one package.

Rasa 3.6.21 is the last open-source Rasa release; these changes were written and tested against
it and no other version. Importing any of them checks the installed Rasa and refuses to go on
with another version, naming it: a private method may have changed shape, and a silent
mismatch would be worse than a clear stop. docs/rasa-deviations.md lists each deviation, why it
exists, and the test that shows Rasa's behaviour is kept.

- action_response_validation: action responses checked against a schema built once (global).
- event_types: `Event.resolve_by_type` answered from a table built once (global).
- action_server_connection: kept-alive connections to the action server, closed at shutdown
  (global, with `rasa.core.run.close_resources` extended to close them).
- sql_tracker_store: `SQLTrackerStore._retrieve` with Rasa's query built once (our store only).
- slack_content_type: the Slack request's content type made exact for Rasa's handler.
- socketio_rooms: Rasa's socket.io session handler, copied, with its missing `await`.
- channel_handler: Rasa's `register`, copied, giving every channel our message handler
  (feedback, metrics) and adding /metrics (global).
- running_agent: the agent `rasa run` keeps on its Sanic app, read by our channels' guard.

`install()` applies the global ones; `python -m bot` (Rasa's command line, what `make run`
starts) calls it before Rasa starts.
"""

from __future__ import annotations

from importlib.metadata import version

SUPPORTED_RASA = "3.6.21"


class UnsupportedRasaError(RuntimeError):
    """The installed Rasa is not the version these patches were written for."""


def check_rasa_version(installed: str | None = None) -> None:
    """Refuses any Rasa but the one the patches were written for."""
    installed = installed or version("rasa")
    if installed != SUPPORTED_RASA:
        raise UnsupportedRasaError(
            f"Rasa {installed} is installed, but bot/patches was written for Rasa {SUPPORTED_RASA} only: "
            "install the pinned version (make run does) or review each patch in docs/rasa-deviations.md."
        )


check_rasa_version()


def install() -> None:
    """Applies the patches that replace Rasa's own code for every user of it."""
    check_rasa_version()
    from bot.patches import action_response_validation, action_server_connection, channel_handler, event_types

    action_response_validation.install()
    event_types.install()
    action_server_connection.install()
    channel_handler.install()
