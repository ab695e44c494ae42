"""A small hand-made history at two practices of one group, in two time zones.

Maple Street Dental is in New York, Harbor Dental in Sydney: one UTC moment falls on
different local days at the two. Measured on Thursday March 12, 2026 at 15:00 UTC
(11:00 in New York, where clocks went forward on Sunday March 8; 02:00 on Friday March 13
in Sydney).

At Maple (New York):
- Dana (a patient since 2015), Nora (first visit March 10) and Finn (no first visit on
  record; his first completed appointment in Rapport is March 10) are seen on March 10;
  Finn again on the 11th, Dana cancels on the 11th.
- Dana answers at 23:50 on March 10 (03:50 UTC on the 11th): a 10, waiting 2, hygiene 5,
  booking was easy. Finn answers at 00:10 on the 11th: a 5, waiting 1. Nora never answers.
- Feedback: praise for hygiene naming Hana (10th), a complaint about waiting naming Jo
  (10th), Finn's complaint about waiting and the front desk naming Jo twice and Hana
  (00:10 on the 11th), a neutral remark naming Hana (11th).
- Crestline lab: Dana's hygiene 5 (10th) was the fitting of its appliance; case 1
  is about it; a complaint about it on the 11th; a lab defect reported on the 11th.
- Case 1 (10th 15:00) was due for acknowledgement at 17:00 and nobody did it: late.
  Case 2 (11th 09:00) acknowledged at 10:00, due 13:00: on time; closed recovered on the
  12th at 10:00, satisfaction 5 → 9; flowers $35.50 approved (a $20 gesture still pending).
- Calls on the 10th: one answered; one missed from a new caller, called back on time, who
  booked a visit on the 12th. The same number calls again on the 11th, missed, call-back
  overdue: a second call from the same new caller is no new caller.
- A records request received on the 9th, fulfilled on the 10th (due the 20th); another
  withdrawn.
- Walt leaves at 22:30 on the 10th (02:30 UTC on the 11th), having moved, $1,234.56 of
  value; Rita, who left for cost on the 9th, comes back on the 11th.
- A lab defect reported on the 11th. Scores: Dana at risk (40) with $1,000 of value.

At Harbor (Sydney):
- Sam answers at 00:05 on the 11th (13:05 UTC on the 10th): an 8, dentist care 4; he was
  invited at 23:59 on the 10th.
- A missed call at 08:00 on the 11th. Sue left on the 10th, no reason recorded, $800.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from analytics.rollups import DayRange
from analytics.tests import factories as f
from feedback.models import Answer
from loyalty.models import PatientScore
from patients.tests.factories import PatientFactory
from vendors.models import VendorDefect
from vendors.tests.factories import crestline

NY, SYD = "America/New_York", "Australia/Sydney"
NOW = dt.datetime(2026, 3, 12, 15, 0, tzinfo=dt.UTC)
MARCH = DayRange(dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def d(day: int) -> dt.date:
    return dt.date(2026, 3, day)


def build_history(maple, harbor) -> None:
    """The history of the module docstring, written as raw rows."""
    ny = lambda text: f.at(text, NY)  # noqa: E731
    syd = lambda text: f.at(text, SYD)  # noqa: E731
    dana = PatientFactory(practice=maple, first_name="Dana", first_visit_on=dt.date(2015, 3, 1))
    nora = PatientFactory(practice=maple, first_name="Nora", first_visit_on=d(10))
    finn = PatientFactory(practice=maple, first_name="Finn", first_visit_on=None)
    f.visit(dana, starts_at=ny("2026-03-10 09:00"))
    f.visit(nora, starts_at=ny("2026-03-10 10:00"))
    f.visit(finn, starts_at=ny("2026-03-10 11:00"))
    f.visit(finn, starts_at=ny("2026-03-11 09:00"))
    f.visit(dana, starts_at=ny("2026-03-11 14:00"), status="cancelled")

    invited = f.invitation(dana, created_at=ny("2026-03-10 12:00"))
    f.invitation(nora, created_at=ny("2026-03-10 12:05"))
    finn_invited = f.invitation(finn, created_at=ny("2026-03-10 20:00"))
    f.respond(
        invited,
        submitted_at=ny("2026-03-10 23:50"),
        nps=10,
        ratings={"waiting": 2, "hygiene": 5},
        easy=1,
    )
    f.respond(finn_invited, submitted_at=ny("2026-03-11 00:10"), nps=5, ratings={"waiting": 1})
    lab = crestline(maple)
    # Dana's hygiene visit was to fit the appliance the lab made: her 5 rates it too.
    Answer.objects.filter(response__invitation=invited, question__touchpoint="hygiene").update(
        vendor=lab
    )
    f.feedback_item(
        maple,
        received_at=ny("2026-03-10 14:00"),
        label="positive",
        touchpoints=["hygiene"],
        people=["Hana"],
    )
    f.feedback_item(
        maple,
        received_at=ny("2026-03-10 16:00"),
        label="negative",
        touchpoints=["waiting"],
        people=["Jo"],
    )
    f.feedback_item(
        maple,
        received_at=ny("2026-03-11 00:10"),
        label="negative",
        touchpoints=["waiting", "arrival_reception"],
        patient=finn,
        people=["Jo", "Jo", "Hana"],
    )
    f.feedback_item(maple, received_at=ny("2026-03-11 08:00"), label="neutral", people=["Hana"])
    f.feedback_item(maple, received_at=ny("2026-03-11 09:30"), label="negative", vendor=lab)

    f.case(
        maple,
        opened_at=ny("2026-03-10 15:00"),
        ack_due=ny("2026-03-10 17:00"),
        topic="x",
        vendor=lab,
    )
    second = f.case(
        maple,
        patient=finn,
        opened_at=ny("2026-03-11 09:00"),
        ack_due=ny("2026-03-11 13:00"),
        acked_at=ny("2026-03-11 10:00"),
        status="closed",
        closed_at=ny("2026-03-12 10:00"),
        outcome="recovered",
        before=5,
        after=9,
    )
    f.gesture(second, proposed_at=ny("2026-03-11 11:00"), cost="35.50")
    f.gesture(second, proposed_at=ny("2026-03-11 11:30"), cost="20.00", status="pending")

    f.call(maple, started_at=ny("2026-03-10 09:30"))
    f.call(maple, started_at=ny("2026-03-10 11:30"), direction="outbound")
    first_call = f.call(
        maple,
        started_at=ny("2026-03-10 12:30"),
        disposition="missed",
        number="+12025550999",
        new_caller=True,
    )
    f.callback(
        first_call,
        due_at=ny("2026-03-10 12:45"),
        done_at=ny("2026-03-10 12:40"),
        outcome="booked",
    )
    pat = PatientFactory(practice=maple, first_name="Pat", phone="+12025550999")
    f.visit(
        pat,
        starts_at=ny("2026-03-20 09:00"),
        status="scheduled",
        created_at=ny("2026-03-12 08:00"),
    )
    again = f.call(
        maple,
        started_at=ny("2026-03-11 10:00"),
        disposition="voicemail",
        number="+12025550999",
        new_caller=True,
    )
    f.callback(again, due_at=ny("2026-03-11 10:15"))

    f.records_request(
        dana,
        received_at=ny("2026-03-09 10:00"),
        due_on=d(20),
        status="fulfilled",
        fulfilled_at=ny("2026-03-10 16:00"),
    )
    f.records_request(nora, received_at=ny("2026-03-10 10:00"), due_on=d(20), status="withdrawn")
    f.departed(maple, departed_at=ny("2026-03-10 22:30"), reason="moved", value="1234.56")
    f.departed(
        maple,
        departed_at=ny("2026-03-09 12:00"),
        reason="cost",
        value="500",
        returned_at=ny("2026-03-11 12:00"),
    )
    VendorDefect.objects.create(
        practice=maple, vendor=lab, kind="reported", detected_at=ny("2026-03-11 09:00")
    )
    for patient, risk, value in ((dana, 40, "1000"), (nora, 10, "300")):
        PatientScore.objects.create(
            patient=patient,
            practice=maple,
            scored_at=NOW,
            risk=risk,
            value=10,
            lifetime_value=Decimal(value),
        )

    sam = PatientFactory(practice=harbor, first_name="Sam")
    sam_invited = f.invitation(sam, created_at=syd("2026-03-10 23:59"))
    f.respond(sam_invited, submitted_at=syd("2026-03-11 00:05"), nps=8, ratings={"dentist_care": 4})
    f.call(harbor, started_at=syd("2026-03-11 08:00"), disposition="missed")
    f.departed(harbor, departed_at=syd("2026-03-10 09:00"), value="800")
