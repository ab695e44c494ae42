"""Demo records: Dana asks for her records; acknowledged at once, fulfilled the next morning.
And three patients who left: one whose win-back call is due soon, one who came back."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from core.models import Practice
from patients.models import Patient
from records.departures import patient_depart, patient_return
from records.services import records_request_fulfil, records_request_log

# The story households stay as their stories tell them.
STORY_SURNAMES = ("Whitfield", "Ortega", "Nair", "Lee", "Brandt")
# (reason, note, days since they left, win-back owner, days since they came back or None)
DEPARTURES = (
    ("equipment", "Found a practice with a digital scanner", 170, "dentist", None),
    ("insurance", "Employer changed dental plans", 230, "manager", 40),
    ("moved", "Moved out of state for work", 25, "dentist", None),
)


def records_seed(*, practice: Practice, now: dt.datetime) -> int:
    dana = Patient.objects.filter(practice=practice, first_name="Dana", last_name="Whitfield")
    dana = dana.first()
    users = {
        u.username: u
        for u in get_user_model().objects.filter(username__in=["frontdesk", "manager"])
    }
    if dana is None or len(users) < 2:
        return 0
    # A call at 10:05 three days ago; the manager sends the records at 08:40 the next day.
    local = (now - dt.timedelta(days=3)).astimezone(practice.zone)
    called = local.replace(hour=10, minute=5, second=0, microsecond=0)
    request = records_request_log(
        patient=dana,
        channel="phone",
        user=users["frontdesk"],
        received_at=called,
        send_copy_to="records@lakesidefamilydental.example",
        now=called,
    )
    records_request_fulfil(
        records_request=request,
        user=users["manager"],
        now=(called + dt.timedelta(days=1)).replace(hour=8, minute=40),
    )
    departures_seed(practice=practice, now=now)
    return 1


def departures_seed(*, practice: Practice, now: dt.datetime) -> int:
    """Three valuable adults leave, for different reasons; one has since come back."""
    users = {
        u.username: u
        for u in get_user_model().objects.filter(username__in=["frontdesk", "dentist", "manager"])
    }
    if len(users) < 3:
        return 0
    # Deterministic: the generated data is, and so is this order.
    leaving = list(
        Patient.objects.filter(
            practice=practice,
            status=Patient.Status.ACTIVE,
            guardian__isnull=True,
            first_visit_on__isnull=False,
            date_of_birth__lte=(now - dt.timedelta(days=366 * 25)).date(),
        )
        .exclude(email="")
        .exclude(last_name__in=STORY_SURNAMES)
        .order_by("-lifetime_value", "external_id")[: len(DEPARTURES)]
    )
    for patient, (reason, note, days_ago, owner, came_back) in zip(
        leaving, DEPARTURES, strict=False
    ):
        left = (now - dt.timedelta(days=days_ago)).astimezone(practice.zone)
        left = left.replace(hour=11, minute=20, second=0, microsecond=0)
        patient_depart(
            patient=patient,
            reason=reason,
            note=note,
            user=users["frontdesk"],
            winback_owner=users[owner],
            now=left,
        )
        if came_back is not None:
            back = (now - dt.timedelta(days=came_back)).astimezone(practice.zone)
            patient_return(
                patient=patient,
                user=users["manager"],
                now=back.replace(hour=9, minute=30, second=0, microsecond=0),
            )
    return len(leaving)
