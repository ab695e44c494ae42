"""Parsing of the vendor pages' forms; the services decide what is allowed."""

from __future__ import annotations

import re

from django import forms

from feedback.touchpoints import TOUCHPOINTS
from vendors.models import Involvement, Vendor


def problem(form: forms.Form) -> str:
    """The form's first problem, as one sentence a person can act on."""
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return "Please check the form."


def split_names(raw: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", raw or "") if part.strip()]


class VendorForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    kind = forms.ChoiceField(label="Kind", choices=Vendor.Kind.choices)
    aliases = forms.CharField(label="Other names", max_length=2000, required=False)
    touchpoints = forms.MultipleChoiceField(
        label="Touchpoints", choices=list(TOUCHPOINTS.items()), required=False
    )
    notes = forms.CharField(label="Notes", max_length=5000, required=False)
    is_active = forms.BooleanField(label="Active", required=False)


class ContactForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    role = forms.CharField(label="Role", max_length=80, required=False)
    email = forms.CharField(label="Email", max_length=254, required=False)
    phone = forms.CharField(label="Phone", max_length=20, required=False)


class InvolvementForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=Involvement.Kind.choices)
    appointment = forms.IntegerField(label="Appointment", required=False, min_value=1)
    description = forms.CharField(label="What for", max_length=200, required=False)
    sent_on = forms.DateField(label="Sent on", required=False)
    due_back_on = forms.DateField(label="Due back", required=False)
    returned_on = forms.DateField(label="Came back on", required=False)
    referred_on = forms.DateField(label="Referred on", required=False)
    scheduled_on = forms.DateField(label="Scheduled on", required=False)
    notes = forms.CharField(label="Notes", max_length=5000, required=False)


class RecordForm(forms.Form):
    returned_on = forms.DateField(label="Came back on", required=False)
    scheduled_on = forms.DateField(label="Scheduled on", required=False)


class DefectForm(forms.Form):
    detail = forms.CharField(label="What went wrong", max_length=300)
    involvement = forms.IntegerField(label="Which work", required=False, min_value=1)


class StandardsForm(forms.Form):
    subject = forms.CharField(label="Subject", max_length=200)
    letter = forms.CharField(label="Letter", max_length=10000)
    referral_days = forms.IntegerField(
        label="Days to schedule a referral", min_value=1, max_value=365
    )


class SendForm(forms.Form):
    contact = forms.IntegerField(label="Contact", min_value=1)


class AcknowledgeForm(forms.Form):
    on = forms.DateField(label="Acknowledged on")


class CaseVendorForm(forms.Form):
    vendor = forms.IntegerField(label="Third party", required=False, min_value=1)


class ExportForm(forms.Form):
    patients = forms.ChoiceField(
        label="Patients",
        choices=[("none", "No patient details"), ("initials", "Initials only")],
        required=False,
    )
