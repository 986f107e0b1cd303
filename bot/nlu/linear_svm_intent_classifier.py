"""A Rasa NLU intent classifier: a linear SVM over TF-IDF character n-grams.

Why not DIET: it understands our questions no better, and it was the largest cost of a message
(a TensorFlow call after three featurizers); this trains in seconds and needs no TensorFlow at
run time (docs/performance.md). Character 1- to 5-grams keep typos and spelling variants close
("edma", "oedema") and, running across spaces, carry short phrases too ("n it", "x-ray").

Why still characters only, and still our own component: side by side on the blind development
set, word and lemma n-grams, entity features and a static sentence embedding (wordllama) did
no better and made the parse slower; Rasa's LogisticRegressionClassifier did clearly worse,
not least because it cannot split a message that asks several questions
(docs/classifier-comparison.md has the table).

Confidences come from scikit-learn's sigmoid calibration of the SVM's scores on held-out folds
of the training data, so the FallbackClassifier's threshold (config.yml) means "how sure", as
it did with DIET. The component reads the message text itself, so it needs no featurizer
before it. It is saved with skops, loading only the types it is known to contain.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import skops.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

from bot.domain.message_parts import candidate_parts, is_a_question, sentence_spans
from bot.domain.understanding import ITEM_KINDS, UNLISTED
from bot.names import PARTS_KEY, WHOLE_KEY

logger = logging.getLogger(__name__)

# What skops reports as not trusted by default in a saved model of this shape; anything else
# in the file means it is not ours, and loading stops.
_SAVED_TYPES = [
    "scipy.sparse._csr.csr_matrix",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]
_FILE_NAME = "classifier.skops"

# A greeting, thanks or "are you a bot?" beside a question does not lead: "hi! what causes
# BME?" is ask_cause, and "are you a bot? what is BME?" goes to the action that answers every
# part in order (a rule would answer only the bot question).
_NOT_A_LEAD = {"greet", "thank", "goodbye", "affirm", "deny", "bot_challenge", "help"}


class ClassifierFileError(RasaException):
    """The saved classifier is missing, damaged or not one this component saved: the model
    must not load, or the assistant would serve with no intents at all."""


def _read_classifier(path: Path) -> Pipeline:
    """The saved pipeline, loading only the types this component saves."""
    advice = "retrain with `make train` (or delete models/ and run `make run`)"
    if not path.exists():
        raise ClassifierFileError(f"The intent classifier's file {path} is missing: {advice}.")
    try:
        unexpected = set(skops.io.get_untrusted_types(file=path)) - set(_SAVED_TYPES)
    except Exception as error:  # skops raises whatever its zip and JSON readers raise
        raise ClassifierFileError(f"The intent classifier's file {path} is damaged ({error}): {advice}.") from error
    if unexpected:
        raise ClassifierFileError(
            f"The intent classifier's file {path} holds types this classifier never saves "
            f"({', '.join(sorted(unexpected))}): it is not ours, so it is not loaded; {advice}."
        )
    try:
        return skops.io.load(path, trusted=_SAVED_TYPES)
    except Exception as error:
        raise ClassifierFileError(f"The intent classifier's file {path} is damaged ({error}): {advice}.") from error


def _named(message: Message, span: tuple[int, int]) -> frozenset[str]:
    """The kinds of things (entity types) a part of the message names."""
    start, end = span
    return frozenset(
        e.get("entity") for e in message.get(ENTITIES) or [] if start <= e.get("start", -1) and e.get("end", -1) <= end
    )


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearSvmIntentClassifier(GraphComponent, IntentClassifier):
    """Predicts the intent and a ranking of the likeliest intents with calibrated confidences."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "C": 1.0,  # the SVM's regularisation (scikit-learn's default; 0.3 scored lower held out)
            "char_ngrams": [1, 5],
            "calibration_folds": 5,
            "random_seed": 1,
            "ranking_length": 10,
            # A message is answered as several questions only when each part is classified
            # at least this surely on its own (bot/nlu/message_parts.py).
            "part_confidence": 0.4,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        pipeline: Pipeline | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._pipeline = pipeline

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearSvmIntentClassifier:
        return cls(config, model_storage, resource)

    def _new_pipeline(self) -> Pipeline:
        features = TfidfVectorizer(analyzer="char", ngram_range=tuple(self._config["char_ngrams"]), sublinear_tf=True)
        svm = LinearSVC(C=self._config["C"], random_state=self._config["random_seed"])
        # ensemble=False: one SVM trained on all the data, calibrated on the folds' scores, so
        # a prediction runs one SVM, not one per fold.
        return make_pipeline(
            features, CalibratedClassifierCV(svm, cv=self._config["calibration_folds"], ensemble=False)
        )

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        if not examples:
            logger.debug("No intent examples: %s stays untrained.", type(self).__name__)
            return self._resource
        texts = [e.get(TEXT) for e in examples]
        intents = np.array([e.get(INTENT) for e in examples])
        self._pipeline = self._new_pipeline().fit(texts, intents)
        with self._model_storage.write_to(self._resource) as directory:
            skops.io.dump(self._pipeline, directory / _FILE_NAME)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearSvmIntentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                pipeline = _read_classifier(directory / _FILE_NAME)
        except ValueError:  # only Rasa's storage raises it: nothing was saved (no intent examples)
            logger.warning("%s was not trained (no intent examples): it predicts no intent.", cls.__name__)
            pipeline = None
        return cls(config, model_storage, resource, pipeline)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._pipeline is None:
            return messages
        texts = [message.get(TEXT) or "" for message in messages]
        for message, ranking in zip(messages, self._rank(texts), strict=True):
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            self._split(message)
            if not message.get(PARTS_KEY):
                self._asked_after_a_story(message)
        return messages

    def _rank(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        pipeline = self._pipeline
        assert pipeline is not None, "process() checks that the classifier is trained"
        intents = pipeline.classes_
        rankings = []
        for confidences in pipeline.predict_proba(texts):
            order = np.argsort(-confidences)[: self._config["ranking_length"]]
            rankings.append(
                [{INTENT_NAME_KEY: str(intents[i]), PREDICTED_CONFIDENCE_KEY: float(confidences[i])} for i in order]
            )
        return rankings

    def _context_joined(
        self, text: str, spans: list[tuple[int, int]], rankings: list[list[dict[str, Any]]]
    ) -> tuple[list[tuple[int, int]], list[list[dict[str, Any]]]]:
        """Joins a statement the classifier cannot place ("I'm a physio.", "my daughter does
        ballet.") to the question after it (or, last, before it): context for that question,
        not a question of its own, so it does not stop the split."""
        while len(spans) > 1:
            unsure = next(
                (
                    i
                    for i, ((start, end), r) in enumerate(zip(spans, rankings, strict=True))
                    if r[0][PREDICTED_CONFIDENCE_KEY] < self._config["part_confidence"]
                    and not is_a_question(text[start:end])
                ),
                None,
            )
            if unsure is None:
                break
            other = unsure + 1 if unsure + 1 < len(spans) else unsure - 1
            first, last = min(unsure, other), max(unsure, other)
            joined = (spans[first][0], spans[last][1])
            spans = [*spans[:first], joined, *spans[last + 1 :]]
            rankings = [*rankings[:first], self._rank([text[joined[0] : joined[1]]])[0], *rankings[last + 1 :]]
        return spans, rankings

    def _asked_after_a_story(self, message: Message) -> None:
        """A story, then one question ("My son plays rugby… MRI shows BME in the tibial plateau.
        What should he avoid?"): the question says what is asked, when the classifier is surer
        of it alone than of the whole message. The story's words still name things (entities)."""
        text = message.get(TEXT) or ""
        sentences = sentence_spans(text)
        asked = [(start, end) for start, end in sentences if is_a_question(text[start:end])]
        if len(sentences) < 2 or len(asked) != 1:
            return
        start, end = asked[0]
        ranking = self._rank([text[start:end]])[0]
        whole = message.get(INTENT_RANKING_KEY) or [{PREDICTED_CONFIDENCE_KEY: 0.0}]
        if ranking[0][INTENT_NAME_KEY] in _NOT_A_LEAD:
            return  # "My mate says I should stay in bed. Is that right?" is no "yes"
        if ranking[0][PREDICTED_CONFIDENCE_KEY] > whole[0][PREDICTED_CONFIDENCE_KEY]:
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def _about_its_item(
        self, message: Message, text: str, span: tuple[int, int], ranking: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """A question the classifier cannot place that names a treatment or a shoe ("…, and
        does a cortisone injection help?") asks about that item: `inform`, which the actions
        answer with the item the entity names. So does "…, or do I need physio?" (or "an MRI?"),
        which the classifier takes for a request to check one's symptoms."""
        asks_for_the_check = ranking[0][INTENT_NAME_KEY] == "symptom_check"
        if ranking[0][PREDICTED_CONFIDENCE_KEY] >= self._config["part_confidence"] and not asks_for_the_check:
            return ranking
        named = _named(message, span)
        if UNLISTED in named and named <= {UNLISTED, "location"} and is_a_question(text[span[0] : span[1]]):
            # "Should I take turmeric for it, and is ice worth doing?": the article is silent on
            # turmeric, which the actions say, and the ice is answered beside it
            return [
                {INTENT_NAME_KEY: "out_of_scope", PREDICTED_CONFIDENCE_KEY: self._config["part_confidence"]},
                *ranking,
            ]
        # "…or do I need an MRI?" asks about the scan, not to check one's symptoms
        kinds = ITEM_KINDS | {"modality"} if asks_for_the_check else ITEM_KINDS
        if not (named & kinds) or not is_a_question(text[span[0] : span[1]]):
            return ranking
        return [{INTENT_NAME_KEY: "inform", PREDICTED_CONFIDENCE_KEY: self._config["part_confidence"]}, *ranking]

    def _split(self, message: Message) -> None:
        """Marks a message that asks several questions: `parts` in the parse data, and the
        message's intent is its first question's. Each part must classify confidently on its
        own, so an ordinary sentence with "and" in it stays one question."""
        text = message.get(TEXT) or ""
        spans = candidate_parts(text)
        if len(spans) < 2:
            return
        rankings = self._rank([text[start:end] for start, end in spans])
        spans, rankings = self._context_joined(text, spans, rankings)
        rankings = [self._about_its_item(message, text, span, r) for span, r in zip(spans, rankings, strict=True)]
        if len(spans) < 2 or any(r[0][PREDICTED_CONFIDENCE_KEY] < self._config["part_confidence"] for r in rankings):
            return
        if len({r[0][INTENT_NAME_KEY] for r in rankings}) == 1 and len({_named(message, s) for s in spans}) == 1:
            # One question, perhaps about two things ("shoes for the knee, and the hip?"); but
            # "what are the advanced treatments, and is PRP any good?" asks for the list and
            # for one item of it.
            return
        parts: list[dict[str, Any]] = [
            {"text": text[start:end], "start": start, "end": end, INTENT: r[0], INTENT_RANKING_KEY: r[:5]}
            for (start, end), r in zip(spans, rankings, strict=True)
        ]
        whole = {INTENT: message.get(INTENT), INTENT_RANKING_KEY: (message.get(INTENT_RANKING_KEY) or [])[:5]}
        message.set(WHOLE_KEY, whole, add_to_output=True)
        lead = next((p for p in parts if p[INTENT][INTENT_NAME_KEY] not in _NOT_A_LEAD), parts[0])
        message.set(INTENT, lead[INTENT], add_to_output=True)
        message.set(INTENT_RANKING_KEY, lead[INTENT_RANKING_KEY], add_to_output=True)
        message.set(PARTS_KEY, parts, add_to_output=True)
