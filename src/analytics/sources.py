"""The SQL behind the rollups: each raw table's rows grouped by practice and local day.

A ``Source`` is one grouped ``SELECT`` over one raw table (and what it joins), giving some
of a rollup table's columns; ``select_sql`` stacks the sources of a table with
``UNION ALL`` and sums them per practice and day: the table's new rows, in one statement.

A row's day is the practice's local date of one of its moments. PostgreSQL converts with
``AT TIME ZONE`` and its own zone database; SQLite, which has none, calls
``analytics_local_date``, a deterministic Python function registered on the connection
(``register_functions``) that converts with ``zoneinfo``. The rest of the SQL is the same
on both databases.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection

from calls.models import Call, CallbackTask
from core.models import Practice
from feedback.models import Answer, FeedbackItem, Question, SurveyInvitation, SurveyResponse
from loyalty.models import LoyaltyPolicy, PatientScore
from patients.models import Appointment, Patient
from records.models import RecordsRequest
from recovery.models import CaseStep, Gesture, RecoveryCase
from vendors.models import VendorDefect

# The words that make a yes/no or rating question an effort question for CES.
EFFORT_WORDS = re.compile(r"\b(easy|easily|easier|effort|effortless|hassle)\b", re.IGNORECASE)
BOOKING_WINDOW_DAYS = 7  # as calls.conversion.BOOKING_WINDOW


def _t(model) -> str:
    return model._meta.db_table


def ids_sql(values: Iterable[int]) -> str:
    """An SQL list of ids; ``int()`` makes each one safe to write into the statement."""
    listed = ", ".join(str(int(value)) for value in values)
    return f"({listed})" if listed else "(NULL)"


# --- What differs between the databases ------------------------------------------------


def local_date(moment: str, zone: str = "pr.timezone") -> str:
    """SQL for the local date of a timestamp column in a zone column."""
    if connection.vendor == "postgresql":
        return f"CAST({moment} AT TIME ZONE {zone} AS DATE)"
    return f"analytics_local_date({moment}, {zone})"


def month_start(day: str) -> str:
    """SQL for the first day of the month of a date column."""
    if connection.vendor == "postgresql":
        return f"CAST(DATE_TRUNC('month', {day}) AS DATE)"
    return f"date({day}, 'start of month')"


def plus_days(moment: str, days: int) -> str:
    if connection.vendor == "postgresql":
        return f"({moment} + INTERVAL '{int(days)} days')"
    return f"analytics_plus_days({moment}, {int(days)})"


def json_elements(column: str, alias: str) -> str:
    """A join giving one row per element of a JSON list, as ``{alias}.value``."""
    if connection.vendor == "postgresql":
        return f"CROSS JOIN LATERAL jsonb_array_elements_text({column}) AS {alias}(value)"
    return f"CROSS JOIN json_each({column}) AS {alias}"


def json_is_list(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"jsonb_typeof({column}) = 'array'"
    return f"json_type({column}) = 'array'"


def cents(amount: str) -> str:
    """A money column in whole cents, rounded row by row so that sums stay exact."""
    return f"CAST(ROUND({amount} * 100) AS BIGINT)"


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _parse(moment: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(moment)
    # Django stores naive UTC on SQLite.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _sqlite_local_date(moment: str | None, zone: str | None) -> str | None:
    if moment is None or zone is None:
        return None
    return _parse(moment).astimezone(_zone(zone)).date().isoformat()


def _sqlite_plus_days(moment: str | None, days: int | None) -> str | None:
    if moment is None or days is None:
        return None
    later = _parse(moment) + dt.timedelta(days=days)
    # The same text Django writes, so that comparisons with stored moments hold.
    return str(later.astimezone(dt.UTC).replace(tzinfo=None))


def register_functions() -> None:
    """Give this SQLite connection the functions the rollup SQL calls (PostgreSQL has its
    own). Cheap, and safe to repeat."""
    if connection.vendor != "sqlite":
        return
    connection.ensure_connection()
    raw = connection.connection
    raw.create_function("analytics_local_date", 2, _sqlite_local_date, deterministic=True)
    raw.create_function("analytics_plus_days", 2, _sqlite_plus_days, deterministic=True)


# --- Sources -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One raw table's rows grouped by practice and the local day of ``moment``."""

    name: str
    tables: str  # the FROM list, without the practice
    practice: str  # the practice id column
    moment: str  # the timestamp whose local day the row counts on
    columns: dict[str, str]  # target column: aggregate over the group
    where: Sequence[str] = ()
    key: str | None = None  # a further grouping column (narrow tables)
    joins: str = ""  # joins after the practice (JSON elements)


