"""Every route × every role × another practice's objects: 404, and no canary in the body.

ROUTES declares how to reach each named URL. A new URL that is not declared here fails
``test_every_route_is_declared``, so nothing escapes the matrix.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from conftest import OTHER_CANARY
from core.admin_scoping import PracticeScopedAdmin
from core.models import AuditEvent
from core.tests.factories import member
from patients.tests.factories import AppointmentFactory

PUBLIC = {
    "login",
    "logout",
    "healthz",
    "feedback:survey-answer",
    "feedback:survey-thanks",
    "feedback:talk-to-us",
    "feedback:unsubscribe",
    "records:download",
    # The patient's own records-request pages: no login, identity checked by a code.
    "records:public-request",
    "records:public-verify",
    "records:public-details",
    "records:public-done",
    # The API's OpenAPI description and ninja's root (always 404): no data.
    "api:openapi-json",
    "api:api-root",
    # The telephone system's webhooks: no login, every request signed per practice.
    "calls:webhook",
    "calls:webhook-twilio",
}
# No object, but only managers and group admins may open them.
MANAGER_ONLY = {
    "messaging:undeliverable",
    "vendors:vendor-new",
    "vendors:standards-edit",
    "analytics:group",
    "analytics:group-export",
}
# Named URLs that take no object; every signed-in role may open them.
NO_OBJECT = {
    "home",
    "records:departures",
    "patients:patient-list",
    "patients:day-sheet",
    "feedback:inbox",
    "feedback:dashboard",
    "feedback:staff-note",
    "feedback:reply-check",
    "feedback:talk-poster",
    "records:request-list",
    "vendors:vendor-list",
    "calls:callback-list",
    "calls:dashboard",
}
FEEDBACK_ITEM_ROUTES = {"feedback:item-status"}
# Named URLs that act on one object: the fixture that owns the object.
PATIENT_ROUTES = {
    "patients:patient-detail",
    "patients:patient-profile-edit",
    "records:request-new",
    "records:patient-depart",
}
POST_ONLY = {"core:practice-switch"}
# No object; dentists, hygienists, managers and group admins work recovery cases.
CASE_WORKER_ONLY = {
    "recovery:case-inbox",
    "recovery:case-new",
    "loyalty:at-risk",
    "analytics:practice",
    "analytics:practice-export",
}
# Named URLs that act on one recovery case, with any extra arguments after its id.
CASE_ROUTES = {
    "recovery:case-detail": [],
    "recovery:step-complete": ["acknowledge"],
    "recovery:case-pause": [],
    "recovery:case-resume": [],
    "recovery:case-owner": [],
    "recovery:case-severity": [],
    "recovery:case-close": [],
    "recovery:gesture-propose": [],
    "recovery:alert-leave": [],
    "recovery:follow-up-survey": [],
    "recovery:message-compose": ["case_acknowledgement"],
    "vendors:case-vendor": [],
}
GESTURE_ROUTES = {"recovery:gesture-decide"}
# POST-only routes on one patient, and on one loyalty check-in.
PATIENT_POST_ROUTES = {"loyalty:checkin-plan", "records:patient-return"}
CHECK_IN_ROUTES = {"loyalty:checkin-complete"}
# Named URLs that act on one records request.
RECORDS_REQUEST_ROUTES = {
    "records:request-detail",
    "records:request-fulfil",
    "records:request-extend",
    "records:request-fee",
}
ALERT_ROUTES = {"recovery:alert-done"}
# Named URLs that act on one vendor, and on one piece of a vendor's work.
VENDOR_ROUTES = {
    "vendors:vendor-detail",
    "vendors:vendor-edit",
    "vendors:vendor-scorecard",
    "vendors:scorecard-csv",
    "vendors:scorecard-pdf",
    "vendors:contact-add",
    "vendors:involvement-new",
    "vendors:defect-report",
    "vendors:standards-send",
    "vendors:standards-acknowledge",
}
INVOLVEMENT_ROUTES = {"vendors:involvement-record"}
# POST-only routes on one call-back (a missed call to return).
CALLBACK_TASK_ROUTES = {"calls:callback-assign", "calls:callback-complete"}
# API operations (401 when anonymous, JSON 404 for another practice's objects): the
# caller × tenant matrix for them is src/api/tests/test_api_tenancy.py.
API_ROUTES = {
    "api:records-request-create",
    "api:records-request-list",
    "api:records-request-detail",
}
ROLES = ["front_desk", "clinician", "manager", "director"]


def _names(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from _names(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + pattern.name


def _scoped_admin_models():
    return [m for m, a in admin.site._registry.items() if isinstance(a, PracticeScopedAdmin)]


def _admin_object_routes():
    for model in _scoped_admin_models():
        meta = model._meta
        for suffix in ("change", "delete", "history"):
            yield f"admin:{meta.app_label}_{meta.model_name}_{suffix}", model


def test_every_route_is_declared():
    declared = (
        PUBLIC
        | NO_OBJECT
        | PATIENT_ROUTES
        | POST_ONLY
        | FEEDBACK_ITEM_ROUTES
        | MANAGER_ONLY
        | CASE_WORKER_ONLY
        | set(CASE_ROUTES)
        | GESTURE_ROUTES
        | ALERT_ROUTES
        | PATIENT_POST_ROUTES
        | CHECK_IN_ROUTES
        | RECORDS_REQUEST_ROUTES
        | API_ROUTES
        | VENDOR_ROUTES
        | INVOLVEMENT_ROUTES
        | CALLBACK_TASK_ROUTES
    )
    admin_names = {name for name, _ in _admin_object_routes()}
    undeclared = {
        name
        for name in _names(get_resolver().url_patterns)
        if name not in declared and name not in admin_names and not name.startswith("admin:")
    }
    assert undeclared == set(), f"declare these routes in the tenancy matrix: {sorted(undeclared)}"


def _objects_of(practice_fixture, request):
    """One object of every admin-registered model belonging to the given practice."""
    from core.models import AuditEvent, Practice, StaffMember
    from patients.models import Appointment, Household, Patient

    practice = request.getfixturevalue(practice_fixture)
    appointment = AppointmentFactory(
        practice=practice,
        patient__practice=practice,
        patient__first_name=f"{OTHER_CANARY}Appt",
        provider__practice=practice,
        provider__name=f"{OTHER_CANARY} Provider",
        kind=f"{OTHER_CANARY} kind",
    )
    household = Household.objects.create(practice=practice, name=f"{OTHER_CANARY} household")
    audit = AuditEvent.objects.create(
        practice=practice, action="view", object_type="patient", actor_label=OTHER_CANARY
    )
    from django.utils import timezone

    from feedback.models import FeedbackItem, FeedbackPolicy
    from messaging.models import MessageTemplate

    item = FeedbackItem.objects.create(
        practice=practice,
        patient=appointment.patient,
        source="web",
        text=f"{OTHER_CANARY} feedback",
        received_at=timezone.now(),
    )
    from recovery.actions import alert_leave, gesture_propose
    from recovery.models import Gesture, GestureKind, NextVisitAlert, RecoveryCase
    from recovery.services import case_open

    case = case_open(
        practice=practice,
        patient=appointment.patient,
        summary=f"{OTHER_CANARY} complaint",
        touchpoints=["waiting"],
        feedback_items=[item],
    )
    staff = member(practice, "manager")
    expensive = GestureKind.objects.filter(organisation=practice.organisation).last()
    gesture = gesture_propose(case=case, kind=expensive, user=staff, cost="9000")
    Gesture.objects.filter(pk=gesture.pk).update(status="pending")
    alert = alert_leave(case=case, text=f"{OTHER_CANARY} alert", user=staff)
    from loyalty.models import CheckIn
    from loyalty.services import checkin_plan

    check_in = checkin_plan(
        patient=appointment.patient,
        kind="call",
        owner=staff,
        due_on=timezone.now().astimezone(practice.zone).date(),
        user=staff,
    )
    from records.models import RecordsRequest
    from records.services import records_request_log

    records_request = records_request_log(
        patient=appointment.patient, channel="phone", user=staff, send_to_email="a@example.com"
    )
    from api.models import ApiKey
    from api.services import api_key_create

    api_key, _ = api_key_create(practice=practice, name=f"{OTHER_CANARY} sync")
    from calls.models import Call, CallbackTask, PhoneSystem, WebhookEvent
    from calls.tests.factories import CallbackTaskFactory, PhoneSystemFactory, WebhookEventFactory

    callback = CallbackTaskFactory(
        call__practice=practice,
        call__patient=appointment.patient,
        call__caller_name=f"{OTHER_CANARY} caller",
        patient=appointment.patient,
    )
    calls_objects = {
        PhoneSystem: PhoneSystemFactory(practice=practice),
        Call: callback.call,
        CallbackTask: callback,
        WebhookEvent: WebhookEventFactory(practice=practice, event_id=f"{OTHER_CANARY}-1"),
    }
    from vendors.models import Involvement, Vendor
    from vendors.services import contact_add, involvement_create, vendor_create

    vendor = vendor_create(practice=practice, name=f"{OTHER_CANARY} Lab", kind="lab")
    contact_add(vendor=vendor, name=f"{OTHER_CANARY} Contact", email="lab@example.com")
    involvement = involvement_create(
        vendor=vendor,
        patient=appointment.patient,
        kind="referral",
        description=f"{OTHER_CANARY} referral",
        referred_on=timezone.now().date(),
    )
    return {
        **calls_objects,
        Vendor: vendor,
        Involvement: involvement,
        ApiKey: api_key,
        RecordsRequest: records_request,
        CheckIn: check_in,
        RecoveryCase: case,
        Gesture: gesture,
        NextVisitAlert: alert,
        FeedbackItem: item,
        FeedbackPolicy: FeedbackPolicy.objects.create(practice=practice),
        MessageTemplate: MessageTemplate.objects.create(
            practice=practice, kind="survey_invitation", channel="sms", body=f"{OTHER_CANARY} hi"
        ),
        Patient: appointment.patient,
        Appointment: appointment,
        StaffMember: appointment.provider,
        Household: household,
        Practice: practice,
        AuditEvent: audit,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("foreign", ["other_practice", "sister_practice"])
def test_no_role_reaches_another_practices_objects(client, request, role, foreign, practice):
    user = request.getfixturevalue(role)
    if role == "director" and foreign == "sister_practice":
        pytest.skip("a group admin may see every practice of the organisation")
    objects = _objects_of(foreign, request)
    client.force_login(user)
    # The newest id, not the count: on PostgreSQL ids keep rising across rolled-back tests.
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    patient = objects[next(m for m in objects if m.__name__ == "Patient")]
    for name in PATIENT_ROUTES:
        for method in (client.get, client.post):
            response = method(reverse(name, args=[patient.pk]))
            assert response.status_code == 404, (name, method)
            assert OTHER_CANARY not in response.content.decode()
    item = next(obj for model, obj in objects.items() if model.__name__ == "FeedbackItem")
    for name in FEEDBACK_ITEM_ROUTES:
        response = client.post(reverse(name, args=[item.pk]), {"status": "handled"})
        assert response.status_code == 404, name
        assert OTHER_CANARY not in response.content.decode()
    item.refresh_from_db()
    assert item.status == "new"
    _assert_recovery_routes_refuse(client, objects)
    _assert_loyalty_routes_refuse(client, objects, patient)
    _assert_records_routes_refuse(client, objects)
    _assert_vendor_routes_refuse(client, objects)
    _assert_callback_routes_refuse(client, objects)
    for name, model in _admin_object_routes():
        response = client.get(reverse(name, args=[objects[model].pk]))
        assert response.status_code in (302, 403, 404), name
        assert OTHER_CANARY not in response.content.decode(), name
        if role in ("manager", "director"):
            assert response.status_code == 404, name
    # Nothing was viewed, so nothing about the other practice's patients was audited.
    assert not AuditEvent.objects.filter(pk__gt=before, patient_id=patient.pk).exists()


def _assert_recovery_routes_refuse(client, objects):
    """Every case, gesture and alert route answers 404 and changes nothing."""
    by_name = {model.__name__: obj for model, obj in objects.items()}
    case, gesture, alert = by_name["RecoveryCase"], by_name["Gesture"], by_name["NextVisitAlert"]
    hostile = {
        "method": "call",
        "notes": "x",
        "waiting_on": "patient",
        "severity": "urgent",
        "outcome": "unreachable",
        "text": "x",
        "decision": "approve",
        "kind": "1",
        "subject": "x",
        "body": "x",
    }
    routes = [(name, [case.pk, *extra]) for name, extra in CASE_ROUTES.items()]
    routes += [(name, [gesture.pk]) for name in GESTURE_ROUTES]
    routes += [(name, [alert.pk]) for name in ALERT_ROUTES]
    for name, args in routes:
        for method in (client.get, client.post):
            response = method(reverse(name, args=args), hostile)
            assert response.status_code in (404, 405), (name, method)
            assert OTHER_CANARY not in response.content.decode(), name
    case.refresh_from_db()
    gesture.refresh_from_db()
    alert.refresh_from_db()
    assert (case.status, case.severity, case.steps.filter(completed_at__isnull=False).count()) == (
        "open",
        "normal",
        0,
    )
    assert gesture.status == "pending" and alert.done_at is None


def _assert_records_routes_refuse(client, objects):
    """Another practice's records request: 404 on every route, nothing sent or changed."""
    records_request = next(o for m, o in objects.items() if m.__name__ == "RecordsRequest")
    for name in RECORDS_REQUEST_ROUTES:
        for method in (client.get, client.post):
            response = method(reverse(name, args=[records_request.pk]), {"notice": "x", "fee": "0"})
            assert response.status_code in (404, 405), (name, method)
            assert OTHER_CANARY not in response.content.decode(), name
    records_request.refresh_from_db()
    assert (records_request.status, records_request.extended_to) == ("received", None)


