from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from records.services import RecordsError, records_download, records_request_from_token


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="30/m", method=ratelimit.ALL)
def download(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's download page. GET only shows it (mail scanners open links); the
    button POSTs, and only that hands over the records, counted and audited."""
    try:
        records_request = records_request_from_token(token)
    except RecordsError as problem:
        return render(request, "records/link_problem.html", {"problem": problem}, status=410)
    if request.method == "GET":
        context = {"practice": records_request.practice, "expires": records_request.link_expires_at}
        return render(request, "records/download.html", context)
    bundle = records_download(records_request=records_request, request=request)
    response = HttpResponse(
        json.dumps(bundle, indent=2, ensure_ascii=False), content_type="application/fhir+json"
    )
    name = f"records-{records_request.practice.slug}-{records_request.pk}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
