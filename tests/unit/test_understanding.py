"""What a message asks for (bot/domain/understanding.py) and where it holds several questions
(bot/domain/message_parts.py), on their own: no Rasa, no model."""

from __future__ import annotations

import pytest

from bot.domain.message_parts import candidate_parts
from bot.domain.topics import Pick, payload_for
from bot.domain.understanding import Entity, Part, decide, decide_all, named_by, parts_of, read_choice, the_other
from bot.names import WHOLE_KEY


def part(text: str, intent: str | None, confidence: float = 0.9, **entities: str) -> Part:
    found = tuple(Entity(kind, value, 0, len(text)) for kind, value in entities.items())
    return Part(text, intent, confidence, found)


def answers(decision) -> list[str]:
    return [pick.answer for pick in decision.picks]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("what causes it and how long does it take to heal?", ["what causes it", "how long does it take to heal?"]),
        ("is it serious? and do I need surgery?", ["is it serious?", "do I need surgery?"]),
        ("which shoes for my knee, and can I still run?", ["which shoes for my knee", "can I still run?"]),
        ("hip - and can I still swim?", ["hip", "can I still swim?"]),
        ("symptoms of bme + what are the warning signs", ["symptoms of bme", "what are the warning signs"]),
        ("which shoes for knee BME...can I take ibuprofen?", ["which shoes for knee BME...", "can I take ibuprofen?"]),
        # "or" joins alternatives of one question, or a question of the asker's own
        ("can i keep walking on it or will it make it worse", None),
        # a request without a verb, a question after a filler or inside a statement: no context
        (
            "top trainers for ankle bme and can I wear them at work?",
            ["top trainers for ankle bme", "can I wear them at work?"],
        ),
        ("right, so what is it and how do I treat it?", ["right, so what is it", "how do I treat it?"]),
        (
            "the ache has stopped so does that mean it's healed, and can I race?",
            ["the ache has stopped so does that mean it's healed", "can I race?"],
        ),
        ("can it heal on its own or do I need physio", ["can it heal on its own", "do I need physio"]),
        # a short label before a colon does not make the first question a statement
        (
            "Two q's: does sickle cell raise the risk, and is a CT any use?",
            ["Two q's: does sickle cell raise the risk", "is a CT any use?"],
        ),
        # a statement joins the question after it, and the next question stands alone
        (
            "I run ultras and got BME. What should I avoid, and how do I stop it?",
            ["I run ultras and got BME. What should I avoid", "how do I stop it?"],
        ),
        # a statement is context for the question beside it, not a question of its own
        ("What shoes should my dad buy? He has bone marrow edema", None),
        ("I have a fever and my knee is swollen", None),
        ("can I walk and run with it?", None),
    ],
)
def test_a_message_is_cut_into_its_questions(text, parts):
    found = [text[start:end] for start, end in candidate_parts(text)]
    assert found == (parts or [text])


def test_an_item_named_in_a_topic_question_is_answered_directly():
    assert answers(decide(part("does naproxen help?", "ask_treatment", treatment="nsaids"), None)) == [
        "treatment.nsaids"
    ]
    assert answers(decide(part("recovery time for AVN?", "ask_recovery_time", cause="avascular_necrosis"), None)) == [
        "recovery.avascular_necrosis"
    ]


def test_a_topic_question_naming_nothing_gets_the_overview():
    assert answers(decide(part("what causes it?", "ask_cause"), None)) == ["causes"]


def test_a_bare_value_continues_the_previous_topic_or_picks_its_own():
    assert answers(decide(part("and the hip?", "inform", location="hip"), "shoes")) == ["shoes.hip"]
    assert answers(decide(part("and for AVN?", "inform", cause="avascular_necrosis"), "recovery")) == [
        "recovery.avascular_necrosis"
    ]
    assert answers(decide(part("and a CT?", "inform", modality="ct"), "shoes")) == ["imaging.ct"]


