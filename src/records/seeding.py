"""Demo records: Dana asks for her records; acknowledged at once, fulfilled the next morning."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from core.models import Practice
from patients.models import Patient
from records.services import records_request_fulfil, records_request_log


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
    return 1
