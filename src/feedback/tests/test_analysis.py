"""``feedback.analysis.analyze``: sentiment, touchpoints, urgency and people, with reasons."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from feedback.analysis import LEXICON_VERSIONS, TOUCHPOINTS, Analysis, analyze
from feedback.analysis.patterns import LexiconError, Matcher, parse
from feedback.analysis.sentiment import VADER_LEXICON, Scorer
from feedback.analysis.text import stems, words

EVAL = Path(__file__).resolve().parents[3] / "bench" / "data" / "feedback_eval.jsonl"
DATA = Path(__file__).resolve().parents[1] / "analysis" / "data"


# -- the stories ------------------------------------------------------------------------------


def test_leos_mother_is_urgent_negative_and_about_hygiene():
    text = (
        "I'm writing about my son Leo's cleaning this afternoon. The hygienist scolded him for "
        "squirming and gagging, in front of the other families in the waiting room, and told "
        "him he obviously drinks sugary drinks. He drinks water! He is eight. He cried all the "
        "way home and says he never wants to see a dentist again."
    )
    result = analyze(text)
    assert result.urgent
    assert result.label == "negative"
    assert "hygiene" in result.touchpoints
    assert any(r.startswith("urgent: a child humiliated") for r in result.reasons)


def test_priyas_lab_complaint_names_the_lab_as_a_third_party():
    text = (
        "The technician at Crestline Dental Lab never greeted me, didn't offer me a seat and "
        "took two phone calls while I stood at his desk for the shade match. He is clearly "
        "talented but he treated me like an object."
    )
    result = analyze(text, people=["Dr. Wei Chen", "Crestline Dental Lab", "Maria Lopez"])
    assert result.label == "negative"
    assert "third_party" in result.touchpoints
    assert result.people == ["Crestline Dental Lab"]
    assert "names Crestline Dental Lab ('crestline dental lab')" in result.reasons


def test_sams_comment_on_the_cost_explanation_is_positive_treatment_cost():
    text = (
        "Dr. Chen walked me through the crown and exactly what it would cost before we "
        "started. No surprises, which was my biggest worry. Thank you!"
    )
    result = analyze(text)
    assert result.label == "positive"
    assert "treatment_cost" in result.touchpoints


# -- sentiment ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "not painful at all",
        "It was not painful at all.",
        "No pain whatsoever during the filling.",
        "I didn't feel a thing.",
    ],
)
def test_negated_pain_is_not_negative(text):
    assert analyze(text).label != "negative"


@pytest.mark.parametrize(
    "text",
    [
        "they found two cavities and filled them, painless",
        "They found a small cavity and some plaque on the x-ray.",
        "The dentist used the drill for about a minute, then a filling.",
        "My gums are a bit sensitive and there was a little bleeding when flossing.",
        "Numb for a couple of hours after the crown, as expected.",
    ],
)
def test_clinical_words_are_not_negative(text):
    assert analyze(text).label != "negative", analyze(text).reasons


def test_plain_vader_calls_clinical_findings_negative():
    """Why the dental lexicon exists: VADER scores the findings themselves."""
    vader = SentimentIntensityAnalyzer()
    assert vader.polarity_scores("They found some decay and a cavity.")["compound"] < -0.05
    assert analyze("They found some decay and a cavity.").label == "neutral"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("The receptionist was rude.", "negative"),
        ("The hygienist was gentle and thorough.", "positive"),
        ("Got a surprise bill for $300 two months later.", "negative"),
        ("No surprise bills, no hidden fees.", "positive"),
        ("The dentist never explained anything.", "negative"),
        ("I waited 45 minutes past my appointment time.", "negative"),
        ("No one at reception was friendly.", "negative"),
        ("Nobody made me feel judged about my teeth.", "positive"),
        ("Please send me a copy of my invoice.", "neutral"),
        ("What time do you open on Saturdays?", "neutral"),
    ],
)
def test_label(text, label):
    assert analyze(text).label == label, analyze(text).reasons


def test_but_weighs_the_later_clause_within_its_sentence():
    later_good = analyze("The wait was long, but the dentist was wonderful.")
    later_bad = analyze("The dentist was wonderful, but the wait was ridiculous.")
    assert later_good.sentiment > 0 > later_bad.sentiment


def test_contrast_stays_in_its_sentence():
    """VADER halves every word before a text's first "but"; we only halve its own sentence."""
    text = "Dr. Chen was wonderful. The parking was tight but fine."
    vader = Scorer(dict(VADER_LEXICON), dental=False).score(text).contributions
    ours = analyze(text)
    assert next(c.valence for c in vader if c.words == "wonderful") == pytest.approx(1.35)
    assert "positive: 'wonderful' (+2.7)" in ours.reasons


