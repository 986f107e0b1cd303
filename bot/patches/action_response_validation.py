"""Validates custom action responses with a schema checked once, not on every call.

Rasa 3.6 checks every response from the action server with `jsonschema.validate`, which first
validates the schema itself against its meta-schema, then the response. The schema never
changes, yet that first step cost more CPU per message than the intent classifier
(docs/performance.md). `install()` swaps Rasa's method for one
that builds the validator once; what passes and what fails, and the error raised, are
Rasa's own. `bot.patches.install()` installs it (`python -m bot`, what tools/serve.py starts).
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@functools.cache
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's `RemoteAction._validate_action_result`, with the validator built once."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the "
        f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result
