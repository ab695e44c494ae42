"""Feedback in the demo: a year of post-visit surveys, and the stories in their own words.

``feedback_seed`` invites a share of the last year's completed visits (as the invitations
job would have, throttle included), answers a share of those with scores that drift
slightly upwards over the year, and files each answer in the inbox with its text
analysed. Given the patients' hidden propensity to leave (``flights``), restless patients
score lower as their drift grows and mention dated equipment or a long drive more often.
``StoryFeedback`` adds what the people of ``STORIES.md`` said, word for word.

Seeding is not a patient's action, so nothing goes through the per-response services
(each writes an audit row and queues a message); rows are collected in Python and
written in a few bulk statements, and the text is analysed with ``analyze`` directly,
as ``feedback.services`` does, with the practice's staff names looked up once.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery

from core.models import Practice, StaffMember
from feedback.analysis import analyze
from feedback.models import (
    Answer,
    FeedbackItem,
    Question,
    Survey,
    SurveyInvitation,
    SurveyResponse,
)
from feedback.reviews import review_external_id
from feedback.services import feedback_policy_for, surveys_ensure_defaults
from patients.models import Appointment, Patient
from patients.seeding import comments
from patients.seeding.people import drift

ONE_YEAR = dt.timedelta(days=365)
VISIT_SHARE = 0.35  # completed visits followed by an invitation (before the throttle)
ANSWER_SHARE = 0.60  # invitations answered
COMMENT_SHARE = 0.40  # answers with a comment
NOTE_SHARE = 0.06  # answers with a note for the next visit
OPENED_SHARE = 0.3  # unanswered invitations whose link was opened
HANDLED_AFTER = dt.timedelta(days=14)  # older inbox items have mostly been dealt with
HANDLED_SHARE = 0.92
HYGIENE_VISITS = frozenset({"Cleaning", "Periodontal maintenance"})

# Share of promoters and of detractors a year ago and today among settled patients. With
# the restless ones' drift (below), which weighs more and more, the practice's NPS is about
# 35 in the first half of the year and 54 in the second (the slope also keeps "the last six
# months beat the six before" clear of the noise of a few hundred answers).
PROMOTERS = (0.54, 0.82)
DETRACTORS = (0.22, 0.07)
# A restless patient's drift (``people.drift``, 0 .. flight) turns this share of the
# promoters they would have been, times the drift, into passives and detractors...
NPS_DRIFT = 1.3
DRIFT_TO_DETRACTORS = 0.6  # ...this part of them detractors
# Chance that an answer's comment is about dated equipment or the drive (``comments.AWAY``):
# a few of anyone's, and up to 0.6 x drift more of a restless patient's.
AWAY_BASE, AWAY_PER_DRIFT = 0.015, 0.6
PROMOTER_SCORES, PROMOTER_WEIGHTS = (9, 10), (40, 60)
PASSIVE_SCORES, PASSIVE_WEIGHTS = (7, 8), (40, 60)
DETRACTOR_SCORES, DETRACTOR_WEIGHTS = (0, 1, 2, 3, 4, 5, 6), (3, 2, 4, 6, 8, 12, 16)
# The 1–5 rating a patient with this NPS typically gives; touchpoints rate a bit higher
# or lower (waiting and costs are where practices lose points).
RATING_BY_NPS = (1.8, 2.0, 2.2, 2.5, 2.8, 3.0, 3.3, 3.8, 4.2, 4.6, 4.85)
RATING_OFFSETS = {
    "waiting": -0.35,
    "treatment_cost": -0.2,
    "comfort_pain": -0.1,
    "reminders": 0.1,
    "hygiene": 0.1,
    "dentist_care": 0.15,
}
# The rating of the touchpoint a comment is about, by the kind of comment.
COMMENT_RATING = {"negative": 1.4, "mixed": 2.8, "positive": 5.0}
# Which kind of comment each kind of respondent writes: (kind, weight).
COMMENT_KINDS = {
    "promoter": (("positive", 90), ("mixed", 10)),
    "passive": (("positive", 35), ("mixed", 45), ("negative", 20)),
    "detractor": (("mixed", 25), ("negative", 75)),
}
POOLS = {"positive": comments.POSITIVE, "mixed": comments.MIXED, "negative": comments.NEGATIVE}


@dataclass
class FeedbackSeeded:
    """What was written for one practice, for the seed's audit row."""

    invitations: int = 0
    responses: int = 0
    items: int = 0

    def as_detail(self) -> dict[str, int]:
        return {
            "survey_invitations": self.invitations,
            "survey_responses": self.responses,
            "feedback_items": self.items,
        }


