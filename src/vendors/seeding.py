"""Demo vendors: story 3's Crestline Dental Lab, an oral surgeon and an imaging centre.

Priya Nair was sent to Crestline for shade matching; her survey about that visit rates the
lab 1 of 5 beside her 3 of 10 for us, her comment names Crestline, so the comment and her
recovery case are Crestline's, and the standards went to the lab manager the day she told
her story. Across the practice's last year, Crestline made the crowns (two came back
after the seat appointment) and did the shade matching of patients who answered the
survey; Northside Oral Surgery took referrals (one not scheduled after four weeks, one
scheduled late). Runs after the feedback and recovery seeding, whose rows it attributes;
it adds no feedback and opens no case. Deterministic, and run once per practice.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model

from core.models import Practice
from feedback.models import Answer, Survey, SurveyResponse
from patients.models import Appointment, Patient
from recovery.models import CaseStep, RecoveryCase
from vendors.models import Involvement, Vendor
from vendors.services import (
    contact_add,
    defects_detect,
    involvement_create,
    standards_acknowledge,
    standards_send,
    vendor_create,
)
from vendors.surveys import vendor_question_ensure

STORY_SURNAMES = ("Whitfield", "Ortega", "Nair", "Lee", "Brandt")
YEAR = dt.timedelta(days=365)
# How patients rate a brilliant lab that ignores them: mostly middling, some poor.
CRESTLINE_RATINGS = (1, 2, 2, 3, 3, 3, 3, 4, 4, 5)
# Seats whose crown came back a day or two after the appointment, by position among the
# year's seats (oldest first): a pattern, not a one-off.
LATE_SEATS = (0.35, 0.8)
# Northside referrals: (days ago referred, days until scheduled, or None: not yet).
REFERRALS = ((110, 4), (96, 6), (81, 21), (67, 3), (53, 9), (39, 5), (27, None), (5, None))
IMAGING_SCANS = 4


def vendors_seed(*, practice: Practice, now: dt.datetime) -> dict[str, int]:
    """Seed the demo practice's vendors once; the counts of what was written."""
    if Vendor.objects.filter(practice=practice).exists():
        return {}
    manager = get_user_model().objects.filter(username="manager").first()
    priya = Patient.objects.filter(practice=practice, first_name="Priya", last_name="Nair").first()
    if manager is None or priya is None:
        return {}
    seed = _VendorSeed(practice, now, manager)
    seed.crestline_and_priya(priya)
    seed.crestline_crowns()
    seed.crestline_shade_matches()
    seed.northside_referrals()
    seed.clearview_imaging()
    defects_detect(practice=practice, now=now)
    return {
        "vendors": Vendor.objects.filter(practice=practice).count(),
        "involvements": Involvement.objects.filter(practice=practice).count(),
        "vendor_answers": seed.answers,
    }


