from django import forms

from patients.models import Patient
from patients.services import PROFILE_FIELDS


class ProfileForm(forms.ModelForm):
    """The relationship profile, edited in place on the patient page."""

    class Meta:
        model = Patient
        fields = PROFILE_FIELDS
        widgets = {
            name: forms.Textarea(attrs={"rows": 2})
            for name in PROFILE_FIELDS
            if name not in {"preferred_name", "preferred_channel"}
        }
