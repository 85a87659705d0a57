"""Mark existing users' addresses verified, once, when a project adopts the app.

Read docs/adopting.md first: a trusted address was never proved, and it
becomes the address that must approve the user's next change.
"""

from django.core.management.base import BaseCommand, CommandError

from django_verified_email.adoption import trust_existing


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
        parser.add_argument("--database", default="default", help="The database alias to update.")

    def handle(self, *args, dry_run, batch_size, database, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
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
            f"{result.skipped_used_the_app} with an email change in the app."
        )
