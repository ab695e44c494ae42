"""Story 1 on the demo practice: Dana, of twenty years, tops the at-risk list with her reasons."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from loyalty.models import CheckIn, PatientScore, ScoreSnapshot
from patients.models import Patient
from patients.seeding.demo import seed_demo


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            seed_demo()
            yield
            transaction.set_rollback(True)


@pytest.fixture
def dana(demo):
    return Patient.objects.get(first_name="Dana", last_name="Whitfield")


@pytest.mark.django_db
def test_rapport_score_on_the_demo_prints_count_and_time(demo):
    out = StringIO()
    call_command("score", "--practice", "maple", "--no-progress", stdout=out)
    scored = PatientScore.objects.filter(practice__slug="maple").count()
    assert re.fullmatch(
        rf"score: {scored} patients scored in Maple Street Dental in \d+\.\d s\n", out.getvalue()
    )
    assert scored > 1500


@pytest.mark.django_db
def test_dana_tops_the_at_risk_list_with_reasons(client, demo, dana):
    client.force_login(get_user_model().objects.get(username="manager"))
    page = client.get(reverse("loyalty:at-risk")).content.decode()
    first_row = page.split("<tbody>")[1].split("</tr>")[0]
    assert "Dana Whitfield" in first_row
    assert "score fell from 9 to" in first_row
    assert "check-in call by the dentist" in first_row
    assert CheckIn.objects.filter(patient=dana, outcome="reassured").exists()


@pytest.mark.django_db
def test_dentist_sees_danas_score_reasons_and_trend(client, demo, dana):
    client.force_login(get_user_model().objects.get(username="dentist"))
    page = client.get(reverse("patients:patient-detail", args=[dana.pk])).content.decode()
    score = PatientScore.objects.get(patient=dana)
    assert f'<dd id="loyalty-risk">{score.risk}</dd>' in page
    assert "months since the last visit" in page
    # Snapshots only in months her score moved; the chart carries them over a year.
    assert 2 <= ScoreSnapshot.objects.filter(patient=dana).count() <= 13
    assert 'id="loyalty-chart-data"' in page and "Risk by month" in page


@pytest.mark.django_db
def test_danas_records_request_was_acknowledged_at_once_and_fulfilled(demo, dana):
    from records.models import RecordsRequest

    request = RecordsRequest.objects.get(patient=dana)
    assert request.acknowledged_at == request.received_at
    assert request.status == "fulfilled" and request.fee == 0
    hours = (request.fulfilled_at - request.received_at).total_seconds() / 3600
    assert 20 <= hours <= 24  # asked at 10:05, sent at 08:40 the next morning
    assert request.send_copy_to.endswith("lakesidefamilydental.example")
