"""Text messages go out through a provider chosen by the ``RAPPORT_SMS_PROVIDER`` setting.

A provider is any class with a ``send`` method (``SmsProvider``); it returns the provider's
own message id, or raises ``SmsError`` saying whether trying again later may help.
"""

from __future__ import annotations

import functools
import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

DEFAULT_PROVIDER = "messaging.sms.LoggingSmsProvider"


class SmsError(Exception):
    """The provider did not take the message. ``permanent``: trying again will not help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class SmsProvider(Protocol):
    def send(self, *, to: str, body: str, reference: str) -> str:
        """Send ``body`` to the E.164 number ``to``; return the provider's message id.

        ``reference`` is stable for one outbox row, so a provider that supports idempotency
        keys can drop a repeated send.
        """
        ...


class LoggingSmsProvider:
    """Sends nothing: writes one log line per message, without the number or the words."""

    def send(self, *, to: str, body: str, reference: str) -> str:
        logger.info("sms %s: %d characters (not sent: logging provider)", reference, len(body))
        return f"log-{reference}"


@functools.cache
def _provider_class(path: str) -> type:
    return import_string(path)


def get_sms_provider() -> SmsProvider:
    path = getattr(settings, "RAPPORT_SMS_PROVIDER", DEFAULT_PROVIDER) or DEFAULT_PROVIDER
    return _provider_class(path)()