def test_a_what_if_about_an_item_is_a_follow_up_not_a_warning_sign_question():
    what_if = part("what if it's a stress fracture?", "ask_red_flags", cause="stress_fracture")
    assert answers(decide(what_if, "recovery")) == ["recovery.stress_fracture"]
    signs = Part("what if I get a fever?", "ask_red_flags", 0.9, (), (), 0, names_a_sign=True)
    assert answers(decide(signs, "recovery")) == ["red_flags"]


def test_whether_a_sign_asked_about_is_serious_gets_the_warning_signs():
    asked = Part("is it bad if the shin feels hot?", "faq_is_serious", names_a_sign=True, asks_about_a_sign=True)
    assert answers(decide(asked, None)) == ["red_flags"]
    # a sign denied, and the question is about BME itself
    denied = Part("no swelling, but is BME serious?", "faq_is_serious", names_a_sign=True)
    assert answers(decide(denied, None)) == ["faq.is_serious"]


def test_items_set_aside_leave_the_rest_of_the_list():
    aside = part("what if rest and physio aren't working?", "ask_treatment", treatment="relative_rest")
    assert answers(decide(aside, None)) == ["treatment.advanced"]


def test_a_dose_is_never_answered():
    dose = decide(part("how many mg of naproxen should I take?", "ask_treatment", treatment="nsaids"), None)
    assert dose.picks == () and dose.responses == ("out_of_scope",)


def test_unsure_offers_the_likeliest_answers_or_answers_a_clear_winner():
    unsure = Part("the thing", "nlu_fallback", 0.5, (), (("ask_cause", 0.25), ("faq_walking", 0.2), ("help", 0.1)))
    assert decide(unsure, None).clarify == ("causes", "faq.walking")
    clear = Part("shoes thing", "nlu_fallback", 0.5, (), (("ask_shoes", 0.45), ("faq_walking", 0.1)))
    assert answers(decide(clear, None)) == ["shoes"]


def test_several_questions_get_every_answer_once_and_a_fragment_nothing():
    decisions = decide_all(
        [
            part("can RA cause this", "ask_cause", cause="inflammatory_arthritis"),
            part("what pattern would the MRI show", "ask_mri_patterns"),  # borrows the RA
            part("worth it?", "out_of_scope"),
        ],
        None,
    )
    assert [answers(d) for d in decisions] == [
        ["causes.inflammatory_arthritis"],
        ["mri_patterns.inflammatory_arthritis"],
    ]


def test_a_whole_question_outside_the_article_is_told_so_beside_the_answers():
    decisions = decide_all(
        [
            part("how long will it take", "ask_recovery_time"),
            part("is the cold weather making it worse", "out_of_scope", 0.7),
        ],
        None,
    )
    assert [(answers(d), d.responses) for d in decisions] == [(["recovery"], ()), ([], ("out_of_scope",))]


def test_a_named_drug_leads_to_its_item_even_when_the_classifier_says_out_of_scope():
    assert answers(decide(part("can I take ibuprofen?", "out_of_scope", 0.62, treatment="nsaids"), None)) == [
        "treatment.nsaids"
    ]
    assert answers(decide(part("can high-dose steroids cause it?", "ask_cause", cause="medication"), None)) == [
        "causes.medication"
    ]
    dose = part("whats the dose of naproxen i should take", "out_of_scope", 0.8, treatment="nsaids")
    assert decide(dose, None).responses == ("out_of_scope",)


def test_braces_and_insoles_asked_with_shoes_are_the_treatment_items():
    assert answers(decide(part("should I wear a brace?", "ask_shoes", treatment="orthotics"), None)) == [
        "treatment.orthotics"
    ]


def test_shoes_asked_after_the_user_said_where_their_bme_is_get_that_row():
    assert answers(decide(part("which shoes then?", "ask_shoes"), None, location="calcaneus")) == ["shoes.foot"]
    assert answers(decide(part("which shoes then?", "ask_shoes"), None)) == ["shoes"]
    # a place named in the question itself wins over the one said before
    named = part("shoes for the hip?", "ask_shoes", location="hip")
    assert answers(decide(named, None, location="calcaneus")) == ["shoes.hip"]


