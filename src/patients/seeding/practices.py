"""``seed_practices``: organisations, practices, staff, patients and appointments at any scale.

One ``random.Random`` per practice, seeded from the run's seed and the practice's number,
makes every practice reproducible on its own, whichever process builds it. Building rows
is pure Python (``build``); writing them (``writer``) happens in the main process, one
transaction per practice, so memory stays bounded by a few practices. With ``workers``
the building moves to other processes and overlaps with the writing.

Patients' hidden propensity to leave, and who leaves in the year after the seed, are never
written; ``truth`` rebuilds them for benchmarks from what each practice's audit event says.

On PostgreSQL the planner is kept in step with tables that grow by millions of rows in one
run (``_planner_in_step``): without it, where autovacuum is off or behind, the per-practice
``UPDATE``s of a thousand-practice seed were planned from no statistics, their estimated
cost crossed the JIT thresholds as the tables grew, and each spent about a second compiling
for a quarter of a second of work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from core.models import ClosedDay, OpeningPeriod, Organisation, Practice, StaffMember
from core.services import audit_record
from feedback.models import Answer, FeedbackItem, SurveyInvitation, SurveyResponse
from patients.models import Appointment, Household, Patient
from patients.seeding import data
from patients.seeding.build import Blueprint, PracticePlan, practice_rng
from patients.seeding.feedback import feedback_seed
from patients.seeding.worker import Task, build, setup
from patients.seeding.writer import RowWriter, blueprint_write
from patients.services import patient_figures_refresh

Progress = Callable[..., None]


@dataclass
class SeedResult:
    practices: list[Practice] = field(default_factory=list)
    patients: int = 0
    appointments: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"seeded {len(self.practices)} practices, {self.patients} patients, "
            f"{self.appointments} appointments in {self.seconds:.1f}s"
        )


def organisation_create_unique(name: str) -> Organisation:
    base = slugify(name)[:70] or "group"
    taken = set(Organisation.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return Organisation.objects.create(name=name, slug=slug)


def practice_create_seeded(
    *, organisation: Organisation, plan: PracticePlan, slug: str
) -> Practice:
    """``core.services.practice_create`` minus ``full_clean``, whose time-zone check lists
    the whole zone database on every call (15 ms); these zones come from a fixed list."""
    practice = Practice.objects.create(
        organisation=organisation,
        name=plan.name,
        slug=slug,
        timezone=plan.timezone,
        phone=plan.phone,
    )
    OpeningPeriod.objects.bulk_create(
        OpeningPeriod(practice=practice, weekday=day, opens_at=opens, closes_at=closes)
        for day, opens, closes in plan.hours
    )
    return practice


def _blueprints(tasks: list[Task], workers: int) -> Iterator[Blueprint]:
    if workers < 1:
        yield from map(build, tasks)
        return
    # Spawned, not forked: a forked child would share the parent's database connection.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=setup) as pool:
        pending: deque = deque()
        queue = iter(tasks)
        # A few practices in flight at most, so memory stays bounded however fast they build.
        for task in queue:
            pending.append(pool.apply_async(build, (task,)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            blueprint = pending.popleft().get()
            next_task = next(queue, None)
            if next_task is not None:
                pending.append(pool.apply_async(build, (next_task,)))
            yield blueprint


# The tables a seed fills, for ``ANALYZE``.
GROWING = (
    Practice, OpeningPeriod, ClosedDay, StaffMember, Household, Patient, Appointment,
    SurveyInvitation, SurveyResponse, Answer, FeedbackItem,
)  # fmt: skip


@contextlib.contextmanager
def _planner_in_step() -> Iterator[Callable[[int], None]]:
    """Yield ``after(practices)``, to call after each practice, which on PostgreSQL
    analyses the growing tables whenever the number of practices doubles (ten times for a
    thousand practices, each on at most half the final rows), as autovacuum would; and turn
    JIT compilation off meanwhile: every statement here reads one practice's rows, where
    compiling costs far more than it saves. Both are put back at the end."""
    if connection.vendor != "postgresql":
        yield lambda practices: None
        return

    def analyze() -> None:
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in GROWING)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")

    def after(practices: int) -> None:
        if practices & (practices - 1) == 0:  # 1, 2, 4, 8…
            analyze()

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit')")
        jit = cursor.fetchone()[0]
        cursor.execute("SET jit = off")
    try:
        yield after
        analyze()  # the seeded database is left with statistics for what follows
    finally:
        # Not over an error that aborted an enclosing transaction.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', %s, false)", [jit])


def seed_practices(
    *,
    practices: int,
    patients: int,
    years: int,
    seed: int | str,
    organisations: int = 1,
    workers: int = 0,
    surveys: bool = False,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> SeedResult:
    """Create ``organisations`` groups sharing ``practices`` practices round-robin, each with
    ``patients`` patients and ``years`` of appointment history up to ``now`` plus what is
    booked ahead. The same seed (and day) gives the same people and appointments.

    ``workers`` processes build practices while this one writes (0: build here too).
    ``surveys`` adds a year of post-visit survey answers, as in the demo (about three times
    slower: they go through the ORM and the text analysis)."""
    if min(practices, patients, years, organisations) < 1:
        raise ValueError("practices, patients, years and organisations must be at least 1")
    if organisations > practices:
        raise ValueError("cannot have more organisations than practices")
    started = time.perf_counter()
    now = now or timezone.now()
    writer = RowWriter(now=now)
    result = SeedResult()
    org_names = list(data.ORGANISATION_NAMES)
    practice_rng(seed, -1).shuffle(org_names)
    with transaction.atomic():
        groups = [
            organisation_create_unique(
                org_names[n % len(org_names)]
                + (f" {n // len(org_names) + 1}" if n >= len(org_names) else "")
            )
            for n in range(organisations)
        ]
    slugs: dict[int, set[str]] = {group.pk: set() for group in groups}
    total = practices * patients
    if progress:
        progress(0, total)
    tasks = [Task(seed, index, patients, years, now, writer.aware) for index in range(practices)]
    with _planner_in_step() as after_practice:
        for index, blueprint in enumerate(_blueprints(tasks, workers)):
            group = groups[index % organisations]
            slug = blueprint.plan.slug
            if slug in slugs[group.pk]:
                slug = f"{slug}-{index + 1}"
            slugs[group.pk].add(slug)
            with transaction.atomic():
                practice = practice_create_seeded(
                    organisation=group, plan=blueprint.plan, slug=slug
                )
                written = blueprint_write(blueprint, practice=practice, writer=writer)
                patient_figures_refresh(practices=[practice])
                # Enough to rebuild the practice's hidden truth (``truth.seed_truth_of``).
                detail = {
                    "seed": seed,
                    "practice": index,
                    "patients": written.patients,
                    "years": years,
                    "now": now.isoformat(),
                }
                if surveys:
                    flights = dict(zip(blueprint.patient_refs, blueprint.flights, strict=True))
                    seeded = feedback_seed(
                        practice=practice, now=now, seed=f"seed:{seed}:{index}", flights=flights
                    )
                    detail.update(seeded.as_detail())
                audit_record(
                    action="import",
                    object_type="seed",
                    practice=practice,
                    actor_label="rapport seed",
                    detail=detail,
                )
            after_practice(index + 1)
            result.practices.append(practice)
            result.patients += written.patients
            result.appointments += written.appointments
            if progress:
                progress(result.patients, total)
    result.seconds = time.perf_counter() - started
    return result
