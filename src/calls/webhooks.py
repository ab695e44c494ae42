"""The telephone system's webhooks: ``POST /hooks/calls/<webhook_id>/`` (generic JSON signed
per Standard Webhooks) and ``POST /hooks/calls/<webhook_id>/twilio/`` (Twilio voice status
callbacks). docs/calls.md tells integrators how to send them.

The webhook id in the address picks the practice; nothing in the body can. Checks come in
this order, and each refusal changes nothing: POST only (405), a known webhook id (404), the
body size (413), the signature and its timestamp (401), a readable event (400, 422). Then
the event is stored and applied in one transaction (``calls.events``) before the answer:
200 for a new, repeated or ignored event, 409 for an event id already used by another body.
Logs name the practice and the event id, never a number or a name.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from twilio.request_validator import RequestValidator

from calls.events import (
    GENERIC,
    TWILIO,
    EventInvalid,
    Outcome,
    body_digest,
    generic_event_apply,
    generic_event_check,
    twilio_event_apply,
    twilio_event_id,
    twilio_params_digest,
    webhook_event_receive,
)
from calls.models import PhoneSystem, WebhookEvent

logger = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
MAX_EVENT_ID = WebhookEvent._meta.get_field("event_id").max_length
STATUS = {
    Outcome.APPLIED: 200,
    Outcome.IGNORED: 200,
    Outcome.DUPLICATE: 200,
    Outcome.CONFLICT: 409,
}


class Refused(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


def _answer(http_status: int, /, **body) -> JsonResponse:
    response = JsonResponse(body, status=http_status)
    if http_status == 405:
        response["Allow"] = "POST"
    return response


def _phone_system(request: HttpRequest, webhook_id: str) -> PhoneSystem:
    if request.method != "POST":
        raise Refused(405, "only POST")
    phone_system = (
        PhoneSystem.objects.select_related("practice").filter(webhook_id=webhook_id).first()
    )
    if phone_system is None:
        raise Refused(404, "no such webhook")
    return phone_system


def _body(request: HttpRequest) -> bytes:
    """The raw body, refused before it is read when it says it is too large."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused(400, "bad Content-Length") from None
    if length > MAX_BODY:
        raise Refused(413, f"the body is over {MAX_BODY // 1024} KB")
    try:
        body = request.body
    except RequestDataTooBig:
        raise Refused(413, f"the body is over {MAX_BODY // 1024} KB") from None
    if len(body) > MAX_BODY:
        raise Refused(413, f"the body is over {MAX_BODY // 1024} KB")
    return body


def _outcome_response(phone_system: PhoneSystem, provider: str, outcome: Outcome) -> JsonResponse:
    logger.info(
        "calls webhook practice=%s provider=%s outcome=%s",
        phone_system.practice_id,
        provider,
        outcome,
    )
    if outcome is Outcome.CONFLICT:
        return _answer(409, error="this event id was already used with another body")
    return _answer(STATUS[outcome], status=str(outcome))


def _refused(exc: Refused, provider: str) -> JsonResponse:
    if exc.status == 401:
        logger.warning("calls webhook refused provider=%s: %s", provider, exc.message)
    return _answer(exc.status, error=exc.message)


# --- Generic JSON, Standard Webhooks -----------------------------------------------------


def _verify_standard(phone_system: PhoneSystem, request: HttpRequest, body: bytes) -> str:
    """Check the signature with the current secret, or the previous one during a rotation.

    Returns the event id (the ``webhook-id`` header).
    """
    headers = {
        name: request.headers.get(name, "")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8 text") from None
    for secret in (phone_system.webhook_secret, phone_system.previous_webhook_secret):
        if not secret:
            continue
        try:
            Webhook(secret).verify(text, headers, json_parse=False)
        except WebhookVerificationError as exc:
            reason = str(exc)
            if "timestamp" in reason.lower() or "headers" in reason.lower():
                # Same answer whichever secret: the headers, not the secret, are wrong.
                raise Refused(401, f"signature refused: {reason}") from None
            continue
        except (ValueError, TypeError):
            # A malformed signature header ("v1" without a comma, bad base64).
            raise Refused(401, "signature refused: malformed webhook-signature") from None
        event_id = headers["webhook-id"]
        if len(event_id) > MAX_EVENT_ID:
            raise Refused(400, f"webhook-id is longer than {MAX_EVENT_ID} characters")
        return event_id
    raise Refused(401, "signature refused: no matching signature")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _parse(body: bytes):
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise Refused(400, "the body is not valid JSON") from None
    # PostgreSQL stores neither NUL nor lone surrogates in JSON; refuse them for every database.
    for text in _strings(payload):
        if "\x00" in text:
            raise Refused(422, "the event contains a NUL character")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused(
                422, "the event contains an invalid character (a lone surrogate)"
            ) from None
    return payload


def _strings(value):
    """Every key and string in a parsed JSON value (its depth is bounded by the parser)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@csrf_exempt
def generic_hook(request: HttpRequest, webhook_id: str) -> JsonResponse:
    try:
        phone_system = _phone_system(request, webhook_id)
        body = _body(request)
        event_id = _verify_standard(phone_system, request, body)
        payload = _parse(body)
        try:
            call = generic_event_check(payload, now=timezone.now())
        except EventInvalid as exc:
            return _answer(422, error="the event cannot be applied", reasons=exc.reasons)
    except Refused as exc:
        return _refused(exc, GENERIC)
    outcome = webhook_event_receive(
        phone_system=phone_system,
        provider=GENERIC,
        event_id=event_id,
        body_sha256=body_digest(body),
        payload=payload,
        apply=generic_event_apply(phone_system, call),
    )
    return _outcome_response(phone_system, GENERIC, outcome)


# --- Twilio voice status callbacks --------------------------------------------------------


def signed_url(request: HttpRequest) -> str:
    """The address Twilio signed: the public base URL, not the host this request came to
    (a proxy in front of Rapport changes scheme, host and port)."""
    return settings.RAPPORT_BASE_URL.rstrip("/") + request.get_full_path()


@csrf_exempt
def twilio_hook(request: HttpRequest, webhook_id: str) -> JsonResponse:
    try:
        phone_system = _phone_system(request, webhook_id)
        _body(request)
        token = phone_system.twilio_auth_token
        if not token:
            raise Refused(401, "Twilio is not set up for this practice")
        try:
            params = request.POST
        except (TooManyFieldsSent, RequestDataTooBig):
            raise Refused(400, "too many form fields") from None
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not RequestValidator(token).validate(
            signed_url(request), params, signature
        ):
            raise Refused(401, "signature refused")
        pairs = list(params.lists())
        fields = {key: values[-1] for key, values in pairs}
        if not fields.get("CallSid") or not fields.get("CallStatus"):
            raise Refused(400, "CallSid and CallStatus are required")
        if any(len(value) > 1000 or "\x00" in value for value in fields.values()):
            raise Refused(400, "a form field is over 1,000 characters or contains NUL")
    except Refused as exc:
        return _refused(exc, TWILIO)
    outcome = webhook_event_receive(
        phone_system=phone_system,
        provider=TWILIO,
        event_id=twilio_event_id(fields),
        body_sha256=twilio_params_digest(pairs),
        payload=fields,
        apply=twilio_event_apply(phone_system),
    )
    return _outcome_response(phone_system, TWILIO, outcome)
