"""``rapport import fhir PATH``: patients and visits from HL7 FHIR R4 resources.

Reads Bundles of any type, NDJSON bulk-export files, single resources and folders of them.
Every resource is validated with the fhir.resources R4B models before it is mapped, and one
bad file or resource stops the run with nothing stored. The mapping is in docs/import-fhir.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, models, transaction
from django.utils import timezone
from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from core.models import Practice, StaffMember
from core.phones import PhoneError, normalise_phone
from patients.imports.common import ImportFailed, ImportProblem, ImportResult, Progress
from patients.models import Appointment, Patient

# The deepest official R4 example nests 21 levels; pydantic itself overflows near 400.
MAX_DEPTH = 64
# Past this many problems the rest is noise: the file is clearly not what was meant.
MAX_PROBLEMS = 100
DEFAULT_MINUTES, MIN_MINUTES, MAX_MINUTES = 30, 1, 600
CHUNK = 500  # rows per IN (...) query: well under SQLite's and PostgreSQL's parameter limits

Status = Appointment.Status
SKIP = None  # a status we know but do not import
APPOINTMENT_STATUS = {
    **dict.fromkeys(
        ["booked", "pending", "proposed", "arrived", "checked-in", "waitlist"], Status.SCHEDULED
    ),
    "fulfilled": Status.COMPLETED,
    "cancelled": Status.CANCELLED,
    "noshow": Status.NO_SHOW,
    "entered-in-error": SKIP,
}
ENCOUNTER_STATUS = {
    # Not finished yet (inpatient "onleave" included) is still a visit on the schedule.
    **dict.fromkeys(["planned", "arrived", "triaged", "in-progress", "onleave"], Status.SCHEDULED),
    "finished": Status.COMPLETED,
    "cancelled": Status.CANCELLED,
    "entered-in-error": SKIP,
    "unknown": SKIP,
}
PATIENT_FIELDS = [
    "first_name", "last_name", "date_of_birth", "phone", "email", "address", "city", "postal_code",
]  # fmt: skip
VISIT_FIELDS = ["patient_id", "provider_id", "starts_at", "duration_minutes", "kind", "status"]

_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL refuses both in text columns
_PATIENT_ID = re.compile(r"(?:^|/)Patient/([A-Za-z0-9.-]{1,64})(?:/_history/[^/]*)?$")
_PRACTITIONER_ID = re.compile(r"(?:^|/)Practitioner/([A-Za-z0-9.-]{1,64})(?:/_history/[^/]*)?$")
_PATIENT_BY_IDENTIFIER = re.compile(r"^Patient\?identifier=([^&]*\|[^&]+)$")


class _Unreadable(Exception):
    """A file, line or resource that cannot be imported; ``reason`` says why."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class _Where:
    """Where a resource came from, so that a problem names the file, line and Bundle entry."""

    path: str
    line: int | None = None
    entry: str = ""

    def within(self, index: int) -> _Where:
        entry = f"{self.entry}.resource.entry[{index}]" if self.entry else f"entry[{index}]"
        return _Where(self.path, self.line, entry)

    def problem(self, reason: str, line: int | None = None) -> ImportProblem:
        prefix = f"{self.entry}: " if self.entry else ""
        return ImportProblem(self.path, line if line is not None else self.line, prefix + reason)


@dataclass
class _Found:
    """A validated resource, with the fullUrl its Bundle entry gave it."""

    resource: Any
    where: _Where
    full_url: str = ""


# --- Entry point ---------------------------------------------------------------------


