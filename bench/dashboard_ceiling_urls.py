"""The product's URLs plus the ceiling for ``bench/bench_dashboards.py`` (never in ``src/``).

``GET /bench/minimal-template/``: the smallest page a signed-in person can get: a short
template that extends nothing, rendered with ``render()`` (so with the product's context
processors) from a few values, behind the same middleware, login check, session, current
practice, workers and database connection settings as the dashboards.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from rapport.urls import handler403, handler404, handler500
from rapport.urls import urlpatterns as product

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


@login_required
def minimal_template(request: HttpRequest) -> HttpResponse:
    figures = [("Answers", 1234), ("Promoters", 612), ("Detractors", 143)]
    return render(
        request,
        "bench/minimal_template.html",
        {"today": timezone.localdate(), "figures": figures},
    )


urlpatterns = [
    path("bench/minimal-template/", minimal_template),
    *product,
]
