from django.contrib import admin, messages

from api.models import ApiKey
from api.services import ApiKeyError, api_key_revoke
from core.admin_scoping import PracticeScopedAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(PracticeScopedAdmin):
    """Managers see their practices' keys and revoke them. Keys are created with
    ``rapport apikey create`` (the only place the key is ever shown); the secret's digest
    is neither shown nor editable here."""

    list_display = ("name", "prefix", "practice", "created_at", "last_used_at", "revoked_at")
    search_fields = ("name", "prefix")
    fields = (
        "practice",
        "name",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # A deleted key would leave audit rows naming a key nobody can look up: revoke it.
        return False

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            try:
                api_key_revoke(api_key=api_key, user=request.user)
            except ApiKeyError:
                continue  # revoked meanwhile by someone else
            revoked += 1
        self.message_user(request, f"{revoked} API key(s) revoked.", messages.SUCCESS)
