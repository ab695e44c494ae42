"""CSV imports: the documented columns, re-imports, bad and hostile files, tenancy, the CLI.

Every sample file is written by the test itself (no real patient data). Problems are
compared as the exact ``FILE:LINE: reason`` strings a person would read.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.models import AuditEvent, StaffMember
from core.tests.factories import StaffMemberFactory
from patients.imports.common import ImportFailed
from patients.imports.csv import appointments as appointment_import
from patients.imports.csv import import_appointments_csv, import_patients_csv
from patients.imports.csv import patients as patient_import
from patients.imports.csv.patients import PATIENT_COLUMNS
from patients.models import Appointment, Household, Patient
from patients.tests.factories import AppointmentFactory, HouseholdFactory, PatientFactory

UTC = dt.UTC


def write(tmp_path: Path, content: str | bytes, name: str = "patients.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def problems(importer, path: Path, practice, **options) -> list[str]:
    """The problems an import fails with; it must also have stored nothing."""
    patients_before = Patient.objects.count()
    appointments_before = Appointment.objects.count()
    with pytest.raises(ImportFailed) as failure:
        importer(path, practice=practice, **options)
    assert Patient.objects.count() == patients_before
    assert Appointment.objects.count() == appointments_before
    return [str(problem) for problem in failure.value.problems]


def patient_problems(tmp_path: Path, practice, content: str | bytes) -> list[str]:
    return problems(import_patients_csv, write(tmp_path, content), practice)


def one_patient_problem(tmp_path: Path, practice, content: str | bytes) -> str:
    (problem,) = patient_problems(tmp_path, practice, content)
    return problem


def ext(practice, external_id: str) -> Patient:
    return Patient.objects.get(practice=practice, external_id=external_id)


FAMILY = lines(
    "external_id,first_name,last_name,date_of_birth,email,phone,household,"
    "guardian_external_id,referred_by_external_id,status,preferred_channel,goals",
    "P1,María,López,1980-04-02,Maria.Lopez@EXAMPLE.COM,(202) 555-0143,H1,,,active,sms,"
    "Keep my own teeth",
    "P2,Tomás,López,2015-06-01,,,H1,P1,,,,",
    "P3,Ana,Ruiz,1975-01-01,ana@example.com,+1 202 555 0199,,,P1,,,",
    # P4's guardian comes later in the file: links are resolved after every row exists.
    "P4,Leo,Ruiz,2016-01-01,,,H2,P5,,,,",
    "P5,Carmen,Ruiz,1985-01-01,,,H2,,P3,departed,letter,",
)


# --- Patients: the happy path and re-imports ----------------------------------------------


def test_patients_import_with_households_guardians_and_referrals(tmp_path, practice):
    result = import_patients_csv(write(tmp_path, FAMILY), practice=practice)

    assert result.created == {"patients": 5}
    assert result.rejected == []
    maria, tomas, ana, leo, carmen = (ext(practice, f"P{n}") for n in range(1, 6))
    assert maria.email == "Maria.Lopez@example.com"  # the domain is lower-cased, not the name
    assert maria.phone == "+12025550143"
    assert maria.date_of_birth == dt.date(1980, 4, 2)
    assert maria.preferred_channel == "sms"
    assert maria.goals == "Keep my own teeth"
    assert maria.search_name == "maria lopez"  # set although bulk_create skips save()
    assert tomas.guardian == maria
    assert tomas.household == maria.household
    assert maria.household.external_id == "H1"
    assert maria.household.practice == practice
    assert leo.guardian == carmen
    assert leo.household == carmen.household != maria.household
    assert ana.referred_by == maria
    assert carmen.referred_by == ana
    assert carmen.status == "departed" and carmen.departed_at is not None
    assert ana.phone == "+12025550199"
    assert Household.objects.filter(practice=practice).count() == 2


def test_patients_reimport_adds_nothing_and_updates_what_changed(tmp_path, practice):
    path = write(tmp_path, FAMILY)
    import_patients_csv(path, practice=practice)
    before = {p.external_id: p.updated_at for p in Patient.objects.all()}

    again = import_patients_csv(path, practice=practice)

    assert again.created == {} and again.updated == {}
    assert again.unchanged == {"patients": 5}
    assert {p.external_id: p.updated_at for p in Patient.objects.all()} == before

    changed = write(tmp_path, FAMILY.replace("ana@example.com", "ana.ruiz@example.com"))
    result = import_patients_csv(changed, practice=practice)

    assert result.updated == {"patients": 1}
    assert result.unchanged == {"patients": 4}
    assert ext(practice, "P3").email == "ana.ruiz@example.com"
    assert Patient.objects.count() == 5
    assert Household.objects.count() == 2


def test_reimport_changing_only_a_name_refreshes_the_search_name(tmp_path, practice):
    import_patients_csv(write(tmp_path, FAMILY), practice=practice)

    import_patients_csv(write(tmp_path, FAMILY.replace("P3,Ana,", "P3,Anabel,")), practice=practice)

    assert ext(practice, "P3").search_name == "anabel ruiz"
    assert list(Patient.objects.search("anabel")) == [ext(practice, "P3")]


def test_columns_missing_from_the_file_are_left_alone_and_blank_cells_clear(tmp_path, practice):
    import_patients_csv(write(tmp_path, FAMILY), practice=practice)

    result = import_patients_csv(
        write(tmp_path, lines("external_id,first_name,last_name,household", "P1,María,López,")),
        practice=practice,
    )

    maria = ext(practice, "P1")
    assert result.updated == {"patients": 1}
    assert maria.household is None  # the column is there and blank: cleared
    assert maria.goals == "Keep my own teeth"  # no goals column: untouched
    assert maria.phone == "+12025550143"


def test_a_new_guardian_later_in_the_file_counts_as_an_update(tmp_path, practice):
    PatientFactory(practice=practice, external_id="K1", first_name="Kid", last_name="Moss")
    path = write(
        tmp_path,
        lines(
            "external_id,first_name,last_name,guardian_external_id",
            "K1,Kid,Moss,G1",
            "G1,Gwen,Moss,",
        ),
    )

    result = import_patients_csv(path, practice=practice)

    assert result.created == {"patients": 1}
    assert result.updated == {"patients": 1}
    assert ext(practice, "K1").guardian == ext(practice, "G1")
    assert import_patients_csv(path, practice=practice).unchanged == {"patients": 2}


def test_batches_link_across_batch_boundaries(tmp_path, practice, monkeypatch):
    monkeypatch.setattr(patient_import, "BATCH_SIZE", 2)
    seen = []

    result = import_patients_csv(
        write(tmp_path, FAMILY), practice=practice, progress=lambda *args: seen.append(args)
    )

    assert result.created == {"patients": 5}
    assert ext(practice, "P4").guardian == ext(practice, "P5")
    assert ext(practice, "P2").guardian == ext(practice, "P1")
    assert seen[-1] == (5, 5)


def test_header_names_are_case_insensitive_and_trimmed(tmp_path, practice):
    path = write(tmp_path, lines(" External_ID , First_Name,LAST_NAME ", "P1,Ann,Lee"))

    import_patients_csv(path, practice=practice)

    assert ext(practice, "P1").first_name == "Ann"


def test_a_trailing_comma_on_every_line_is_harmless(tmp_path, practice):
    path = write(tmp_path, lines("external_id,first_name,last_name,", "P1,Ann,Lee,", "P2,Bo,Lee"))

    assert import_patients_csv(path, practice=practice).created == {"patients": 2}


def test_blank_lines_are_skipped_and_quoted_newlines_are_kept(tmp_path, practice):
    path = write(
        tmp_path,
        "external_id,first_name,last_name,goals\r\n\r\n"
        'P1,Ann,Lee,"Whiter teeth\r\nNo more gaps"\r\n,,,\r\n',
    )

    import_patients_csv(path, practice=practice)

    assert ext(practice, "P1").goals == "Whiter teeth\r\nNo more gaps"
    assert Patient.objects.count() == 1


def test_header_only_imports_nothing_without_error(tmp_path, practice):
    result = import_patients_csv(
        write(tmp_path, "external_id,first_name,last_name\n"), practice=practice
    )

    assert result.summary() == "nothing to import"
    assert Patient.objects.count() == 0


# --- Patients: bad rows -------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_nothing_is_stored(tmp_path, practice):
    path = write(
        tmp_path,
        lines(
            "external_id,first_name,last_name,date_of_birth,email,phone",
            "P1,Good,Row,1980-01-01,ok@example.com,202-555-0143",
            "P2,Amb,Date,02/03/2024,,",
            "P3,Future,Born,2999-01-01,,",
            "P4,Old,Born,1800-01-01,,",
            "P5,No,Day,2024-02-30,,",
            "P6,Bad,Email,,not-an-email,",
            "P7,Bad,Phone,,,1234567890123456",
            "P8,   ,Blank,,,",
            'P9,"=HYPERLINK(""http://x"",""click"")",Formula,,,',
            "P1,Dup,Row,,,",
            f"P10,{'X' * 101},Long,,,",
            ",No,Id,,,",
            "P12,Two,Things,29/02/2023,a@b@c,",
        ),
    )

    assert problems(import_patients_csv, path, practice) == [
        f"{path}:3: date_of_birth '02/03/2024' is not written YYYY-MM-DD "
        "(dates like 02/03/2024 are ambiguous)",
        f"{path}:4: date_of_birth 2999-01-01 is in the future",
        f"{path}:5: date_of_birth 1800-01-01 is before 1900",
        f"{path}:6: date_of_birth '2024-02-30' is not a real date",
        f"{path}:7: email 'not-an-email' is not an email address",
        f"{path}:8: phone '1234567890123456' has the wrong number of digits",
        f"{path}:9: first_name is blank",
        f"{path}:10: first_name "
        """'=HYPERLINK("http://x","click")' looks like a spreadsheet formula""",
        f"{path}:11: external_id 'P1' is also on line 2",
        f"{path}:12: first_name is longer than 100 characters",
        f"{path}:13: external_id is blank",
        f"{path}:14: date_of_birth '29/02/2023' is not written YYYY-MM-DD "
        "(dates like 02/03/2024 are ambiguous); email 'a@b@c' is not an email address",
    ]


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("02/03/2024", "is not written YYYY-MM-DD (dates like 02/03/2024 are ambiguous)"),
        ("29/02/2023", "is not written YYYY-MM-DD (dates like 02/03/2024 are ambiguous)"),
        ("80-04-02", "is not written YYYY-MM-DD (dates like 02/03/2024 are ambiguous)"),
        ("1980-4-2", "is not written YYYY-MM-DD (dates like 02/03/2024 are ambiguous)"),
        ("１９８０-04-02", "is not written YYYY-MM-DD (dates like 02/03/2024 are ambiguous)"),
        ("2023-02-29", "is not a real date"),
        ("1980-13-01", "is not a real date"),
    ],
)
def test_dates_must_be_iso(tmp_path, practice, written, reason):
    content = lines(HEADER + ",date_of_birth", f"P1,Ann,Lee,{written}")
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:2: date_of_birth {written!r} {reason}"
    )


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("(202) 555-0143", "+12025550143"),
        ("202.555.0143", "+12025550143"),
        ("+1 202 555 0143", "+12025550143"),
        ("２０２ ５５５ ０１４３", "+12025550143"),  # fullwidth digits
        ("+44 20 7946 0958", "+442079460958"),
        ("", ""),
    ],
)
def test_phones_are_stored_as_e164(tmp_path, practice, written, stored):
    import_patients_csv(
        write(tmp_path, lines(HEADER + ",phone", f"P1,Ann,Lee,{written}")), practice=practice
    )

    assert ext(practice, "P1").phone == stored


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("ANA@EXAMPLE.COM", "ANA@example.com"),
        ("  ana@example.com  ", "ana@example.com"),
        ("maria@Bücher.de", "maria@bücher.de"),
    ],
)
def test_emails_keep_the_local_part_and_lower_the_domain(tmp_path, practice, written, stored):
    import_patients_csv(
        write(tmp_path, lines(HEADER + ",email", f"P1,Ann,Lee,{written}")), practice=practice
    )

    assert ext(practice, "P1").email == stored


def test_unicode_local_part_is_not_an_email_address(tmp_path, practice):
    content = lines(HEADER + ",email", "P1,Ann,Lee,jösé@example.com")
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:2: email 'jösé@example.com' is not an email address"
    )


def test_line_numbers_are_where_a_multiline_record_starts(tmp_path, practice):
    path = write(
        tmp_path,
        lines(
            "external_id,first_name,last_name,goals",
            'P1,Ann,Lee,"one',
            "two",
            'three"',
            'P2,,Blank,"four',
            'five"',
            "P3,Bo,Lee,",
            "P4,Cy,=Lee,",
        ),
    )

    assert problems(import_patients_csv, path, practice) == [
        f"{path}:5: first_name is blank",
        f"{path}:8: last_name '=Lee' looks like a spreadsheet formula",
    ]


def test_first_visit_before_birth_and_bad_choices(tmp_path, practice):
    path = write(
        tmp_path,
        lines(
            "external_id,first_name,last_name,date_of_birth,first_visit_on,status,preferred_channel",
            "P1,Ann,Lee,1990-01-01,1985-01-01,gone,fax",
        ),
    )

    assert problems(import_patients_csv, path, practice) == [
        f"{path}:2: first_visit_on 1985-01-01 is before date_of_birth 1990-01-01; "
        "status 'gone' is not one of active, departed; "
        "preferred_channel 'fax' is not one of email, sms, phone, letter"
    ]


def test_own_guardian_and_unknown_guardian_are_rejected(tmp_path, practice):
    path = write(
        tmp_path,
        lines(
            "external_id,first_name,last_name,guardian_external_id,referred_by_external_id",
            "P1,Ann,Lee,P1,",
            "P2,Bo,Lee,,P99",
        ),
    )

    assert problems(import_patients_csv, path, practice) == [
        f"{path}:2: guardian_external_id is the patient's own external_id",
        f"{path}:3: referred_by_external_id 'P99' is not a patient of this practice or this file",
    ]


DEPENDENTS = lines(
    "external_id,first_name,last_name,date_of_birth,guardian_external_id",
    "P1,Good,Parent,1980-01-01,",
    "P2,Bad,Parent,31/12/1980,",
    "P3,Child,OfBad,2015-01-01,P2",
    "P4,Grandchild,OfChild,2020-01-01,P3",
    "P5,Child,OfGood,2015-01-01,P1",
    "P6,Child,OfNobody,2015-01-01,P99",
)


def dependent_problems(path: Path) -> list[str]:
    return [
        f"{path}:3: date_of_birth '31/12/1980' is not written YYYY-MM-DD "
        "(dates like 02/03/2024 are ambiguous)",
        f"{path}:4: guardian_external_id 'P2' is on line 3, which was rejected",
        f"{path}:5: guardian_external_id 'P3' is on line 4, which was rejected",
        f"{path}:7: guardian_external_id 'P99' is not a patient of this practice or this file",
    ]


def test_rows_that_depend_on_a_bad_row_are_reported_too(tmp_path, practice):
    path = write(tmp_path, DEPENDENTS)

    assert problems(import_patients_csv, path, practice) == dependent_problems(path)


def test_skip_invalid_stores_the_good_rows_and_lists_the_rejected(tmp_path, practice):
    path = write(tmp_path, DEPENDENTS)

    result = import_patients_csv(path, practice=practice, skip_invalid=True)

    assert result.created == {"patients": 2}
    assert [str(problem) for problem in result.rejected] == dependent_problems(path)
    assert sorted(Patient.objects.values_list("external_id", flat=True)) == ["P1", "P5"]
    assert ext(practice, "P5").guardian == ext(practice, "P1")
    assert result.summary() == "created 2 patients; rejected 4 rows"


def test_a_guardian_already_stored_survives_its_bad_row(tmp_path, practice):
    PatientFactory(practice=practice, external_id="P2", first_name="Bad", last_name="Parent")

    result = import_patients_csv(write(tmp_path, DEPENDENTS), practice=practice, skip_invalid=True)

    assert result.created == {"patients": 4}  # P1, P3, P4, P5: P2 exists, P6 is rejected
    assert [problem.line for problem in result.rejected] == [3, 7]
    assert ext(practice, "P3").guardian == ext(practice, "P2")


def test_skip_invalid_with_no_good_row_fails(tmp_path, practice):
    path = write(tmp_path, lines("external_id,first_name,last_name", "P1,,Lee"))

    assert problems(import_patients_csv, path, practice, skip_invalid=True) == [
        f"{path}:2: first_name is blank"
    ]


# --- Patients: the header -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("external_id,first_name", "missing column last_name"),
        (
            "external_id,first_name,last_name,Email,email",
            "column email appears twice (columns 4 and 5)",
        ),
        (
            "external_id,practice_id,first_name,last_name",
            "column practice_id is not allowed: the practice is chosen with --practice",
        ),
        (
            "external_id,practice,first_name,last_name",
            "column practice is not allowed: the practice is chosen with --practice",
        ),
        ("external_id,,first_name,last_name", "column 2 has no name"),
        (
            "external_id;first_name;last_name",
            "the columns are separated by semicolons: save the file as CSV (commas)",
        ),
        (
            "external_id\tfirst_name\tlast_name",
            "the columns are separated by tabs: save the file as CSV (commas)",
        ),
    ],
)
def test_header_problems_name_the_column(tmp_path, practice, header, reason):
    path = write(tmp_path, lines(header, "P1,Ann,Lee"))

    assert one_patient_problem(tmp_path, practice, path.read_bytes()) == f"{path}:1: {reason}"


def test_unknown_columns_are_named(tmp_path, practice):
    path = write(tmp_path, lines("external_id,first_name,last_name,shoe_size,Notes", "P1,A,B,9,x"))

    problem = one_patient_problem(tmp_path, practice, path.read_bytes())

    assert problem.startswith(
        f"{path}:1: unknown columns 'shoe_size', 'notes' (known: external_id,"
    )


def test_several_header_problems_are_reported_together(tmp_path, practice):
    path = write(tmp_path, lines("id,first_name,first_name", "P1,Ann,Ann"))

    assert patient_problems(tmp_path, practice, path.read_bytes()) == [
        f"{path}:1: column first_name appears twice (columns 2 and 3)",
        f"{path}:1: unknown columns 'id' (known: {', '.join(PATIENT_COLUMNS.known)})",
        f"{path}:1: missing column external_id",
        f"{path}:1: missing column last_name",
    ]


def test_ten_thousand_columns(tmp_path, practice):
    header = ",".join(["external_id", "first_name", "last_name"] + [f"c{n}" for n in range(9997)])
    path = write(tmp_path, lines(header, "P1,Ann,Lee"))

    assert one_patient_problem(tmp_path, practice, path.read_bytes()) == (
        f"{path}:1: the header has 10,000 columns; at most 100 are allowed"
    )


def test_rows_with_the_wrong_number_of_values(tmp_path, practice):
    path = write(
        tmp_path, lines("external_id,first_name,last_name", "P1,Ann", "P2,Bo,Lee,extra,more")
    )

    assert patient_problems(tmp_path, practice, path.read_bytes()) == [
        f"{path}:2: has 2 values but the header has 3 columns",
        f"{path}:3: has 5 values but the header has 3 columns",
    ]


# --- Patients: hostile files --------------------------------------------------------------

HEADER = "external_id,first_name,last_name"


def test_empty_file(tmp_path, practice):
    path = write(tmp_path, b"")

    assert one_patient_problem(tmp_path, practice, b"") == f"{path}: is empty (0 bytes)"


def test_file_of_blank_lines_has_no_header(tmp_path, practice):
    path = write(tmp_path, "\n\r\n\n")

    assert one_patient_problem(tmp_path, practice, "\n\r\n\n") == f"{path}: has no header row"


def test_missing_file(tmp_path, practice):
    path = tmp_path / "nowhere.csv"

    assert problems(import_patients_csv, path, practice) == [f"{path}: no such file"]


def test_a_folder_is_not_a_file(tmp_path, practice):
    assert problems(import_patients_csv, tmp_path, practice) == [
        f"{tmp_path}: is not a regular file"
    ]


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path, practice, settings):
    settings.RAPPORT_IMPORT_MAX_BYTES = 100
    content = lines(HEADER, *(f"P{n},Ann,Lee" for n in range(20)))
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}: is {len(content):,} bytes, over the import limit of 100 bytes "
        "(RAPPORT_IMPORT_MAX_BYTES): split it into smaller files"
    )


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (xlsx_bytes(), "a spreadsheet (.xlsx, .ods) or zip archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "an Excel 97-2003 workbook (.xls)"),
        (b"\x1f\x8b\x08\x00" + bytes(20), "a gzip archive"),
    ],
)
def test_spreadsheets_and_archives_renamed_csv(tmp_path, practice, content, what):
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}: is {what}, not CSV text: save it as CSV UTF-8"
    )


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.encode("utf-16"),  # with a byte-order mark
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: text.replace("\n", "\r").encode(),  # classic Mac line endings
        lambda text: text.replace("\n", "\r\n").encode(),
    ],
    ids=["utf-8-bom", "utf-16-le", "utf-16-be", "cr-only", "crlf"],
)
def test_accepted_encodings_and_line_endings(tmp_path, practice, encode):
    content = encode(lines(HEADER, "P1,José,Núñez", "P2,Zoë,Ødegård"))

    import_patients_csv(write(tmp_path, content), practice=practice)

    assert ext(practice, "P1").first_name == "José"
    assert ext(practice, "P2").last_name == "Ødegård"


def test_windows_1252_bytes_are_not_utf8(tmp_path, practice):
    content = lines(HEADER, "P1,Ann,Lee").encode() + "P2,José,Lee\n".encode("cp1252")
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:3: not valid UTF-8 text (save the file as UTF-8)"
    )


def test_mixed_encodings_with_skip_invalid_keep_the_utf8_rows(tmp_path, practice):
    content = (
        lines(HEADER, "P1,José,Lee").encode()
        + "P2,José,Lee\n".encode("cp1252")
        + b"P3,\xed\xa0\x80,Lone surrogate\n"  # a UTF-16 surrogate written as UTF-8 bytes
        + "P4,Zoë,Lee\n".encode()
    )
    path = write(tmp_path, content)

    result = import_patients_csv(path, practice=practice, skip_invalid=True)

    assert [str(problem) for problem in result.rejected] == [
        f"{path}:3: not valid UTF-8 text (save the file as UTF-8)",
        f"{path}:4: not valid UTF-8 text (save the file as UTF-8)",
    ]
    assert sorted(Patient.objects.values_list("first_name", flat=True)) == ["José", "Zoë"]


def test_utf16_without_a_byte_order_mark(tmp_path, practice):
    content = lines(HEADER, "P1,Ann,Lee").encode("utf-16-le")
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:1: contains NUL bytes: save the file as CSV UTF-8 (is it UTF-16 without a BOM?)"
    )


def test_nul_and_control_characters_never_reach_the_database(tmp_path, practice):
    path = write(tmp_path, lines(HEADER, "P1,Ann\x00,Lee", "P2,\x1b[31mBo,Lee", "P3,Cy,Lee"))

    assert problems(import_patients_csv, path, practice) == [
        f"{path}:2: contains a NUL byte",
        f"{path}:3: contains a control character",
    ]
    result = import_patients_csv(path, practice=practice, skip_invalid=True)
    assert result.created == {"patients": 1}
    assert ext(practice, "P3").first_name == "Cy"


def test_unbalanced_quotes_stop_the_import(tmp_path, practice):
    content = lines(HEADER, "P1,Ann,Lee", 'P2,"Bo,Lee', "P3,Cy,Lee")
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:3: unbalanced quotes: a quoted value starts here and is never closed"
    )
    # Nothing after a broken quote can be trusted, so even --skip-invalid stores nothing.
    assert problems(import_patients_csv, path, practice, skip_invalid=True) == [
        f"{path}:3: unbalanced quotes: a quoted value starts here and is never closed"
    ]


def test_stray_quote_after_a_quoted_value(tmp_path, practice):
    content = lines(HEADER, 'P1,"Ann"x,Lee')
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f'{path}:2: unbalanced quotes: write a quote inside a quoted value as two quotes ("")'
    )


def test_field_over_ten_thousand_characters(tmp_path, practice):
    content = lines(HEADER + ",goals", "P1,Ann,Lee," + "x" * 10_001, "P2,Bo,Lee,fine")
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:2: field too long: 10,001 characters, at most 10,000"
    )
    result = import_patients_csv(path, practice=practice, skip_invalid=True)
    assert result.created == {"patients": 1}


def test_one_megabyte_field(tmp_path, practice):
    content = lines(HEADER + ",goals", "P1,Ann,Lee,x", 'P2,Bo,Lee,"' + "y" * 1_000_000 + '"')
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:3: field too long: a value runs past 100,000 characters "
        "(is a closing quote missing?); nothing after this line was read"
    )


def test_reading_leaves_the_csv_field_limit_as_it_was(tmp_path, practice):
    import csv

    before = csv.field_size_limit()
    import_patients_csv(write(tmp_path, lines(HEADER, "P1,Ann,Lee")), practice=practice)

    assert csv.field_size_limit() == before


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://x","click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1)",
        "\t=1+1",
        "\r=1+1",
        "  =1+1",
    ],
)
def test_formula_injection_is_rejected(tmp_path, practice, value):
    quoted = '"' + value.replace('"', '""') + '"'
    content = lines(HEADER + ",goals", f"P1,Ann,Lee,{quoted}")
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:2: goals {value!r} looks like a spreadsheet formula"
    )


def test_phone_may_start_with_plus_but_not_with_a_formula(tmp_path, practice):
    content = lines(HEADER + ",phone,email", "P1,Ann,Lee,+1 202 555 0143,", "P2,Bo,Lee,=1+1,")
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:3: phone '=1+1' looks like a spreadsheet formula"
    )
    result = import_patients_csv(path, practice=practice, skip_invalid=True)
    assert result.created == {"patients": 1}
    assert ext(practice, "P1").phone == "+12025550143"


def test_email_that_is_a_formula(tmp_path, practice):
    content = lines(HEADER + ",email", "P1,Ann,Lee,=x@example.com")
    path = write(tmp_path, content)

    assert one_patient_problem(tmp_path, practice, content) == (
        f"{path}:2: email '=x@example.com' looks like a spreadsheet formula"
    )


def test_whitespace_only_and_overlong_names(tmp_path, practice):
    content = lines(HEADER, "P1, \t ,Lee", f"P2,Bo,{'L' * 101}", "P3,Cy,\u3000")
    path = write(tmp_path, content)

    assert problems(import_patients_csv, path, practice) == [
        f"{path}:2: first_name is blank",
        f"{path}:3: last_name is longer than 100 characters",
        f"{path}:4: last_name is blank",
    ]


def test_long_values_in_messages_are_shortened_and_escaped(tmp_path, practice):
    content = lines(HEADER + ",email", "P1,Ann,Lee," + "\u202e" + "x" * 60)
    path = write(tmp_path, content)

    problem = one_patient_problem(tmp_path, practice, content)

    assert problem == f"{path}:2: email '\\u202e{'x' * 38}…' is not an email address"


def test_line_breaks_in_names_are_refused(tmp_path, practice):
    content = lines(
        HEADER + ",email",
        'P1,"Ann\r\nBcc: x@evil.example",Lee,',
        "P2,Bo,Lee," + "a" * 250 + "@x.io",
    )
    path = write(tmp_path, content)

    assert patient_problems(tmp_path, practice, content) == [
        f"{path}:2: first_name 'Ann\\r\\nBcc: x@evil.example' contains a line break",
        f"{path}:4: email '{'a' * 39}…' is longer than 254 characters",
    ]


def test_a_file_changed_during_the_import_stores_nothing(tmp_path, practice, monkeypatch):
    monkeypatch.setattr(patient_import, "BATCH_SIZE", 2)
    path = write(tmp_path, lines(HEADER, "P1,Ann,Lee", "P2,Bo,Lee", "P3,Cy,Lee"))

    def rewrite(done, total):
        if total is None:  # still checking: the writing pass reads a different file
            path.write_text(lines(HEADER, "P1,Ann,Lee", "P2,,Lee", "P3,Cy,Lee"))

    with pytest.raises(ImportFailed) as failure:
        import_patients_csv(path, practice=practice, progress=rewrite)

    assert [str(p) for p in failure.value.problems] == [
        f"{path}:3: the file changed while it was being imported"
    ]
    assert Patient.objects.count() == 0


# --- Patients: tenancy ---------------------------------------------------------------------


def test_patients_go_only_to_the_given_practice(tmp_path, practice, other_practice):
    theirs = PatientFactory(
        practice=other_practice, external_id="P1", first_name="Other", last_name="Person"
    )
    HouseholdFactory(practice=other_practice, external_id="H1")
    PatientFactory(practice=other_practice, external_id="G9")

    result = import_patients_csv(
        write(
            tmp_path,
            lines(
                "external_id,first_name,last_name,household,guardian_external_id",
                "P1,Ann,Lee,H1,",
                "P2,Bo,Lee,,G9",
            ),
        ),
        practice=practice,
        skip_invalid=True,
    )

    assert result.created == {"patients": 1}
    assert [problem.reason for problem in result.rejected] == [
        "guardian_external_id 'G9' is not a patient of this practice or this file"
    ]
    mine = ext(practice, "P1")
    assert mine.household.practice == practice
    theirs.refresh_from_db()
    assert (theirs.first_name, theirs.household) == ("Other", None)
    assert Patient.objects.filter(practice=other_practice).count() == 2


# --- Appointments --------------------------------------------------------------------------

APPOINTMENTS = lines(
    "external_id,patient_external_id,provider,starts_at,duration_minutes,type,status,fee",
    "A1,P1,Dr Chen,2024-05-01T09:00,45,Cleaning,completed,120.50",
    "A2,P1,dr chen,2024-05-08 10:30:00-04:00,30,Check-up,scheduled,0",
    # 01:30 happens twice when New York falls back; the first (daylight) one is meant.
    "A3,P2,Sam Hygienist,2024-11-03T01:30,60,Filling,no-show,80",
    "A4,P2,,2024-06-01T12:00:00Z,,,,",
)


@pytest.fixture
def booked(practice):
    """The patients the appointment files refer to."""
    return [
        PatientFactory(practice=practice, external_id="P1"),
        PatientFactory(practice=practice, external_id="P2"),
    ]


def appointment(practice, external_id: str) -> Appointment:
    return Appointment.objects.select_related("provider").get(
        practice=practice, external_id=external_id
    )


def test_appointments_import(tmp_path, practice, booked):
    result = import_appointments_csv(write(tmp_path, APPOINTMENTS), practice=practice)

    assert result.created == {"appointments": 4}
    first, second, third, fourth = (appointment(practice, f"A{n}") for n in range(1, 5))
    assert first.patient == booked[0]
    assert first.starts_at == dt.datetime(2024, 5, 1, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert (first.duration_minutes, first.kind, first.status) == (45, "Cleaning", "completed")
    assert first.fee == Decimal("120.50")
    assert second.starts_at == dt.datetime(2024, 5, 8, 14, 30, tzinfo=UTC)
    assert second.provider == first.provider  # names match case-insensitively
    assert first.provider.name == "Dr Chen"
    assert first.provider.practice == practice
    assert first.created_at is not None
    assert third.starts_at == dt.datetime(2024, 11, 3, 5, 30, tzinfo=UTC)
    assert third.status == "no_show"
    assert (fourth.provider, fourth.duration_minutes, fourth.status, fourth.fee) == (
        None, 30, "scheduled", Decimal("0"),
    )  # fmt: skip
    assert StaffMember.objects.filter(practice=practice).count() == 2


def test_appointments_reimport_adds_nothing_and_updates_what_changed(tmp_path, practice, booked):
    path = write(tmp_path, APPOINTMENTS)
    import_appointments_csv(path, practice=practice)

    again = import_appointments_csv(path, practice=practice)

    assert again.unchanged == {"appointments": 4}
    assert again.created == {} and again.updated == {}

    moved = APPOINTMENTS.replace("2024-05-01T09:00,45,Cleaning,completed,120.50",
                                 "2024-05-01T09:15,45,Cleaning,completed,99")  # fmt: skip
    result = import_appointments_csv(write(tmp_path, moved), practice=practice)

    assert result.updated == {"appointments": 1}
    assert result.unchanged == {"appointments": 3}
    first = appointment(practice, "A1")
    assert (first.starts_at.minute, first.fee) == (15, Decimal("99"))
    assert Appointment.objects.count() == 4
    assert StaffMember.objects.count() == 2


def test_provider_id_matches_existing_staff(tmp_path, practice, booked):
    patel = StaffMemberFactory(practice=practice, name="Dr Priya Patel", external_id="D7")
    path = write(
        tmp_path,
        lines(
            "external_id,patient_external_id,provider_id,provider,starts_at",
            "A1,P1,D7,Dr P.,2024-05-01T09:00",
            "A2,P1,D8,Dr New,2024-05-01T10:00",
            "A3,P1,D8,,2024-05-01T11:00",
        ),
    )

    import_appointments_csv(path, practice=practice)

    assert appointment(practice, "A1").provider == patel
    new = appointment(practice, "A2").provider
    assert (new.name, new.external_id, new.practice) == ("Dr New", "D8", practice)
    assert appointment(practice, "A3").provider == new


def test_ambiguous_provider_name(tmp_path, practice, booked):
    StaffMemberFactory(practice=practice, name="Dr Lee")
    StaffMemberFactory(practice=practice, name="Dr  LEE")
    path = write(
        tmp_path,
        lines(
            "external_id,patient_external_id,provider,starts_at", "A1,P1,Dr Lee,2024-05-01T09:00"
        ),
    )

    assert problems(import_appointments_csv, path, practice) == [
        f"{path}:2: provider 'Dr Lee' matches 2 staff members: "
        "add a provider_id column to say which"
    ]


def test_bad_appointment_rows(tmp_path, practice, booked):
    path = write(
        tmp_path,
        lines(
            "external_id,patient_external_id,starts_at,duration_minutes,status,fee",
            "A1,P1,2024-05-01T09:00,30,completed,10",
            "A2,P1,2024-03-10T02:30,30,scheduled,0",
            "A3,P1,2024-05-01,30,,",
            "A4,P1,05/01/2024 09:00,30,,",
            "A5,P1,2024-06-30T23:59:60,30,,",
            "A6,P1,2024-05-01T09:00,0,,",
            "A7,P1,2024-05-01T09:00,601,,",
            "A8,P1,2024-05-01T09:00,½,,",
            "A9,P1,2024-05-01T09:00,30,maybe,",
            "A10,P1,2024-05-01T09:00,30,,-5",
            "A11,P1,2024-05-01T09:00,30,,1.234",
            "A12,P1,2024-05-01T09:00,30,,$120",
            "A13,P1,2024-05-01T09:00,30,,-2+3",
            "A14,P1,2024-05-01T09:00,30,,123456789",
            "A15,P9,2024-05-01T09:00,30,,",
            "A16,P1,,30,,",
            "A1,P1,2024-05-01T09:00,30,,",
            ",,2024-05-01T09:00,30,,",
        ),
    )

    assert problems(import_appointments_csv, path, practice) == [
        f"{path}:3: starts_at '2024-03-10T02:30' does not exist in America/New_York "
        "(the clocks go forward then)",
        f"{path}:4: starts_at '2024-05-01' is not a date and time written YYYY-MM-DDTHH:MM "
        "(ISO 8601)",
        f"{path}:5: starts_at '05/01/2024 09:00' is not a date and time written "
        "YYYY-MM-DDTHH:MM (ISO 8601)",
        f"{path}:6: starts_at '2024-06-30T23:59:60' is not a real date and time",
        f"{path}:7: duration_minutes '0' is not a whole number of minutes from 1 to 600",
        f"{path}:8: duration_minutes '601' is not a whole number of minutes from 1 to 600",
        f"{path}:9: duration_minutes '½' is not a whole number of minutes from 1 to 600",
        f"{path}:10: status 'maybe' is not one of scheduled, completed, cancelled, no_show",
        f"{path}:11: fee '-5' is negative: a fee is 0 or more",
        f"{path}:12: fee '1.234' has more than 2 decimal places",
        f"{path}:13: fee '$120' is not an amount like 120.50",
        f"{path}:14: fee '-2+3' is not an amount like 120.50",
        f"{path}:15: fee '123456789' is too large",
        f"{path}:16: patient_external_id 'P9' is an unknown patient",
        f"{path}:17: starts_at is blank",
        f"{path}:18: external_id 'A1' is also on line 2",
        f"{path}:19: external_id is blank; patient_external_id is blank",
    ]


def test_appointments_skip_invalid(tmp_path, practice, booked, monkeypatch):
    monkeypatch.setattr(appointment_import, "BATCH_SIZE", 2)
    path = write(
        tmp_path,
        lines(
            "external_id,patient_external_id,starts_at,type",
            "A1,P1,2024-05-01T09:00,Cleaning",
            "A2,P1,2024-03-10T02:30,Cleaning",
            "A3,P2,2024-05-02T09:00,=cmd",
            "A4,P2,2024-05-03T09:00,Filling",
            "A5,P1,2024-05-04T09:00,Crown",
        ),
    )

    result = import_appointments_csv(path, practice=practice, skip_invalid=True)

    assert result.created == {"appointments": 3}
    assert [str(problem) for problem in result.rejected] == [
        f"{path}:3: starts_at '2024-03-10T02:30' does not exist in America/New_York "
        "(the clocks go forward then)",
        f"{path}:4: type '=cmd' looks like a spreadsheet formula",
    ]
    assert sorted(Appointment.objects.values_list("external_id", flat=True)) == ["A1", "A4", "A5"]


def test_default_mode_stores_nothing_even_after_full_batches(
    tmp_path, practice, booked, monkeypatch
):
    monkeypatch.setattr(appointment_import, "BATCH_SIZE", 2)
    rows = [f"A{n},P1,2024-05-01T09:{n:02d}" for n in range(1, 8)]
    path = write(tmp_path, lines("external_id,patient_external_id,starts_at", *rows, "A9,P9,x"))

    assert problems(import_appointments_csv, path, practice) == [
        f"{path}:9: patient_external_id 'P9' is an unknown patient; "
        "starts_at 'x' is not a date and time written YYYY-MM-DDTHH:MM (ISO 8601)"
    ]


def test_appointments_of_another_practices_patient_are_refused(
    tmp_path, practice, other_practice, booked
):
    PatientFactory(practice=other_practice, external_id="THEIRS")
    AppointmentFactory(patient__practice=other_practice, external_id="A1", kind="Theirs")
    path = write(
        tmp_path,
        lines(
            "external_id,patient_external_id,starts_at,type",
            "A1,P1,2024-05-01T09:00,Mine",
            "A2,THEIRS,2024-05-01T10:00,Mine",
        ),
    )

    result = import_appointments_csv(path, practice=practice, skip_invalid=True)

    assert [str(problem) for problem in result.rejected] == [
        f"{path}:3: patient_external_id 'THEIRS' is an unknown patient"
    ]
    assert result.created == {"appointments": 1}  # their A1 is another appointment
    assert Appointment.objects.get(practice=other_practice).kind == "Theirs"
    assert appointment(practice, "A1").kind == "Mine"
    assert appointment(practice, "A1").provider is None


def test_appointment_header_rejects_practice_column(tmp_path, practice, booked):
    path = write(
        tmp_path,
        lines("external_id,patient_external_id,starts_at,practice_id", "A1,P1,2024-05-01T09:00,2"),
    )

    assert problems(import_appointments_csv, path, practice) == [
        f"{path}:1: column practice_id is not allowed: the practice is chosen with --practice"
    ]


def test_appointments_report_progress(tmp_path, practice, booked, monkeypatch):
    monkeypatch.setattr(appointment_import, "BATCH_SIZE", 2)
    seen = []

    import_appointments_csv(
        write(tmp_path, APPOINTMENTS), practice=practice, progress=lambda *a: seen.append(a)
    )

    assert seen == [(2, None), (4, None), (4, 4)]


# --- The command line ----------------------------------------------------------------------


@pytest.fixture
def run_import():
    """``rapport import`` as the command line runs it, with what it printed."""

    def run(kind: str, path: Path, practice, *options: str) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command(
                "import", kind, str(path), "--practice", str(practice.pk), "--no-progress",
                *options, stdout=out, stderr=err,
            )  # fmt: skip
        finally:
            run.err = err.getvalue()
        return out.getvalue(), err.getvalue()

    return run


def test_command_imports_patients_and_appointments(tmp_path, practice, run_import):
    patients = write(tmp_path, FAMILY)
    visits = write(tmp_path, APPOINTMENTS.replace(",P2,", ",P3,"), "appointments.csv")

    out, err = run_import("patients", patients, practice)
    assert out == f"{patients}: created 5 patients\n"
    out, err = run_import("appointments", visits, practice)
    assert out == f"{visits}: created 4 appointments\n"
    assert err == ""

    maria = ext(practice, "P1")
    assert maria.visit_count == 1  # figures are refreshed after the import
    assert maria.lifetime_value == Decimal("120.50")
    assert AuditEvent.objects.filter(action="import", practice=practice).count() == 2


def test_command_fails_with_every_problem_and_stores_nothing(tmp_path, practice, run_import):
    path = write(tmp_path, DEPENDENTS)

    with pytest.raises(CommandError) as failure:
        run_import("patients", path, practice)

    assert str(failure.value) == f"{path}: nothing imported (4 problem(s))"
    assert run_import.err.splitlines() == dependent_problems(path)
    assert Patient.objects.count() == 0


def test_command_skip_invalid_lists_the_rejected_rows(tmp_path, practice, run_import):
    path = write(tmp_path, DEPENDENTS)

    out, err = run_import("patients", path, practice, "--skip-invalid")

    assert out == f"{path}: created 2 patients; rejected 4 rows\n"
    assert err.splitlines() == [f"{problem} (rejected)" for problem in dependent_problems(path)]


def test_command_refuses_a_spreadsheet(tmp_path, practice, run_import):
    path = write(tmp_path, xlsx_bytes(), "patients.xlsx.csv")

    with pytest.raises(CommandError):
        run_import("patients", path, practice)

    assert run_import.err == (
        f"{path}: is a spreadsheet (.xlsx, .ods) or zip archive, not CSV text: "
        "save it as CSV UTF-8\n"
    )
