"""The two practices of ``story`` and their history."""

import pytest

from analytics.tests.story import SYD, build_history


@pytest.fixture
def maple(practice):
    return practice


@pytest.fixture
def harbor(sister_practice):
    sister_practice.timezone = SYD
    sister_practice.save(update_fields=["timezone"])
    return sister_practice


@pytest.fixture
def history(maple, harbor):
    build_history(maple, harbor)
