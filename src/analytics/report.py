"""A practice's month on paper: the report its managers receive on the 1st of the next.

One or two pages of what the rollups hold for the practice's local calendar month: NPS with
its margin and a 12-month trend, surveys, the touchpoints' defects (a Pareto) and ratings,
service recovery, loyalty, records requests, departures, the phone, the staff and vendors
named in feedback, and the case mix. Every figure is printed with its base; one resting on
fewer than 30 answers (``stats.MIN_ANSWERS``) is printed in grey with the words "fewer than
30 answers" (or cases, calls …), never left out.

The report is sent by email, so it names no patient: it reads only the rollups, which hold
counts and sums (and the names of staff and vendors). The chart is drawn with fpdf2's
primitives and prints its numbers, so it reads in black and white. Text is set in DejaVu
Sans, as the records summary is (``records.pdf``).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal

from django.utils import timezone
from django.utils.formats import date_format
from fpdf import FPDF

from analytics.selectors import Figures, system_figures_by_month, system_practice_figures
from analytics.stats import MIN_ANSWERS, Nps, Proportion, case_mix_note, is_greyed
from core.models import Practice
from records.pdf import FONT, LETTER_REGIONS, MISSING_GLYPH, font_files

BLACK = (0, 0, 0)
GREY = (90, 90, 90)  # secondary text
FAINT = (150, 150, 150)  # figures on too few answers
RULE = (200, 200, 200)
BAR = (60, 60, 60)
BAR_FAINT = (225, 225, 225)
TREND_MONTHS = 12
# Longer lists are on the dashboards; the report stays within two pages.
PEOPLE_SHOWN = 8
VENDORS_SHOWN = 5
ROW = 5.0  # height of one line of figures, mm
DETAIL = 4.0  # line height of a figure's wrapped detail
DASH = "—"


def month_days(month: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the calendar month of ``month``."""
    first = month.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return first, last


def add_months(month: dt.date, count: int) -> dt.date:
    """The first day of the month ``count`` months after (or before) ``month``'s."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def month_label(month: dt.date) -> str:
    return date_format(month, "F Y")


def few(unit: str = "answers") -> str:
    return f"fewer than {MIN_ANSWERS} {unit}"


class _Report(FPDF):
    """Pages with a footer naming the practice and the month, and page numbers."""

    def __init__(self, *, paper: str, footer_text: str) -> None:
        super().__init__(format=paper)
        for style, path in font_files().items():
            self.add_font(FONT, style, path)
        # Only characters both faces can draw; the rest become MISSING_GLYPH.
        regular, bold = (set(self.fonts[key].cmap) for key in (FONT.lower(), f"{FONT.lower()}B"))
        self.drawable = regular & bold
        self.footer_text = self.clean(footer_text)
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)

    def clean(self, value: object) -> str:
        """One line fpdf2 can set: composed, no control characters, unknown glyphs as □."""
        text = " ".join(unicodedata.normalize("NFC", str(value)).split())
        out = []
        for ch in text:
            if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
                continue
            out.append(ch if ord(ch) in self.drawable else MISSING_GLYPH)
        return "".join(out)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.footer_text} · Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(*BLACK)

    def write_line(
        self,
        text: str,
        *,
        size: float = 10,
        style: str = "",
        color: tuple[int, int, int] = BLACK,
        height: float | None = None,
    ) -> None:
        """A paragraph from the left margin, wrapping."""
        self.set_font(FONT, style, size)
        self.set_text_color(*color)
        self.set_x(self.l_margin)
        self.multi_cell(0, height or size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*BLACK)

    def heading(self, text: str, *, keep: float = 22) -> None:
        """A section title with a rule, moved to the next page with ``keep`` mm below it."""
        if self.will_page_break(keep + 12):
            self.add_page()
        else:
            self.ln(3)
        self.write_line(text, size=12, style="B", height=6)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_draw_color(*BLACK)
        self.ln(1.5)

    def figure(self, label: str, value: str, detail: str = "", *, thin: str | None = None) -> None:
        """One figure: its name, the value, and its base; ``thin`` names the unit of a base
        under ``MIN_ANSWERS``, printing the row in grey with the warning."""
        color = FAINT if thin else BLACK
        if thin:
            detail = f"{detail} · {few(thin)}" if detail else few(thin)
        # The whole row on one page: the detail may wrap.
        self.set_font(FONT, "", 8.5)
        lines = self.multi_cell(
            self.w - self.r_margin - self.l_margin - 82,
            DETAIL,
            detail,
            dry_run=True,
            output="LINES",
        )
        if self.will_page_break(max(ROW, len(lines) * DETAIL + 1)):
            self.add_page()
        top = self.get_y()
        self.set_x(self.l_margin)
        self.set_text_color(*color)
        self.set_font(FONT, "", 9.5)
        self.cell(54, ROW, label)
        self.set_font(FONT, "B", 10)
        self.cell(28, ROW, value)
        self.set_font(FONT, "", 8.5)
        self.set_text_color(*(FAINT if thin else GREY))
        # A detail running over two lines is set closer than the rows.
        self.set_y(top + (ROW - DETAIL) / 2)
        self.set_x(self.l_margin + 82)
        self.multi_cell(0, DETAIL, detail, align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*BLACK)
        self.set_y(max(self.get_y() + 0.6, top + ROW))

    def fit(self, text: str, width: float) -> str:
        """``text`` cut with … to fit ``width`` mm in the current font."""
        text = self.clean(text)
        if self.get_string_width(text) <= width:
            return text
        while text and self.get_string_width(text + "…") > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def table_rows(
        self,
        columns: list[tuple[str, float, str]],
        rows: list[tuple[list[str], bool]],
        *,
        indent: float = 0,
        note: str = "",
    ) -> None:
        """A small table: (title, width, align) columns and rows of cells, greyed when the
        row's flag is set, with ``note`` (the warning) after the last column."""
        self.set_font(FONT, "B", 8.5)
        self.set_text_color(*GREY)
        self.set_x(self.l_margin + indent)
        for title, width, align in columns:
            self.cell(width, ROW, title, align=align)
        self.ln(ROW)
        for cells, thin in rows:
            if self.will_page_break(ROW):
                self.add_page()
            self.set_x(self.l_margin + indent)
            self.set_font(FONT, "", 8.5)
            self.set_text_color(*(FAINT if thin else BLACK))
            for text, (_, width, align) in zip(cells, columns, strict=True):
                self.cell(width, ROW, self.fit(text, width - 1.5), align=align)
            if thin and note:
                self.set_font(FONT, "", 7.5)
                self.cell(0, ROW, f"  {note}")
            self.ln(ROW)
        self.set_text_color(*BLACK)


