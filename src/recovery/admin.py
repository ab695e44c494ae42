from django.contrib import admin

from core.admin_scoping import OrganisationScopedAdmin
from recovery.models import DeadlineRule, GestureKind, RecoveryPolicy


class DeadlineRuleInline(admin.TabularInline):
    model = DeadlineRule
    extra = 0


@admin.register(RecoveryPolicy)
class RecoveryPolicyAdmin(OrganisationScopedAdmin):
    """The organisation's auto-open rules, deadlines, priority patients and gesture limits."""

    list_display = ("organisation", "gesture_approval_limit", "monthly_gesture_budget")
    inlines = [DeadlineRuleInline]


@admin.register(GestureKind)
class GestureKindAdmin(OrganisationScopedAdmin):
    list_display = ("name", "usual_cost", "organisation", "is_active")
