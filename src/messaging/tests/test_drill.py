"""R1: a sender killed with SIGKILL mid-batch loses nothing; each message arrives once.

Real processes (``rapport deliver --loop``), a real database file (or a scratch PostgreSQL
database when the suite runs on PostgreSQL), a real SMTP server that takes 20 ms per
message. One of two senders is killed -9 after 50 messages arrived and started again.

Delivery is at least once: a message whose end-of-data the server already had when its
sender died is sent again, with the same Message-ID, after the lease runs out. So the test
demands all 200 distinct Message-IDs and allows one repeat, only of the row that sender
held (its second attempt). ``python -m messaging.tests.drill --runs N`` measures how often
that happens.
"""

from __future__ import annotations

import os
import re

import pytest

from messaging.tests.drill import PostgresScratch, run_drill

pytestmark = pytest.mark.slow

MESSAGES = 200


def _databases():
    yield "sqlite"
    if os.environ.get("RAPPORT_DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        yield "postgresql"


@pytest.mark.parametrize("database", list(_databases()))
def test_killed_sender_loses_nothing_and_repeats_at_most_its_message_in_flight(tmp_path, database):
    if database == "postgresql":
        with PostgresScratch(os.environ["RAPPORT_DATABASE_URL"]) as url:
            result = run_drill(tmp_path, messages=MESSAGES, database_url=url)
    else:
        result = run_drill(tmp_path, messages=MESSAGES)
    print(result.line())

    assert result.distinct == MESSAGES
    assert result.duplicates <= 1
    sent, attempts = map(int, re.fullmatch(r"sent=(\d+)/(\d+)", result.outbox_state).groups())
    assert sent == MESSAGES
    # Only the row the killed sender held was attempted twice; a repeat can only be that one.
    assert attempts - MESSAGES in (0, 1)
    assert result.duplicates <= attempts - MESSAGES
    # The surviving and the restarted sender each stop on SIGTERM with a one-line summary.
    assert len(result.summaries) == 2
    assert all(re.match(r"deliver: \d+ sent, 0 to retry", line) for line in result.summaries)