# --- formatting ------------------------------------------------------------------------


def _number(value: float) -> str:
    """A whole number with a true minus sign; never "-0"."""
    rounded = round(value)
    return f"−{-rounded}" if rounded < 0 else str(rounded)


def _signed(value: float) -> str:
    rounded = round(value)
    return f"+{rounded}" if rounded > 0 else _number(value)


def _percent(share: Proportion) -> str:
    return DASH if share.percent is None else f"{share.percent:.0f}%"


def _interval(share: Proportion) -> str:
    if share.interval is None:
        return ""
    low, high = share.interval
    return f"95% interval {low:.0f}–{high:.0f}%"


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _share(
    pdf: _Report, label: str, share: Proportion, counted: str, *, unit: str = "answers"
) -> None:
    """A proportion with its base and interval, greyed below ``MIN_ANSWERS``."""
    if not share.total:
        pdf.figure(label, DASH, f"no {unit} this month")
        return
    detail = f"{share.count:,} of {share.total:,} {counted}"
    if interval := _interval(share):
        detail += f" · {interval}"
    pdf.figure(label, _percent(share), detail, thin=unit if share.is_greyed else None)


def nps_text(nps: Nps) -> str:
    """ "+32 ± 8", or the score alone when there is no margin (one answer)."""
    if nps.score is None:
        return DASH
    if nps.margin is None:
        return _signed(nps.score)
    return f"{_signed(nps.score)} ± {nps.margin:.0f}"


# --- the report ------------------------------------------------------------------------


