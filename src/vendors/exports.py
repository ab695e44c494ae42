"""A vendor's scorecard as files to send to the vendor: CSV for a spreadsheet, PDF to read.

Both carry what ``selectors.scorecard`` holds and no more: comments as text, and patients
only as initials when the practice chose them. The CSV is UTF-8 with a byte-order mark
(spreadsheets then read accents right), and a cell a spreadsheet would run as a formula
(starting ``=``, ``+``, ``-``, ``@``, tab or carriage return) starts with a quote instead.
"""

from __future__ import annotations

import unicodedata

from django.utils.formats import date_format
from fpdf import FPDF
from fpdf.enums import TableBordersLayout
from fpdf.fonts import FontFace

from core.spreadsheets import csv_bytes
from records.pdf import font_files
from vendors.selectors import THIN, Scorecard

CSV_HEADER = ("section", "date", "measure", "value", "count", "detail", "patient")
FONT = "DejaVu"
MISSING_GLYPH = "\u25a1"
GREY = (90, 90, 90)
HEADINGS = FontFace(emphasis="BOLD", fill_color=(238, 238, 238))
LETTER_REGIONS = {"US", "CA"}


def _day(moment) -> str:
    return moment.date().isoformat() if hasattr(moment, "date") else moment.isoformat()


def scorecard_rows(card: Scorecard) -> list[tuple]:
    vendor = card.vendor
    zone = vendor.practice.zone
    rows: list[tuple] = [
        ("vendor", "", "name", vendor.name, "", vendor.get_kind_display(), ""),
        ("vendor", "", "practice", vendor.practice.name, "", "", ""),
        ("period", _day(card.since.astimezone(zone)), "from", "", "", "", ""),
        ("period", _day(card.until.astimezone(zone)), "to", "", "", "", ""),
    ]
    if vendor.standards_sent_on:
        rows.append(("standards", vendor.standards_sent_on.isoformat(), "sent", "", "", "", ""))
    if vendor.standards_acknowledged_on:
        on = vendor.standards_acknowledged_on.isoformat()
        rows.append(("standards", on, "acknowledged", "", "", "", ""))
    for s in [*card.satisfaction, card.overall]:
        note = f"fewer than {THIN} answers" if s.is_thin else ""
        rows.append(("satisfaction", "", s.label, s.average, s.answers, note, ""))
    for _, label, total, still_open in card.defects:
        rows.append(("defects", "", label, total, "", f"{still_open} still open", ""))
    for measure in ("opened", "open", "closed", "recovered"):
        rows.append(("cases", "", measure, card.cases[measure], "", "", ""))
    for label, count in card.involvements:
        rows.append(("work", "", label, count, "", "", ""))
    for month in card.months:
        key = month.month.strftime("%Y-%m")
        rows.append(("month", key, "average rating", month.average, month.answers, "", ""))
        rows.append(("month", key, "defects", month.defects, "", "", ""))
        rows.append(("month", key, "cases opened", month.cases, "", "", ""))
    for detected_at, label, detail, still_open, initials in card.defect_rows:
        state = "open" if still_open else "resolved"
        rows.append(
            ("defect", _day(detected_at.astimezone(zone)), label, state, "", detail, initials)
        )
    for comment in card.comments:
        day = _day(comment.received_at.astimezone(zone))
        rows.append(
            ("comment", day, comment.label, comment.score, "", comment.text, comment.initials)
        )
    return rows


def scorecard_csv(card: Scorecard) -> bytes:
    return csv_bytes(CSV_HEADER, scorecard_rows(card))


