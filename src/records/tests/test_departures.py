"""Departures: the reason, the farewell letter with the exit survey, the win-back check-in,
and patients who come back (redeemed)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import AuditEvent
from feedback.defaults import EXIT_REASON_CHOICES
from feedback.models import SurveyInvitation
from feedback.services import invitation_from_token, response_submit
from loyalty.models import CheckIn
from loyalty.services import LoyaltyError, checkin_complete
from messaging.models import OutboundMessage
from patients.models import Patient
from patients.tests.factories import PatientFactory
from records.departure_selectors import departures_by_reason
from records.departures import (
    DepartureError,
    departure_reason_from_exit_answers,
    patient_depart,
    patient_return,
    years_with_us,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def twenty_years(patient):
    today = timezone.localdate()
    patient.first_visit_on = today.replace(year=today.year - 20) - dt.timedelta(days=10)
    patient.lifetime_value = Decimal("10450.00")
    patient.save()
    return patient


def _depart(patient, user, **kwargs):
    return patient_depart(patient=patient, user=user, **{"reason": "moved", **kwargs})


def test_departure_records_the_reason_note_and_time(twenty_years, clinician):
    before = timezone.now()
    departure = _depart(twenty_years, clinician, note="  A long   drive since the move ")
    patient = Patient.objects.get(pk=twenty_years.pk)
    assert patient.status == Patient.Status.DEPARTED
    assert patient.departure_reason == "moved"
    assert patient.departure_note == "A long drive since the move"
    assert patient.departed_at >= before and patient.returned_at is None
    assert departure.patient.pk == patient.pk
    audit = AuditEvent.objects.get(object_type="patient", action="update", patient_id=patient.pk)
    assert audit.actor == clinician and audit.detail["reason"] == "moved"


def test_farewell_letter_thanks_them_for_the_years_with_the_exit_survey_link(
    twenty_years, clinician
):
    departure = _depart(twenty_years, clinician)
    letter = OutboundMessage.objects.get(kind="farewell_letter")
    assert departure.farewell == letter
    assert letter.to_address == twenty_years.email
    assert "Dear Dana" in letter.body
    assert "the 20 years you have been with us" in letter.body
    assert "Your records are yours" in letter.body and "door is always open" in letter.body
    invitation = SurveyInvitation.objects.get(patient=twenty_years)
    assert invitation.survey.kind == "exit"
    token = re.search(r"/s/([^/\s]+)/\n", letter.body).group(1)  # the survey, not opt-out
    assert invitation_from_token(token) == invitation
    # One message, not a survey invitation as well.
    assert OutboundMessage.objects.count() == 1


def test_years_are_whole_years_since_the_first_visit(patient):
    patient.first_visit_on = dt.date(2006, 11, 26)
    assert years_with_us(patient, dt.date(2026, 11, 25)) == 19
    assert years_with_us(patient, dt.date(2026, 11, 26)) == 20
    patient.first_visit_on = dt.date(2026, 6, 1)
    assert years_with_us(patient, dt.date(2026, 11, 25)) == 0


def test_a_new_patient_is_thanked_for_their_time(patient, clinician):
    patient.first_visit_on = timezone.localdate() - dt.timedelta(days=40)
    patient.save()
    _depart(patient, clinician)
    assert "the time you have been with us" in OutboundMessage.objects.get().body


def test_no_letter_when_asked_not_to(twenty_years, clinician):
    departure = _depart(twenty_years, clinician, send_farewell=False)
    assert departure.farewell is None
    assert not OutboundMessage.objects.exists() and not SurveyInvitation.objects.exists()


def test_win_back_check_in_due_in_six_months_with_the_owner_dentist(
    practice, twenty_years, front_desk, clinician
):
    practice.owner_dentist = clinician
    practice.save()
    now = timezone.now()
    departure = _depart(twenty_years, front_desk, reason="equipment", now=now)
    check_in = CheckIn.objects.get(patient=twenty_years)
    assert check_in == departure.winback
    assert check_in.kind == CheckIn.Kind.WINBACK and check_in.owner == clinician
    assert check_in.due_on == now.astimezone(practice.zone).date() + dt.timedelta(days=182)
    assert check_in.reasons == ["Left: Equipment or technology"]
    assert check_in.created_by == front_desk and check_in.done_at is None


def test_the_owner_defaults_to_the_person_recording_it(twenty_years, manager):
    assert _depart(twenty_years, manager).winback.owner == manager


def test_a_chosen_owner_and_delay(twenty_years, front_desk, manager):
    departure = _depart(twenty_years, front_desk, winback_owner=manager, winback_after_days=30)
    assert departure.winback.owner == manager
    assert (departure.winback.due_on - departure.patient.departed_at.date()).days in (29, 30, 31)


def test_the_owner_must_work_at_the_practice(twenty_years, front_desk, outsider):
    # The front desk cannot own a check-in, and there is no owner dentist to fall back on.
    with pytest.raises(DepartureError, match="Win-back"):
        _depart(twenty_years, front_desk)
    with pytest.raises(DepartureError, match="Win-back"):
        _depart(twenty_years, front_desk, winback_owner=outsider)
    assert Patient.objects.get(pk=twenty_years.pk).status == Patient.Status.ACTIVE
    assert not CheckIn.objects.exists() and not OutboundMessage.objects.exists()


def test_departing_twice_is_refused(twenty_years, clinician):
    _depart(twenty_years, clinician)
    with pytest.raises(DepartureError, match="already recorded as departed"):
        _depart(twenty_years, clinician, reason="cost")
    assert CheckIn.objects.count() == 1 and OutboundMessage.objects.count() == 1
    assert Patient.objects.get(pk=twenty_years.pk).departure_reason == "moved"


@pytest.mark.parametrize("reason", ["", "bored", "MOVED", "moved\x00"])
def test_a_bad_reason_is_refused_and_nothing_stored(twenty_years, clinician, reason):
    with pytest.raises(DepartureError, match="Reason"):
        _depart(twenty_years, clinician, reason=reason)
    assert Patient.objects.get(pk=twenty_years.pk).status == Patient.Status.ACTIVE
    assert not CheckIn.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize("days", [0, -5, 2000])
def test_a_win_back_delay_out_of_range_is_refused(twenty_years, clinician, days):
    with pytest.raises(DepartureError, match="Win-back"):
        _depart(twenty_years, clinician, winback_after_days=days)


def test_a_long_note_is_refused(twenty_years, clinician):
    with pytest.raises(DepartureError, match="Note"):
        _depart(twenty_years, clinician, note="x" * 501)


def test_coming_back_is_counted_as_redeemed_and_closes_the_win_back(twenty_years, clinician):
    _depart(twenty_years, clinician)
    back = timezone.now() + dt.timedelta(days=100)
    patient_return(patient=twenty_years, user=clinician, now=back)
    patient = Patient.objects.get(pk=twenty_years.pk)
    assert patient.status == Patient.Status.ACTIVE and patient.returned_at == back
    assert patient.departure_reason == "moved"  # why they once left stays known
    check_in = CheckIn.objects.get()
    assert check_in.outcome == CheckIn.Outcome.RETURNED and check_in.done_at == back
    assert AuditEvent.objects.filter(
        object_type="patient", patient_id=patient.pk, detail__returned=True
    ).exists()


def test_only_a_departed_patient_comes_back(patient, clinician):
    with pytest.raises(DepartureError, match="not recorded as departed"):
        patient_return(patient=patient, user=clinician)


def test_completing_the_win_back_with_came_back_redeems_them(twenty_years, clinician):
    departure = _depart(twenty_years, clinician)
    checkin_complete(
        check_in=departure.winback, outcome="returned", notes="Booked a cleaning", user=clinician
    )
    patient = Patient.objects.get(pk=twenty_years.pk)
    assert patient.status == Patient.Status.ACTIVE and patient.returned_at is not None
    check_in = CheckIn.objects.get()
    assert check_in.outcome == "returned" and check_in.notes == "Booked a cleaning"


def test_came_back_is_only_for_win_back_check_ins(patient, clinician):
    check_in = CheckIn.objects.create(
        practice=patient.practice,
        patient=patient,
        kind=CheckIn.Kind.CALL,
        owner=clinician,
        due_on=timezone.localdate(),
        created_at=timezone.now(),
    )
    with pytest.raises(LoyaltyError, match="win-back"):
        checkin_complete(check_in=check_in, outcome="returned", notes="", user=clinician)


def test_another_win_back_outcome_leaves_them_departed(twenty_years, clinician):
    departure = _depart(twenty_years, clinician)
    checkin_complete(check_in=departure.winback, outcome="no_answer", notes="", user=clinician)
    assert Patient.objects.get(pk=twenty_years.pk).status == Patient.Status.DEPARTED


def _answer_exit_survey(patient, choice: str):
    invitation = SurveyInvitation.objects.get(patient=patient, survey__kind="exit")
    reason_question = invitation.survey.questions.get(kind="choice")
    return response_submit(invitation=invitation, answers={f"q{reason_question.pk}": choice})


def test_the_exit_survey_offers_the_eight_reasons(twenty_years, clinician):
    _depart(twenty_years, clinician)
    invitation = SurveyInvitation.objects.get(patient=twenty_years)
    choices = invitation.survey.questions.get(kind="choice").choices
    assert choices == list(EXIT_REASON_CHOICES.values())
    assert set(EXIT_REASON_CHOICES) == set(Patient.DepartureReason.values)


def test_an_exit_answer_fills_in_a_blank_reason(twenty_years, clinician):
    _depart(twenty_years, clinician)
    Patient.objects.filter(pk=twenty_years.pk).update(departure_reason="")
    _answer_exit_survey(twenty_years, "A lab, specialist or other third party")
    assert Patient.objects.get(pk=twenty_years.pk).departure_reason == "third_party"
    audit = AuditEvent.objects.filter(object_type="patient", actor_label="patient (exit survey)")
    assert audit.get().detail == {"reason": "third_party"}


def test_an_exit_answer_never_overrides_what_staff_recorded(twenty_years, clinician):
    _depart(twenty_years, clinician, reason="cost")
    _answer_exit_survey(twenty_years, "I moved or found a practice closer to home")
    assert Patient.objects.get(pk=twenty_years.pk).departure_reason == "cost"


def test_answers_to_the_older_wording_still_count(patient):
    Patient.objects.filter(pk=patient.pk).update(status="departed", departed_at=timezone.now())
    assert (
        departure_reason_from_exit_answers(
            patient_id=patient.pk, answers=["", "Moved or closer to home"]
        )
        == "moved"
    )
    assert departure_reason_from_exit_answers(patient_id=patient.pk, answers=["Cost"]) == ""


def test_an_unknown_answer_or_an_active_patient_changes_nothing(patient):
    assert departure_reason_from_exit_answers(patient_id=patient.pk, answers=["Cost"]) == ""
    Patient.objects.filter(pk=patient.pk).update(status="departed")
    assert departure_reason_from_exit_answers(patient_id=patient.pk, answers=["Whim"]) == ""
    assert Patient.objects.get(pk=patient.pk).departure_reason == ""


# --- Reads ------------------------------------------------------------------------------


def _leave(practice, user, reason, value, *, days_ago=10, **fields):
    patient = PatientFactory(practice=practice, lifetime_value=Decimal(value), **fields)
    patient_depart(
        patient=patient,
        reason=reason,
        user=user,
        send_farewell=False,
        now=timezone.now() - dt.timedelta(days=days_ago),
    )
    return patient


def _last_year(practice):
    today = timezone.now().astimezone(practice.zone).date()
    return {"since": today - dt.timedelta(days=365), "until": today}


def test_departures_are_counted_by_reason_with_the_value_lost(practice, manager, other_practice):
    _leave(practice, manager, "moved", "1000")
    _leave(practice, manager, "moved", "2500.50")
    _leave(practice, manager, "cost", "400")
    _leave(practice, manager, "cost", "9999", days_ago=400)  # before the period
    report = departures_by_reason(user=manager, practice=practice, **_last_year(practice))
    rows = [(row.label, row.count, row.value_lost) for row in report.rows]
    assert rows == [("Moved", 2, Decimal("3500.50")), ("Cost", 1, Decimal("400"))]
    assert report.total_count == 3 and report.total_value_lost == Decimal("3900.50")
    assert len(report.patients) == 3
    assert report.chart["labels"] == ["Moved", "Cost"]
    assert report.chart["horizontal"] is True
    assert [(s["label"], s["values"]) for s in report.chart["series"]] == [
        ("Patients who left", [2, 1])
    ]


def test_redeemed_patients_are_counted_and_their_value_is_not_lost(practice, manager):
    back = _leave(practice, manager, "insurance", "800", days_ago=100)
    _leave(practice, manager, "insurance", "300")
    patient_return(patient=back, user=manager, now=timezone.now() - dt.timedelta(days=5))
    report = departures_by_reason(user=manager, practice=practice, **_last_year(practice))
    assert report.redeemed_count == 1
    (row,) = report.rows
    assert (row.count, row.value_lost) == (2, Decimal("300"))


def test_win_back_due_and_owner_come_with_each_patient(
    practice, manager, django_assert_max_num_queries
):
    for reason in ("moved", "cost", "service"):
        _leave(practice, manager, reason, "100")
    with django_assert_max_num_queries(8):
        report = departures_by_reason(user=manager, practice=practice, **_last_year(practice))
        winbacks = [p.winbacks[0] for p in report.patients]
        owners = {w.owner.username for w in winbacks}
    assert owners == {"olivia"} and all(w.kind == "winback" for w in winbacks)


def test_imported_departures_without_a_reason_are_shown_as_not_recorded(practice, manager):
    PatientFactory(practice=practice, status="departed", departed_at=timezone.now())
    report = departures_by_reason(user=manager, practice=practice, **_last_year(practice))
    assert [(row.label, row.count) for row in report.rows] == [("Not recorded", 1)]


def test_another_practice_s_departures_are_not_counted(
    practice, sister_practice, other_practice, manager, outsider, director
):
    from core.models import Membership
    from core.tests.factories import member

    sister_manager = member(sister_practice, Membership.Role.MANAGER)
    _leave(practice, manager, "moved", "100")
    _leave(sister_practice, sister_manager, "cost", "200")
    _leave(other_practice, outsider, "clinical", "300")
    period = _last_year(practice)
    mine = departures_by_reason(user=manager, practice=practice, **period)
    assert [row.reason for row in mine.rows] == ["moved"]
    # Asking about a practice you do not belong to finds nothing at all.
    assert departures_by_reason(user=manager, practice=other_practice, **period).rows == []
    assert departures_by_reason(user=manager, practice=sister_practice, **period).rows == []
    assert departures_by_reason(user=outsider, practice=practice, **period).total_count == 0
    # The group director sees each practice of the group, one at a time.
    sister = departures_by_reason(user=director, practice=sister_practice, **period)
    assert [row.reason for row in sister.rows] == ["cost"]
