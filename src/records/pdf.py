"""A patient's record as a PDF a person can read, handed over beside the FHIR file.

The FHIR Bundle (``patients.exports.fhir``) is the complete record a practice imports; this
summary shows the same data (the patient, every appointment, every survey answer) on paper.

fpdf2's built-in fonts are Latin-1 only, and names are not, so the text is set in DejaVu
Sans, which npm installs (``dejavu-fonts-ttf`` in package.json, run by ``make install``).
DejaVu covers Latin, Greek and Cyrillic but not Chinese, Japanese or Korean: a character
it cannot draw is shown as □, and a note says the FHIR file holds it exactly.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.formats import date_format
from fpdf import FPDF
from fpdf.enums import TableBordersLayout
from fpdf.fonts import FontFace

from core.phones import display_phone
from feedback.models import Answer, Question
from patients.models import Patient

FONT = "DejaVu"
FONT_PACKAGE = "dejavu-fonts-ttf"
MISSING_GLYPH = "\u25a1"  # □, which DejaVu has
GREY = (90, 90, 90)
RULE = (200, 200, 200)
HEADINGS = FontFace(emphasis="BOLD", fill_color=(238, 238, 238))
LETTER_REGIONS = {"US", "CA"}
# A table row must fit on one page, so its cells are cut short; the FHIR file has it all.
CELL_LIMIT = 300


def font_files() -> dict[str, Path]:
    """DejaVu Sans regular and bold, as npm installed them; a clear error when missing."""
    folder = Path(settings.PROJECT_DIR) / "node_modules" / FONT_PACKAGE / "ttf"
    files = {"": folder / "DejaVuSans.ttf", "B": folder / "DejaVuSans-Bold.ttf"}
    for path in files.values():
        if not path.is_file():
            raise ImproperlyConfigured(
                f"The PDF summary needs the font {path.name} from the npm package "
                f"{FONT_PACKAGE}, not found at {path}: run `make install` (or `npm ci`)."
            )
    return files


class _Summary(FPDF):
    """The page furniture: a footer naming whose record it is, with page numbers."""

    def __init__(self, *, paper: str) -> None:
        super().__init__(format=paper)
        self.footer_text = ""
        for style, path in font_files().items():
            self.add_font(FONT, style, path)
        # Only characters both faces can draw; the rest become MISSING_GLYPH.
        regular, bold = (set(self.fonts[key].cmap) for key in (FONT.lower(), f"{FONT.lower()}B"))
        self.drawable = regular & bold
        self.replaced_glyphs = False
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, margin=20)

    def clean(self, value: object, *, limit: int | None = None) -> str:
        """Text fpdf2 can set: composed, no control characters, unknown glyphs visible.

        With ``limit``, one paragraph of at most that many characters (see ``CELL_LIMIT``).
        """
        text = unicodedata.normalize("NFC", str(value))
        if limit is not None:
            text = " ".join(text.split())
            text = text if len(text) <= limit else text[: limit - 1] + "…"
        out = []
        for ch in text:
            category = unicodedata.category(ch)
            if ch == "\n":
                out.append(ch)
            elif category == "Cc":
                out.append(" ")
            elif category in {"Cf", "Cs", "Co", "Cn"}:
                continue  # zero-width marks, lone surrogates, private and unassigned code points
            elif ord(ch) in self.drawable:
                out.append(ch)
            else:
                out.append(MISSING_GLYPH)
                self.replaced_glyphs = True
        return "".join(out)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.footer_text} · Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0)


def patient_summary_pdf(patient: Patient) -> bytes:
    """The patient's record as a readable PDF: details, appointments and survey answers."""
    practice = patient.practice
    paper = "Letter" if practice.region in LETTER_REGIONS else "A4"
    pdf = _Summary(paper=paper)
    name = pdf.clean(patient.full_name)
    pdf.footer_text = pdf.clean(f"{practice.name} · Records of {patient.full_name}", limit=100)
    pdf.set_title(f"Records summary: {patient.full_name}")
    pdf.set_author(practice.name)
    pdf.set_creator("Rapport")
    pdf.set_lang("en")
    pdf.add_page()

    _practice_header(pdf, practice)
    _para(pdf, f"Records summary for {name}", size=15, style="B", height=8)
    today = timezone.now().astimezone(practice.zone).date()
    _para(pdf, f"Prepared on {_long_date(today)}", color=GREY)

    _heading(pdf, "Patient")
    _details(pdf, patient)
    _heading(pdf, "Appointments")
    _appointments(pdf, patient)
    _heading(pdf, "Survey answers")
    _survey_answers(pdf, patient)

    pdf.ln(6)
    _para(
        pdf,
        "This summary is for reading. The complete record, in the standard format any "
        "practice or health app can import, is the FHIR file (.json) offered beside it on "
        "the same download page.",
    )
    if pdf.replaced_glyphs:
        pdf.ln(2)
        _para(
            pdf,
            f"Characters shown as {MISSING_GLYPH} are beyond this summary's font; "
            "the FHIR file holds them exactly.",
            color=GREY,
        )
    return bytes(pdf.output())