def _assert_vendor_routes_refuse(client, objects):
    """Another practice's vendor and its work: 404 on every route, nothing changed or sent."""
    from messaging.models import OutboundMessage
    from vendors.models import Involvement, VendorContact, VendorDefect

    by_name = {model.__name__: obj for model, obj in objects.items()}
    vendor, involvement = by_name["Vendor"], by_name["Involvement"]
    counts = [m.objects.count() for m in (Involvement, VendorDefect, VendorContact)]
    sent = OutboundMessage.objects.count()
    hostile = {
        "name": "x",
        "kind": "lab",
        "detail": "x",
        "contact": "1",
        "on": "2020-01-01",
        "scheduled_on": "2020-01-01",
        "patient": "1",
        "patients": "initials",
    }
    routes = [(name, vendor.pk) for name in VENDOR_ROUTES]
    routes += [(name, involvement.pk) for name in INVOLVEMENT_ROUTES]
    for name, pk in routes:
        for method in (client.get, client.post):
            response = method(reverse(name, args=[pk]), hostile)
            assert response.status_code in (404, 405), (name, method)
            assert OTHER_CANARY not in response.content.decode(), name
    vendor.refresh_from_db()
    involvement.refresh_from_db()
    assert vendor.name == f"{OTHER_CANARY} Lab" and vendor.standards_sent_on is None
    assert vendor.standards_acknowledged_on is None and involvement.scheduled_on is None
    assert [m.objects.count() for m in (Involvement, VendorDefect, VendorContact)] == counts
    assert OutboundMessage.objects.count() == sent


