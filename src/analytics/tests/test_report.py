"""The monthly report: a PDF carrying the month's figures (greyed on few answers, naming no
patient), sent by the hourly job to each manager once, from 06:00 on the 1st where the
practice is; and ``rapport report``."""

from __future__ import annotations

import datetime as dt
import io
import re
from email.header import decode_header, make_header

import pytest
import time_machine
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from analytics import tasks
from analytics.report import monthly_report_pdf
from analytics.rollups import rollups_refresh
from analytics.selectors import system_practice_figures
from analytics.services import monthly_reports_send, report_due_month
from analytics.tests import factories as f
from analytics.tests.story import MARCH, NOW, NY
from core.models import Membership
from core.tests.factories import PracticeFactory, member
from messaging.delivery import deliver_due, message_id_for
from messaging.models import OutboundMessage
from patients.models import Patient
from patients.seeding.demo import seed_demo
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db
MANAGER = Membership.Role.MANAGER
KIND = "analytics_monthly_report"
# 06:30 on April 1 in New York is 21:30 in Sydney: March's report is due at both.
APRIL_FIRST = f.at("2026-04-01 06:30", NY)


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def text_of(pdf: bytes) -> str:
    """The PDF's text with every run of spaces and line breaks as one space: a detail
    wrapped over two lines reads as it was written."""
    return " ".join(" ".join(pages_of(pdf)).split())


@pytest.fixture
def rolled_up(history, maple, harbor):
    rollups_refresh(days=MARCH, now=NOW)


# --- the PDF ---------------------------------------------------------------------------


def test_the_report_carries_the_months_figures_of_the_practice_alone(rolled_up, maple):
    pdf = monthly_report_pdf(maple, dt.date(2026, 3, 17))

    assert pdf.startswith(b"%PDF")
    assert 1 <= len(pages_of(pdf)) <= 2
    text = text_of(pdf)
    figures = system_practice_figures(maple, MARCH.first, MARCH.last)
    for expected in [
        "Maple Street Dental",
        "March 2026 report",
        "March 1 to March 31, 2026, local days in America/New_York",
        # Dana's 10 and Finn's 5; Sam's 8 is Harbor's.
        "NPS 0 ± 139",
        "2 answers: 1 promoter (9–10), 0 passives (7–8), 1 detractor (0–6)",
        "Survey responses 2",
        "Response rate 67% 2 of 3 invitations answered · 95% interval 21–94%",
        "Satisfaction (CSAT) 33% 1 of 3 ratings of 4 or 5 out of 5",
        "Ease (CES) 100% 1 of 1 answers to effort questions easy",
        f"Feedback received {figures.feedback_items} {figures.feedback_negative} defects",
        # The Pareto: waiting's two defects are two thirds of the three.
        "Waiting 2 67% 1.5 0% 2 fewer than 30 answers",
        "Arrival, reception, front desk 1 100%",
        "Hygienist care 0 5.0 100% 1 fewer than 30 answers",
        "Cases opened 2",
        "Acknowledged on time 50% 1 of 2 acknowledged by the deadline",
        "Recovery rate 100% 1 of 1 closed as recovered",
        "Satisfaction before → after 5.0 → 9.0 average 0–10 score of 1 closed case",
        "Gestures $35.50 1 gesture approved or given",
        "Patients at risk 1 of 2 scored",
        "Value at risk $1,000.00",
        "Records requests 1 received this month",
        "Records sent on time 100% 1 of 1 fulfilled on or before their due day",
        "Departures 2 patients left; 1 former patient came back",
        "Value lost $1,234.56",
        "Cost 1 $0.00",
        "Moved 1 $1,234.56",
        "Inbound calls 3",
        "Answer rate 33% 1 of 3 answered by a person",
        "Call-backs within deadline 50% 1 of 2 call-backs done on time",
        "New-caller conversion 100% 1 of 1 new callers booked within 7 days",
        "Completed visits 4",
        "New patients 50% 2 of 4 patients seen",
        "50% of patients seen were new, 50% returning.",
        "Page 1 of",
    ]:
        assert expected in text, expected