def monthly_report_pdf(
    practice: Practice, month: dt.date, *, now: dt.datetime | None = None
) -> bytes:
    """The report of ``practice`` for the local calendar month of ``month``, as PDF bytes,
    prepared at ``now`` (default: now).

    Reads the rollups as they stand: refresh them first (``analytics.services`` does). A
    month still under way is reported to date; a month not yet begun is refused.
    """
    first, last = month_days(month)
    today = (now or timezone.now()).astimezone(practice.zone).date()
    if first > today:
        raise ValueError(f"{month_label(first)} has not begun at {practice.name}")
    in_progress = last >= today
    if in_progress:
        last = today
    figures = system_practice_figures(practice, first, last)
    trend_first = add_months(first, -(TREND_MONTHS - 1))
    by_month = dict(system_figures_by_month(practice, trend_first, last))
    trend = [
        (m, by_month[m].nps if m in by_month else None)
        for m in (add_months(trend_first, i) for i in range(TREND_MONTHS))
    ]

    title = f"{practice.name} — {month_label(first)} report"
    pdf = _Report(
        paper="Letter" if practice.region in LETTER_REGIONS else "A4",
        footer_text=title,
    )
    pdf.set_title(pdf.clean(title))
    pdf.set_author(pdf.clean(practice.name))
    pdf.set_creator("Rapport")
    pdf.set_lang("en")
    pdf.add_page()

    pdf.write_line(pdf.clean(practice.name), size=18, style="B", height=9)
    if practice.organisation.name != practice.name:
        pdf.write_line(pdf.clean(practice.organisation.name), color=GREY, height=5)
    period = f"{month_label(first)} report"
    pdf.write_line(period, size=14, style="B", height=8)
    days = f"{date_format(first, 'F j')} to {date_format(last, 'F j, Y')}"
    if in_progress:
        days += " (the month is not over: figures to date)"
    pdf.write_line(
        f"{days}, local days in {practice.timezone} · prepared {date_format(today, 'F j, Y')}",
        size=9,
        color=GREY,
        height=4.8,
    )
    pdf.ln(1)
    pdf.write_line(
        f"Figures resting on under {MIN_ANSWERS} answers (or cases, calls, requests) are "
        "printed in grey and marked so: read them as indications, not results. A 95% interval "
        "shows how far a figure could be from the truth.",
        size=8.5,
        color=GREY,
        height=4.4,
    )

    _nps_section(pdf, figures, trend)
    _survey_section(pdf, figures)
    _touchpoint_section(pdf, figures)
    _recovery_section(pdf, figures)
    _loyalty_section(pdf, figures)
    _phone_section(pdf, figures)
    _people_section(pdf, figures)
    _vendor_section(pdf, figures)
    _case_mix_section(pdf, figures)
    return bytes(pdf.output())


def _nps_section(pdf: _Report, figures: Figures, trend: list[tuple[dt.date, Nps | None]]) -> None:
    nps = figures.nps
    pdf.heading("Net Promoter Score", keep=70)
    thin = nps.is_greyed
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 20)
    pdf.set_text_color(*(FAINT if thin else BLACK))
    pdf.set_x(pdf.l_margin)
    headline = f"NPS {nps_text(nps)}"
    indent = pdf.get_string_width(headline) + 5
    pdf.cell(indent, 10, headline)
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(*(FAINT if thin else GREY))
    if nps.answers:
        parts = [
            f"{_plural(nps.answers, 'answer')}: {_plural(nps.promoters, 'promoter')} (9–10), "
            f"{_plural(nps.passives, 'passive')} (7–8), "
            f"{_plural(nps.detractors, 'detractor')} (0–6)"
        ]
        if nps.margin is not None:
            parts.append(f"± is the 95% margin: between {_number(nps.low)} and {_number(nps.high)}")
        if thin:
            parts.append(few())
        detail = " · ".join(parts)
    else:
        detail = "No NPS answers this month."
    pdf.set_xy(pdf.l_margin + indent, top + 0.5)
    pdf.multi_cell(0, 4.6, detail, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*BLACK)
    pdf.set_y(max(pdf.get_y(), top + 11))
    pdf.ln(2)
    _trend_chart(pdf, trend)