def test_first_line_care_that_failed_leads_to_the_advanced_options():
    unsure = Part("what's done when the basic treatment doesn't help", "nlu_fallback", 0.5)
    assert answers(decide(unsure, None)) == ["treatment.advanced"]


@pytest.mark.parametrize(
    ("reply", "topic", "expected"),
    [
        (part("left knee", "inform", location="knee"), "shoes", "shoes.knee"),
        (part("the second one", "inform"), "causes", "causes.stress_fracture"),
        (part("number two", "deny"), "treatment", "treatment.ice"),
        (part("the last", "inform"), "diagnosis", "imaging.ultrasound"),
        (part("inflamatory arthritis", "nlu_fallback", 0.5), "recovery", "recovery.inflammatory_arthritis"),
        (part("the bisphosphonate one", "inform", treatment="bisphosphonates"), "causes", "causes.medication"),
        (part("the injection one", "inform"), "advanced_treatment", "treatment.biologics"),  # a word of one title
    ],
)
def test_a_typed_answer_to_the_assistants_question_is_read(reply, topic, expected):
    choice = read_choice([reply], topic)
    assert choice is not None and choice.pick.answer == expected


def test_a_different_question_is_not_taken_as_the_answer():
    other = part("how long does knee BME take to heal?", "ask_recovery_time", location="knee")
    assert read_choice([other], "shoes") is None


def test_a_statement_before_a_question_can_be_the_answer():
    text = "overuse i think, too much running. what shoes should i get?"
    whole = Part(text, "ask_shoes", 0.8, (Entity("cause", "overuse", 0, 7),))
    choice = read_choice([whole], "recovery")
    assert choice is not None and choice.pick.answer == "recovery.overuse" and choice.part is None


def test_a_short_answer_in_front_of_a_question_is_read_and_the_question_still_answered():
    text = "resting, but I'm a swimmer, can I keep swimming?"
    whole = Part(text, "myth_total_rest", 0.88, (Entity("treatment", "relative_rest", 0, 7),))
    choice = read_choice([whole], "treatment")
    assert choice is not None and choice.pick.answer == "treatment.relative_rest" and choice.part is None


def test_a_question_after_a_typed_answer_is_about_the_item_chosen():
    chosen = read_choice([part("Osteoarthritis", "inform", cause="osteoarthritis")], "causes")
    assert chosen is not None
    decisions = decide_all(
        [part("and what does recovery look like for that one?", "ask_recovery_time")],
        "causes",
        named=named_by(chosen.pick, "causes"),
    )
    assert [answers(d) for d in decisions] == [["recovery.osteoarthritis"]]


def test_how_many_weeks_it_takes_is_no_dose_question():
    assert answers(decide(part("how many months will this take", "ask_recovery_time"), None)) == ["recovery"]
    steroids = part("can high dose steroids cause bone marrow edema", "ask_cause", cause="medication")
    assert answers(decide(steroids, None)) == ["causes.medication"]


def test_first_line_care_named_in_a_question_about_the_advanced_options_is_set_aside():
    tried = part(
        "I've rested for 3 months. What are the next-level treatments?",
        "ask_advanced_treatment",
        treatment="relative_rest",
    )
    assert answers(decide(tried, None)) == ["treatment.advanced"]


def test_a_follow_up_naming_an_item_by_a_word_of_its_title():
    assert answers(decide(part("and the injections?", "inform"), "advanced_treatment")) == ["treatment.biologics"]