def test_figures_on_fewer_than_30_answers_are_printed_with_the_warning(rolled_up, maple):
    text = text_of(monthly_report_pdf(maple, dt.date(2026, 3, 1)))

    assert "between −100 and 100 · fewer than 30 answers" in text
    assert (
        "Satisfaction (CSAT) 33% 1 of 3 ratings of 4 or 5 out of 5 · 95% interval 6–79% · "
        "fewer than 30 answers"
    ) in text
    assert "interval 9–91% · fewer than 30 cases" in text
    assert "fewer than 30 calls" in text and "fewer than 30 new callers" in text
    # The trend marks March's two answers too, and says what the mark means.
    assert "0* Mar n=2" in text
    assert "* fewer than 30 answers: outlined in grey" in text


def test_thirty_answers_are_enough_for_no_warning(practice):
    moment = f.at("2026-03-10 12:00", NY)
    for score in [10] * 20 + [8] * 5 + [3] * 5:
        invited = f.invitation(PatientFactory(practice=practice), created_at=moment)
        f.respond(invited, submitted_at=moment, nps=score)
    rollups_refresh(practices=[practice], days=MARCH, now=NOW)

    text = text_of(monthly_report_pdf(practice, dt.date(2026, 3, 1)))

    assert "NPS +50 ± 27" in text
    assert (
        "30 answers: 20 promoters (9–10), 5 passives (7–8), 5 detractors (0–6) · "
        "± is the 95% margin: between 23 and 77"
    ) in text
    assert "Response rate 100% 30 of 30 invitations answered" in text
    assert "+50 Mar n=30" in text
    assert "fewer than" not in text
    assert "Satisfaction (CSAT) — no answers this month" in text


def test_the_report_names_no_patient(rolled_up, maple):
    Patient.objects.update(first_name="Zzfirstname", last_name="Zzlastname", preferred_name="")

    text = text_of(monthly_report_pdf(maple, dt.date(2026, 3, 1)))

    assert "Zz" not in text
    assert not re.search(r"\b(Dana|Nora|Finn|Pat|Walt|Rita|Sam)\b", text)


def test_drawing_the_report_logs_nothing_at_info(rolled_up, maple):
    # The font subsetting logs every glyph list at INFO; production logs at INFO.
    import logging

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.INFO)
    handler.emit = records.append
    logging.getLogger().addHandler(handler)
    try:
        monthly_report_pdf(maple, dt.date(2026, 3, 1), now=NOW)
    finally:
        logging.getLogger().removeHandler(handler)
    assert [r.name for r in records if r.name.startswith("fontTools")] == []


def test_a_month_under_way_is_reported_to_date_and_a_later_one_refused(rolled_up, maple):
    with time_machine.travel(NOW, tick=False):
        text = text_of(monthly_report_pdf(maple, dt.date(2026, 3, 1)))
        with pytest.raises(ValueError, match="April 2026 has not begun at Maple Street Dental"):
            monthly_report_pdf(maple, dt.date(2026, 4, 1))

    assert "March 1 to March 12, 2026 (the month is not over: figures to date)" in text


# --- the job ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "due"),
    [
        ("2026-04-01 05:59", None),
        ("2026-04-01 06:00", dt.date(2026, 3, 1)),
        ("2026-04-17 12:00", dt.date(2026, 3, 1)),
        ("2026-04-30 23:59", dt.date(2026, 3, 1)),
        ("2026-03-31 23:59", dt.date(2026, 2, 1)),
        ("2026-01-01 06:00", dt.date(2025, 12, 1)),
    ],
)
def test_last_months_report_is_due_from_six_on_the_first_to_the_end_of_the_month(
    practice, local, due
):
    assert report_due_month(practice, f.at(local, NY)) == due


def sent_reports():
    return OutboundMessage.objects.filter(kind=KIND).order_by("to_address")


