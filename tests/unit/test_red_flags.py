"""The deterministic red-flag detector on its own: reports, negations, hedges and questions."""

import pytest

from bot.domain.symptom_check import interpret_answer
from bot.safety.red_flags import detector


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("my son can't put weight on his leg", ["weight"]),
        ("i cant wlak on my foot", ["weight"]),
        ("I haven't been able to walk since this morning", ["weight"]),
        ("sudden severe pain in my hip", ["weight"]),
        ("i can't walk far, the pain is unbearable", ["weight"]),
        ("my knee is swolen and feels hot", ["redness", "swelling"]),
        ("ankle swollen and hot, fever 38.5", ["fever", "swelling"]),
        ("running a temp and my heel hurts", ["fever"]),
        ("my mum has chills and her shin is red", ["fever", "redness"]),
        ("which shoes are best? also my shin is red and hot", ["redness"]),
        ("What are the warning signs? My knee is red.", ["redness"]),
        ("No fever, my knee is swollen", ["swelling"]),
        ("no fever and my knee is swollen", ["swelling"]),
        ("I can't sleep because my leg is swollen", ["swelling"]),
        ("I can walk but my ankle is swollen", ["swelling"]),
        # uncertain and double negation still count
        ("not sure if I have a fever", ["fever"]),
        ("I don't know if it's swollen", ["swelling"]),
        ("can't not limp", ["weight"]),
        ("it's not like I don't have a fever", ["fever"]),
        ("I wouldn't say my ankle isn't swollen", ["swelling"]),
        ("I'm not sure I can walk on it", ["weight"]),
        ("I don't think I can stand on it any more", ["weight"]),
        ("I can no longer walk on it", ["weight"]),
        ("hmm I don't know, I feel a bit hot", ["fever"]),  # a person feeling hot is feverish
        # a general question, then the person has it now
        ("is it normal for the area over the bone to be red and hot? mine is right now", ["redness"]),
        ("is it normal to have a fever with hip bone pain? it started last night, 38.2", ["fever"]),
        ("is it normal to have a fever with this? I've got 38.2 and my shin is killing me", ["fever"]),
        ("suddenly the pain is so bad I can't put the foot down at all", ["weight"]),
    ],
)
def test_reports_are_found(text, categories):
    assessment = detector().assess(text)
    assert assessment.fires
    assert assessment.categories == categories


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        # clinical words
        ("Patient is febrile at 39.1 with pain in the proximal tibia", ["fever"]),
        ("client is pyrexial, calcaneal pain worse", ["fever"]),
        ("new erythema over the anteromedial tibia", ["redness"]),
        ("I'm boiling one minute and freezing the next and my shin aches", ["fever"]),
        # misspellings not listed in the patterns file
        ("theres a big swellng on top of my foot", ["swelling"]),
        ("skin over the bone is reddd and hott to touch", ["redness"]),
        # a reading with a unit is a report on its own
        ("38.5 degrees and my shin hurts", ["fever"]),
        ("it was 101F last night and my knee aches", ["fever"]),
        ("my temp went from 36.8 to 38.6", ["fever"]),
        # a following cue inside a finding ("gone" in "gone red") negates nothing
        ("the ball of my foot has swollen up and gone red", ["redness", "swelling"]),
        ("it's gone a funny red colour over the bone", ["redness"]),
        ("I can't put my foot to the floor, it's that painful", ["weight"]),
        ("acute inability to weight bear", ["weight"]),
        ("since yesterday I can't put my weight on that foot", ["weight"]),
        ("my ankle's hot", ["redness"]),  # "'s" is read as "have", not "is"
        ("the swelling hasn't gone down at all", ["swelling"]),  # a negated following cue
    ],
)
def test_words_beyond_the_listed_phrases_are_found(text, categories):
    assert detector().assess(text).categories == categories


@pytest.mark.parametrize(
    "text",
    [
        "I keep waking at night and talking in my sleep",  # English words are not respelt
        "I'm 38 and my knee aches",  # a number without a unit is no reading
        "I bought the red Brooks Glycerin, are they good for my ankle?",  # a colour naming a thing
        "do pink trainers come in wide fit?",
        "I can't walk far before the ache starts",  # a limit on distance, not an inability to bear weight
        "I can't stand for long at work",
    ],
)
def test_look_alikes_are_not_signs(text):
    assert detector().assess(text).findings == ()


@pytest.mark.parametrize(
    "text",
    [
        "no fever",
        "Checked my temp twice today, 36.8 both times",
        "my temperature was 98.4F this morning",
        "patient afebrile, tibial pain on loading",
        "The skin looks fine and isn't warm. Should I ice it?",
        "I can walk fine",
        "I can still put weight on it, it just aches",
        "it isn't red",
        "my ankle isnt swollen",
        "no fever, swelling or redness",
        "I don't have any fever or swelling, how long to heal?",
        "Never had chills or a temperature with this",
        "my temperature is normal",
        "the swelling has gone down",
        "The pain isn't anywhere near the worst ever",
    ],
)
def test_clear_negations_do_not_fire(text):
    assessment = detector().assess(text)
    assert not assessment.fires
    assert assessment.mentioned_not_reported