class _Scorecard(FPDF):
    def __init__(self, *, paper: str, footer_text: str) -> None:
        super().__init__(format=paper)
        for style, path in font_files().items():
            self.add_font(FONT, style, path)
        regular, bold = (set(self.fonts[key].cmap) for key in (FONT.lower(), f"{FONT.lower()}B"))
        self.drawable = regular & bold
        self.footer_text = footer_text
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, margin=20)

    def clean(self, value: object, *, limit: int = 2000) -> str:
        text = unicodedata.normalize("NFC", "" if value is None else str(value))
        text = text if len(text) <= limit else text[: limit - 1] + "…"
        out = []
        for ch in text:
            category = unicodedata.category(ch)
            if ch == "\n":
                out.append(ch)
            elif category == "Cc":
                out.append(" ")
            elif category in {"Cf", "Cs", "Co", "Cn"}:
                continue
            else:
                out.append(ch if ord(ch) in self.drawable else MISSING_GLYPH)
        return "".join(out)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.footer_text} · Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0)

    def para(self, text: str, *, size: float = 10, style: str = "", color=(0, 0, 0)) -> None:
        self.set_font(FONT, style, size)
        self.set_text_color(*color)
        self.set_x(self.l_margin)
        self.multi_cell(0, size * 0.55, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0)

    def heading(self, text: str) -> None:
        self.ln(4)
        self.para(text, size=12, style="B")
        self.ln(1)

    def grid(self, headings: list[str], rows: list[list[object]], widths: tuple) -> None:
        self.set_font(FONT, "", 9)
        with self.table(
            col_widths=widths,
            headings_style=HEADINGS,
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            text_align="LEFT",
            line_height=5,
        ) as table:
            table.row(headings)
            for row in rows:
                table.row([self.clean("" if v is None else v, limit=300) for v in row])
        self.set_font(FONT, "", 10)


def _average(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def scorecard_pdf(card: Scorecard) -> bytes:
    vendor = card.vendor
    practice = vendor.practice
    zone = practice.zone
    paper = "Letter" if practice.region in LETTER_REGIONS else "A4"
    pdf = _Scorecard(paper=paper, footer_text=f"{practice.name} · {vendor.name} · scorecard")
    pdf.set_title(f"Patient experience scorecard: {vendor.name}")
    pdf.set_author(practice.name)
    pdf.set_creator("Rapport")
    pdf.set_lang("en")
    pdf.add_page()
    since = date_format(card.since.astimezone(zone).date(), "M j, Y")
    until = date_format(card.until.astimezone(zone).date(), "M j, Y")
    pdf.para(practice.name, size=11, color=GREY)
    pdf.para(f"Patient experience scorecard: {vendor.name}", size=16, style="B")
    pdf.para(f"{vendor.get_kind_display()} · {since} to {until}", color=GREY)
    if vendor.standards_acknowledged_on:
        on = date_format(vendor.standards_acknowledged_on, "M j, Y")
        pdf.para(f"Our patient-experience standards: acknowledged on {on}.")
    elif vendor.standards_sent_on:
        on = date_format(vendor.standards_sent_on, "M j, Y")
        pdf.para(f"Our patient-experience standards: sent on {on}, not yet acknowledged.")

    pdf.heading("How patients rated their experience (1 to 5)")
    rows = [
        [
            s.label,
            _average(s.average),
            s.answers,
            "few answers: read with care" if s.is_thin else "",
        ]
        for s in [*card.satisfaction, card.overall]
    ]
    pdf.grid(["Touchpoint", "Average", "Answers", ""], rows, (4, 2, 2, 4))

    pdf.heading("Defects")
    rows = [[label, total, still_open] for _, label, total, still_open in card.defects]
    pdf.grid(["Kind", "In the period", "Still open"], rows, (4, 2, 2))
    if card.defect_rows:
        pdf.ln(2)
        rows = [
            [date_format(at.astimezone(zone), "M j, Y"), label, detail, initials]
            for at, label, detail, _, initials in card.defect_rows
        ]
        pdf.grid(["Date", "Kind", "What happened", "Patient"], rows, (2, 3, 6, 1.5))

    pdf.heading("Service-recovery cases")
    cases = card.cases
    pdf.para(
        f"{cases['opened']} opened: {cases['open']} still open, {cases['closed']} closed, "
        f"{cases['recovered']} recovered."
    )

    pdf.heading("By month")
    rows = [
        [m.month.strftime("%b %Y"), _average(m.average), m.answers, m.defects, m.cases]
        for m in card.months
    ]
    pdf.grid(["Month", "Average rating", "Answers", "Defects", "Cases"], rows, (2, 2, 2, 2, 2))

    pdf.heading("What patients said")
    if not card.comments:
        pdf.para("No comments in the period.", color=GREY)
    for comment in card.comments:
        day = date_format(comment.received_at.astimezone(zone), "M j, Y")
        who = f" · {comment.initials}" if comment.initials else ""
        score = f" · {comment.score}/10" if comment.score is not None else ""
        pdf.para(f"{day}{score}{who}", size=9, style="B")
        pdf.para(comment.text, size=9)
        pdf.ln(2)
    return bytes(pdf.output())
