"""The product's URLs plus two ceilings for ``bench/bench_webhooks.py`` (never in ``src/``).

* ``POST /bench/minimal/``: the smallest Django view that takes a webhook: it reads the body
  and answers ``{"ok": true}``, behind the same middleware, workers and database connection
  settings as the real endpoint.
* ``POST /bench/verify-only/<webhook_id>/``: the real endpoint's checks without storing
  anything: the phone-system look-up, the body size, the Standard Webhooks signature and
  timestamp, JSON parsing and the call's validation, taken from ``calls.webhooks`` itself.
  The gap between it and ``/hooks/calls/<webhook_id>/`` is the storing transaction.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from calls import webhooks
from calls.events import EventInvalid, generic_event_check
from rapport.urls import handler403, handler404, handler500
from rapport.urls import urlpatterns as product

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


@csrf_exempt
def minimal(request: HttpRequest) -> JsonResponse:
    request.body  # noqa: B018 (read it, as any webhook receiver must)
    return JsonResponse({"ok": True})


@csrf_exempt
def verify_only(request: HttpRequest, webhook_id: str) -> JsonResponse:
    try:
        phone_system = webhooks._phone_system(request, webhook_id)
        body = webhooks._body(request)
        webhooks._verify_standard(phone_system, request, body)
        payload = webhooks._parse(body)
        generic_event_check(payload, now=timezone.now())
    except webhooks.Refused as exc:
        return JsonResponse({"error": exc.message}, status=exc.status)
    except EventInvalid as exc:
        return JsonResponse({"error": "invalid", "reasons": exc.reasons}, status=422)
    return JsonResponse({"status": "verified"})


urlpatterns = [
    path("bench/minimal/", minimal),
    path("bench/verify-only/<str:webhook_id>/", verify_only),
    *product,
]
