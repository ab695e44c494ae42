"""Factories for organisations, practices and people, shared by every app's tests."""

import factory
from django.contrib.auth import get_user_model

from core.models import Membership, Organisation, Practice, StaffMember
from core.services import DEFAULT_HOURS

PASSWORD = "correct horse battery staple"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Group {n}")
    slug = factory.Sequence(lambda n: f"group-{n}")


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Practice {n}")
    slug = factory.Sequence(lambda n: f"practice-{n}")
    timezone = "America/New_York"

    @factory.post_generation
    def hours(self, create, extracted, **kwargs):
        if create:
            for day, opens, closes in extracted or DEFAULT_HOURS:
                self.opening_periods.create(weekday=day, opens_at=opens, closes_at=closes)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(self, create, extracted, **kwargs):
        if create:
            self.save()


def member(practice: Practice, role: str, **user_fields):
    """A user holding one role at a practice (or across its organisation for group admins)."""
    user = UserFactory(
        is_staff=role in {Membership.Role.MANAGER, Membership.Role.GROUP_ADMIN}, **user_fields
    )
    Membership.objects.create(
        user=user,
        organisation=practice.organisation,
        practice=None if role == Membership.Role.GROUP_ADMIN else practice,
        role=role,
    )
    return user


class StaffMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMember

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Faker("name")
    kind = StaffMember.Kind.DENTIST
