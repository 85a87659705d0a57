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

``--store user`` (the default) uses the test settings
(``tests/settings_postgres.py``: the test app's user model with the mixin
and the quickstart's ``Lower("email")`` unique constraint, and the MD5
password hasher so hashing does not hide the library's own cost).
``--store profile`` uses Django's ``auth.User``, whose ``email`` column has
no index, with the app's ``VerifiedEmailProfile`` table
(``tests/auth_user/settings_postgres.py``); every filler user gets its
verified profile row too, in the same statement. Each store needs a
database of its own (``ve_bench_scale``, ``ve_bench_scale_profile`` by
default):

    createdb -h 127.0.0.1 -U postgres ve_bench_scale_profile
    python benchmarks/scale_postgres.py --store profile

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
SETTINGS = {"user": "tests.settings_postgres", "profile": "tests.auth_user.settings_postgres"}
DATABASES = {"user": "ve_bench_scale", "profile": "ve_bench_scale_profile"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store",
        choices=sorted(SETTINGS),
        default="user",
        help="user: a custom user model with the mixin; profile: auth.User and the profile table",
    )
    parser.add_argument(
        "--database", help="an existing database (default: ve_bench_scale[_profile])"
    )
    parser.add_argument("--users", type=int, default=1_000_000, help="rows in the large table")
    parser.add_argument("--flows", type=int, default=30, help="fresh users run through the flow")
    parser.add_argument("--max-ratio", type=float, default=1.5)
    return parser.parse_args()


def setup_django(store, database):
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS[store]
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

    With the profile store, the same statement gives each of them its
    verified profile row. VACUUM as a live table has had: right after a bulk
    insert, autovacuum would otherwise set hint bits and the visibility map
    during the timed runs.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection

    from django_verified_email.models import VerifiedEmailProfile
    from django_verified_email.stores import ProfileStore, get_store

    model = get_user_model()
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    email = quote(model._meta.get_field(model.get_email_field_name()).column)
    profile = isinstance(get_store(), ProfileStore)
    # Django sets defaults in Python, not in the table: every NOT NULL column
    # is listed. auth.User has names and date_joined; the test app's model has
    # the mixin's flag and security counter instead.
    if profile:
        columns, values = "date_joined, first_name, last_name", "now(), '', ''"
    else:
        columns, values = "is_email_verified, email_security_counter", "true, 0"
    users = f"""
        INSERT INTO {table} (password, is_superuser, {columns}, username, {email},
                             is_active, is_staff)
        SELECT '!', false, {values}, 'filler-' || n, 'filler-' || n || '@example.org',
               true, false
        FROM generate_series(%s, %s) AS n
    """
    with connection.cursor() as cursor:
        if profile:
            # One statement: the profile rows come from the INSERT's own
            # RETURNING, with no join the planner could get wrong on a table
            # whose statistics still say it is empty. The addresses are ASCII
            # and lower case: already their compared form.
            profiles = quote(VerifiedEmailProfile._meta.db_table)
            cursor.execute(
                f"""
                WITH filler AS ({users} RETURNING id, {email})
                INSERT INTO {profiles} (user_id, verified_address, verified_at, security_counter)
                SELECT id, {email}, now(), 0 FROM filler
                """,
                [first, last],
            )
            cursor.execute(f"VACUUM ANALYZE {profiles}")
        else:
            cursor.execute(users, [first, last])
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

    from django_verified_email import mark_email_verified

    model = get_user_model()
    field = model.get_email_field_name()
    user = model.objects.create_user(
        username=name, password=PASSWORD, **{field: f"{name}@example.com"}
    )
    mark_email_verified(user)
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
    assert getattr(user, field) == f"{name}@new.example.com"
    return timings


def measure(label, flows):
    for i in range(WARM_UP):
        run_flow(f"warm-{label}-{i}")
    return [run_flow(f"flow-{label}-{i}") for i in range(flows)]


def p50s(runs):
    return [statistics.median(run[step] for run in runs) * 1000 for step in range(len(STEPS))]


def lookup_plan():
    """The plan PostgreSQL picks for the flow's "address taken?" lookup."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_verified_email import addresses
    from django_verified_email.stores import ProfileStore, get_store

    store = get_store()
    if isinstance(store, ProfileStore):
        # The store's own query (profile rows, and the user table where an
        # index can answer), as the flows send it.
        someone = get_user_model().objects.order_by("pk").first()
        with CaptureQueriesContext(connection) as captured:
            store.holders(someone, "nobody@example.com")
        [query] = captured.captured_queries
        sql, params = query["sql"], None
    else:
        sql, params = addresses.users_with_address("nobody@example.com").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(f"    {row[0]}" for row in cursor.fetchall())


def main():
    args = parse_args()
    setup_django(args.store, args.database or DATABASES[args.store])
    print(f"store: {args.store}")
    return compare_sizes(args, fill_users, empty_users, lookup_plan)


def compare_sizes(args, fill_users, empty_users, lookup_plan):
    """Run the flows at 1 user and at ``args.users``, in two rounds; print and judge the p50s.

    The database's own ``fill_users``, ``empty_users`` and ``lookup_plan``
    are passed in (``scale_mariadb`` reuses this). Returns the exit code.
    """
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
