"""API keys: how an integration (a practice-management system, a script) calls the API."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.models import Practice
from core.querysets import PracticeScopedQuerySet


class ApiKey(models.Model):
    """A secret one integration uses to call the API for one practice.

    The key is shown once, as ``rk_<prefix>_<secret>``; only the public prefix and a
    SHA-256 digest of the secret are stored. Revoked keys are kept for the audit trail.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80, help_text="What uses the key, e.g. the PMS sync")
    # Public: names the key in lists and audit rows, and finds it without a table scan.
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def actor_label(self) -> str:
        """How audit rows name what this key did."""
        return f"api key {self.prefix}"