def _para(
    pdf: _Summary,
    text: str,
    *,
    size: float = 10,
    style: str = "",
    height: float = 5.5,
    color: tuple[int, int, int] = (0, 0, 0),
    indent: float = 0,
) -> None:
    """A paragraph (already clean text) from the left margin, wrapping across pages."""
    pdf.set_font(FONT, style, size)
    pdf.set_text_color(*color)
    pdf.set_x(pdf.l_margin + indent)
    pdf.multi_cell(0, height, text, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)


def _practice_header(pdf: _Summary, practice) -> None:
    _para(pdf, pdf.clean(practice.name), size=18, style="B", height=9)
    if practice.organisation.name != practice.name:
        _para(pdf, pdf.clean(practice.organisation.name), color=GREY)
    if practice.phone:
        _para(pdf, f"Phone {display_phone(practice.phone)}", color=GREY)
    pdf.ln(4)


def _heading(pdf: _Summary, text: str) -> None:
    pdf.ln(6)
    _para(pdf, text, size=12, style="B", height=7)
    pdf.set_draw_color(*RULE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.set_draw_color(0)
    pdf.ln(2)
    pdf.set_font(FONT, "", 10)


def _long_date(day: dt.date | None) -> str:
    return date_format(day, "F j, Y") if day else ""


def _details(pdf: _Summary, patient: Patient) -> None:
    place = ", ".join(filter(None, [patient.city, patient.postal_code]))
    rows = [
        ("Name", patient.full_name),
        ("Date of birth", _long_date(patient.date_of_birth)),
        ("Email", patient.email),
        ("Phone", display_phone(patient.phone)),
        ("Address", ", ".join(filter(None, [patient.address, place]))),
        ("First visit", _long_date(patient.first_visit_on)),
    ]
    if patient.guardian is not None:
        guardian = patient.guardian
        contact = ", ".join(filter(None, [guardian.email, display_phone(guardian.phone)]))
        rows.append(
            ("Guardian", f"{guardian.full_name} ({contact})" if contact else guardian.full_name)
        )
    if patient.household is not None:
        rows.append(("Household", patient.household.name))
    with pdf.table(
        col_widths=(1, 3),
        first_row_as_headings=False,
        borders_layout=TableBordersLayout.NONE,
        text_align="LEFT",
        line_height=5.5,
        padding=(1, 1),
    ) as table:
        for label, value in rows:
            if value:
                row = table.row()
                row.cell(label, style=FontFace(emphasis="BOLD"))
                row.cell(pdf.clean(value, limit=CELL_LIMIT))


def _appointments(pdf: _Summary, patient: Patient) -> None:
    appointments = patient.appointments.select_related("provider").order_by("starts_at", "pk")
    if not appointments:
        _para(pdf, "No appointments on record.")
        return
    zone = patient.practice.zone
    pdf.set_font(FONT, "", 9)
    with pdf.table(
        col_widths=(3, 3, 3, 2),
        headings_style=HEADINGS,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        text_align="LEFT",
        line_height=5,
    ) as table:
        table.row(["Date", "Provider", "Type", "Status"])
        for appointment in appointments:
            provider = appointment.provider.name if appointment.provider else ""
            table.row(
                [
                    date_format(appointment.starts_at.astimezone(zone), "M j, Y, g:i A"),
                    pdf.clean(provider, limit=CELL_LIMIT),
                    pdf.clean(appointment.kind, limit=CELL_LIMIT),
                    appointment.get_status_display(),
                ]
            )
    pdf.set_font(FONT, "", 10)


def _asked(answer: Answer, practice) -> str:
    """The question as the survey page asked it (feedback.views fills the same names)."""
    text = answer.question.text.replace("{practice}", practice.name)
    return text.replace("{vendor}", answer.vendor.name) if answer.vendor else text


def _answer_text(answer: Answer) -> str:
    """The answer as the patient gave it; empty when the question was left blank."""
    kind = answer.question.kind
    if kind == Question.Kind.NPS and answer.number is not None:
        return f"{answer.number} out of 10"
    if kind == Question.Kind.RATING and answer.number is not None:
        return f"{answer.number} out of 5"
    if kind == Question.Kind.YES_NO and answer.number is not None:
        return "Yes" if answer.number else "No"
    return answer.text


def _survey_answers(pdf: _Summary, patient: Patient) -> None:
    answers = Answer.objects.select_related("question", "vendor").order_by(
        "question__position", "question_id"
    )
    responses = (
        patient.survey_responses.select_related("survey")
        .prefetch_related(Prefetch("answers", queryset=answers))
        .order_by("submitted_at", "pk")
    )
    if not responses:
        _para(pdf, "No survey answers on record.")
        return
    practice = patient.practice
    for response in responses:
        # The day the answers were last changed: the FHIR file's "authored".
        answered_on = response.updated_at.astimezone(practice.zone).date()
        title = pdf.clean(f"{_long_date(answered_on)} · {response.survey.title}")
        _para(pdf, title, style="B", height=6)
        given = [
            (_asked(a, practice), text) for a in response.answers.all() if (text := _answer_text(a))
        ]
        if not given:
            _para(pdf, "No questions answered.", size=9, height=5)
        # Question above answer, not a table: a free-text answer may run over a page.
        for question, text in given:
            _para(pdf, pdf.clean(question), size=9, style="B", height=5)
            _para(pdf, pdf.clean(text), size=9, height=5, indent=5)
            pdf.ln(1.5)
        pdf.ln(4)
