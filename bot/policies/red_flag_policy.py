"""A dialogue policy that answers every `red_flag` message with the urgent response.

The rule `red_flag -> utter_urgent_care` covers ordinary conversations, but a rule only
matches the dialogue states it was written for. This policy, with a priority above RulePolicy,
makes the guarantee unconditional:

- inside the symptom check or the two-stage fallback, a described warning sign gets the urgent
  response at once, and the form or fallback loop is ended (`action_deactivate_loop`);
- with the action server down, a new conversation's session start fails and leaves the
  tracker in a state no rule expects; the urgent response is a domain response Rasa says
  itself, so it still goes out.

It predicts nothing in any other state, so every other turn is decided by the other policies.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.names import RED_FLAG_INTENT, URGENT_RESPONSE

# Above RulePolicy (4), so on equal confidence this policy decides.
PRIORITY = 7


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RedFlagPolicy(Policy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": PRIORITY}

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn: the behaviour is fixed

    def predict_action_probabilities(
        self, tracker: DialogueStateTracker, domain: Domain, rule_only_data: dict[str, Any] | None = None, **kwargs: Any
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        next_action = self._next_action(tracker)
        if next_action is None:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(next_action)] = 1.0
        # Flagged like RulePolicy's form and loop predictions, which otherwise overrule
        # every other prediction; among those, our higher priority wins.
        return self._prediction(probabilities, is_no_user_prediction=True)

    @staticmethod
    def _next_action(tracker: DialogueStateTracker) -> str | None:
        last_action = tracker.latest_action_name
        if tracker.latest_message is None or tracker.latest_message.intent.get("name") != RED_FLAG_INTENT:
            return None
        if last_action not in (URGENT_RESPONSE, ACTION_DEACTIVATE_LOOP_NAME):
            return URGENT_RESPONSE if _user_spoke_last(tracker) else None
        if last_action == URGENT_RESPONSE and tracker.active_loop_name:
            return ACTION_DEACTIVATE_LOOP_NAME
        return ACTION_LISTEN_NAME


def _user_spoke_last(tracker: DialogueStateTracker) -> bool:
    """True right after the user's message, before any action answered it."""
    for event in reversed(tracker.events):
        if event.type_name == "user":
            return True
        if event.type_name == "action" and getattr(event, "action_name", None) not in (None, "action_extract_slots"):
            return False
    return False
