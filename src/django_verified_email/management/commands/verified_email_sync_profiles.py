"""Create the verified-state rows of existing users (profile store), at adoption.

Only for a user model without ``VerifiedEmailMixin``. Rows are also created
on first use; running this once keeps first requests from writing them.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from django_verified_email.adoption import sync_profiles
from django_verified_email.management.database import (
    add_database_argument,
    database_alias,
)
from django_verified_email.management.database import (
    batch_size as checked_batch_size,
)
from django_verified_email.models import keeps_own_state


class Command(BaseCommand):
    help = (
        "Create the missing verified-state rows of existing users, in batches (only for a "
        "user model without VerifiedEmailMixin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per batch.")
        add_database_argument(parser, "write the rows to")

    def handle(self, *args, batch_size, database, **options):
        batch_size = checked_batch_size(batch_size)
        database = database_alias(database)
        if keeps_own_state(get_user_model()):
            self.stdout.write("The user model keeps its own verified state: nothing to create.")
            return
        created = sync_profiles(batch_size=batch_size, using=database)
        self.stdout.write(f"Created {created} row(s).")
