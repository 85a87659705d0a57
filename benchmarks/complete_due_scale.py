"""``verified_email_complete_due`` and the change flow, with 0 and 1,000,000 old changes.

Every completion locks the other changes that could hand out its address
(``EmailChange.objects.lock_for_taking``); the change history must not make
that slower. This measures, on PostgreSQL, in one run:

* the rate of ``flows.complete_due`` (what the command runs): ``--due``
  scheduled recoveries, all due, completed with no old rows, then with
  ``--old`` old rows (one ``generate_series`` INSERT, then ``VACUUM
  ANALYZE``), then with none again; and the longest time one change took
  (each completes in its own transaction);
* the p50 of the dual-link flow's steps (``benchmarks/scale_postgres.py``'s
  flow) at both sizes.

It prints both ratios and exits non-zero when the rate with old rows is
below ``--min-rate-ratio`` (0.8) of the rate without, or the flow's p50
above ``--max-flow-ratio`` (1.3) times.

    createdb -h 127.0.0.1 -U postgres ve_bench_history
    python benchmarks/complete_due_scale.py --database ve_bench_history
"""

import argparse
import itertools
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scale_postgres import STEPS, measure, p50s, setup_django  # noqa: E402

BASE_URL = "https://example.com"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="ve_bench_history", help="an existing database")
    parser.add_argument("--old", type=int, default=1_000_000, help="old change rows")
    parser.add_argument("--due", type=int, default=300, help="due recoveries per measurement")
    parser.add_argument("--flows", type=int, default=20, help="flows per size")
    parser.add_argument("--min-rate-ratio", type=float, default=0.8)
    parser.add_argument("--max-flow-ratio", type=float, default=1.3)
    return parser.parse_args()


def empty():
    from django.contrib.auth import get_user_model
    from django.db import connection

    table = connection.ops.quote_name(get_user_model()._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} CASCADE")


def fill_old(rows):
    """``rows`` closed changes of 100,000 filler users, most of them completed and undoable."""
    from django.db import connection

    owners = min(rows, 100_000)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO testapp_user (password, is_superuser, is_email_verified, username,
                                      email_address, is_active, is_staff, email_security_counter)
            SELECT '!', false, true, 'old-' || n, 'old-' || n || '@example.org', true, false, 0
            FROM generate_series(1, %s) AS n
            """,
            [owners],
        )
        cursor.execute(
            """
            INSERT INTO verified_email_emailchange (user_id, old_email, new_email, status,
                link_generation, created_at, closed_at, old_email_lost, second_factor,
                requested_os, refused_os, account_fingerprint, closed_reason, completion_reason)
            SELECT u.id + (n %% %s), 'was-' || n || '@example.org', 'then-' || n || '@example.org',
                   (ARRAY['completed', 'completed', 'completed', 'cancelled', 'superseded'])
                       [1 + n %% 5],
                   1, now() - interval '30 days', now() - interval '30 days', false, false,
                   '', '', '', '', ''
            FROM generate_series(1, %s) AS n,
                 (SELECT min(id) AS id FROM testapp_user WHERE username LIKE 'old-%%') AS u
            """,
            [owners, rows],
        )
        cursor.execute("VACUUM ANALYZE testapp_user")
        cursor.execute("VACUUM ANALYZE verified_email_emailchange")
        cursor.execute("SELECT count(*) FROM verified_email_emailchange")
        return cursor.fetchone()[0]


def drop_old():
    from django.db import connection

    empty()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE testapp_user")
        cursor.execute("VACUUM ANALYZE verified_email_emailchange")


def schedule_due(label, count):
    """``count`` users with a recovery whose wait is over, as the flow leaves them."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from django_verified_email import tokens
    from django_verified_email.models import EmailChange

    now = timezone.now()
    users = get_user_model().objects.bulk_create(
        get_user_model()(
            username=f"due-{label}-{i}",
            password=make_password(None),
            email_address=f"due-{label}-{i}@example.com",
            is_email_verified=True,
        )
        for i in range(count)
    )
    EmailChange.objects.bulk_create(
        EmailChange(
            user=user,
            old_email=user.email_address,
            new_email=f"due-{label}-{i}@new.example.com",
            status=EmailChange.Status.SCHEDULED,
            old_email_lost=True,
            completes_at=now - timedelta(minutes=1),
            reminder_sent_at=now,
            account_fingerprint=tokens.fingerprint(user, with_verified_state=False),
            link_generation=1,
        )
        for i, user in enumerate(users)
    )


def complete_due_rate(label, count):
    """Due changes completed a second, and the longest one (seconds)."""
    from django.core import mail

    from django_verified_email import flows

    schedule_due(label, count)
    mail.outbox = []
    marks = [time.perf_counter()]
    run = flows.complete_due(
        base_url=BASE_URL, progress=lambda run: marks.append(time.perf_counter())
    )
    assert run.completed == count, run
    elapsed = marks[-1] - marks[0]
    longest = max(b - a for a, b in itertools.pairwise(marks))
    return count / elapsed, longest


def main():
    args = parse_args()
    setup_django(args.database)
    empty()

    rates, longest = {}, {}
    small_flows, large_flows = [], []
    rate, slow = complete_due_rate("none-1", args.due)
    rates.setdefault("none", []).append(rate)
    longest["none"] = slow
    small_flows += measure("none-1", args.flows // 2)

    started = time.perf_counter()
    total = fill_old(args.old)
    print(f"filled {total:,} change rows in {time.perf_counter() - started:.1f} s")
    rate, slow = complete_due_rate("old", args.due)
    rates["old"] = [rate]
    longest["old"] = slow
    large_flows += measure("old", args.flows)

    drop_old()
    rate, slow = complete_due_rate("none-2", args.due)
    rates["none"].append(rate)
    longest["none"] = max(longest["none"], slow)
    small_flows += measure("none-2", args.flows - args.flows // 2)

    none, old = statistics.mean(rates["none"]), rates["old"][0]
    rate_ratio = old / none
    print(f"complete_due, {args.due} due recoveries per run")
    print(
        f"  no old rows:      {none:8.1f} /s (runs: {', '.join(f'{r:.1f}' for r in rates['none'])})"
    )
    print(f"  {args.old:,} old rows: {old:8.1f} /s")
    print(f"  ratio: {rate_ratio:.2f}  longest change: {max(longest.values()) * 1000:.0f} ms")

    small, large = p50s(small_flows), p50s(large_flows)
    print(f"flow p50 per step, ms ({len(small_flows)} flows at each size)")
    print(f"{'step':<16}{'no old rows':>14}{f'{args.old:,} old':>16}{'ratio':>8}")
    for step, before, after in zip(STEPS, small, large, strict=True):
        print(f"{step:<16}{before:>14.2f}{after:>16.2f}{after / before:>8.2f}")
    flow_ratio = sum(large) / sum(small)
    print(f"{'whole flow':<16}{sum(small):>14.2f}{sum(large):>16.2f}{flow_ratio:>8.2f}")

    failed = False
    if rate_ratio < args.min_rate_ratio:
        print(f"FAIL: complete_due at {rate_ratio:.2f}x its rate (least {args.min_rate_ratio}x)")
        failed = True
    if flow_ratio > args.max_flow_ratio:
        print(f"FAIL: the flow at {flow_ratio:.2f}x its p50 (most {args.max_flow_ratio}x)")
        failed = True
    if not failed:
        print("OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
