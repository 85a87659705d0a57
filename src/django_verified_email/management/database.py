"""The ``--database`` option every command of the app takes."""

from django.core.management.base import CommandError
from django.db import connections, router


def add_database_argument(parser, action="work on"):
    parser.add_argument(
        "--database",
        default=None,
        help=(
            f"The database alias to {action} (default: the one the database router writes "
            "this app's email changes to)."
        ),
    )


def database_alias(value):
    """The alias ``--database`` names, or the router's; CommandError for an unknown one."""
    from django_verified_email.models import EmailChange

    alias = value or router.db_for_write(EmailChange)
    if alias not in connections:
        known = ", ".join(sorted(connections))
        raise CommandError(f"Unknown database {alias!r} (DATABASES has: {known}).")
    return alias


#: The largest batch: each batch's rows are named in one query (``pk__in``),
#: and SQLite refuses a query with more than 32,766 parameters.
MOST_PER_BATCH = 10_000


def batch_size(value, option="--batch-size", *, most=MOST_PER_BATCH):
    """``value`` if it is a usable batch size, else CommandError."""
    if value < 1:
        raise CommandError(f"{option} must be at least 1 (got {value}).")
    if most is not None and value > most:
        raise CommandError(f"{option} must be at most {most} (got {value}).")
    return value