@pytest.mark.parametrize(
    ("answer", "payload"),
    [
        ("causes", "/ask_cause"),
        ("causes.overuse", '/ask_cause{"cause": "overuse"}'),
        ("treatment.eswt", '/ask_advanced_treatment{"treatment": "eswt"}'),
        ("shoes.knee", '/ask_shoes{"location": "knee"}'),
        ("faq.walking", "/faq_walking"),
        ("symptom_check.weight", "/symptom_check"),
    ],
)
def test_every_offered_answer_has_a_message_that_asks_for_it(answer, payload):
    assert payload_for(answer) == payload


def test_a_long_bone_is_asked_about():
    assert decide(part("shoes for my shin?", "ask_shoes", location="tibia"), None).picks == (Pick("shoes", "tibia"),)


def test_what_is_defined_is_what_the_question_names_not_where_the_user_read_it():
    text = "MRI says marrow oedema in my talus, what does that mean?"
    said = Part(text, "ask_definition", 0.8, (Entity("modality", "mri", 0, 3), Entity("location", "talus", 24, 29)))
    assert answers(decide(said, None)) == ["definition"]
    assert answers(decide(part("what is an MRI?", "ask_definition", modality="mri"), None)) == ["imaging.mri"]
    text = "hi, what actually is bone marrow edema? my MRI report mentions it"
    after = Part(text, "ask_definition", 0.8, (Entity("modality", "mri", 43, 46),))
    assert answers(decide(after, None)) == ["definition"]


def test_a_question_that_names_nothing_borrows_what_its_list_can_use():
    decisions = decide_all(
        [
            part("do bisphosphonates help it", "ask_treatment", treatment="bisphosphonates"),
            part("can they also cause it?", "ask_cause"),  # a drug that causes it: the medication cause
        ],
        None,
    )
    assert [answers(d) for d in decisions] == [["treatment.bisphosphonates"], ["causes.medication"]]


def test_a_fragment_beside_a_typed_answer_adds_nothing():
    decisions = decide_all([part("the nuclear one?", "nlu_fallback", 0.5)], "diagnosis", given=["imaging.bone_scan"])
    assert decisions == []


def test_whether_every_case_needs_treating_is_dr_kims_point():
    assert answers(decide(part("does every case of BME need treating?", "ask_treatment"), None)) == ["experts.kim"]
    assert answers(decide(part("is treatment always needed?", "faq_heal_on_own"), None)) == ["experts.kim"]
    assert answers(decide(part("does BME need treatment?", "faq_heal_on_own"), None)) == ["faq.heal_on_own"]


def test_what_an_x_ray_is_for_is_not_the_myth_that_it_shows_bme():
    assert answers(decide(part("why x-ray me first?", "myth_xray", modality="xray"), None)) == ["imaging.xray"]
    assert answers(decide(part("will it show up on an x-ray?", "myth_xray", modality="xray"), None)) == ["myths.xray"]
    assert answers(decide(part("can an xray pick up bme", "myth_xray", modality="xray"), None)) == ["myths.xray"]


def test_who_gets_it_most_is_a_question_about_the_cause():
    common = part("is it common in ballet dancers?", "ask_locations", cause="overuse")
    assert answers(decide(common, None)) == ["causes.overuse"]
    assert answers(decide(part("is it common in the knee?", "ask_locations", location="knee"), None)) == ["locations"]


def test_what_the_article_never_mentions_is_told_so_not_guessed_at():
    silent = decide(part("would cupping help?", "ask_treatment", unlisted="cupping"), None)
    assert silent.picks == () and silent.responses == ("out_of_scope",)
    # beside something the article covers, that is answered
    beside = part(
        "is physio better than a massage?", "ask_treatment", treatment="physical_therapy", unlisted="manual_therapy"
    )
    assert answers(decide(beside, None)) == ["treatment.physical_therapy"]
    genetic = part(
        "sickle cell is genetic, does it raise the risk?", "ask_cause", cause="avascular_necrosis", unlisted="heredity"
    )
    assert answers(decide(genetic, None)) == ["causes.avascular_necrosis"]


