from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from calls.models import Call, PhoneSystem
from calls.services import phone_system_end_rotation, phone_system_rotate_secret
from core.admin_scoping import PracticeScopedAdmin
from core.links import absolute_url


@admin.register(PhoneSystem)
class PhoneSystemAdmin(PracticeScopedAdmin):
    """Managers see their practices' webhook addresses and signing secrets (the telephone
    system needs them), set the call-back time and the Twilio auth token, and rotate the
    secret: the current one becomes the previous one, still accepted until the rotation is
    ended."""

    audit_object_type = "phone_system"
    list_display = ("practice", "callback_minutes", "is_rotating")
    fields = (
        "practice",
        "webhook_addresses",
        "webhook_secret",
        "previous_webhook_secret",
        "twilio_auth_token",
        "callback_minutes",
    )
    readonly_fields = ("webhook_addresses", "webhook_secret", "previous_webhook_secret")
    actions = ["rotate_secret", "end_rotation"]

    def get_readonly_fields(self, request, obj=None):
        # The practice is chosen once; moving a phone system would move its webhooks.
        return (*self.readonly_fields, "practice") if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        # Deleting would break the telephone system's webhooks; rotate the secret instead.
        return False

    @admin.display(boolean=True, description="Rotating")
    def is_rotating(self, obj):
        return bool(obj.previous_webhook_secret)

    @admin.display(description="Webhook addresses")
    def webhook_addresses(self, obj):
        if not obj or not obj.pk:
            return "-"
        generic = absolute_url(reverse("calls:webhook", args=[obj.webhook_id]))
        twilio = absolute_url(reverse("calls:webhook-twilio", args=[obj.webhook_id]))
        return format_html("Signed JSON: {}<br>Twilio status callback: {}", generic, twilio)

    @admin.action(description="Rotate the signing secret (the current one stays valid)")
    def rotate_secret(self, request, queryset):
        for phone_system in queryset:
            phone_system_rotate_secret(phone_system=phone_system, user=request.user)
        self.message_user(
            request,
            f"{queryset.count()} secret(s) rotated. Give the telephone system the new secret, "
            "then end the rotation.",
            messages.SUCCESS,
        )

    @admin.action(description="End the rotation (stop accepting the previous secret)")
    def end_rotation(self, request, queryset):
        for phone_system in queryset:
            phone_system_end_rotation(phone_system=phone_system, user=request.user)
        self.message_user(request, f"{queryset.count()} rotation(s) ended.", messages.SUCCESS)


@admin.register(Call)
class CallAdmin(PracticeScopedAdmin):
    """Calls as the telephone system reported them: read-only, since the next import or
    event would overwrite an edit."""

    audit_object_type = "call"
    list_display = (
        "started_at",
        "direction",
        "caller",
        "caller_name",
        "disposition",
        "talk_seconds",
        "new_caller",
    )
    list_filter = ("direction", "disposition", "source", "new_caller")
    search_fields = ("caller", "called", "caller_name", "external_id")
    date_hierarchy = "started_at"
    list_select_related = ("practice",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Call._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
