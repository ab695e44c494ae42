"""The manager's list of messages that will not arrive."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.selectors import can_manage
from core.services import audit_record
from messaging import selectors

LIST_LIMIT = 200


@login_required
def undeliverable_list(request: HttpRequest) -> HttpResponse:
    practice = request.practice
    if not practice or not can_manage(request.user, practice):
        raise PermissionDenied("Only office managers and group admins see undeliverable messages.")
    messages = list(
        selectors.undeliverable_messages(user=request.user, practice=practice)[:LIST_LIMIT]
    )
    with transaction.atomic():
        audit_record(
            action="list",
            object_type="message",
            practice=practice,
            request=request,
            detail={
                "message_ids": [message.pk for message in messages],
                "patient_ids": sorted({m.patient_id for m in messages if m.patient_id}),
            },
        )
    context = {"undeliverable": messages, "limit": LIST_LIMIT}
    return render(request, "messaging/undeliverable_list.html", context)
