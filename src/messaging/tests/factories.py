import factory
from django.utils import timezone

from core.tests.factories import PracticeFactory
from messaging.models import Channel, OutboundMessage


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    """An outbox row written directly, for reads; sending tests go through the services."""

    class Meta:
        model = OutboundMessage

    practice = factory.SubFactory(PracticeFactory)
    channel = Channel.EMAIL
    to_address = factory.Sequence(lambda n: f"someone{n}@example.com")
    subject = "How was your visit?"
    body = "Tell us: https://rapport.test/s/abc"
    kind = "survey_invitation"
    idempotency_key = factory.Sequence(lambda n: f"test-{n}")
    next_attempt_at = factory.LazyFunction(timezone.now)