def _trend_chart(pdf: _Report, trend: list[tuple[dt.date, Nps | None]]) -> None:
    """NPS of each of the last 12 months as bars from a zero line, every bar labelled with
    its score and its number of answers; months on few answers are outlined in grey.

    The scale runs from 0 to +100, or from −100 when a month is below zero."""
    axis = 11
    left = pdf.l_margin + axis
    width = pdf.w - pdf.r_margin - left
    slot = width / len(trend)
    below_zero = any(n is not None and n.score is not None and n.score < 0 for _, n in trend)
    scale = 0.17  # mm per point
    plot = scale * (200 if below_zero else 100)
    pad = 5.0  # room for a label above +100 or below −100
    top = pdf.get_y() + pad
    zero = top + 100 * scale
    pdf.set_font(FONT, "", 7)
    pdf.set_text_color(*GREY)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.15)
    marks = ((100, top), (0, zero), (-100, top + plot)) if below_zero else ((100, top), (0, zero))
    for value, y in marks:
        pdf.set_xy(pdf.l_margin, y - 2)
        pdf.cell(axis - 1.5, 4, _signed(value), align="R")
        if value:
            pdf.set_dash_pattern(dash=0.8, gap=1.2)
            pdf.line(left, y, left + width, y)
            pdf.set_dash_pattern()
    pdf.set_draw_color(*BAR)
    pdf.set_line_width(0.3)
    pdf.line(left, zero, left + width, zero)
    pdf.set_line_width(0.2)
    any_thin = False
    for index, (month, nps) in enumerate(trend):
        x = left + index * slot
        bar = slot * 0.56
        bar_x = x + (slot - bar) / 2
        score = nps.score if nps is not None else None
        thin = score is not None and nps.is_greyed
        any_thin = any_thin or thin
        pdf.set_font(FONT, "B" if index == len(trend) - 1 else "", 7)
        pdf.set_text_color(*(FAINT if thin else BLACK))
        if score is None:
            pdf.set_text_color(*GREY)
            pdf.set_xy(x, zero - 4.5)
            pdf.cell(slot, 4, DASH, align="C")
        else:
            height = max(abs(score) * scale, 0.4)
            bar_top = zero - height if score >= 0 else zero
            if thin:
                pdf.set_fill_color(*BAR_FAINT)
                pdf.set_draw_color(*FAINT)
                pdf.rect(bar_x, bar_top, bar, height, style="DF")
            else:
                pdf.set_fill_color(*BAR)
                pdf.rect(bar_x, bar_top, bar, height, style="F")
            label = _signed(score) + ("*" if thin else "")
            label_y = bar_top - 4 if score >= 0 else bar_top + height
            pdf.set_xy(x, label_y)
            pdf.cell(slot, 4, label, align="C")
        below = top + plot + pad
        pdf.set_text_color(*GREY)
        pdf.set_xy(x, below)
        show_year = index == 0 or month.month == 1
        pdf.cell(slot, 3.6, date_format(month, "M Y" if show_year else "M"), align="C")
        pdf.set_xy(x, below + 3.6)
        answers = nps.answers if nps is not None else 0
        pdf.set_text_color(*(FAINT if thin else GREY))
        pdf.cell(slot, 3.6, f"n={answers}", align="C")
    pdf.set_draw_color(*BLACK)
    pdf.set_text_color(*BLACK)
    pdf.set_y(top + plot + pad + 8)
    caption = "NPS each month, with its number of answers (n). — no answers."
    if any_thin:
        caption += f" * {few()}: outlined in grey, read with care."
    pdf.write_line(caption, size=7.5, color=GREY, height=4)


def _survey_section(pdf: _Report, figures: Figures) -> None:
    pdf.heading("Surveys and feedback")
    pdf.figure("Survey responses", f"{figures.responses:,}", "submitted this month")
    _share(pdf, "Response rate", figures.response_rate, "invitations answered", unit="invitations")
    _share(pdf, "Satisfaction (CSAT)", figures.csat, "ratings of 4 or 5 out of 5")
    _share(pdf, "Ease (CES)", figures.ces, "answers to effort questions easy")
    pdf.figure(
        "Feedback received",
        f"{figures.feedback_items:,}",
        f"{_plural(figures.feedback_negative, 'defect')} (negative), "
        f"{figures.feedback_positive:,} praise (positive), on every channel",
    )


