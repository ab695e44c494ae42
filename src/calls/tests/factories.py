"""Factories for phone systems, calls, call-backs and webhook events."""

import datetime as dt

import factory
from django.utils import timezone

from calls.models import Call, CallbackTask, PhoneSystem, WebhookEvent
from core.tests.factories import PracticeFactory


class PhoneSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhoneSystem
        django_get_or_create = ("practice",)

    practice = factory.SubFactory(PracticeFactory)


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    practice = factory.SubFactory(PracticeFactory)
    source = Call.Source.GENERIC
    external_id = factory.Sequence(lambda n: f"call-{n}")
    direction = Call.Direction.INBOUND
    caller = factory.Sequence(lambda n: f"+1202555{n % 10000:04d}")
    number = factory.SelfAttribute("caller")
    called = "+12025550100"
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    ring_seconds = 20
    disposition = Call.Disposition.MISSED


class CallbackTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallbackTask

    call = factory.SubFactory(CallFactory)
    practice = factory.SelfAttribute("call.practice")
    number = factory.SelfAttribute("call.number")
    due_at = factory.LazyAttribute(lambda task: task.call.started_at + dt.timedelta(minutes=15))


class WebhookEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEvent

    practice = factory.SubFactory(PracticeFactory)
    provider = "standard"
    event_id = factory.Sequence(lambda n: f"msg_{n}")
    body_sha256 = "0" * 64
    payload = factory.LazyFunction(lambda: {"type": "call.ended"})
