"""The public records request page of a practice: no login, no patient data in any URL.

Three steps kept in the visitor's session: who you are (name and date of birth), the code
we sent to the email or phone on file, and where the records should go.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from core.models import Practice
from records.access_rules import access_rule
from records.identity import (
    IdentityError,
    identity_check_request,
    identity_check_start,
    identity_check_verify,
    mask_email,
    verified_check,
)
from records.models import IdentityCheck
from records.services import RecordsError

SESSION_CHECK = "records_identity_check"
SESSION_DONE = "records_request_done"


def _practice(org: str, practice: str) -> Practice:
    return get_object_or_404(
        Practice.objects.select_related("organisation"), organisation__slug=org, slug=practice
    )


def _step(name: str, practice: Practice) -> HttpResponse:
    return redirect(
        f"records:public-{name}", org=practice.organisation.slug, practice=practice.slug
    )


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="60/m", method=ratelimit.ALL)
@ratelimit(key="ip", rate="10/m", method="POST")
def public_request(request: HttpRequest, org: str, practice: str) -> HttpResponse:
    """Step 1: the details on file. The answer is the same whether they match or not."""
    practice = _practice(org, practice)
    form = {
        key: request.POST.get(key, "")
        for key in ("first_name", "last_name", "date_of_birth", "channel")
    }
    error = None
    if request.method == "POST":
        try:
            check = identity_check_start(practice=practice, **form)
        except IdentityError as problem:
            error = str(problem)
        else:
            request.session[SESSION_CHECK] = check.pk
            return _step("verify", practice)
    context = {
        "practice": practice,
        "form": form,
        "error": error,
        "rule": access_rule(practice.region),
        "channels": IdentityCheck.Channel.choices,
    }
    return render(request, "records/public_request.html", context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="60/m", method=ratelimit.ALL)
@ratelimit(key="ip", rate="20/m", method="POST")
def public_verify(request: HttpRequest, org: str, practice: str) -> HttpResponse:
    """Step 2: the code. Wrong codes count; too many lock the check."""
    practice = _practice(org, practice)
    check = IdentityCheck.objects.filter(
        pk=request.session.get(SESSION_CHECK), practice=practice
    ).first()
    if check is None:
        return _step("request", practice)
    error = None
    if request.method == "POST":
        try:
            identity_check_verify(check=check, code=request.POST.get("code", ""))
        except IdentityError as problem:
            error = str(problem)
        else:
            return _step("details", practice)
    context = {"practice": practice, "error": error}
    return render(request, "records/public_verify.html", context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="20/m", method="POST")
def public_details(request: HttpRequest, org: str, practice: str) -> HttpResponse:
    """Step 3: where the records go, and who is asking if not the patient."""
    practice = _practice(org, practice)
    check = verified_check(request.session.get(SESSION_CHECK), practice)
    if check is None:
        return _step("request", practice)
    form = {
        key: request.POST.get(key, "")
        for key in (
            "send_to_email",
            "send_copy_to",
            "representative_name",
            "representative_relation",
        )
    }
    error = None
    if request.method == "POST":
        try:
            records_request = identity_check_request(check=check, **form)
        except (IdentityError, RecordsError) as problem:
            error = str(problem)
        else:
            request.session.pop(SESSION_CHECK, None)
            request.session[SESSION_DONE] = {
                "due_on": records_request.due_on.isoformat(),
                "sent_to": mask_email(records_request.send_to_email),
            }
            return _step("done", practice)
    context = {
        "practice": practice,
        "form": form,
        "error": error,
        "email_on_file": mask_email(check.patient.contact_person.email),
    }
    return render(request, "records/public_details.html", context, status=400 if error else 200)


def public_done(request: HttpRequest, org: str, practice: str) -> HttpResponse:
    practice = _practice(org, practice)
    done = request.session.get(SESSION_DONE)
    if not done:
        return _step("request", practice)
    return render(request, "records/public_done.html", {"practice": practice, "done": done})
