"""Records of one call, merged: the rule that makes imports and webhooks order-free.

A telephone system may describe one call in several records (Asterisk writes a CDR per leg,
a webhook sender may send a correction, two exports overlap). ``calls_merge`` joins two of
them; it is commutative, associative and idempotent, so any number of records, in any order
and any grouping, give the same call, and merging a record again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from calls.models import Call

# Best first when records of one call disagree.
RANK = {
    Call.Disposition.ANSWERED: 3,
    Call.Disposition.VOICEMAIL: 2,
    Call.Disposition.ABANDONED: 1,
    Call.Disposition.MISSED: 0,
}


@dataclass(frozen=True)
class CallIn:
    """One record of a call as a telephone system reports it (one CDR leg, one CSV row,
    one event). Numbers and names may be raw: ``calls_record`` cleans them."""

    source: str
    external_id: str
    direction: str
    caller: str
    called: str
    started_at: dt.datetime
    ring_seconds: int
    talk_seconds: int
    disposition: str
    caller_name: str = ""
    extension: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.external_id

    @property
    def reached_at(self) -> dt.datetime:
        """When someone (or the voicemail) picked up, or when the ringing stopped."""
        return self.started_at + dt.timedelta(seconds=self.ring_seconds)


def calls_merge(first: CallIn, second: CallIn) -> CallIn:
    """Two records of one call as one. Commutative, associative and idempotent: each part
    is the least or greatest of a tuple, so any order of any number of records agrees."""
    who = min(
        (first.started_at, first.direction, first.caller, first.called, first.caller_name),
        (second.started_at, second.direction, second.caller, second.called, second.caller_name),
    )
    outcome = max(
        (RANK[first.disposition], first.talk_seconds, first.extension, first.disposition),
        (RANK[second.disposition], second.talk_seconds, second.extension, second.disposition),
    )
    reached = max(_reached_key(first), _reached_key(second))
    started_at, direction, caller, called, caller_name = who
    _rank, talk, extension, disposition = outcome
    reached_at = _reached_from_key(reached)
    return CallIn(
        source=first.source,
        external_id=first.external_id,
        direction=direction,
        caller=caller,
        called=called,
        caller_name=caller_name,
        started_at=started_at,
        ring_seconds=max(0, int((reached_at - started_at).total_seconds())),
        talk_seconds=talk,
        disposition=disposition,
        extension=extension,
    )


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)


def _reached_key(call: CallIn) -> tuple[int, int]:
    # An answered call rang until the earliest answer; an unanswered one until the last leg
    # stopped ringing. Whole microseconds, so the moment survives the round trip exactly.
    moment = (call.reached_at - EPOCH) // MICROSECOND
    answered = call.disposition == Call.Disposition.ANSWERED
    return RANK[call.disposition], -moment if answered else moment


def _reached_from_key(key: tuple[int, int]) -> dt.datetime:
    rank, moment = key
    if rank == RANK[Call.Disposition.ANSWERED]:
        moment = -moment
    return EPOCH + moment * MICROSECOND
