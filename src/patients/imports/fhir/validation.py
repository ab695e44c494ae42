"""Validating parsed JSON as FHIR resources with the fhir.resources R4B models.

A Bundle is validated as a shell first and then entry by entry, so that a problem names its
entry. Depth and characters are checked before pydantic recurses into the data.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from patients.imports.fhir.items import Found, Item, Unreadable, Where

# The deepest official R4 example nests 21 levels; pydantic itself overflows near 400.
MAX_DEPTH = 64

_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL refuses both in text columns


def expand(raw: Any, where: Where, *, depth: int, full_url: str = "") -> Iterator[Item]:
    """Validate one resource; a Bundle as a shell first, then each entry on its own."""
    if isinstance(raw, dict) and raw.get("resourceType") == "Bundle":
        yield from _expand_bundle(raw, where, depth)
        return
    try:
        yield Found(_validate(raw, depth), where, full_url)
    except Unreadable as exc:
        yield where.problem(exc.reason, exc.line)


def _expand_bundle(raw: dict, where: Where, depth: int) -> Iterator[Item]:
    entries = raw.get("entry")
    shell = raw
    if isinstance(entries, list):
        # Validating entries apart lets an error name its entry, not just "the Bundle".
        shell = {**raw, "entry": [_without_resource(entry) for entry in entries]}
    try:
        _validate(shell, depth)
    except Unreadable as exc:
        yield where.problem(exc.reason, exc.line)
        return
    for index, entry in enumerate(entries or []):
        if "resource" not in entry:
            yield "bundle entries without a resource"  # e.g. a DELETE in a transaction
            continue
        url = entry.get("fullUrl") or ""
        yield from expand(entry["resource"], where.within(index), depth=depth + 3, full_url=url)


def _without_resource(entry: Any) -> Any:
    if isinstance(entry, dict):
        return {key: value for key, value in entry.items() if key != "resource"}
    return entry


def _validate(raw: Any, depth: int) -> Any:
    if not isinstance(raw, dict):
        raise Unreadable(f"expected a FHIR resource (a JSON object), found {_json_kind(raw)}")
    if "resourceType" not in raw:
        raise Unreadable("not a FHIR resource: resourceType is missing")
    model = _model_for(raw["resourceType"])
    _check_structure(raw, depth)
    label = _label(raw)
    _check_contained(raw.get("contained"), label)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Unreadable(f"invalid {label}: {_describe(exc)}") from None
    except Exception as exc:  # a last guard: a bug in the models must not become a traceback
        raise Unreadable(f"invalid {label}: {type(exc).__name__} {exc}") from None


def _model_for(kind: Any) -> type:
    if not isinstance(kind, str):
        raise Unreadable(f"resourceType must be a string, found {_json_kind(kind)}")
    model = _resource_model(kind) if _TYPE_NAME.fullmatch(kind) else None
    if model is None:
        known = _type_names().get(kind.lower())
        hint = f" (did you mean {known!r}?)" if known and _resource_model(known) else ""
        raise Unreadable(f"unknown resourceType {kind[:64]!r}{hint}")
    return model


@functools.lru_cache(maxsize=512)
def _resource_model(kind: str) -> type | None:
    if kind in {"Resource", "DomainResource"}:
        return None  # abstract: never the type of a resource in a file
    try:
        model = get_fhir_model_class(kind)
    except (ValueError, AttributeError):
        return None
    return model if isinstance(model, type) and issubclass(model, Resource) else None


@functools.cache
def _type_names() -> dict[str, str]:
    """Every R4B type name by its lower-case spelling, to suggest the right case."""
    return {name[:-4].lower(): name[:-4] for name in dir(fhirtypes) if name.endswith("Type")}


def _check_contained(contained: Any, label: str) -> None:
    """Name an unknown contained type here: fhir_core would raise a bare KeyError for it."""
    for index, item in enumerate(contained if isinstance(contained, list) else []):
        if isinstance(item, dict) and "resourceType" in item:
            try:
                _model_for(item["resourceType"])
            except Unreadable as exc:
                raise Unreadable(f"invalid {label}: contained[{index}]: {exc.reason}") from None


def _check_structure(raw: dict, depth: int) -> None:
    """Depth and characters, checked before pydantic recurses into the data."""
    stack: list[tuple[Any, int]] = [(raw, depth)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            if level > MAX_DEPTH:
                raise Unreadable(f"nested too deeply (more than {MAX_DEPTH} levels)")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and _BAD_TEXT.search(key):
                    raise Unreadable(_bad_text_reason(key))
                stack.append((item, level + 1))
        elif isinstance(value, str) and _BAD_TEXT.search(value):
            raise Unreadable(_bad_text_reason(value))


def _bad_text_reason(text: str) -> str:
    if "\x00" in text:
        return "a text contains a NUL character (\\u0000), which cannot be stored"
    return "a text contains an unpaired surrogate (invalid Unicode), which cannot be stored"


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:3]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        message = " ".join(str(error["msg"]).split()).removeprefix("Value error, ")
        value = error.get("input")
        shown = f" ({value!r})" if isinstance(value, str) and len(value) <= 40 else ""
        parts.append(f"{where.lstrip('.') or 'resource'}: {message}{shown}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def _label(raw: dict) -> str:
    kind, rid = str(raw.get("resourceType"))[:64], raw.get("id")
    return f"{kind}/{rid[:64]}" if isinstance(rid, str) and rid else kind


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "true or false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")
