"""``import_fhir`` and ``rapport import fhir``: official R4 examples, Synthea-style bundles,
NDJSON, hostile files and tenancy. Hostile files are generated here, not stored as samples."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from core.models import AuditEvent, StaffMember
from core.tests.factories import StaffMemberFactory
from patients.imports.common import ImportFailed
from patients.imports.fhir import import_fhir
from patients.imports.fhir.validation import MAX_DEPTH
from patients.models import Appointment, Patient
from patients.tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db

# src/patients/tests/<this file>: parents[3] is the project root and shared/ sits beside it.
EXAMPLES = Path(__file__).resolve().parents[4] / "shared" / "data" / "fhir_r4_examples"
needs_examples = pytest.mark.skipif(
    not EXAMPLES.is_dir(), reason=f"official FHIR R4 examples not found at {EXAMPLES}"
)


def write(folder: Path, name: str, content: object) -> Path:
    """A file in ``folder``: bytes and text as they are, anything else as JSON."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def fhir_patient(pid: str, given: str = "Ada", family: str = "Lovelace", **extra) -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"use": "official", "given": [given], "family": family}],
        **extra,
    }


def encounter(eid: str, subject: str, status: str = "finished", **extra) -> dict:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": subject},
        "period": {"start": "2024-03-05T09:00:00-05:00", "end": "2024-03-05T09:45:00-05:00"},
        **extra,
    }


def appointment(aid: str, patient_ref: str, status: str = "booked", **extra) -> dict:
    return {
        "resourceType": "Appointment",
        "id": aid,
        "status": status,
        "start": "2024-04-02T14:00:00Z",
        "end": "2024-04-02T14:30:00Z",
        "participant": [{"actor": {"reference": patient_ref}, "status": "accepted"}],
        **extra,
    }


def bundle(*resources: dict, kind: str = "collection", urls: list[str] | None = None) -> dict:
    entries = [{"resource": resource} for resource in resources]
    for entry, url in zip(entries, urls or [], strict=False):
        entry["fullUrl"] = url
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def problems_of(path: Path, practice) -> list[str]:
    """The problems of a failed import, after checking that nothing was stored."""
    with pytest.raises(ImportFailed) as failure:
        import_fhir(path, practice=practice)
    assert Patient.objects.count() == 0
    assert Appointment.objects.count() == 0
    assert StaffMember.objects.count() == 0
    return [str(problem) for problem in failure.value.problems]


# --- The official examples -----------------------------------------------------------

# Worked out by reading the 141 files (Bundles included, nested Bundles flattened):
# 270 Patient resources, of which
#   - 5 have no usable name: patient-example-infant-fetal, -newborn, -proband, and
#     bundle-references.json entries 0 (Patient/23) and 1 (no id);
#   - 4 are repeats of a patient already read: Patient/example appears three times
#     (patient-example.json, bundle-response-medsallergies and -simplesummary),
#     Patient/45 twice in bundle-references.json, Patient/123 in bundle-transaction.json
#     and again in patient-examples-cypress-template.json, and Patient/1 of
#     patient-examples-general.json has the same SSN identifier as Patient/mom;
# → 270 - 5 - 5 = 260 patients.
# 3 Appointments + 11 Encounters: 8 have no start (appointment-example-request is only
# proposed; encounters f001, f002, f003, f201, f202, xcda and example have no period)
# → 6 appointments: Appointment/example and /2docs (booked → scheduled), Encounter/emerg
# (in-progress → scheduled), Encounter/doc-example, /f203 and /home (finished → completed).
# Providers: "Dr Adam Careful" (displays) and "Dokter Bronsig" (Practitioner/f201, found
# in practitioner-example-f201-ab.json because the encounter gives no display).
EXAMPLE_PATIENTS = 260
EXAMPLE_APPOINTMENTS = 6


@needs_examples
def test_official_examples_import_the_expected_patients_and_visits(practice):
    result = import_fhir(EXAMPLES, practice=practice)

    assert result.created == Counter(
        patients=EXAMPLE_PATIENTS, appointments=EXAMPLE_APPOINTMENTS, **{"staff members": 2}
    )
    assert result.skipped["patients without a name"] == 5
    assert result.skipped["appointments without a start time"] == 8
    assert result.skipped["bundle entries without a resource"] == 20
    assert result.skipped["Organization"] == 13
    assert result.skipped["Practitioner"] == 13
    assert "Patient" not in result.skipped and "Bundle" not in result.skipped
    assert Patient.objects.filter(practice=practice).count() == EXAMPLE_PATIENTS
    visits = {a.external_id: a for a in Appointment.objects.select_related("patient", "provider")}
    assert sorted(visits) == [
        "Appointment/2docs", "Appointment/example", "Encounter/doc-example",
        "Encounter/emerg", "Encounter/f203", "Encounter/home",
    ]  # fmt: skip
    booked = visits["Appointment/example"]
    assert booked.patient.fhir_id == "example"
    assert booked.status == Appointment.Status.SCHEDULED
    assert booked.provider.name == "Dr Adam Careful"
    assert booked.duration_minutes == 120
    assert booked.starts_at == dt.datetime(2013, 12, 10, 9, 0, tzinfo=dt.UTC)
    home = visits["Encounter/home"]
    assert (home.status, home.duration_minutes) == (Appointment.Status.COMPLETED, 30)
    assert visits["Encounter/f203"].provider.name == "Dokter Bronsig"
    assert visits["Encounter/doc-example"].patient.fhir_id == "d1"  # in the same document
    assert visits["Encounter/doc-example"].duration_minutes == 600  # 12 days, clamped


