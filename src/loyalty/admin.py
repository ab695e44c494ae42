from django.contrib import admin

from core.admin_scoping import OrganisationScopedAdmin
from loyalty.models import LoyaltyPolicy


@admin.register(LoyaltyPolicy)
class LoyaltyPolicyAdmin(OrganisationScopedAdmin):
    """Points per risk rule (see docs/loyalty.md) and the risk from which patients are listed."""

    list_display = ("organisation", "list_from_risk")