@dataclass
class _Response:
    invitation: SurveyInvitation
    response: SurveyResponse
    answers: list[Answer]
    item: FeedbackItem


@dataclass
class SurveyQuestions:
    """A survey's questions by role: the NPS, ratings by touchpoint, the free texts."""

    survey: Survey
    nps: Question | None = None
    ratings: dict[str, Question] = field(default_factory=dict)
    yes_no: list[Question] = field(default_factory=list)
    texts: list[Question] = field(default_factory=list)

    @classmethod
    def of(cls, survey: Survey) -> SurveyQuestions:
        questions = cls(survey)
        for question in survey.questions.all():
            if question.kind == Question.Kind.NPS and questions.nps is None:
                questions.nps = question
            elif question.kind == Question.Kind.RATING and question.touchpoint:
                questions.ratings.setdefault(question.touchpoint, question)
            elif question.kind == Question.Kind.YES_NO:
                questions.yes_no.append(question)
            elif question.kind == Question.Kind.TEXT:
                questions.texts.append(question)
        return questions


class FeedbackRows:
    """One practice's invitations, responses and inbox items, written in bulk at the end."""

    def __init__(self, practice: Practice, *, now: dt.datetime) -> None:
        self.practice = practice
        self.now = now
        self.policy = feedback_policy_for(practice)
        surveys = surveys_ensure_defaults(organisation=practice.organisation)
        self.post_visit = SurveyQuestions.of(surveys["post_visit"])
        self.relationship = SurveyQuestions.of(surveys["relationship"])
        staff = StaffMember.objects.filter(practice=practice, is_active=True)
        self.staff = {member.pk: (member.kind, member.name) for member in staff}
        self.people = tuple(name for _, name in self.staff.values())
        self.invitations: list[SurveyInvitation] = []
        self.responses: list[_Response] = []
        self.items: list[FeedbackItem] = []
        self._empty = analyze("")

    # --- collecting ------------------------------------------------------------------

    def invite(
        self,
        *,
        patient_id: int,
        questions: SurveyQuestions,
        created_at: dt.datetime,
        appointment_id: int | None = None,
    ) -> SurveyInvitation:
        invitation = SurveyInvitation(
            practice=self.practice,
            patient_id=patient_id,
            survey=questions.survey,
            appointment_id=appointment_id,
            created_at=created_at,
            expires_at=created_at + dt.timedelta(days=self.policy.link_valid_days),
        )
        self.invitations.append(invitation)
        return invitation

    def respond(
        self,
        invitation: SurveyInvitation,
        *,
        questions: SurveyQuestions,
        submitted_at: dt.datetime,
        nps: int,
        ratings: dict[str, int] | None = None,
        yes_no: Sequence[int] = (),
        texts: Sequence[str] = (),
    ) -> FeedbackItem:
        """The response, its answers and its inbox item (``ratings`` by touchpoint)."""
        invitation.opened_at = submitted_at - dt.timedelta(minutes=3)
        response = SurveyResponse(
            practice=self.practice,
            patient_id=invitation.patient_id,
            survey=questions.survey,
            nps=nps,
            review_offered_at=submitted_at,
        )
        answers = [Answer(question=questions.nps, number=nps)]
        ratings = ratings or {}
        for touchpoint, number in ratings.items():
            answers.append(Answer(question=questions.ratings[touchpoint], number=number))
        for question, number in zip(questions.yes_no, yes_no, strict=False):
            answers.append(Answer(question=question, number=number))
        for question, text in zip(questions.texts, texts, strict=False):
            if text:
                answers.append(Answer(question=question, text=text))
        item = self.item(
            source=FeedbackItem.Source.SURVEY,
            patient_id=invitation.patient_id,
            text="\n\n".join(text for text in texts if text),
            score=nps,
            received_at=submitted_at,
            low=[touchpoint for touchpoint, number in ratings.items() if number <= 2],
        )
        self.responses.append(_Response(invitation, response, answers, item))
        return item

    def item(
        self,
        *,
        source: str,
        text: str,
        received_at: dt.datetime,
        patient_id: int | None = None,
        score: int | None = None,
        low: Iterable[str] = (),
        **fields,
    ) -> FeedbackItem:
        """An inbox item with its analysis, the way ``feedback.services`` files one."""
        result = analyze(text, people=self.people) if text else self._empty
        item = FeedbackItem(
            practice=self.practice,
            patient_id=patient_id,
            source=source,
            text=text,
            score=score,
            received_at=received_at,
            sentiment=result.sentiment,
            label=result.label,
            touchpoints=list(dict.fromkeys([*result.touchpoints, *low])),
            is_urgent=result.urgent,
            reasons=list(result.reasons),
            people=list(result.people),
            **fields,
        )
        if source == FeedbackItem.Source.SURVEY:
            _detractor_rule(item)
        self.items.append(item)
        return item

    def file(self, rng: random.Random) -> None:
        """Older items were read and most dealt with; the last two weeks' are still new."""
        for item in self.items:
            if item.received_at > self.now - HANDLED_AFTER:
                continue
            if rng.random() < HANDLED_SHARE:
                item.status = FeedbackItem.Status.HANDLED
                handled = item.received_at + dt.timedelta(hours=rng.uniform(2, 72))
                item.handled_at = min(handled, self.now)
            else:
                item.status = FeedbackItem.Status.READ

    # --- writing ---------------------------------------------------------------------

    def write(self) -> FeedbackSeeded:
        SurveyInvitation.objects.bulk_create(self.invitations, batch_size=500)
        for row in self.responses:
            row.response.invitation = row.invitation
        SurveyResponse.objects.bulk_create([row.response for row in self.responses], batch_size=500)
        answers = []
        for row in self.responses:
            row.item.response = row.response
            for answer in row.answers:
                answer.response = row.response
                answers.append(answer)
        Answer.objects.bulk_create(answers, batch_size=1000)
        FeedbackItem.objects.bulk_create(self.items, batch_size=500)
        # ``submitted_at`` and ``updated_at`` are set on insert to the time of seeding;
        # the response's item carries the time it was really submitted.
        # Unordered: the model's default order (newest first) would have PostgreSQL walk
        # the whole ``received_at`` index for each response instead of its ``response_id``.
        submitted = Subquery(
            FeedbackItem.objects.filter(response=OuterRef("pk"))
            .order_by()
            .values("received_at")[:1]
        )
        SurveyResponse.objects.filter(pk__in=[row.response.pk for row in self.responses]).update(
            submitted_at=submitted, updated_at=submitted
        )
        return FeedbackSeeded(len(self.invitations), len(self.responses), len(self.items))


