from django.contrib import admin

from core.admin_scoping import PracticeScopedAdmin
from core.models import Organisation
from core.selectors import managed_practices_for_user
from feedback.models import FeedbackPolicy, Question, Survey


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    fields = ("position", "kind", "text", "touchpoint", "choices", "is_required")


def _managed_organisations(request):
    return Organisation.objects.filter(
        practices__in=managed_practices_for_user(request.user)
    ).distinct()


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    """Managers edit their organisation's surveys; nobody sees another organisation's."""

    list_display = ("title", "kind", "organisation", "is_active")
    inlines = [QuestionInline]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(organisation__in=_managed_organisations(request))
        )

    def has_module_permission(self, request):
        return request.user.is_active and managed_practices_for_user(request.user).exists()

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Organisation:
            kwargs["queryset"] = _managed_organisations(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_object(self, request, object_id, from_field=None):
        from django.http import Http404

        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such survey")
        return obj


@admin.register(FeedbackPolicy)
class FeedbackPolicyAdmin(PracticeScopedAdmin):
    list_display = ("practice", "delay_minutes", "quiet_from", "quiet_until", "throttle_days")
