"""The dual-link change flow with 1 and with 1,000,000 users on MariaDB.

The MariaDB counterpart of ``scale_postgres.py``, whose flow, timing and
report it reuses. MariaDB builds neither the ``Lower("email")`` constraint
(no expression indexes) nor any partial index, so the quickstart's recipe
there is a stored generated column of the folded address with a unique
index (the test app's ``email_lower``); the "address taken?" lookup compares
that column. The table is filled with one ``INSERT ... SELECT`` from
MariaDB's sequence engine (``seq_2_to_1000000``), then ``ANALYZE TABLE``.

    python benchmarks/scale_mariadb.py --database ve_bench_scale

The database is created if missing (``utf8mb4``), migrated and emptied here
(``flush``); it is kept for the next run. ``--before`` runs the lookup as
the previous release did on the same table: ``LOWER(email) IN (...)``, the
expression of a ``Lower()`` constraint MariaDB never built, which no index
serves. Exits non-zero when a step's p50 at the large size is more than
``--max-ratio`` (1.5) times its p50 with one user.
"""

import argparse
import os
import sys

from scale_postgres import compare_sizes

WHERE = "127.0.0.1"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="ve_bench_scale", help="created if missing")
    parser.add_argument("--users", type=int, default=1_000_000, help="rows in the large table")
    parser.add_argument("--flows", type=int, default=30, help="fresh users run through the flow")
    parser.add_argument("--max-ratio", type=float, default=1.5)
    parser.add_argument(
        "--before", action="store_true", help="the previous lookup: LOWER(email), no index"
    )
    return parser.parse_args()


def setup_django(database, before):
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings_mariadb"
    os.environ["VE_MARIADB_NAME"] = database
    # A Redis database of its own: the cache is cleared here.
    os.environ.setdefault("VE_REDIS_URL", "redis://127.0.0.1:6379/3")
    import pymysql

    server = pymysql.connect(
        host=os.environ.get("VE_MARIADB_HOST", WHERE),
        port=int(os.environ.get("VE_MARIADB_PORT", "3306")),
        user=os.environ.get("VE_MARIADB_USER", "root"),
        password=os.environ.get("VE_MARIADB_PASSWORD", ""),
    )
    with server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
    server.close()

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the locmem outbox, as in the tests
    call_command("migrate", verbosity=0)
    cache.clear()
    if before:
        from django_verified_email import indexes

        # Judge the model as for PostgreSQL: the lookup compares with the
        # Lower() constraint's expression, as it did before the recipe.
        postgres = indexes.Capabilities("postgresql", True, True)
        indexes.capabilities = lambda model: postgres


def fill_users(first, last):
    """Users ``first`` to ``last`` in one statement, then fresh statistics."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    model = get_user_model()
    table = connection.ops.quote_name(model._meta.db_table)
    email = connection.ops.quote_name(model._meta.get_field(model.get_email_field_name()).column)
    with connection.cursor() as cursor:
        # The sequence engine's table of the numbers first to last.
        cursor.execute(
            f"""
            INSERT INTO {table} (password, is_superuser, is_email_verified, username, {email},
                                 is_active, is_staff, email_security_counter)
            SELECT '!', 0, 1, CONCAT('filler-', seq), CONCAT('filler-', seq, '@example.org'),
                   1, 0, 0
            FROM seq_{int(first)}_to_{int(last)}
            """
        )
        cursor.execute(f"ANALYZE TABLE {table}")
        cursor.fetchall()
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return cursor.fetchone()[0]


def empty_users():
    from django.core.management import call_command

    # TRUNCATE of every table, foreign key checks off: the users' changes,
    # tokens and permissions go with them.
    call_command("flush", interactive=False, verbosity=0)


def lookup_plan():
    """The plan MariaDB picks for the flow's "address taken?" lookup."""
    from django.db import connection

    from django_verified_email import addresses

    sql, params = addresses.users_with_address("nobody@example.com").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    shown = ("table", "type", "key", "rows", "Extra")
    where = sql.split(" WHERE ", 1)[1] % tuple(repr(param) for param in params)
    return "\n".join(
        [f"    WHERE {where}"]
        + ["    " + ", ".join(f"{name}={row.get(name)}" for name in shown) for row in rows]
    )


def main():
    args = parse_args()
    setup_django(args.database, args.before)
    return compare_sizes(args, fill_users, empty_users, lookup_plan)


if __name__ == "__main__":
    sys.exit(main())