def test_a_walking_aid_is_the_crutches_item_and_the_verb_stick_is_not():
    aid = Part("can I use a walking stick?", "faq_walking", 0.9, (Entity("treatment", "crutches", 11, 24),))
    assert answers(decide(aid, None)) == ["treatment.crutches"]
    verb = Part("should I stick to walking?", "faq_walking", 0.9, (Entity("treatment", "crutches", 9, 14),))
    assert answers(decide(verb, None)) == ["faq.walking"]


def test_only_what_a_cue_sets_aside_leaves_the_list():
    text = "is the pain deep inside the bone rather than on the surface?"
    deep = Part(text, "ask_symptoms", 0.9, (Entity("symptom", "deep_pain", 17, 32),))
    assert answers(decide(deep, None)) == ["symptoms.deep_pain"]


def test_a_question_about_the_warning_signs_after_a_story_naming_a_cause_gets_the_signs():
    story = part(
        "our clinic sees lots of runners. what do you tell people about red flags?", "ask_red_flags", cause="overuse"
    )
    assert answers(decide(story, None)) == ["red_flags"]


def test_small_talk_of_several_parts_is_still_answered():
    bye = [part("ok cheers", "thank"), part("that's all, bye", "goodbye")]
    assert [d.responses for d in decide_all(bye, None)] == [("goodbye",)]


def test_what_is_that_after_an_item_adds_nothing():
    asked = [
        part("they mentioned drilling into the bone", "ask_advanced_treatment", treatment="core_decompression"),
        part("what is that", "ask_definition"),
    ]
    assert [answers(d) for d in decide_all(asked, None)] == [["treatment.core_decompression"], []]


def test_the_causes_in_the_plural_are_the_list_whatever_a_story_named():
    story = part("she dances every day. what are the usual causes of this?", "ask_cause", cause="overuse")
    assert answers(decide(story, None)) == ["causes"]


def test_whether_a_sign_asked_about_is_an_emergency_gets_the_warning_signs():
    imagined = Part("if my foot went red would that be an emergency?", "ask_shoes", 0.9, asks_about_a_sign=True)
    assert answers(decide(imagined, None)) == ["red_flags"]


def test_what_about_continues_the_list_of_the_question_before_it():
    asked = [
        part("does alcohol cause BME?", "ask_cause", cause="avascular_necrosis"),
        part("what about long term bisphosphonates?", "ask_treatment", treatment="bisphosphonates"),
    ]
    assert [answers(d) for d in decide_all(asked, None)] == [["causes.avascular_necrosis"], ["causes.medication"]]


def test_a_message_nobody_could_place_is_never_met_with_silence():
    unplaced = [part("my foot has been sore for two weeks, 3/10", "red_flag", 0.5), part("nothing visible.", "deny")]
    decision = decide_all(unplaced, None)[0]
    assert decision.picks or decision.clarify or decision.responses


def test_a_part_taken_for_a_red_flag_in_a_message_not_sent_to_urgent_care_is_its_next_likeliest_question():
    ranking = [{"name": "red_flag", "confidence": 0.54}, {"name": "describe_symptoms", "confidence": 0.3}]
    raw = {"text": "sore for two weeks", "intent": ranking[0], "intent_ranking": ranking, "start": 0, "end": 18}
    message = {
        "text": "sore for two weeks. fine otherwise",
        "intent": {"name": "describe_symptoms"},
        "parts": [raw, raw],
    }
    assert [p.intent for p in parts_of(message)] == ["describe_symptoms", "describe_symptoms"]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "what should I avoid, and am I still allowed to swim?",
            ["what should I avoid", "am I still allowed to swim?"],
        ),
        # a phrase after a question qualifies it: one question about the foot
        ("does a walking stick count as offloading? for foot bme", None),
    ],
)
def test_am_i_starts_a_question_and_a_qualifier_does_not(text, parts):
    spans = candidate_parts(text)
    assert [text[a:b] for a, b in spans] == (parts or [text])


