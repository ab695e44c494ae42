"""``rapport import reviews FILE``: public reviews (Google, Yelp, …) into the feedback inbox.

The file contract is in docs/import-reviews.md; the reading, the error contract and the
hostile-input checks are those of the patient CSV import (``patients.imports.csv``): every
bad record is ``FILE:LINE: reason``, one bad record stores nothing unless ``skip_invalid``,
and a re-import adds nothing. Each review becomes a ``FeedbackItem`` through
``feedback_item_create``, so its text is analysed like any other feedback.

A review is public text by someone who may or may not be a patient: it is never linked to
a patient, whatever the author's name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from django.utils import timezone

from core.models import Practice
from feedback.models import FeedbackItem
from feedback.services import MAX_TEXT, FeedbackError, feedback_item_create
from patients.imports.common import ImportResult, Progress
from patients.imports.csv.fields import ISO_DATE, ISO_MOMENT, Invalid, Row, moment_parser
from patients.imports.csv.reading import Columns, CsvSource, cells_problem, show
from patients.imports.csv.writing import import_in_one_pass, report_progress
from patients.models import fold_for_search

REVIEW_COLUMNS = Columns(
    known=("source", "date", "rating", "author", "text", "review_id"),
    required=("source", "date", "text"),
)
# How the well-known sites are written, whatever the file's spelling.
KNOWN_SOURCES = {
    name.casefold(): name
    for name in ("Google", "Yelp", "Healthgrades", "Facebook", "Zocdoc", "Trustpilot", "Bing")
}
STAR_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}  # Google's API spells them
STARS = re.compile(r"([1-5])(?:\.0+)?")
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
SOURCE_LENGTH = FeedbackItem._meta.get_field("source_detail").max_length
AUTHOR_LENGTH = FeedbackItem._meta.get_field("author_name").max_length
REVIEW_ID_LENGTH = 100  # with the source in front it fits external_id (200)
PROGRESS_EVERY = 100


def import_reviews_csv(
    path: str | Path,
    *,
    practice: Practice,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Add the practice's public reviews from a CSV file (docs/import-reviews.md).

    Reviews already imported (same source and review_id, or the same source, date, author
    and text when there is no review_id) are counted as unchanged and left as they are.
    """
    return import_in_one_pass(
        path,
        REVIEW_COLUMNS,
        load_context=partial(_Context.load, practice),
        import_rows=partial(_import_rows, skip_invalid=skip_invalid, progress=progress),
        skip_invalid=skip_invalid,
    )


@dataclass(slots=True)
class ReviewRow:
    """A valid review record."""

    external_id: str
    source: str
    received_at: dt.datetime
    stars: int | None
    author: str
    text: str


@dataclass
class _Context:
    practice: Practice
    parse_date: Callable[[str], dt.datetime]
    stored_ids: set[str]  # external ids of the practice's reviews before the import

    @classmethod
    def load(cls, practice: Practice) -> _Context:
        stored = FeedbackItem.objects.filter(
            practice=practice, source=FeedbackItem.Source.REVIEW
        ).exclude(external_id="")
        return cls(
            practice=practice,
            parse_date=review_date_parser(practice.zone, timezone.now()),
            stored_ids=set(stored.values_list("external_id", flat=True)),
        )


def review_date_parser(zone, now: dt.datetime) -> Callable[[str], dt.datetime]:
    """An ISO date (read as noon in the practice's time zone) or an ISO date and time."""
    parse_moment = moment_parser(zone)

    def parse(value: str) -> dt.datetime:
        if ISO_DATE.fullmatch(value):
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                raise Invalid("is not a real date") from None
            # Noon, not midnight: never in a DST gap, and the same day wherever it is shown.
            moment = dt.datetime.combine(day, dt.time(12), tzinfo=zone).astimezone(dt.UTC)
        elif ISO_MOMENT.fullmatch(value):
            moment = parse_moment(value)
        else:
            raise Invalid("is not a date written YYYY-MM-DD or YYYY-MM-DDTHH:MM (ISO 8601)")
        if moment > now:
            raise Invalid("is in the future")
        if moment < EARLIEST:
            raise Invalid("is before 2000")
        return moment

    return parse