def test_sarcasm_with_a_complaint_is_negative():
    result = analyze("Oh great, forty minutes on hold again.")
    assert result.label == "negative"
    assert "sarcasm: 'oh great'" in result.reasons


def test_the_same_marker_without_a_complaint_stays_positive():
    assert analyze("Oh great, they had a slot the same day!").label == "positive"


def test_negation_does_not_cross_a_sentence():
    # VADER reads "can't tell. Perfect" as "not perfect".
    assert analyze("You honestly can't tell. Perfect match.").label == "positive"


def test_reasons_name_the_words_and_their_valence():
    result = analyze("The receptionist was rude.")
    assert result.reasons[0] == "negative: 'rude' (\u22122.0)"
    assert "touchpoint arrival_reception: 'receptionist'" in result.reasons


def test_a_negation_is_shown_with_its_word():
    assert "positive: 'not painful' (+1.4)" in analyze("not painful at all").reasons


def test_neutral_text_says_why():
    assert analyze("What time do you open?").reasons == ["neutral: no sentiment words"]


def test_sentiment_stays_between_minus_one_and_one():
    assert analyze("rude! " * 5000).sentiment >= -1
    assert analyze("wonderful! " * 5000).sentiment <= 1


@pytest.mark.parametrize("text", ["", " ", "\t \n ", "\u3000"])
def test_empty_text(text):
    assert analyze(text) == Analysis(0.0, "neutral", [], False, ["empty text"], [])


def test_long_text_is_truncated_with_a_reason():
    result = analyze("The hygienist was lovely. " * 2000)
    assert result.reasons[0] == "text truncated to 20,000 characters"
    assert result.label == "positive"
    assert "hygiene" in result.touchpoints


def test_analysis_is_frozen():
    result = analyze("lovely")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.label = "negative"  # type: ignore[misc]


def test_analyze_needs_a_string():
    with pytest.raises(TypeError):
        analyze(b"bytes")  # type: ignore[arg-type]


def test_emoji_count_as_vader_counts_them():
    assert analyze("Thank you 😁").label == "positive"
    assert analyze("😞").label == "negative"  # "disappointed face"


def test_odd_characters_do_not_break_anything():
    odd = ["\x00\x00", "\ufffd\ufffd rude", "😁😁 great", "Dr.", "''''", "...", "👍", "\u2028"]
    for text in odd:
        result = analyze(text)
        assert -1 <= result.sentiment <= 1
        assert result.label in ("negative", "neutral", "positive")


# -- touchpoints -------------------------------------------------------------------------------


def test_touchpoints_in_order_of_first_mention():
    result = analyze("The bill was wrong, the hygienist was rough and I waited an hour.")
    assert result.touchpoints == ["billing_insurance", "hygiene", "comfort_pain", "waiting"]


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Nobody answered the phone.", "phone_booking"),
        ("Got three reminder texts.", "reminders"),
        ("The front desk was lovely.", "arrival_reception"),
        ("Seen right on time.", "waiting"),
        ("The hygienists here are great.", "hygiene"),
        ("Dr. Okafor did my crown.", "dentist_care"),
        ("The injection hurt.", "comfort_pain"),
        ("Clear estimate before we started.", "treatment_cost"),
        ("The lab lost my impression.", "third_party"),
        ("My insurance claim was rejected.", "billing_insurance"),
        ("Checkout was quick.", "checkout"),
        ("Nobody followed up after my surgery.", "follow_up"),
        ("I need my records.", "records"),
        ("The bathroom was dirty.", "facility"),
        ("The patient portal is down.", "digital"),
    ],
)
def test_each_touchpoint(text, slug):
    assert slug in analyze(text).touchpoints


def test_touchpoints_match_whole_words_and_plurals():
    assert analyze("Two cavities, both hygienists kind.").touchpoints == ["hygiene"]
    assert "billing_insurance" not in analyze("My sister is a playwright.").touchpoints
    assert analyze("Labrador-shaped balloons!").touchpoints == []


