"""Which state of the rollups cached figures were read from: every refresh moves it on."""

from __future__ import annotations

from django.core.cache import cache

# How long a group's figures stay cached at most. With a shared cache (Redis) every
# refresh also moves the version on; with the embedded default's per-process cache the
# worker's refreshes are not seen by the web processes, so this bounds how stale they get.
CACHE_SECONDS = 15 * 60
VERSION_KEY = "analytics:rollups-version"


def rollups_version() -> int:
    return cache.get_or_set(VERSION_KEY, 0, None)


def rollups_changed() -> None:
    """Called by every refresh: cached group figures are read again."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # not there (yet, or evicted): any new value will do
        cache.set(VERSION_KEY, 1, None)
