"""Draft public replies to reviews: compliant replies pass, each kind of disclosure is named."""

from __future__ import annotations

import pytest

from feedback.reply_check import reply_phi_problems
from patients.tests.factories import PatientFactory

COMPLIANT = [
    "Thank you for your feedback. We'd like to hear more; please call our office manager at "
    "555-0100.",
    "Thank you for taking the time to share this. We take every comment seriously and would "
    "welcome the chance to talk with you directly. Please contact our office manager, Olivia, "
    "at (555) 010-0123, Monday to Friday, 9am to 5pm.",
    "We're so glad to hear you had a good experience! Our whole team works hard to make "
    "everyone feel welcome, and we hope to see you again soon.",
    "We are sorry to read this. Privacy rules keep us from discussing any details here, but we "
    "would very much like to make things right. Please reach us at 555-0100 or "
    "office@maple-dental.example; our inbox is open 24/7.",
    "Thanks for filling out our survey, and for the kind words about our team. We don't claim "
    "to be perfect, but we read every comment and we will pass yours along.",
    "We value all our patients and follow strict infection control in every room. Call us on "
    "Monday and ask for the practice manager.",
    "Thank you! We will best serve our community by listening, so we are grateful for every "
    "review.",
]


@pytest.fixture
def neighbours(practice):
    """Patients of the practice whose names are hard cases."""
    return [
        PatientFactory(practice=practice, first_name="José", last_name="Núñez"),
        PatientFactory(practice=practice, first_name="Robert", preferred_name="Bob",
                       last_name="Okafor"),
        PatientFactory(practice=practice, first_name="Anna", last_name="van der Berg"),
        PatientFactory(practice=practice, first_name="Will", last_name="Best"),
        PatientFactory(practice=practice, first_name="Siobhan", last_name="O'Neill"),
    ]  # fmt: skip


@pytest.mark.parametrize("draft", COMPLIANT)
def test_realistic_compliant_replies_pass(practice, patient, neighbours, draft):
    assert reply_phi_problems(draft, practice=practice) == []


def test_empty_draft_passes(practice, patient):
    assert reply_phi_problems("", practice=practice) == []
    assert reply_phi_problems("  \n ", practice=practice) == []


# --- Patients' names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draft", "found"),
    [
        ("Dear Dana Whitfield, thank you.", "'Dana Whitfield'"),
        ("Thanks, dana WHITFIELD!", "'dana WHITFIELD'"),
        ("We are sorry, Mrs. Whitfield.", "'Mrs. Whitfield'"),
        ("We are sorry, Ms Whitfield.", "'Ms Whitfield'"),
        ("Thank you, jose nunez.", "'jose nunez'"),  # accents and case do not hide a name
        ("Thank you, José Núñez.", "'José Núñez'"),
        ("Thanks Bob Okafor and Robert Okafor", "'Bob Okafor', 'Robert Okafor'"),
        ("Dear Anna van der Berg,", "'Anna van der Berg'"),
        ("Dear Mr van der Berg,", "'Mr van der Berg'"),
        ("Dear Siobhan O’Neill,", "'Siobhan O’Neill'"),  # a typographic apostrophe
        ("Thank you Will Best for the review", "'Will Best'"),
        ("Thank you, Mr. Best.", "'Mr. Best'"),
    ],
)
def test_names_of_the_practices_patients_are_caught(practice, patient, neighbours, draft, found):
    assert reply_phi_problems(draft, practice=practice) == [f"names a patient: {found}"]


def test_common_words_that_are_also_a_name_are_not_a_name(practice, neighbours):
    # "Will Best" is a patient; "will best" in a sentence is not about them.
    assert reply_phi_problems("We will best serve you by calling.", practice=practice) == []


def test_a_surname_alone_or_a_first_name_alone_is_not_flagged(practice, patient):
    assert reply_phi_problems("Thank you, Dana.", practice=practice) == []


def test_only_this_practices_patients_count(practice, other_patient, sister_patient):
    draft = "Hello Zzcanary Patient and Zzcanarysister Patient, thanks for the review."
    assert reply_phi_problems(draft, practice=practice) == []


def test_names_are_found_with_one_query(practice, patient, neighbours, django_assert_num_queries):
    with django_assert_num_queries(1):
        problems = reply_phi_problems("Dear Dana Whitfield, thank you.", practice=practice)
    assert problems == ["names a patient: 'Dana Whitfield'"]