def test_a_new_dentist_is_not_dentist_care():
    assert "dentist_care" not in analyze("Please send everything to my new dentist.").touchpoints


def test_touchpoint_slugs_are_the_designs():
    assert TOUCHPOINTS == (
        "phone_booking",
        "reminders",
        "arrival_reception",
        "waiting",
        "hygiene",
        "dentist_care",
        "comfort_pain",
        "treatment_cost",
        "third_party",
        "billing_insurance",
        "checkout",
        "follow_up",
        "records",
        "facility",
        "digital",
    )


# -- urgency -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("My face is swollen since the extraction.", "pain or clinical safety"),
        ("The bleeding won't stop after my extraction.", "pain or clinical safety"),
        ("I think the tooth is infected and I have a fever.", "pain or clinical safety"),
        ("I can't eat since the filling.", "pain or clinical safety"),
        ("Severe pain all night.", "pain or clinical safety"),
        ("I will be speaking to a lawyer about this.", "a legal threat"),
        ("We are going to sue.", "a legal threat"),
        ("My attorney will contact you.", "a legal threat"),
        ("I will report you to the dental board.", "a legal threat"),
        ("They treated me that way because of my accent.", "discrimination"),
        ("I was discriminated against at reception.", "discrimination"),
        ("She was rude because of my weight.", "discrimination"),
        ("The hygienist scolded my son.", "a child humiliated"),
        ("The assistant yelled at our 6 year old daughter.", "a child humiliated"),
        ("She made my daughter cry.", "a child humiliated"),
        ("My boy is four and they made him cry.", "a child humiliated"),
        ("I'm never coming back.", "leaving the practice"),
        ("We are finding a new dentist.", "leaving the practice"),
        ("Please send my records to Harbor Dental.", "a records request"),
        ("I'd like to transfer my records.", "a records request"),
    ],
)
def test_each_urgency_rule(text, reason):
    result = analyze(text)
    assert result.urgent
    assert any(r.startswith(f"urgent: {reason} (") for r in result.reasons), result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "No swelling, no bleeding, no pain. Healing well.",
        "Call us if there's any swelling after the extraction.",
        "I'm not going to sue anyone, I just want an apology.",
        "Sue at the front desk is a star.",
        "My sister is a lawyer and recommended you.",
        "I'd never go anywhere else.",
        "Please update your records with my new address.",
        "Thanks, Sue, you were great.",
    ],
)
def test_not_urgent(text):
    result = analyze(text)
    assert not result.urgent, result.reasons


def test_urgency_pulls_sentiment_down():
    assert analyze("My lawyer will be in touch.").label == "negative"


def test_every_matching_rule_gives_its_reason_once():
    result = analyze("You humiliated my son. My lawyer will call, and we won't be back. Lawyer!")
    urgent = [r for r in result.reasons if r.startswith("urgent:")]
    assert urgent == [
        "urgent: a child humiliated ('humiliated my son')",
        "urgent: a legal threat ('my lawyer')",
        "urgent: leaving the practice ('wont be back')",
    ]


# -- people ------------------------------------------------------------------------------------

STAFF = ["Dr. Wei Chen", "José Álvarez", "Jo Park", "Maria", "Crestline Dental Lab", "Dr. Okafor"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Chen was kind.", ["Dr. Wei Chen"]),
        ("dr chen was kind", ["Dr. Wei Chen"]),
        ("Doctor Chen's assistant was kind.", ["Dr. Wei Chen"]),
        ("Wei Chen was kind.", ["Dr. Wei Chen"]),
        ("Jose Alvarez answered the phone.", ["José Álvarez"]),
        ("JOSÉ ÁLVAREZ answered the phone.", ["José Álvarez"]),
        ("Mr. Álvarez answered the phone.", ["José Álvarez"]),
        ("Dr Okafor and Dr. Chen", ["Dr. Okafor", "Dr. Wei Chen"]),
        ("Maria cleaned my teeth.", ["Maria"]),
        ("The lab at Crestline lost my crown.", ["Crestline Dental Lab"]),
        ("CRESTLINE DENTAL LAB", ["Crestline Dental Lab"]),
    ],
)
def test_people_named(text, expected):
    assert analyze(text, people=STAFF).people == expected


