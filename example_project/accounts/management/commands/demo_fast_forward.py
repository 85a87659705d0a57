"""Demo only: let a scheduled change's wait end now, and complete it.

A recovery (the "I can no longer open my current address" choice) waits
RECOVERY_DELAY, a week, before it completes: too long to watch in a demo.
This moves the time of every scheduled change (or one account's) to now and
runs what cron runs in production, ``verified_email_complete_due``: the
reminder a day before, then the completion.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_verified_email import flows
from django_verified_email.models import EmailChange


class Command(BaseCommand):
    help = (
        "DEMO ONLY (refused with DEBUG off): end the wait of scheduled email changes now "
        "and complete them, as verified_email_complete_due would a week later."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", help="Only this account's scheduled change.")
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Scheme and host for links in the emails (default: the dev server).",
        )

    def handle(self, *args, username=None, base_url, **options):
        if not settings.DEBUG:
            raise CommandError("demo_fast_forward rewrites waiting times: DEBUG only.")
        scheduled = EmailChange.objects.filter(status=EmailChange.Status.SCHEDULED)
        if username:
            scheduled = scheduled.filter(user__username=username)
        # The week passes as it would: first the reminder a day before (a
        # change never completes before its reminder went out), then the end.
        scheduled.update(completes_at=timezone.now() + timedelta(hours=23))
        flows.complete_due(base_url=base_url)
        moved = scheduled.update(completes_at=timezone.now())
        run = flows.complete_due(base_url=base_url)
        self.stdout.write(
            f"Fast-forwarded {moved} scheduled change(s): completed {run.completed}, "
            f"cancelled {run.cancelled}."
        )