def test_a_draft_without_words_asks_the_database_nothing(practice, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert reply_phi_problems("555-0100 :)", practice=practice) == []


# --- Treatments, dates, insurance, relationship ---------------------------------------------


@pytest.mark.parametrize(
    ("draft", "problem"),
    [
        ("We are sorry the root canal hurt.", "names a treatment: 'root canal'"),
        ("Crowns and X-rays can take time.", "names a treatment: 'Crowns', 'X-rays'"),
        ("The xray machine is new.", "names a treatment: 'xray'"),
        ("A deep cleaning can be uncomfortable.", "names a treatment: 'deep cleaning'"),
        ("Extraction, implant, filling.", "names a treatment: 'Extraction', 'implant', 'filling'"),
        ("Periodontal care and braces.", "names a treatment: 'Periodontal', 'braces'"),
        ("Whitening and dentures", "names a treatment: 'Whitening', 'dentures'"),
        ("The anaesthetic (or anesthetic) wore off.",
         "names a treatment: 'anaesthetic', 'anesthetic'"),
        ("Glad the ANESTHÉSIA worked", "names a treatment: 'ANESTHÉSIA'"),
        ("We saw you on March 3.", "mentions a visit date or time: 'on March 3'"),
        ("It was the 3rd of May.", "mentions a visit date or time: 'the 3rd of May'"),
        ("We saw you last Tuesday.", "mentions a visit date or time: 'last Tuesday'"),
        ("You called us yesterday.", "mentions a visit date or time: 'yesterday'"),
        ("It was 2024-03-03.", "mentions a visit date or time: '2024-03-03'"),
        ("It was booked for 3/4/2024.", "mentions a visit date or time: '3/4/2024'"),
        ("Our insurance team can help.", "mentions insurance or billing: 'insurance'"),
        ("We take Delta Dental and Medicaid.",
         "mentions insurance or billing: 'Delta Dental', 'Medicaid'"),
        ("The claim was resubmitted.", "mentions insurance or billing: 'claim'"),
        ("Coverage varies.", "mentions insurance or billing: 'Coverage'"),
        ("The copay and deductible", "mentions insurance or billing: 'copay', 'deductible'"),
        ("A refund is on its way.", "mentions insurance or billing: 'refund'"),
        ("As our patient, you deserve better.",
         "confirms a patient relationship: 'As our patient'"),
        ("Thank you for your visit.", "confirms a patient relationship: 'your visit'"),
        ("We're sorry about your treatment.", "confirms a patient relationship: 'your treatment'"),
        ("Your records are ready.", "confirms a patient relationship: 'Your records'"),
        ("We reviewed your chart.", "confirms a patient relationship: 'We reviewed your chart'"),
        ("After your last appointment we called.",
         "confirms a patient relationship: 'your last appointment'"),
        ("When you came in, we were short-staffed.",
         "confirms a patient relationship: 'When you came in'"),
    ],
)  # fmt: skip
def test_each_kind_of_disclosure_is_named(practice, draft, problem):
    assert reply_phi_problems(draft, practice=practice) == [problem]


@pytest.mark.parametrize(
    ("draft", "found"),
    [
        ("your 3:30 appointment", "'3:30'"),
        ("your 2 o'clock", "'2 o'clock'"),
        ("the appointment on Tuesday at 10am", "'at 10am'"),
        ("your 9 a.m. cleaning", "'9 a.m.'"),
    ],
)
def test_a_time_counts_when_it_is_the_visits(practice, draft, found):
    problems = reply_phi_problems(draft, practice=practice)
    assert f"mentions a visit date or time: {found}" in problems


def test_a_reply_with_everything_lists_each_kind_once_in_order(practice, patient):
    draft = (
        "Dear Mrs. Whitfield, we reviewed your chart: your crown was placed on 03/03 and your "
        "appointment on March 10 was for the root canal. Delta Dental denied the claim, and as "
        "our patient you deserve better. See you last Tuesday? Your crown again."
    )

    assert reply_phi_problems(draft, practice=practice) == [
        "names a patient: 'Mrs. Whitfield'",
        "names a treatment: 'crown', 'root canal'",
        "mentions a visit date or time: 'on 03/03', 'on March 10', 'last Tuesday'",
        "mentions insurance or billing: 'Delta Dental', 'claim'",
        "confirms a patient relationship: 'we reviewed your chart', 'your appointment', "
        "'as our patient'",
    ]
