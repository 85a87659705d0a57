"""The dual-link change flow with 1 and with 1,000,000 users on PostgreSQL.

Every step of the flow asks whether another account has the new address.
That lookup must be answered from an index of the user table, or each step
reads the whole table. This runs N fresh users through the flow with Django's
test client (request the change, confirm the old address, confirm the new
one), with one other user in the table and after filling it to ``--users``
rows with one ``generate_series`` INSERT, and prints the p50 of each step at
both sizes and their ratio. The sizes alternate (1, large, 1, large; the
table is emptied in between), half the flows in each round, so that a change
in the machine's load during the run does not pass for a cost of the size.

    createdb -h 127.0.0.1 -U postgres ve_bench_scale
    python benchmarks/scale_postgres.py --database ve_bench_scale

The test settings are used (``tests/settings_postgres.py``: the test app's
user model, with the quickstart's ``Lower("email")`` unique constraint, and
the MD5 password hasher so hashing does not hide the library's own cost).
The database is migrated and emptied here; it is kept for the next run.
Exits non-zero when a step's p50 at the large size is more than
``--max-ratio`` (1.5) times its p50 with one user.
"""

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "benchmark password"
LINK_RE = re.compile(r"https?://[^/\s]+(/[^\s\"'<>]*/change/confirm/[^\s\"'<>/]+/)")
STEPS = ("request change", "confirm old", "confirm new")
WARM_UP = 3


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="ve_bench_scale", help="an existing database")
    parser.add_argument("--users", type=int, default=1_000_000, help="rows in the large table")
    parser.add_argument("--flows", type=int, default=30, help="fresh users run through the flow")
    parser.add_argument("--max-ratio", type=float, default=1.5)
    return parser.parse_args()


def setup_django(database):
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings_postgres"
    os.environ["VE_PG_NAME"] = database
    # A Redis database of its own: the cache is cleared here.
    os.environ.setdefault("VE_REDIS_URL", "redis://127.0.0.1:6379/3")
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the locmem outbox, as in the tests
    call_command("migrate", verbosity=0)
    cache.clear()


def fill_users(first, last):
    """Users ``first`` to ``last`` in one statement, then a vacuum and fresh statistics.

    VACUUM as a live table has had: right after a bulk insert, autovacuum
    would otherwise set hint bits and the visibility map during the timed runs.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection

    model = get_user_model()
    table = connection.ops.quote_name(model._meta.db_table)
    email = connection.ops.quote_name(model._meta.get_field(model.get_email_field_name()).column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (password, is_superuser, is_email_verified, username, {email},
                                 is_active, is_staff)
            SELECT '!', false, true, 'filler-' || n, 'filler-' || n || '@example.org',
                   true, false
            FROM generate_series(%s, %s) AS n
            """,
            [first, last],
        )
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def empty_users():
    from django.contrib.auth import get_user_model
    from django.db import connection

    table = connection.ops.quote_name(get_user_model()._meta.db_table)
    with connection.cursor() as cursor:
        # CASCADE: the users' changes, tokens and permissions go with them.
        cursor.execute(f"TRUNCATE {table} CASCADE")


def run_flow(name):
    """One fresh user through the flow; the seconds each step took."""
    from django.contrib.auth import get_user_model
    from django.core import mail
    from django.test import Client
    from django.urls import reverse

    user = get_user_model().objects.create_user(
        username=name,
        password=PASSWORD,
        email_address=f"{name}@example.com",
        is_email_verified=True,
    )
    client = Client()
    client.force_login(user)
    mail.outbox = []
    timings = []

    def timed(path, data=None, expected=(200, 302)):
        started = time.perf_counter()
        response = client.post(path, data or {})
        timings.append(time.perf_counter() - started)
        assert response.status_code in expected, (path, response.status_code)

    timed(
        reverse("verified_email:change"),
        {"new_email": f"{name}@new.example.com", "password": PASSWORD},
    )
    for _step in ("old", "new"):
        # The message may show its link twice (a button and the address to paste).
        [path] = set(LINK_RE.findall(mail.outbox[-1].body))
        timed(path)
    user.refresh_from_db()
    assert user.email_address == f"{name}@new.example.com"
    return timings


def measure(label, flows):
    for i in range(WARM_UP):
        run_flow(f"warm-{label}-{i}")
    return [run_flow(f"flow-{label}-{i}") for i in range(flows)]


def p50s(runs):
    return [statistics.median(run[step] for run in runs) * 1000 for step in range(len(STEPS))]


def lookup_plan():
    """The plan PostgreSQL picks for the flow's "address taken?" lookup."""
    from django.db import connection

    from django_verified_email import addresses

    sql, params = addresses.users_with_address("nobody@example.com").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(f"    {row[0]}" for row in cursor.fetchall())


def main():
    args = parse_args()
    setup_django(args.database)

    small_runs, large_runs = [], []
    for round_ in (1, 2):
        empty_users()
        fill_users(1, 1)
        small_runs += measure(f"small-{round_}", args.flows // 2)
        started = time.perf_counter()
        total = fill_users(2, args.users)
        print(f"round {round_}: filled to {total:,} users in {time.perf_counter() - started:.1f} s")
        large_runs += measure(f"large-{round_}", args.flows - args.flows // 2)
    print(f'the "address taken?" lookup:\n{lookup_plan()}\n')
    small, large = p50s(small_runs), p50s(large_runs)

    print(f"p50 per step, {len(small_runs)} flows at each size, ms")
    print(f"{'step':<16}{'1 user':>10}{f'{total:,} users':>18}{'ratio':>8}")
    worst = 0.0
    for step, before, after in zip(STEPS, small, large, strict=True):
        ratio = after / before
        worst = max(worst, ratio)
        print(f"{step:<16}{before:>10.2f}{after:>18.2f}{ratio:>8.2f}")
    whole = sum(large) / sum(small)
    print(f"{'whole flow':<16}{sum(small):>10.2f}{sum(large):>18.2f}{whole:>8.2f}")
    if worst > args.max_ratio:
        print(f"FAIL: a step is {worst:.2f}x slower at {total:,} users (most {args.max_ratio}x)")
        return 1
    print(f"OK: every step within {args.max_ratio}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