@pytest.mark.parametrize(
    "text",
    [
        "is swelling a symptom?",
        "Can BME cause fever?",
        "what are the red flags?",
        "Which conditions can cause sudden severe bone pain?",
        "If I ever got a fever with the bone pain, what should I do?",
    ],
)
def test_general_questions_do_not_fire(text):
    assert not detector().assess(text).fires


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        # a finding stated in one clause, then a question: a report
        ("Shivery and hot, shin bone aching, should I be worried?", ["fever"]),
        ("what now, fever and a swollen shin", ["fever", "swelling"]),
        # a statement that only ends in "?" is no general question
        ("bit feverish maybe? and the shin ache is worse", ["fever"]),
        ("Running a temperature maybe?", ["fever"]),
    ],
)
def test_questions_are_told_apart_clause_by_clause(text, categories):
    assert detector().assess(text).categories == categories


@pytest.mark.parametrize(
    "text",
    [
        "Is it serious if there's swelling, redness and fever?",  # a list stays in its clause
        "If there's swelling over the bone, is that bad?",  # the "if" clause belongs to the question
        "Why does it ache at night, is it because of swelling?",  # so does a "because" clause
        "Do anti-inflammatories reduce the swelling in the bone?",  # a hyphen inside a word is no break
        "Should I worry about redness over the bone in general?",  # the asker's "I" is no person with a sign
        "when is not being able to walk a reason to go to hospital?",  # "when" alone asks
        # the asker only as the one who would act on the answer
        "Does swelling mean I need to go to hospital?",
        "does redness over the bone mean we should go to A&E?",
        "should I worry about fever if I have BME?",  # worry about a sign in general
        "Why do they call redness a warning sign?",  # "they" who call things, no one in pain
        "is BME a kind of swelling in the marrow, like when a wrist swells up?",  # a comparison
        "could a fever mean an infection is going on in my bone?",  # what a sign would mean
    ],
)
def test_general_questions_in_several_clauses_do_not_fire(text):
    assessment = detector().assess(text)
    assert not assessment.fires and assessment.findings


def test_a_general_question_about_someones_sign_is_a_report():
    assert detector().assess("Should I worry about the redness over my shin in general?").fires
    # a particular sign, or a person with it elsewhere in the message, makes it a report
    assert detector().assess("Does the swelling mean I need to go to hospital?").fires
    assert detector().assess("does fever mean I should see a doctor? I have one now").fires
    assert detector().assess("should I worry about my swelling?").fires
    assert detector().assess("could a fever mean something worse? I've got one").fires
    assert detector().assess("I had flu last week and now I have a fever and my shin aches").fires
    assert detector().assess("why do they hurt so much and look red?").fires  # "they" in pain