def _assert_callback_routes_refuse(client, objects):
    """Another practice's call-back: 404 on taking it or logging it, and it stays open."""
    task = next(obj for model, obj in objects.items() if model.__name__ == "CallbackTask")
    for name in CALLBACK_TASK_ROUTES:
        for method in (client.get, client.post):
            response = method(reverse(name, args=[task.pk]), {"outcome": "booked", "notes": "x"})
            assert response.status_code in (404, 405), (name, method)
            assert OTHER_CANARY not in response.content.decode(), name
    task.refresh_from_db()
    assert (task.owner_id, task.done_at, task.outcome, task.notes) == (None, None, "", "")


def _assert_loyalty_routes_refuse(client, objects, patient):
    """Planning for another practice's patient, or logging its check-in: 404, nothing done."""
    from loyalty.models import CheckIn

    check_in = next(obj for model, obj in objects.items() if model.__name__ == "CheckIn")
    before = CheckIn.objects.count()
    data = {"kind": "call", "owner": "1", "due_on": "2099-01-01", "outcome": "leaving"}
    for name in PATIENT_POST_ROUTES:
        response = client.post(reverse(name, args=[patient.pk]), data)
        assert response.status_code == 404, name
        assert OTHER_CANARY not in response.content.decode()
    for name in CHECK_IN_ROUTES:
        response = client.post(reverse(name, args=[check_in.pk]), data)
        assert response.status_code == 404, name
    check_in.refresh_from_db()
    assert CheckIn.objects.count() == before and check_in.done_at is None


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("front_desk", False), ("clinician", True), ("manager", True), ("director", True)],
)
def test_case_pages_are_for_case_workers(client, request, role, allowed, practice, patient):
    from recovery.services import case_open

    case = case_open(practice=practice, patient=patient, summary="Waited 40 minutes")
    client.force_login(request.getfixturevalue(role))
    client.post(reverse("core:practice-switch"), {"practice": practice.pk})
    for name in CASE_WORKER_ONLY:
        response = client.get(reverse(name))
        assert response.status_code == (200 if allowed else 403), name
    detail = client.get(reverse("recovery:case-detail", args=[case.pk]))
    assert detail.status_code == (200 if allowed else 404)
    assert ("Waited 40 minutes" in detail.content.decode()) is allowed


