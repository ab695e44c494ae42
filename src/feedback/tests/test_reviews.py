"""Public reviews from CSV: the documented columns, re-imports, hostile files, the CLI.

Every sample file is written by the test itself. Problems are compared as the exact
``FILE:LINE: reason`` strings a person would read.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from core.models import AuditEvent
from feedback.models import FeedbackItem
from feedback.reviews import import_reviews_csv, review_external_id
from patients.imports.common import ImportFailed

NOW = dt.datetime(2026, 6, 15, 16, 0, tzinfo=dt.UTC)
HEADER = "source,date,rating,author,text,review_id"


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def write(tmp_path: Path, content: str | bytes, name: str = "reviews.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def problems(path: Path, practice, **options) -> list[str]:
    """The problems an import fails with; it must also have stored nothing."""
    before = FeedbackItem.objects.count()
    with pytest.raises(ImportFailed) as failure:
        import_reviews_csv(path, practice=practice, **options)
    assert FeedbackItem.objects.count() == before
    return [str(problem) for problem in failure.value.problems]


def one_problem(tmp_path: Path, practice, *rows: str, header: str = HEADER) -> str:
    path = write(tmp_path, lines(header, *rows))
    (problem,) = problems(path, practice)
    assert problem.startswith(f"{path}:")
    return problem.removeprefix(f"{path}:")


REVIEWS = lines(
    HEADER,
    "Google,2026-05-02,5,Sam P.,The hygienist was gentle and explained everything.,g-001",
    'yelp,2026-05-03T18:30:00Z,1,Jordan,"Waited 50 minutes.\nNobody told us why.",',
    "Healthgrades,2026-05-04 09:15,4.0,,Friendly front desk,",
)


def reviews(practice) -> list[FeedbackItem]:
    return list(FeedbackItem.objects.filter(practice=practice).order_by("received_at"))


# --- The happy path and re-imports ----------------------------------------------------------


def test_reviews_become_feedback_items_of_the_review_source(tmp_path, practice):
    result = import_reviews_csv(write(tmp_path, REVIEWS), practice=practice)

    assert result.created == {"reviews": 3}
    assert result.rejected == []
    google, yelp, healthgrades = reviews(practice)
    assert google.source == "review"
    assert google.source_detail == "Google"
    assert google.external_id == "google:g-001"
    assert google.author_name == "Sam P."
    assert google.score == 5
    # A date alone is noon in the practice's time zone (New York, summer time: UTC−4).
    assert google.received_at == dt.datetime(2026, 5, 2, 16, 0, tzinfo=dt.UTC)
    assert google.patient is None
    assert google.status == "new"
    assert yelp.source_detail == "Yelp"  # the well-known sites are spelt the usual way
    assert yelp.text == "Waited 50 minutes.\nNobody told us why."
    assert yelp.received_at == dt.datetime(2026, 5, 3, 18, 30, tzinfo=dt.UTC)
    assert yelp.external_id.startswith("yelp:sha256:")
    assert yelp.score == 1
    assert healthgrades.score == 4
    assert healthgrades.author_name == ""
    assert healthgrades.received_at == dt.datetime(2026, 5, 4, 13, 15, tzinfo=dt.UTC)
    # Each item went through feedback_item_create: analysed and audited.
    assert "waiting" in yelp.touchpoints
    assert yelp.label == "negative"
    assert AuditEvent.objects.filter(object_type="feedback_item", action="create").count() == 3


def test_reimport_adds_nothing(tmp_path, practice):
    path = write(tmp_path, REVIEWS)
    import_reviews_csv(path, practice=practice)
    before = {item.pk: (item.text, item.score, item.label) for item in reviews(practice)}

    again = import_reviews_csv(path, practice=practice)

    assert again.created == {} and again.unchanged == {"reviews": 3}
    assert again.summary() == "unchanged 3 reviews"
    assert {item.pk: (item.text, item.score, item.label) for item in reviews(practice)} == before


def test_review_without_id_is_found_again_despite_case_and_spacing(tmp_path, practice):
    import_reviews_csv(write(tmp_path, REVIEWS), practice=practice)
    respaced = REVIEWS.replace("yelp,", "YELP ,").replace("\nNobody", "\r\n  Nobody")

    again = import_reviews_csv(write(tmp_path, respaced, "again.csv"), practice=practice)

    assert again.unchanged == {"reviews": 3}
    assert FeedbackItem.objects.count() == 3


def test_derived_key_is_stable_and_changes_with_the_content():
    key = review_external_id(
        source="Yelp", review_id="", date_value="2026-05-03", author="Jordan", text="Too long."
    )
    assert key == review_external_id(
        source="yelp", review_id="", date_value="2026-05-03", author="Jordan", text="Too  long."
    )
    assert key != review_external_id(
        source="Yelp", review_id="", date_value="2026-05-04", author="Jordan", text="Too long."
    )
    assert len(key) <= 200
    assert review_external_id(
        source="Google", review_id="abc", date_value="", author="", text=""
    ) == ("google:abc")


def test_same_review_id_on_two_sites_are_two_reviews(tmp_path, practice):
    path = write(
        tmp_path,
        lines(HEADER, "Google,2026-05-02,5,A,Great,42", "Yelp,2026-05-02,5,A,Great,42"),
    )
    assert import_reviews_csv(path, practice=practice).created == {"reviews": 2}


def test_reviews_of_another_practice_are_not_matched(tmp_path, practice, other_practice):
    path = write(tmp_path, REVIEWS)
    import_reviews_csv(path, practice=other_practice)

    result = import_reviews_csv(path, practice=practice)

    assert result.created == {"reviews": 3}
    assert FeedbackItem.objects.filter(practice=practice).count() == 3


def test_a_review_is_never_linked_to_a_patient(tmp_path, practice, patient):
    path = write(
        tmp_path,
        lines(
            "source,date,author,text",
            f"Google,2026-05-02,{patient.first_name} {patient.last_name},Lovely team",
        ),
    )
    import_reviews_csv(path, practice=practice)

    item = FeedbackItem.objects.get(practice=practice)
    assert item.author_name == "Dana Whitfield"
    assert item.patient is None
    assert item.contact == ""


def test_star_only_reviews_are_skipped_and_counted(tmp_path, practice):
    path = write(tmp_path, lines(HEADER, "Google,2026-05-02,1,Kim,,g-1", REVIEWS.splitlines()[1]))

    result = import_reviews_csv(path, practice=practice)

    assert result.created == {"reviews": 1}
    assert result.skipped == {"without text": 1}
    assert result.summary() == "created 1 reviews; skipped 1 without text"


def test_stars_decide_a_flat_text_and_never_read_as_a_ten_point_score(
    tmp_path, practice, monkeypatch
):
    def flat(text, *, people=()):
        return SimpleNamespace(
            sentiment=0.0, label="neutral", touchpoints=[], urgent=False, reasons=[], people=[]
        )

    monkeypatch.setattr(importlib.import_module("feedback.analysis"), "analyze", flat)
    path = write(
        tmp_path,
        lines(
            "source,date,rating,text,review_id",
            "Google,2026-05-02,2,It was a visit.,a",
            "Google,2026-05-02,3,It was a visit.,b",
            "Google,2026-05-02,five,It was a visit.,c",
            "Google,2026-05-02,,It was a visit.,d",
        ),
    )
    import_reviews_csv(path, practice=practice)

    found = {
        item.external_id: (item.score, item.label, item.reasons)
        for item in FeedbackItem.objects.all()
    }
    assert found == {
        "google:a": (2, "negative", ["2-star review"]),
        "google:b": (3, "neutral", []),
        "google:c": (5, "positive", ["5-star review"]),  # not "score 5 of 10 (detractor)"
        "google:d": (None, "neutral", []),
    }


def test_progress_is_reported(tmp_path, practice, monkeypatch):
    monkeypatch.setattr("feedback.reviews.PROGRESS_EVERY", 2)
    seen = []

    import_reviews_csv(
        write(tmp_path, REVIEWS), practice=practice, progress=lambda *a: seen.append(a)
    )

    assert seen == [(2, None), (3, 3)]


# --- Bad records: all or nothing, or skip them ----------------------------------------------


BAD = lines(
    HEADER,
    "Google,2026-05-02,5,Sam,Great,g-1",
    "Google,2026-02-30,5,Sam,Great,g-2",
    "Google,02/03/2026,5,Sam,Great,g-3",
    "Google,2026-05-02,6,Sam,Great,g-4",
    "Yelp,2026-05-02,4.5,Sam,Great,",
    ",2026-05-02,,Sam,Great,g-6",
    "Google,2026-05-02,5,Sam,Again,g-1",
    "Yelp,2026-05-03,3,Lee,Fine,",
)


def bad_problems(path: Path) -> list[str]:
    return [
        f"{path}:3: date '2026-02-30' is not a real date",
        f"{path}:4: date '02/03/2026' is not a date written YYYY-MM-DD or YYYY-MM-DDTHH:MM "
        "(ISO 8601)",
        f"{path}:5: rating '6' is not a whole number of stars from 1 to 5",
        f"{path}:6: rating '4.5' is not a whole number of stars from 1 to 5",
        f"{path}:7: source is blank",
        f"{path}:8: review_id 'g-1' is also on line 2",
    ]


def test_one_bad_record_stores_nothing_and_every_problem_is_listed(tmp_path, practice):
    path = write(tmp_path, BAD)
    assert problems(path, practice) == bad_problems(path)


def test_skip_invalid_keeps_the_good_records_and_lists_the_rejected(tmp_path, practice):
    path = write(tmp_path, BAD)

    result = import_reviews_csv(path, practice=practice, skip_invalid=True)

    assert result.created == {"reviews": 2}
    assert [str(p) for p in result.rejected] == bad_problems(path)
    assert sorted(FeedbackItem.objects.values_list("external_id", flat=True))[0] == "google:g-1"
    assert FeedbackItem.objects.get(external_id="google:g-1").text == "Great"  # the first one


def test_skip_invalid_with_no_good_record_fails(tmp_path, practice):
    path = write(tmp_path, lines(HEADER, "Google,someday,5,Sam,Great,g-1"))
    assert problems(path, practice, skip_invalid=True) == [
        f"{path}:2: date 'someday' is not a date written YYYY-MM-DD or YYYY-MM-DDTHH:MM (ISO 8601)"
    ]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("Google,2026-07-01,5,Sam,Great,a", "2: date '2026-07-01' is in the future"),
        ("Google,2026-06-15T16:01Z,5,Sam,Great,a", "2: date '2026-06-15T16:01Z' is in the future"),
        ("Google,1999-12-31,5,Sam,Great,a", "2: date '1999-12-31' is before 2000"),
        ("Google,2026-03-08T02:30,5,Sam,Great,a", "2: date '2026-03-08T02:30' does not exist in "
         "America/New_York (the clocks go forward then)"),
        ("Google,,5,Sam,Great,a", "2: date is blank"),
        ("Google,2026-05-02,0,Sam,Great,a", "2: rating '0' is not a whole number of stars from 1 "
         "to 5"),
        ("Google,2026-05-02,-1,Sam,Great,a", "2: rating '-1' is not a whole number of stars from 1 "
         "to 5"),
        ("Google,2026-05-02,★★★,Sam,Great,a", "2: rating '★★★' is not a whole number of stars from "
         "1 to 5"),
        ("Google,2026-05-02,5,=HYPERLINK(\"http://x\"),Great,a", "2: author "
         "'=HYPERLINK(\"http://x\")' looks like a spreadsheet formula"),
        ("Google,2026-05-02,5,Sam,@SUM(A1:A9),a", "2: text '@SUM(A1:A9)' looks like a spreadsheet "
         "formula"),
        ("+Google,2026-05-02,5,Sam,Great,a", "2: source '+Google' looks like a spreadsheet "
         "formula"),
        ("Google,2026-05-02,5,Sam,Great,=1+1", "2: review_id '=1+1' looks like a spreadsheet "
         "formula"),
        ("Google,2026-05-02,5,\"Sam\nSmith\",Great,a", "2: author 'Sam\\nSmith' contains a line "
         "break"),
        ("Google,2026-05-02,5,Sam,Great\x00,a", "2: contains a NUL byte"),
        ("Google,2026-05-02,5,Sam,Great\x1b[31m,a", "2: contains a control character"),
        ("Google,2026-05-02,5,Sam,Great,a,extra", "2: has 7 values but the header has 6 columns"),
        (f"Google,2026-05-02,5,Sam,{'x' * 5001},a", "2: text is longer than 5,000 characters"),
        (f"Google,2026-05-02,5,{'S' * 121},Great,a", "2: author is longer than 120 characters"),
        (f"Google,2026-05-02,5,Sam,Great,{'i' * 101}", "2: review_id is longer than 100 "
         "characters"),
    ],
)  # fmt: skip
def test_bad_values_are_named(tmp_path, practice, row, problem):
    assert one_problem(tmp_path, practice, row) == problem


def test_every_reason_of_one_record_is_given_on_its_line(tmp_path, practice):
    assert one_problem(tmp_path, practice, ",tomorrow,9,=cmd,,") == (
        "2: source is blank; date 'tomorrow' is not a date written YYYY-MM-DD or "
        "YYYY-MM-DDTHH:MM (ISO 8601); rating '9' is not a whole number of stars from 1 to 5; "
        "author '=cmd' looks like a spreadsheet formula"
    )


def test_a_quoted_multiline_text_is_reported_where_it_starts(tmp_path, practice):
    path = write(
        tmp_path,
        lines(HEADER, 'Google,2026-05-02,5,Sam,"One\nTwo\nThree",a', "Google,2026-13-01,5,S,T,b"),
    )
    assert problems(path, practice) == [f"{path}:5: date '2026-13-01' is not a real date"]


# --- Hostile files --------------------------------------------------------------------------


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", ": is empty (0 bytes)"),
        (xlsx_bytes(), ": is a spreadsheet (.xlsx, .ods) or zip archive, not CSV text: save it as "
         "CSV UTF-8"),
        (b"%PDF-1.7\n...", ": is a PDF document, not CSV text: save it as CSV UTF-8"),
        (b"\x00\x01\x02binary", ":1: contains NUL bytes: save the file as CSV UTF-8 (is it UTF-16 "
         "without a BOM?)"),
        (b"source;date;text\nGoogle;2026-05-02;Hi\n", ":1: the columns are separated by "
         "semicolons: save the file as CSV (commas)"),
        ("source,date,text\nGoogle,2026-05-02,Caf\xe9\n".encode("cp1252"), ":2: not valid UTF-8 "
         "text (save the file as UTF-8)"),
        (b"source,date,text,practice\n", ":1: column practice is not allowed: the practice is "
         "chosen with --practice"),
        (b"source,date,stars,text\n", ":1: unknown columns 'stars' (known: source, date, rating, "
         "author, text, review_id)"),
        (b"source,rating,author\n", ":1: missing column date"),
        (b'source,date,text\nGoogle,2026-05-02,"never closed\n', ":2: unbalanced quotes: a quoted "
         "value starts here and is never closed"),
    ],
)  # fmt: skip
def test_hostile_files_are_refused(tmp_path, practice, content, problem):
    path = write(tmp_path, content)
    found = problems(path, practice)
    assert found[0] == f"{path}{problem}"


def test_utf16_with_a_byte_order_mark_is_read(tmp_path, practice):
    content = lines(HEADER, "Google,2026-05-02,5,José,Très bien,a").encode("utf-16")
    assert content.startswith(b"\xff\xfe")  # Python writes the byte-order mark
    path = write(tmp_path, content)

    import_reviews_csv(path, practice=practice)

    assert FeedbackItem.objects.get().author_name == "José"


def test_oversized_file_is_refused_before_reading(tmp_path, practice, settings):
    settings.RAPPORT_IMPORT_MAX_BYTES = 1000
    path = write(tmp_path, lines(HEADER, *[f"Google,2026-05-02,5,S,Great,{n}" for n in range(60)]))

    assert problems(path, practice) == [
        f"{path}: is {path.stat().st_size:,} bytes, over the import limit of 1,000 bytes "
        "(RAPPORT_IMPORT_MAX_BYTES): split it into smaller files"
    ]


# --- The command line -----------------------------------------------------------------------


def run_import(path: Path, practice, *options: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(
            "import", "reviews", str(path), "--practice", str(practice.pk), "--no-progress",
            *options, stdout=out, stderr=err,
        )  # fmt: skip
    finally:
        run_import.err = err.getvalue()
    return out.getvalue(), err.getvalue()


def test_command_imports_reviews(tmp_path, practice):
    path = write(tmp_path, REVIEWS)

    out, err = run_import(path, practice)

    assert out == f"{path}: created 3 reviews\n"
    assert err == ""
    assert AuditEvent.objects.filter(action="import", object_type="reviews").count() == 1
    out, _ = run_import(path, practice)
    assert out == f"{path}: unchanged 3 reviews\n"


def test_command_fails_with_every_problem(tmp_path, practice):
    path = write(tmp_path, BAD)

    with pytest.raises(CommandError) as failure:
        run_import(path, practice)

    assert str(failure.value) == f"{path}: nothing imported (6 problem(s))"
    assert run_import.err.splitlines() == bad_problems(path)
    assert not FeedbackItem.objects.exists()


def test_command_skip_invalid_lists_the_rejected_rows(tmp_path, practice):
    path = write(tmp_path, BAD)

    out, err = run_import(path, practice, "--skip-invalid")

    assert out == f"{path}: created 2 reviews; rejected 6 rows\n"
    assert err.splitlines() == [f"{problem} (rejected)" for problem in bad_problems(path)]
