"""The intent classifier of bot/nlu/linear_svm_intent_classifier.py with more kinds of features,
for the comparison in docs/classifier-comparison.md; no served model uses it.

`features` picks the blocks, each TF-IDF block L2-normalised, all side by side before the same
calibrated linear SVM and the same several-questions split:

- `char`: character 1- to 5-grams of the text (today's component);
- `word`: word 1- and 2-grams of the text;
- `lemma`: 1- and 2-grams of the lemmas of the spaCy doc SpacyNLP puts on the message;
- `vocabulary`: the entity ruler's matches in that doc (data/vocabulary.yml), as one-hot
  tokens for the type and the type=value ("treatment", "treatment=nsaids");
- `embedding`: the mean of static token embeddings, L2-normalised: wordllama's l2_supercat
  (256 dimensions), read from the safetensors file and tokenizer JSON its package ships,
  with the `safetensors` and `tokenizers` packages, never with wordllama's own code (see
  docs/classifier-comparison.md). The two files are copied into the trained model.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
import skops.io
from bot.nlu.message_parts import candidate_parts
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.svm import LinearSVC

from bot.names import PARTS_KEY as PARTS
from bot.nlu.linear_svm_intent_classifier import _NOT_A_LEAD, _SAVED_TYPES

logger = logging.getLogger(__name__)

_FILE_NAME = "classifier.skops"
_EMBEDDING_FILE = "embedding.safetensors"
_TOKENIZER_FILE = "tokenizer.json"
_TOKENS = r"(?u)\b\w+\b"


@dataclass(frozen=True)
class _Span:
    """What the features read of a message, or of one question in it."""

    text: str
    lemmas: str = ""
    vocabulary: str = ""


def _span(message: Message, start: int = 0, end: int | None = None, doc_features: bool = True) -> _Span:
    text = message.get(TEXT) or ""
    end = len(text) if end is None else end
    doc = message.get(SPACY_DOCS[TEXT]) if doc_features else None
    if doc is None:
        return _Span(text[start:end])
    lemmas = " ".join(t.lemma_.lower() for t in doc if start <= t.idx < end and not t.is_space)
    vocabulary = " ".join(
        f"{e.label_} {e.label_}={e.ent_id_}" for e in doc.ents if e.ent_id_ and start <= e.start_char < end
    )
    return _Span(text[start:end], lemmas, vocabulary)


class _Embedder:
    """Mean of static token embeddings, L2-normalised (what wordllama's `embed(norm=True)` does)."""

    def __init__(self, weights: Path, tokenizer: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer  # not in requirements.lock: see docs/classifier-comparison.md

        self.matrix = next(iter(load_file(str(weights)).values())).astype(np.float32)
        self.tokenizer = Tokenizer.from_file(str(tokenizer))

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.matrix.shape[1]), dtype=np.float32)
        for i, encoding in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            if encoding.ids:
                vector = self.matrix[encoding.ids].mean(axis=0)
                out[i] = vector / (np.linalg.norm(vector) or 1.0)
        return out


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FeatureSvmIntentClassifier(GraphComponent, IntentClassifier):
    """Today's classifier with a choice of feature blocks (`features`)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "features": ["char"],
            "C": 1.0,
            "char_ngrams": [1, 5],
            "word_ngrams": [1, 2],
            "vocabulary_weight": 1.0,
            "embedding_weight": 1.0,
            "embedding_weights": None,  # a .safetensors file with one (vocabulary x dimensions) matrix
            "embedding_tokenizer": None,  # its `tokenizers` JSON
            "calibration_folds": 5,
            "random_seed": 1,
            "ranking_length": 10,
            "part_confidence": 0.4,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: dict[str, Any] | None = None,
        embedder: _Embedder | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._embedder = embedder
        self._doc_features = bool({"lemma", "vocabulary"} & set(self._config["features"]))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FeatureSvmIntentClassifier:
        return cls(config, model_storage, resource)

    def _vectorizers(self) -> dict[str, Any]:
        words = tuple(self._config["word_ngrams"])
        chars = tuple(self._config["char_ngrams"])
        make = {
            "char": lambda: TfidfVectorizer(analyzer="char", ngram_range=chars, sublinear_tf=True),
            "word": lambda: TfidfVectorizer(ngram_range=words, sublinear_tf=True, token_pattern=_TOKENS),
            "lemma": lambda: TfidfVectorizer(ngram_range=words, sublinear_tf=True, token_pattern=_TOKENS),
            "vocabulary": lambda: CountVectorizer(binary=True, lowercase=False, token_pattern=r"\S+"),
        }
        return {name: make[name]() for name in self._config["features"] if name in make}

    def _features(self, spans: list[_Span], fit: bool = False) -> scipy.sparse.csr_matrix:
        columns = {"lemma": [s.lemmas for s in spans], "vocabulary": [s.vocabulary for s in spans]}
        blocks = []
        for name, vectorizer in self._model["vectorizers"].items():
            column = columns.get(name) or [s.text for s in spans]
            matrix = vectorizer.fit_transform(column) if fit else vectorizer.transform(column)
            blocks.append(matrix * self._config["vocabulary_weight"] if name == "vocabulary" else matrix)
        if self._embedder is not None:
            dense = self._embedder([s.text for s in spans]) * self._config["embedding_weight"]
            blocks.append(scipy.sparse.csr_matrix(dense))
        return scipy.sparse.hstack(blocks, format="csr")

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        if not examples:
            return self._resource
        if "embedding" in self._config["features"]:
            weights, tokenizer = self._config["embedding_weights"], self._config["embedding_tokenizer"]
            self._embedder = _Embedder(Path(weights), Path(tokenizer))
        self._model = {"vectorizers": self._vectorizers()}
        features = self._features([_span(e, doc_features=self._doc_features) for e in examples], fit=True)
        svm = LinearSVC(C=self._config["C"], random_state=self._config["random_seed"])
        calibrated = CalibratedClassifierCV(svm, cv=self._config["calibration_folds"], ensemble=False)
        self._model["classifier"] = calibrated.fit(features, np.array([e.get(INTENT) for e in examples]))
        with self._model_storage.write_to(self._resource) as directory:
            skops.io.dump(self._model, directory / _FILE_NAME)
            if self._embedder is not None:
                shutil.copy(self._config["embedding_weights"], directory / _EMBEDDING_FILE)
                shutil.copy(self._config["embedding_tokenizer"], directory / _TOKENIZER_FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> FeatureSvmIntentClassifier:
        model, embedder = None, None
        try:
            with model_storage.read_from(resource) as directory:
                path = directory / _FILE_NAME
                unexpected = set(skops.io.get_untrusted_types(file=path)) - set(_SAVED_TYPES)
                if unexpected:
                    raise ValueError(f"{path} holds types this classifier never saves: {sorted(unexpected)}")
                model = skops.io.load(path, trusted=_SAVED_TYPES)
                if (directory / _EMBEDDING_FILE).exists():
                    embedder = _Embedder(directory / _EMBEDDING_FILE, directory / _TOKENIZER_FILE)
        except ValueError as error:
            logger.warning("%s not loaded (%s): it will predict no intent.", cls.__name__, error)
        return cls(config, model_storage, resource, model, embedder)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._model is None:
            return messages
        spans = [_span(m, doc_features=self._doc_features) for m in messages]
        for message, ranking in zip(messages, self._rank(spans), strict=True):
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            self._split(message)
        return messages

    def _rank(self, spans: list[_Span]) -> list[list[dict[str, Any]]]:
        classifier = self._model["classifier"]
        rankings = []
        for confidences in classifier.predict_proba(self._features(spans)):
            order = np.argsort(-confidences)[: self._config["ranking_length"]]
            rankings.append(
                [
                    {INTENT_NAME_KEY: str(classifier.classes_[i]), PREDICTED_CONFIDENCE_KEY: float(confidences[i])}
                    for i in order
                ]
            )
        return rankings

    def _split(self, message: Message) -> None:
        """As LinearSvmIntentClassifier._split, each part featurised from its own span."""
        text = message.get(TEXT) or ""
        spans = candidate_parts(text)
        if len(spans) < 2:
            return
        rankings = self._rank([_span(message, start, end, self._doc_features) for start, end in spans])
        if any(r[0][PREDICTED_CONFIDENCE_KEY] < self._config["part_confidence"] for r in rankings):
            return
        if len({r[0][INTENT_NAME_KEY] for r in rankings}) == 1:
            return
        parts = [
            {"text": text[start:end], "start": start, "end": end, INTENT: r[0], INTENT_RANKING_KEY: r[:5]}
            for (start, end), r in zip(spans, rankings, strict=True)
        ]
        lead = next((p for p in parts if p[INTENT][INTENT_NAME_KEY] not in _NOT_A_LEAD), parts[0])
        message.set(INTENT, lead[INTENT], add_to_output=True)
        message.set(INTENT_RANKING_KEY, lead[INTENT_RANKING_KEY], add_to_output=True)
        message.set(PARTS, parts, add_to_output=True)
