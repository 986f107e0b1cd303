"""Entity extraction: the words patients use become the canonical values the knowledge file uses."""

import pytest
import yaml

from bot.domain.knowledge import knowledge
from bot.domain.vocabulary import DEFAULT_PATH, load_vocabulary
from bot.nlu.spacy_pipeline import build_pipeline


@pytest.fixture(scope="module")
def nlp():
    return build_pipeline(load_vocabulary())


def entities(nlp, text: str) -> set:
    # Rasa's SpacyNLP lowercases text before spaCy sees it; do the same. Like the extractor,
    # keep only matches with a value (not the not_an_entity phrases).
    return {(ent.label_, ent.ent_id_) for ent in nlp(text.lower()).ents if ent.ent_id_}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("best trainers for my feet", {("location", "foot")}),
        # a physio saying who they are asks nothing about physiotherapy
        ("Physio here: what is first-line care?", set()),
        ("as a physiotherapist, which shoes do you suggest", set()),
        ("is physio worth it", {("treatment", "physical_therapy")}),
        ("will a steroid jab sort it out", {("treatment", "corticosteroid_injection")}),
        ("the tablets for osteoporosis", {("cause", "medication")}),
        ("the surgery one", {("treatment", "core_decompression")}),
        ("my physio said I should look at footwear", set()),
        ("the magnet one", {("modality", "mri")}),
        ("the jelly one they do on the skin", {("modality", "ultrasound")}),
        # running is a cause when it causes, not when the question is about running again
        ("can running cause it", {("cause", "overuse")}),
        ("how long until I can run again", set()),
        ("BME in both Knees", {("location", "knee")}),
        ("pain in the heel bone", {("location", "calcaneus")}),
        ("does sickle cell disease raise the risk", {("cause", "avascular_necrosis")}),
        ("should I keep the leg raised", {("treatment", "ice")}),
        ("what does naproxen do", {("treatment", "nsaids")}),
        ("what is the Altra Paradigm for", {("shoe", "foot")}),
        ("is night pain normal", {("symptom", "night_pain")}),
        ("what did Dr Kim say", {("expert", "kim")}),
        ("my 2nd metatarsal", {("location", "metatarsals")}),
        ("the metatarsels hurt", {("location", "metatarsals")}),
        ("edema in the medial femoral condyle", {("location", "femoral_condyle")}),
        ("femoral heads on both sides", {("location", "femoral_head")}),
        ("lower shin pain", {("location", "distal_tibia")}),
        ("my shin", {("location", "tibia")}),
        ("the thigh bone", {("location", "femur")}),
        ("is it a strss fracture", {("cause", "stress_fracture")}),
        ("caused by wear and tear", {("cause", "osteoarthritis")}),
        ("osteonecrosis of the hip", {("cause", "avascular_necrosis"), ("location", "hip")}),
        ("long-term steroids", {("cause", "medication")}),
        ("will an X-ray show it", {("modality", "xray")}),
        ("what about a CAT scan", {("modality", "ct")}),
        ("MRI scans", {("modality", "mri")}),
        ("a cortisone shot", {("treatment", "corticosteroid_injection")}),
        ("can I take nurofen", {("treatment", "nsaids")}),
        ("what is bone marrow edema", set()),
        # what the article never mentions is named, so it can be told so
        ("would acupuncture or CBD oil help", {("unlisted", "acupuncture"), ("unlisted", "cannabis")}),
        ("is it hereditary", {("unlisted", "heredity")}),
        ("my physio has an ultrasound machine", {("modality", "ultrasound")}),  # a person, not therapy
    ],
)
def test_lay_words_plurals_and_typos_map_to_canonical_values(nlp, text, expected):
    assert entities(nlp, text) == expected


def test_every_location_in_the_shoe_table_can_be_named():
    named = set(load_vocabulary()["location"])
    for row in knowledge().shoe_table.values():
        assert set(row.covers) <= named


@pytest.mark.parametrize(
    ("entity", "prefix"),
    [("cause", "causes"), ("modality", "imaging"), ("treatment", "treatment"), ("symptom", "symptoms"),
     ("expert", "experts"), ("shoe", "shoes"), ("mri_pattern", "mri_patterns")],
)  # fmt: skip
def test_every_value_the_vocabulary_names_has_its_answer(entity, prefix):
    vocabulary = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    answers = set(knowledge().answer_ids())
    for value in vocabulary[entity]:
        assert f"{prefix}.{value}" in answers, f"{entity} {value} has no answer {prefix}.{value}"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("ankel", ("location", "ankle")),
        ("ibuprofin", ("treatment", "nsaids")),
        ("zolendronate", ("treatment", "bisphosphonates")),
        ("scintigrapy", ("modality", "bone_scan")),
        # English words and short words are never respelt
        ("angle", None),
        ("stand", None),
        ("hips", None),
    ],
)
def test_a_name_misspelt_by_one_letter_is_read_as_that_name(word, expected):
    from bot.domain.spelling import Respeller, english
    from bot.nlu.spacy_pipeline import english_words, lemmatizing_english
    from bot.nlu.vocabulary_entity_extractor import vocabulary_names

    names = vocabulary_names()
    respelt = Respeller(names, english(english_words(lemmatizing_english()))).respell(word)
    assert (names[respelt] if respelt else None) == expected