@dataclass(frozen=True)
class Target:
    """A rollup table and the sources that fill it."""

    table: str
    columns: list[str]
    sources: list[Source]
    key: str | None = None  # the column ``Source.key`` fills
    stamp: str | None = None  # a column set to the refresh's moment when a row changes

    @property
    def keys(self) -> list[str]:
        return ["practice_id", "day"] + ([self.key] if self.key else [])


def _when(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _sql_type(column: str) -> str:
    return "BIGINT" if column.endswith("_cents") else "INTEGER"


def _arm(source: Source, columns: list[str], practices: str) -> str:
    day = local_date(source.moment)
    selected = [f"{source.practice} AS practice_id", f"{day} AS day"]
    group = "1, 2"
    if source.key is not None:
        selected.append(f"{source.key} AS rollup_key")
        group = "1, 2, 3"
    # Whole numbers as INTEGER: summing them again below then adds machine integers
    # rather than PostgreSQL's arbitrary-precision NUMERIC (what SUM of a BIGINT gives).
    selected += [
        f"CAST({source.columns[name]} AS {_sql_type(name)}) AS {name}"
        if name in source.columns
        else f"0 AS {name}"
        for name in columns
    ]
    unknown = set(source.columns) - set(columns)
    if unknown:
        raise ValueError(f"{source.name}: no such rollup columns {sorted(unknown)}")
    conditions = [
        f"{source.practice} IN {practices}",
        f"{source.moment} >= %(lo)s",
        f"{source.moment} < %(hi)s",
        *source.where,
    ]
    return (
        f"SELECT {', '.join(selected)} FROM {source.tables}"  # noqa: S608
        f" JOIN {_t(Practice)} pr ON pr.id = {source.practice} {source.joins}"
        f" WHERE {' AND '.join(conditions)} GROUP BY {group}"
    )


def select_sql(target: Target, practices: str) -> str:
    """One ``SELECT`` of ``target``'s rows for ``practices`` (an SQL id list) over the local
    days ``%(first)s`` to ``%(last)s``: keys (``practice_id``, ``day`` and the target's
    key), then the columns. ``%(lo)s``–``%(hi)s`` are UTC moments wide enough to hold those
    days in every zone of the practices."""
    arms = "\nUNION ALL\n".join(_arm(s, target.columns, practices) for s in target.sources)
    picked = ["practice_id", "day"] + ([f"rollup_key AS {target.key}"] if target.key else [])
    grouped = ["practice_id", "day"] + (["rollup_key"] if target.key else [])
    sums = [f"CAST(SUM({name}) AS BIGINT) AS {name}" for name in target.columns]
    return f"""
    SELECT {", ".join(picked + sums)}
    FROM (
    {arms}
    ) arms
    WHERE day >= %(first)s AND day <= %(last)s
    GROUP BY {", ".join(grouped)}
    """  # noqa: S608 (table names, constant SQL and int() ids only)


def effort_question_ids() -> list[int]:
    """Yes/no and rating questions asking about ease or effort (docs/analytics.md, CES)."""
    rows = Question.objects.filter(
        kind__in=[Question.Kind.YES_NO, Question.Kind.RATING]
    ).values_list("pk", "text")
    return [pk for pk, text in rows if EFFORT_WORDS.search(text)]


def practice_day_target(effort_ids: Sequence[int]) -> Target:
    from analytics.models import PracticeDay

    invitation, response, answer = _t(SurveyInvitation), _t(SurveyResponse), _t(Answer)
    question, item, case, step = _t(Question), _t(FeedbackItem), _t(RecoveryCase), _t(CaseStep)
    gesture, records, patient = _t(Gesture), _t(RecordsRequest), _t(Patient)
    call, callback, appointment = _t(Call), _t(CallbackTask), _t(Appointment)
    effort = f"q.id IN {ids_sql(effort_ids)}"
    rating = "q.kind = 'rating'"
    by_person = "t.done_at IS NOT NULL AND t.outcome <> 'got_through'"
    ack_known = "s.due_at IS NOT NULL"
    window = plus_days("cl.started_at", BOOKING_WINDOW_DAYS)
    booked_in_window = (
        f"a.created_at >= cl.started_at AND a.created_at < {window}"
        " AND a.starts_at >= cl.started_at"
    )
    sources = [
        Source(
            "invitations",
            f"{invitation} i LEFT JOIN {response} r ON r.invitation_id = i.id",
            "i.practice_id",
            "i.created_at",
            {"invitations": "COUNT(*)", "invitations_answered": "COUNT(r.id)"},
        ),
        Source(
            "responses",
            f"{response} r",
            "r.practice_id",
            "r.submitted_at",
            {
                "responses": "COUNT(*)",
                "nps_promoters": _when("r.nps >= 9"),
                "nps_passives": _when("r.nps IN (7, 8)"),
                "nps_detractors": _when("r.nps <= 6"),
            },
        ),
        Source(
            "answers",
            f"{answer} a JOIN {response} r ON r.id = a.response_id"
            f" JOIN {question} q ON q.id = a.question_id",
            "r.practice_id",
            "r.submitted_at",
            {
                "csat_answers": _when(rating),
                "csat_satisfied": _when(f"{rating} AND a.number >= 4"),
                "ces_answers": _when(effort),
                "ces_easy": _when(
                    f"{effort} AND ((q.kind = 'yes_no' AND a.number = 1)"
                    " OR (q.kind = 'rating' AND a.number >= 4))"
                ),
            },
            where=["a.number IS NOT NULL", f"({rating} OR {effort})"],
        ),
        Source(
            "feedback",
            f"{item} f",
            "f.practice_id",
            "f.received_at",
            {
                "feedback_items": "COUNT(*)",
                "feedback_negative": _when("f.label = 'negative'"),
                "feedback_positive": _when("f.label = 'positive'"),
            },
        ),
        Source(
            "cases opened",
            f"{case} c LEFT JOIN {step} s ON s.case_id = c.id AND s.kind = 'acknowledge'",
            "c.practice_id",
            "c.opened_at",
            {
                "cases_opened": "COUNT(*)",
                "cases_ack_on_time": _when(
                    f"{ack_known} AND s.completed_at IS NOT NULL AND s.completed_at <= s.due_at"
                ),
                # As recovery.metrics: an open step counts once its deadline has passed,
                # unless the case is paused or closed (then it was left, not missed).
                "cases_ack_late": _when(
                    f"{ack_known} AND ((s.completed_at IS NOT NULL AND s.completed_at > s.due_at)"
                    " OR (s.completed_at IS NULL AND s.due_at < %(now)s AND c.status = 'open'))"
                ),
            },
        ),
        Source(
            "cases closed",
            f"{case} c",
            "c.practice_id",
            "c.closed_at",
            {
                "cases_closed": "COUNT(*)",
                "cases_recovered": _when("c.outcome = 'recovered'"),
                "cases_judged": _when("c.outcome IN ('recovered', 'partly', 'not_recovered')"),
                "satisfaction_pairs": _when(
                    "c.satisfaction_before IS NOT NULL AND c.satisfaction_after IS NOT NULL"
                ),
                "satisfaction_before_sum": "SUM(CASE WHEN c.satisfaction_after IS NOT NULL"
                " THEN c.satisfaction_before ELSE 0 END)",
                "satisfaction_after_sum": "SUM(CASE WHEN c.satisfaction_before IS NOT NULL"
                " THEN c.satisfaction_after ELSE 0 END)",
            },
            where=["c.closed_at IS NOT NULL"],
        ),
        Source(
            "gestures",
            f"{gesture} g JOIN {case} c ON c.id = g.case_id",
            "c.practice_id",
            "g.proposed_at",
            {"gestures": "COUNT(*)", "gestures_cost_cents": f"SUM({cents('g.cost')})"},
            where=["g.status IN ('approved', 'given')"],
        ),
        Source(
            "records received",
            f"{records} rr",
            "rr.practice_id",
            "rr.received_at",
            {"records_received": "COUNT(*)"},
            where=["rr.status <> 'withdrawn'"],
        ),
        Source(
            "records fulfilled",
            f"{records} rr",
            "rr.practice_id",
            "rr.fulfilled_at",
            {
                "records_fulfilled": "COUNT(*)",
                "records_fulfilled_on_time": _when(
                    f"{local_date('rr.fulfilled_at')} <= COALESCE(rr.extended_to, rr.due_on)"
                ),
            },
            where=["rr.status = 'fulfilled'", "rr.fulfilled_at IS NOT NULL"],
        ),
        Source(
            "departures",
            f"{patient} p",
            "p.practice_id",
            "p.departed_at",
            {
                "departures": "COUNT(*)",
                "value_lost_cents": "SUM(CASE WHEN p.status = 'departed'"
                f" THEN {cents('p.lifetime_value')} ELSE 0 END)",
            },
            where=["p.departed_at IS NOT NULL"],
        ),
        Source(
            "returns",
            f"{patient} p",
            "p.practice_id",
            "p.returned_at",
            {"redeemed": "COUNT(*)"},
            where=["p.returned_at IS NOT NULL"],
        ),
        Source(
            "calls",
            f"{call} cl",
            "cl.practice_id",
            "cl.started_at",
            {
                "calls_inbound": "COUNT(*)",
                "calls_answered": _when("cl.disposition = 'answered'"),
                "calls_missed": _when("cl.disposition <> 'answered'"),
            },
            where=["cl.direction = 'inbound'"],
        ),
        Source(
            "call-backs",
            f"{callback} t JOIN {call} cl ON cl.id = t.call_id",
            "cl.practice_id",
            "cl.started_at",
            {
                "callbacks_done": _when(by_person),
                "callbacks_on_time": _when(f"{by_person} AND t.done_at <= t.due_at"),
                "callbacks_overdue": _when("t.done_at IS NULL AND t.due_at <= %(now)s"),
            },
        ),
        Source(
            "new callers",
            f"{call} cl",
            "cl.practice_id",
            "cl.started_at",
            {
                "new_callers": "COUNT(*)",
                # Booked: an appointment of the patient the call was linked to, or of a
                # patient who has the number now, appeared within 7 days after the call,
                # for a visit after it (calls.conversion's test, from the first call).
                "new_callers_booked": _when(
                    f"EXISTS (SELECT 1 FROM {appointment} a WHERE a.patient_id = cl.patient_id"  # noqa: S608
                    f" AND {booked_in_window})"
                    f" OR EXISTS (SELECT 1 FROM {appointment} a JOIN {patient} pp"
                    " ON pp.id = a.patient_id WHERE pp.practice_id = cl.practice_id"
                    f" AND pp.phone = cl.number AND {booked_in_window})"
                ),
            },
            where=[
                "cl.direction = 'inbound'",
                "cl.new_caller",
                "cl.number <> ''",
                # The number's first call as a new caller: each number counts once, ever.
                f"NOT EXISTS (SELECT 1 FROM {call} e WHERE e.practice_id = cl.practice_id"  # noqa: S608
                " AND e.number = cl.number AND e.direction = 'inbound' AND e.new_caller"
                " AND (e.started_at < cl.started_at"
                " OR (e.started_at = cl.started_at AND e.id < cl.id)))",
            ],
        ),
        Source(
            "vendor defects",
            f"{_t(VendorDefect)} vd",
            "vd.practice_id",
            "vd.detected_at",
            {"vendor_defects": "COUNT(*)"},
        ),
        Source(
            "visits",
            f"{appointment} a JOIN {patient} p ON p.id = a.patient_id",
            "a.practice_id",
            "a.starts_at",
            {
                "visits": "COUNT(*)",
                "patients_seen": "COUNT(DISTINCT a.patient_id)",
                # New: the practice's recorded first visit is that day; without one, the
                # patient's earliest completed appointment in Rapport is this one.
                "new_patients_seen": "COUNT(DISTINCT CASE WHEN (p.first_visit_on IS NOT NULL"  # noqa: S608
                f" AND p.first_visit_on = {local_date('a.starts_at')})"
                " OR (p.first_visit_on IS NULL AND NOT EXISTS (SELECT 1 FROM"
                f" {appointment} e WHERE e.patient_id = a.patient_id AND e.status = 'completed'"
                " AND e.starts_at < a.starts_at)) THEN a.patient_id END)",
            },
            where=["a.status = 'completed'"],
        ),
    ]
    columns = [
        f.column
        for f in PracticeDay._meta.concrete_fields
        if f.column not in {"id", "practice_id", "day", "changed_at"}
    ]
    return Target(_t(PracticeDay), columns, sources, stamp="changed_at")


def touchpoint_target() -> Target:
    from analytics.models import PracticeDayTouchpoint

    return Target(
        _t(PracticeDayTouchpoint),
        ["answers", "score_sum", "satisfied", "low_scores", "defects"],
        [
            Source(
                "touchpoint ratings",
                f"{_t(Answer)} a JOIN {_t(SurveyResponse)} r ON r.id = a.response_id"
                f" JOIN {_t(Question)} q ON q.id = a.question_id",
                "r.practice_id",
                "r.submitted_at",
                {
                    "answers": "COUNT(*)",
                    "score_sum": "SUM(a.number)",
                    "satisfied": _when("a.number >= 4"),
                    "low_scores": _when("a.number <= 2"),
                },
                where=["q.kind = 'rating'", "a.number IS NOT NULL"],
                key="q.touchpoint",
            ),
            Source(
                "touchpoint defects",
                f"{_t(FeedbackItem)} f",
                "f.practice_id",
                "f.received_at",
                {"defects": "COUNT(DISTINCT f.id)"},
                where=["f.label = 'negative'", json_is_list("f.touchpoints")],
                key="tp.value",
                joins=json_elements("f.touchpoints", "tp"),
            ),
        ],
        key="touchpoint",
    )


def departure_target() -> Target:
    from analytics.models import PracticeDayDeparture

    return Target(
        _t(PracticeDayDeparture),
        ["departures", "value_lost_cents"],
        [
            Source(
                "departures by reason",
                f"{_t(Patient)} p",
                "p.practice_id",
                "p.departed_at",
                {
                    "departures": "COUNT(*)",
                    "value_lost_cents": "SUM(CASE WHEN p.status = 'departed'"
                    f" THEN {cents('p.lifetime_value')} ELSE 0 END)",
                },
                where=["p.departed_at IS NOT NULL"],
                key="p.departure_reason",
            )
        ],
        key="reason",
    )


def person_target() -> Target:
    from analytics.models import PracticeDayPerson

    def items(label: str) -> str:
        return f"COUNT(DISTINCT CASE WHEN f.label = '{label}' THEN f.id END)"

    return Target(
        _t(PracticeDayPerson),
        ["praise", "complaints"],
        [
            Source(
                "people named in feedback",
                f"{_t(FeedbackItem)} f",
                "f.practice_id",
                "f.received_at",
                {"praise": items("positive"), "complaints": items("negative")},
                where=["f.label IN ('positive', 'negative')", json_is_list("f.people")],
                key="person.value",
                joins=json_elements("f.people", "person"),
            )
        ],
        key="person",
    )


def vendor_target() -> Target:
    from analytics.models import PracticeDayVendor

    return Target(
        _t(PracticeDayVendor),
        ["answers", "score_sum", "satisfied", "defects", "complaints", "cases_opened"],
        [
            Source(
                "vendor ratings",
                f"{_t(Answer)} a JOIN {_t(SurveyResponse)} r ON r.id = a.response_id"
                f" JOIN {_t(Question)} q ON q.id = a.question_id",
                "r.practice_id",
                "r.submitted_at",
                {
                    "answers": "COUNT(*)",
                    "score_sum": "SUM(a.number)",
                    "satisfied": _when("a.number >= 4"),
                },
                where=["q.kind = 'rating'", "a.number IS NOT NULL", "a.vendor_id IS NOT NULL"],
                key="a.vendor_id",
            ),
            Source(
                "vendor defects",
                f"{_t(VendorDefect)} d",
                "d.practice_id",
                "d.detected_at",
                {"defects": "COUNT(*)"},
                key="d.vendor_id",
            ),
            Source(
                "vendor complaints",
                f"{_t(FeedbackItem)} f",
                "f.practice_id",
                "f.received_at",
                {"complaints": "COUNT(*)"},
                where=["f.label = 'negative'", "f.vendor_id IS NOT NULL"],
                key="f.vendor_id",
            ),
            Source(
                "vendor cases",
                f"{_t(RecoveryCase)} c",
                "c.practice_id",
                "c.opened_at",
                {"cases_opened": "COUNT(*)"},
                where=["c.vendor_id IS NOT NULL"],
                key="c.vendor_id",
            ),
        ],
        key="vendor_id",
    )


def snapshot_sql(practices: str) -> str:
    """The loyalty figures of ``practices`` now, as the snapshot of day ``%(day)s``."""
    from analytics.models import PracticeSnapshot

    default = LoyaltyPolicy._meta.get_field("list_from_risk").default
    threshold = f"COALESCE(lp.list_from_risk, {int(default)})"
    return f"""
    INSERT INTO {_t(PracticeSnapshot)}
      (practice_id, day, taken_at, patients_scored, patients_at_risk, value_at_risk_cents)
    SELECT pr.id, %(day)s, %(now)s, COUNT(s.id),
      {_when(f"s.risk >= {threshold}")},
      COALESCE(SUM(CASE WHEN s.risk >= {threshold} THEN {cents("s.lifetime_value")} END), 0)
    FROM {_t(Practice)} pr
    LEFT JOIN {_t(LoyaltyPolicy)} lp ON lp.organisation_id = pr.organisation_id
    LEFT JOIN {_t(PatientScore)} s ON s.practice_id = pr.id
    WHERE pr.id IN {practices}
    GROUP BY pr.id, lp.list_from_risk
    """  # noqa: S608 (table names, constant SQL and int() ids only)
