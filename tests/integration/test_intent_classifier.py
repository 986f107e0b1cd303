"""The intent classifier (bot/nlu/linear_svm_intent_classifier.py), trained on our NLU data
through Rasa's own model storage, as `rasa train` does: what it predicts for the questions and
typos people send, that a saved model answers the same, and that a file it did not write is
not loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import skops.io
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.linear_svm_intent_classifier import ClassifierFileError, LinearSvmIntentClassifier
from bot.settings import ROOT

CONTEXT = ExecutionContext(GraphSchema({}), "test")


def train(storage_dir: Path) -> tuple[LinearSvmIntentClassifier, LocalModelStorage, Resource]:
    storage, resource = LocalModelStorage(storage_dir), Resource("intent_classifier")
    classifier = LinearSvmIntentClassifier.create({}, storage, resource, CONTEXT)
    training_data = RasaFileImporter(training_data_paths=[str(ROOT / "data" / "nlu")]).get_nlu_data()
    classifier.train(training_data)
    return classifier, storage, resource


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train(tmp_path_factory.mktemp("storage"))


def classify(classifier: LinearSvmIntentClassifier, text: str) -> Message:
    return classifier.process([Message({TEXT: text})])[0]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what exactly is bone marrow edema?", "ask_definition"),
        ("wat is bone marow edma", "ask_definition"),  # typos
        ("which trainers are best if the bme is in my foot", "ask_shoes"),
        ("how many weeks until a stress fracture heals", "ask_recovery_time"),
        ("does an xray pick it up", "myth_xray"),
        ("and the hip?", "inform"),
        ("thanks a lot", "thank"),
    ],
)
def test_it_recognises_questions_it_was_not_trained_on(trained, text, intent):
    assert classify(trained[0], text).get(INTENT)["name"] == intent


def test_the_ranking_is_ordered_and_its_confidences_are_probabilities(trained):
    message = classify(trained[0], "can I keep running with bone marrow oedema")
    ranking = message.get(INTENT_RANKING_KEY)
    confidences = [r["confidence"] for r in ranking]
    assert message.get(INTENT) == ranking[0] and len(ranking) == 10
    assert confidences == sorted(confidences, reverse=True)
    assert 0 < sum(confidences) <= 1.0 + 1e-9


@pytest.mark.parametrize("text", ["xqzv plonk wibbleton", "glorb fnarg", "asdfgh", "hmm", "lkjh qwpo zmxn"])
def test_gibberish_never_gets_a_confident_topic_answer(trained, text):
    # Either too unsure (the fallback offers what it might have meant), out of scope (the
    # assistant says what it covers) or small talk ("hmm" as an ok): never an answer about BME.
    intent = classify(trained[0], text).get(INTENT)
    small_talk = {"out_of_scope", "affirm", "deny", "greet", "thank", "goodbye", "help", "bot_challenge"}
    assert intent["confidence"] < 0.5 or intent["name"] in small_talk, intent


def test_a_saved_classifier_answers_the_same(trained):
    classifier, storage, resource = trained
    loaded = LinearSvmIntentClassifier.load({}, storage, resource, CONTEXT)
    for text in ("is it serious", "what shoes for knee bme", "my heel"):
        assert classify(loaded, text).get(INTENT_RANKING_KEY) == classify(classifier, text).get(INTENT_RANKING_KEY)


def test_a_foreign_classifier_file_stops_loading_with_a_clear_message(tmp_path):
    storage, resource = LocalModelStorage(tmp_path), Resource("intent_classifier")
    with storage.write_to(resource) as directory:
        skops.io.dump(
            {"not": "a classifier", "odd": __import__("fractions").Fraction(1, 3)}, directory / "classifier.skops"
        )
    with pytest.raises(ClassifierFileError, match=r"holds types this classifier never saves.*make train"):
        LinearSvmIntentClassifier.load({}, storage, resource, CONTEXT)


def test_a_damaged_classifier_file_stops_loading_with_a_clear_message(tmp_path):
    storage, resource = LocalModelStorage(tmp_path), Resource("intent_classifier")
    with storage.write_to(resource) as directory:
        (directory / "classifier.skops").write_bytes(b"PK\x03\x04 not really a zip file")
    with pytest.raises(ClassifierFileError, match=r"is damaged.*make train"):
        LinearSvmIntentClassifier.load({}, storage, resource, CONTEXT)


@pytest.mark.parametrize(
    ("text", "lead", "parts"),
    [
        # a question about the assistant beside a BME question: the BME question leads, so the
        # action answers both (a rule would say only the bot's answer)
        ("what can you do? what is bme?", "ask_definition", ["help", "ask_definition"]),
        # a statement is context for the question after it, and does not stop the split
        (
            "I run ultras and got BME last week. What should I avoid, and how do I stop it happening again?",
            "faq_what_to_avoid",
            ["faq_what_to_avoid", "ask_prevention"],
        ),
        # a list and one of its items
        (
            "what are the advanced treatments and are biologic injections any good?",
            "ask_advanced_treatment",
            ["ask_advanced_treatment", "ask_advanced_treatment"],
        ),
    ],
)
def test_a_message_with_several_questions_is_split_into_them(trained, text, lead, parts):
    message = trained[0].process([Message({TEXT: text, "entities": _entities(text)})])[0]
    assert message.get(INTENT)["name"] == lead
    assert [p[INTENT]["name"] for p in message.get("parts") or []] == parts


def _entities(text: str) -> list[dict]:
    """The entities the pipeline's extractor finds before the classifier (for the split)."""
    from bot.domain.vocabulary import load_vocabulary
    from bot.nlu.spacy_pipeline import build_pipeline

    doc = build_pipeline(load_vocabulary())(text.lower())
    named = [e for e in doc.ents if e.ent_id_]
    return [{"entity": e.label_, "value": e.ent_id_, "start": e.start_char, "end": e.end_char} for e in named]


def test_a_story_then_one_question_is_classified_by_the_question(trained):
    text = (
        "My son plays rugby and has had knee pain for weeks, and the MRI shows bone marrow edema "
        "in the tibial plateau. What should he avoid?"
    )
    assert classify(trained[0], text).get(INTENT)["name"] == "faq_what_to_avoid"


def test_a_part_that_names_a_treatment_is_a_question_of_its_own_however_unsure(trained):
    text = "Can steroids cause it, and does a cortisone injection help?"
    message = trained[0].process([Message({TEXT: text, "entities": _entities(text)})])[0]
    parts = [p["text"] for p in message.get("parts") or []]
    assert parts == ["Can steroids cause it", "does a cortisone injection help?"]


def test_a_question_of_ones_own_after_or_is_split_and_never_starts_the_symptom_check(trained):
    text = "can it heal without treatment or do I need physio"
    message = trained[0].process([Message({TEXT: text, "entities": _entities(text)})])[0]
    parts = message.get("parts") or []
    assert [p["text"] for p in parts] == ["can it heal without treatment", "do I need physio"]
    assert parts[1][INTENT]["name"] != "symptom_check"  # it asks about physiotherapy


def test_a_question_after_or_naming_a_scan_never_starts_the_symptom_check(trained):
    text = "could a CT show it or do I need an MRI"
    message = trained[0].process([Message({TEXT: text, "entities": _entities(text)})])[0]
    parts = message.get("parts") or []
    assert [p["text"] for p in parts] == ["could a CT show it", "do I need an MRI"]
    assert parts[1][INTENT]["name"] != "symptom_check"  # it asks about the scan
