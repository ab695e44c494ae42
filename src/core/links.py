"""Absolute links for messages, which are read outside the browser session."""

from django.conf import settings


def absolute_url(path: str) -> str:
    return settings.RAPPORT_BASE_URL.rstrip("/") + path
