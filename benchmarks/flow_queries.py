"""SQL queries and time per step of the dual-link change flow.

Runs N users through the whole flow with Django's test client, each logged in
with a session (the session and user lookups count, as they would in a real
request): request the change, confirm the old address, confirm the new one.
It does so once with 1 and once with 10,000 pre-existing ``EmailChange`` rows
(and as many other users), to show that the query count does not grow with
the size of the tables.

The budget (``--budget``, 33 by default) covers the flow's own queries, the
session authentication of each request (reading the session and the user)
and rotating the session key when the address changes. The rotation is shown
in a column of its own: its cost is the session backend's (five statements
with the database backend used here: ``cycle_key()`` looks for a free key,
inserts the new row, reads and deletes the old one, then the data is saved;
none with signed cookies).

    python benchmarks/flow_queries.py --database sqlite
    python benchmarks/flow_queries.py --database postgres --users 200

The test settings are used (``tests/settings.py`` or
``tests/settings_postgres.py``), with their fast MD5 password hasher so that
hashing does not hide the library's own cost. PostgreSQL runs in a database
of its own (``verified_email_benchmark``), created and dropped here. Exits
non-zero when the flow needs more than ``--budget`` queries, or when the
count differs between the two table sizes.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETTINGS = {"sqlite": "tests.settings", "postgres": "tests.settings_postgres"}
PASSWORD = "benchmark password"
FLOW_STEPS = ("request change", "confirm old", "confirm new")
# Whether transaction control is logged as queries depends on the Django
# version and the backend: counted apart, so the budget reads the same on all.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=sorted(SETTINGS), default="sqlite")
    parser.add_argument("--users", type=int, default=100, help="users run through the flow")
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[1, 10_000],
        help="pre-existing EmailChange rows (and other users) to run with",
    )
    parser.add_argument("--budget", type=int, default=33, help="most queries for the flow")
    return parser.parse_args()


def setup_django(database):
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS[database]
    # A Redis database of its own, so clearing it touches no test run's keys.
    os.environ.setdefault("VE_REDIS_URL", "redis://127.0.0.1:6379/3")
    import django
    from django.conf import settings

    settings.DATABASES["default"]["TEST"] = {"NAME": "verified_email_benchmark"}
    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()


def fill_tables(rows):
    from tests.helpers import fill_tables as fill

    fill(rows, PASSWORD)


def empty_tables():
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session
    from django.core.cache import cache

    from django_verified_email.models import EmailChange

    EmailChange.objects.all().delete()
    get_user_model().objects.all().delete()
    Session.objects.all().delete()
    cache.clear()


def change_link(message):
    from tests.helpers import link_path

    return link_path(message, pages=["change/confirm"])


def is_transaction_control(sql):
    return sql.lstrip().upper().startswith(TRANSACTION_CONTROL)


def timed(client, path, data, timings, counts, step):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.post(path, data)
        elapsed = time.perf_counter() - started
    assert response.status_code in (200, 302), (step, response.status_code)
    timings[step].append(elapsed)
    statements = [query["sql"] for query in queries.captured_queries]
    data = [sql for sql in statements if not is_transaction_control(sql)]
    # One read of the session is authentication; the rest rotate or save it.
    session_writes = max(0, sum("django_session" in sql for sql in data) - 1)
    counts[step].append((len(data), session_writes, len(statements) - len(data)))


def run_flow(user_count):
    from django.contrib.auth import get_user_model
    from django.core import mail
    from django.test import Client
    from django.urls import reverse

    from django_verified_email.models import EmailChange

    User = get_user_model()
    field = User.get_email_field_name()
    timings = {step: [] for step in FLOW_STEPS}
    counts = {step: [] for step in FLOW_STEPS}
    for i in range(user_count):
        user = User.objects.create_user(
            username=f"bench{i}",
            password=PASSWORD,
            is_email_verified=True,
            **{field: f"bench{i}@example.com"},
        )
        client = Client()
        assert client.login(username=user.get_username(), password=PASSWORD)
        mail.outbox = []
        new_email = f"bench{i}.new@example.com"
        timings_args = (timings, counts)
        timed(
            client,
            reverse("verified_email:change"),
            {"new_email": new_email, "password": PASSWORD},
            *timings_args,
            "request change",
        )
        timed(client, change_link(mail.outbox[-1]), {}, *timings_args, "confirm old")
        timed(client, change_link(mail.outbox[-1]), {}, *timings_args, "confirm new")
        user.refresh_from_db()
        assert getattr(user, field) == new_email and user.is_email_verified
        assert EmailChange.objects.filter(user=user, status="completed").count() == 1
    return timings, counts


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main():
    args = parse_args()
    setup_django(args.database)
    from django.db import connection

    from django_verified_email.models import EmailChange

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    totals = {}
    lines = []
    try:
        for rows in args.rows:
            empty_tables()
            fill_tables(rows)
            before = EmailChange.objects.count()
            timings, counts = run_flow(args.users)
            total = total_session = total_control = 0
            for step in FLOW_STEPS:
                data = [queries for queries, _, _ in counts[step]]
                session = max(session for _, session, _ in counts[step])
                control = max(control for _, _, control in counts[step])
                low, high = min(data), max(data)
                total += high
                total_session += session
                total_control += control
                lines.append(
                    (
                        args.database,
                        before,
                        step,
                        str(high - session) if low == high else f"{low - session}-{high - session}",
                        str(session),
                        str(control),
                        f"{statistics.median(timings[step]) * 1000:.2f}",
                        f"{percentile(timings[step], 0.95) * 1000:.2f}",
                    )
                )
            flow = total - total_session
            lines.append(
                (
                    args.database,
                    before,
                    "whole flow",
                    str(flow),
                    str(total_session),
                    str(total_control),
                    "",
                    "",
                )
            )
            totals[rows] = flow + total_session
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    header = (
        "database",
        "rows before",
        "step",
        "queries",
        "+ session rotation",
        "+ BEGIN/COMMIT",
        "p50 ms",
        "p95 ms",
    )
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    print(f"{args.users} users through the dual-link flow, Django test client, session auth")
    for line in [header, tuple("-" * width for width in widths), *lines]:
        cells = zip(line, widths, strict=True)
        print("  ".join(str(cell).ljust(width) for cell, width in cells).rstrip())

    failures = [
        f"{rows} rows: {total} queries > budget {args.budget}"
        for rows, total in totals.items()
        if total > args.budget
    ]
    if len(set(totals.values())) > 1:
        failures.append(f"query count grows with the table: {totals}")
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
