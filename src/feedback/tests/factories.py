import datetime as dt

import factory
from django.utils import timezone

from feedback.models import SurveyInvitation
from feedback.services import surveys_ensure_defaults
from patients.tests.factories import PatientFactory


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyInvitation

    patient = factory.SubFactory(PatientFactory)
    practice = factory.SelfAttribute("patient.practice")
    survey = factory.LazyAttribute(
        lambda o: surveys_ensure_defaults(organisation=o.practice.organisation)["post_visit"]
    )
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=14))


def answers_for(survey, **by_kind):
    """Form data answering every question of a kind with the given value."""
    data = {}
    for question in survey.questions.all():
        if question.kind in by_kind:
            data[f"q{question.pk}"] = str(by_kind[question.kind])
    return data