def _detractor_rule(item: FeedbackItem) -> None:
    """As ``feedback.services``: a detractor's score says more than a short, flat comment."""
    if item.score is not None and item.score <= 6 and item.label == FeedbackItem.Label.NEUTRAL:
        item.label = FeedbackItem.Label.NEGATIVE
        item.reasons.append(f"score {item.score} of 10 (detractor)")


# --- a year of post-visit surveys ------------------------------------------------------


class SurveyYear:
    """Post-visit invitations and answers for the last year of a practice's visits;
    ``flights`` is the hidden propensity to leave by patient id (none: settled)."""

    def __init__(
        self, rows: FeedbackRows, rng: random.Random, flights: Mapping[int, float] | None = None
    ) -> None:
        self.rows = rows
        self.rng = rng
        self.flights = flights or {}
        self.now = rows.now
        staff = rows.staff.items()
        self.hygienists = [name for _, (kind, name) in staff if kind == StaffMember.Kind.HYGIENIST]
        self.dentists = [name for _, (kind, name) in staff if kind == StaffMember.Kind.DENTIST]
        self.desk = [name for _, (kind, name) in staff if kind == StaffMember.Kind.FRONT_DESK]
        # (touchpoint, text) a patient of a hygiene visit, or of any other, could write.
        self.pools = {
            (kind, hygiene): [
                (touchpoint, text)
                for touchpoint, texts in pool.items()
                for text in texts
                if hygiene or (touchpoint != "hygiene" and "{hygienist}" not in text)
            ]
            for kind, pool in POOLS.items()
            for hygiene in (True, False)
        }
        self.away = [text for texts in comments.AWAY.values() for text in texts]

    def add(self, *, exclude: Iterable[int] = ()) -> None:
        rows, rng, now = self.rows, self.rng, self.now
        policy = rows.policy
        delay = dt.timedelta(minutes=policy.delay_minutes)
        throttle = dt.timedelta(days=policy.throttle_days)
        visits = (
            Appointment.objects.filter(
                practice=rows.practice,
                status=Appointment.Status.COMPLETED,
                starts_at__gte=now - ONE_YEAR,
                starts_at__lt=now,
            )
            .exclude(patient_id__in=list(exclude))
            .order_by("starts_at", "pk")
            .values_list("pk", "patient_id", "starts_at", "duration_minutes", "kind", "provider_id")
        )
        last_invited: dict[int, dt.datetime] = {}
        for pk, patient_id, starts_at, minutes, kind, provider_id in visits:
            if rng.random() >= VISIT_SHARE:
                continue
            created_at = starts_at + dt.timedelta(minutes=minutes) + delay
            last = last_invited.get(patient_id)
            if created_at > now or (last is not None and created_at - last < throttle):
                continue
            last_invited[patient_id] = created_at
            invitation = rows.invite(
                patient_id=patient_id,
                questions=rows.post_visit,
                created_at=created_at,
                appointment_id=pk,
            )
            submitted_at = created_at + self._answer_delay()
            if rng.random() < ANSWER_SHARE and submitted_at < min(now, invitation.expires_at):
                pressure = drift(self.flights.get(patient_id, 0.0), (now - submitted_at).days)
                self._answer(invitation, submitted_at, kind, provider_id, pressure)
            elif rng.random() < OPENED_SHARE:
                opened_at = created_at + dt.timedelta(hours=rng.uniform(0.2, 30))
                invitation.opened_at = opened_at if opened_at < now else None

    def _answer_delay(self) -> dt.timedelta:
        draw = self.rng.random()
        if draw < 0.6:  # most answer the evening they are asked
            return dt.timedelta(minutes=self.rng.uniform(4, 180))
        if draw < 0.9:
            return dt.timedelta(hours=self.rng.uniform(3, 48))
        return dt.timedelta(days=self.rng.uniform(2, 10))

    def _nps(self, submitted_at: dt.datetime, pressure: float = 0.0) -> tuple[int, str]:
        rng = self.rng
        # 0 a year ago, 1 today: the practice slowly gets better at what patients notice.
        progress = min(1.0, max(0.0, 1 - (self.now - submitted_at) / ONE_YEAR))
        promoters = PROMOTERS[0] + (PROMOTERS[1] - PROMOTERS[0]) * progress
        detractors = DETRACTORS[0] + (DETRACTORS[1] - DETRACTORS[0]) * progress
        if pressure:
            # ...while a restless patient's answers fall, the more so the nearer today.
            lost = promoters * min(1.0, NPS_DRIFT * pressure)
            promoters -= lost
            detractors += DRIFT_TO_DETRACTORS * lost
        draw = rng.random()
        if draw < promoters:
            return rng.choices(PROMOTER_SCORES, PROMOTER_WEIGHTS)[0], "promoter"
        if draw < promoters + detractors:
            return rng.choices(DETRACTOR_SCORES, DETRACTOR_WEIGHTS)[0], "detractor"
        return rng.choices(PASSIVE_SCORES, PASSIVE_WEIGHTS)[0], "passive"

    def _answer(
        self,
        invitation: SurveyInvitation,
        submitted_at: dt.datetime,
        kind: str,
        provider_id: int,
        pressure: float = 0.0,
    ) -> None:
        rng = self.rng
        nps, group = self._nps(submitted_at, pressure)
        hygiene = kind in HYGIENE_VISITS
        comment_kind, about, texts = "", "", []
        if rng.random() < AWAY_BASE + AWAY_PER_DRIFT * pressure:
            comment_kind, about = "negative", "facility"
            texts.append(rng.choice(self.away))
        elif rng.random() < COMMENT_SHARE:
            kinds, weights = zip(*COMMENT_KINDS[group], strict=True)
            comment_kind = rng.choices(kinds, weights)[0]
            about, text = rng.choice(self.pools[comment_kind, hygiene])
            texts.append(text.format(**self._names(provider_id)))
        if rng.random() < NOTE_SHARE:
            texts = [texts[0] if texts else "", rng.choice(comments.NOTES)]
        ratings = {}
        for touchpoint in self.rows.post_visit.ratings:
            if touchpoint == "hygiene" and not hygiene:
                continue  # nobody to rate
            if touchpoint != about and rng.random() < 0.07:
                continue  # optional, and sometimes skipped
            if touchpoint == about:
                mean = COMMENT_RATING[comment_kind]
            else:
                mean = RATING_BY_NPS[nps] + RATING_OFFSETS.get(touchpoint, 0.0)
            ratings[touchpoint] = max(1, min(5, round(rng.gauss(mean, 0.45))))
        self.rows.respond(
            invitation,
            questions=self.rows.post_visit,
            submitted_at=submitted_at,
            nps=nps,
            ratings=ratings,
            texts=texts,
        )

    def _names(self, provider_id: int) -> dict[str, str]:
        """Staff as patients name them: the clinician they saw, else a colleague."""
        kind, name = self.rows.staff.get(provider_id, ("", ""))
        rng = self.rng
        hygienist = name if kind == StaffMember.Kind.HYGIENIST else rng.choice(self.hygienists)
        dentist = name if kind == StaffMember.Kind.DENTIST else rng.choice(self.dentists)
        return {
            "hygienist": hygienist,
            "dentist": f"Dr. {dentist.rsplit(' ', 1)[-1]}",
            "desk": rng.choice(self.desk),
        }