@needs_examples
def test_official_examples_map_patient_fields(practice):
    import_fhir(EXAMPLES, practice=practice)

    peter = Patient.objects.get(practice=practice, fhir_id="example")
    assert (peter.first_name, peter.last_name) == ("Peter", "Chalmers")
    assert peter.date_of_birth == dt.date(1974, 12, 25)
    assert peter.external_id == "urn:oid:1.2.36.146.595.217.0.1|12345"
    assert (peter.address, peter.city, peter.postal_code) == (
        "534 Erewhon St",
        "PleasantVille",
        "3999",
    )
    pieter = Patient.objects.get(practice=practice, fhir_id="f001")
    assert pieter.email == "p.heuvel@gmail.com"
    roel = Patient.objects.get(practice=practice, fhir_id="f201")
    assert roel.phone == "+31612345678"
    chinese = Patient.objects.get(practice=practice, fhir_id="ch-example")
    assert chinese.last_name == "张无忌"  # only name.text is given
    eve = Patient.objects.get(
        practice=practice, external_id="http://hl7.org/fhir/sid/us-ssn|444222222"
    )
    assert eve.fhir_id == "mom"  # the first copy read keeps its id; Patient/1 was merged in
    no_id = Patient.objects.get(external_id="urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a")
    assert no_id.fhir_id == ""  # a POST without id or identifier is known by its fullUrl


@needs_examples
def test_second_import_of_the_official_examples_adds_nothing(practice):
    import_fhir(EXAMPLES, practice=practice)

    again = import_fhir(EXAMPLES, practice=practice)

    assert again.created == Counter()
    assert again.updated == Counter()
    assert again.unchanged == Counter(patients=EXAMPLE_PATIENTS, appointments=EXAMPLE_APPOINTMENTS)
    assert Patient.objects.count() == EXAMPLE_PATIENTS
    assert Appointment.objects.count() == EXAMPLE_APPOINTMENTS
    assert StaffMember.objects.count() == 2


# --- Synthea-style transaction Bundles -----------------------------------------------

PAT = "8c5e2a0e-6f4b-4d56-9f6a-0a1b2c3d4e5f"
DOC = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


def synthea_bundle() -> dict:
    """What Synthea writes: urn:uuid fullUrls and references, conditional Practitioner refs."""
    patient = fhir_patient(PAT, "Marcus", "Okafor")
    patient["name"][0]["given"] = ["Marcus", "J"]
    patient["name"][0]["prefix"] = ["Mr."]
    patient["identifier"] = [{"system": "https://github.com/synthetichealth/synthea", "value": PAT}]
    patient["telecom"] = [{"system": "phone", "value": "617-308-4471", "use": "home"}]
    patient["address"] = [
        {"line": ["12 Harbor Rd", "Apt 4"], "city": "Salem", "state": "MA", "postalCode": "01970"}
    ]
    patient["birthDate"] = "1987-06-14"
    dentist = {
        "resourceType": "Practitioner",
        "id": DOC,
        "name": [{"family": "Hughes", "given": ["Nora"], "prefix": ["Dr."]}],
    }
    checkup = encounter("enc-1", f"urn:uuid:{PAT}", type=[{"text": "Dental care (regime/therapy)"}])
    checkup["participant"] = [
        {
            "individual": {
                "reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999912",
                "display": "Dr. Jane Smith",
            }
        }
    ]
    planned = encounter("enc-2", f"urn:uuid:{PAT}", status="planned")
    planned["period"] = {"start": "2030-01-08T10:00:00-05:00"}
    planned["participant"] = [{"individual": {"reference": f"urn:uuid:{DOC}"}}]
    organization = {"resourceType": "Organization", "id": "org-1", "name": "Salem Dental"}
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": f"urn:uuid:{PAT}"},
    }
    resources = [organization, dentist, patient, checkup, planned, condition]
    urls = [f"urn:uuid:{resource['id']}" for resource in resources]
    result = bundle(*resources, kind="transaction", urls=urls)
    for entry in result["entry"]:
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    return result


