"""Create the demo accounts if they are missing (safe to run on every start)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django_verified_email import mark_email_verified, throttle
from django_verified_email.models import EmailChange

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
            help=(
                "Put existing demo accounts back as they were created: first address and "
                "password, no email changes (pending, scheduled or past, so no lock after "
                "an undo), no password lockout, no resend cooldowns."
            ),
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
            else:
                self.forget_changes(user, account)
            user.email = account.email
            # A new password hash also kills every link sent before.
            user.set_password(account.password)
            user.is_active = True
            user.is_staff = user.is_superuser = account.staff
            user.save()
            # Through the app, so it works on either user model: a saved new
            # address starts unverified, and this proves it.
            mark_email_verified(user)
            action = "created" if created else "reset"
            self.stdout.write(f"{account.username}: {action} ({account.email})")

    def forget_changes(self, user, account):
        """Delete the account's email changes and drop its lockout and cooldowns."""
        changes = EmailChange.objects.filter(user=user)
        known = {account.email, user.email}
        for old, new in changes.values_list("old_email", "new_email"):
            known.update((old, new))
        # A revert's lock and a scheduled change live in these rows: a demo
        # account starts again with no history at all.
        changes.delete()
        throttle.forget(user, known)