@pytest.mark.parametrize(
    "text",
    [
        "I had a bad fever back in February with flu, nothing to do with my foot",
        "years ago my knee swelled up after football",
        "Last summer, my shin went red from sunburn",
        "when I first injured the heel last year it was puffy for a week",
        "I had a temperature after my flu jab last month",
        "In 2018 I couldn't walk on it for a month",
        "my ankle was swollen a couple of years ago",
        "the swelling I had after the operation has settled",
        "My shin was red and swollen after the fall but that cleared up",
        "I had chills at the weekend. They've gone now.",
        "the redness from the strapping went away ages ago",
        "There was a lump on my shin, but not since the spring",
        "when I was a teenager I had a swollen ankle from netball",
        "I couldn't walk for a while after an operation in 2016",  # "for a while" is no clause
        "I used to get fevers with my arthritis flare-ups but not at the moment",  # a noun "flare" goes on nothing
        "my knee was swollen last week but not anymore",
        # "still" about something else after the sign is over does not bring it back
        "had flu with a temperature a fortnight ago, that's gone now, but my ankle still aches when i walk",
        "It was really swollen after the fall in March but that settled months ago, still get a dull ache",
        "I had a fever last year, still get knee pain",
        "had a fever last week from a virus, it's gone. foot still a bit achy",
        # said in the past tense, then denied now
        "her knee was red after the fall, the scan found BME, there's no redness now though",
        "I felt feverish on Sunday, but the thermometer says normal, the heel is just achy",
        # a fever that came with another illness, said in the past
        "had flu with a temperature last week, the foot feels the same as ever",
    ],
)
def test_signs_that_are_over_do_not_fire(text):
    assessment = detector().assess(text)
    assert not assessment.fires
    assert assessment.mentioned_not_reported
    assert assessment.as_parse_data()["past"]


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        # present and ongoing markers keep a sign current
        ("I've had a fever since last year", ["fever"]),
        ("years ago I broke my leg and now it's swollen and hot", ["swelling"]),
        ("the swelling from last year has come back", ["swelling"]),
        ("my knee was swollen last year and it's swollen again", ["swelling"]),
        ("I had a fever last month. Still have it.", ["fever"]),
        ("I had a fever last week and it hasn't gone away", ["fever"]),  # a negated resolution
        ("my fever flared up again", ["fever"]),
        # a sign that went away and came back is here
        ("the swelling went down but it came back", ["swelling"]),
        ("the fever went away but it still comes back at night", ["fever"]),
        ("I had a fever last month, still have it and my shin aches", ["fever"]),  # "still" about the fever
        ("the swelling from last year is still there and it aches", ["swelling"]),
        ("I had a fever, it's gone? no it's still there", ["fever"]),
        ("After my surgery last year, I can't walk on it", ["weight"]),  # present tense
        ("my ankle swelled up two years ago and has been swollen ever since", ["swelling"]),
        # recent signs, and onsets, go on unless said to be over
        ("my knee swelled up three days ago", ["swelling"]),
        ("the fever started two weeks ago", ["fever"]),
        # the past covers its own clause only
        ("I had a fever last year, swelling too", ["swelling"]),
        ("My leg was swollen but it's gone down, now it's red and hot", ["redness"]),
        ("my knee was swollen and red, the swelling went down", ["redness", "swelling"]),
        ("My knee is red and hot. The pain has settled a bit though.", ["redness"]),
    ],
)
def test_current_signs_beside_past_words_fire(text, categories):
    assert detector().assess(text).categories == categories


@pytest.mark.parametrize(
    "text",
    [
        "what if my shin swells up while I'm training?",
        "What happens if I end up with a temperature?",
        "Suppose I can't put my foot down one morning, then what?",
        "Hypothetically, if my heel turned red, should I stop running?",
        "If my daughter gets chills during her recovery, do we ring 111?",
        "in case my ankle swells on holiday, what should I pack?",
        "What should I do if I can't weight bear one day?",
        "if I ever feel feverish with the knee pain, is that bad?",
        "Should the foot ever go red and hot, do I ice it?",
        "Were I to develop a fever, would that suggest infection?",
        "If redness appears over the bone, does that change anything?",
        "what would I do if the pain suddenly became unbearable?",
        "Say my knee swells up in the future - A&E or GP?",
        "what do we do if my son's shin starts to swell?",  # "son's" is no "is"
        "if I run a temperature during recovery, do I ring 999?",
        # one sign after "if", and the question is whether to worry about it
        "Should we be worried if her shin is warm to the touch?",
        "is it serious if I can't put any weight on it?",
        "would it be a bad sign if the heel looked red?",
        # a question after the condition, without a question mark
        "if my foot swells over the bone what do I do",
    ],
)
def test_imagined_signs_do_not_fire(text):
    assessment = detector().assess(text)
    assert not assessment.fires
    assert assessment.mentioned_not_reported
    assert assessment.as_parse_data()["hypothetical"]


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("What if it's red and hot right now?", ["redness"]),  # a present marker overrides
        ("what if I get a fever, my knee is already swollen", ["swelling"]),  # another clause
        ("My knee is swollen, what if it gets worse?", ["swelling"]),
        ("Just in case, my son has a fever and his shin is red", ["fever", "redness"]),
        ("What should I do if my knee is swollen and hot?", ["swelling"]),  # a state, not a change
        ("What should I do if I can't bear weight?", ["weight"]),
        ("If I walk on it it swells up and goes red", ["redness", "swelling"]),  # a habit, stated
        ("I suppose it's a bit swollen", ["swelling"]),  # "suppose" not opening its clause
        ("not sure if I have a fever", ["fever"]),  # "if" after a hedge is no condition
        ("Will my swelling go down one day?", ["swelling"]),  # a future cue without a condition
        ("It's the worst pain I've ever had, should I go?", ["weight"]),
        ("what happens if I get a temperature? I've got one now, 38.2", ["fever"]),  # said to be here
        ("what if my ankle swells up? it's already happening", ["swelling"]),
        # whether to worry, but about what the asker has, or about several signs at once
        ("is it bad if I've got a fever and my shin aches?", ["fever"]),
        ("should I be worried if my shin is red and swollen?", ["redness", "swelling"]),
        ("Is it normal if my ankle is hot right now?", ["redness"]),
        # the asker's own sore part, named without "my", is theirs
        ("would it be a worry if the skin over the painful shin is red?", ["redness"]),
    ],
)
def test_current_signs_beside_hypothetical_words_fire(text, categories):
    assert detector().assess(text).categories == categories


