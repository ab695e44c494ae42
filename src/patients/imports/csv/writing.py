"""What storing patients and appointments share: one transaction per file, progress, problem
lists, result counts and finding the practice's rows by external id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import DataError, IntegrityError, models, transaction

from core.models import Practice
from patients.imports.common import ImportFailed, ImportProblem, ImportResult, Progress
from patients.imports.csv.reading import Columns, CsvSource, failed

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


# (source, context, result) -> (reasons by line, number of good rows)
RowImporter = Callable[[CsvSource, Any, ImportResult], tuple[dict[int, list[str]], int]]


def import_in_one_pass(
    path: str | Path,
    columns: Columns,
    *,
    load_context: Callable[[], Any],
    import_rows: RowImporter,
    skip_invalid: bool,
) -> ImportResult:
    """Check and store a file in one pass and one transaction.

    Any bad row stores nothing, unless ``skip_invalid``: then the good rows are kept and
    the bad ones listed in ``result.rejected``.
    """
    with CsvSource.open(path, columns) as source:
        context = load_context()
        result = ImportResult()
        with atomic_import(source):
            reasons, good = import_rows(source, context, result)
            result.rejected = problem_list(source, reasons)
            if reasons and (not skip_invalid or good == 0):
                raise ImportFailed(result.rejected)  # inside the transaction: rolls it back
    return result


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
