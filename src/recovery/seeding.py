"""``recovery_seed``: a year of recovery cases at a demo practice, worked through the services.

The demo's feedback is written in bulk, so no case opened as it arrived. Here every item
that the default policy would have turned into a case (a detractor score, a negative or
urgent comment, a low rating) opens it through ``case_open_from_feedback`` at the moment it
was received, and each case then follows a script of what its owner did, in their words.
The scripts run interleaved in time order, every action with ``now=`` its own moment, so
each sees the practice as it was then (a second complaint joins a case still open; a
patient let down again after a recovery is a second failure), and nothing scripted after
``now`` happens: recent cases are open wherever their script has reached.

A few recent cases are given the states a newcomer should meet at once (not acknowledged
yet, overdue, waiting on the patient, in implementation, follow-up survey sent, a gesture
waiting for approval; when no complaint came in today, the fresh case is one opened by
hand after a phone call), and the stories of ``STORIES.md`` have their own scripts: the
Lees' wait (4), Leo Brandt (5) and Priya Nair at the lab (3). Cases belong to the demo's
``manager``, and priority patients' to the ``dentist``, made the practice's owner-dentist.

Two things are put right with a queryset update, for want of a ``now=`` in the services:
``case_step_complete`` and the joining and paging in ``case_open`` date their timeline
events by the wall clock, so an action's events are re-dated to its moment; and a case does
not take its baseline score from a detractor survey that joins it after it opened (the Lees).
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import random
import re
from collections import Counter
from collections.abc import Callable, Generator
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Q

from core.business_hours import BusinessCalendar
from core.models import Practice, StaffMember
from feedback.models import FeedbackItem
from feedback.touchpoints import TOUCHPOINTS
from patients.models import Appointment, Patient
from recovery.actions import (
    alert_leave,
    case_follow_up_survey_send,
    gesture_decide,
    gesture_mark_given,
    gesture_propose,
)
from recovery.deadlines import cases_escalate_overdue
from recovery.models import (
    CaseEscalation,
    CaseEvent,
    CaseStep,
    Gesture,
    GestureKind,
    NextVisitAlert,
    RecoveryCase,
    Severity,
    StepKind,
)
from recovery.policy import deadline, recovery_policy_for
from recovery.services import (
    auto_open_reasons,
    case_close,
    case_open,
    case_open_from_feedback,
    case_pause,
    case_step_complete,
    priority_reasons,
)

# An action happens at a moment: ``run(moment)`` calls the service with ``now=moment``.
Action = tuple[dt.datetime, Callable[[dt.datetime], object]]
Script = Generator[Action, object, None]

ACK, LISTEN, THANK, PLAN, IMPLEMENT, FOLLOW_UP = StepKind
CALL, EMAIL, TEXT, INTERNAL = "call", "email", "text", "internal"
H, DAY = 60, 8 * 60  # business minutes in an hour and in a day of the standard hours
YEAR = dt.timedelta(days=365)
RECENT = dt.timedelta(days=42)  # older cases are closed; only these can still be open
# The states a newcomer meets in the inbox, each given to the newest complaint left that is
# old enough (in business minutes since it arrived) for the state to be natural.
ROLES = (
    ("unacknowledged", 9 * H),
    ("implementing", DAY),
    ("waiting_patient", 4 * H),
    ("overdue_plan", 4 * DAY),
    ("follow_up_sent", 9 * DAY),
)
OUTCOMES, OUTCOME_WEIGHTS = ("recovered", "partly", "not_recovered", "unreachable"), (70, 15, 8, 7)
GESTURE_SHARE, ALERT_SHARE, LATE_SHARE = 0.3, 0.2, 0.3
GESTURES = {  # by severity: (catalogue name, weight)
    "low": (("Handwritten letter", 3), ("Personal apology call", 2)),
    "normal": (("Handwritten letter", 3), ("Personal apology call", 2), ("Flowers", 3)),
    "high": (("Flowers", 2), ("Gift card", 3), ("Fee waived", 2)),
}

# Per topic: what the patient said when asked, how it left them, the plan, what was done.
NOTES: dict[str, tuple[str, str, str, str]] = {
    "waiting": (
        "If someone had just told me you were running late I could have planned around it.",
        "Felt their time did not matter to us; had to rush back to work afterwards.",
        "Agreed: a first-of-the-morning slot next time, and the desk tells anyone waiting more "
        "than ten minutes why and for how long.",
        "Next visit booked in the first slot of the day. The ten-minute rule is on the front "
        "desk checklist, raised at Monday's huddle.",
    ),
    "arrival_reception": (
        "I stood at the desk and nobody even looked up.",
        "Felt like a nuisance rather than a patient.",
        "Agreed: my apology for the desk, everyone greeted within a minute of arriving even "
        "mid-call, and forms sent ahead so check-in is quick.",
        "Went through it with the front desk team; greeting on arrival is on their checklist. "
        "Forms emailed ahead of the next visit.",
    ),
    "billing_insurance": (
        "I got a bill for something my insurance covers and it took three calls to get anywhere.",
        "Worried it would go to collections; fed up with chasing.",
        "Agreed: I check the claim with the insurer myself, the balance is on hold meanwhile, "
        "and I call back with the answer this week.",
        "Claim resubmitted with the right code and paid. Balance cleared and a corrected "
        "statement sent.",
    ),
    "treatment_cost": (
        "Nobody told me what it would cost until I was at checkout.",
        "Felt trapped into paying and does not trust the next estimate.",
        "Agreed: a written estimate before any further treatment, and the dentist goes through "
        "the options and costs first.",
        "Written estimate sent and walked through on the phone. Clinical team reminded: costs "
        "before treatment, every time.",
    ),
    "hygiene": (
        "The cleaning was rough and I felt rushed the whole time.",
        "Sore for days and dreading the next cleaning.",
        "Agreed: next cleaning with another hygienist, a longer slot, numbing gel offered first.",
        "Rebooked with another hygienist, sixty minutes instead of forty-five. Feedback shared "
        "privately with the hygienist for coaching.",
    ),
    "dentist_care": (
        "The dentist was in and out and I never got to ask my questions.",
        "Left unsure what had been done and why.",
        "Agreed: the dentist calls to go through the treatment and answer every question, and "
        "a longer slot next time.",
        "Dentist called and went through the treatment, twenty minutes, all questions answered. "
        "Longer slot noted on the record.",
    ),
    "comfort_pain": (
        "It hurt, and when I raised my hand nobody stopped.",
        "Still sore and a bit scared to come back.",
        "Agreed: a free check of the sore area this week, and a stop signal agreed with the "
        "dentist before any more work.",
        "Checked at no charge: healing normally. Stop signal and comfort preferences added to "
        "the profile.",
    ),
    "reminders": (
        "The texts had the wrong day, then nothing for the real one.",
        "Took time off work for nothing.",
        "Agreed: contact details and reminder channel fixed, and rebooked at a time that suits.",
        "Number and channel corrected and a test reminder sent. Rebooked at the time asked for.",
    ),
    "phone_booking": (
        "I called four times and it went to voicemail every time.",
        "Nearly booked somewhere else.",
        "Agreed: I call back to book directly, and we look at who answers the phone at lunch.",
        "Booked on the call-back. Lunch cover on the phones changed so someone always answers.",
    ),
    "checkout": (
        "Nobody could tell me when my next visit was.",
        "Felt we did not care whether they came back.",
        "Agreed: next visit booked on the phone now, and booked in the room from now on.",
        "Next visit booked and confirmed by text. Checkout routine changed to book in the room.",
    ),
    "facility": (
        "The restroom was not clean and the waiting room smelled musty.",
        "Said it made the whole place feel neglected.",
        "Agreed: I go over the cleaning schedule with the cleaners and let them know when it "
        "is fixed.",
        "Cleaning now checked twice a day and the vents serviced. Told them, with thanks again.",
    ),
    "follow_up": (
        "Nobody called after the extraction, even though I said I was worried.",
        "Felt forgotten once the work was done.",
        "Agreed: the dentist calls today, and every extraction gets a call the next evening.",
        "Dentist called; healing well. Next-evening calls after extractions are on the list.",
    ),
    "general": (
        "Nothing terrible, it just felt like a conveyor belt.",
        "Wants to feel known, not processed.",
        "Agreed: the same hygienist and dentist next time, and a note of what matters to them.",
        "Next visit booked with the same team; preferences added to the profile.",
    ),
}
ACK_NOTES = {
    CALL: "Called {name}: said sorry, that I had read it myself and am looking into it.",
    EMAIL: "Emailed {name}: thank you for telling us, I am sorry and I am looking into it "
    "myself. Asked for a good time to call.",
    TEXT: "Texted {name}, as they prefer: sorry, I am on it personally. Asked when suits for "
    "a call.",
}
THANK_NOTES = (
    "Thanked {name} for telling us rather than just leaving; they were right to expect better.",
    "Told {name} I was grateful they spoke up, and that I understood why they were upset.",
    "Thanked {name}: most people would just go elsewhere, and we would never know.",
)
FOLLOW_UP_NOTES = {
    "recovered": (
        "“Thank you for actually doing something about it.” Already booked the next visit.",
        "Happy with how it was handled; said they will tell friends we listen.",
        "All good now. “It is the way you dealt with it that counts.”",
    ),
    "partly": (
        "Better, but still not sure about us; will see how the next visit goes.",
        "Appreciated the call, but the problem cost them a day off work.",
    ),
    "not_recovered": (
        "Still unhappy; thinking about moving to a practice nearer work.",
        "Polite, but said it is too late: they do not trust us on this any more.",
    ),
}
UNREACHABLE_NOTE = (
    "Called twice and left voicemails, emailed as well: sorry, and please call me back on my "
    "direct line."
)
REVIEW_NOTE = (
    "Replied to the review on Google the same day (checked for health details first): "
    "apologised and asked {name} to call me. No patient matches the name and date."
)
GONE_NOTE = " Has already moved to another practice and does not want anything further from us."


def recovery_seed(
    *, practice: Practice, now: dt.datetime, stories: dict[str, str] | None = None
) -> dict[str, int]:
    """A year of cases at ``practice`` from its complaints; returns counts per state.

    ``stories`` names the story patients (full name: external id), as for
    ``feedback_seed``: their complaints follow the stories, none is worked generically.
    """
    return _Seeder(practice, now=now, stories=stories or {}).run()


class _Seeder:
    """Scripts of what the owners of one practice's cases did, run in time order."""

    def __init__(self, practice: Practice, *, now: dt.datetime, stories: dict[str, str]) -> None:
        users = get_user_model().objects.filter(username__in=["manager", "dentist"])
        users = {user.username: user for user in users}
        self.manager, self.dentist = users["manager"], users["dentist"]
        # Priority patients' cases go to the owner-dentist.
        practice.owner_dentist = self.dentist
        practice.save(update_fields=["owner_dentist"])
        self.practice, self.now = practice, now
        self.rng = random.Random("rapport-demo-recovery")
        self.calendar = BusinessCalendar.for_practice(practice)
        self.policy = recovery_policy_for(practice.organisation)
        self.kinds = {
            k.name: k for k in GestureKind.objects.filter(organisation_id=practice.organisation_id)
        }
        ids = dict(
            Patient.objects.filter(
                practice=practice, external_id__in=list(stories.values())
            ).values_list("external_id", "pk")
        )
        self.story = {name: ids[external_id] for name, external_id in stories.items()}
        self.queue: list[tuple[dt.datetime, int, Script, Callable]] = []
        self.order = itertools.count()
        self.scripted: set[int] = set()  # cases with a script of their own

    # --- running the scripts in time order -----------------------------------------------

    def run(self) -> dict[str, int]:
        for script in self.scripts():
            self.advance(script, None)
        while self.queue:
            at, _, script, action = heapq.heappop(self.queue)
            if at > self.now:
                continue  # the rest of this case has not happened yet
            self.advance(script, action(at))
        cases_escalate_overdue(now=self.now)
        return self.counts()

    def advance(self, script: Script, result) -> None:
        try:
            at, action = script.send(result)
        except StopIteration:
            return
        heapq.heappush(self.queue, (at, next(self.order), script, action))

    @staticmethod
    def redated(case: RecoveryCase | None, at: dt.datetime) -> RecoveryCase | None:
        """Date the case's events of an action at its moment, not at the wall clock's.

        Scripts run in time order, so any event later than ``at`` was just misdated.
        """
        if case is not None:
            CaseEvent.objects.filter(case_id=case.pk, at__gt=at).update(at=at)
        return case

    # --- who gets which script ---------------------------------------------------------

    def complaints(self) -> list[FeedbackItem]:
        """The year's feedback that opens a case by the policy (the stories' whatever its age)."""
        when = Q(received_at__gte=self.now - YEAR) | Q(patient_id__in=self.story.values())
        items = FeedbackItem.objects.filter(when, practice=self.practice, received_at__lte=self.now)
        items = items.filter(
            Q(label="negative") | Q(is_urgent=True) | Q(score__lte=6, source="survey")
        )
        items = items.select_related("patient", "response").order_by("received_at", "pk")
        return [item for item in items if auto_open_reasons(item, self.policy)[0]]

    def scripts(self) -> list[Script]:
        complaints = self.complaints()
        scripts = self.story_scripts(complaints)
        story_patients = set(self.story.values())
        generic = [item for item in complaints if item.patient_id not in story_patients]
        roles = self.roles([item for item in generic if item.received_at > self.now - RECENT])
        for item in generic:
            role = roles.get(item.pk)
            if role:
                scripts.append(getattr(self, role)(item))
            elif item.patient_id is None:
                scripts.append(self.review(item))
            else:
                outcome = self.rng.choices(OUTCOMES, OUTCOME_WEIGHTS)[0]
                scripts.append(self.worked(item, outcome))
        if "fresh" not in roles.values():
            scripts.append(self.fresh_by_hand())
        return scripts

    def age(self, item: FeedbackItem) -> int:
        return self.calendar.minutes_between(item.received_at, self.now)

    def is_priority(self, item: FeedbackItem) -> bool:
        return bool(priority_reasons(item.patient, self.policy))

    def roles(self, recent: list[FeedbackItem]) -> dict[int, str]:
        """Item id → state; the newest complaint that fits each state gets it."""
        recent = [item for item in reversed(recent) if item.patient_id]
        roles: dict[int, str] = {}
        newest = recent[0] if recent else None
        if newest is not None:
            due = deadline(
                policy=self.policy,
                calendar=self.calendar,
                severity=Severity.NORMAL,
                step=ACK,
                start=newest.received_at,
                is_priority=self.is_priority(newest),
            )
            if due > self.now + dt.timedelta(minutes=30):
                roles[newest.pk] = "fresh"
        has_priority = False
        for role, youngest in ROLES:
            fits = [i for i in recent if i.pk not in roles and self.age(i) >= youngest][:3]
            if not has_priority and role != "unacknowledged":
                # One open case of a long-standing patient, with the dentist.
                fits.sort(key=lambda item: not self.is_priority(item))  # stable: newest first
            if fits:
                roles[fits[0].pk] = role
                has_priority = has_priority or self.is_priority(fits[0])
        return roles

    # --- building blocks ---------------------------------------------------------------

    def after(self, start: dt.datetime, minutes: float) -> dt.datetime:
        """``minutes`` of opening time after ``start``."""
        return self.calendar.add_minutes(start, max(0, int(minutes)))

    def before(self, moment: dt.datetime, minutes: int) -> dt.datetime:
        """The latest start with ``minutes`` of opening time before ``moment``."""
        starts = [moment - dt.timedelta(minutes=15 * n) for n in range(21 * 96)]
        index = bisect.bisect_left(
            starts, True, key=lambda start: self.calendar.minutes_between(start, moment) >= minutes
        )
        return starts[min(index, len(starts) - 1)]

    def deadline_length(self, case: RecoveryCase, kind: str) -> dt.timedelta:
        """How long the step may take (in real time, counted from now)."""
        due = deadline(
            policy=self.policy,
            calendar=self.calendar,
            severity=case.severity,
            step=kind,
            start=self.now,
            is_priority=case.is_priority,
        )
        return due - self.now

    def due(self, case: RecoveryCase, kind: str) -> dt.datetime | None:
        return CaseStep.objects.filter(case=case, kind=kind).values_list("due_at", flat=True)[0]

    def within(self, case: RecoveryCase, kind: str, after: dt.datetime, late=False) -> dt.datetime:
        """A moment after ``after``: early in the step's deadline, or past it when ``late``."""
        due = self.due(case, kind) or self.after(after, 3 * DAY)
        if late:
            return self.after(due, self.rng.uniform(H, 6 * H))
        room = self.calendar.minutes_between(after, due)
        if room <= 10:
            return after + dt.timedelta(minutes=10)
        return self.after(after, room * self.rng.uniform(0.05, 0.6))

    def follow_up_time(self, case: RecoveryCase, done: dt.datetime, late=False) -> dt.datetime:
        """A call in opening hours a few days after the plan was carried out."""
        due = self.due(case, FOLLOW_UP)
        if late:
            return self.after(due, self.rng.uniform(H, 2 * DAY))
        at = self.before(due, self.rng.uniform(30, 6 * H))
        return max(at, done + (due - done) / 2)

    def step(self, case, kind, at, method, notes, *, user=None, score=None) -> Action:
        def run(now):
            step = case_step_complete(
                case=case,
                kind=kind,
                method=method,
                notes=notes,
                user=user or case.owner or self.manager,
                score=score,
                now=now,
            )
            self.redated(case, now)
            return step

        return at, run

    def opening(self, item: FeedbackItem) -> Action:
        return item.received_at, lambda now: self.redated(
            case_open_from_feedback(item=item, now=now), now
        )

    def close(self, case: RecoveryCase, at: dt.datetime, outcome: str) -> Action:
        user = case.owner or self.manager
        return at, lambda now: case_close(case=case, outcome=outcome, user=user, now=now)

    def pause(self, case: RecoveryCase, at: dt.datetime, waiting_on: str) -> Action:
        user = case.owner or self.manager
        return at, lambda now: case_pause(case=case, waiting_on=waiting_on, user=user, now=now)

    def gesture(self, case, at, name, *, user, cost=None, description="") -> Action:
        kind = self.kinds[name]

        def run(now):
            return gesture_propose(
                case=case, kind=kind, user=user, cost=cost, description=description, now=now
            )

        return at, run

    def given(self, gesture: Gesture, at: dt.datetime) -> Action:
        return at, lambda now: gesture_mark_given(gesture=gesture, user=self.manager, now=now)

    def alert(self, case: RecoveryCase, at: dt.datetime, text: str) -> Action:
        user = case.owner or self.manager
        return at, lambda now: alert_leave(case=case, text=text, user=user, now=now)

    def first_name(self, case: RecoveryCase) -> str:
        if case.patient is None:
            return case.contact_name or "them"
        return case.patient.contact_person.first_name

    def notes_for(self, case: RecoveryCase) -> tuple[str, str, str, str]:
        return NOTES.get(case.topic, NOTES["general"])

    def listen_notes(self, case: RecoveryCase, item: FeedbackItem | None) -> str:
        said, felt, _, _ = self.notes_for(case)
        name = self.first_name(case)
        quote = _first_sentence(item.text) if item is not None else ""
        if quote:
            return f"{name} went through it again: “{quote}” {felt}"
        if item is not None and item.score is not None:
            return f"Asked {name} what was behind the {item.score} out of 10: “{said}” {felt}"
        return f"{name}: “{said}” {felt}"

    def method(self, case: RecoveryCase) -> str:
        channel = case.patient.contact_person.preferred_channel if case.patient else ""
        if channel == "sms" and self.rng.random() < 0.6:
            return TEXT
        return self.rng.choices((CALL, EMAIL), (3, 1))[0]

    def opened(self, action: Action) -> Generator[Action, object, RecoveryCase | None]:
        """Open the case; ``None`` when the complaint joined a case another script works."""
        case = yield action
        if case is None or case.pk in self.scripted:
            return None
        self.scripted.add(case.pk)
        return case

    def first_steps(self, case, item, *, late=False, by=None, gone=False) -> Generator:
        """Acknowledge, listen and thank, all done by ``by``; returns when the last was done."""
        rng, name = self.rng, self.first_name(case)
        method = self.method(case)
        by = by or self.now
        ack = self.within(case, ACK, case.opened_at, late=late)
        ack = max(case.opened_at + dt.timedelta(minutes=5), min(ack, by))
        yield self.step(case, ACK, ack, method, ACK_NOTES[method].format(name=name))
        if method == CALL and rng.random() < 0.5:
            at = ack + dt.timedelta(minutes=6)  # they talked it through there and then
        else:
            at = max(ack + dt.timedelta(minutes=6), min(self.within(case, LISTEN, ack), by))
        notes = self.listen_notes(case, item) + (GONE_NOTE if gone else "")
        yield self.step(case, LISTEN, at, CALL, notes)
        at += dt.timedelta(minutes=rng.randint(3, 9))
        yield self.step(case, THANK, at, CALL, rng.choice(THANK_NOTES).format(name=name))
        return at

    # --- the scripts -------------------------------------------------------------------

    def worked(self, item: FeedbackItem, outcome: str) -> Script:
        """A complaint worked to its outcome; steps late now and then in older cases."""
        case = yield from self.opened(self.opening(item))
        if case is None:
            return
        rng = self.rng
        # Some older cases ran late somewhere; each of their steps may be the one.
        late = item.received_at < self.now - RECENT and rng.random() < LATE_SHARE

        def slipped() -> bool:
            return late and rng.random() < 0.4

        if outcome == "unreachable":
            at = self.within(case, ACK, case.opened_at)
            yield self.step(case, ACK, at, CALL, UNREACHABLE_NOTE)
            yield self.pause(case, at + dt.timedelta(minutes=5), "patient")
            yield self.close(case, self.after(at, rng.uniform(5, 8) * DAY), outcome)
            return
        gone = outcome == "not_recovered" and rng.random() < 0.5
        at = yield from self.first_steps(case, item, late=slipped(), gone=gone)
        if gone:
            yield self.close(case, self.after(at, rng.uniform(H, DAY)), outcome)
            return
        _, _, plan, done = self.notes_for(case)
        at = self.within(case, PLAN, at, late=slipped())
        yield self.step(case, PLAN, at, CALL, plan)
        gesture = None
        if outcome != "not_recovered" and rng.random() < GESTURE_SHARE:
            gesture = yield from self.goodwill(case, at + dt.timedelta(minutes=20))
        at = self.within(case, IMPLEMENT, at, late=slipped())
        if gesture is not None and gesture.status == Gesture.Status.APPROVED:
            yield self.given(gesture, at)
        yield self.step(case, IMPLEMENT, at, INTERNAL, done)
        if outcome == "recovered" and rng.random() < ALERT_SHARE:
            patient = case.patient  # not back since, and booked: the alert is still to do
            last, following = patient.last_visit_at, patient.next_visit_at
            if (last is None or last < at) and following and following > self.now:
                yield self.alert(case, at + dt.timedelta(minutes=5), _alert_text(case))
        at = self.follow_up_time(case, at, late=slipped())
        score = _score_after(case.satisfaction_before, outcome, rng)
        notes = (
            rng.choice(FOLLOW_UP_NOTES[outcome]) + f" Asked how likely to recommend us: {score}."
        )
        yield self.step(
            case, FOLLOW_UP, at, CALL, f"Called {self.first_name(case)}. {notes}", score=score
        )
        yield self.close(case, at + dt.timedelta(minutes=rng.randint(5, 90)), outcome)

    def goodwill(self, case: RecoveryCase, at: dt.datetime) -> Generator:
        """A gesture from the owner; one above the limit waits for the manager's approval."""
        names, weights = zip(*GESTURES.get(case.severity, GESTURES["high"]), strict=True)
        name = self.rng.choices(names, weights)[0]
        gesture = yield self.gesture(case, at, name, user=case.owner or self.manager)
        if gesture.status == Gesture.Status.PENDING:
            at = self.after(at, self.rng.uniform(H, 5 * H))
            gesture = yield (
                at,
                lambda now: gesture_decide(
                    gesture=gesture, approve=True, user=self.manager, now=now
                ),
            )
        return gesture

    def review(self, item: FeedbackItem) -> Script:
        """A public review: a reply, nobody to call back, closed unreachable."""
        case = yield from self.opened(self.opening(item))
        if case is None:
            return
        at = self.within(case, ACK, case.opened_at)
        notes = REVIEW_NOTE.format(name=item.author_name or "the reviewer")
        yield self.step(case, ACK, at, INTERNAL, notes)
        yield self.pause(case, at + dt.timedelta(minutes=5), "patient")
        yield self.close(case, self.after(at, 10 * DAY), "unreachable")

    def fresh(self, item: FeedbackItem) -> Script:
        """Opened and not acknowledged yet: still in time, or (``unacknowledged``) overdue."""
        yield from self.opened(self.opening(item))

    unacknowledged = fresh

    def fresh_by_hand(self) -> Script:
        """No complaint came in today: a patient phoned after a visit, logged by hand."""
        visits = (
            Appointment.objects.filter(
                practice=self.practice,
                status=Appointment.Status.COMPLETED,
                starts_at__gte=self.now - dt.timedelta(days=4),
                starts_at__lt=self.now,
            )
            .exclude(patient_id__in=self.story.values())
            .select_related("patient")
            .order_by("-starts_at")
        )
        called = dt.timedelta(minutes=40)
        visit = next((v for v in visits[:30] if v.ends_at + called <= self.now), None)
        if visit is None:
            return
        yield (
            visit.ends_at + called,
            lambda now: case_open(
                practice=self.practice,
                patient=visit.patient,
                summary="Phoned after the visit: still numb hours later; nobody said for how long",
                touchpoints=["comfort_pain"],
                because="opened by hand",
                user=self.manager,
                now=now,
            ),
        )

    def waiting_patient(self, item: FeedbackItem) -> Script:
        """Acknowledged; the patient wants to talk when back from a trip."""
        case = yield from self.opened(self.opening(item))
        if case is None:
            return
        at = min(self.within(case, ACK, case.opened_at), self.now - dt.timedelta(hours=1))
        at = max(at, case.opened_at + dt.timedelta(minutes=5))
        name = self.first_name(case)
        back = (self.now + dt.timedelta(days=2)).astimezone(self.practice.zone)
        notes = (
            f"Reached {name} briefly: travelling until {back:%B} {back.day} and would rather "
            f"talk it through properly then. Said sorry, and that I will call back."
        )
        yield self.step(case, ACK, at, CALL, notes)
        yield self.pause(case, at + dt.timedelta(minutes=5), "patient")

    def implementing(self, item: FeedbackItem) -> Script:
        """The plan is agreed and being carried out; a gesture above the limit waits."""
        case = yield from self.opened(self.opening(item))
        if case is None:
            return
        # Agreed half an implementation deadline ago: on time if the case is young enough.
        plan = self.now - self.deadline_length(case, IMPLEMENT) / 2
        plan = min(max(plan, self.within(case, PLAN, case.opened_at)), self.before(self.now, H))
        at = yield from self.first_steps(case, item, by=plan - dt.timedelta(minutes=30))
        at = max(at + dt.timedelta(minutes=5), plan)
        yield self.step(case, PLAN, at, CALL, self.notes_for(case)[2])
        # The dentist offers more than they may give alone: the manager has to approve it.
        description = f"Fee for the visit waived for {case.who}, offered by the dentist"
        yield self.gesture(
            case,
            at + dt.timedelta(minutes=15),
            "Fee waived",
            user=self.dentist,
            description=description,
        )

    def overdue_plan(self, item: FeedbackItem) -> Script:
        """Acknowledged, heard and thanked, and then nobody agreed a plan."""
        case = yield from self.opened(self.opening(item))
        if case is not None:
            yield from self.first_steps(case, item, by=self.before(self.now, 2 * DAY))

    def follow_up_sent(self, item: FeedbackItem) -> Script:
        """Done a week ago; the survey went out the day before the follow-up is due."""
        case = yield from self.opened(self.opening(item))
        if case is None:
            return
        at = yield from self.first_steps(case, item)
        at = self.within(case, PLAN, at)
        yield self.step(case, PLAN, at, CALL, self.notes_for(case)[2])
        # Done when the follow-up falls due tomorrow, in opening hours if that is near.
        target = self.now - self.deadline_length(case, FOLLOW_UP) + dt.timedelta(hours=20)
        done = self.before(target, 1)
        done = max(done if target - done < dt.timedelta(hours=18) else target, at)
        yield self.step(case, IMPLEMENT, done, INTERNAL, self.notes_for(case)[3])
        sent = min(self.due(case, FOLLOW_UP) - dt.timedelta(days=1), self.now)
        yield sent, lambda now: case_follow_up_survey_send(case=case, now=now)

    # --- the stories -------------------------------------------------------------------

    def story_scripts(self, complaints: list[FeedbackItem]) -> list[Script]:
        by_patient: dict[int, list[FeedbackItem]] = {}
        for item in complaints:
            by_patient.setdefault(item.patient_id, []).append(item)
        grace = by_patient.get(self.story.get("Grace Lee"), [])
        leo = by_patient.get(self.story.get("Leo Brandt"), [])
        priya = by_patient.get(self.story.get("Priya Nair"), [])
        desk = [item for item in grace if item.source == FeedbackItem.Source.STAFF]
        scripts = []
        if desk:
            survey = [item for item in grace if item.source == FeedbackItem.Source.SURVEY]
            scripts.append(self.lees(desk[0], survey[0] if survey else None))
        if leo:
            scripts.append(self.leo(leo[-1]))
        if priya:
            scripts.append(self.priya(priya[-1]))
        return scripts

    def at_hour(self, moment: dt.datetime, hour: int, minute: int = 0, *, days: int = 1):
        """``hour:minute`` on the ``days``-th open day after ``moment``'s (0: its own)."""
        day = self.calendar.add_days(moment, days).date()
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.practice.zone)

    def lees(self, desk: FeedbackItem, survey: FeedbackItem | None) -> Script:
        """Story 4: the family's cleaning ran 40 minutes late, and nobody explained."""
        case = yield from self.opened(
            (
                desk.received_at,
                lambda now: case_open(
                    practice=self.practice,
                    patient=desk.patient,
                    summary="The family's cleaning ran 40 minutes late and nobody explained why",
                    touchpoints=["waiting"],
                    feedback_items=[desk],
                    because="negative comment, logged at the desk",
                    now=now,
                ),
            )
        )
        if case is None:
            return
        month = desk.received_at.astimezone(self.practice.zone).strftime("%B")
        at = self.after(desk.received_at, 50)
        yield self.step(
            case, ACK, at, CALL,
            "Called Mrs Lee before lunch: apologised that the family waited 40 minutes and "
            "that nobody told them why. Said I would find out what happened and call her back "
            "tomorrow after the school run.",
        )  # fmt: skip
        if survey is not None:
            # Her survey that afternoon joins the case; its 6 is what recovery is measured on.
            yield (
                max(survey.received_at, at),
                lambda now: self.redated(case_open_from_feedback(item=survey, now=now), now),
            )
            RecoveryCase.objects.filter(pk=case.pk).update(satisfaction_before=survey.score)
        at = self.at_hour(at, 9, 15)
        yield self.step(
            case, LISTEN, at, CALL,
            "Mrs Lee: “We were there at eight sharp, all four of us. Nobody said a word for "
            "forty minutes, and Emma and Noah were late for school. I don't mind a delay, I "
            "mind being ignored.” The hygienist's first patient had overrun and the desk did "
            "not tell anyone waiting.",
        )  # fmt: skip
        yield self.step(
            case, THANK, at + dt.timedelta(minutes=10), CALL,
            "Thanked her for telling the desk rather than going quiet on us, and said she was "
            "quite right: forty minutes with no word is not how we treat anyone, least of all "
            "a family on a school morning.",
        )  # fmt: skip
        at += dt.timedelta(minutes=15)
        yield self.step(
            case, PLAN, at, CALL,
            "Agreed with Mrs Lee: a priority first slot next time, so nobody's overrun can hold "
            "the family up; the desk tells anyone waiting more than ten minutes what is "
            "happening; flowers from us, to say sorry properly.",
        )  # fmt: skip
        flowers = yield self.gesture(
            case, at + dt.timedelta(minutes=20), "Flowers", user=self.manager,
            cost=Decimal("35"), description="Flowers for Mrs Lee, with a card from the team",
        )  # fmt: skip
        at = self.at_hour(at, 14, days=2)
        yield self.given(flowers, at)
        yield self.step(
            case, IMPLEMENT, at, INTERNAL,
            "Booked the family's next cleanings in the first slot of the day and marked them "
            "priority in the book. Flowers delivered with a card from the team. The ten-minute "
            "rule is on the front desk checklist.",
        )  # fmt: skip
        text = f"Greet Mrs Lee, apologise again for {month}'s wait; she has the first slot."
        yield self.alert(case, at + dt.timedelta(minutes=5), text)
        at = self.at_hour(at + dt.timedelta(days=6), 10, 30, days=0)
        yield self.step(
            case, FOLLOW_UP, at, CALL,
            "Called Mrs Lee a week on. She loved the flowers, and the first slot “makes all the "
            "difference with two kids”. How likely to recommend us now: 10.",
            score=10,
        )  # fmt: skip
        yield self.close(case, at + dt.timedelta(minutes=10), RecoveryCase.Outcome.RECOVERED)

    def leo(self, item: FeedbackItem) -> Script:
        """Story 5: a hygienist scolded eight-year-old Leo; his mother wrote that evening.

        Worked as it happened: the steps whose time has not come are left to do in the demo
        (the follow-up is a week after the manager spoke to Leo).
        """
        case = yield from self.opened(self.opening(item))
        if case is None:
            return
        visit = (
            Appointment.objects.filter(patient=item.patient, status="completed", kind="Cleaning")
            .select_related("provider")
            .order_by("-starts_at")
            .first()
        )
        hygienists = StaffMember.objects.filter(
            practice=self.practice, kind=StaffMember.Kind.HYGIENIST, is_active=True
        ).exclude(pk=visit.provider_id if visit else None)
        other = (
            hygienists.order_by("name").values_list("name", flat=True).first()
            or "another hygienist"
        )
        at = item.received_at + dt.timedelta(minutes=25)
        yield self.step(
            case, ACK, at, CALL,
            "Called Mrs Brandt at home twenty-five minutes after her message. Said how sorry I "
            "am, that no child should ever be spoken to like that, and that I am dealing with "
            "it myself. Agreed to talk again in the morning, with Leo if he wanted to.",
        )  # fmt: skip
        at = dt.datetime.combine(
            at.astimezone(self.practice.zone).date() + dt.timedelta(days=1),
            dt.time(10),
            tzinfo=self.practice.zone,
        )
        yield self.step(
            case, LISTEN, at, CALL,
            "Mrs Brandt: “She told him to stop being a baby, loudly, with the door open and the "
            "waiting room full. Then she said his teeth show he drinks soda. He drinks water, "
            "he's proud of it.” Leo came to the phone: “I tried to keep still but my throat "
            "does the thing. She said everybody could hear me.” He says he never wants to go "
            "back.",
        )  # fmt: skip
        yield self.step(
            case, THANK, at + dt.timedelta(minutes=12), CALL,
            "Thanked Mrs Brandt for writing the same evening instead of just leaving us. Told "
            "her she was absolutely right to be upset, and told Leo he did nothing wrong: "
            "gagging is not misbehaving.",
        )  # fmt: skip
        at = self.after(at, 4 * H)
        yield self.step(
            case, PLAN, at, CALL,
            f"Agreed with Mrs Brandt: I apologise to Leo himself, not only to her; his "
            f"cleanings from now on are with {other}, who is wonderful with anxious children; "
            f"a kid-friendly slot after school with extra time; a small sorry gift for Leo. I "
            f"am speaking with the hygienist.",
        )  # fmt: skip
        gift = yield self.gesture(
            case, at + dt.timedelta(minutes=20), "Gift card", user=self.manager,
            cost=Decimal("25"), description="Toy-shop gift card for Leo, with a card from the team",
        )  # fmt: skip
        at = self.at_hour(at, 16, days=int(at.astimezone(self.practice.zone).hour >= 15))
        yield self.given(gift, at)
        yield self.step(
            case, IMPLEMENT, at, CALL,
            f"Spoke to Leo after school: told him we are sorry, that he did nothing wrong, and "
            f"that {other} will look after him next time. Posted the gift card with a card "
            f"signed by the team. Next cleaning booked with {other} at 4 pm, 45 minutes "
            f"instead of 30. Spoke with the hygienist privately; coaching is in her file.",
        )  # fmt: skip
        yield self.alert(
            case, at + dt.timedelta(minutes=5),
            f"Leo is anxious and gags easily: {other} only, go slowly, praise him. Apologise "
            f"again to him and his mum for his last visit.",
        )  # fmt: skip
        at = self.at_hour(at + dt.timedelta(days=7), 17, 30, days=0)
        yield self.step(
            case, FOLLOW_UP, at, CALL,
            "Called Mrs Brandt a week on. Leo has stopped saying he won't go back and shows "
            "everyone his gift card. “You took it seriously, and you talked to him, not just "
            "to me.” How likely to recommend us now: 9.",
            score=9,
        )  # fmt: skip
        yield self.close(case, at + dt.timedelta(minutes=10), RecoveryCase.Outcome.RECOVERED)

    def priya(self, item: FeedbackItem) -> Script:
        """Story 3: ignored at Crestline Dental Lab; the case waits on the lab's answer."""
        case = yield from self.opened(self.opening(item))
        if case is None:
            return
        at = self.after(item.received_at, 40)
        yield self.step(
            case, ACK, at, CALL,
            "Called Priya: apologised for how she was treated at Crestline. The lab works for "
            "us, so it is ours to put right. Asked for a proper talk tomorrow.",
        )  # fmt: skip
        at = self.after(at, 3 * H)
        yield self.step(
            case, LISTEN, at, CALL,
            "Priya: “He never looked up. No hello, no seat, and he took two phone calls while I "
            "stood at his desk. I felt invisible.” She is also worried the shade will be wrong "
            "because he barely looked at her teeth. Sent Crestline our patient-experience "
            "standards and asked the lab manager to acknowledge them and say what will change.",
        )  # fmt: skip
        yield self.pause(case, at + dt.timedelta(minutes=20), "third_party")

    def counts(self) -> dict[str, int]:
        cases = RecoveryCase.objects.filter(practice=self.practice)
        states = Counter(cases.values_list("status", flat=True))
        states.update(cases.exclude(outcome="").values_list("outcome", flat=True))
        overdue = cases.filter(
            status=RecoveryCase.Status.OPEN,
            steps__completed_at__isnull=True,
            steps__due_at__lt=self.now,
        ).distinct()
        return {
            "cases": cases.count(),
            **{status: states[status] for status in RecoveryCase.Status.values},
            **{outcome: states[outcome] for outcome in RecoveryCase.Outcome.values},
            "overdue": overdue.count(),
            "escalations": CaseEscalation.objects.filter(
                step__case__practice=self.practice
            ).count(),
            "gestures_pending": Gesture.objects.filter(
                case__practice=self.practice, status=Gesture.Status.PENDING
            ).count(),
            "alerts_pending": NextVisitAlert.objects.filter(
                practice=self.practice, done_at__isnull=True
            ).count(),
        }


def _first_sentence(text: str) -> str:
    """The comment, or its first sentence when it is long (a note may follow it)."""
    first = " ".join(text.split("\n\n")[0].split())
    if len(first) <= 160:
        return first
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    return sentence if len(sentence) <= 160 else sentence[:157].rstrip() + "…"


def _score_after(before: int | None, outcome: str, rng: random.Random) -> int:
    """After a recovery the score often beats the one before the failure."""
    before = 6 if before is None else before
    if outcome == "recovered":
        return min(10, max(before + rng.randint(1, 3), rng.choice((8, 9, 9, 10, 10))))
    if outcome == "partly":
        return min(8, before + rng.randint(0, 2))
    return max(0, min(5, before - rng.randint(0, 2)))


def _alert_text(case: RecoveryCase) -> str:
    month = case.opened_at.astimezone(case.practice.zone).strftime("%B")
    topic = TOUCHPOINTS.get(case.topic, "their visit").lower()
    return (
        f"Greet {case.patient.first_name} by name; ask whether all is well since {month} ({topic})."
    )
