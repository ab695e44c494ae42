"""The experience cycle: the default touchpoints whose slugs stay stable in data and the API."""

from __future__ import annotations

TOUCHPOINTS: dict[str, str] = {
    "phone_booking": "Phone & booking",
    "reminders": "Reminders & scheduling",
    "arrival_reception": "Arrival, reception, front desk",
    "waiting": "Waiting",
    "hygiene": "Hygienist care",
    "dentist_care": "Dentist care",
    "comfort_pain": "Comfort & pain",
    "treatment_cost": "Treatment explanation & cost",
    "third_party": "Lab & specialists",
    "billing_insurance": "Billing & insurance",
    "checkout": "Checkout & next visit",
    "follow_up": "Follow-up after treatment",
    "records": "Records & transfers",
    "facility": "Facility & cleanliness",
    "digital": "Website, portal & messages",
}

TOUCHPOINT_CHOICES = [("", "—"), *TOUCHPOINTS.items()]


def touchpoint_label(slug: str) -> str:
    return TOUCHPOINTS.get(slug, slug)