def feedback_seed(
    *,
    practice: Practice,
    now: dt.datetime,
    seed: str,
    stories: dict[str, str] | None = None,
    flights: Mapping[str, float] | None = None,
) -> FeedbackSeeded:
    """A year of survey answers at ``practice``; with ``stories`` (name: external id of
    the story patients), also the stories' own feedback, and nothing generated for them.
    ``flights`` is the generated patients' hidden propensity to leave by external id
    (``Person.flight``); it shapes their answers and is not stored."""
    rng = random.Random(f"rapport-demo-feedback:{seed}")
    rows = FeedbackRows(practice, now=now)
    by_id = {}
    if flights:
        ids = Patient.objects.filter(practice=practice).exclude(external_id="")
        by_id = {
            pk: flights[external_id]
            for external_id, pk in ids.values_list("external_id", "pk")
            if external_id in flights
        }
    story_ids = {}
    if stories:
        ids = dict(
            Patient.objects.filter(
                practice=practice, external_id__in=list(stories.values())
            ).values_list("external_id", "pk")
        )
        story_ids = {name: ids[external_id] for name, external_id in stories.items()}
    SurveyYear(rows, rng, by_id).add(exclude=story_ids.values())
    if story_ids:
        StoryFeedback(rows, story_ids).add_all()
    rows.file(rng)
    return rows.write()


