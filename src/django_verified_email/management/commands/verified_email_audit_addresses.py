"""List the addresses to fix before the case-insensitive unique constraint goes on.

Exits 1 when it finds one mailbox on two accounts or an address no link can
reach, so it can gate a deploy. Blank addresses are listed but allowed.
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from django_verified_email.adoption import audit_addresses, drifted, fix_drift
from django_verified_email.management.database import add_database_argument, database_alias

#: Blank addresses are often many and never a problem: the text report shows this many pks.
BLANK_SHOWN = 20


class Command(BaseCommand):
    help = (
        "List users whose addresses are one mailbox in different spellings (letter case, "
        "Unicode form, domain form), invalid, or blank, before adding the unique constraint. "
        "Exits 1 when there are duplicates or invalid addresses."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print the report as JSON."
        )
        add_database_argument(parser, "read")
        parser.add_argument(
            "--fix",
            action="store_true",
            help=(
                "Clear the verified state of users whose address was written past the app "
                "(update(), bulk_update(), raw SQL) since it was verified; with the allauth "
                "bridge, also make each listed user's address their one primary EmailAddress."
            ),
        )

    def handle(self, *args, as_json, database, fix, **options):
        database = database_alias(database)
        audit = audit_addresses(database)
        drift = drifted(database)
        if fix and drift:
            fix_drift([pk for pk, _ in drift], database)
        if as_json:
            self._write_json(audit, drift, fixed=fix)
        else:
            self._write_text(audit)
            self._write_drift(drift, fixed=fix)
        if audit.problems:
            raise CommandError(
                f"{len(audit.duplicates)} duplicate group(s), {len(audit.invalid)} invalid "
                "address(es): fix them before adding the unique constraint."
            )

    def _write_drift(self, drift, *, fixed):
        if not drift:
            return
        verb = "cleared" if fixed else "to clear with --fix"
        self.stdout.write(f"Verified for an address they no longer have ({len(drift)}; {verb}):")
        for pk, address in drift:
            self.stdout.write(f"  pk {pk}: now {address!r}")

    def _write_json(self, audit, drift, *, fixed):
        def user(pk, address):
            return {"pk": str(pk), "email": address}

        report = {
            "users": audit.users,
            "field": get_user_model().get_email_field_name(),
            "duplicates": [
                {"address": key, "users": [user(*row) for row in rows]}
                for key, rows in audit.duplicates.items()
            ],
            "invalid": [user(*row) for row in audit.invalid],
            "blank": [str(pk) for pk in audit.blank],
            "problems": audit.problems,
            "drifted": [user(*row) for row in drift],
            "drift_fixed": bool(fixed and drift),
        }
        self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))

    def _write_text(self, audit):
        field = get_user_model().get_email_field_name()
        self.stdout.write(f"Checked the addresses ({field!r}) of {audit.users} user(s).")
        if audit.duplicates:
            self.stdout.write(
                f"One mailbox on several accounts ({len(audit.duplicates)}); "
                "the unique constraint would refuse these:"
            )
            for key, rows in audit.duplicates.items():
                users = ", ".join(f"pk {pk} {address!r}" for pk, address in rows)
                self.stdout.write(f"  {key}: {users}")
        if audit.invalid:
            self.stdout.write(f"Invalid addresses ({len(audit.invalid)}); no link can reach them:")
            for pk, address in audit.invalid:
                self.stdout.write(f"  pk {pk}: {address!r}")
        if audit.blank:
            shown = ", ".join(str(pk) for pk in audit.blank[:BLANK_SHOWN])
            hidden = len(audit.blank) - BLANK_SHOWN
            more = f" and {hidden} more" if hidden > 0 else ""
            self.stdout.write(
                f"Blank addresses ({len(audit.blank)}; allowed, these users add one with "
                f'the "add email" flow): pk {shown}{more}'
            )
        if not audit.problems:
            self.stdout.write("No duplicates and no invalid addresses.")
