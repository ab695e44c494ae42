"""The case pages: inbox, the case worked in place with htmx, gestures, alerts and messages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from feedback.services import feedback_item_create
from messaging.models import OutboundMessage
from patients.tests.factories import AppointmentFactory, PatientFactory
from recovery.models import Gesture, GestureKind, NextVisitAlert, RecoveryCase
from recovery.services import case_open, case_step_complete

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def case(practice, patient, manager):
    return case_open(
        practice=practice,
        patient=patient,
        summary="Waited 40 minutes, nobody explained",
        touchpoints=["waiting"],
    )


def _post(client, name, case, data, *extra, htmx=True):
    return client.post(reverse(name, args=[case.pk, *extra]), data, **(HTMX if htmx else {}))


def test_inbox_shows_clocks_and_counts(client, manager, case, practice):
    later = case_open(
        practice=practice,
        patient=PatientFactory(practice=practice, last_name="Okafor"),
        summary="Bill arrived twice",
        touchpoints=["billing_insurance"],
    )
    RecoveryCase.objects.filter(pk=later.pk).update(opened_at=timezone.now())
    later.steps.filter(kind="acknowledge").update(due_at=timezone.now() - dt.timedelta(hours=3))
    client.force_login(manager)
    page = client.get(reverse("recovery:case-inbox")).content.decode()
    assert "Waited 40 minutes" in page and "Bill arrived twice" in page
    assert "overdue by 3" in page and "due in" in page
    overdue = client.get(reverse("recovery:case-inbox"), {"overdue": "1"}, **HTMX)
    body = overdue.content.decode()
    assert "Bill arrived twice" in body and "Waited 40 minutes" not in body
    assert "<html" not in body  # the htmx answer is only the list
    by_touchpoint = client.get(reverse("recovery:case-inbox"), {"touchpoint": "waiting"})
    assert "Bill arrived twice" not in by_touchpoint.content.decode()


def test_inbox_queries_do_not_grow_with_cases(
    client, manager, practice, django_assert_max_num_queries
):
    for n in range(12):
        case_open(
            practice=practice,
            patient=PatientFactory(practice=practice),
            summary=f"Complaint {n}",
        )
    client.force_login(manager)
    with django_assert_max_num_queries(16):
        response = client.get(reverse("recovery:case-inbox"))
    assert response.content.decode().count('class="case ') == 12


def test_case_page_is_audited(client, clinician, case, patient):
    client.force_login(clinician)
    response = client.get(reverse("recovery:case-detail", args=[case.pk]))
    assert "Waited 40 minutes" in response.content.decode()
    assert (
        AuditEvent.objects.filter(
            action="view", object_type="recovery_case", patient_id=patient.pk, actor=clinician
        ).count()
        == 1
    )


def test_step_recorded_in_place(client, manager, case):
    client.force_login(manager)
    response = _post(
        client,
        "recovery:step-complete",
        case,
        {"method": "call", "notes": "Called her: sorry, looking into it."},
        "acknowledge",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.startswith('\n<article id="case"') or body.lstrip().startswith('<article id="case"')
    assert "Called her: sorry, looking into it." in body
    assert "Record “Encourage them to talk”" in body
    assert case.steps.get(kind="acknowledge").completed_by == manager


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        ({"method": "call", "notes": ""}, "acknowledge", "in their words"),
        ({"method": "pigeon", "notes": "x"}, "acknowledge", "How: choose"),
        ({"method": "call", "notes": "a\x00b"}, "acknowledge", "cannot store"),
        ({"method": "call", "notes": "x" * 5001}, "acknowledge", "under 5000"),
        ({"method": "call", "notes": "too early"}, "plan", "first"),
        ({"method": "call", "notes": "x"}, "no-such-step", "Unknown step"),
    ],
)
def test_bad_step_input_is_explained_and_changes_nothing(
    client, manager, case, data, kind, message
):
    client.force_login(manager)
    response = _post(client, "recovery:step-complete", case, data, kind)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not case.steps.filter(completed_at__isnull=False).exists()


def test_bad_step_input_without_htmx_shows_the_page(client, manager, case):
    client.force_login(manager)
    response = _post(
        client, "recovery:step-complete", case, {"method": "call"}, "acknowledge", htmx=False
    )
    assert response.status_code == 400
    assert "<html" in response.content.decode()


def test_clinician_cannot_approve_but_manager_can(client, clinician, manager, case):
    flowers = GestureKind.objects.get(organisation=case.practice.organisation, name="Fee waived")
    client.force_login(clinician)
    _post(client, "recovery:gesture-propose", case, {"kind": flowers.pk, "cost": "150"})
    gesture = Gesture.objects.get(case=case)
    assert gesture.status == "pending"
    page = client.get(reverse("recovery:case-detail", args=[case.pk])).content.decode()
    assert "Approve" not in page
    refused = client.post(
        reverse("recovery:gesture-decide", args=[gesture.pk]), {"decision": "approve"}, **HTMX
    )
    assert refused.status_code == 400 and "Only a manager" in refused.content.decode()
    gesture.refresh_from_db()
    assert gesture.status == "pending"
    client.force_login(manager)
    client.post(reverse("recovery:gesture-decide", args=[gesture.pk]), {"decision": "approve"})
    gesture.refresh_from_db()
    assert (gesture.status, gesture.decided_by) == ("approved", manager)


def test_gesture_of_another_organisation_is_refused(client, manager, case, other_practice):
    from recovery.policy import recovery_policy_for

    recovery_policy_for(other_practice.organisation)
    theirs = GestureKind.objects.filter(organisation=other_practice.organisation).first()
    client.force_login(manager)
    response = _post(client, "recovery:gesture-propose", case, {"kind": theirs.pk})
    assert response.status_code == 400
    assert not Gesture.objects.exists()


def test_alert_shows_on_patient_page_and_day_sheet_until_done(
    client, manager, front_desk, case, patient, practice
):
    tomorrow = timezone.now().astimezone(practice.zone).date() + dt.timedelta(days=1)
    AppointmentFactory(
        patient=patient,
        starts_at=dt.datetime.combine(tomorrow, dt.time(9), tzinfo=practice.zone),
        status="scheduled",
    )
    client.force_login(manager)
    _post(client, "recovery:alert-leave", case, {"text": "Apologise again <b>for March</b>"})
    alert = NextVisitAlert.objects.get()
    client.force_login(front_desk)
    patient_page = client.get(reverse("patients:patient-detail", args=[patient.pk]))
    assert "Apologise again &lt;b&gt;for March&lt;/b&gt;" in patient_page.content.decode()
    # The front desk sees the alert, not the complaint behind it.
    assert "Waited 40 minutes" not in patient_page.content.decode()
    sheet = client.get(reverse("patients:day-sheet"), {"day": tomorrow.isoformat()})
    assert "Apologise again" in sheet.content.decode()
    done = client.post(reverse("recovery:alert-done", args=[alert.pk]), **HTMX)
    assert "Done, thank you." in done.content.decode()
    sheet = client.get(reverse("patients:day-sheet"), {"day": tomorrow.isoformat()})
    assert "Apologise again" not in sheet.content.decode()


def test_acknowledgement_draft_is_edited_and_sent_once(client, manager, case, patient):
    client.force_login(manager)
    url = reverse("recovery:message-compose", args=[case.pk, "case_acknowledgement"])
    draft = client.get(url).content.decode()
    assert "Thank you for telling us what happened" in draft
    data = {
        "subject": "About your visit",
        "body": "Dear Dana,\n\nI am sorry. <script>alert(1)</script>\n\nOlivia",
    }
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # a double click sends nothing more
    message = OutboundMessage.objects.get(kind="case_acknowledgement")
    assert message.to_address == patient.email
    assert "<script>" not in message.html_body and "&lt;script&gt;" in message.html_body
    assert "Acknowledgement sent by Email" in case.events.last().text


def test_message_to_unreachable_patient_explains(client, manager, case, patient):
    patient.email = patient.phone = ""
    patient.save()
    client.force_login(manager)
    url = reverse("recovery:message-compose", args=[case.pk, "case_apology"])
    assert "We cannot write to" in client.get(url).content.decode()
    response = client.post(url, {"subject": "x", "body": "y"})
    assert response.status_code == 400
    assert "Call them or write a letter" in response.content.decode()


def test_open_a_case_from_a_feedback_item(client, manager, practice, patient):
    item = feedback_item_create(
        practice=practice, source="staff", text="The parking was full again.", patient=patient
    )
    client.force_login(manager)
    form = client.get(reverse("recovery:case-new"), {"item": item.pk}).content.decode()
    assert "The parking was full again." in form
    response = client.post(
        reverse("recovery:case-new"),
        {"item": item.pk, "summary": "Parking", "severity": "low", "touchpoints": ["facility"]},
    )
    case = RecoveryCase.objects.get(summary="Parking")
    assert response["Location"] == reverse("recovery:case-detail", args=[case.pk])
    assert (case.patient, case.severity, case.touchpoints) == (patient, "low", ["facility"])
    assert list(case.feedback_items.all()) == [item]


def test_open_a_case_with_bad_input(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("recovery:case-new"),
        {"summary": "", "severity": "apocalyptic", "touchpoints": ["<script>"]},
    )
    assert response.status_code == 400
    assert not RecoveryCase.objects.exists()


def test_pause_resume_and_close_through_the_page(client, manager, case):
    client.force_login(manager)
    _post(client, "recovery:case-pause", case, {"waiting_on": "third_party"})
    case.refresh_from_db()
    assert case.status == "waiting_third_party"
    page = client.get(reverse("recovery:case-detail", args=[case.pk])).content.decode()
    assert "clock stopped" in page
    _post(client, "recovery:case-resume", case, {})
    refused = _post(client, "recovery:case-close", case, {"outcome": "recovered"})
    assert "Follow up with the patient" in refused.content.decode()
    _post(client, "recovery:case-close", case, {"outcome": "unreachable"})
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "unreachable")


def test_dashboard_shows_recovery_figures(client, manager, case):
    for kind in ("acknowledge", "listen", "thank", "plan", "implement"):
        case_step_complete(case=case, kind=kind, method="call", notes="done", user=manager)
    case_step_complete(
        case=case, kind="follow_up", method="call", notes="all good", user=manager, score=9
    )
    RecoveryCase.objects.filter(pk=case.pk).update(satisfaction_before=5)
    from recovery.services import case_close

    case_close(case=case, outcome="recovered", user=manager)
    client.force_login(manager)
    page = client.get(reverse("feedback:dashboard")).content.decode()
    assert "Time to acknowledge" in page
    assert 'id="metric-recovered">100%' in page
    assert 'id="metric-deadlines">100%' in page
    assert "5.0 → 9.0" in page
    assert 'id="recovery-chart-data"' in page
