"""The knowledge file: every article fact present, traceable, and a bad file fails loudly."""

from pathlib import Path

import pytest
import yaml

from bot.domain.knowledge import DEFAULT_PATH, KnowledgeError, knowledge, load_knowledge
from bot.settings import ARTICLE, ROOT

CATALOGUE = ROOT / "docs" / "answers.md"


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "knowledge.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_every_section_title_is_a_heading_of_the_article():
    article = ARTICLE.read_text(encoding="utf-8")
    for title in knowledge().sections.values():
        assert title in article, title


def test_every_answer_id_of_the_catalogue_is_answered_and_no_other():
    """docs/answers.md is the contract the blind sets are written against."""
    catalogue = CATALOGUE.read_text(encoding="utf-8")
    for answer in knowledge().answer_ids():
        assert f"`{answer}`" in catalogue, f"{answer} is not in docs/answers.md"


def test_the_lists_hold_what_the_article_lists():
    kb = knowledge()
    assert kb.answers["causes"].items == [
        "causes.overuse", "causes.stress_fracture", "causes.osteoarthritis", "causes.avascular_necrosis",
        "causes.inflammatory_arthritis", "causes.medication",
    ]  # fmt: skip
    assert len(kb.answers["diagnosis"].items) == 5
    assert len(kb.answers["mri_patterns"].items) == 3
    assert len(kb.answers["treatment"].items) == 5 and len(kb.answers["treatment.advanced"].items) == 5
    assert set(kb.shoe_table) == {"knee", "ankle", "foot", "hip"}
    assert len([a for a in kb.answers if a.startswith("faq.")]) == 6
    assert len([a for a in kb.answers if a.startswith("myths.")]) == 4
    assert set(kb.recovery_by_cause) == {c.removeprefix("causes.") for c in kb.answers["causes"].items}


def test_figures_and_names_carry_over_from_the_article():
    article = ARTICLE.read_text(encoding="utf-8")
    kb = knowledge()
    for row in kb.shoe_table.values():
        for model in row.examples:
            assert model in article, model
    for recovery in kb.recovery_by_cause.values():
        if recovery.duration:
            assert recovery.duration in article
    for figure in ("50–80%", "4–6 weeks", "15–20 minutes", "over 80%", "10%", "6 weeks to 6 months", "6–8 weeks"):
        assert (figure in article and any(figure in b for a in kb.answers.values() for b in a.text)) or any(
            figure in r.text for r in kb.recovery_by_cause.values()
        ), figure


def test_inferred_timeline_labels_stay_visible():
    # The article's two "Recovery:" lines carry no label; the file must say how it read them.
    for cause, recovery in knowledge().recovery_by_cause.items():
        if recovery.duration:
            assert recovery.basis and "no label" in recovery.basis, cause


def test_a_missing_field_is_named(tmp_path, raw):
    del raw["answers"]["causes.overuse"]["title"]
    with pytest.raises(KnowledgeError, match=r"answers -> causes.overuse -> title: field required"):
        load_knowledge(write(tmp_path, raw))


def test_a_misspelt_field_is_named(tmp_path, raw):
    raw["shoe_table"]["knee"]["exampels"] = raw["shoe_table"]["knee"].pop("examples")
    with pytest.raises(KnowledgeError, match=r"shoe_table -> knee -> exampels: extra fields not permitted"):
        load_knowledge(write(tmp_path, raw))


def test_an_unknown_section_is_refused(tmp_path, raw):
    raw["answers"]["faq.surgery"]["section"] = "surgery"
    with pytest.raises(KnowledgeError, match=r"answers -> faq.surgery: unknown section 'surgery'"):
        load_knowledge(write(tmp_path, raw))


def test_a_button_to_an_unknown_answer_is_refused(tmp_path, raw):
    raw["answers"]["causes"]["items"].append("causes.gout")
    with pytest.raises(KnowledgeError, match=r"causes: lists unknown answer 'causes\.gout'"):
        load_knowledge(write(tmp_path, raw))


def test_a_bubble_too_long_for_a_chat_window_is_refused(tmp_path, raw):
    raw["answers"]["definition"]["text"] = "word " * 100
    with pytest.raises(KnowledgeError, match="split it"):
        load_knowledge(write(tmp_path, raw))


def test_a_location_in_two_shoe_rows_is_refused(tmp_path, raw):
    raw["shoe_table"]["hip"]["covers"].append("knee")
    with pytest.raises(KnowledgeError, match="'knee' is covered by both 'knee' and 'hip'"):
        load_knowledge(write(tmp_path, raw))


def test_unreadable_files_fail_with_a_clear_message(tmp_path):
    with pytest.raises(KnowledgeError, match="Cannot read"):
        load_knowledge(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("answers: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="not valid YAML"):
        load_knowledge(broken)
