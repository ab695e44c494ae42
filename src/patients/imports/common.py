"""What every importer shares: problems named ``FILE:LINE: reason`` and a result summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# progress(done, total) — total may be None when unknown (e.g. a stream).
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class ImportProblem:
    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


class ImportFailed(Exception):
    """Nothing was stored; ``problems`` says why, one entry per bad row or file."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass
class ImportResult:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    rejected: list[ImportProblem] = field(default_factory=list)

    def summary(self) -> str:
        def part(label: str, counts: Counter) -> str:
            inner = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
            return f"{label} {inner}" if inner else ""

        parts = [
            part("created", self.created),
            part("updated", self.updated),
            part("unchanged", self.unchanged),
            part("skipped", self.skipped),
        ]
        if self.rejected:
            count = len(self.rejected)
            parts.append(f"rejected {count} row{'' if count == 1 else 's'}")
        return "; ".join(p for p in parts if p) or "nothing to import"


def display_path(path: str | Path) -> str:
    return str(path)