def test_synthea_bundle_links_encounters_to_the_patient_by_urn_uuid(practice, tmp_path):
    path = write(tmp_path, "Marcus_Okafor.json", synthea_bundle())

    result = import_fhir(path, practice=practice)

    assert result.created == Counter(patients=1, appointments=2, **{"staff members": 2})
    assert result.skipped == Counter(Organization=1, Practitioner=1, Condition=1)
    marcus = Patient.objects.get()
    assert (marcus.first_name, marcus.last_name) == ("Marcus", "Okafor")
    assert marcus.fhir_id == PAT
    assert marcus.external_id == f"https://github.com/synthetichealth/synthea|{PAT}"
    assert marcus.phone == "+16173084471"
    assert (marcus.address, marcus.city, marcus.postal_code) == (
        "12 Harbor Rd, Apt 4",
        "Salem",
        "01970",
    )
    assert marcus.date_of_birth == dt.date(1987, 6, 14)
    visits = {a.external_id: a for a in marcus.appointments.select_related("provider")}
    checkup, planned = visits["Encounter/enc-1"], visits["Encounter/enc-2"]
    assert checkup.status == Appointment.Status.COMPLETED
    assert checkup.kind == "Dental care (regime/therapy)"
    assert checkup.duration_minutes == 45
    assert checkup.provider.name == "Dr. Jane Smith"
    assert checkup.starts_at == dt.datetime(2024, 3, 5, 14, 0, tzinfo=dt.UTC)
    assert planned.status == Appointment.Status.SCHEDULED
    assert planned.duration_minutes == 30  # no end: the default
    assert planned.provider.name == "Dr. Nora Hughes"  # from the Practitioner entry


def test_synthea_bundle_imported_twice_changes_nothing(practice, tmp_path):
    path = write(tmp_path, "Marcus_Okafor.json", synthea_bundle())
    import_fhir(path, practice=practice)

    again = import_fhir(path, practice=practice)

    assert again.created == Counter() and again.updated == Counter()
    assert again.unchanged == Counter(patients=1, appointments=2)
    assert (Patient.objects.count(), Appointment.objects.count()) == (1, 2)


def test_reimport_updates_changed_fields_and_keeps_the_rest(practice, tmp_path):
    phone = [{"system": "phone", "value": "202-555-0101"}]
    path = write(tmp_path, "p.json", fhir_patient("p1", telecom=phone, birthDate="1990-01-02"))
    import_fhir(path, practice=practice)
    Patient.objects.update(preferred_name="Addie", email="ada@example.com")

    write(tmp_path, "p.json", fhir_patient("p1", family="King"))
    result = import_fhir(path, practice=practice)

    assert result.updated == Counter(patients=1)
    ada = Patient.objects.get()
    assert ada.last_name == "King"
    assert ada.search_name == "ada addie king"
    # Left out of the new copy, so kept: phone, birth date; staff's own fields untouched.
    assert (ada.phone, ada.date_of_birth) == ("+12025550101", dt.date(1990, 1, 2))
    assert (ada.preferred_name, ada.email) == ("Addie", "ada@example.com")
    assert ada.external_id == "Patient/p1"


def test_reimport_matches_a_stored_patient_by_identifier_and_fills_in_the_fhir_id(
    practice, tmp_path
):
    stored = PatientFactory(practice=practice, external_id="urn:mrn|42", fhir_id="")
    resource = fhir_patient("p42", identifier=[{"system": "urn:mrn", "value": "42"}])

    result = import_fhir(write(tmp_path, "p.json", resource), practice=practice)

    assert result.updated == Counter(patients=1) and result.created == Counter()
    stored.refresh_from_db()
    assert (stored.fhir_id, stored.first_name, stored.last_name) == ("p42", "Ada", "Lovelace")


def test_reimport_updates_an_appointment_whose_status_changed(practice, tmp_path):
    write(tmp_path, "a/p.json", fhir_patient("p1"))
    write(tmp_path, "a/visit.json", appointment("a1", "Patient/p1"))
    import_fhir(tmp_path / "a", practice=practice)

    write(tmp_path, "a/visit.json", appointment("a1", "Patient/p1", status="fulfilled"))
    result = import_fhir(tmp_path / "a", practice=practice)

    assert result.updated == Counter(appointments=1)
    assert result.unchanged == Counter(patients=1)
    assert Appointment.objects.get().status == Appointment.Status.COMPLETED


def test_a_patient_matching_two_stored_patients_is_an_error(practice, tmp_path):
    PatientFactory(practice=practice, fhir_id="p1", external_id="")
    PatientFactory(practice=practice, fhir_id="", external_id="urn:mrn|7")
    resource = fhir_patient("p1", identifier=[{"system": "urn:mrn", "value": "7"}])
    path = write(tmp_path, "p.json", resource)

    with pytest.raises(ImportFailed) as failure:
        import_fhir(path, practice=practice)

    (problem,) = failure.value.problems
    assert str(problem).startswith(f"{path}: Patient/p1 matches 2 stored patients")
    assert Patient.objects.filter(first_name="Ada").count() == 0


