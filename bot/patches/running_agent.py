"""The agent `rasa run` serves, as an input channel can reach it: `app.ctx.agent`.

Rasa 3.6 loads its agent (model, tracker store, lock store) in a `before_server_start`
listener and keeps it on the Sanic app as `app.ctx.agent` (rasa/core/run.py,
`load_agent_on_start`), which Rasa's own HTTP API reads; channels are never handed it. Our
input guard needs the lock store, to keep its own state where the lock store keeps the locks
(bot/stores/guard_state.py). Read only, in `after_server_start`, when the agent is loaded.
"""

from __future__ import annotations

from typing import Any

from sanic import Sanic


def lock_store_of(app: Sanic) -> Any | None:
    """The running agent's lock store, or None when no agent is loaded (a bare Sanic app)."""
    agent = getattr(app.ctx, "agent", None)
    return getattr(agent, "lock_store", None)
