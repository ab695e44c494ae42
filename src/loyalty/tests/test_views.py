"""The at-risk list, the loyalty section of the patient page, and check-ins through the pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from feedback.services import feedback_item_create
from loyalty.models import CheckIn, PatientScore
from loyalty.scoring import scores_compute
from patients.tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db


def _history(patient, *, missed: int = 0, days_since: int = 40) -> None:
    now = timezone.now()
    for days in (days_since + 360, days_since + 180, days_since):
        AppointmentFactory(
            patient=patient, starts_at=now - dt.timedelta(days=days), status="completed"
        )
    for n in range(missed):
        AppointmentFactory(
            patient=patient, starts_at=now - dt.timedelta(days=10 + n), status="no_show"
        )


@pytest.fixture
def scored(practice, patient):
    """Dana drifting away (a long gap, a complaint about the drive); two others less so."""
    _history(patient, days_since=400)
    feedback_item_create(
        practice=practice,
        source="staff",
        patient=patient,
        text="It is such a long drive now and the parking is awful, I hate coming.",
    )
    calm = PatientFactory(practice=practice, first_name="Calm", last_name="Steady")
    _history(calm)
    AppointmentFactory(
        patient=calm, starts_at=timezone.now() + dt.timedelta(days=30), status="scheduled"
    )
    wobbly = PatientFactory(practice=practice, first_name="Wobbly", last_name="Missed")
    _history(wobbly, missed=3, days_since=300)
    scores_compute(practices=[practice])
    return patient, calm, wobbly


def test_at_risk_list_is_sorted_by_priority_with_reasons(client, manager, scored):
    dana, calm, wobbly = scored
    client.force_login(manager)
    page = client.get(reverse("loyalty:at-risk")).content.decode()
    assert "Whitfield" in page and "Missed" in page
    assert "Steady" not in page  # below the listing threshold
    assert page.index("Whitfield") < page.index("Wobbly")
    assert "months since the last visit" in page and "a complaint is still being worked" in page
    priorities = [int(p) for p in re.findall(r'class="num"><strong>(\d+)</strong>', page)]
    assert priorities == sorted(priorities, reverse=True) and len(priorities) == 2
    listed = AuditEvent.objects.get(object_type="loyalty_score", action="list")
    assert set(listed.detail["patient_ids"]) == {dana.pk, wobbly.pk}


def test_front_desk_sees_no_scores(client, front_desk, scored):
    dana = scored[0]
    client.force_login(front_desk)
    assert client.get(reverse("loyalty:at-risk")).status_code == 403
    page = client.get(reverse("patients:patient-detail", args=[dana.pk])).content.decode()
    assert "Risk of leaving" not in page and 'id="loyalty-risk"' not in page


def test_patient_page_shows_score_reasons_and_trend(client, clinician, scored, practice):
    dana = scored[0]
    scores_compute(practices=[practice], now=timezone.now() - dt.timedelta(days=40))
    scores_compute(practices=[practice])
    client.force_login(clinician)
    page = client.get(reverse("patients:patient-detail", args=[dana.pk])).content.decode()
    risk = PatientScore.objects.get(patient=dana).risk
    assert f'<dd id="loyalty-risk">{risk}</dd>' in page
    assert "months since the last visit" in page
    assert 'id="loyalty-chart-data"' in page  # two months of snapshots: a trend to draw


def test_manager_plans_and_owner_logs_a_check_in(client, manager, clinician, scored):
    dana = scored[0]
    client.force_login(manager)
    due = (timezone.now() + dt.timedelta(days=3)).date().isoformat()
    response = client.post(
        reverse("loyalty:checkin-plan", args=[dana.pk]),
        {"kind": "dentist_call", "owner": clinician.pk, "due_on": due},
    )
    assert response.status_code == 302
    check_in = CheckIn.objects.get()
    assert check_in.reasons and check_in.owner == clinician
    assert "check-in planned" in client.get(reverse("loyalty:at-risk")).content.decode()
    client.force_login(clinician)
    client.post(
        reverse("loyalty:checkin-complete", args=[check_in.pk]),
        {"outcome": "booked", "notes": "Booked her cleaning for next week.", "back": "patient"},
    )
    check_in.refresh_from_db()
    assert check_in.outcome == "booked" and check_in.done_at is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "call", "due_on": "not-a-date"}, "Due date"),
        ({"kind": "telepathy", "due_on": "2099-01-01"}, "Choose a call"),
        ({"kind": "call", "due_on": "2001-01-01"}, "Due date"),
    ],
)
def test_bad_check_in_input_is_explained(client, manager, scored, data, message):
    client.force_login(manager)
    response = client.post(
        reverse("loyalty:checkin-plan", args=[scored[0].pk]), {"owner": manager.pk, **data}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CheckIn.objects.exists()


def test_clinician_cannot_plan_check_ins(client, clinician, scored):
    client.force_login(clinician)
    response = client.post(
        reverse("loyalty:checkin-plan", args=[scored[0].pk]),
        {"kind": "call", "owner": clinician.pk, "due_on": timezone.now().date().isoformat()},
    )
    assert response.status_code == 400
    assert "Only a manager" in response.content.decode()


def test_at_risk_list_queries_do_not_grow(client, manager, practice, django_assert_max_num_queries):
    for n in range(20):
        _history(PatientFactory(practice=practice, last_name=f"Gap{n}"), days_since=500)
    scores_compute(practices=[practice])
    client.force_login(manager)
    with django_assert_max_num_queries(20):
        page = client.get(reverse("loyalty:at-risk")).content.decode()
    assert page.count("months since the last visit") == 20