# --- Mapping details -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("booked", "scheduled"),
        ("pending", "scheduled"),
        ("proposed", "scheduled"),
        ("arrived", "scheduled"),
        ("checked-in", "scheduled"),
        ("waitlist", "scheduled"),
        ("fulfilled", "completed"),
        ("cancelled", "cancelled"),
        ("noshow", "no_show"),
    ],
)
def test_appointment_status_maps_to_rapport_status(practice, tmp_path, status, expected):
    write(tmp_path, "f/p.json", fhir_patient("p1"))
    write(tmp_path, "f/a.json", appointment("a1", "Patient/p1", status=status))

    import_fhir(tmp_path / "f", practice=practice)

    assert Appointment.objects.get(external_id="Appointment/a1").status == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("planned", "scheduled"),
        ("arrived", "scheduled"),
        ("triaged", "scheduled"),
        ("in-progress", "scheduled"),
        ("onleave", "scheduled"),
        ("finished", "completed"),
        ("cancelled", "cancelled"),
    ],
)
def test_encounter_status_maps_to_rapport_status(practice, tmp_path, status, expected):
    write(tmp_path, "f/p.json", fhir_patient("p1"))
    write(tmp_path, "f/e.json", encounter("e1", "Patient/p1", status=status))

    import_fhir(tmp_path / "f", practice=practice)

    assert Appointment.objects.get(external_id="Encounter/e1").status == expected


def test_entered_in_error_and_unknown_visits_are_skipped_and_counted(practice, tmp_path):
    resources = [
        fhir_patient("p1"),
        appointment("a1", "Patient/p1", status="entered-in-error"),
        encounter("e1", "Patient/p1", status="entered-in-error"),
        encounter("e2", "Patient/p1", status="unknown"),
    ]
    result = import_fhir(write(tmp_path, "b.json", bundle(*resources)), practice=practice)

    assert Appointment.objects.count() == 0
    assert result.skipped == Counter(
        {
            "appointments with status entered-in-error": 1,
            "encounters with status entered-in-error": 1,
            "encounters with status unknown": 1,
        }
    )


def test_a_status_outside_r4_is_an_error(practice, tmp_path):
    path = write(tmp_path, "e.json", encounter("e1", "Patient/p1", status="done"))

    assert problems_of(path, practice) == [
        f"{path}: Encounter/e1: status 'done' is not an R4 Encounter status"
    ]


@pytest.mark.parametrize(
    ("period", "minutes_duration", "expected"),
    [
        ({"start": "2024-03-05T09:00:00Z"}, None, 30),
        ({"start": "2024-03-05T09:00:00Z"}, 50, 50),
        ({"start": "2024-03-05T09:00:00Z", "end": "2024-03-07T09:00:00Z"}, None, 600),
        ({"start": "2024-03-05T09:00:00Z", "end": "2024-03-05T09:00:20Z"}, None, 1),
        ({"start": "2024-03-05T09:00:00Z", "end": "2024-03-05T08:00:00Z"}, None, 30),
    ],
)
def test_duration_comes_from_end_minus_start_clamped(
    practice, tmp_path, period, minutes_duration, expected
):
    visit = appointment("a1", "Patient/p1", start=period["start"])
    visit.pop("end")
    if "end" in period:
        visit["end"] = period["end"]
    if minutes_duration:
        visit["minutesDuration"] = minutes_duration
    write(tmp_path, "f/a.json", visit)
    write(tmp_path, "f/p.json", fhir_patient("p1"))

    import_fhir(tmp_path / "f", practice=practice)

    assert Appointment.objects.get().duration_minutes == expected


def test_date_only_encounter_starts_at_midnight_in_the_practice_time_zone(practice, tmp_path):
    visit = encounter("e1", "Patient/p1", period={"start": "2024-07-01"})
    write(tmp_path, "f/e.json", visit)
    write(tmp_path, "f/p.json", fhir_patient("p1"))

    result = import_fhir(tmp_path / "f", practice=practice)

    assert result.created["appointments"] == 1
    assert Appointment.objects.get().starts_at == dt.datetime(2024, 7, 1, 4, 0, tzinfo=dt.UTC)


def test_visits_without_a_precise_start_are_skipped(practice, tmp_path):
    no_period = encounter("e2", "Patient/p1")
    del no_period["period"]
    request = appointment("a1", "Patient/p1", status="proposed")
    del request["start"], request["end"]
    partial = encounter("e1", "Patient/p1", period={"start": "2024-07"})
    resources = [fhir_patient("p1"), partial, no_period, request]

    result = import_fhir(write(tmp_path, "b.json", bundle(*resources)), practice=practice)

    assert result.skipped == Counter({"appointments without a start time": 3})


def test_patients_without_a_usable_name_are_skipped_and_counted(practice, tmp_path):
    resources = [
        {"resourceType": "Patient", "id": "n1"},
        {"resourceType": "Patient", "id": "n2", "name": [{"use": "official", "given": ["  "]}]},
        {"resourceType": "Patient", "id": "n3", "name": [{"use": "old", "family": "Gone"}]},
        {"resourceType": "Patient", "id": "t1", "name": [{"text": "Mary Ann Smith"}]},
        {"resourceType": "Patient", "id": "u1", "name": [{"use": "usual", "given": ["Kenzi"]}]},
    ]

    result = import_fhir(write(tmp_path, "b.json", bundle(*resources)), practice=practice)

    assert result.skipped == Counter({"patients without a name": 3})
    names = {p.fhir_id: (p.first_name, p.last_name) for p in Patient.objects.all()}
    assert names == {"t1": ("Mary Ann", "Smith"), "u1": ("Kenzi", "")}


