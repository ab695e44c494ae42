"""Settings for ``bench/bench_webhooks.py``: Rapport's own settings, plus two bench-only views.

Everything (database, middleware, logging) is what ``rapport.settings`` reads from the
environment; only the root URLconf changes, to ``webhook_ceiling_urls``, which serves the
whole product and the two ceiling views. Used with ``bench/`` on ``PYTHONPATH``.
"""

from rapport.settings import *  # noqa: F403

ROOT_URLCONF = "webhook_ceiling_urls"
