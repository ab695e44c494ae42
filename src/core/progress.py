"""Progress for long-running commands: a tqdm bar on a terminal, periodic counts otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(label: str, *, disabled: bool = False, unit: str = "rows") -> Iterator:
    """Yield ``progress(done, total)``; draws on stderr so stdout stays a clean summary."""
    bar = tqdm(
        desc=label,
        unit=f" {unit}",
        file=sys.stderr,
        disable=disabled,
        mininterval=0.5 if sys.stderr.isatty() else 5.0,
        leave=False,
    )

    def progress(done: int, total: int | None = None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh() if sys.stderr.isatty() else bar.update(0)

    try:
        yield progress
    finally:
        bar.close()