def test_official_name_wins_over_usual_and_maiden(practice, tmp_path):
    names = [
        {"use": "maiden", "given": ["Eve"], "family": "Young"},
        {"use": "usual", "given": ["Evie"]},
        {"use": "official", "given": ["Eve", "Marie"], "family": "Everywoman"},
    ]
    import_fhir(write(tmp_path, "p.json", fhir_patient("p1", name=names)), practice=practice)

    assert (Patient.objects.get().first_name, Patient.objects.get().last_name) == (
        "Eve",
        "Everywoman",
    )


def test_invalid_phone_and_email_are_dropped_and_counted(practice, tmp_path):
    telecom = [
        {"system": "phone", "value": "call me maybe"},
        {"system": "email", "value": "not an email"},
    ]
    path = write(tmp_path, "p.json", fhir_patient("p1", telecom=telecom))

    result = import_fhir(path, practice=practice)

    assert result.created == Counter(patients=1)
    assert result.skipped == Counter({"invalid phone": 1, "invalid email": 1})
    assert (Patient.objects.get().phone, Patient.objects.get().email) == ("", "")


def test_phone_prefers_rank_and_ignores_old_numbers(practice, tmp_path):
    telecom = [
        {"system": "phone", "value": "202-555-0100", "use": "old"},
        {"system": "phone", "value": "202-555-0102", "rank": 2},
        {"system": "phone", "value": "202-555-0101", "rank": 1},
    ]
    import_fhir(write(tmp_path, "p.json", fhir_patient("p1", telecom=telecom)), practice=practice)

    assert Patient.objects.get().phone == "+12025550101"


def test_partial_birth_date_is_left_empty(practice, tmp_path):
    import_fhir(write(tmp_path, "p.json", fhir_patient("p1", birthDate="1974")), practice=practice)

    assert Patient.objects.get().date_of_birth is None


def test_identifier_without_system_keeps_the_bar(practice, tmp_path):
    resource = fhir_patient("p1", identifier=[{"type": {"text": "MRN"}}, {"value": "AB60001"}])
    import_fhir(write(tmp_path, "p.json", resource), practice=practice)

    assert Patient.objects.get().external_id == "|AB60001"


def test_too_long_name_is_an_error_naming_the_resource(practice, tmp_path):
    path = write(tmp_path, "p.json", fhir_patient("p1", family="x" * 101))

    assert problems_of(path, practice) == [
        f"{path}: Patient/p1: last name is longer than 100 characters"
    ]


def test_appointment_without_a_known_patient_is_skipped(practice, tmp_path):
    path = write(tmp_path, "a.json", appointment("a1", "Patient/nobody"))

    result = import_fhir(path, practice=practice)

    assert result.skipped == Counter({"appointments without a known patient": 1})
    assert Appointment.objects.count() == 0


def test_appointment_links_to_a_patient_stored_by_an_earlier_import(practice, tmp_path):
    dana = PatientFactory(practice=practice, fhir_id="dana")
    StaffMemberFactory(practice=practice, name="Dr Adam Careful")
    visit = appointment("a1", "Patient/dana")
    visit["participant"].append(
        {
            "actor": {"reference": "Practitioner/x", "display": "DR ADAM CAREFUL"},
            "status": "accepted",
        }
    )

    result = import_fhir(write(tmp_path, "a.json", visit), practice=practice)

    assert "staff members" not in result.created  # matched regardless of case
    stored = Appointment.objects.get()
    assert (stored.patient, stored.provider.name) == (dana, "Dr Adam Careful")


def test_visit_without_provider_keeps_the_one_staff_set(practice, tmp_path):
    write(tmp_path, "f/p.json", fhir_patient("p1"))
    write(tmp_path, "f/a.json", appointment("a1", "Patient/p1"))
    import_fhir(tmp_path / "f", practice=practice)
    hygienist = StaffMemberFactory(practice=practice, name="Sam Hygienist")
    Appointment.objects.update(provider=hygienist)

    result = import_fhir(tmp_path / "f", practice=practice)

    assert result.unchanged == Counter(patients=1, appointments=1)
    assert Appointment.objects.get().provider == hygienist


def test_contained_patient_is_never_imported_but_links_by_identifier(practice, tmp_path):
    own = PatientFactory(practice=practice, external_id="urn:mrn|55")
    contained = {
        "resourceType": "Patient",
        "id": "inner",
        "identifier": [{"system": "urn:mrn", "value": "55"}],
        "name": [{"family": "Contained"}],
    }
    visit = encounter("e1", "#inner", contained=[contained])

    result = import_fhir(write(tmp_path, "b.json", bundle(visit)), practice=practice)

    assert result.created == Counter(appointments=1)
    assert Patient.objects.count() == 1
    assert Appointment.objects.get().patient == own


def test_patient_referenced_by_conditional_identifier(practice, tmp_path):
    own = PatientFactory(practice=practice, external_id="urn:mrn|9")
    visit = encounter("e1", "Patient?identifier=urn:mrn%7C9")

    import_fhir(write(tmp_path, "e.json", visit), practice=practice)

    assert Appointment.objects.get().patient == own


