from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from core.middleware import SESSION_KEY
from core.selectors import get_practice_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not request.practice:
        return render(request, "core/no_practice.html")
    return redirect("patients:day-sheet")


@login_required
@require_POST
def practice_switch(request: HttpRequest) -> HttpResponse:
    practice = get_practice_for_user(request.user, request.POST.get("practice"))
    request.session[SESSION_KEY] = practice.pk
    target = request.POST.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("home")
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def forbidden(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "errors/500.html", status=500)


def rate_limited(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "errors/429.html", status=429)
