"""The REST API under /api/v1/: one NinjaAPI, one router per domain.

Every answer is JSON; every error is ``{"detail": ...}``. The OpenAPI description is at
/api/v1/openapi.json. There is no docs page: ninja's loads Swagger UI from a CDN, and
Rapport never loads anything from one.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from api import records
from api.auth import api_key_auth, session_auth

logger = logging.getLogger("django.request")

api = NinjaAPI(
    title="Rapport API",
    version="1",
    description=(
        "Patient experience for dental practices. Authenticate with "
        "`Authorization: Bearer rk_…` (a practice's API key) or the signed-in session."
    ),
    urls_namespace="api",
    docs_url=None,
    auth=[api_key_auth, session_auth],
)
api.add_router("/records-requests", records.router)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    detail = exc.message if exc.message != "Unauthorized" else "Authentication required."
    response = api.create_response(request, {"detail": detail}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return api.create_response(request, {"detail": "Request body too large."}, status=413)


@api.exception_handler(SuspiciousOperation)
def _bad_request(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    return api.create_response(request, {"detail": "Bad request."}, status=400)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": "Forbidden."}, status=403)


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Logged like Django logs a 500 (method and path only, never the body), answered as JSON.
    logger.error("Internal Server Error: %s %s", request.method, request.path, exc_info=exc)
    return api.create_response(request, {"detail": "Server error."}, status=500)
