"""What storing patients and appointments share: one transaction per file, progress, problem
lists, result counts and finding the practice's rows by external id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DataError, IntegrityError, models, transaction

from core.models import Practice
from patients.imports.common import ImportProblem, ImportResult, Progress
from patients.imports.csv.reading import CsvSource, failed

BATCH_SIZE = 1000


@contextmanager
def atomic_import(source: CsvSource) -> Iterator[None]:
    """One transaction for the whole file; a refused row becomes a problem, not a traceback."""
    try:
        with transaction.atomic():
            yield
            source.check_unchanged()
    except (IntegrityError, DataError) as exc:
        raise failed(
            source.name,
            None,
            f"nothing was stored: the database refused a row ({exc}); "
            "if another import ran at the same time, run this one again",
        ) from exc


def report_progress(progress: Progress | None, done: int, total: int | None = None) -> None:
    if progress is not None:
        progress(done, total)


def problem_list(source: CsvSource, reasons: dict[int, list[str]]) -> list[ImportProblem]:
    return [source.problem(line, "; ".join(reasons[line])) for line in sorted(reasons)]


def count_rows(result: ImportResult, kind: str, rows: int, *, created: int, updated: int) -> None:
    # Only non-zero counts: the summary names every key it finds.
    for counter, n in (
        (result.created, created),
        (result.updated, updated),
        (result.unchanged, rows - created - updated),
    ):
        if n:
            counter[kind] += n


def matched(
    model: type[models.Model], practice: Practice, external_ids: list[str] | None = None
) -> models.QuerySet:
    """The practice's rows of ``model`` that have an external id, optionally only these ids.

    Unordered and excluding "" on purpose: that is what lets the database use the partial
    unique index on (practice, external_id) instead of walking all the practice's rows.
    """
    rows = model.objects.filter(practice=practice).exclude(external_id="").order_by()
    return rows if external_ids is None else rows.filter(external_id__in=external_ids)


def apply_changes(instance: Any, values: dict[str, Any]) -> list[str]:
    """Set the values that differ and name them."""
    changed = []
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed
