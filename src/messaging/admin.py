from django.contrib import admin

from core.admin_scoping import PracticeScopedAdmin
from messaging.models import MessageTemplate


@admin.register(MessageTemplate)
class MessageTemplateAdmin(PracticeScopedAdmin):
    """A practice's own wording of its messages, checked by the sandbox on save."""

    list_display = ("kind", "channel", "practice", "updated_at")
    fields = ("practice", "kind", "channel", "subject", "body")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        # Templates without a practice apply everywhere: not something a practice sets.
        form.base_fields["practice"].required = True
        form.base_fields["body"].help_text = (
            "Variables: {{ patient_first_name }}, {{ practice_name }}, {{ link }}, "
            "{{ unsubscribe_link }}, {{ survey_title }}. Tags like {% load %} are refused."
        )
        return form
