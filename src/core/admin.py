from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.utils import timezone

from core.admin_scoping import PracticeScopedAdmin
from core.audit import EXPORT_HEADER, audit_export_record, audit_export_rows
from core.models import AuditEvent, ClosedDay, Membership, OpeningPeriod, Practice, StaffMember
from core.spreadsheets import csv_bytes


class OpeningPeriodInline(admin.TabularInline):
    model = OpeningPeriod
    extra = 0


class ClosedDayInline(admin.TabularInline):
    model = ClosedDay
    extra = 0


@admin.register(Practice)
class PracticeAdmin(PracticeScopedAdmin):
    practice_path = "pk"
    list_display = ("name", "organisation", "timezone", "region")
    fields = ("name", "timezone", "region", "phone", "owner_dentist")
    inlines = [OpeningPeriodInline, ClosedDayInline]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner_dentist":
            # Only dentists of the practices this person manages, never everyone's users.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(
                    memberships__practice__in=self._managed(request),
                    memberships__role=Membership.Role.CLINICIAN,
                )
                .distinct()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        return admin.ModelAdmin.get_queryset(self, request).filter(pk__in=self._managed(request))

    def has_add_permission(self, request):
        # New practices are set up by the organisation, not from a practice's admin.
        return False

    has_delete_permission = has_add_permission


@admin.register(StaffMember)
class StaffMemberAdmin(PracticeScopedAdmin):
    list_display = ("name", "kind", "extension", "practice", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "extension")


@admin.register(AuditEvent)
class AuditEventAdmin(PracticeScopedAdmin):
    """Read-only: audit rows are only ever added, by the services that act.

    Managers browse their practices' rows, filter them by date and sort by any column, and
    export a selection as CSV (the export is audited too).
    """

    list_display = (
        "at",
        "actor",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "patient_id",
        "ip_address",
    )
    list_filter = ("action", "object_type")
    date_hierarchy = "at"
    ordering = ("-sequence",)
    fields = (
        "sequence",
        "at",
        "actor",
        "actor_label",
        "practice",
        "action",
        "object_type",
        "object_id",
        "patient_id",
        "ip_address",
        "detail",
        "previous_hash",
        "hash",
    )
    readonly_fields = fields
    actions = ["export_csv"]

    def has_change_permission(self, request, obj=None):
        return False

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission

    @admin.action(description="Export the selected audit rows (CSV)", permissions=["view"])
    def export_csv(self, request, queryset):
        rows = queryset.order_by("sequence")
        body = csv_bytes(EXPORT_HEADER, audit_export_rows(rows))
        count = rows.count()
        for practice in Practice.objects.filter(pk__in=rows.values("practice_id")):
            audit_export_record(practice=practice, request=request, rows=count, via="admin")
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response