def test_a_risk_factor_question_is_about_the_cause_it_is_a_risk_for():
    text = "My husband is on long term steroids. Is steroid use a risk for AVN?"
    entities = tuple(
        Entity("cause", value, text.index(word), text.index(word) + len(word))
        for value, word in (("medication", "steroids"), ("medication", "steroid use"), ("avascular_necrosis", "AVN"))
    )
    assert answers(decide(Part(text, "ask_cause", 0.66, entities), None)) == ["causes.avascular_necrosis"]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (
            part("I'm walking with a bit of a limp, is that part of this?", "faq_walking", 0.7, symptom="limp"),
            "symptoms.limp",
        ),
        # an unsure "are you a bot?" that names a symptom asks about the symptom
        (part("why am I limping with this", "bot_challenge", 0.52, symptom="limp"), "symptoms.limp"),
        # how BME is treated with knee OA is said in the OA item
        (
            part("How is BME managed when it comes with knee osteoarthritis?", "ask_treatment", cause="osteoarthritis"),
            "causes.osteoarthritis",
        ),
        (part("how is overuse BME treated?", "ask_treatment", cause="overuse"), "treatment"),
    ],
)
def test_what_a_question_names_says_which_item_it_asks_about(asked, expected):
    assert answers(decide(asked, None)) == [expected]


def test_a_sure_bot_question_is_still_one():
    assert decide(part("am I talking to a bot?", "bot_challenge", 0.9), None).responses == ("bot_challenge",)


def test_that_kind_after_an_mri_pattern_is_its_cause():
    first = part("what does the linear pattern mean on MRI", "ask_mri_patterns", mri_pattern="stress_fracture")
    second = part("how long does that kind take to heal?", "ask_recovery_time")
    decisions = decide_all([first, second], None)
    assert [answers(d) for d in decisions] == [["mri_patterns.stress_fracture"], ["recovery.stress_fracture"]]


def test_which_scan_after_an_x_ray_question_asks_for_another_scan():
    first = part("will an x-ray show it?", "myth_xray", modality="xray")
    second = part("which scan does?", "ask_imaging")
    decisions = decide_all([first, second], None)
    assert [answers(d) for d in decisions] == [["myths.xray"], ["diagnosis"]]


def test_what_to_do_after_a_what_if_adds_nothing_and_a_dose_is_told_out_of_scope():
    decisions = decide_all(
        [part("What if my leg goes red and swollen?", "ask_red_flags"), part("what do I do then", "help", 0.6)], None
    )
    assert [a for d in decisions for a in (*answers(d), *d.responses, *d.clarify)] == ["red_flags"]
    decisions = decide_all(
        [
            part("what are bisphosphonates used for with BME", "ask_advanced_treatment", treatment="bisphosphonates"),
            part("what's the dosage?", "out_of_scope", 0.67),
        ],
        None,
    )
    assert [(answers(d), d.responses) for d in decisions] == [
        (["treatment.bisphosphonates"], ()),
        ([], ("out_of_scope",)),
    ]


def test_a_typed_list_chooses_each_item_and_a_story_chooses_one():
    text = "ice and nsaids"
    listed = Part(text, "nlu_fallback", 0.5, (Entity("treatment", "ice", 0, 3), Entity("treatment", "nsaids", 8, 14)))
    choice = read_choice([listed], "treatment")
    assert choice is not None and [p.answer for p in (choice.pick, *choice.also)] == [
        "treatment.ice",
        "treatment.nsaids",
    ]
    text = "avascular necrosis from the steroids I was on"
    story = Part(
        text, "inform", 0.6, (Entity("cause", "avascular_necrosis", 0, 18), Entity("cause", "medication", 28, 36))
    )
    choice = read_choice([story], "recovery")
    assert choice is not None and choice.pick.answer == "recovery.avascular_necrosis" and choice.also == ()


