import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from core.tests.factories import PracticeFactory, StaffMemberFactory
from patients.models import Appointment, Household, Patient


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Faker("last_name")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    practice = factory.SubFactory(PracticeFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = dt.date(1980, 5, 17)
    email = factory.Sequence(lambda n: f"patient{n}@example.com")
    phone = factory.Sequence(lambda n: f"+1202555{n % 10000:04d}")
    first_visit_on = dt.date(2015, 3, 1)


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    practice = factory.SelfAttribute("patient.practice")
    provider = factory.SubFactory(StaffMemberFactory, practice=factory.SelfAttribute("..practice"))
    starts_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=30))
    duration_minutes = 45
    kind = "Cleaning"
    status = Appointment.Status.COMPLETED
    fee = Decimal("120.00")
