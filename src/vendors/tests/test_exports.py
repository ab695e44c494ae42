"""The scorecard page and its CSV and PDF: no more patient data than the practice chooses."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from core.models import AuditEvent
from core.spreadsheets import safe_cell
from feedback.services import feedback_item_create
from patients.tests.factories import AppointmentFactory, PatientFactory
from vendors.exports import CSV_HEADER
from vendors.services import involvement_create
from vendors.tests.factories import crestline

pytestmark = pytest.mark.django_db
COMMENT = "The Crestline technician ignored me and took two phone calls. Rude."


@pytest.fixture
def lab(practice):
    return crestline(practice)


@pytest.fixture
def priya(practice, lab):
    priya = PatientFactory(practice=practice, first_name="Priya", last_name="Nair")
    feedback_item_create(practice=practice, source="web", text=COMMENT, patient=priya)
    seat = AppointmentFactory(patient=priya, kind="Crown seat")
    involvement_create(
        vendor=lab, patient=priya, kind="lab_case", appointment=seat, sent_on=seat.starts_at.date()
    )
    return priya


def _rows(response) -> list[list[str]]:
    body = response.content
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_scorecard_page_shows_comments_defects_and_cases_without_names(
    client, lab, priya, clinician
):
    client.force_login(clinician)
    page = client.get(reverse("vendors:vendor-scorecard", args=[lab.pk])).content.decode()
    assert "two phone calls" in page and "Lab case late" in page
    assert "Priya" not in page and "Nair" not in page
    assert 'id="vendor-chart-data"' in page and 'id="trend-table"' in page
    assert "Download CSV" not in page  # exports are the managers'
    initials = client.get(
        reverse("vendors:vendor-scorecard", args=[lab.pk]), {"patients": "initials"}
    )
    assert "P. N." in initials.content.decode() and "Nair" not in initials.content.decode()
    audit = AuditEvent.objects.filter(object_type="vendor", action="list", actor=clinician).first()
    assert audit.detail["patient_ids"] == [priya.pk]


def test_the_csv_parses_with_its_header_and_no_patient_names(client, lab, priya, manager):
    client.force_login(manager)
    response = client.get(reverse("vendors:scorecard-csv", args=[lab.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="crestline-dental-lab-')
    rows = _rows(response)
    assert tuple(rows[0]) == CSV_HEADER
    assert all(len(row) == len(CSV_HEADER) for row in rows)
    text = response.content.decode("utf-8-sig")
    assert "Priya" not in text and "Nair" not in text and "P. N." not in text
    comments = [row for row in rows if row[0] == "comment"]
    assert [row[5] for row in comments] == [COMMENT] and comments[0][6] == ""
    defects = {row[2]: row[3] for row in rows if row[0] == "defects"}
    assert defects["Lab case late"] == "1"
    assert [row for row in rows if row[0] == "vendor"][0][3] == "Crestline Dental Lab"
    assert len([row for row in rows if row[0] == "month"]) == 36  # three figures, 12 months
    audit = AuditEvent.objects.get(object_type="vendor", action="export")
    assert audit.detail == {"patient_ids": [priya.pk], "format": "csv", "include_patients": "none"}


def test_initials_only_when_the_practice_chooses_them(client, lab, priya, manager):
    client.force_login(manager)
    response = client.get(reverse("vendors:scorecard-csv", args=[lab.pk]), {"patients": "initials"})
    rows = _rows(response)
    assert [row[6] for row in rows if row[0] == "comment"] == ["P. N."]
    assert [row[6] for row in rows if row[0] == "defect"] == ["P. N."]
    assert "Nair" not in response.content.decode("utf-8-sig")


def test_cells_a_spreadsheet_would_run_are_quoted(client, practice, manager, patient):
    lab = crestline(practice, name='=HYPERLINK("http://evil.example","Crestline")')
    for text in (
        "=1+2 Crestline was awful",
        "+SUM(A1) Crestline",
        "-2 stars for Crestline",
        "@cmd Crestline",
        "\t=tab Crestline",
    ):
        feedback_item_create(practice=practice, source="web", text=text, patient=patient)
    client.force_login(manager)
    rows = _rows(client.get(reverse("vendors:scorecard-csv", args=[lab.pk])))
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert '\'=HYPERLINK("http://evil.example","Crestline")' in cells
    assert sorted(row[5] for row in rows if row[0] == "comment") == [
        "'+SUM(A1) Crestline",
        "'-2 stars for Crestline",
        "'=1+2 Crestline was awful",
        "'=tab Crestline",
        "'@cmd Crestline",
    ]


def test_safe_cell_leaves_numbers_and_plain_text_alone():
    assert safe_cell(-3) == -3 and safe_cell(2.456) == 2.46 and safe_cell(None) == ""
    assert safe_cell("Crestline") == "Crestline" and safe_cell("-x") == "'-x"


def test_the_pdf_renders_with_the_vendor_and_no_patient_name(client, lab, priya, manager):
    client.force_login(manager)
    response = client.get(reverse("vendors:scorecard-pdf", args=[lab.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Crestline Dental Lab" in text and "Patient experience scorecard" in text
    assert "two phone calls" in text
    assert "Priya" not in text and "Nair" not in text
    initials = client.get(reverse("vendors:scorecard-pdf", args=[lab.pk]), {"patients": "initials"})
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(initials.content)).pages)
    assert "P. N." in text and "Nair" not in text


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_exports_are_for_managers(client, request, lab, role):
    client.force_login(request.getfixturevalue(role))
    for name in ("vendors:scorecard-csv", "vendors:scorecard-pdf"):
        assert client.get(reverse(name, args=[lab.pk])).status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


@pytest.mark.parametrize("patients", ["names", "all", "initials\x00", "' OR 1=1"])
def test_an_unknown_patient_option_is_a_friendly_400(client, lab, manager, patients):
    client.force_login(manager)
    for name in ("vendors:scorecard-csv", "vendors:scorecard-pdf", "vendors:vendor-scorecard"):
        response = client.get(reverse(name, args=[lab.pk]), {"patients": patients})
        assert response.status_code == 400, name
        assert "none or initials" in response.content.decode()
    assert not AuditEvent.objects.filter(action="export").exists()