def test_same_patient_in_several_files_is_one_patient(practice, tmp_path):
    write(tmp_path, "f/a.json", fhir_patient("p1", given="Old"))
    write(tmp_path, "f/b.json", fhir_patient("p1", given="New"))

    result = import_fhir(tmp_path / "f", practice=practice)

    assert result.created == Counter(patients=1)
    assert Patient.objects.get().first_name == "New"  # files are read in sorted order


def test_a_patient_joining_two_patients_of_the_same_import_is_an_error(practice, tmp_path):
    mrn = [{"system": "urn:mrn", "value": "2"}]
    resources = [
        fhir_patient("p1"),
        fhir_patient("p2", identifier=mrn),
        fhir_patient("p1", identifier=mrn),
    ]
    path = write(tmp_path, "b.json", bundle(*resources))

    assert problems_of(path, practice) == [
        f"{path}: entry[2]: Patient/p1 matches 2 different patients read before it"
    ]


def test_patient_without_id_identifier_or_full_url_is_skipped(practice, tmp_path):
    resource = fhir_patient("x")
    del resource["id"]

    result = import_fhir(write(tmp_path, "p.json", resource), practice=practice)

    assert result.skipped == Counter({"patients without an id or identifier": 1})
    assert Patient.objects.count() == 0


def test_progress_is_called_per_resource(practice, tmp_path):
    calls = []
    path = write(tmp_path, "b.json", bundle(fhir_patient("p1"), fhir_patient("p2")))

    import_fhir(path, practice=practice, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1, None), (2, None), (2, 2)]


# --- NDJSON --------------------------------------------------------------------------


def ndjson(*lines: object) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def test_ndjson_bulk_export_files_in_a_folder(practice, tmp_path):
    write(tmp_path, "export/Encounter.ndjson", ndjson(encounter("e1", "Patient/p1")))
    write(tmp_path, "export/Patient.ndjson", ndjson(fhir_patient("p1"), "", fhir_patient("p2")))
    write(tmp_path, "export/README.txt", "not FHIR, not read")

    result = import_fhir(tmp_path / "export", practice=practice)

    # Encounter.ndjson is read before Patient.ndjson: links are made once all is read.
    assert result.created == Counter(patients=2, appointments=1)
    assert Appointment.objects.get().patient.fhir_id == "p1"


def test_ndjson_problems_name_the_line(practice, tmp_path):
    content = ndjson(
        fhir_patient("p1"),
        fhir_patient("p2", birthDate="2024-02-30"),
        '{"resourceType": "Patient", "id": ',
        fhir_patient("p4"),
    )
    path = write(tmp_path, "Patient.ndjson", content)

    assert problems_of(path, practice) == [
        f"{path}:2: invalid Patient/p2: {FEB_30}",
        f"{path}:3: not valid JSON: Expecting value (column 35)",
    ]


def test_ndjson_line_over_the_size_limit(practice, tmp_path, settings):
    settings.RAPPORT_IMPORT_MAX_BYTES = 200
    big = fhir_patient("p2", family="x" * 300)
    path = write(tmp_path, "Patient.ndjson", ndjson(fhir_patient("p1"), big, fhir_patient("p3")))

    assert problems_of(path, practice) == [
        f"{path}:2: line is longer than 200 bytes (RAPPORT_IMPORT_MAX_BYTES)"
    ]


# --- Hostile and malformed input -----------------------------------------------------


def deeply_nested(levels: int) -> str:
    """A Patient whose extensions nest ``levels`` deep: two JSON levels each."""
    inner = '{"url": "http://example.org/x", "valueString": "end"}'
    for _ in range(levels):
        inner = f'{{"url": "http://example.org/x", "extension": [{inner}]}}'
    return f'{{"resourceType": "Patient", "id": "deep", "extension": [{inner}]}}'


def patient_text(body: str) -> str:
    return '{"resourceType": "Patient", ' + body + "}"


