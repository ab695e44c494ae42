"""``rapport escalate``: tell the next level about overdue case steps, send due follow-ups."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from recovery.actions import follow_up_surveys_send_due
from recovery.deadlines import cases_escalate_overdue


class Command(BaseCommand):
    help = (
        "Escalate overdue recovery-case steps (owner, then managers, then group admins, each "
        "told once) and send the follow-up surveys that are due. The worker does this every "
        "few minutes; running it again sends nothing twice."
    )

    def handle(self, *args, **options) -> None:
        escalated = cases_escalate_overdue()
        surveys = follow_up_surveys_send_due()
        self.stdout.write(f"escalate: {escalated} notices, {surveys} follow-up surveys")
