"""A Rasa NLU component that routes every message describing a warning sign to `red_flag`.

It runs after the intent classifier and the FallbackClassifier, and combines two independent
layers so that routing to urgent care never depends on a classifier's confidence:

- the deterministic detector (bot/safety/red_flags.py) firing sets `red_flag`, whatever the intent
  classifier said;
- the classifier's own `red_flag` prediction is kept even when its confidence was too low and
  the FallbackClassifier replaced it with `nlu_fallback`, unless it is a near-guess
  (below `ALONE_MIN_CONFIDENCE`) on a message that names no warning sign at all ("night pain
  again in my hip"): on every red-flag set the detector sees a sign in every red flag, and the
  classifier gives a red flag less than that in under 5% of them;
- but when the message mentions warning signs without reporting one now, and the classifier
  alone said `red_flag`, the next likeliest intent answers it instead: signs only denied ("no
  fever, how long will it take?", "I can still walk"), asked about in general ("is swelling a
  symptom?"), over ("I had a fever last year, what causes BME?") or imagined ("what if I get a
  fever?"). The detector firing still always wins: a message that reports one sign now goes to
  urgent care whatever else it denies, asks or remembers.

The detector's assessment is added to the parse result under `red_flags`: the symptom check's
form validation (actions/) reads it there.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.names import RED_FLAG_INTENT, RED_FLAGS_KEY
from bot.safety.red_flags import RedFlagDetector, detector

# The least confidence at which the classifier alone sends a message that names no warning sign
# at all to urgent care. Measured on every set (docs/safety.md): with no sign word, a red_flag
# below 0.8 was a benign report every time ("pressing on my heel bone really hurts", "shin
# bone", "I overdid it at bootcamp, both shins feel sore and heavy", 0.38–0.74), while the one
# red flag the detector missed ("suddenly the pain is so bad I can't put the foot down") scored
# 0.89, and no red flag of any set since has needed the classifier alone.
ALONE_MIN_CONFIDENCE = 0.8


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class RedFlagOverride(GraphComponent, IntentClassifier):
    """Overrides the predicted intent with `red_flag` when a warning sign is described."""

    def __init__(self, red_flags: RedFlagDetector):
        self._detector = red_flags

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RedFlagOverride:
        return cls(detector())

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._route(message)
        return messages

    def _route(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        assessment = self._detector.assess(text)
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY)]
        classified = [r for r in ranking if r[INTENT_NAME_KEY] != DEFAULT_NLU_FALLBACK_INTENT_NAME]
        classifier_says_red_flag = bool(classified) and classified[0][INTENT_NAME_KEY] == RED_FLAG_INTENT
        # With no sign word at all, the classifier's red_flag counts only when it is sure.
        guessing = (
            classifier_says_red_flag
            and not assessment.findings
            and classified[0][PREDICTED_CONFIDENCE_KEY] < ALONE_MIN_CONFIDENCE
        )
        predicted = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if assessment.fires or (classifier_says_red_flag and not guessing and not assessment.mentioned_not_reported):
            message.set(INTENT, {INTENT_NAME_KEY: RED_FLAG_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}, add_to_output=True)
        elif classifier_says_red_flag and (predicted == RED_FLAG_INTENT or not guessing):
            # a guess the FallbackClassifier let through, or a sign denied, asked about in
            # general, over or imagined: answer the question
            runner_up = next((r for r in classified if r[INTENT_NAME_KEY] != RED_FLAG_INTENT), None)
            if runner_up is not None:
                message.set(INTENT, dict(runner_up), add_to_output=True)
        message.set(RED_FLAGS_KEY, assessment.as_parse_data(), add_to_output=True)
