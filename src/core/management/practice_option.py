"""The ``--practice`` option shared by commands that work on one practice."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from core.models import Practice


def add_practice_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--practice",
        help="practice id, slug or ORG/PRACTICE slugs (may be left out when there is only one)",
    )


def resolve_practice(value: str | None) -> Practice:
    practices = Practice.objects.select_related("organisation")
    if not value:
        found = list(practices[:2])
        if len(found) == 1:
            return found[0]
        if not found:
            raise CommandError("there is no practice yet: run `rapport seed` or create one first")
        raise CommandError("several practices exist: say which with --practice")
    if value.isdigit():
        matches = practices.filter(pk=int(value))
    elif "/" in value:
        org, _, slug = value.partition("/")
        matches = practices.filter(organisation__slug=org, slug=slug)
    else:
        matches = practices.filter(slug=value)
    found = list(matches[:2])
    if len(found) == 1:
        return found[0]
    if not found:
        raise CommandError(f"--practice {value}: no such practice")
    raise CommandError(f"--practice {value}: several practices have that slug; use ORG/PRACTICE")
