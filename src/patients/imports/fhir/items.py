"""What reading yields: validated resources that know where they came from, problems, and
skip reasons; and the error that turns a bad file, line or resource into a problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patients.imports.common import ImportProblem


class Unreadable(Exception):
    """A file, line or resource that cannot be imported; ``reason`` says why."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class Where:
    """Where a resource came from, so that a problem names the file, line and Bundle entry."""

    path: str
    line: int | None = None
    entry: str = ""

    def within(self, index: int) -> Where:
        entry = f"{self.entry}.resource.entry[{index}]" if self.entry else f"entry[{index}]"
        return Where(self.path, self.line, entry)

    def problem(self, reason: str, line: int | None = None) -> ImportProblem:
        prefix = f"{self.entry}: " if self.entry else ""
        return ImportProblem(self.path, line if line is not None else self.line, prefix + reason)


@dataclass
class Found:
    """A validated resource, with the fullUrl its Bundle entry gave it."""

    resource: Any
    where: Where
    full_url: str = ""


# Each reader yields validated resources, problems, and skip reasons (plain strings).
Item = Found | ImportProblem | str
