from django.contrib import admin

from core.admin_scoping import PracticeScopedAdmin
from patients.models import Appointment, Household, Patient


@admin.register(Patient)
class PatientAdmin(PracticeScopedAdmin):
    audit_object_type = "patient"
    list_display = ("last_name", "first_name", "date_of_birth", "phone", "status", "practice")
    list_filter = ("status", "preferred_channel")
    search_fields = ("search_name", "phone", "external_id")
    raw_id_fields = ("household", "guardian", "referred_by")
    readonly_fields = (
        "visit_count",
        "lifetime_value",
        "last_visit_at",
        "next_visit_at",
        "referral_count",
        "referral_value",
        "figures_refreshed_at",
    )

    def _patient_id(self, obj):
        return obj.pk


@admin.register(Appointment)
class AppointmentAdmin(PracticeScopedAdmin):
    audit_object_type = "appointment"
    list_display = ("starts_at", "patient", "provider", "kind", "status", "fee")
    list_filter = ("status",)
    raw_id_fields = ("patient",)
    date_hierarchy = "starts_at"


@admin.register(Household)
class HouseholdAdmin(PracticeScopedAdmin):
    list_display = ("name", "practice")
    search_fields = ("name",)
