"""The one helper every patient-data queryset uses to stay inside the person's practices."""

from __future__ import annotations

from django.db import models


class PracticeScopedQuerySet(models.QuerySet):
    """Rows that belong to a practice through a ``practice`` foreign key."""

    def for_user(self, user):
        from core.selectors import practices_for_user

        return self.filter(practice__in=practices_for_user(user))
