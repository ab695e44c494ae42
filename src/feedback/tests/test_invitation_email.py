"""End to end with a real SMTP server: the invitation arrives and its link opens the survey."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import time_machine

from feedback.models import SurveyInvitation
from feedback.services import invitations_send_due
from messaging.delivery import deliver_due
from messaging.selectors import is_opted_out
from patients.tests.factories import AppointmentFactory

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def _body(message) -> str:
    part = message.get_body(preferencelist=("plain",)) if hasattr(message, "get_body") else None
    if part is None:
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                break
    return part.get_payload(decode=True).decode()


def test_invitation_email_arrives_with_a_working_link(client, smtp_sink, patient, settings):
    settings.RAPPORT_BASE_URL = "https://rapport.maple.example"
    AppointmentFactory(patient=patient, starts_at=dt.datetime(2026, 11, 24, 10, 0, tzinfo=NEW_YORK))
    now = dt.datetime(2026, 11, 24, 14, 0, tzinfo=NEW_YORK)
    with time_machine.travel(now, tick=False):
        assert invitations_send_due(now=now) == 1
        assert deliver_due() == 1

    assert smtp_sink.count == 1
    message = smtp_sink.received[0]
    assert message["To"].endswith(patient.email)
    assert patient.last_name not in message["Subject"]  # no patient data in subjects
    body = _body(message)
    link = re.search(r"https://rapport\.maple\.example(/s/[^\s]+/)", body).group(1)
    invitation = SurveyInvitation.objects.get()
    assert link.startswith(f"/s/{invitation.public_id}:")

    with time_machine.travel(now + dt.timedelta(hours=1)):
        page = client.get(link)
    assert page.status_code == 200
    assert "How was your visit?" in page.content.decode()

    unsubscribe = re.search(r"https://rapport\.maple\.example(/s/[^\s]+/unsubscribe/)", body)
    assert unsubscribe, "every message carries a one-click unsubscribe link"
    assert message["List-Unsubscribe"]


def test_unsubscribe_asks_on_get_and_opts_out_on_post(client, patient):
    from feedback.services import invitation_token
    from feedback.tests.factories import InvitationFactory

    invitation = InvitationFactory(patient=patient)
    url = f"/s/{invitation_token(invitation)}/unsubscribe/"
    assert "Stop survey messages?" in client.get(url).content.decode()
    assert not is_opted_out(patient, "email")  # a mail scanner's GET changes nothing
    done = client.post(url).content.decode()
    assert "no more survey messages" in done
    assert is_opted_out(patient, "email") and is_opted_out(patient, "sms")
