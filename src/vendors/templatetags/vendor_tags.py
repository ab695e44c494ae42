"""The third-party form on the recovery case page, without touching the case's view."""

from __future__ import annotations

from django import template
from django.db.models import Q

from vendors.models import Vendor

register = template.Library()


@register.inclusion_tag("vendors/case_vendor_form.html")
def case_vendor_form(case) -> dict:
    """Name the lab or specialist a case is about: the practice's active vendors (and the
    case's own, even if no longer active)."""
    vendors = Vendor.objects.filter(practice_id=case.practice_id).filter(
        Q(is_active=True) | Q(pk=case.vendor_id)
    )
    chosen = next((v for v in vendors if v.pk == case.vendor_id), None)
    return {"case": case, "vendors": list(vendors), "chosen": chosen}
