"""The webhooks: Standard Webhooks signed JSON and Twilio status callbacks. Every refusal is
checked for side effects; repeated, concurrent and out-of-order deliveries converge."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from calls.models import Call, CallbackTask, WebhookEvent
from calls.services import phone_system_end_rotation, phone_system_for, phone_system_rotate_secret
from calls.webhooks import MAX_BODY

pytestmark = pytest.mark.django_db

VECTORS = (
    Path(__file__).resolve().parents[4]
    / "shared"
    / "data"
    / "twilio"
    / "request_signature_vectors.json"
)
CALLER = "+12025550143"
TOKEN = "twilio-auth-token-for-tests"


@pytest.fixture
def phone_system(practice):
    return phone_system_for(practice)


def url_of(phone_system) -> str:
    return reverse("calls:webhook", args=[phone_system.webhook_id])


def event(call_id: str = "call-1", **call) -> dict:
    return {
        "type": "call.ended",
        "call": {
            "id": call_id,
            "direction": "inbound",
            "from": CALLER,
            "to": "+12025550100",
            "caller_name": "Dana Whitfield",
            "started_at": (timezone.now() - dt.timedelta(minutes=2)).isoformat(),
            "ring_seconds": 25,
            "talk_seconds": 0,
            "disposition": "missed",
            "extension": "",
            **call,
        },
    }


def signed(
    secret: str, body: bytes, *, msg_id: str = "msg_1", at: dt.datetime | None = None
) -> dict:
    """Standard Webhooks headers for a body, signed as a sender would."""
    moment = at or timezone.now()
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=moment, data=body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }


def deliver(client, phone_system, payload, *, secret=None, body=None, **sign):
    body = body if body is not None else json.dumps(payload).encode()
    headers = signed(secret or phone_system.webhook_secret, body, **sign)
    return client.post(url_of(phone_system), body, content_type="application/json", headers=headers)


def nothing_happened():
    assert not WebhookEvent.objects.exists()
    assert not Call.objects.exists()
    assert not CallbackTask.objects.exists()


# --- Standard Webhooks: accepted ------------------------------------------------------------


def test_a_signed_event_is_stored_and_applied_before_the_answer(client, phone_system, patient):
    patient.phone = CALLER
    patient.save()
    response = deliver(client, phone_system, event())
    assert response.status_code == 200
    assert response.json() == {"status": "applied"}
    stored = WebhookEvent.objects.get()
    assert (stored.provider, stored.event_id, stored.error) == ("standard", "msg_1", "")
    assert stored.applied_at is not None and stored.payload == event() | {
        "call": stored.payload["call"]
    }
    call = Call.objects.get()
    assert (call.source, call.external_id, call.patient) == ("webhook", "call-1", patient)
    assert (call.disposition, call.caller_name) == ("missed", "Dana Whitfield")
    assert CallbackTask.objects.get().call == call


def test_the_same_event_three_times_is_stored_and_applied_once(client, phone_system):
    body = json.dumps(event()).encode()
    answers = [deliver(client, phone_system, None, body=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["status"] for a in answers] == ["applied", "duplicate", "duplicate"]
    assert WebhookEvent.objects.count() == 1
    assert Call.objects.count() == 1 and CallbackTask.objects.count() == 1


def test_the_same_id_with_another_body_is_a_conflict_and_changes_nothing(client, phone_system):
    deliver(client, phone_system, event(disposition="missed"))
    before = list(Call.objects.values())
    response = deliver(client, phone_system, event(disposition="answered", talk_seconds=60))
    assert response.status_code == 409
    assert "another body" in response.json()["error"]
    assert list(Call.objects.values()) == before
    assert WebhookEvent.objects.count() == 1
    assert CallbackTask.objects.get().done_at is None


def test_events_of_one_call_converge_in_any_order(client, phone_system):
    start = timezone.now() - dt.timedelta(minutes=3)
    records = [
        event(started_at=start.isoformat(), disposition="missed", extension="101"),
        event(
            started_at=(start + dt.timedelta(seconds=4)).isoformat(),
            disposition="answered",
            ring_seconds=16,
            talk_seconds=75,
            extension="102",
        ),
    ]
    finals = set()
    for order in itertools.permutations(range(2)):
        Call.objects.all().delete()
        WebhookEvent.objects.all().delete()
        for index in order:
            response = deliver(client, phone_system, records[index], msg_id=f"m{index}")
            assert response.status_code == 200
        call = Call.objects.get()
        finals.add(
            (
                call.disposition,
                call.talk_seconds,
                call.extension,
                call.started_at,
                call.ring_seconds,
            )
        )
    assert len(finals) == 1
    assert finals.pop()[:3] == ("answered", 75, "102")


def test_unknown_event_types_are_stored_and_ignored(client, phone_system):
    response = deliver(client, phone_system, {"type": "call.transcribed", "text": "hello"})
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    stored = WebhookEvent.objects.get()
    assert "is not used" in stored.error and stored.applied_at is not None
    assert not Call.objects.exists()


def test_the_previous_secret_works_during_a_rotation_only(client, phone_system, manager):
    old = phone_system.webhook_secret
    rotated = phone_system_rotate_secret(phone_system=phone_system, user=manager)
    assert deliver(client, rotated, event("a"), secret=old, msg_id="m1").status_code == 200
    assert deliver(client, rotated, event("b"), msg_id="m2").status_code == 200
    ended = phone_system_end_rotation(phone_system=rotated, user=manager)
    assert deliver(client, ended, event("c"), secret=old, msg_id="m3").status_code == 401
    assert sorted(Call.objects.values_list("external_id", flat=True)) == ["a", "b"]


def test_csrf_does_not_apply(phone_system):
    client = Client(enforce_csrf_checks=True)
    assert deliver(client, phone_system, event()).status_code == 200


# --- Standard Webhooks: refused, with no side effects ------------------------------------------


def test_a_bad_signature_changes_nothing(client, phone_system):
    body = json.dumps(event()).encode()
    headers = signed(phone_system.webhook_secret, body)
    headers["webhook-signature"] = "v1," + "A" * 44
    response = client.post(
        url_of(phone_system), body, content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    nothing_happened()


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda h: h.pop("webhook-signature"), id="no signature"),
        pytest.param(lambda h: h.pop("webhook-timestamp"), id="no timestamp"),
        pytest.param(lambda h: h.pop("webhook-id"), id="no id"),
        pytest.param(lambda h: h.update({"webhook-signature": "v1"}), id="no comma"),
        pytest.param(lambda h: h.update({"webhook-signature": "v1,%%%"}), id="not base64"),
        pytest.param(lambda h: h.update({"webhook-timestamp": "nan"}), id="nan timestamp"),
        pytest.param(lambda h: h.update({"webhook-timestamp": "soon"}), id="text timestamp"),
        pytest.param(lambda h: h.update({"webhook-id": "msg_2"}), id="another id"),
    ],
)
def test_missing_or_mangled_headers_change_nothing(client, phone_system, mangle):
    body = json.dumps(event()).encode()
    headers = signed(phone_system.webhook_secret, body)
    mangle(headers)
    response = client.post(
        url_of(phone_system), body, content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    nothing_happened()


@pytest.mark.parametrize("minutes", [-6, 6, -60 * 24])
def test_a_stale_or_future_timestamp_changes_nothing(client, phone_system, minutes):
    moment = timezone.now() + dt.timedelta(minutes=minutes)
    response = deliver(client, phone_system, event(), at=moment)
    assert response.status_code == 401
    assert "timestamp" in response.json()["error"]
    nothing_happened()


def test_another_practices_secret_changes_nothing(client, phone_system, other_practice):
    theirs = phone_system_for(other_practice)
    response = deliver(client, phone_system, event(), secret=theirs.webhook_secret)
    assert response.status_code == 401
    nothing_happened()
    # Their address with their secret reaches only their practice.
    assert deliver(client, theirs, event()).status_code == 200
    assert Call.objects.get().practice == other_practice


def test_a_signature_over_reserialized_json_is_refused(client, phone_system):
    payload = event()
    sent = json.dumps(payload, indent=2).encode()
    headers = signed(phone_system.webhook_secret, json.dumps(payload).encode())
    response = client.post(
        url_of(phone_system), sent, content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    nothing_happened()


def test_a_replay_of_an_old_delivery_is_refused(client, phone_system):
    # Captured ten minutes ago and sent again: the timestamp gives it away.
    old = timezone.now() - dt.timedelta(minutes=10)
    assert deliver(client, phone_system, event(), at=old).status_code == 401
    nothing_happened()


def test_a_body_over_256_kb_is_refused_unread(client, phone_system):
    payload = event() | {"padding": "x" * MAX_BODY}
    response = deliver(client, phone_system, payload)
    assert response.status_code == 413
    nothing_happened()


def test_unknown_webhook_ids_and_other_methods(client, phone_system):
    body = json.dumps(event()).encode()
    headers = signed(phone_system.webhook_secret, body)
    unknown = reverse("calls:webhook", args=["not-a-webhook"])
    response = client.post(unknown, body, content_type="application/json", headers=headers)
    assert response.status_code == 404 and response.json() == {"error": "no such webhook"}
    for method in (client.get, client.put, client.delete):
        response = method(url_of(phone_system))
        assert response.status_code == 405
        assert response["Allow"] == "POST"
    nothing_happened()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b'{"type": "call.ended", "call": {"ring_seconds": NaN}}', 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b"\xff\xfe{}", 400),
        (b"[]", 422),
        (b'{"type": "call.ended"}', 422),
        (b'{"type": "call.ended", "call": {"id": "x\\u0000y"}}', 422),
        (b'{"type": "other", "note": "\\ud800"}', 422),
        (b'{"type": "x", "k\\u0000": 1}', 422),
    ],
)
def test_unreadable_events_are_refused_and_not_stored(client, phone_system, body, status):
    if body.startswith(b"\xff"):
        headers = signed(phone_system.webhook_secret, b"{}")  # cannot even be checked
    else:
        headers = signed(phone_system.webhook_secret, body)
    response = client.post(
        url_of(phone_system), body, content_type="application/json", headers=headers
    )
    assert response.status_code == status
    assert "error" in response.json()
    nothing_happened()


def test_text_that_only_spells_a_nul_escape_is_accepted(client, phone_system):
    # The six characters backslash-u-0-0-0-0 are ordinary text, not a NUL.
    body = b'{"type": "note", "text": "see \\\\u0000 in the manual"}'
    headers = signed(phone_system.webhook_secret, body)
    response = client.post(
        url_of(phone_system), body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200


def test_an_invalid_call_gets_its_reasons_back(client, phone_system):
    response = deliver(
        client,
        phone_system,
        event(direction="sideways", started_at="yesterday", ring_seconds=-1),
    )
    assert response.status_code == 422
    assert response.json()["reasons"] == [
        "direction 'sideways' is not one of inbound, outbound, internal",
        "started_at 'yesterday' is not a date and time written YYYY-MM-DDTHH:MM:SS±HH:MM "
        "(ISO 8601)",
        "ring_seconds '-1' is not a whole number of seconds",
    ]
    nothing_happened()


def test_hostile_caller_ids_and_names_over_the_webhook(client, phone_system):
    cases = {
        "a": {"from": "anonymous"},
        "b": {"from": "Restricted"},
        "c": {"from": "sip:alice@example.org"},
        "d": {"from": "+0"},
        "e": {"from": ""},
        "f": {"from": "+1202555014312345678"},
        "g": {"caller_name": "<img src=x onerror=alert(1)>\u202e" + "🦷" * 10_000},
    }
    for index, (call_id, values) in enumerate(cases.items()):
        response = deliver(client, phone_system, event(call_id, **values), msg_id=f"m{index}")
        assert response.status_code == 200, call_id
    calls = {c.external_id: c for c in Call.objects.all()}
    assert {k for k, c in calls.items() if c.number} == {"g"}
    assert CallbackTask.objects.get().call == calls["g"]
    assert calls["g"].caller_name == "<img src=x onerror=alert(1)>" + "🦷" * 52


def test_logs_carry_no_patient_data(client, phone_system, caplog):
    caplog.set_level(logging.DEBUG)
    deliver(client, phone_system, event())
    deliver(client, phone_system, event(), secret="whsec_" + "A" * 44, msg_id="m2")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "calls webhook" in text
    assert CALLER not in text and "5550143" not in text and "Dana" not in text


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_deliveries_apply_once(practice):
    if connection.vendor == "sqlite":
        # The test database is SQLite's shared-cache memory database, where a second
        # writer fails at once ("table is locked") instead of waiting.
        pytest.skip("needs a database file or PostgreSQL")
    phone_system = phone_system_for(practice)
    body = json.dumps(event()).encode()
    headers = signed(phone_system.webhook_secret, body)
    barrier = threading.Barrier(50)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            barrier.wait()
            response = Client().post(
                url_of(phone_system), body, content_type="application/json", headers=headers
            )
            statuses.append(response.status_code)
        except BaseException as problem:  # reported below: a thread cannot fail the test
            errors.append(problem)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert statuses == [200] * 50
    assert WebhookEvent.objects.count() == 1
    assert Call.objects.count() == 1 and CallbackTask.objects.count() == 1


# --- Twilio ------------------------------------------------------------------------------------


def _vectors() -> list[dict]:
    if not VECTORS.exists():
        return []
    return json.loads(VECTORS.read_text())["vectors"]


needs_vectors = pytest.mark.skipif(not VECTORS.exists(), reason=f"no vectors at {VECTORS}")


@needs_vectors
@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: v["name"])
def test_twilio_signature_vectors(vector, rf):
    token = json.loads(VECTORS.read_text())["auth_token"]
    validator = RequestValidator(token)
    url = vector.get("received_url") or vector["url"]
    if "params_multi" in vector:
        # As Django parses a form with a repeated key.
        request = rf.post(
            "/",
            urlencode([tuple(pair) for pair in vector["params_multi"]]),
            content_type="application/x-www-form-urlencoded",
        )
        params = request.POST
    elif "body" in vector:
        params = vector["body"]
    else:
        params = vector["params"]
    assert validator.validate(url, params, vector["expected_signature"])
    assert not validator.validate(url, params, "x" + vector["expected_signature"][1:])


@pytest.fixture
def twilio(phone_system, settings):
    settings.RAPPORT_BASE_URL = "https://rapport.example.org"
    phone_system.twilio_auth_token = TOKEN
    phone_system.save()
    return phone_system


def twilio_url(phone_system, query: str = "") -> str:
    path = reverse("calls:webhook-twilio", args=[phone_system.webhook_id])
    return path + (f"?{query}" if query else "")


def status(
    sid: str, call_status: str, sequence: int, *, seconds: int | None = None, **extra
) -> dict[str, str]:
    """A status callback ``seconds`` after 15:00 UTC (by default ten per sequence number)."""
    seconds = sequence * 10 if seconds is None else seconds
    moment = dt.datetime(2026, 3, 4, 15, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    params = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": sid,
        "From": CALLER,
        "To": "+12025550100",
        "Direction": "inbound",
        "CallStatus": call_status,
        "SequenceNumber": str(sequence),
        "Timestamp": moment.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        "CallbackSource": "call-progress-events",
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params


def post_twilio(client, phone_system, params, *, query="", token=TOKEN, signature=None):
    path = twilio_url(phone_system, query)
    signature = signature or RequestValidator(token).compute_signature(
        "https://rapport.example.org" + path, params
    )
    return client.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


SID = "CA" + "1" * 32


def test_a_twilio_status_callback_is_verified_and_applied(client, twilio):
    answers = [
        post_twilio(client, twilio, status(SID, "ringing", 0)),
        post_twilio(client, twilio, status(SID, "in-progress", 1)),
        post_twilio(client, twilio, status(SID, "completed", 2, seconds=105, CallDuration="95")),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert WebhookEvent.objects.filter(provider="twilio").count() == 3
    call = Call.objects.get()
    assert (call.source, call.external_id, call.direction) == ("twilio", SID, "inbound")
    assert (call.disposition, call.talk_seconds, call.caller) == ("answered", 95, CALLER)
    assert call.started_at == dt.datetime(2026, 3, 4, 15, 0, tzinfo=dt.UTC)
    assert call.ring_seconds == 10
    assert not CallbackTask.objects.exists()


def test_a_twilio_call_still_ringing_records_no_call(client, twilio):
    assert post_twilio(client, twilio, status(SID, "ringing", 0)).status_code == 200
    assert WebhookEvent.objects.count() == 1 and not Call.objects.exists()


def _final_state():
    call = Call.objects.get()
    tasks = list(CallbackTask.objects.values_list("number", "done_at"))
    return (
        call.disposition,
        call.started_at,
        call.ring_seconds,
        call.talk_seconds,
        call.caller,
        tuple(tasks),
    )


@pytest.mark.parametrize(
    "story",
    [
        pytest.param(
            [
                status(SID, "ringing", 0),
                status(SID, "in-progress", 1),
                status(SID, "completed", 2, CallDuration="95"),
            ],
            id="answered",
        ),
        pytest.param(
            [status(SID, "ringing", 0), status(SID, "no-answer", 1, CallDuration="0")],
            id="no answer",
        ),
        pytest.param(
            [
                status(SID, "ringing", 0),
                status(SID, "completed", 4, CallDuration="40"),
                status("CA" + "2" * 32, "ringing", 1, ParentCallSid=SID, Direction="outbound-dial"),
                status(
                    "CA" + "2" * 32,
                    "no-answer",
                    3,
                    ParentCallSid=SID,
                    Direction="outbound-dial",
                    CallDuration="0",
                ),
            ],
            id="dialled staff, nobody answered",
        ),
    ],
)
def test_twilio_events_converge_in_any_order(client, twilio, story):
    finals = set()
    for order in itertools.permutations(story):
        Call.objects.all().delete()
        WebhookEvent.objects.all().delete()
        for params in order:
            assert post_twilio(client, twilio, params).status_code == 200
        finals.add(_final_state())
    assert len(finals) == 1
    final = finals.pop()
    if "no-answer" in {p["CallStatus"] for p in story}:
        assert final[0] == "missed" and len(final[5]) == 1 and final[5][0][1] is None
    else:
        assert final[0] == "answered" and final[5] == ()


def test_twilio_repeats_duplicates_and_conflicts(client, twilio):
    params = status(SID, "completed", 2, CallDuration="95")
    assert post_twilio(client, twilio, params).json() == {"status": "applied"}
    reordered = dict(reversed(list(params.items())))
    assert post_twilio(client, twilio, reordered).json() == {"status": "duplicate"}
    changed = params | {"CallDuration": "5"}
    response = post_twilio(client, twilio, changed)
    assert response.status_code == 409
    assert WebhookEvent.objects.count() == 1
    assert Call.objects.get().talk_seconds == 95


def test_twilio_signature_covers_the_query_string(client, twilio):
    params = status(SID, "completed", 2, CallDuration="95")
    assert post_twilio(client, twilio, params, query="practice=maple").status_code == 200
    # Signed for one query, sent with another.
    path = twilio_url(twilio, "a=1")
    signature = RequestValidator(TOKEN).compute_signature(
        "https://rapport.example.org" + path, params
    )
    params = status(SID, "completed", 3, CallDuration="95")
    response = post_twilio(client, twilio, params, query="a=2", signature=signature)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "case",
    ["bad signature", "no signature", "wrong token", "no token set", "signed for another host"],
)
def test_twilio_refusals_change_nothing(client, twilio, case, settings):
    params = status(SID, "no-answer", 1, CallDuration="0")
    kwargs = {}
    if case == "bad signature":
        kwargs["signature"] = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    elif case == "wrong token":
        kwargs["token"] = "another-token"
    elif case == "no token set":
        twilio.twilio_auth_token = ""
        twilio.save()
    elif case == "signed for another host":
        settings.RAPPORT_BASE_URL = "https://evil.example.org"
    if case == "no signature":
        response = client.post(
            twilio_url(twilio), urlencode(params), content_type="application/x-www-form-urlencoded"
        )
    else:
        response = post_twilio(client, twilio, params, **kwargs)
    assert response.status_code == 401
    nothing_happened()


def test_twilio_bad_requests(client, twilio):
    params = status(SID, "ringing", 0)
    del params["CallStatus"]
    assert post_twilio(client, twilio, params).status_code == 400
    assert post_twilio(client, twilio, status(SID, "ringing", 0, From="x\x00")).status_code == 400
    big = status(SID, "ringing", 0, Padding="x" * MAX_BODY)
    assert post_twilio(client, twilio, big).status_code == 413
    unknown = reverse("calls:webhook-twilio", args=["nope"])
    assert client.post(unknown, {}).status_code == 404
    assert client.get(twilio_url(twilio)).status_code == 405
    nothing_happened()


def test_unknown_twilio_statuses_are_stored_and_ignored(client, twilio):
    response = post_twilio(client, twilio, status(SID, "transcribing", 0))
    assert response.json() == {"status": "ignored"}
    assert WebhookEvent.objects.count() == 1 and not Call.objects.exists()