@pytest.mark.parametrize("role", ROLES)
def test_lists_show_only_current_practice(
    client, request, role, practice, patient, other_patient, sister_patient
):
    client.force_login(request.getfixturevalue(role))
    # A group admin works in one practice at a time too: lists follow the switcher.
    client.post(reverse("core:practice-switch"), {"practice": practice.pk})
    for name in NO_OBJECT:
        response = client.get(reverse(name), {"q": ""}, follow=True)
        assert response.status_code == 200
        assert OTHER_CANARY not in response.content.decode(), name
    listed = client.get(reverse("patients:patient-list")).content.decode()
    assert "Whitfield" in listed


def test_admin_changelists_hide_other_practices(client, manager, request, practice):
    _objects_of("other_practice", request)
    _objects_of("sister_practice", request)
    client.force_login(manager)
    for model in _scoped_admin_models():
        meta = model._meta
        response = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert response.status_code == 200, meta.model_name
        assert OTHER_CANARY not in response.content.decode(), meta.model_name


def test_managers_cannot_manage_user_accounts_in_the_admin(client, manager, outsider):
    client.force_login(manager)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_user_change", args=[outsider.pk])).status_code == 403


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_non_managers_cannot_open_the_admin(client, request, role, patient):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("admin:patients_patient_change", args=[patient.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_director_sees_sister_practice_patient(client, director, sister_patient):
    client.force_login(director)
    response = client.get(reverse("patients:patient-detail", args=[sister_patient.pk]))
    assert response.status_code == 200
    assert sister_patient.last_name in response.content.decode()


def test_outsider_with_no_membership_sees_nothing(client, django_user_model, patient):
    loner = django_user_model.objects.create_user("loner", password="x" * 12)
    client.force_login(loner)
    assert client.get(reverse("patients:patient-detail", args=[patient.pk])).status_code == 404
    page = client.get(reverse("patients:patient-list")).content.decode()
    assert "not part of a practice" in page
    assert "Whitfield" not in page


@pytest.mark.parametrize(
    "name", sorted(NO_OBJECT | PATIENT_ROUTES | CASE_WORKER_ONLY | set(CASE_ROUTES))
)
def test_anonymous_is_sent_to_login(client, name, patient):
    args = [patient.pk] if name in PATIENT_ROUTES else []
    if name in CASE_ROUTES:
        args = [1, *CASE_ROUTES[name]]
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_practice_switch_refuses_another_practice(client, manager, other_practice, practice):
    client.force_login(manager)
    response = client.post(reverse("core:practice-switch"), {"practice": other_practice.pk})
    assert response.status_code == 404
    assert client.session.get("rapport_practice_id") is None


def test_admin_bulk_delete_cannot_touch_another_practice(client, manager, patient, other_patient):
    from patients.models import Patient

    client.force_login(manager)
    response = client.post(
        reverse("admin:patients_patient_changelist"),
        {"action": "delete_selected", "_selected_action": [other_patient.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert Patient.objects.filter(pk=other_patient.pk).exists()
    assert OTHER_CANARY not in response.content.decode()


def test_admin_cannot_create_a_patient_in_another_practice(client, manager, other_practice):
    from patients.models import Patient

    client.force_login(manager)
    response = client.post(
        reverse("admin:patients_patient_add"),
        {
            "practice": other_practice.pk,
            "first_name": "Sneaky",
            "last_name": "Insert",
            "status": "active",
            "preferred_channel": "email",
        },
    )
    assert response.status_code == 200  # the form comes back with an error
    assert "Select a valid choice" in response.content.decode()
    assert not Patient.objects.filter(first_name="Sneaky").exists()


def test_admin_edit_of_own_patient_is_audited(client, manager, patient):
    client.force_login(manager)
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    assert "Whitfield" in client.get(url).content.decode()
    assert (
        AuditEvent.objects.filter(action="view", patient_id=patient.pk, actor=manager).count() == 1
    )


def test_admin_bulk_delete_of_own_patients_is_audited(client, manager, patient):
    from patients.models import Patient

    client.force_login(manager)
    client.post(
        reverse("admin:patients_patient_changelist"),
        {"action": "delete_selected", "_selected_action": [patient.pk], "post": "yes"},
    )
    assert not Patient.objects.filter(pk=patient.pk).exists()
    assert AuditEvent.objects.filter(action="delete", patient_id=patient.pk, actor=manager).exists()


def test_survey_admin_shows_only_own_organisations_surveys(
    client, manager, practice, other_practice
):
    from feedback.services import surveys_ensure_defaults

    mine = surveys_ensure_defaults(organisation=practice.organisation)["post_visit"]
    theirs = surveys_ensure_defaults(organisation=other_practice.organisation)["post_visit"]
    theirs.title = f"{OTHER_CANARY} survey"
    theirs.save()
    client.force_login(manager)
    listing = client.get(reverse("admin:feedback_survey_changelist")).content.decode()
    assert mine.title in listing and OTHER_CANARY not in listing
    assert client.get(reverse("admin:feedback_survey_change", args=[theirs.pk])).status_code == 404


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("front_desk", False),
        ("clinician", False),
        ("manager", True),
        ("director", True),
    ],
)
def test_manager_only_pages(client, request, role, allowed, practice):
    client.force_login(request.getfixturevalue(role))
    client.post(reverse("core:practice-switch"), {"practice": practice.pk})
    for name in MANAGER_ONLY:
        response = client.get(reverse(name))
        assert response.status_code == (200 if allowed else 403), name


def test_message_template_admin_refuses_unsafe_templates(client, manager, practice):
    from messaging.models import MessageTemplate

    client.force_login(manager)
    response = client.post(
        reverse("admin:messaging_messagetemplate_add"),
        {
            "practice": practice.pk,
            "kind": "survey_invitation",
            "channel": "sms",
            "subject": "",
            "body": "{% load static %}{% debug %}",
        },
    )
    assert response.status_code == 200  # the form comes back with the reason
    assert not MessageTemplate.objects.exists()
