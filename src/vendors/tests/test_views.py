"""The vendor pages: the list, one vendor, its work, the standards letter; hostile forms."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from feedback.services import feedback_item_create
from messaging.models import OutboundMessage
from patients.tests.factories import AppointmentFactory, PatientFactory
from vendors.models import Involvement, Vendor, VendorContact, VendorDefect, VendorStandards
from vendors.services import involvement_create
from vendors.tests.factories import crestline, lab_contact, northside

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(practice):
    return crestline(practice)


def _counts():
    return [
        m.objects.count()
        for m in (Vendor, VendorContact, Involvement, VendorDefect, OutboundMessage)
    ]


@pytest.mark.parametrize("role", ["front_desk", "clinician", "manager", "director"])
def test_every_role_sees_the_list_with_a_score_per_vendor(
    client, request, role, practice, lab, other_practice
):
    crestline(other_practice, name="Faraway Lab")
    client.force_login(request.getfixturevalue(role))
    client.post(reverse("core:practice-switch"), {"practice": practice.pk})
    page = client.get(reverse("vendors:vendor-list")).content.decode()
    assert "Crestline Dental Lab" in page and "Faraway" not in page
    assert 'href="/vendors/"' in page  # the nav link


def test_the_manager_adds_a_vendor_and_front_desk_may_not(client, practice, manager, front_desk):
    data = {
        "name": "Summit Ceramics",
        "kind": "lab",
        "aliases": "Summit, Summit lab",
        "touchpoints": ["third_party"],
        "notes": "Bridges",
    }
    client.force_login(front_desk)
    assert client.get(reverse("vendors:vendor-new")).status_code == 403
    assert client.post(reverse("vendors:vendor-new"), data).status_code == 403
    assert not Vendor.objects.exists()
    client.force_login(manager)
    response = client.post(reverse("vendors:vendor-new"), data)
    vendor = Vendor.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/vendors/{vendor.pk}/"
    assert vendor.aliases == ["Summit", "Summit lab"] and vendor.touchpoints == ["third_party"]
    assert AuditEvent.objects.filter(object_type="vendor", action="create", actor=manager).exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Bad\x00Lab"},
        {"name": "Two\nlines"},
        {"name": "x" * 121},
        {"name": "ab"},
        {"name": "NORTHSIDE oral surgery"},  # already there, whatever the case
        {"kind": "spaceship"},
        {"touchpoints": ["teleport"]},
        {"aliases": "ok, a"},
        {"notes": "n" * 5001},
        {"name": ""},
    ],
)
def test_hostile_vendor_forms_are_a_friendly_400_and_store_nothing(
    client, practice, manager, lab, changes
):
    data = {"name": "Summit Ceramics", "kind": "lab", "aliases": "", "touchpoints": ["third_party"]}
    northside(practice)
    client.force_login(manager)
    before = _counts()
    for url in (reverse("vendors:vendor-new"), reverse("vendors:vendor-edit", args=[lab.pk])):
        response = client.post(url, data | changes)
        assert response.status_code == 400, url
        assert 'role="alert"' in response.content.decode()
    assert _counts() == before
    lab.refresh_from_db()
    assert lab.name == "Crestline Dental Lab"


def test_the_detail_page_shows_contacts_work_defects_and_cases_and_is_audited(
    client, practice, lab, manager, patient
):
    lab_contact(lab)
    seat = AppointmentFactory(patient=patient, kind="Crown seat")
    involvement_create(
        vendor=lab,
        patient=patient,
        kind="lab_case",
        appointment=seat,
        sent_on=seat.starts_at.date() - dt.timedelta(days=10),
    )
    client.force_login(manager)
    page = client.get(reverse("vendors:vendor-detail", args=[lab.pk])).content.decode()
    assert "Marcus Hale" in page and "Dana Whitfield" in page
    assert "Lab case late" in page and "Not sent yet" in page
    assert "Send the standards" in page
    audit = AuditEvent.objects.filter(object_type="vendor", action="view", actor=manager).get()
    assert audit.detail["patient_ids"] == [patient.pk]


def test_front_desk_records_work_finding_the_patient_first(client, practice, lab, front_desk):
    priya = PatientFactory(practice=practice, first_name="Priya", last_name="Nair")
    visit = AppointmentFactory(patient=priya, kind="Crown shade match")
    client.force_login(front_desk)
    url = reverse("vendors:involvement-new", args=[lab.pk])
    found = client.get(url, {"q": "nair"}).content.decode()
    assert f"?patient={priya.pk}" in found
    form = client.get(url, {"patient": priya.pk}).content.decode()
    assert f'value="{visit.pk}"' in form
    response = client.post(
        url,
        {"patient": priya.pk, "kind": "visit", "appointment": visit.pk, "description": "Shade"},
    )
    assert response.status_code == 302
    involvement = Involvement.objects.get()
    assert (involvement.patient, involvement.appointment, involvement.kind) == (
        priya,
        visit,
        "visit",
    )
    assert involvement.created_by == front_desk
    assert AuditEvent.objects.filter(
        object_type="vendor_involvement", action="create", patient_id=priya.pk
    ).exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "lab_case", "sent_on": "2026-13-45"},
        {"kind": "lab_case", "sent_on": "2026-03-01", "returned_on": "2099-01-01"},
        {"kind": "lab_case"},
        {"kind": "alien"},
        {"kind": "visit", "appointment": "999999"},
        {"kind": "visit", "appointment": "-3"},
        {"kind": "visit", "description": "x\x00y"},
        {"kind": "visit", "description": "d" * 201},
        {"kind": "referral", "referred_on": "2026-03-05", "scheduled_on": "2026-03-01"},
        {"patient": ""},
    ],
)
def test_hostile_work_forms_are_a_friendly_400_and_store_nothing(
    client, practice, lab, manager, patient, changes
):
    AppointmentFactory(patient=PatientFactory(practice=practice))  # someone else's visit
    client.force_login(manager)
    before = _counts()
    response = client.post(
        reverse("vendors:involvement-new", args=[lab.pk]), {"patient": patient.pk} | changes
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert _counts() == before


def test_work_for_another_practices_patient_is_404(client, lab, manager, other_patient):
    client.force_login(manager)
    url = reverse("vendors:involvement-new", args=[lab.pk])
    response = client.post(url, {"patient": other_patient.pk, "kind": "visit"})
    assert response.status_code == 404
    assert "ZZCANARY" not in response.content.decode()
    assert not Involvement.objects.exists()


def test_recording_the_return_and_hostile_dates(client, practice, lab, manager, patient):
    case = involvement_create(
        vendor=lab, patient=patient, kind="lab_case", sent_on=timezone.localdate()
    )
    client.force_login(manager)
    url = reverse("vendors:involvement-record", args=[case.pk])
    for bad in (
        {"returned_on": "yesterday"},
        {"returned_on": "2099-01-01"},
        {},
        {"scheduled_on": "2026-01-01"},
    ):
        assert client.post(url, bad).status_code == 400, bad
    case.refresh_from_db()
    assert case.returned_on is None
    today = timezone.localdate().isoformat()
    assert client.post(url, {"returned_on": today}).status_code == 302
    case.refresh_from_db()
    assert case.returned_on.isoformat() == today


def test_staff_report_a_problem_no_date_shows(client, practice, lab, front_desk, patient):
    surgeon = northside(practice)
    theirs = involvement_create(
        vendor=surgeon, patient=patient, kind="referral", referred_on=timezone.localdate()
    )
    client.force_login(front_desk)
    url = reverse("vendors:defect-report", args=[lab.pk])
    assert client.post(url, {"detail": ""}).status_code == 400
    assert client.post(url, {"detail": "x", "involvement": theirs.pk}).status_code == 400
    assert client.post(url, {"detail": "Wrong shade, A3 not A2"}).status_code == 302
    defect = VendorDefect.objects.get()
    assert (defect.kind, defect.reported_by, defect.vendor) == ("reported", front_desk, lab)


def test_the_manager_sends_the_standards_once_a_day_and_records_the_reply(
    client, practice, lab, manager
):
    contact = lab_contact(lab)
    client.force_login(manager)
    url = reverse("vendors:standards-send", args=[lab.pk])
    assert client.post(url, {"contact": contact.pk}).status_code == 302
    assert client.post(url, {"contact": contact.pk}).status_code == 302
    message = OutboundMessage.objects.get()
    assert (message.kind, message.to_address) == ("vendor_standards", "marcus@crestline.example")
    assert message.body.startswith("Dear Marcus Hale,")
    assert "Crestline Dental Lab" in message.body and "Maple Street Dental" in message.body
    assert "No phone calls while a patient is waiting" in message.body
    lab.refresh_from_db()
    assert lab.standards_sent_on == timezone.now().astimezone(practice.zone).date()
    ack = reverse("vendors:standards-acknowledge", args=[lab.pk])
    assert client.post(ack, {"on": "2099-01-01"}).status_code == 400
    assert client.post(ack, {"on": "2000-01-01"}).status_code == 400  # before it was sent
    assert client.post(ack, {"on": "not a date"}).status_code == 400
    assert client.post(ack, {"on": lab.standards_sent_on.isoformat()}).status_code == 302
    lab.refresh_from_db()
    assert lab.standards_acknowledged_on == lab.standards_sent_on
    page = client.get(reverse("vendors:vendor-detail", args=[lab.pk])).content.decode()
    assert "Acknowledged on" in page


def test_the_standards_are_not_sent_where_they_cannot_go(
    client, practice, lab, manager, front_desk
):
    no_email = lab_contact(lab, email="")
    theirs = lab_contact(northside(practice))
    client.force_login(front_desk)
    url = reverse("vendors:standards-send", args=[lab.pk])
    assert client.post(url, {"contact": no_email.pk}).status_code == 403
    client.force_login(manager)
    for bad in ({"contact": no_email.pk}, {"contact": theirs.pk}, {"contact": "x"}, {}):
        assert client.post(url, bad).status_code == 400, bad
    assert not OutboundMessage.objects.exists()
    lab.refresh_from_db()
    assert lab.standards_sent_on is None


def test_the_manager_edits_the_letter_and_the_days_for_a_referral(client, practice, manager):
    client.force_login(manager)
    url = reverse("vendors:standards-edit")
    assert "Greet each patient by name" in client.get(url).content.decode()
    for bad in (
        {"referral_days": "0"},
        {"referral_days": "abc"},
        {"subject": "a\x00b"},
        {"letter": ""},
    ):
        data = {"subject": "Our standards", "letter": "Be kind.", "referral_days": "10"} | bad
        assert client.post(url, data).status_code == 400, bad
    assert not VendorStandards.objects.filter(referral_days=10).exists()
    data = {
        "subject": "Our standards",
        "letter": "Be kind to {vendor}'s patients.",
        "referral_days": "10",
    }
    assert client.post(url, data).status_code == 302
    assert VendorStandards.objects.get(practice=practice).referral_days == 10


@pytest.mark.parametrize("name", ["vendors:contact-add", "vendors:vendor-edit"])
def test_clinicians_do_not_change_vendors(client, practice, lab, clinician, name):
    client.force_login(clinician)
    response = client.post(reverse(name, args=[lab.pk]), {"name": "Hacked", "kind": "lab"})
    assert response.status_code == 403
    lab.refresh_from_db()
    assert lab.name == "Crestline Dental Lab" and not lab.contacts.exists()


@pytest.mark.parametrize(
    "data", [{"name": "Jo", "email": "not-an-email"}, {"name": ""}, {"name": "Jo", "phone": "abc;"}]
)
def test_hostile_contacts_are_refused(client, practice, lab, manager, data):
    client.force_login(manager)
    assert client.post(reverse("vendors:contact-add", args=[lab.pk]), data).status_code == 400
    assert not lab.contacts.exists()


def test_pages_do_not_grow_queries_with_vendors_or_work(
    client, practice, manager, django_assert_max_num_queries
):
    def add(n):
        for i in range(n):
            vendor = crestline(practice, name=f"Lab {len(practice.vendors.all())} {i}", aliases=[])
            patient = PatientFactory(practice=practice)
            seat = AppointmentFactory(patient=patient, kind="Crown seat")
            involvement_create(
                vendor=vendor,
                patient=patient,
                kind="lab_case",
                appointment=seat,
                sent_on=seat.starts_at.date() - dt.timedelta(days=10),
            )
            feedback_item_create(
                practice=practice, source="web", text=f"Lab {i} was late", patient=patient
            )

    client.force_login(manager)
    add(1)
    vendor = practice.vendors.first()
    pages = [
        reverse("vendors:vendor-list"),
        reverse("vendors:vendor-detail", args=[vendor.pk]),
        reverse("vendors:vendor-scorecard", args=[vendor.pk]),
    ]
    counts = {}
    for url in pages:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        counts[url] = len(captured)
    add(8)
    for _ in range(8):
        involvement_create(vendor=vendor, patient=PatientFactory(practice=practice), kind="visit")
    for url in pages:
        with django_assert_max_num_queries(counts[url]):
            client.get(url)