def import_fhir(
    path: str | Path, *, practice: Practice, progress: Progress | None = None
) -> ImportResult:
    """Import Patient, Appointment and Encounter resources; all or nothing.

    Raises ``ImportFailed`` naming every problem (file, line, Bundle entry) when nothing
    was stored; otherwise returns what was created, updated, left unchanged and skipped.
    """
    root = Path(path)
    batch, problems = _collect(_find_files(root), practice, progress)
    if problems:
        raise ImportFailed(problems)
    try:
        with transaction.atomic():
            problems = _store_patients(batch) or _store_visits(batch)
            if problems:
                raise ImportFailed(problems)
    except DatabaseError as exc:
        # E.g. another import stored the same patient meanwhile: report, never a traceback.
        reason = f"the database refused the import: {exc}"
        raise ImportFailed([ImportProblem(str(root), None, reason)]) from exc
    return batch.result


def _find_files(root: Path) -> list[Path]:
    if not root.exists():
        raise ImportFailed([ImportProblem(str(root), None, "no such file or folder")])
    if root.is_file():
        return [root]
    files = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in {".json", ".ndjson"} and p.is_file()
    )
    if not files:
        reason = "no FHIR files found (*.json, *.ndjson)"
        raise ImportFailed([ImportProblem(str(root), None, reason)])
    return files


def _collect(
    files: list[Path], practice: Practice, progress: Progress | None
) -> tuple[_Batch, list[ImportProblem]]:
    """Read, validate and map every file before anything is written."""
    batch = _Batch(practice)
    problems: list[ImportProblem] = []
    done = 0
    for path in files:
        for item in _read_file(path):
            if isinstance(item, ImportProblem):
                problems.append(item)
            elif isinstance(item, str):
                batch.result.skipped[item] += 1
            else:
                try:
                    batch.add(item)
                except _Unreadable as exc:
                    problems.append(item.where.problem(exc.reason))
                done += 1
                if progress:
                    progress(done, None)
            if len(problems) >= MAX_PROBLEMS:
                problems.append(ImportProblem(str(path), None, "too many problems; stopped here"))
                return batch, problems
    if progress:
        progress(done, done)
    return batch, problems


# --- Reading files -------------------------------------------------------------------

# Each reader yields validated resources, problems, and skip reasons (plain strings).
_Item = _Found | ImportProblem | str


def _read_file(path: Path) -> Iterator[_Item]:
    where = _Where(str(path))
    try:
        if path.suffix.lower() == ".ndjson":
            yield from _read_ndjson(path, where)
        else:
            yield from _read_json(path, where)
    except OSError as exc:
        yield where.problem(f"cannot read the file: {exc.strerror or exc}")


def _read_json(path: Path, where: _Where) -> Iterator[_Item]:
    limit = settings.RAPPORT_IMPORT_MAX_BYTES
    size = path.stat().st_size
    if size > limit:
        yield where.problem(f"{size} bytes is over the limit of {limit} (RAPPORT_IMPORT_MAX_BYTES)")
        return
    try:
        document = _parse(path.read_bytes())
    except _Unreadable as exc:
        yield where.problem(exc.reason, exc.line)
        return
    yield from _expand(document, where, depth=1)


def _read_ndjson(path: Path, where: _Where) -> Iterator[_Item]:
    """One resource a line, streamed: only one line is held in memory at a time."""
    limit = settings.RAPPORT_IMPORT_MAX_BYTES
    empty = True
    with path.open("rb") as stream:
        for number, raw in enumerate(_lines(stream, limit), start=1):
            line_where = _Where(where.path, number)
            if raw is None:
                yield line_where.problem(
                    f"line is longer than {limit} bytes (RAPPORT_IMPORT_MAX_BYTES)"
                )
                continue
            if not raw.strip():
                continue  # blank lines are harmless, e.g. a trailing newline
            empty = False
            try:
                document = _parse(raw.rstrip(b"\r\n"))  # so JSON's column is the line's
            except _Unreadable as exc:
                yield line_where.problem(exc.reason)
                continue
            yield from _expand(document, line_where, depth=1)
    if empty:
        yield where.problem("empty file")