def _touchpoint_section(pdf: _Report, figures: Figures) -> None:
    """The defect Pareto (most defects first, with the cumulative share) beside each
    touchpoint's ratings."""
    rows = [t for t in figures.touchpoints if t.answers or t.defects]
    pdf.heading("Touchpoints: defects and ratings", keep=min(12 + 5 * len(rows), 40))
    if not rows:
        pdf.write_line("No ratings or defects this month.", size=9, color=GREY)
        return
    columns = [
        ("Touchpoint", 48, "L"),
        ("Defects", 32, "L"),
        ("Cumulative", 19, "R"),
        ("Average", 17, "R"),
        ("4 or 5", 15, "R"),
        ("Answers", 17, "R"),
        ("", 0, "L"),
    ]
    pdf.set_font(FONT, "B", 8.5)
    pdf.set_text_color(*GREY)
    pdf.set_x(pdf.l_margin)
    for title, width, align in columns:
        pdf.cell(width, ROW, title, align=align if width else "L")
    pdf.ln(ROW)
    total_defects = sum(t.defects for t in rows)
    most = max((t.defects for t in rows), default=0) or 1
    cumulative = 0
    for touchpoint in rows:
        if pdf.will_page_break(ROW):
            pdf.add_page()
        thin = bool(touchpoint.answers) and is_greyed(touchpoint.answers)
        y = pdf.get_y()
        pdf.set_x(pdf.l_margin)
        pdf.set_font(FONT, "", 8.5)
        pdf.set_text_color(*BLACK)
        pdf.cell(48, ROW, pdf.fit(touchpoint.label, 46))
        # The Pareto bar: defects to scale, the count printed beside it.
        bar_x = pdf.get_x()
        length = 22 * touchpoint.defects / most
        if touchpoint.defects:
            pdf.set_fill_color(*BAR)
            pdf.rect(bar_x, y + 1.3, length, ROW - 2.6, style="F")
        pdf.set_x(bar_x + length + 1)
        pdf.cell(32 - length - 1, ROW, str(touchpoint.defects))
        cumulative += touchpoint.defects
        share = f"{100 * cumulative / total_defects:.0f}%" if touchpoint.defects else ""
        pdf.cell(19, ROW, share, align="R")
        pdf.set_text_color(*(FAINT if thin else BLACK))
        average = touchpoint.average
        pdf.cell(17, ROW, DASH if average is None else f"{average:.1f}", align="R")
        pdf.cell(15, ROW, _percent(touchpoint.csat), align="R")
        pdf.cell(17, ROW, f"{touchpoint.answers:,}", align="R")
        pdf.set_font(FONT, "", 7.5)
        pdf.cell(0, ROW, f"  {few()}" if thin else "")
        pdf.ln(ROW)
    pdf.set_text_color(*BLACK)
    pdf.write_line(
        "Defects: negative feedback naming the touchpoint; cumulative: their running share "
        "of all defects, most first. Average: the touchpoint's 1–5 survey ratings; 4 or 5: "
        "the share of them that were.",
        size=7.5,
        color=GREY,
        height=4,
    )


def _recovery_section(pdf: _Report, figures: Figures) -> None:
    pdf.heading("Service recovery")
    pdf.figure("Cases opened", f"{figures.cases_opened:,}", "recovery cases opened this month")
    _share(
        pdf,
        "Acknowledged on time",
        figures.acknowledged_on_time,
        "acknowledged by the deadline (of those due)",
        unit="cases",
    )
    _share(
        pdf,
        "Recovery rate",
        figures.recovery_rate,
        "closed as recovered (unreachable patients left out)",
        unit="cases",
    )
    pairs = figures.satisfaction_pairs
    if pairs:
        pdf.figure(
            "Satisfaction before → after",
            f"{figures.satisfaction_before:.1f} → {figures.satisfaction_after:.1f}",
            f"average 0–10 score of {_plural(pairs, 'closed case')}, before and after recovery",
            thin="cases" if is_greyed(pairs) else None,
        )
    else:
        pdf.figure("Satisfaction before → after", DASH, "no closed case with both scores")
    pdf.figure(
        "Gestures",
        _money(figures.gestures_cost),
        f"{_plural(figures.gestures, 'gesture')} approved or given",
    )


