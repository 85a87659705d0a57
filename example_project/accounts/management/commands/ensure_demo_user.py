"""Create the demo accounts if they are missing (safe to run on every start)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django_verified_email import flows

from accounts import demo


class Command(BaseCommand):
    help = (
        "Create the demo accounts (demo, taken, admin), each with a verified address. "
        "Existing accounts are left as they are unless --reset is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Put existing demo accounts back to their first address and password.",
        )

    @transaction.atomic
    def handle(self, *args, reset=False, **options):
        users = get_user_model()._default_manager
        for account in demo.ACCOUNTS:
            user = users.filter(username=account.username).first()
            if user is not None and not reset:
                self.stdout.write(f"{account.username}: exists, left as it is")
                continue
            created = user is None
            if created:
                user = users.model(username=account.username)
            elif flows.pending_change(user) is not None:
                flows.cancel_change(user)
            user.email = account.email
            # A new password hash also kills every link sent before.
            user.set_password(account.password)
            user.is_active = True
            user.is_staff = user.is_superuser = account.staff
            user.mark_email_verified()
            user.save()
            action = "created" if created else "reset"
            self.stdout.write(f"{account.username}: {action} ({account.email})")
