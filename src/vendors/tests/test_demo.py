"""Story 3 on the demo practice: Priya at Crestline, and the lab's scorecard across patients."""

from __future__ import annotations

import csv
import io
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from feedback.models import Answer, FeedbackItem
from feedback.services import invitation_path
from patients.models import Patient
from patients.seeding.demo import seed_demo
from recovery.models import RecoveryCase
from vendors.models import Vendor, VendorDefect
from vendors.selectors import scorecard


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            seed_demo()
            yield
            transaction.set_rollback(True)


@pytest.fixture
def crestline(demo):
    return Vendor.objects.get(practice__slug="maple", name="Crestline Dental Lab")


@pytest.fixture
def priya(demo):
    return Patient.objects.get(first_name="Priya", last_name="Nair")


def _manager():
    return get_user_model().objects.get(username="manager")


@pytest.mark.django_db
def test_priyas_survey_asked_about_the_lab_and_her_comment_is_crestlines(client, crestline, priya):
    item = FeedbackItem.objects.get(patient=priya)
    assert item.vendor == crestline and item.score == 3 and "Crestline" in item.text
    lab_answer = Answer.objects.get(response=item.response, vendor=crestline)
    assert lab_answer.number == 1 and lab_answer.question.touchpoint == "third_party"
    page = client.get(invitation_path(item.response.invitation)).content.decode()
    assert "How was your visit to Crestline Dental Lab?" in page


@pytest.mark.django_db
def test_priyas_case_has_the_lab_as_third_party_and_the_lab_acknowledged(crestline, priya):
    case = RecoveryCase.objects.get(patient=priya)
    assert case.vendor == crestline and case.status == "waiting_third_party"
    assert case.involvements.filter(vendor=crestline, kind="visit").exists()
    assert crestline.standards_sent_on is not None
    assert crestline.standards_sent_on <= crestline.standards_acknowledged_on
    assert crestline.contacts.filter(role="Lab manager").exclude(email="").exists()


@pytest.mark.django_db
def test_the_scorecard_shows_the_pattern_across_patients(client, crestline):
    card = scorecard(crestline)
    assert card.overall.answers >= 5 and card.overall.average < 3.5
    defects = {kind: total for kind, _, total, _ in card.defects}
    assert defects["lab_case_late"] >= 2
    assert card.cases["opened"] >= 1 and card.cases["open"] >= 1
    assert any("technician ignored me" in c.text for c in card.comments)
    assert sum(m.answers for m in card.months) == card.overall.answers
    client.force_login(_manager())
    page = client.get(reverse("vendors:vendor-scorecard", args=[crestline.pk])).content.decode()
    assert "technician ignored me" in page and "Nair" not in page
    listing = client.get(reverse("vendors:vendor-list")).content.decode()
    for name in ("Crestline Dental Lab", "Northside Oral Surgery", "Clearview Imaging Centre"):
        assert name in listing
    export = client.get(reverse("vendors:scorecard-csv", args=[crestline.pk]))
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "section" and any(row[0] == "comment" for row in rows)
    assert "Nair" not in export.content.decode("utf-8-sig")
    pdf = client.get(reverse("vendors:scorecard-pdf", args=[crestline.pk]))
    assert pdf.content.startswith(b"%PDF")


@pytest.mark.django_db
def test_northside_has_an_unscheduled_referral(demo):
    northside = Vendor.objects.get(name="Northside Oral Surgery")
    open_defects = VendorDefect.objects.filter(
        vendor=northside, kind="referral_not_scheduled", resolved_at__isnull=True
    )
    assert open_defects.count() == 1
    assert VendorDefect.objects.filter(vendor=northside, resolved_at__isnull=False).exists()


@pytest.mark.django_db
def test_checking_again_after_seeding_finds_nothing_new(demo):
    out = StringIO()
    call_command("vendors", "check", "--practice", "maple", "--no-progress", stdout=out)
    assert re.match(
        r"vendors check: 0 new defects, \d+ open, in Maple Street Dental", out.getvalue()
    )
