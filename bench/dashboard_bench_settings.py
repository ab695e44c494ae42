"""Settings for ``bench/bench_dashboards.py``: Rapport's own settings, plus one bench-only view.

Everything (database, middleware, sessions, cache, logging) is what ``rapport.settings``
reads from the environment; the root URLconf changes to ``dashboard_ceiling_urls``, which
serves the whole product and the ceiling view, and ``bench/templates`` is added for its
template. ``BENCH_DASHBOARD_CACHE=off`` swaps the cache for Django's dummy cache, which
keeps nothing: every dashboard request sums its figures from the rollups, as the first one
after a refresh does. Used with ``bench/`` on ``PYTHONPATH``.
"""

import os
from pathlib import Path

from rapport.settings import *  # noqa: F403
from rapport.settings import TEMPLATES

ROOT_URLCONF = "dashboard_ceiling_urls"
TEMPLATES = [
    {**TEMPLATES[0], "DIRS": [*TEMPLATES[0]["DIRS"], Path(__file__).resolve().parent / "templates"]}
]
if os.environ.get("BENCH_DASHBOARD_CACHE") == "off":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
