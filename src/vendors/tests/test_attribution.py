"""Feedback that names a vendor is the vendor's; so is the case it opens."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEvent
from feedback.models import FeedbackItem
from feedback.services import feedback_item_create
from recovery.models import RecoveryCase
from recovery.services import case_open
from vendors.services import vendor_update
from vendors.tests.factories import crestline, northside

pytestmark = pytest.mark.django_db


def _say(practice, text, patient=None):
    return feedback_item_create(practice=practice, source="web", text=text, patient=patient)


@pytest.mark.parametrize(
    "text",
    [
        "Crestline Dental Lab kept me standing at the desk for twenty minutes.",
        "The technician at CRESTLINE never said hello.",
        "At Crèstline nobody offered me a seat.",  # accents and case do not matter
        "The crestline\nlab was rude.",
        "I went to crestline's office and felt invisible.",
    ],
)
def test_feedback_naming_the_vendor_is_attributed(practice, patient, text):
    lab = crestline(practice)
    item = _say(practice, text, patient)
    assert item.vendor == lab
    assert FeedbackItem.objects.get(pk=item.pk).vendor == lab


@pytest.mark.parametrize(
    "text",
    [
        "The Crestlines of the hills were lovely on the drive in.",
        "Uncrestline is not a word, and nor is crestlineage.",
        "The lab was fine, thank you.",
    ],
)
def test_a_partial_word_or_no_name_is_not_attributed(practice, patient, text):
    crestline(practice)
    assert _say(practice, text, patient).vendor is None


def test_another_practices_vendor_is_never_named(practice, other_practice, patient):
    crestline(other_practice)
    assert _say(practice, "Crestline was rude to me.", patient).vendor is None


def test_the_first_vendor_named_wins(practice, patient):
    crestline(practice)
    surgeon = northside(practice)
    item = _say(practice, "Northside sent me back to Crestline twice.", patient)
    assert item.vendor == surgeon


def test_inactive_vendors_are_not_named(practice, patient):
    lab = crestline(practice)
    vendor_update(
        vendor=lab,
        name=lab.name,
        kind=lab.kind,
        aliases=lab.aliases,
        touchpoints=[],
        is_active=False,
    )
    assert _say(practice, "Crestline was rude.", patient).vendor is None


def test_a_case_opened_from_that_feedback_has_the_vendor_as_third_party(practice, patient, manager):
    lab = crestline(practice)
    item = _say(
        practice,
        "The technician at Crestline ignored me and took phone calls. It was rude.",
        patient,
    )
    case = RecoveryCase.objects.get(feedback_items=item)
    assert case.vendor == lab
    assert case.events.filter(text__startswith="Third party: Crestline Dental Lab").exists()


def test_a_new_vendor_claims_last_years_feedback_and_its_cases(practice, patient):
    item = _say(practice, "The technician at Crestline ignored me. Rude and unpleasant.", patient)
    case = RecoveryCase.objects.get(feedback_items=item)
    assert item.vendor is None and case.vendor is None
    lab = crestline(practice)
    item.refresh_from_db()
    case.refresh_from_db()
    assert item.vendor == lab and case.vendor == lab
    # A new alias finds what it names.
    surgeon = northside(practice, aliases=[])
    other = _say(practice, "The oral surgeons on Elm Street never called me back.", patient)
    assert other.vendor is None
    vendor_update(
        vendor=surgeon,
        name=surgeon.name,
        kind=surgeon.kind,
        aliases=["oral surgeons on Elm Street"],
        touchpoints=["third_party"],
    )
    other.refresh_from_db()
    assert other.vendor == surgeon


def test_a_case_is_attributed_by_hand_on_its_page(client, practice, patient, manager):
    lab = crestline(practice)
    case = case_open(practice=practice, patient=patient, summary="The crown came back grey")
    client.force_login(manager)
    page = client.get(reverse("recovery:case-detail", args=[case.pk])).content.decode()
    assert 'id="case-third-party"' in page and "Crestline Dental Lab" in page
    response = client.post(reverse("vendors:case-vendor", args=[case.pk]), {"vendor": lab.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.vendor == lab
    assert AuditEvent.objects.filter(
        object_type="recovery_case", object_id=str(case.pk), actor=manager, detail__vendor=lab.pk
    ).exists()
    client.post(reverse("vendors:case-vendor", args=[case.pk]), {"vendor": ""})
    case.refresh_from_db()
    assert case.vendor is None


@pytest.mark.parametrize("vendor", ["abc", "-1", "1\x00", "99999"])
def test_hostile_case_attribution_is_a_friendly_400(client, practice, patient, manager, vendor):
    crestline(practice)
    case = case_open(practice=practice, patient=patient, summary="Late crown")
    client.force_login(manager)
    response = client.post(reverse("vendors:case-vendor", args=[case.pk]), {"vendor": vendor})
    assert response.status_code == 400
    assert "Please check" in response.content.decode()
    case.refresh_from_db()
    assert case.vendor is None


def test_another_practices_vendor_cannot_be_put_on_a_case(
    client, practice, other_practice, patient, manager
):
    theirs = crestline(other_practice)
    case = case_open(practice=practice, patient=patient, summary="Late crown")
    client.force_login(manager)
    response = client.post(reverse("vendors:case-vendor", args=[case.pk]), {"vendor": theirs.pk})
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.vendor is None


def test_front_desk_cannot_attribute_cases(client, practice, patient, front_desk):
    lab = crestline(practice)
    case = case_open(practice=practice, patient=patient, summary="Late crown")
    client.force_login(front_desk)
    response = client.post(reverse("vendors:case-vendor", args=[case.pk]), {"vendor": lab.pk})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.vendor is None
