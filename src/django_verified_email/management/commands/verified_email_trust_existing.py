"""Mark existing users' addresses verified, once, when a project adopts the app.

Read docs/adopting.md first: a trusted address was never proved, and it
becomes the address that must approve the user's next change.
"""

from django.core.management.base import BaseCommand

from django_verified_email.adoption import trust_existing
from django_verified_email.management.database import add_database_argument, database_alias
from django_verified_email.management.database import batch_size as checked_batch_size


class Command(BaseCommand):
    help = (
        "Mark the valid, non-blank, unshared addresses of users who were never verified as "
        "verified (docs/adopting.md explains the trade-off). Idempotent; --dry-run writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be trusted; write nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1000,
            help="Users checked and updated per transaction (default 1000).",
        )
        add_database_argument(parser, "update")

    def handle(self, *args, dry_run, batch_size, database, **options):
        database = database_alias(database)
        batch_size = checked_batch_size(batch_size)
        result = trust_existing(batch_size=batch_size, dry_run=dry_run, using=database)
        verb = "Would trust" if dry_run else "Trusted"
        self.stdout.write(
            f"{verb} {result.trusted} address(es) in {result.batches} batch(es)"
            + (" (dry run: nothing written)." if dry_run else ".")
        )
        self.stdout.write(f"Left alone: {result.already_verified} already verified;")
        self.stdout.write(
            f"  skipped {result.skipped_blank} blank, {result.skipped_invalid} invalid, "
            f"{result.skipped_shared} shared with another account "
            "(verified_email_audit_addresses lists them), "
            f"{result.skipped_taken} verified on another account, "
            f"{result.skipped_used_the_app} with an email change in the app."
        )
