"""Complete the recoveries whose wait is over, and remind old addresses a day before.

Run it from cron every minute (or let the ``tasks``/``celery`` delivery
mode's periodic task do it: docs/settings.md). Idempotent, and safe from
several machines at once: each change is completed once, under a row lock
that other runs skip rather than wait for (``flows.recovery.complete_due``).

Links in the reminders point at ``BASE_URL``, else at ``--base-url``, else
at the host each change was requested from. Each run is recorded: the admin
and the ``verified_email.W012`` check say so when due changes wait and no run
finished for an hour.

Each change commits on its own, so a run stopped half-way loses nothing: the
next one completes the rest. Its pace does not depend on the change history
(``docs/benchmarks.md``).
"""

from django.core.management.base import BaseCommand

from django_verified_email import flows
from django_verified_email.conf import app_settings
from django_verified_email.management.database import (
    add_database_argument,
    database_alias,
)
from django_verified_email.management.database import (
    batch_size as checked_batch_size,
)


class Command(BaseCommand):
    help = (
        "Complete email changes scheduled by the lost-mailbox path (RECOVERY_DELAY) whose wait "
        "is over, cancelling those whose account changed meanwhile, and send the old address its "
        "reminder a day before."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=100,
            help="Changes read per batch (default 100); each completes in its own transaction.",
        )
        parser.add_argument(
            "--base-url",
            default=None,
            help=(
                "Scheme and host for the links in reminders when BASE_URL is not set "
                "(default: the host each change was requested from)."
            ),
        )
        parser.add_argument(
            "--progress-every",
            type=int,
            default=1000,
            help="Print a progress line every this many due changes (default 1000).",
        )
        add_database_argument(parser)

    def handle(self, *args, batch_size, base_url, progress_every, database, **options):
        batch_size = checked_batch_size(batch_size)
        progress_every = checked_batch_size(progress_every, "--progress-every", most=None)
        database = database_alias(database)
        base_url = app_settings.BASE_URL or base_url

        def progress(run):
            done = run.completed + run.cancelled + run.skipped
            if done % progress_every == 0:
                self.stdout.write(
                    f"... {done} due change(s) so far: completed {run.completed}, "
                    f"cancelled {run.cancelled}, left {run.skipped}."
                )

        run = flows.complete_due(
            batch_size=batch_size, base_url=base_url, database=database, progress=progress
        )
        self.stdout.write(
            f"Completed {run.completed}, cancelled {run.cancelled}, left {run.skipped} for "
            f"the next run; sent {run.reminded} reminder(s) and {run.renoticed} owed notice(s)."
        )
        if run.reverted:
            self.stdout.write(f"Completed {run.reverted} scheduled revert(s).")
        if run.revoked:
            self.stdout.write(f"Ran the owed access revokers of {run.revoked} change(s).")