def test_a_follow_up_the_classifier_took_for_the_warning_signs_continues_the_topic():
    asked = part("what would you suggest for the hip then?", "ask_red_flags", 0.5, location="hip")
    assert answers(decide(asked, "shoes")) == ["shoes.hip"]
    assert answers(decide(part("what should I do then?", "ask_red_flags", 0.8), "shoes")) == ["red_flags"]


def test_how_a_cause_shows_on_a_scan_is_its_mri_pattern():
    asked = Part(
        "how does inflammatory arthritis show on MRI?",
        "ask_cause",
        0.7,
        (Entity("cause", "inflammatory_arthritis", 9, 31), Entity("modality", "mri", 40, 43)),
    )
    assert answers(decide(asked, None)) == ["mri_patterns.inflammatory_arthritis"]


def test_worth_it_refers_to_nothing_before_it():
    text = "best shoes for foot BME and are orthotics worth it?"
    message = {
        "text": text,
        "intent": {"name": "ask_shoes", "confidence": 0.8},
        "entities": [
            {"entity": "location", "value": "foot", "start": 15, "end": 19},
            {"entity": "treatment", "value": "orthotics", "start": 32, "end": 41},
        ],
        "parts": [
            {
                "text": "best shoes for foot BME",
                "start": 0,
                "end": 23,
                "intent": {"name": "ask_shoes", "confidence": 0.8},
            },
            {
                "text": "are orthotics worth it?",
                "start": 28,
                "end": len(text),
                "intent": {"name": "inform", "confidence": 0.4},
            },
        ],
        WHOLE_KEY: {"intent": {"name": "ask_shoes", "confidence": 0.8}},
    }
    decisions = decide_all(parts_of(message), None)
    assert [answers(d) for d in decisions] == [["shoes.foot"], ["treatment.orthotics"]]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        # keeping on loading is what turns BME into a stress fracture, not a warning sign
        (part("what happens if I ignore it and keep running?", "ask_red_flags", 0.75), "causes.stress_fracture"),
        (part("what happens if my leg goes red?", "ask_red_flags", 0.75), "red_flags"),
        # why BME brings a symptom: the symptom
        (part("Why would BME cause an antalgic gait?", "ask_cause", 0.62, symptom="limp"), "symptoms.limp"),
        # a first-line treatment asked about under the advanced intent is that treatment…
        (
            part("is physio worth it for bme", "ask_advanced_treatment", 0.53, treatment="physical_therapy"),
            "treatment.physical_therapy",
        ),
        # …unless it is what has been tried
        (
            part("physio isn't working, what next?", "ask_advanced_treatment", 0.8, treatment="physical_therapy"),
            "treatment.advanced",
        ),
    ],
)
def test_what_the_question_asks_decides_between_look_alike_answers(asked, expected):
    assert answers(decide(asked, None)) == [expected]


def test_how_a_cause_looks_on_a_scan_is_asked_in_the_question_not_told_in_the_story():
    def asked(text: str, intent: str, cause: str, word: str) -> Part:
        found = [("cause", cause, word), ("modality", "mri", "MRI")]
        entities = tuple(Entity(kind, value, text.index(w), text.index(w) + len(w)) for kind, value, w in found)
        return Part(text, intent, 0.5, entities)

    question = asked(
        "how does a stress fracture show up on the MRI?", "nlu_fallback", "stress_fracture", "stress fracture"
    )
    assert answers(decide(question, None)) == ["mri_patterns.stress_fracture"]
    text = "I have knee OA and the MRI shows oedema in the condyle. how are they connected?"
    story = asked(text, "ask_cause", "osteoarthritis", "OA")
    assert answers(decide(story, None)) == ["causes.osteoarthritis"]


def test_the_other_one_of_two_is_the_other_item():
    assert the_other(part("and the other doctor?", "ask_expert_views"), "experts.kim") == Pick("experts.callahan")
    assert the_other(part("and the other doctor?", "ask_expert_views"), "experts") is None  # no item said yet
    assert the_other(part("and the other one?", "inform"), "causes.overuse") is None  # one of six
