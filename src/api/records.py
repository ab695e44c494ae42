"""Records requests over the API: log one, list them, read one; always inside the caller's
practices, every read audited.

No ``from __future__ import annotations`` here: ninja reads the operations' annotations at
run time, and through ``@paginate``'s wrapper it would look names up in the wrong module.
"""

import datetime as dt
from typing import Literal

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from ninja import Field, Path, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import AwareDatetime, ConfigDict, field_validator

from api.auth import Caller
from api.pagination import AuditedPage
from api.schemas import ERRORS, WRITE_ERRORS, Text
from core.services import audit_record
from patients.models import Patient
from records.models import RecordsRequest
from records.services import RecordsError, records_request_log

router = Router(tags=["records requests"])

MAX_ID = 2**63 - 1  # a bigint: larger ids would overflow the database driver, not just miss
ChannelName = Literal[tuple(RecordsRequest.Channel.values)]
StatusName = Literal[tuple(RecordsRequest.Status.values)]


class RecordsRequestIn(Schema):
    """A request for a patient's records, as it arrived."""

    model_config = ConfigDict(extra="forbid")

    patient_id: int = Field(ge=1, le=MAX_ID)
    channel: ChannelName
    send_to_email: Text(254) | None = Field(
        None, description="Where the download link goes; default: the patient's email"
    )
    send_copy_to: Text(254) | None = Field(None, description="e.g. the new practice")
    representative_name: Text(120) | None = Field(
        None, description="A parent, guardian or other representative asking for the patient"
    )
    representative_relation: Text(60) | None = None
    received_at: AwareDatetime | None = Field(
        None, description="When it arrived, with a UTC offset; default: now"
    )

    @field_validator("received_at")
    @classmethod
    def _plausible_moment(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        try:
            value = value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("not a date this system can store") from None
        if value.year < 2000:
            raise ValueError("must be after the year 2000")
        return value


class RecordsRequestOut(Schema):
    """A records request and where it stands; patients appear by id only."""

    id: int
    patient_id: int
    practice: str = Field(description="the practice's slug")
    channel: str
    status: str
    received_at: dt.datetime
    due_on: dt.date
    extended_to: dt.date | None
    deadline: dt.date = Field(description="the date that counts: extended_to, else due_on")
    rule_region: str
    fee: str = Field(description="a decimal amount, e.g. '0.00'")
    acknowledged_at: dt.datetime | None
    fulfilled_at: dt.datetime | None
    downloads: int

    @staticmethod
    def resolve_practice(obj: RecordsRequest) -> str:
        return obj.practice.slug

    @staticmethod
    def resolve_fee(obj: RecordsRequest) -> str:
        return f"{obj.fee:.2f}"


def _requests_for(caller: Caller) -> QuerySet[RecordsRequest]:
    return RecordsRequest.objects.filter(practice__in=caller.practices()).select_related("practice")


def _audit_read(request: HttpRequest, records_request: RecordsRequest) -> None:
    caller: Caller = request.auth
    with transaction.atomic():
        audit_record(
            action="view",
            object_type="records_request",
            object_id=records_request.pk,
            patient_id=records_request.patient_id,
            practice=records_request.practice,
            user=caller.user,
            request=request,
            actor_label=caller.actor_label,
            detail={"via": "api"},
        )


@router.post(
    "",
    response={201: RecordsRequestOut, **WRITE_ERRORS},
    url_name="records-request-create",
    summary="Log a records request",
)
def records_request_create(request: HttpRequest, payload: RecordsRequestIn):
    """Log a request the moment it arrives: the legal deadline is set and the patient is
    acknowledged (queued in the outbox) at once."""
    caller: Caller = request.auth
    patient = (
        Patient.objects.filter(practice__in=caller.practices(), pk=payload.patient_id)
        .select_related("practice", "guardian")
        .first()
    )
    if patient is None:
        # Missing and another practice's patient read the same.
        raise Http404("No such patient")
    try:
        logged = records_request_log(
            patient=patient,
            channel=payload.channel,
            user=caller.user,
            actor_label=caller.actor_label,
            received_at=payload.received_at,
            send_to_email=payload.send_to_email or "",
            send_copy_to=payload.send_copy_to or "",
            representative_name=payload.representative_name or "",
            representative_relation=payload.representative_relation or "",
        )
    except RecordsError as problem:
        raise HttpError(400, str(problem)) from None
    return Status(201, logged)


@router.get(
    "",
    response={200: list[RecordsRequestOut], **ERRORS},
    url_name="records-request-list",
    summary="List records requests",
)
@paginate(AuditedPage, object_type="records_request")
def records_request_list(request: HttpRequest, status: StatusName | None = None):
    """Newest first. The rows returned are written to the audit log as one read."""
    requests = _requests_for(request.auth)
    if status is not None:
        requests = requests.filter(status=status)
    return requests.order_by("-received_at", "-id")


@router.get(
    "/{id}",
    response={200: RecordsRequestOut, **ERRORS},
    url_name="records-request-detail",
    summary="Read one records request",
)
def records_request_detail(request: HttpRequest, id: int = Path(..., ge=1, le=MAX_ID)):
    """One request of the caller's practices; another practice's answers 404 like a missing one."""
    records_request = _requests_for(request.auth).filter(pk=id).first()
    if records_request is None:
        raise Http404("No such records request")
    _audit_read(request, records_request)
    return records_request