def test_the_job_sends_last_months_report_once_to_each_active_manager(
    history, maple, harbor, manager, front_desk, director
):
    manager.first_name, manager.email = "Olivia", "olivia@example.com"
    manager.save()
    member(maple, MANAGER, username="max", first_name="Max", email="max@example.com")
    member(maple, MANAGER, username="gone", email="gone@example.com", is_active=False)
    member(maple, MANAGER, username="no-address", email="")
    # Not an address: left out, without holding up the others.
    member(maple, MANAGER, username="typo", email="olivia at example.com")
    for user in (front_desk, director):
        user.email = f"{user.username}@example.com"
        user.save()
    member(harbor, MANAGER, username="hana", email="hana@example.com")

    assert monthly_reports_send(now=APRIL_FIRST) == 3

    reports = sent_reports()
    assert list(reports.values_list("to_address", flat=True)) == [
        "hana@example.com",
        "max@example.com",
        "olivia@example.com",
    ]
    olivias = reports.get(to_address="olivia@example.com")
    assert olivias.subject == "Maple Street Dental — March 2026 report"
    assert olivias.idempotency_key == f"analytics-monthly:{maple.pk}:2026-03:{manager.pk}"
    assert olivias.body.startswith("Hello Olivia,\n\nAttached is Maple Street Dental's report")
    assert olivias.patient is None
    [attachment] = olivias.attachments.all()
    assert (attachment.filename, attachment.content_type) == (
        "maple-2026-03-report.pdf",
        "application/pdf",
    )
    # No rollups existed: the job refreshed March's before drawing it.
    text = text_of(bytes(attachment.content))
    assert "NPS 0 ± 139" in text and "prepared April 1, 2026" in text
    harbors = reports.get(to_address="hana@example.com")
    assert harbors.subject == "Harbor Dental — March 2026 report"
    assert "1 answer: 0 promoters (9–10), 1 passive (7–8), 0 detractors (0–6)" in text_of(
        bytes(harbors.attachments.get().content)
    )

    # An hour later, and later in the month (the periodic task), nothing more.
    assert monthly_reports_send(now=APRIL_FIRST + dt.timedelta(hours=1)) == 0
    with time_machine.travel(f.at("2026-04-20 09:10", NY), tick=False):
        assert tasks.monthly_reports.call_local() == 0
    assert reports.count() == 3

    # May brings April's.
    assert monthly_reports_send(now=f.at("2026-05-01 07:10", NY)) == 3
    keys = set(reports.values_list("idempotency_key", flat=True))
    march = {key for key in keys if ":2026-03:" in key}
    assert keys - march == {key.replace(":2026-03:", ":2026-04:") for key in march}


def test_a_practice_before_six_on_the_first_in_its_own_zone_gets_nothing_yet(
    organisation, practice, manager
):
    manager.email = "olivia@example.com"
    manager.save()
    aloha = PracticeFactory(
        organisation=organisation, name="Aloha Dental", slug="aloha", timezone="Pacific/Honolulu"
    )
    member(aloha, MANAGER, username="kai", email="kai@example.com")
    # 05:59 in Honolulu is 11:59 in New York.
    moment = dt.datetime(2026, 4, 1, 15, 59, tzinfo=dt.UTC)

    assert monthly_reports_send(now=moment) == 1
    assert list(sent_reports().values_list("to_address", flat=True)) == ["olivia@example.com"]

    assert monthly_reports_send(now=moment + dt.timedelta(minutes=1)) == 1
    assert sent_reports().get(practice=aloha).subject == "Aloha Dental — March 2026 report"


def test_a_practice_without_managers_with_an_address_is_skipped(practice, front_desk):
    front_desk.email = "frank@example.com"
    front_desk.save()

    assert monthly_reports_send(now=APRIL_FIRST) == 0
    assert not OutboundMessage.objects.exists()