def parse_stars(value: str) -> int:
    match = STARS.fullmatch(value)
    if match:
        return int(match.group(1))
    stars = STAR_WORDS.get(value.casefold())
    if stars is None:
        raise Invalid("is not a whole number of stars from 1 to 5")
    return stars


def _site(source: str) -> str:
    """The source as a key: "Google", "google" and "GOOGLE " are one site."""
    return "-".join(fold_for_search(source).split())


def review_external_id(
    *, source: str, review_id: str, date_value: str, author: str, text: str
) -> str:
    """The key that finds a review again: the site's id, or a hash of what the review says.

    The hash ignores differences of case in the site and of spacing in the text, which
    exports of the same review often have.
    """
    site = _site(source)
    if review_id:
        return f"{site}:{review_id}"
    content = "\x1f".join([site, date_value, " ".join(author.split()), " ".join(text.split())])
    return f"{site}:sha256:{hashlib.sha256(content.encode()).hexdigest()}"


def _review_row(row: Row, context: _Context) -> ReviewRow | None:
    """The record's review, or None for a review without text (stars only), which is skipped."""
    source = row.text("source", max_length=SOURCE_LENGTH, required=True)
    source = KNOWN_SOURCES.get(source.casefold(), source)
    received_at = row.parsed("date", context.parse_date, required=True)
    stars = row.parsed("rating", parse_stars)
    author = row.text("author", max_length=AUTHOR_LENGTH)
    review_id = row.text("review_id", max_length=REVIEW_ID_LENGTH)
    text = row.text("text", max_length=MAX_TEXT, multiline=True)
    if row.reasons or not text:
        return None
    external_id = review_external_id(
        source=source,
        review_id=review_id,
        date_value=row.value("date"),
        author=author,
        text=text,
    )
    return ReviewRow(external_id, source, received_at, stars, author, text)


def _store(review: ReviewRow, context: _Context) -> None:
    item = feedback_item_create(
        practice=context.practice,
        source=FeedbackItem.Source.REVIEW,
        text=review.text,
        author_name=review.author,
        # Stars are not a 0–10 score: set below, so the detractor rule for surveys
        # does not read five stars as "5 of 10".
        score=None,
        source_detail=review.source,
        external_id=review.external_id,
        received_at=review.received_at,
    )
    if review.stars is None:
        return
    label, reasons = item.label, list(item.reasons)
    if label == FeedbackItem.Label.NEUTRAL and review.stars != 3:
        # Flat text says less than the stars the person chose.
        label = FeedbackItem.Label.NEGATIVE if review.stars <= 2 else FeedbackItem.Label.POSITIVE
        reasons.append(f"{review.stars}-star review")
    FeedbackItem.objects.filter(pk=item.pk).update(score=review.stars, label=label, reasons=reasons)


def _import_rows(
    source: CsvSource,
    context: _Context,
    result: ImportResult,
    *,
    skip_invalid: bool,
    progress: Progress | None,
) -> tuple[dict[int, list[str]], int]:
    """Check and store in one pass; after the first problem only check, unless skipping."""
    reasons: dict[int, list[str]] = {}
    first_line: dict[str, int] = {}
    good = done = 0
    for line, cells in source.records():
        row = Row(cells, source.columns)
        problem = cells_problem(cells, source.width)
        review = None
        if problem:
            row.fail(problem)
        else:
            review = _review_row(row, context)
        if review is not None:
            first = first_line.setdefault(review.external_id, line)
            if first != line:
                review_id = row.value("review_id")
                row.fail(
                    f"review_id {show(review_id)} is also on line {first}"
                    if review_id
                    else f"the same review is also on line {first}"
                )
        done += 1
        if done % PROGRESS_EVERY == 0:
            report_progress(progress, done)
        if row.reasons:
            reasons[line] = row.reasons
            continue
        good += 1
        if review is None:
            result.skipped["without text"] += 1
        elif review.external_id in context.stored_ids:
            result.unchanged["reviews"] += 1
        elif skip_invalid or not reasons:
            try:
                _store(review, context)
            except FeedbackError as exc:  # the checks above should leave nothing for it
                reasons[line] = [str(exc)]
                good -= 1
                continue
            result.created["reviews"] += 1
    report_progress(progress, done, done)
    return reasons, good