def test_a_message_without_warning_signs_mentions_none():
    assessment = detector().assess("which shoes are best for knee BME?")
    assert assessment.findings == () and not assessment.mentioned_not_reported


@pytest.mark.parametrize(
    ("text", "intent", "answer"),
    [
        ("/affirm", "affirm", True),
        ("/deny", "deny", False),
        ("yes", "affirm", True),
        ("nope", "deny", False),
        ("not sure", "deny", True),
        ("maybe a little", "out_of_scope", True),
        ("it's a bit puffy", "inform", True),
        ("no, no fever at all", "deny", False),
        ("had one last week with a cold but not now", "inform", False),
        ("no not severe", "deny", False),
        ("what is bme", "ask_definition", None),
        ("👍", "nlu_fallback", True),  # a thumb typed for yes
        ("👎🏽", "nlu_fallback", False),
    ],
)
def test_symptom_check_answers(text, intent, answer):
    red_flags = None if text.startswith("/") else detector().assess(text).as_parse_data()  # buttons skip NLU
    assert interpret_answer(text, intent, red_flags) is answer


def _routed(text: str, ranking: list[tuple[str, float]]) -> str:
    """The intent RedFlagOverride leaves, given the classifiers' ranking (first is the prediction)."""
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.red_flag_override import RedFlagOverride

    intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    message = Message(data={TEXT: text, INTENT: intents[0], INTENT_RANKING_KEY: intents})
    RedFlagOverride(detector()).process([message])
    return message.get(INTENT)["name"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the classifier alone said red_flag, but the signs are over or imagined: the runner-up answers
        ("I had a fever back in March with flu, what causes BME?", "ask_cause"),
        ("What if I get a fever while the bone heals, what causes that?", "ask_cause"),
        ("no fever, what causes BME?", "ask_cause"),
        # no sign mentioned at all: the classifier's sure red_flag stands
        ("what causes it, I'm in a bad way", "red_flag"),
        # the detector firing always wins, whatever else the message remembers or imagines
        ("I had a fever last year and now my knee is swollen, what causes it?", "red_flag"),
    ],
)
def test_the_classifier_alone_does_not_route_signs_that_are_not_reported(text, expected):
    assert _routed(text, [("red_flag", 0.85), ("ask_cause", 0.1)]) == expected


def test_the_detector_wins_over_any_intent_and_a_fallback():
    assert _routed("my shin is red and hot, which shoes?", [("ask_shoes", 0.9), ("red_flag", 0.05)]) == "red_flag"
    ranking = [("red_flag", 0.85), ("ask_cause", 0.1)]
    assert _routed("something is really wrong", ranking) == "red_flag"  # a sure red_flag alone is kept


def test_a_near_guess_on_a_message_naming_no_sign_is_not_an_emergency():
    """The classifier's red_flag below 0.8, when the detector sees no sign word at all, is a guess."""
    ranking = [("nlu_fallback", 0.5), ("red_flag", 0.48), ("describe_symptoms", 0.31)]
    assert _routed("pressing on my heel bone really hurts", ranking) == "nlu_fallback"
    # the same guess beside a sign the detector reads, even denied or doubtful, is not dropped
    assert _routed("maybe a bit puffy", [("nlu_fallback", 0.5), ("red_flag", 0.2)]) == "red_flag"


def test_an_unsure_red_flag_on_a_message_naming_no_sign_answers_the_next_likeliest_question():
    """Above the FallbackClassifier's threshold but below 0.8, with no sign word: the report of
    pain gets a normal answer, not urgent care."""
    ranking = [("red_flag", 0.54), ("describe_symptoms", 0.31)]
    assert _routed("it was really painful last week and she couldn't play, better now", ranking) == "describe_symptoms"
    ranking = [("red_flag", 0.74), ("inform", 0.18)]
    assert _routed("I think I overdid it at bootcamp, both shins feel sore and heavy", ranking) == "inform"


@pytest.mark.parametrize("text", ["no not severe", "nope, not severe", "no, not really severe"])
def test_an_answer_no_said_twice_is_still_no(text):
    assert not detector().assess(text).fires


def test_two_negations_still_cancel():
    assert detector().assess("No, it's not not swollen, the foot is huge.").fires


@pytest.mark.parametrize(
    "text",
    [
        "I'm scared this means my bone is going to collapse",  # a fear, not a collapse now
        "I thought I had a fever last night but the thermometer said 36.9 so I'm fine",  # measured normal
        "Last week I couldn't put weight on it for a day but now I'm walking normally again",  # could not, can now
    ],
)
def test_fears_and_normal_measurements_are_not_signs(text):
    assert not detector().assess(text).fires
