"""Limit/offset pages of at most 100 rows, each page audited as one read."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

from core.services import audit_record

MAX_LIMIT = 100


class AuditedPage(LimitOffsetPagination):
    """ninja's limit/offset pagination; the rows shown are written to the audit log once.

    ``object_type`` names the rows in the audit entry; each row needs ``pk``,
    ``patient_id`` and ``practice``.
    """

    class Input(Schema):
        limit: int = Field(50, ge=1, le=MAX_LIMIT)
        offset: int = Field(0, ge=0, le=2**31)

    def __init__(self, *, object_type: str, **kwargs: Any) -> None:
        self.object_type = object_type
        super().__init__(max_limit=MAX_LIMIT, **kwargs)

    def paginate_queryset(
        self, queryset: QuerySet, pagination: Input, request: HttpRequest, **params: Any
    ) -> Any:
        page = super().paginate_queryset(queryset, pagination, request, **params)
        items = list(page[self.items_attribute])
        page[self.items_attribute] = items
        caller = request.auth
        practices = {item.practice for item in items}
        if caller.api_key is not None:
            practice = caller.api_key.practice
        else:
            # A group admin's page may span several practices: the detail names them.
            practice = next(iter(practices)) if len(practices) == 1 else None
        with transaction.atomic():
            audit_record(
                action="list",
                object_type=self.object_type,
                practice=practice,
                user=caller.user,
                request=request,
                actor_label=caller.actor_label,
                detail={
                    "via": "api",
                    "ids": [item.pk for item in items],
                    "patient_ids": sorted({item.patient_id for item in items}),
                    "practices": sorted(p.slug for p in practices),
                    "filters": {k: str(v) for k, v in params.items() if v is not None},
                },
            )
        return page
