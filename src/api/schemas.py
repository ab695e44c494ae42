"""Shared API schemas: error bodies, and the string type every input goes through."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, StringConstraints


def _plain_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded at all: both
    # would be a 500 at the database (TRUST.md F8). Refuse them here, as a 422.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def Text(max_length: int) -> Any:  # used like a type: ``name: Text(120)``
    """A string input of at most ``max_length`` characters, with no NUL."""
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(_plain_text)]


class Error(Schema):
    """Every error answer: a sentence a person can act on."""

    detail: str


class ValidationErrorItem(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(Schema):
    """422: which inputs were wrong, and why."""

    detail: list[ValidationErrorItem]


# Declared on every operation (TRUST.md F4: undocumented status codes fail the fuzzer).
ERRORS: dict[int, Any] = {
    400: Error,
    401: Error,
    404: Error,
    422: ValidationErrors,
}
# Writes also answer 403 (session without a CSRF token) and 413 (body over the limit).
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 403: Error, 413: Error}
