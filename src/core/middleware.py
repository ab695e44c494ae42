from __future__ import annotations

from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from core.selectors import practices_for_user

SESSION_KEY = "rapport_practice_id"


def current_practice(request):
    """The practice a person is working in: the one chosen in the switcher, if still allowed."""
    allowed = practices_for_user(request.user)
    chosen = request.session.get(SESSION_KEY)
    if chosen is not None:
        practice = allowed.filter(pk=chosen).first()
        if practice is not None:
            return practice
    return allowed.order_by("organisation__name", "name").first()


class CurrentPracticeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.practice = SimpleLazyObject(lambda: current_practice(request))
        # Times on every page are the practice's local times, not the server's.
        if request.user.is_authenticated and request.practice:
            timezone.activate(request.practice.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
