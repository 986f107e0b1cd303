"""The knowledge file: every article fact present, traceable, and a bad file fails loudly."""

from pathlib import Path

import pytest
import yaml

from bot.knowledge import DEFAULT_PATH, KnowledgeError, knowledge, load_knowledge

ARTICLE = Path(__file__).resolve().parents[2] / "shared" / "article" / "bone-marrow-edema.txt"


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "knowledge.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_every_section_title_is_a_heading_of_the_article():
    if not ARTICLE.exists():
        pytest.skip("the shared article is not beside this checkout")
    article = ARTICLE.read_text(encoding="utf-8")
    for title in knowledge().sections.values():
        assert title in article, title


def test_the_structured_parts_hold_what_the_article_lists():
    kb = knowledge()
    assert set(kb.causes.items) == {
        "overuse", "stress_fracture", "osteoarthritis", "avascular_necrosis", "inflammatory_arthritis", "medication",
    }  # fmt: skip
    assert set(kb.imaging.modalities) == {"xray", "mri", "ct", "bone_scan", "ultrasound"}
    assert len(kb.imaging.mri_patterns.items) == 3
    assert set(kb.shoes.by_location) == {"knee", "ankle", "foot", "hip"}
    assert {t for t in kb.topics if t.startswith("faq_")} == {
        "faq_heal_on_own", "faq_is_serious", "faq_what_to_avoid", "faq_ultrasound", "faq_surgery", "faq_walking",
    }  # fmt: skip
    assert len([t for t in kb.topics if t.startswith("myth_")]) == 4
    assert [q.speaker for q in kb.quotes] == ["Dr. Rachel Kim", "Dr. James Callahan"]


def test_figures_and_names_carry_over_from_the_article():
    if not ARTICLE.exists():
        pytest.skip("the shared article is not beside this checkout")
    article = ARTICLE.read_text(encoding="utf-8")
    kb = knowledge()
    for row in kb.shoes.by_location.values():
        assert row.label in article
        for model in row.examples:
            assert model in article, model
    for timeline in kb.recovery.timelines:
        assert timeline.duration in article
    for option in kb.treatments.options.values():
        for figure in ("50–80%", "4–6 weeks", "15–20 minutes"):
            if figure in option.detail:
                assert figure in article


def test_inferred_timeline_labels_stay_visible():
    # The article's two "Recovery:" lines carry no label; the file must say it inferred them.
    for timeline in knowledge().recovery.timelines:
        assert timeline.article_note and "no label" in timeline.article_note


def test_a_missing_field_is_named(tmp_path, raw):
    del raw["causes"]["items"]["overuse"]["mechanism"]
    with pytest.raises(KnowledgeError, match=r"causes -> items -> overuse -> mechanism: field required"):
        load_knowledge(write(tmp_path, raw))


def test_a_misspelt_field_is_named(tmp_path, raw):
    raw["shoes"]["by_location"]["knee"]["exampels"] = raw["shoes"]["by_location"]["knee"].pop("examples")
    with pytest.raises(KnowledgeError, match=r"shoes -> by_location -> knee -> exampels: extra fields not permitted"):
        load_knowledge(write(tmp_path, raw))


def test_an_unknown_section_is_refused(tmp_path, raw):
    raw["topics"]["faq_surgery"]["section"] = "surgery"
    with pytest.raises(KnowledgeError, match=r"topics -> faq_surgery: unknown section 'surgery'"):
        load_knowledge(write(tmp_path, raw))


def test_a_timeline_for_an_unknown_cause_is_refused(tmp_path, raw):
    raw["recovery"]["timelines"][0]["causes"] = ["over_use"]
    with pytest.raises(KnowledgeError, match="unknown cause 'over_use'"):
        load_knowledge(write(tmp_path, raw))


def test_a_location_in_two_shoe_rows_is_refused(tmp_path, raw):
    raw["shoes"]["by_location"]["hip"]["covers"].append("knee")
    with pytest.raises(KnowledgeError, match="'knee' is covered by both 'knee' and 'hip'"):
        load_knowledge(write(tmp_path, raw))


def test_unreadable_files_fail_with_a_clear_message(tmp_path):
    with pytest.raises(KnowledgeError, match="Cannot read"):
        load_knowledge(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("topics: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="not valid YAML"):
        load_knowledge(broken)
