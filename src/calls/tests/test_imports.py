"""``import_calls`` and ``rapport import calls``: the shared Asterisk samples, the 19-column
layout, generic CSV, malformed and hostile files. Hostile files are generated here."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from calls.imports import ASTERISK_DEFAULT, import_calls
from calls.models import Call, CallbackTask
from core.models import AuditEvent
from patients.imports.common import ImportFailed
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

# src/calls/tests/<this file>: parents[3] is the project root and shared/ sits beside it.
SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "data" / "cdr_asterisk"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"Asterisk sample CDRs not found at {SAMPLES}"
)
BUGADM = SAMPLES / "bugadm_telephonyswitching_Master.csv"
HACKATHON = SAMPLES / "tejdeepsingh_hackathon2025_Master.csv"
KELYSAINA = SAMPLES / "kelysaina_cdr_Master.csv"
KELYSAINA_COLUMNS = (
    "clid,src,dst,dcontext,channel,dstchannel,lastapp,lastdata,start,answer,end,duration,"
    "billsec,disposition,amaflags,accountcode,uniqueid,userfield,sequence"
)
CALLER = "+12025550143"  # a valid Washington DC number
OTHER_CALLER = "+12025550177"


def raw_dispositions(path: Path, column: int) -> Counter:
    with path.open(newline="") as handle:
        return Counter(row[column] for row in csv.reader(handle))


def cdr(**values) -> list[str]:
    """One Asterisk CDR row in the default layout; an inbound answered call by default."""
    row = {
        "accountcode": "",
        "src": "2025550143",
        "dst": "2025550100",
        "dcontext": "from-trunk",
        "clid": '"Dana Whitfield" <2025550143>',
        "channel": "SIP/trunk-00000001",
        "dstchannel": "SIP/101-00000002",
        "lastapp": "Dial",
        "lastdata": "SIP/101,20",
        "start": "2026-03-04 10:00:00",
        "answer": "2026-03-04 10:00:12",
        "end": "2026-03-04 10:03:12",
        "duration": "192",
        "billsec": "180",
        "disposition": "ANSWERED",
        "amaflags": "DOCUMENTATION",
        "uniqueid": "1772636400.1",
        "userfield": "",
    }
    unknown = set(values) - set(row)
    assert not unknown, unknown
    if "start" in values and values["start"][:4].isdigit() and values["start"][4] == "-":
        # Answer and end follow the start unless given.
        start = dt.datetime.fromisoformat(values["start"].replace(":60", ":59"))
        row["answer"] = f"{start + dt.timedelta(seconds=12):%Y-%m-%d %H:%M:%S}"
        row["end"] = f"{start + dt.timedelta(seconds=192):%Y-%m-%d %H:%M:%S}"
    row.update(values)
    return [row[name] for name in ASTERISK_DEFAULT]


def missed(**values) -> list[str]:
    """An inbound call nobody answered: it rang for 25 seconds."""
    start = dt.datetime.fromisoformat(values.get("start", "2026-03-04 10:00:00"))
    return cdr(
        **{
            "start": f"{start:%Y-%m-%d %H:%M:%S}",
            "answer": "",
            "billsec": "0",
            "duration": "25",
            "end": f"{start + dt.timedelta(seconds=25):%Y-%m-%d %H:%M:%S}",
            "disposition": "NO ANSWER",
            **values,
        }
    )


def write_rows(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def problems_of(excinfo) -> list[str]:
    return [str(problem) for problem in excinfo.value.problems]


# --- The shared Asterisk samples --------------------------------------------------------


@needs_samples
def test_asterisk_samples_import_with_the_right_dispositions(practice):
    # bugadm: ANSWERED 94 (3 of them into VoiceMail), NO ANSWER 7, FAILED 2, BUSY 2.
    assert raw_dispositions(BUGADM, 14) == {"ANSWERED": 94, "NO ANSWER": 7, "FAILED": 2, "BUSY": 2}
    result = import_calls(BUGADM, practice=practice, file_format="asterisk")
    assert result.created == Counter({"calls": 105})
    calls = Call.objects.filter(practice=practice, source="asterisk")
    assert Counter(calls.values_list("disposition", flat=True)) == {
        "answered": 91,
        "voicemail": 3,
        "missed": 11,
    }
    # Extensions calling extensions on a lab PBX: internal calls, nobody to call back.
    assert set(calls.values_list("direction", flat=True)) == {"internal"}
    assert not CallbackTask.objects.exists()
    first = calls.get(external_id="1427211880.0")
    assert first.started_at == dt.datetime(2015, 3, 24, 19, 44, 40, tzinfo=dt.UTC)  # EDT
    assert (first.caller, first.called, first.caller_name) == ("100", "700", "NOMBREUSUARIO")
    assert (first.ring_seconds, first.talk_seconds) == (0, 3)
    unanswered = calls.get(external_id="1427374245.7")
    assert (unanswered.disposition, unanswered.ring_seconds) == ("missed", 10)
    assert unanswered.extension == "100"  # the device that rang, from dstchannel

    result = import_calls(HACKATHON, practice=practice, file_format="asterisk")
    assert raw_dispositions(HACKATHON, 14) == {"ANSWERED": 33}
    assert result.created == Counter({"calls": 33})
    assert Call.objects.filter(disposition="answered").count() == 91 + 33


@needs_samples
def test_the_19_column_layout_imports_with_the_columns_option(practice):
    with pytest.raises(ImportFailed) as excinfo:
        import_calls(KELYSAINA, practice=practice, file_format="asterisk")
    problems = problems_of(excinfo)
    assert len(problems) == 14
    assert problems[0] == (
        f"{KELYSAINA}:1: has 19 values but the column layout has 18 "
        "(give the file's column order with --columns)"
    )
    assert not Call.objects.exists()

    result = import_calls(
        KELYSAINA, practice=practice, file_format="asterisk", columns=KELYSAINA_COLUMNS
    )
    assert result.created == Counter({"calls": 14})
    assert raw_dispositions(KELYSAINA, 13) == {"ANSWERED": 11, "NO ANSWER": 3}
    assert Counter(Call.objects.values_list("disposition", flat=True)) == {
        "answered": 11,
        "missed": 3,
    }
    call = Call.objects.get(external_id="1690325492.2")
    assert (call.caller, call.called, call.extension) == ("client1", "6789", "client2")
    assert (call.ring_seconds, call.talk_seconds) == (18, 13)  # answer − start; billsec


@needs_samples
def test_reimporting_a_file_adds_nothing(practice):
    import_calls(BUGADM, practice=practice, file_format="asterisk")
    before = list(Call.objects.order_by("pk").values())
    result = import_calls(BUGADM, practice=practice, file_format="asterisk")
    assert result.created == Counter() and result.updated == Counter()
    assert result.unchanged == Counter({"calls": 105})
    assert list(Call.objects.order_by("pk").values()) == before


def test_an_overlapping_export_adds_only_the_new_calls(practice, tmp_path):
    first = write_rows(
        tmp_path / "monday.csv",
        [missed(uniqueid="1.1"), cdr(uniqueid="1.2", start="2026-03-04 11:00:00")],
    )
    second = write_rows(
        tmp_path / "monday-and-tuesday.csv",
        [
            missed(uniqueid="1.1"),
            cdr(uniqueid="1.2", start="2026-03-04 11:00:00"),
            cdr(uniqueid="1.3", start="2026-03-05 09:00:00", answer="2026-03-05 09:00:05"),
        ],
    )
    import_calls(first, practice=practice, file_format="asterisk")
    result = import_calls(second, practice=practice, file_format="asterisk")
    assert result.created == Counter({"calls": 1})
    assert result.unchanged == Counter({"calls": 2})
    assert Call.objects.count() == 3


# --- Asterisk: what each record means ----------------------------------------------------


def test_inbound_outbound_voicemail_and_abandoned_calls(practice, tmp_path):
    path = write_rows(
        tmp_path / "Master.csv",
        [
            cdr(uniqueid="a.1"),
            missed(uniqueid="a.2", start="2026-03-04 10:10:00"),
            cdr(
                uniqueid="a.3",
                lastapp="VoiceMail",
                lastdata="101@default",
                dstchannel="",
                start="2026-03-04 10:20:00",
            ),
            # Answered by the menu, hung up before reaching anyone.
            cdr(
                uniqueid="a.4",
                lastapp="BackGround",
                lastdata="welcome",
                dstchannel="",
                start="2026-03-04 10:30:00",
                answer="2026-03-04 10:30:00",
                billsec="14",
            ),
            # The front desk calls a patient back from extension 101.
            cdr(
                uniqueid="a.5",
                src="101",
                clid='"Front desk" <101>',
                dst="2025550177",
                channel="SIP/101-00000009",
                dstchannel="SIP/trunk-0000000a",
                start="2026-03-04 10:40:00",
            ),
            cdr(uniqueid="a.6", src="101", dst="102", clid="<101>", start="2026-03-04 10:50:00"),
        ],
    )
    import_calls(path, practice=practice, file_format="asterisk")
    calls = {c.external_id: c for c in Call.objects.all()}
    assert [(calls[k].direction, calls[k].disposition) for k in sorted(calls)] == [
        ("inbound", "answered"),
        ("inbound", "missed"),
        ("inbound", "voicemail"),
        ("inbound", "abandoned"),
        ("outbound", "answered"),
        ("internal", "answered"),
    ]
    assert calls["a.1"].caller == CALLER and calls["a.1"].number == CALLER
    assert calls["a.1"].caller_name == "Dana Whitfield"
    assert (calls["a.1"].extension, calls["a.1"].ring_seconds) == ("101", 12)
    assert calls["a.2"].ring_seconds == 25  # unanswered: the whole duration rang
    outbound = calls["a.5"]
    assert (outbound.number, outbound.extension) == ("+12025550177", "101")
    assert calls["a.6"].number == ""


def test_legs_sharing_a_uniqueid_merge_into_one_call(practice, tmp_path):
    # The queue rang two phones: 101 did not answer, 102 did, after 20 seconds.
    legs = [
        missed(uniqueid="q.1", dstchannel="SIP/101-01", start="2026-03-04 10:00:00"),
        cdr(
            uniqueid="q.1",
            dstchannel="SIP/102-02",
            start="2026-03-04 10:00:05",
            answer="2026-03-04 10:00:20",
            billsec="95",
        ),
    ]
    for order, name in ((legs, "a.csv"), (legs[::-1], "b.csv")):
        Call.objects.all().delete()
        import_calls(write_rows(tmp_path / name, order), practice=practice, file_format="asterisk")
        call = Call.objects.get()
        assert (call.disposition, call.talk_seconds, call.extension) == ("answered", 95, "102")
        assert call.started_at == dt.datetime(2026, 3, 4, 15, 0, tzinfo=dt.UTC)
        assert call.ring_seconds == 20
        assert not CallbackTask.objects.exists()


def test_a_missed_call_then_an_answered_one_in_the_same_file_makes_no_task(practice, tmp_path):
    path = write_rows(
        tmp_path / "Master.csv",
        [
            missed(uniqueid="m.1", start="2026-03-04 10:00:00"),
            cdr(uniqueid="m.2", start="2026-03-04 10:05:00", answer="2026-03-04 10:05:04"),
            missed(
                uniqueid="m.3", src="2025550177", clid="<2025550177>", start="2026-03-04 18:30:00"
            ),
        ],
    )
    result = import_calls(path, practice=practice, file_format="asterisk")
    assert result.created == Counter({"calls": 3, "call-backs": 1})
    task = CallbackTask.objects.get()
    assert task.number == OTHER_CALLER
    # 18:30 on a Wednesday is after hours: due when the practice opens on Thursday.
    assert task.due_at == dt.datetime(2026, 3, 5, 13, 0, tzinfo=dt.UTC)


# --- Malformed and hostile files ----------------------------------------------------------


def test_malformed_rows_are_reported_with_line_numbers_and_nothing_is_imported(practice, tmp_path):
    path = write_rows(
        tmp_path / "Master.csv",
        [
            cdr(uniqueid="ok.1"),
            cdr(uniqueid="bad.2", start="24/03/2015 15:44"),
            cdr(uniqueid="bad.3", disposition="MAYBE"),
            cdr(uniqueid="bad.4", end="2026-03-04 09:00:00"),
            cdr(uniqueid="bad.5", duration="-3"),
            cdr(uniqueid="bad.6", billsec="315360000"),
            cdr(uniqueid=""),
            # The spring-forward gap.
            cdr(uniqueid="bad.8", start="2026-03-08 02:30:00", answer="", end=""),
            cdr(uniqueid="bad.9", start="2026-03-04 23:59:60"),
            cdr(uniqueid="ok.10"),
        ],
    )
    with pytest.raises(ImportFailed) as excinfo:
        import_calls(path, practice=practice, file_format="asterisk")
    name = str(path)
    assert problems_of(excinfo) == [
        f"{name}:2: start '24/03/2015 15:44' is not a date and time written YYYY-MM-DDTHH:MM "
        "(ISO 8601)",
        f"{name}:3: disposition 'MAYBE' is not one of ANSWERED, NO ANSWER, BUSY, FAILED, "
        "CONGESTION",
        f"{name}:4: end is before start; end is before answer",
        f"{name}:5: duration '-3' is not a whole number of seconds",
        f"{name}:6: billsec '315360000' is longer than a day",
        f"{name}:7: uniqueid is blank",
        f"{name}:8: start '2026-03-08 02:30:00' does not exist in America/New_York "
        "(the clocks go forward then)",
        f"{name}:9: start '2026-03-04 23:59:60' is not a real date and time",
    ]
    assert not Call.objects.exists()
    assert not CallbackTask.objects.exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty (0 bytes)"),
        (b"PK\x03\x04rest", "is a spreadsheet (.xlsx, .ods) or zip archive, not CSV text"),
        (b"\n\n", "has no call records"),
        (
            "a,b\n".encode("utf-16-le"),
            "contains NUL bytes: is it UTF-16 without a byte-order mark?",
        ),
        (b"100;700;s\n", "the columns are not separated by commas"),
    ],
)
def test_unreadable_files_are_refused_whole(practice, tmp_path, content, reason):
    path = tmp_path / "Master.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFailed) as excinfo:
        import_calls(path, practice=practice, file_format="asterisk")
    assert reason in problems_of(excinfo)[0]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-8", b"")],
)
def test_byte_order_marks_and_utf16_are_read(practice, tmp_path, encoding, bom):
    path = tmp_path / "Master.csv"
    rows = [cdr(clid='"José Ñúñez" <2025550143>')]
    write_rows(path, rows, encoding=encoding)
    path.write_bytes(bom + path.read_bytes())
    import_calls(path, practice=practice, file_format="asterisk")
    assert Call.objects.get().caller_name == "José Ñúñez"


def test_nul_bytes_and_oversized_fields_are_reported(practice, tmp_path):
    path = write_rows(
        tmp_path / "Master.csv",
        [cdr(uniqueid="1"), cdr(uniqueid="2", userfield="x\x00y"), cdr(lastdata="x" * 20_000)],
    )
    with pytest.raises(ImportFailed) as excinfo:
        import_calls(path, practice=practice, file_format="asterisk")
    assert problems_of(excinfo) == [
        f"{path}:2: contains a NUL byte",
        f"{path}:3: field too long: 20,000 characters, at most 10,000",
    ]


def test_a_header_row_someone_added_is_skipped(practice, tmp_path):
    path = write_rows(tmp_path / "Master.csv", [list(ASTERISK_DEFAULT), cdr()])
    result = import_calls(path, practice=practice, file_format="asterisk")
    assert result.created == Counter({"calls": 1})


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ("src,dst,start", "--columns: missing duration, billsec, disposition, uniqueid"),
        ("src,dst,start,when", "--columns: unknown column 'when' (known: accountcode, src,"),
        ("src,src,dst", "--columns: src given twice"),
    ],
)
def test_a_bad_columns_option_is_refused(practice, tmp_path, columns, reason):
    path = write_rows(tmp_path / "Master.csv", [cdr()])
    with pytest.raises(ImportFailed) as excinfo:
        import_calls(path, practice=practice, file_format="asterisk", columns=columns)
    assert reason in problems_of(excinfo)[0]


# --- Caller ids and names from TRUST.md -----------------------------------------------------


@pytest.mark.parametrize(
    ("src", "stored", "direction", "task"),
    [
        ("anonymous", "anonymous", "inbound", False),
        ("Restricted", "Restricted", "inbound", False),
        ("+0", "+0", "inbound", False),
        ("", "", "internal", False),
        ("sip:alice@example.org", "sip:alice@example.org", "internal", False),
        ("+1202555014312345678", "+1202555014312345678", "inbound", False),  # > 15 digits
        ("+442079460123", "+442079460123", "inbound", True),  # international
        ("2025550100", "+12025550100", "internal", False),  # the practice's own line
        ("01112025550143", "+12025550143", "inbound", True),  # dialled with the US exit code
    ],
)
def test_hostile_caller_ids(practice, tmp_path, src, stored, direction, task):
    practice.phone = "+1 (202) 555-0100"
    practice.save()
    path = write_rows(tmp_path / "Master.csv", [missed(src=src, clid=f"<{src}>", dst="s")])
    import_calls(path, practice=practice, file_format="asterisk")
    call = Call.objects.get()
    assert (call.caller, call.direction) == (stored, direction)
    assert CallbackTask.objects.exists() is task
    assert call.new_caller is task  # nobody has these numbers


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),  # text; escaped later
        ("\u202eevil.exe\u202c Smith", "evil.exe Smith"),
        ("Zoë 🦷 Ng", "Zoë 🦷 Ng"),
        ("Ada\tLovelace", "Ada Lovelace"),
        ("A" * 5000, "A" * 80),
    ],
)
def test_caller_names_are_cleaned_and_cut(practice, tmp_path, name, stored):
    path = write_rows(tmp_path / "Master.csv", [cdr(clid=f'"{name}" <2025550143>')])
    import_calls(path, practice=practice, file_format="asterisk")
    assert Call.objects.get().caller_name == stored


# --- Generic CSV ------------------------------------------------------------------------------

GENERIC_HEADER = "id,direction,from,to,started_at,ring_seconds,talk_seconds,disposition,extension"


def write_generic(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([GENERIC_HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_generic_csv_imports_and_reimports_nothing(practice, tmp_path):
    path = write_generic(
        tmp_path / "calls.csv",
        "c-1,inbound,+12025550143,+12025550100,2026-03-04T10:00:00-05:00,12,180,answered,101",
        "c-2,inbound,(202) 555-0177,+12025550100,2026-03-04T15:00:00Z,30,0,missed,",
        "c-3,outbound,101,202.555.0143,2026-03-04T10:30:00-05:00,5,60,answered,101",
    )
    result = import_calls(path, practice=practice, file_format="generic")
    assert result.created == Counter({"calls": 3, "call-backs": 1})
    missed_call = Call.objects.get(external_id="c-2")
    assert (missed_call.caller, missed_call.number, missed_call.source) == (
        OTHER_CALLER,
        OTHER_CALLER,
        "generic",
    )
    assert Call.objects.get(external_id="c-3").number == CALLER
    # 10:00 Eastern on a Wednesday: 15 business minutes later.
    assert CallbackTask.objects.get().due_at == dt.datetime(2026, 3, 4, 15, 15, tzinfo=dt.UTC)
    again = import_calls(path, practice=practice, file_format="generic")
    assert again.created == Counter() and again.unchanged == Counter({"calls": 3})


def test_generic_csv_problems_are_reported_by_line(practice, tmp_path):
    path = write_generic(
        tmp_path / "calls.csv",
        "c-1,inbound,+12025550143,,2026-03-04T10:00:00-05:00,0,0,answered,",
        "c-2,sideways,+12025550143,,2026-03-04T10:00:00,x,0,maybe,",
        "c-1,inbound,+12025550143,,2026-03-04T10:00:00-05:00,0,0,answered,",
        ",inbound,+12025550143,,2099-03-04T10:00:00Z,0,99999,missed,",
    )
    with pytest.raises(ImportFailed) as excinfo:
        import_calls(path, practice=practice, file_format="generic")
    name = str(path)
    assert problems_of(excinfo) == [
        f"{name}:3: direction 'sideways' is not one of inbound, outbound, internal; "
        "disposition 'maybe' is not one of answered, missed, voicemail, abandoned; "
        "started_at '2026-03-04T10:00:00' has no UTC offset: write it like "
        "2026-03-02T09:15:00-05:00 or …Z; ring_seconds 'x' is not a whole number of seconds",
        f"{name}:4: id 'c-1' is also on line 2",
        f"{name}:5: id is blank; started_at '2099-03-04T10:00:00Z' is not a plausible time "
        "for a call; talk_seconds '99999' is longer than a day",
    ]
    assert not Call.objects.exists()


def test_generic_csv_needs_its_columns(practice, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("id,from,to\nc-1,+12025550143,\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as excinfo:
        import_calls(path, practice=practice, file_format="generic")
    assert problems_of(excinfo) == [
        f"{path}:1: missing column direction",
        f"{path}:1: missing column started_at",
        f"{path}:1: missing column disposition",
    ]


# --- Patients -----------------------------------------------------------------------------


def test_calls_are_matched_to_patients_by_phone(practice, other_practice, tmp_path):
    dana = PatientFactory(practice=practice, phone=CALLER, first_visit_on=dt.date(2015, 1, 1))
    PatientFactory(practice=other_practice, phone=OTHER_CALLER)  # another practice's patient
    path = write_generic(
        tmp_path / "calls.csv",
        "c-1,inbound,(202) 555-0143,,2026-03-04T10:00:00-05:00,0,60,answered,",
        "c-2,inbound,+12025550177,,2026-03-04T10:10:00-05:00,0,60,answered,",
    )
    import_calls(path, practice=practice, file_format="generic")
    known, stranger = Call.objects.get(external_id="c-1"), Call.objects.get(external_id="c-2")
    assert (known.patient, known.new_caller) == (dana, False)
    assert (stranger.patient, stranger.new_caller) == (None, True)


def test_a_shared_household_phone_goes_to_the_guardian(practice, tmp_path):
    parent = PatientFactory(practice=practice, phone=CALLER, first_visit_on=dt.date(2015, 1, 1))
    PatientFactory(practice=practice, phone=CALLER, guardian=parent)
    PatientFactory(practice=practice, phone=CALLER, guardian=parent)
    twin_a = PatientFactory(practice=practice, phone=OTHER_CALLER)
    PatientFactory(practice=practice, phone=OTHER_CALLER, first_visit_on=twin_a.first_visit_on)
    path = write_generic(
        tmp_path / "calls.csv",
        "c-1,inbound,+12025550143,,2026-03-04T10:00:00-05:00,0,60,answered,",
        "c-2,inbound,+12025550177,,2026-03-04T10:10:00-05:00,0,60,answered,",
    )
    import_calls(path, practice=practice, file_format="generic")
    assert Call.objects.get(external_id="c-1").patient == parent
    # Two people, neither the other's guardian: nobody is guessed, but they are not new.
    shared = Call.objects.get(external_id="c-2")
    assert (shared.patient, shared.new_caller) == (None, False)


def test_a_caller_who_became_a_patient_later_was_a_new_caller(practice, tmp_path):
    path = write_generic(
        tmp_path / "calls.csv",
        "c-1,inbound,+12025550143,,2026-03-04T10:00:00-05:00,0,60,answered,",
    )
    # Created now (after the call), first visit a week after the call.
    newcomer = PatientFactory(practice=practice, phone=CALLER, first_visit_on=dt.date(2026, 3, 11))
    import_calls(path, practice=practice, file_format="generic")
    call = Call.objects.get()
    assert (call.patient, call.new_caller) == (newcomer, True)


# --- The command ------------------------------------------------------------------------------


def test_the_import_command(practice, tmp_path, capsys):
    path = write_rows(
        tmp_path / "Master.csv",
        [missed(uniqueid="1"), cdr(uniqueid="2", start="2026-03-04 10:05:00")],
    )
    call_command("import", "calls", str(path), "--format", "asterisk", "--no-progress")
    out = capsys.readouterr().out
    assert out.strip() == f"{path}: created 2 calls"
    audit = AuditEvent.objects.get(action="import")
    assert (audit.object_type, audit.practice) == ("calls", practice)


def test_the_import_command_prints_every_problem_and_exits(practice, tmp_path, capsys):
    path = write_rows(tmp_path / "Master.csv", [cdr(duration="x"), cdr(disposition="?")])
    with pytest.raises(CommandError, match=r"nothing imported \(2 problem\(s\)\)"):
        call_command("import", "calls", str(path), "--format", "asterisk", "--no-progress")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}:1: duration 'x' is not a whole number of seconds",
        f"{path}:2: disposition '?' is not one of ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION",
    ]
    assert not Call.objects.exists()
    assert not AuditEvent.objects.filter(action="import").exists()


@needs_samples
def test_the_import_command_with_a_column_order(practice, capsys):
    call_command(
        "import",
        "calls",
        str(KELYSAINA),
        "--format",
        "asterisk",
        "--columns",
        KELYSAINA_COLUMNS,
        "--no-progress",
    )
    assert capsys.readouterr().out.strip() == f"{KELYSAINA}: created 14 calls"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["calls", "x.csv"], "--format asterisk|generic"),
        (["calls", "x.csv", "--format", "generic", "--skip-invalid"], "does not apply to calls"),
        (["patients", "x.csv", "--format", "generic"], "apply to calls only"),
    ],
)
def test_the_import_command_checks_its_options(practice, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("import", *arguments, "--no-progress")