def _lines(stream: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """Lines of at most ``limit`` bytes; None stands for a longer line, which is drained."""
    while line := stream.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(1 << 20)
            yield None
        else:
            yield line


def _parse(data: bytes) -> Any:
    """Strict JSON: no duplicate keys, NaN, Infinity or numbers beyond a double."""
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is common and harmless
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"not UTF-8 text (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise _Unreadable("empty file")
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except RecursionError:
        raise _Unreadable(f"nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # our hooks, and integers too long to convert
        raise _Unreadable(f"not valid JSON: {exc}") from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicate key {duplicate[:64]!r}")
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


# --- Validating resources ------------------------------------------------------------


def _expand(raw: Any, where: _Where, *, depth: int, full_url: str = "") -> Iterator[_Item]:
    """Validate one resource; a Bundle as a shell first, then each entry on its own."""
    if isinstance(raw, dict) and raw.get("resourceType") == "Bundle":
        yield from _expand_bundle(raw, where, depth)
        return
    try:
        yield _Found(_validate(raw, depth), where, full_url)
    except _Unreadable as exc:
        yield where.problem(exc.reason, exc.line)


def _expand_bundle(raw: dict, where: _Where, depth: int) -> Iterator[_Item]:
    entries = raw.get("entry")
    shell = raw
    if isinstance(entries, list):
        # Validating entries apart lets an error name its entry, not just "the Bundle".
        shell = {**raw, "entry": [_without_resource(entry) for entry in entries]}
    try:
        _validate(shell, depth)
    except _Unreadable as exc:
        yield where.problem(exc.reason, exc.line)
        return
    for index, entry in enumerate(entries or []):
        if "resource" not in entry:
            yield "bundle entries without a resource"  # e.g. a DELETE in a transaction
            continue
        url = entry.get("fullUrl") or ""
        yield from _expand(entry["resource"], where.within(index), depth=depth + 3, full_url=url)


def _without_resource(entry: Any) -> Any:
    if isinstance(entry, dict):
        return {key: value for key, value in entry.items() if key != "resource"}
    return entry


def _validate(raw: Any, depth: int) -> Any:
    if not isinstance(raw, dict):
        raise _Unreadable(f"expected a FHIR resource (a JSON object), found {_json_kind(raw)}")
    if "resourceType" not in raw:
        raise _Unreadable("not a FHIR resource: resourceType is missing")
    model = _model_for(raw["resourceType"])
    _check_structure(raw, depth)
    label = _label(raw)
    _check_contained(raw.get("contained"), label)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _Unreadable(f"invalid {label}: {_describe(exc)}") from None
    except Exception as exc:  # a last guard: a bug in the models must not become a traceback
        raise _Unreadable(f"invalid {label}: {type(exc).__name__} {exc}") from None


def _model_for(kind: Any) -> type:
    if not isinstance(kind, str):
        raise _Unreadable(f"resourceType must be a string, found {_json_kind(kind)}")
    model = _resource_model(kind) if _TYPE_NAME.fullmatch(kind) else None
    if model is None:
        known = _type_names().get(kind.lower())
        hint = f" (did you mean {known!r}?)" if known and _resource_model(known) else ""
        raise _Unreadable(f"unknown resourceType {kind[:64]!r}{hint}")
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
            except _Unreadable as exc:
                raise _Unreadable(f"invalid {label}: contained[{index}]: {exc.reason}") from None


def _check_structure(raw: dict, depth: int) -> None:
    """Depth and characters, checked before pydantic recurses into the data."""
    stack: list[tuple[Any, int]] = [(raw, depth)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            if level > MAX_DEPTH:
                raise _Unreadable(f"nested too deeply (more than {MAX_DEPTH} levels)")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and _BAD_TEXT.search(key):
                    raise _Unreadable(_bad_text_reason(key))
                stack.append((item, level + 1))
        elif isinstance(value, str) and _BAD_TEXT.search(value):
            raise _Unreadable(_bad_text_reason(value))


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


# --- Mapping resources ---------------------------------------------------------------


@dataclass
class _PatientRecord:
    """One person, perhaps met several times in the import (same id, identifier or fullUrl)."""

    where: _Where
    label: str
    fhir_id: str
    external_id: str
    keys: set[str]  # "id:<fhir id>", "ext:<system|value>", "url:<fullUrl>"
    fields: dict[str, Any]
    pk: int | None = None

    def merge(self, other: _PatientRecord) -> None:
        # The first copy keeps its identity; later copies bring newer details.
        self.keys |= other.keys
        self.fhir_id = self.fhir_id or other.fhir_id
        self.fields.update(other.fields)


@dataclass
class _Visit:
    """An Appointment or Encounter; its patient and provider are looked up when storing."""

    where: _Where
    external_id: str
    patient_keys: list[str]  # "id:", "ext:" or "url:" keys as in _PatientRecord, best first
    providers: list[tuple[str, str, bool]]  # (reference, display, surely a Practitioner)
    values: dict[str, Any]


@dataclass
class _Batch:
    """Everything read so far, mapped but not yet stored."""

    practice: Practice
    result: ImportResult = field(default_factory=ImportResult)
    patients: list[_PatientRecord] = field(default_factory=list)
    patient_keys: dict[str, _PatientRecord] = field(default_factory=dict)
    visits: dict[str, _Visit] = field(default_factory=dict)
    practitioners: dict[str, str] = field(default_factory=dict)  # reference or fullUrl → name

    def add(self, found: _Found) -> None:
        kind = found.resource.get_resource_type()
        if kind == "Patient":
            self._add_patient(found)
        elif kind in {"Appointment", "Encounter"}:
            self._add_visit(found)
        else:
            if kind == "Practitioner":
                self._remember_practitioner(found)
            self.result.skipped[kind] += 1

    def _add_patient(self, found: _Found) -> None:
        record = _patient_record(found, self.practice.region, self.result.skipped)
        if isinstance(record, str):
            self.result.skipped[record] += 1
            return
        matches = {id(known): known for key in record.keys if (known := self.patient_keys.get(key))}
        if len(matches) > 1:
            reason = f"{record.label} matches {len(matches)} different patients read before it"
            raise _Unreadable(reason)
        if matches:
            (known,) = matches.values()
            known.merge(record)
            record = known
        else:
            self.patients.append(record)
        for key in record.keys:
            self.patient_keys[key] = record

    def _add_visit(self, found: _Found) -> None:
        visit = _visit(found, self.practice.zone)
        if isinstance(visit, str):
            self.result.skipped[visit] += 1
        else:
            self.visits[visit.external_id] = visit  # a later copy of the same visit wins

    def _remember_practitioner(self, found: _Found) -> None:
        name = _practitioner_name(found.resource)
        if found.resource.id:
            self.practitioners[f"Practitioner/{found.resource.id}"] = name
        if found.full_url:
            self.practitioners[found.full_url] = name


def _patient_record(found: _Found, region: str, skipped: Counter) -> _PatientRecord | str:
    """The patient's row values, or why the resource is skipped."""
    patient = found.resource
    label = f"Patient/{patient.id}" if patient.id else "Patient"
    name = _pick_name(patient.name)
    if name is None:
        return "patients without a name"
    external_id = _identifier_key(patient.identifier) or (
        f"Patient/{patient.id}" if patient.id else found.full_url
    )
    if not external_id:
        return "patients without an id or identifier"
    fields = {"first_name": name[0], "last_name": name[1]}
    fields.update(_contact_fields(patient, region, skipped))
    if isinstance(patient.birthDate, dt.date):  # a partial date (1974, 1974-12) says too little
        fields["date_of_birth"] = patient.birthDate
    _check_lengths(Patient, label, {**fields, "external_id": external_id})
    keys = {f"ext:{external_id}"}
    keys |= {f"id:{patient.id}"} if patient.id else set()
    keys |= {f"url:{found.full_url}"} if found.full_url else set()
    return _PatientRecord(found.where, label, patient.id or "", external_id, keys, fields)


def _pick_name(names: list | None) -> tuple[str, str] | None:
    """(first, last) from the official name, else the usual one, else any current one."""
    current = [n for n in names or [] if n.use not in {"old", "maiden", "anonymous"}]
    for name in sorted(current, key=lambda n: {"official": 0, "usual": 1}.get(n.use, 2)):
        first = ((name.given or [""])[0] or "").strip()
        last = (name.family or "").strip()
        if first or last:
            return first, last
        words = (name.text or "").split()
        if words:  # only a display text: its last word is taken as the family name
            return " ".join(words[:-1]), words[-1]
    return None


def _identifier_key(identifiers: list | None) -> str:
    """``system|value`` of the first identifier with a value (FHIR token syntax)."""
    for identifier in identifiers or []:
        value = (identifier.value or "").strip()
        if value:
            return f"{(identifier.system or '').strip()}|{value}"
    return ""


def _contact_fields(patient: Any, region: str, skipped: Counter) -> dict[str, str]:
    points = [p for p in patient.telecom or [] if p.value and _current(p.use, p.period)]
    phones = sorted(
        (p for p in points if p.system in {"phone", "sms"}), key=lambda p: p.rank or math.inf
    )
    fields = {"phone": _first_phone(phones, region)}
    if phones and not fields["phone"]:
        skipped["invalid phone"] += 1  # kept going: the rest of the patient is still useful
    emails = [p.value.strip() for p in points if p.system == "email"]
    if emails and _is_email(emails[0]):
        fields["email"] = emails[0]
    elif emails:
        skipped["invalid email"] += 1
    address = next((a for a in patient.address or [] if _current(a.use, a.period)), None)
    if address is not None:
        fields["address"] = ", ".join(line.strip() for line in address.line or [] if line.strip())
        fields["city"] = (address.city or "").strip()
        fields["postal_code"] = (address.postalCode or "").strip()
    return {name: value for name, value in fields.items() if value}


def _current(use: str | None, period: Any) -> bool:
    end = period.end if period is not None else None
    if use == "old":
        return False
    if end is None:
        return True
    # ISO text compares in date order, partial dates ("2014") included.
    text = end.isoformat() if isinstance(end, dt.date) else str(end)
    return text[:10] >= timezone.localdate().isoformat()


def _first_phone(phones: list, region: str) -> str:
    for point in phones:
        try:
            return normalise_phone(point.value, region=region)
        except PhoneError:
            continue
    return ""


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except DjangoValidationError:
        return False
    return len(value) <= Patient._meta.get_field("email").max_length


def _check_lengths(model: type[models.Model], label: str, values: dict[str, Any]) -> None:
    for name, value in values.items():
        limit = model._meta.get_field(name).max_length
        if isinstance(value, str) and limit and len(value) > limit:
            what = name.replace("_", " ")
            raise _Unreadable(f"{label}: {what} is longer than {limit} characters")


def _visit(found: _Found, zone: dt.tzinfo) -> _Visit | str:
    """An Appointment or Encounter as an appointment row, or why it is skipped."""
    resource = found.resource
    kind = resource.get_resource_type()
    statuses = APPOINTMENT_STATUS if kind == "Appointment" else ENCOUNTER_STATUS
    label = f"{kind}/{resource.id}" if resource.id else kind
    if resource.status not in statuses:
        raise _Unreadable(f"{label}: status {resource.status!r} is not an R4 {kind} status")
    if statuses[resource.status] is SKIP:
        return f"{kind.lower()}s with status {resource.status}"
    external_id = f"{kind}/{resource.id}" if resource.id else found.full_url
    if not external_id:
        return "appointments without an id"
    if len(external_id) > Appointment._meta.get_field("external_id").max_length:
        raise _Unreadable(f"{label}: fullUrl is too long to keep as its id")
    start, end, minutes, patients, providers, types = _visit_parts(resource)
    starts_at = _moment(start, zone)
    if starts_at is None:
        return "appointments without a start time"
    contained = {
        c.id: key
        for c in resource.contained or []
        if c.get_resource_type() == "Patient" and c.id and (key := _identifier_key(c.identifier))
    }
    values = {
        "starts_at": starts_at,
        "duration_minutes": _minutes(starts_at, _moment(end, zone), minutes),
        "kind": _concept_text(types),
        "status": statuses[resource.status],
    }
    return _Visit(
        found.where,
        external_id,
        _patient_keys(patients, contained),
        _provider_refs(providers),
        values,
    )


def _visit_parts(resource: Any) -> tuple:
    """(start, end, minutes, patient refs, provider refs, type concepts) of either kind."""
    if resource.get_resource_type() == "Appointment":
        actors = [p.actor for p in resource.participant if p.actor is not None]
        providers = [p.actor for p in resource.participant if p.actor and p.status != "declined"]
        types = [resource.appointmentType, *(resource.serviceType or [])]
        return resource.start, resource.end, resource.minutesDuration, actors, providers, types
    period = resource.period
    patients = [resource.subject] if resource.subject is not None else []
    providers = [p.individual for p in resource.participant or [] if p.individual is not None]
    types = [*(resource.type or []), resource.serviceType]
    start, end = (period.start, period.end) if period is not None else (None, None)
    return start, end, None, patients, providers, types


def _moment(value: Any, zone: dt.tzinfo) -> dt.datetime | None:
    """An aware datetime; a bare date is midnight at the practice, a partial date is None."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=zone)
    return None


def _minutes(start: dt.datetime, end: dt.datetime | None, given: int | None) -> int:
    if end is not None and end > start:
        minutes = round((end - start).total_seconds() / 60)
    else:
        minutes = given or DEFAULT_MINUTES
    return max(MIN_MINUTES, min(MAX_MINUTES, minutes))


def _concept_text(concepts: list) -> str:
    limit = Appointment._meta.get_field("kind").max_length
    for concept in concepts:
        if concept is None:
            continue
        codings = [c.display or c.code for c in concept.coding or [] if c.display or c.code]
        text = " ".join((concept.text or (codings[0] if codings else "")).split())
        if text:  # only a label: shortening it loses nothing that matters
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""


def _patient_keys(refs: list, contained: dict[str, str]) -> list[str]:
    """Keys a reference may match, best first; a contained Patient only by its identifier."""
    keys: list[str] = []
    for ref in refs:
        if ref.type and ref.type != "Patient":
            continue
        text = (ref.reference or "").strip()
        if text.startswith("#"):
            keys += [f"ext:{contained[text[1:]]}"] if text[1:] in contained else []
            continue
        if text:
            keys.append(f"url:{text}")
            if match := _PATIENT_BY_IDENTIFIER.match(unquote(text)):
                keys.append(f"ext:{match[1]}")
            if match := _PATIENT_ID.search(text):
                keys.append(f"id:{match[1]}")
        if ref.identifier is not None and (key := _identifier_key([ref.identifier])):
            keys.append(f"ext:{key}")
    return keys


def _provider_refs(refs: list) -> list[tuple[str, str, bool]]:
    found = []
    for ref in refs:
        text = (ref.reference or "").strip()
        sure = (
            ref.type == "Practitioner"
            or text.startswith("Practitioner?")  # Synthea: a conditional reference by NPI
            or bool(_PRACTITIONER_ID.search(text))
        )
        found.append((text, (ref.display or "").strip(), sure))
    return found


def _practitioner_name(practitioner: Any) -> str:
    for name in practitioner.name or []:
        parts = [*(name.prefix or []), *(name.given or []), name.family or ""]
        text = (name.text or "").strip() or " ".join(p.strip() for p in parts if p and p.strip())
        if text:
            return text
    return ""


def _provider_name(refs: list[tuple[str, str, bool]], practitioners: dict[str, str]) -> str:
    """The first participant known to be a Practitioner, by its display or its resource."""
    for text, display, sure in refs:
        match = _PRACTITIONER_ID.search(text)
        known = practitioners.get(text) if text else None
        if known is None and match:
            known = practitioners.get(f"Practitioner/{match[1]}")
        if (sure or known is not None) and (display or known):
            return display or known or ""
    return ""


# --- Storing -------------------------------------------------------------------------


def _store_patients(batch: _Batch) -> list[ImportProblem]:
    """Create new patients and update the ones already in the practice, in bulk."""
    stored = _stored_patients(batch.practice, {k for r in batch.patients for k in r.keys})
    problems: list[ImportProblem] = []
    new: list[tuple[_PatientRecord, Patient]] = []
    changed: list[Patient] = []
    claimed: dict[int, str] = {}
    for record in batch.patients:
        matches = {p.pk: p for key in sorted(record.keys) if (p := stored.get(key))}
        if len(matches) > 1:
            reason = (
                f"{record.label} matches {len(matches)} stored patients (ids {sorted(matches)})"
            )
            problems.append(record.where.problem(reason))
        elif not matches:
            new.append((record, _new_patient(batch.practice, record)))
        elif (pk := next(iter(matches))) in claimed:
            reason = f"{record.label} and {claimed[pk]} both match stored patient {pk}"
            problems.append(record.where.problem(reason))
        else:
            claimed[pk] = record.label
            record.pk = pk
            if _apply(matches[pk], record):
                changed.append(matches[pk])
    if problems:
        return problems
    Patient.objects.bulk_create([patient for _, patient in new], batch_size=CHUNK)
    for record, patient in new:
        record.pk = patient.pk  # set by INSERT … RETURNING on SQLite ≥ 3.35 and PostgreSQL
    fields = [*PATIENT_FIELDS, "fhir_id", "external_id", "search_name", "updated_at"]
    Patient.objects.bulk_update(changed, fields, batch_size=CHUNK)
    _count(batch.result.created, "patients", len(new))
    _count(batch.result.updated, "patients", len(changed))
    _count(batch.result.unchanged, "patients", len(claimed) - len(changed))
    return []


def _stored_patients(practice: Practice, keys: Iterable[str]) -> dict[str, Patient]:
    """The practice's patients by "id:" and "ext:" key; never another practice's."""
    keys = set(keys)
    by_pk: dict[int, Patient] = {}
    found: dict[str, Patient] = {}
    for prefix, column in (("id:", "fhir_id"), ("ext:", "external_id")):
        values = sorted(key.removeprefix(prefix) for key in keys if key.startswith(prefix))
        for chunk in _chunks(values):
            rows = Patient.objects.filter(practice=practice, **{f"{column}__in": chunk})
            for row in rows:
                patient = by_pk.setdefault(row.pk, row)
                found[prefix + getattr(patient, column)] = patient
    return found


def _new_patient(practice: Practice, record: _PatientRecord) -> Patient:
    patient = Patient(
        practice=practice, fhir_id=record.fhir_id, external_id=record.external_id, **record.fields
    )
    patient.search_name = patient.search_text()  # bulk_create skips save(), which sets it
    return patient


def _apply(patient: Patient, record: _PatientRecord) -> bool:
    """Copy the record's values onto a stored patient; True when something changed.

    Fields the resource leaves out keep their stored value, and ids are only filled in,
    never replaced: a CSV import may rely on the external id it wrote.
    """
    wanted = dict(record.fields)
    if not patient.fhir_id and record.fhir_id:
        wanted["fhir_id"] = record.fhir_id
    if not patient.external_id:
        wanted["external_id"] = record.external_id
    changed = [name for name, value in wanted.items() if getattr(patient, name) != value]
    for name in changed:
        setattr(patient, name, wanted[name])
    if changed:
        patient.search_name = patient.search_text()
        patient.updated_at = timezone.now()
    return bool(changed)


def _store_visits(batch: _Batch) -> list[ImportProblem]:
    """Create or update one appointment per Appointment or Encounter with a known patient."""
    resolve = _patient_resolver(batch)
    limit = StaffMember._meta.get_field("name").max_length
    problems: list[ImportProblem] = []
    ready: list[tuple[_Visit, int, str]] = []
    for visit in batch.visits.values():
        patient_pk = resolve(visit.patient_keys)
        provider = _provider_name(visit.providers, batch.practitioners)
        if patient_pk is None:
            batch.result.skipped["appointments without a known patient"] += 1
        elif len(provider) > limit:
            reason = f"{visit.external_id}: practitioner name is longer than {limit} characters"
            problems.append(visit.where.problem(reason))
        else:
            ready.append((visit, patient_pk, provider))
    if problems:
        return problems
    staff = _staff_ids(batch, {provider for _, _, provider in ready if provider})
    stored = _stored_appointments(batch.practice, [visit.external_id for visit, _, _ in ready])
    new: list[Appointment] = []
    changed: list[Appointment] = []
    for visit, patient_pk, provider in ready:
        values = {**visit.values, "patient_id": patient_pk}
        if provider:  # with no provider named, keep the one staff may have set
            values["provider_id"] = staff[provider.casefold()]
        if not values["kind"]:
            del values["kind"]
        appointment = stored.get(visit.external_id)
        if appointment is None:
            new.append(
                Appointment(practice=batch.practice, external_id=visit.external_id, **values)
            )
        elif _update(appointment, values):
            changed.append(appointment)
    Appointment.objects.bulk_create(new, batch_size=CHUNK)
    Appointment.objects.bulk_update(changed, VISIT_FIELDS, batch_size=CHUNK)
    _count(batch.result.created, "appointments", len(new))
    _count(batch.result.updated, "appointments", len(changed))
    _count(batch.result.unchanged, "appointments", len(ready) - len(new) - len(changed))
    return []


def _patient_resolver(batch: _Batch):
    """A function from a visit's patient keys to a patient id: this import first, then stored."""
    wanted = {
        k for v in batch.visits.values() for k in v.patient_keys if k not in batch.patient_keys
    }
    stored = {key: patient.pk for key, patient in _stored_patients(batch.practice, wanted).items()}

    def resolve(keys: list[str]) -> int | None:
        for key in keys:
            if key in batch.patient_keys:
                return batch.patient_keys[key].pk
            if key in stored:
                return stored[key]
        return None

    return resolve


def _staff_ids(batch: _Batch, names: set[str]) -> dict[str, int]:
    """Staff ids by case-folded name, creating a staff member for each new name."""
    ids: dict[str, int] = {}
    for member in StaffMember.objects.filter(practice=batch.practice).order_by("pk"):
        ids.setdefault(member.name.casefold(), member.pk)
    missing: dict[str, str] = {}
    for name in sorted(names):
        if name.casefold() not in ids:
            missing.setdefault(name.casefold(), name)
    created = StaffMember.objects.bulk_create(
        StaffMember(practice=batch.practice, name=name) for name in missing.values()
    )
    ids.update((member.name.casefold(), member.pk) for member in created)
    _count(batch.result.created, "staff members", len(created))
    return ids


def _stored_appointments(practice: Practice, external_ids: list[str]) -> dict[str, Appointment]:
    found: dict[str, Appointment] = {}
    for chunk in _chunks(sorted(set(external_ids))):
        # No ordering: it would steer SQLite onto the starts_at index for a whole-practice scan.
        for row in Appointment.objects.filter(practice=practice, external_id__in=chunk).order_by():
            found[row.external_id] = row
    return found


def _update(appointment: Appointment, values: dict[str, Any]) -> bool:
    changed = [name for name, value in values.items() if getattr(appointment, name) != value]
    for name in changed:
        setattr(appointment, name, values[name])
    return bool(changed)


def _count(counter: Counter, what: str, number: int) -> None:
    if number:  # a zero would still be printed by ImportResult.summary()
        counter[what] += number


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
