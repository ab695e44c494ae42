"""Who is calling: an integration with a practice's API key, or a signed-in person's browser.

Either way the operation gets a ``Caller`` on ``request.auth``, and every query starts from
``Caller.practices()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth

from api.models import ApiKey
from api.services import api_key_authenticate
from core.models import Practice
from core.selectors import practices_for_user


@dataclass(frozen=True)
class Caller:
    """An authenticated API caller: exactly one of ``api_key`` and ``user`` is set."""

    api_key: ApiKey | None = None
    user: AbstractBaseUser | None = None

    def practices(self) -> QuerySet[Practice]:
        if self.api_key is not None:
            return Practice.objects.filter(pk=self.api_key.practice_id)
        return practices_for_user(self.user)

    @property
    def actor_label(self) -> str:
        """For audit rows: a key is named by its prefix; a user is the row's actor."""
        return self.api_key.actor_label if self.api_key is not None else ""


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer rk_<prefix>_<secret>``."""

    def authenticate(self, request: HttpRequest, token: str) -> Caller:
        api_key = api_key_authenticate(token)
        if api_key is None:
            # A key was offered and is wrong or revoked: refuse, never fall back to a
            # session cookie that happens to ride along.
            raise AuthenticationError(message="Invalid or revoked API key.")
        # The call acts as the key, whoever's browser cookie came with it.
        request.user = AnonymousUser()
        return Caller(api_key=api_key)


class PracticeSessionAuth(SessionAuth):
    """The signed-in person's session, for the UI; state-changing calls need the CSRF token.

    Anonymous requests are answered 401 before the CSRF check, which would say 403.
    """

    def __call__(self, request: HttpRequest) -> Caller | None:
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        if request.user.is_authenticated and request.user.is_active:
            return Caller(user=request.user)
        return None


api_key_auth = ApiKeyAuth()
session_auth = PracticeSessionAuth(csrf=True)