TOO_DEEP = f": nested too deeply (more than {MAX_DEPTH} levels)"
NOT_AN_OBJECT = ": expected a FHIR resource (a JSON object), found "
FEB_30 = (
    "birthDate: Input should be a valid date or datetime, day value is outside expected range"
    " ('2024-02-30')"
)
MONTH_13 = "birthDate: Date value string does not match spec regex. ('2024-13')"
HOSTILE = [
    # (case, file content, what follows the path in the problem: ":LINE: reason" or ": reason")
    ("not-json", '{"resourceType": "Patient",\n  "id": }',
     ":2: not valid JSON: Expecting value (column 9)"),
    ("duplicate-keys", patient_text('"id": "a", "id": "b"'),
     ": not valid JSON: duplicate key 'id'"),
    ("huge-number", patient_text('"multipleBirthInteger": 1e400'),
     ": not valid JSON: number 1e400 is out of range"),
    ("nan", patient_text('"multipleBirthInteger": NaN'),
     ": not valid JSON: NaN is not a JSON number"),
    ("infinity", patient_text('"multipleBirthInteger": -Infinity'),
     ": not valid JSON: -Infinity is not a JSON number"),
    ("depth-1000", deeply_nested(500), TOO_DEEP),  # json itself gives up: RecursionError
    ("depth-100", deeply_nested(50), TOO_DEEP),  # parses, but is refused before pydantic
    ("array", '[{"resourceType": "Patient"}]', NOT_AN_OBJECT + "an array"),
    ("string", '"Patient"', NOT_AN_OBJECT + "a string"),
    ("no-type", '{"id": "x", "name": [{"family": "A"}]}',
     ": not a FHIR resource: resourceType is missing"),
    ("type-number", '{"resourceType": 7}', ": resourceType must be a string, found a number"),
    ("unknown-type", '{"resourceType": "Foo", "id": "x"}', ": unknown resourceType 'Foo'"),
    ("wrong-case", '{"resourceType": "patient", "id": "x"}',
     ": unknown resourceType 'patient' (did you mean 'Patient'?)"),
    ("datatype", '{"resourceType": "Address", "city": "X"}', ": unknown resourceType 'Address'"),
    ("abstract", '{"resourceType": "DomainResource"}', ": unknown resourceType 'DomainResource'"),
    ("feb-30", patient_text('"id": "x", "birthDate": "2024-02-30"'),
     f": invalid Patient/x: {FEB_30}"),
    ("month-13", patient_text('"id": "x", "birthDate": "2024-13"'),
     f": invalid Patient/x: {MONTH_13}"),
    ("unknown-field", patient_text('"id": "x", "colour": "blue"'),
     ": invalid Patient/x: colour: Extra inputs are not permitted ('blue')"),
    ("empty", "", ": empty file"),
    ("blank", " \n\t\n", ": empty file"),
    ("nul", patient_text('"name": [{"family": "A\\u0000B"}]'),
     ": a text contains a NUL character (\\u0000), which cannot be stored"),
    ("surrogate", patient_text('"name": [{"family": "A\\ud800B"}]'),
     ": a text contains an unpaired surrogate (invalid Unicode), which cannot be stored"),
    ("latin-1", patient_text('"name": [{"family": "Jos\xe9"}]').encode("latin-1"),
     ": not UTF-8 text (bad byte at offset 52)"),
    ("contained-foo", json.dumps(encounter("e1", "#x", contained=[{"resourceType": "Foo"}])),
     ": invalid Encounter/e1: contained[0]: unknown resourceType 'Foo'"),
    ("raw-nul-byte", b'{"resourceType": "Patient", "id": "a\x00"}',
     ":1: not valid JSON: Invalid control character at (column 37)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "expected"), HOSTILE, ids=[case[0] for case in HOSTILE]
)
def test_hostile_file_is_one_clean_problem_and_nothing_is_stored(
    practice, tmp_path, name, content, expected
):
    path = write(tmp_path, f"{name}.json", content)

    assert problems_of(path, practice) == [f"{path}{expected}"]


def test_json_with_a_byte_order_mark_is_accepted(practice, tmp_path):
    path = write(tmp_path, "bom.json", b"\xef\xbb\xbf" + json.dumps(fhir_patient("p1")).encode())

    assert import_fhir(path, practice=practice).created == Counter(patients=1)


def test_bundle_problems_name_the_entry(practice, tmp_path):
    inner = bundle(
        fhir_patient("ok"), {"resourceType": "Patient", "id": "x", "birthDate": "2024-13"}
    )
    outer = bundle(
        fhir_patient("p1"), {"resourceType": "Foo"}, inner, "just text", kind="searchset"
    )
    path = write(tmp_path, "b.json", outer)

    assert problems_of(path, practice) == [
        f"{path}: entry[1]: unknown resourceType 'Foo'",
        f"{path}: entry[2].resource.entry[1]: invalid Patient/x: {MONTH_13}",
        f"{path}: entry[3]: expected a FHIR resource (a JSON object), found a string",
    ]


def test_bundle_shell_problems_are_reported(practice, tmp_path):
    path = write(tmp_path, "b.json", {"resourceType": "Bundle", "type": "collection", "entry": {}})

    (problem,) = problems_of(path, practice)
    assert problem.startswith(f"{path}: invalid Bundle: entry: ")


def test_one_bad_file_in_a_folder_stores_nothing(practice, tmp_path):
    write(tmp_path, "f/a-good.json", fhir_patient("p1"))
    bad = write(
        tmp_path, "f/sub/b-bad.json", '{"resourceType": "Patient", "birthDate": "2024-02-30"}'
    )
    write(tmp_path, "f/c-good.ndjson", ndjson(fhir_patient("p2")))

    problems = problems_of(tmp_path / "f", practice)

    assert len(problems) == 1 and problems[0].startswith(f"{bad}: invalid Patient: birthDate: ")


def test_many_problems_stop_after_a_hundred(practice, tmp_path):
    lines = ndjson(*[{"resourceType": "Nope"}] * 150)
    path = write(tmp_path, "bad.ndjson", lines)

    problems = problems_of(path, practice)

    assert len(problems) == 101
    assert problems[-1] == f"{path}: too many problems; stopped here"


def test_file_over_the_size_limit_is_refused(practice, tmp_path, settings):
    settings.RAPPORT_IMPORT_MAX_BYTES = 100
    path = write(tmp_path, "big.json", bundle(*[fhir_patient(f"p{i}") for i in range(5)]))

    (problem,) = problems_of(path, practice)
    assert problem.startswith(f"{path}: ") and problem.endswith(
        "bytes is over the limit of 100 (RAPPORT_IMPORT_MAX_BYTES)"
    )


def test_bundle_with_100k_entries_imports(practice, tmp_path):
    basics = [{"resourceType": "Basic", "code": {"text": "note"}}] * 100_000
    path = write(tmp_path, "big.json", bundle(fhir_patient("p1"), *basics))

    result = import_fhir(path, practice=practice)

    assert result.created == Counter(patients=1)
    assert result.skipped == Counter(Basic=100_000)


def test_empty_folder(practice, tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    write(tmp_path, "empty/notes.txt", "no FHIR here")

    assert problems_of(tmp_path / "empty", practice) == [
        f"{tmp_path / 'empty'}: no FHIR files found (*.json, *.ndjson)"
    ]


def test_missing_path(practice, tmp_path):
    assert problems_of(tmp_path / "nope.json", practice) == [
        f"{tmp_path / 'nope.json'}: no such file or folder"
    ]


def test_empty_ndjson(practice, tmp_path):
    path = write(tmp_path, "Patient.ndjson", "\n\n")

    assert problems_of(path, practice) == [f"{path}: empty file"]


# --- Tenancy -------------------------------------------------------------------------


def test_reference_to_another_practices_patient_never_links(practice, other_patient, tmp_path):
    other_patient.fhir_id = "shared-id"
    other_patient.external_id = "urn:mrn|1"
    other_patient.save()
    contained = {
        "resourceType": "Patient",
        "id": "c",
        "identifier": [{"system": "urn:mrn", "value": "1"}],
    }
    visits = [
        encounter("e1", "Patient/shared-id"),
        encounter("e2", "http://elsewhere.example/fhir/Patient/shared-id"),
        encounter("e3", "Patient?identifier=urn:mrn|1"),
        encounter("e4", "#c", contained=[contained]),
        appointment("a1", "Patient/shared-id"),
    ]

    result = import_fhir(write(tmp_path, "b.json", bundle(*visits)), practice=practice)

    assert result.skipped == Counter({"appointments without a known patient": 5})
    assert Appointment.objects.count() == 0
    assert not other_patient.appointments.exists()


def test_patient_with_another_practices_ids_is_a_new_patient_here(
    practice, other_patient, tmp_path
):
    other_patient.fhir_id = "shared-id"
    other_patient.external_id = "urn:mrn|1"
    other_patient.save()
    resource = fhir_patient("shared-id", identifier=[{"system": "urn:mrn", "value": "1"}])

    result = import_fhir(write(tmp_path, "p.json", resource), practice=practice)

    assert result.created == Counter(patients=1)
    other_patient.refresh_from_db()
    assert other_patient.last_name == "Patient"  # untouched
    assert Patient.objects.get(practice=practice).fhir_id == "shared-id"


def test_appointment_ids_are_per_practice(practice, other_practice, tmp_path):
    theirs = AppointmentFactory(patient__practice=other_practice, external_id="Appointment/a1")
    write(tmp_path, "f/p.json", fhir_patient("p1"))
    write(tmp_path, "f/a.json", appointment("a1", "Patient/p1"))

    result = import_fhir(tmp_path / "f", practice=practice)

    assert result.created == Counter(patients=1, appointments=1)
    theirs.refresh_from_db()
    assert theirs.practice == other_practice and theirs.patient.practice == other_practice


# --- The command ---------------------------------------------------------------------


def test_command_imports_and_prints_a_summary(practice, tmp_path, capsys):
    path = write(tmp_path, "b.json", bundle(fhir_patient("p1"), encounter("e1", "Patient/p1")))

    call_command("import", "fhir", str(path), "--practice", str(practice.pk), "--no-progress")

    out = capsys.readouterr().out
    assert out.strip() == f"{path}: created 1 appointments, 1 patients"
    assert Patient.objects.get().visit_count == 1  # figures refreshed after the import
    assert AuditEvent.objects.filter(action="import", object_type="fhir").count() == 1


def test_command_failure_raises_and_lists_problems(practice, tmp_path, capsys):
    write(tmp_path, "f/a.json", fhir_patient("p1"))
    bad = write(tmp_path, "f/b.ndjson", ndjson(fhir_patient("p2"), {"resourceType": "Foo"}))

    with pytest.raises(CommandError) as failure:
        call_command(
            "import", "fhir", str(tmp_path / "f"), "--practice", str(practice.pk), "--no-progress"
        )

    assert str(failure.value) == f"{tmp_path / 'f'}: nothing imported (1 problem(s))"
    assert capsys.readouterr().err.strip() == f"{bad}:2: unknown resourceType 'Foo'"
    assert Patient.objects.count() == 0


def test_command_reports_a_missing_path(practice, tmp_path, capsys):
    with pytest.raises(CommandError, match="nothing imported"):
        call_command(
            "import", "fhir", str(tmp_path / "x"), "--practice", str(practice.pk), "--no-progress"
        )

    assert capsys.readouterr().err.strip() == f"{tmp_path / 'x'}: no such file or folder"
