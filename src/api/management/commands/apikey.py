"""``rapport apikey create|list|revoke``: API keys for integrations, one practice each."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.models import ApiKey
from api.services import ApiKeyError, api_key_create, api_key_revoke
from core.management.practice_option import add_practice_argument, resolve_practice

ACTOR = "command line"


class Command(BaseCommand):
    help = "Create, list or revoke the API keys integrations use to call /api/v1/."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="create|list|revoke")
        create = actions.add_parser("create", help="create a key; it is printed once")
        add_practice_argument(create)
        create.add_argument("--name", required=True, help="what will use it, e.g. 'PMS sync'")
        listing = actions.add_parser("list", help="a practice's keys (never their secrets)")
        add_practice_argument(listing)
        revoke = actions.add_parser("revoke", help="stop a key working at once")
        revoke.add_argument("prefix", help="the key's prefix, as `apikey list` shows it")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _create(self, *, practice: str | None, name: str, **_options) -> None:
        where = resolve_practice(practice)
        try:
            api_key, plaintext = api_key_create(
                practice=where, name=name, user=None, actor_label=ACTOR
            )
        except ApiKeyError as problem:
            raise CommandError(str(problem)) from None
        # The key alone on stdout, so a script can capture it; the rest for the person.
        self.stdout.write(plaintext)
        self.stderr.write(
            f"created API key {api_key.prefix} {api_key.name!r} for {where.organisation.slug}/"
            f"{where.slug}. Store it now: it will not be shown again."
        )

    def _list(self, *, practice: str | None, **_options) -> None:
        where = resolve_practice(practice)
        keys = list(ApiKey.objects.filter(practice=where).order_by("-created_at", "-id"))
        for api_key in keys:
            state = f"revoked {api_key.revoked_at:%Y-%m-%d}" if api_key.is_revoked else "active"
            used = f"{api_key.last_used_at:%Y-%m-%d %H:%M}" if api_key.last_used_at else "never"
            self.stdout.write(
                f"{api_key.prefix}  {state:<18}  created {api_key.created_at:%Y-%m-%d}  "
                f"last used {used:<16}  {api_key.name}"
            )
        active = sum(not k.is_revoked for k in keys)
        self.stdout.write(
            f"{where.organisation.slug}/{where.slug}: {len(keys)} API key(s), {active} active"
        )

    def _revoke(self, *, prefix: str, **_options) -> None:
        api_key = ApiKey.objects.select_related("practice").filter(prefix=prefix.strip()).first()
        if api_key is None:
            raise CommandError(f"{prefix}: no API key has that prefix (see `rapport apikey list`)")
        try:
            api_key_revoke(api_key=api_key, actor_label=ACTOR)
        except ApiKeyError as problem:
            raise CommandError(str(problem)) from None
        self.stdout.write(f"revoked API key {api_key.prefix} {api_key.name!r}")
