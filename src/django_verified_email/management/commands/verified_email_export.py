"""Print what the app stores about one user, as JSON, for an access request."""

import json

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from django_verified_email.management.database import add_database_argument, database_alias
from django_verified_email.privacy import export_user_data


class Command(BaseCommand):
    help = (
        "Print, as JSON, the address, verified flag and email changes that "
        "django_verified_email stores about one user (see docs/privacy.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("user_pk", help="The primary key of the user.")
        parser.add_argument("--indent", type=int, default=2, help="JSON indent (default 2).")
        add_database_argument(parser, "read")

    def handle(self, *args, user_pk, indent, database, **options):
        database = database_alias(database)
        User = get_user_model()
        try:
            pk = User._meta.pk.to_python(user_pk)
            user = User._default_manager.using(database).get(pk=pk)
        except (ValidationError, ValueError, User.DoesNotExist):
            raise CommandError(f"No user with primary key {user_pk!r}.") from None
        self.stdout.write(json.dumps(export_user_data(user), indent=indent, ensure_ascii=False))