class _VendorSeed:
    def __init__(self, practice: Practice, now: dt.datetime, manager) -> None:
        self.practice = practice
        self.now = now
        self.manager = manager
        self.zone = practice.zone
        self.today = now.astimezone(self.zone).date()
        self.rng = random.Random("rapport-demo-vendors")
        self.answers = 0
        self.crestline = vendor_create(
            practice=practice,
            name="Crestline Dental Lab",
            kind=Vendor.Kind.LAB,
            aliases=["Crestline", "the Crestline lab"],
            touchpoints=["third_party"],
            notes="Crowns, bridges and shade matching. Courier pick-up every day at 4 pm.",
            user=manager,
            now=now,
        )
        self.marcus = contact_add(
            vendor=self.crestline,
            name="Marcus Hale",
            role="Lab manager",
            email="marcus.hale@crestline-lab.example",
            phone="+18605550142",
            user=manager,
        )
        contact_add(
            vendor=self.crestline,
            name="Tom Becker",
            role="Ceramist (shade matching)",
            phone="+18605550147",
            user=manager,
        )
        self.northside = vendor_create(
            practice=practice,
            name="Northside Oral Surgery",
            kind=Vendor.Kind.SPECIALIST,
            aliases=["Northside"],
            touchpoints=["third_party"],
            notes="Wisdom teeth, implants we do not place ourselves, biopsies.",
            user=manager,
            now=now,
        )
        contact_add(
            vendor=self.northside,
            name="Maria Chen",
            role="Referral coordinator",
            email="referrals@northside-surgery.example",
            phone="+18605550190",
            user=manager,
        )
        self.clearview = vendor_create(
            practice=practice,
            name="Clearview Imaging Centre",
            kind=Vendor.Kind.IMAGING,
            aliases=["Clearview"],
            touchpoints=["third_party"],
            user=manager,
            now=now,
        )
        self.clearview_contact = contact_add(
            vendor=self.clearview,
            name="Dana Brooks",
            role="Practice liaison",
            email="liaison@clearview-imaging.example",
            user=manager,
        )
        survey = Survey.objects.filter(
            organisation_id=practice.organisation_id, kind=Survey.Kind.POST_VISIT, is_active=True
        ).order_by("-id")
        self.question = vendor_question_ensure(survey.first(), "third_party")

    def day(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    def at(self, day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), tzinfo=self.zone)

    def rate(self, appointment: Appointment, vendor: Vendor, number: int) -> bool:
        """The vendor question of the visit's answered survey, answered ``number``."""
        response = SurveyResponse.objects.filter(invitation__appointment=appointment).first()
        if response is None:
            return False
        Answer.objects.create(
            response=response, question=self.question, number=number, vendor=vendor
        )
        self.answers += 1
        return True

    # --- Story 3 -------------------------------------------------------------------------

    def crestline_and_priya(self, priya: Patient) -> None:
        visits = priya.appointments.filter(status=Appointment.Status.COMPLETED)
        shade = visits.filter(kind="Crown shade match").order_by("-starts_at").first()
        crown = visits.filter(kind="Crown").order_by("-starts_at").first()
        seat = (
            priya.appointments.filter(kind="Crown seat", starts_at__gt=self.now)
            .order_by("starts_at")
            .first()
        )
        if shade is not None:
            involvement_create(
                vendor=self.crestline,
                patient=priya,
                kind=Involvement.Kind.VISIT,
                appointment=shade,
                description="Shade matching for her new crown",
                user=self.manager,
                now=self.now,
            )
            self.rate(shade, self.crestline, 1)
        if crown is not None and seat is not None:
            involvement_create(
                vendor=self.crestline,
                patient=priya,
                kind=Involvement.Kind.LAB_CASE,
                appointment=seat,
                description="Crown #9, shade matched at the lab",
                sent_on=self.day(crown.starts_at),
                due_back_on=self.day(seat.starts_at) - dt.timedelta(days=2),
                user=self.manager,
                now=self.now,
            )
        case = RecoveryCase.objects.filter(patient=priya, vendor=self.crestline).first()
        listened = None
        if case is not None:
            Involvement.objects.filter(patient=priya, vendor=self.crestline).update(
                recovery_case=case
            )
            step = case.steps.filter(kind="listen", completed_at__isnull=False).first()
            listened = step.completed_at if isinstance(step, CaseStep) else None
        # The manager sent the standards as she promised Priya; the lab manager replied.
        sent = listened or self.now - dt.timedelta(days=2)
        standards_send(vendor=self.crestline, contact=self.marcus, user=self.manager, now=sent)
        replied = min(self.day(sent) + dt.timedelta(days=1), self.today)
        standards_acknowledge(vendor=self.crestline, on=replied, user=self.manager, now=self.now)

    # --- The pattern across patients -----------------------------------------------------

    def crestline_crowns(self) -> None:
        """Every crown of the last year and the coming weeks went to Crestline."""
        seats = list(
            Appointment.objects.filter(
                practice=self.practice,
                kind="Crown seat",
                starts_at__gte=self.now - YEAR,
                status__in=[Appointment.Status.COMPLETED, Appointment.Status.SCHEDULED],
            )
            .exclude(patient__last_name__in=STORY_SURNAMES)
            .select_related("patient")
            .order_by("starts_at", "pk")
        )
        past = [s for s in seats if s.starts_at < self.now]
        late = {past[int(share * len(past))].pk for share in LATE_SEATS if past}
        for seat in seats:
            crown = (
                seat.patient.appointments.filter(kind="Crown", starts_at__lt=seat.starts_at)
                .order_by("-starts_at")
                .first()
            )
            if crown is None or crown.starts_at > self.now:
                continue  # not prepared yet: nothing has gone to the lab
            sent = self.day(crown.starts_at)
            seat_day = self.day(seat.starts_at)
            returned = None
            if seat.pk in late:
                returned = seat_day + dt.timedelta(days=self.rng.randint(1, 2))
            elif seat.starts_at < self.now or (seat_day - self.today).days <= 3:
                earliest = max(sent + dt.timedelta(days=5), seat_day - dt.timedelta(days=5))
                returned = min(earliest + dt.timedelta(days=self.rng.randint(0, 3)), seat_day)
            if returned is not None and returned > self.today:
                returned = None
            involvement_create(
                vendor=self.crestline,
                patient=seat.patient,
                kind=Involvement.Kind.LAB_CASE,
                appointment=seat,
                description="Crown",
                sent_on=sent,
                due_back_on=seat_day - dt.timedelta(days=2),
                returned_on=returned,
                notes="Came back after the seat appointment; the patient was rebooked."
                if seat.pk in late
                else "",
                user=self.manager,
                now=self.now,
            )

    def crestline_shade_matches(self) -> None:
        """Patients who answered the survey after their crown went to the lab for its shade."""
        crowns = (
            Appointment.objects.filter(
                practice=self.practice,
                kind="Crown",
                status=Appointment.Status.COMPLETED,
                starts_at__gte=self.now - YEAR,
                survey_invitation__response__isnull=False,
            )
            .exclude(patient__last_name__in=STORY_SURNAMES)
            .select_related("patient")
            .order_by("starts_at", "pk")
        )
        for crown in crowns:
            involvement_create(
                vendor=self.crestline,
                patient=crown.patient,
                kind=Involvement.Kind.VISIT,
                appointment=crown,
                description="Shade matching at the lab after the preparation",
                user=self.manager,
                now=self.now,
            )
            self.rate(crown, self.crestline, self.rng.choice(CRESTLINE_RATINGS))

    def northside_referrals(self) -> None:
        consults = list(
            Appointment.objects.filter(
                practice=self.practice,
                kind__in=["Exam", "Consultation", "Emergency visit"],
                status=Appointment.Status.COMPLETED,
                starts_at__gte=self.now - dt.timedelta(days=130),
                patient__status=Patient.Status.ACTIVE,
            )
            .exclude(patient__last_name__in=STORY_SURNAMES)
            .select_related("patient")
            .order_by("starts_at", "pk")
        )
        used = set()
        for days_ago, after in REFERRALS:
            referred = self.today - dt.timedelta(days=days_ago)
            visit = next(
                (
                    a
                    for a in consults
                    if self.day(a.starts_at) <= referred
                    and a.patient_id not in used
                    and (referred - self.day(a.starts_at)).days <= 10
                ),
                None,
            )
            if visit is None:
                continue
            used.add(visit.patient_id)
            involvement_create(
                vendor=self.northside,
                patient=visit.patient,
                kind=Involvement.Kind.REFERRAL,
                appointment=visit,
                description="Impacted wisdom tooth: extraction under sedation",
                referred_on=referred,
                scheduled_on=referred + dt.timedelta(days=after) if after is not None else None,
                user=self.manager,
                now=self.now,
            )

    def clearview_imaging(self) -> None:
        implants = list(
            Appointment.objects.filter(
                practice=self.practice, kind="Implant", starts_at__gte=self.now - YEAR
            )
            .exclude(patient__last_name__in=STORY_SURNAMES)
            .select_related("patient")
            .order_by("starts_at", "pk")[:IMAGING_SCANS]
        )
        for implant in implants:
            involvement_create(
                vendor=self.clearview,
                patient=implant.patient,
                kind=Involvement.Kind.IMAGING,
                description="CBCT scan for implant planning",
                notes=f"For the implant on {self.day(implant.starts_at):%b %d}.",
                user=self.manager,
                now=self.now,
            )
        sent = self.now - dt.timedelta(days=200)
        standards_send(
            vendor=self.clearview, contact=self.clearview_contact, user=self.manager, now=sent
        )
        standards_acknowledge(
            vendor=self.clearview,
            on=self.day(sent) + dt.timedelta(days=3),
            user=self.manager,
            now=self.now,
        )
