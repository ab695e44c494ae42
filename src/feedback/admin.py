from django.contrib import admin

from core.admin_scoping import OrganisationScopedAdmin, PracticeScopedAdmin
from feedback.models import FeedbackPolicy, Question, Survey


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    fields = ("position", "kind", "text", "touchpoint", "choices", "is_required")


@admin.register(Survey)
class SurveyAdmin(OrganisationScopedAdmin):
    """Managers edit their organisation's surveys; nobody sees another organisation's."""

    list_display = ("title", "kind", "organisation", "is_active")
    inlines = [QuestionInline]


@admin.register(FeedbackPolicy)
class FeedbackPolicyAdmin(PracticeScopedAdmin):
    list_display = ("practice", "delay_minutes", "quiet_from", "quiet_until", "throttle_days")
