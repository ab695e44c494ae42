from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, router, transaction
from django.utils import timezone


@functools.cache
def _known_timezones() -> frozenset[str]:
    # Reading the zone database takes ~15 ms; names do not change while a process runs.
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _known_timezones():
        raise ValidationError(f"{value!r} is not a known time zone")


class Organisation(models.Model):
    """A dental group or a single independent practice's owning business."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Practice(models.Model):
    """One dental office: its own patients, staff, phone lines and opening hours."""

    class Region(models.TextChoices):
        US = "US", "United States (HIPAA)"
        UK = "UK", "United Kingdom (UK GDPR)"
        AU = "AU", "Australia (APP)"
        CA = "CA", "Canada (PIPEDA)"
        OTHER = "OTHER", "Other (custom rules)"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="practices"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    timezone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_timezone]
    )
    region = models.CharField(max_length=8, choices=Region.choices, default=Region.US)
    phone = models.CharField(max_length=20, blank=True)
    # The dentist who owns the practice: cases of its most valuable patients go to them.
    owner_dentist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "slug"], name="practice_slug_unique_in_org"
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def is_open_at(self, moment: dt.datetime) -> bool:
        """Whether the practice is open at an aware moment, in its own time zone."""
        local = moment.astimezone(self.zone)
        if self.closed_days.filter(date=local.date()).exists():
            return False
        return self.opening_periods.filter(
            weekday=local.weekday(), opens_at__lte=local.time(), closes_at__gt=local.time()
        ).exists()


class OpeningPeriod(models.Model):
    """One stretch of opening time on a weekday; a day may have several (lunch closure)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="opening_periods")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="opening_period_closes_after_opening",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class ClosedDay(models.Model):
    """A holiday or other day the practice is closed although it is normally open."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="closed_days")
    date = models.DateField()
    reason = models.CharField(max_length=120, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "date"], name="closed_day_unique")
        ]
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.reason}".strip()


class Membership(models.Model):
    """A person's role at one practice, or across a whole organisation for group admins."""

    class Role(models.TextChoices):
        FRONT_DESK = "front_desk", "Front desk"
        CLINICIAN = "clinician", "Dentist / hygienist"
        MANAGER = "manager", "Office manager"
        GROUP_ADMIN = "group_admin", "Group admin"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    # Empty only for group admins, whose membership spans every practice of the organisation.
    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="memberships", null=True, blank=True
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(role="group_admin", practice__isnull=True)
                    | (~models.Q(role="group_admin") & models.Q(practice__isnull=False))
                ),
                name="membership_practice_matches_role",
            ),
            models.UniqueConstraint(
                fields=["user", "practice"], name="membership_unique_per_practice"
            ),
        ]

    def __str__(self) -> str:
        where = self.practice or self.organisation
        return f"{self.user} · {self.get_role_display()} · {where}"


class AuditRowImmutable(IntegrityError):
    """An attempt to change or delete an audit row; the database refuses them too."""


class AuditEventQuerySet(models.QuerySet):
    """Audit rows are added one chain link at a time and never changed or deleted."""

    def bulk_create(self, objs, *args, **kwargs):
        if kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts"):
            # A skipped or merged row would leave a hole in the chain.
            raise AuditRowImmutable("audit rows are added whole: no conflict handling")
        from core.audit import chain_link  # core.audit reads this module

        objs = list(objs)
        if not objs:
            return objs
        with transaction.atomic(using=self.db, savepoint=False):
            chain_link(objs, using=self.db)
            return super().bulk_create(objs, *args, **kwargs)

    def update(self, **kwargs):
        raise AuditRowImmutable("audit rows are append-only: they cannot be updated")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditRowImmutable("audit rows are append-only: they cannot be updated")

    def delete(self):
        raise AuditRowImmutable("audit rows are append-only: they cannot be deleted")

    delete.alters_data = True
    delete.queryset_only = True


class AuditEvent(models.Model):
    """One view or change of patient data: who, what, when and from where.

    Rows are only ever added; services write them in the same transaction as the change.
    Each row carries the SHA-256 of its own fields and of the previous row's hash, in one
    chain for the installation ordered by ``sequence`` (``core.audit``), so a changed,
    missing or reordered row shows in ``rapport audit verify``. Database triggers refuse
    UPDATE and DELETE (migration 0004). On SQLite, Django alters a column by copying the
    table, which drops its triggers: a later migration that alters this model must create
    them again (``test_audit_chain`` fails if it does not).
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        LIST = "list", "Listed"
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"
        IMPORT = "import", "Imported"
        EXPORT = "export", "Exported"

    # Set when the row is made, not by ``auto_now_add`` at INSERT: the hash covers it and
    # is computed before the INSERT.
    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    # Who acted, and where: PROTECT. A user or practice named in the log cannot be deleted
    # (deactivate a user instead); Django refuses before writing anything and the foreign
    # key refuses a raw DELETE, so no audit row ever has to change. CASCADE would DELETE
    # and SET_NULL would UPDATE audit rows, which the triggers refuse (and SET_NULL would
    # break the chain); DO_NOTHING without a constraint would leave ids that name nobody
    # one can look up. Patients may be deleted: ``patient_id`` is a plain column.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who acted when there is no user (an import from the command line, a job).
    actor_label = models.CharField(max_length=120, blank=True)
    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # The row's place in the chain: 1, 2, 3… with no gaps. Unique, so two writers can
    # never both link to the same previous row, whatever happens to the lock.
    sequence = models.BigIntegerField(unique=True, editable=False)
    previous_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-sequence"]
        indexes = [models.Index(fields=["practice", "at"], name="audit_practice_at")]

    def __str__(self) -> str:
        who = self.actor or self.actor_label
        return f"{self.at:%Y-%m-%d %H:%M} {who} {self.action} {self.object_type} {self.object_id}"

    def save(self, **kwargs) -> None:
        if not self._state.adding:
            raise AuditRowImmutable("audit rows are append-only: this one is saved already")
        from core.audit import chain_link  # core.audit reads this module

        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        # No savepoint: a failed INSERT fails the caller's transaction, as it always did.
        with transaction.atomic(using=using, savepoint=False):
            chain_link([self], using=using)
            super().save(**{**kwargs, "force_insert": True, "using": using})

    save.alters_data = True

    def delete(self, *args, **kwargs):
        raise AuditRowImmutable("audit rows are append-only: they cannot be deleted")

    delete.alters_data = True


class StaffMember(models.Model):
    """Someone who works at a practice and appears on the schedule, with or without a login."""

    class Kind(models.TextChoices):
        DENTIST = "dentist", "Dentist"
        HYGIENIST = "hygienist", "Hygienist"
        ASSISTANT = "assistant", "Dental assistant"
        FRONT_DESK = "front_desk", "Front desk"
        MANAGER = "manager", "Office manager"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DENTIST)
    external_id = models.CharField(max_length=80, blank=True)
    # The practice phone they answer (``101``, ``client1``): calls that rang or were answered
    # there are theirs. Matched when a call is recorded, so changing it leaves the calls
    # already recorded with whoever had it then.
    extension = models.CharField(
        max_length=40, blank=True, help_text="Their phone extension on the practice's system"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "external_id"],
                condition=~models.Q(external_id=""),
                name="staff_external_id_unique",
            ),
            # Among active staff: someone who left keeps theirs on record, and it can be
            # given to the next person.
            models.UniqueConstraint(
                fields=["practice", "extension"],
                condition=~models.Q(extension="") & models.Q(is_active=True),
                name="staff_extension_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name