# --- the stories -----------------------------------------------------------------------


class StoryFeedback:
    """What the people of ``STORIES.md`` told the practice, on each channel."""

    def __init__(self, rows: FeedbackRows, patients: dict[str, int]) -> None:
        self.rows = rows
        self.patients = patients
        self.zone = rows.practice.zone
        self.now = rows.now
        self.today = self.now.astimezone(self.zone).date()

    def add_all(self) -> None:
        self.dana()
        self.sam()
        self.priya()
        self.lees()
        self.leo()
        self.reviews()

    def at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.zone)

    def days_ago(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=days)

    def visit(self, name: str, kind: str) -> Appointment:
        """The patient's last completed visit of this kind."""
        visits = Appointment.objects.select_related("provider").filter(
            patient_id=self.patients[name], kind=kind, status=Appointment.Status.COMPLETED
        )
        return visits.order_by("-starts_at").first()

    def after_visit(
        self,
        name: str,
        visit: Appointment,
        *,
        nps: int,
        ratings: dict[str, int],
        text: str = "",
        minutes_later: int = 45,
    ) -> FeedbackItem:
        """The post-visit survey, sent as the invitations job sends it, and answered."""
        rows = self.rows
        created_at = visit.ends_at + dt.timedelta(minutes=rows.policy.delay_minutes)
        invitation = rows.invite(
            patient_id=self.patients[name],
            questions=rows.post_visit,
            created_at=created_at,
            appointment_id=visit.pk,
        )
        return rows.respond(
            invitation,
            questions=rows.post_visit,
            submitted_at=created_at + dt.timedelta(minutes=minutes_later),
            nps=nps,
            ratings=ratings,
            texts=[text],
        )

    # --- 1. The patient of twenty years ------------------------------------------------

    def dana(self) -> None:
        """Three yearly check-ins: 9, then 7, then 6, as the drive and the chairs wear."""
        rows = self.rows
        answers = (
            (
                715, 9, (4, 5),
                "Trust. Dr. {dentist} has looked after my teeth for nearly twenty years.",
                "You already are. Since we moved to Worcester it is a long drive, but worth it.",
            ),
            (
                355, 7, (3, 4),
                "Being looked after by people who know me.",
                "Newer equipment. Some of it feels dated next to the practices near my home, "
                "and it is a long drive.",
            ),
            (
                70, 6, (2, 4),
                "Up-to-date equipment, and not spending two hours in the car.",
                "I love the people, but between equipment that feels dated and a long drive "
                "each way, I am starting to wonder whether to find a dentist closer to home.",
            ),
        )  # fmt: skip
        dentist = self._surname(self.visit("Dana Whitfield", "Crown").provider.name)
        for days, nps, (facility, billing), matters, for_life in answers:
            created_at = self.at(self.days_ago(days), 10)
            invitation = rows.invite(
                patient_id=self.patients["Dana Whitfield"],
                questions=rows.relationship,
                created_at=created_at,
            )
            rows.respond(
                invitation,
                questions=rows.relationship,
                submitted_at=created_at + dt.timedelta(hours=9, minutes=20),
                nps=nps,
                ratings={"facility": facility, "billing_insurance": billing},
                yes_no=[1],
                texts=[matters.format(dentist=dentist), for_life],
            )

    # --- 2. Listening first ------------------------------------------------------------

    def sam(self) -> None:
        """After the consultation where his crown was planned and priced."""
        visit = self.visit("Sam Ortega", "Consultation")
        dentist = self._surname(visit.provider.name)
        self.after_visit(
            "Sam Ortega",
            visit,
            nps=10,
            ratings=dict.fromkeys(self.rows.post_visit.ratings, 5) | {"waiting": 4},
            text=(
                f"Dr. {dentist} explained exactly what my crown will cost, and what my "
                "insurance pays, before starting anything. After my last dentist, who never "
                "explained anything, that meant a lot. No surprises. Thank you!"
            ),
        )

    # --- 3. The lab technician ---------------------------------------------------------

    def priya(self) -> None:
        visit = self.visit("Priya Nair", "Crown shade match")
        self.after_visit(
            "Priya Nair",
            visit,
            nps=3,
            ratings={
                "reminders": 4,
                "arrival_reception": 4,
                "waiting": 3,
                "dentist_care": 4,
                "comfort_pain": 4,
                "treatment_cost": 4,
            },  # fmt: skip
            text=(
                "Crestline Dental Lab did my shade match and the technician ignored me the "
                "whole time: no greeting, no offer of a seat, and he took two phone calls "
                "while I stood at his desk waiting. I felt invisible and it was rude."
            ),
            minutes_later=150,
        )

    # --- 4. Remember the complaint -----------------------------------------------------

    def lees(self) -> None:
        """March: the late cleaning, heard at the desk, scored 6; after the follow-up, 10."""
        rows = self.rows
        march = (
            Appointment.objects.filter(
                patient_id=self.patients["Grace Lee"],
                kind="Cleaning",
                status=Appointment.Status.COMPLETED,
                starts_at__month=3,
            )
            .order_by("-starts_at")
            .first()
        )
        rows.item(
            source=FeedbackItem.Source.STAFF,
            source_detail="at the desk",
            patient_id=self.patients["Grace Lee"],
            text=(
                "Mrs Lee mentioned at checkout that the family's cleaning ran 40 minutes late "
                "and nobody explained why. She was polite but clearly upset: the children "
                "were late for school."
            ),
            received_at=march.ends_at + dt.timedelta(minutes=70),
        )
        self.after_visit(
            "Grace Lee",
            march,
            nps=6,
            ratings={
                "reminders": 4,
                "arrival_reception": 3,
                "waiting": 1,
                "hygiene": 4,
                "dentist_care": 4,
                "comfort_pain": 4,
                "treatment_cost": 4,
            },  # fmt: skip
            minutes_later=300,
        )
        # The manager's follow-up a month later, once the priority slot was in the book.
        follow_up = march.starts_at.astimezone(self.zone).date() + dt.timedelta(days=35)
        created_at = self.at(follow_up, 11)
        invitation = rows.invite(
            patient_id=self.patients["Grace Lee"],
            questions=rows.post_visit,
            created_at=created_at,
        )
        rows.respond(
            invitation,
            questions=rows.post_visit,
            submitted_at=created_at + dt.timedelta(hours=8),
            nps=10,
            texts=[
                "Thank you for calling me back after our long wait in March and for really "
                "listening. Having the first slot of the day next time makes all the "
                "difference with two kids."
            ],
        )

    # --- 5. The humiliated child -------------------------------------------------------

    def leo(self) -> None:
        """His mother's message on the talk-to-us page, the evening of his cleaning."""
        visit = self.visit("Leo Brandt", "Cleaning")
        anna = Patient.objects.get(pk=self.patients["Anna Brandt"])
        evening = self.at(visit.starts_at.astimezone(self.zone).date(), 20, 40)
        self.rows.item(
            source=FeedbackItem.Source.WEB,
            patient_id=self.patients["Leo Brandt"],
            author_name=anna.full_name,
            contact=anna.email,
            text=(
                "I am writing about my son Leo, who is eight. At his cleaning today the "
                f"hygienist, {visit.provider.name}, scolded him in front of other families "
                "for squirming and gagging, and accused him of drinking sugary drinks. He "
                "drinks water! He came home humiliated and in tears and says he never wants "
                "to go back. He has a strong gag reflex; he needs patience, not a "
                "telling-off. I would like someone to contact me."
            ),
            received_at=min(evening, self.now),
        )

    # --- public reviews ----------------------------------------------------------------

    def reviews(self) -> None:
        """Two Google reviews, imported as ``rapport import reviews`` does: no patient."""
        reviews = (
            (
                38, 5, "Jennifer K.",
                "Best dental office I have been to, hands down. Everyone is warm and "
                "professional, the hygienists are gentle, and they explain the cost of "
                "everything before they start. Highly recommend.",
            ),
            (
                66, 2, "Mike R.",
                "Booked weeks ahead and still waited almost an hour in the lobby. The front "
                "desk was dismissive when I asked for an update. The dentist was fine, but an "
                "hour's wait with no explanation is not acceptable.",
            ),
        )  # fmt: skip
        for number, (days, stars, author, text) in enumerate(reviews, start=1):
            received_at = self.at(self.days_ago(days), 21, 5)
            item = self.rows.item(
                source=FeedbackItem.Source.REVIEW,
                source_detail="Google",
                external_id=review_external_id(
                    source="Google",
                    review_id=f"demo-{number}",
                    date_value=received_at.date().isoformat(),
                    author=author,
                    text=text,
                ),
                author_name=author,
                text=text,
                score=stars,
                received_at=received_at,
            )
            if item.label == FeedbackItem.Label.NEUTRAL and stars != 3:
                item.label = "negative" if stars <= 2 else "positive"
                item.reasons.append(f"{stars}-star review")

    @staticmethod
    def _surname(name: str) -> str:
        return name.rsplit(" ", 1)[-1]