@pytest.mark.parametrize(
    "text",
    [
        "Chen was kind.",  # a bare surname: too often an ordinary word
        "I could not park anywhere.",
        "Parking was a nightmare.",
        "Okafor",
        "The chen-style decor.",
    ],
)
def test_people_not_named(text):
    assert analyze(text, people=STAFF).people == []


@pytest.mark.parametrize(
    "text",
    [
        "Crestline Dental Lab did my shade match and the technician was rude.",
        "The dental lab lost my crown.",
        "Maya from the lab called me.",  # a first name alone, beside a titled entry
    ],
)
def test_a_lab_is_nobody_when_only_the_staff_are_looked_for(text):
    # The services look only for the staff (``_people_of``): a vendor is found by
    # ``vendors.services``, never in ``people``, and no shared word names a member of staff.
    assert analyze(text, people=["Dr. Maya Chen", "Alice Cho"]).people == []


def test_people_accepts_any_iterable_and_no_people():
    assert analyze("Dr. Chen", people=(n for n in STAFF)).people == ["Dr. Wei Chen"]
    assert analyze("Dr. Chen").people == []
    assert analyze("Dr. Chen", people=["", "  ", "Dr."]).people == []
    assert analyze("Dr. Chen", people="Dr. Chen").people == ["Dr. Chen"]


def test_a_note_in_brackets_is_not_part_of_the_name():
    people = ["Sam Rivera (hygiene)", "Dr. Chen [locum]"]
    result = analyze("Sam Rivera and Dr Chen were great; Ms Rivera especially.", people=people)
    assert result.people == people


def test_a_one_word_titled_entry_matches_with_any_title():
    assert analyze("Doctor Chen was kind.", people=["Dr. Chen"]).people == ["Dr. Chen"]
    assert analyze("Chen was kind.", people=["Dr. Chen"]).people == []


# -- the lexicon as data -------------------------------------------------------------------------


def test_every_data_file_is_versioned_with_a_changelog():
    for path in sorted(DATA.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["version"], path.name
        assert data["changelog"][0]["version"] == data["version"], path.name
        assert data["changelog"][0]["note"], path.name
    assert set(LEXICON_VERSIONS) == {"sentiment", "touchpoints", "urgency", "people"}


@pytest.mark.parametrize(
    "bad", ["", "~2 + word", "word + ~2", "a + ~x + b", "a|,|b", "a + ~99 + b"]
)
def test_a_malformed_pattern_is_refused_with_its_place(bad):
    with pytest.raises(LexiconError, match="where"):
        parse(bad, where="where")


def test_patterns_alternatives_and_gaps():
    matcher = Matcher([("scolded|yelled at + my|our + ~3 + son|daughter", "child")], where="t")
    toks = stems(words("She yelled at our eight year old daughter. Then my son."))
    assert matcher.scan(toks, set(toks)) == [(1, 8, "child")]
    toks = stems(words("She scolded my, hmm, son"))  # a gap never crosses a comma
    assert matcher.scan(toks, set(toks)) == []


# -- fidelity to VADER -------------------------------------------------------------------------


def _vader_texts() -> list[str]:
    texts = [json.loads(line)["text"] for line in EVAL.read_text(encoding="utf-8").splitlines()]
    texts += [
        "VADER is VERY SMART, handsome, and FUNNY!!!",
        "VADER is not smart, handsome, nor funny.",
        "At least it isn't a horrible book.",
        "The book was only kind of good.",
        "Today only kinda sux! But I'll get by, lol",
        "Make sure you :) or :D today!",
        "Catch utf-8 emoji such as 💘 and 💋 and 😁",
        "Sentiment analysis has never been this good!",
        "With VADER, sentiment analysis is the shit!",
        "Without a doubt, excellent idea.",
        "Roger Dodger is one of the least compelling variations on this theme.",
        "good good but bad bad and good",
    ]
    rng = random.Random(7)
    vocabulary = " ".join(texts).split()
    texts += [" ".join(rng.choices(vocabulary, k=rng.randint(1, 40))) for _ in range(1000)]
    return texts


def test_without_the_dental_lexicon_the_scorer_is_vader():
    """The linear-time rules reproduce vaderSentiment 3.3.2's compound score exactly."""
    vader = SentimentIntensityAnalyzer()
    plain = Scorer(dict(VADER_LEXICON), dental=False)
    for text in _vader_texts():
        assert round(plain.score(text).compound, 4) == vader.polarity_scores(text)["compound"], text