# --- rapport report --------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_report_command_writes_the_pdf(history, maple, harbor, tmp_path, monkeypatch):
    target = tmp_path / "march.pdf"

    out = run("--practice", "maple", "--month", "2026-03", "--out", str(target))

    assert re.fullmatch(
        rf"report: Maple Street Dental, March 2026 written to {re.escape(str(target))}"
        r" \(\d+ KB\)\n",
        out,
    ), out
    assert "NPS 0 ± 139" in text_of(target.read_bytes())
    monkeypatch.chdir(tmp_path)
    run("--practice", f"{maple.organisation.slug}/maple", "--month", "2026-03")
    assert (tmp_path / "maple-2026-03-report.pdf").read_bytes().startswith(b"%PDF")
    assert not OutboundMessage.objects.exists()


def test_report_command_sends_to_the_managers_once(history, maple, harbor, manager):
    manager.email = "olivia@example.com"
    manager.save()

    first = run("--practice", str(maple.pk), "--month", "2026-03", "--send")
    again = run("--practice", "maple", "--month", "2026-03", "--send")

    assert first == "report: Maple Street Dental, March 2026 queued for 1 of 1 managers\n"
    assert again == (
        "report: Maple Street Dental, March 2026 queued for 0 of 1 managers (1 had it already)\n"
    )
    assert sent_reports().get().idempotency_key.endswith(f":2026-03:{manager.pk}")
    # The job later that month finds it sent.
    assert monthly_reports_send(now=APRIL_FIRST) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "--month 2026-13: write the month as YYYY-MM, like 2026-09"),
        (["--month", "March"], "--month March: write the month as YYYY-MM, like 2026-09"),
        (["--month", "2026-3"], "--month 2026-3: write the month as YYYY-MM, like 2026-09"),
        (["--month", "2026-04"], "--month 2026-04: April 2026 has not begun at Maple Street"),
        (["--month", "2026-03", "--send"], "Maple Street Dental has no active manager with an"),
        (["--month", "2026-03", "--out", "/nonexistent/dir/march.pdf"], "--out /nonexistent/"),
    ],
)
def test_report_command_refuses_bad_input_clearly(practice, args, message):
    with time_machine.travel(NOW, tick=False), pytest.raises(CommandError) as refused:
        run("--practice", "maple", *args)

    assert str(refused.value).startswith(message)
    assert not OutboundMessage.objects.exists()


def test_report_command_refuses_an_unknown_practice(practice):
    with pytest.raises(CommandError, match="--practice nowhere: no such practice"):
        run("--practice", "nowhere", "--month", "2026-03")


# --- the demo --------------------------------------------------------------------------

# 07:00 on December 1 in New York: November's report is due at Maple.
DECEMBER_FIRST = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_demo_manager_receives_novembers_report_by_email(smtp_sink):
    with time_machine.travel(DECEMBER_FIRST, tick=False):
        seed_demo()
        queued = monthly_reports_send()
        deliver_due()

    # Maple's office manager; Harbor has no manager, and the director manages no practice.
    assert queued == 1
    message = OutboundMessage.objects.get(kind=KIND)
    assert message.status == OutboundMessage.Status.SENT
    # (The demo's own messages went out too: to patients, and case notices to staff.)
    [received] = [m for m in smtp_sink.received if m["Message-ID"] == message_id_for(message)]
    assert received["To"] == "manager@example.com"
    subject = str(make_header(decode_header(received["Subject"])))
    assert subject == "Maple Street Dental — November 2026 report"
    [attachment] = [p for p in received.walk() if p.get_content_disposition() == "attachment"]
    assert attachment.get_filename() == "maple-2026-11-report.pdf"
    assert attachment.get_content_type() == "application/pdf"
    pages = pages_of(attachment.get_payload(decode=True))
    assert 1 <= len(pages) <= 2
    text = " ".join(" ".join(pages).split())
    assert "Maple Street Dental" in text and "November 2026 report" in text
    assert re.search(r"NPS [+−]?\d+ ± \d+ \d+ answers", text)
    assert "Dana" not in text and "Whitfield" not in text and "Priya" not in text