def _loyalty_section(pdf: _Report, figures: Figures) -> None:
    pdf.heading("Loyalty, records and departures")
    snapshot = figures.snapshot
    if snapshot is not None and snapshot.practices:
        pdf.figure(
            "Patients at risk",
            f"{snapshot.patients_at_risk:,}",
            f"of {snapshot.patients_scored:,} scored, as last measured in the month",
        )
        pdf.figure(
            "Value at risk", _money(snapshot.value_at_risk), "lifetime value of those at risk"
        )
    else:
        pdf.figure("Patients at risk", DASH, "no loyalty measure was taken in the month")
    pdf.figure("Records requests", f"{figures.records_received:,}", "received this month")
    _share(
        pdf,
        "Records sent on time",
        figures.records_on_time,
        "fulfilled on or before their due day",
        unit="requests",
    )
    pdf.figure(
        "Departures",
        f"{figures.departures:,}",
        f"{'patient' if figures.departures == 1 else 'patients'} left; "
        f"{_plural(figures.redeemed, 'former patient')} came back",
    )
    pdf.figure("Value lost", _money(figures.value_lost), "lifetime value of those still gone")
    reasons = [r for r in figures.departures_by_reason if r.departures]
    if reasons:
        pdf.table_rows(
            [("Reason", 60, "L"), ("Patients", 22, "R"), ("Value lost", 30, "R")],
            [([r.label, f"{r.departures:,}", _money(r.value_lost)], False) for r in reasons],
            indent=8,
        )


def _phone_section(pdf: _Report, figures: Figures) -> None:
    pdf.heading("Phone")
    pdf.figure("Inbound calls", f"{figures.calls_inbound:,}", "started this month")
    _share(pdf, "Answer rate", figures.answer_rate, "answered by a person", unit="calls")
    _share(
        pdf,
        "Call-backs within deadline",
        figures.callbacks_within_deadline,
        "call-backs done on time, of those done or overdue",
        unit="call-backs",
    )
    _share(
        pdf,
        "New-caller conversion",
        figures.new_caller_conversion,
        "new callers booked within 7 days",
        unit="new callers",
    )


def _more(pdf: _Report, shown: int, total: int, what: str) -> None:
    if total > shown:
        pdf.write_line(
            f"… and {total - shown} more {what} on the dashboard.", size=8, color=GREY, height=4.4
        )


def _people_section(pdf: _Report, figures: Figures) -> None:
    """Praise and complaints naming members of staff (as the text analysis matched them
    to the practice's staff: the rollups hold no patient's name)."""
    people = [p for p in figures.people if p.mentions]
    if not people:
        return
    pdf.heading("Named in feedback", keep=16)
    shown = people[:PEOPLE_SHOWN]
    pdf.table_rows(
        [
            ("Named", 60, "L"),
            ("Praise", 18, "R"),
            ("Complaints", 24, "R"),
            ("Praise share", 26, "R"),
        ],
        [
            (
                [
                    p.person,
                    f"{p.praise:,}",
                    f"{p.complaints:,}",
                    _percent(p.praise_share),
                ],
                p.praise_share.is_greyed,
            )
            for p in shown
        ],
        note=few("mentions"),
    )
    _more(pdf, len(shown), len(people), "people named")


def _vendor_section(pdf: _Report, figures: Figures) -> None:
    vendors = [
        v for v in figures.vendors if v.answers or v.defects or v.complaints or v.cases_opened
    ]
    if not vendors:
        return
    pdf.heading("Labs and specialists", keep=16)
    shown = vendors[:VENDORS_SHOWN]
    pdf.table_rows(
        [
            ("Vendor", 52, "L"),
            ("Average", 16, "R"),
            ("4 or 5", 15, "R"),
            ("Answers", 17, "R"),
            ("Defects", 16, "R"),
            ("Complaints", 21, "R"),
            ("Cases", 13, "R"),
        ],
        [
            (
                [
                    v.name,
                    DASH if v.average is None else f"{v.average:.1f}",
                    _percent(v.csat),
                    f"{v.answers:,}",
                    f"{v.defects:,}",
                    f"{v.complaints:,}",
                    f"{v.cases_opened:,}",
                ],
                bool(v.answers) and is_greyed(v.answers),
            )
            for v in shown
        ],
        note=few(),
    )
    _more(pdf, len(shown), len(vendors), "vendors")


def _case_mix_section(pdf: _Report, figures: Figures) -> None:
    pdf.heading("Case mix", keep=16)
    mix = figures.case_mix
    pdf.figure("Completed visits", f"{figures.visits:,}", "appointments completed this month")
    share = mix.new_share
    detail = (
        f"{mix.new_patients:,} of {mix.patients_seen:,} patients seen (counted per day) "
        "were on their first visit"
    )
    pdf.figure("New patients", _percent(share), detail if share.total else "no visits")
    pdf.write_line(case_mix_note(mix), size=8.5, color=GREY, height=4.6)
