"""verified_email_purge: old rows go, in batches; recent and open ones stay."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_verified_email.models import EmailChange, ReauthAttempts

DAY = timedelta(days=1)
OLD = timezone.now() - 40 * DAY
RECENT = timezone.now() - 2 * DAY


@pytest.fixture
def rows(make_user):
    alice = make_user()
    bob = make_user("bob", "bob@example.com")

    def change(user, status, when, **extra):
        return EmailChange(
            user=user,
            new_email="x@example.com",
            status=status,
            link_generation=1,
            created_at=when,
            link_sent_at=when,
            closed_at=None if status in EmailChange.OPEN_STATUSES else when,
            **extra,
        )

    old_closed = [
        change(alice, status, OLD) for status in ("completed", "cancelled", "superseded") * 9
    ]
    recent_closed = [change(alice, "completed", RECENT), change(alice, "cancelled", RECENT)]
    EmailChange.objects.bulk_create(old_closed + recent_closed)
    # One open change per user: an expired one for bob, a live one for alice.
    expired_open = EmailChange.objects.create(**vars_of(change(bob, "awaiting_new", OLD)))
    live_open = EmailChange.objects.create(**vars_of(change(alice, "awaiting_old", RECENT)))
    return {"old": 27, "expired_open": expired_open, "live_open": live_open}


def vars_of(instance):
    return {
        field.name: getattr(instance, field.name)
        for field in EmailChange._meta.fields
        if field.name != "id"
    }


def purge(*args):
    out = StringIO()
    call_command("verified_email_purge", *args, stdout=out)
    return out.getvalue()


def test_purge_deletes_old_closed_and_long_expired_changes_in_batches(rows):
    with CaptureQueriesContext(connection) as queries:
        output = purge("--batch-size", "5")

    assert output.strip() == "Deleted 28 email change(s) in 6 batch(es)."
    left = EmailChange.objects.all()
    assert sorted(change.status for change in left) == ["awaiting_old", "cancelled", "completed"]
    assert rows["live_open"] in left
    assert rows["expired_open"] not in left
    deletes = [q for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 6
    # Each batch is its own transaction (Django logs BEGIN on 6.0+; savepoints
    # inside the test's transaction otherwise).
    assert sum("SAVEPOINT" in q["sql"] and "RELEASE" not in q["sql"] for q in queries) >= 6


def test_purge_keeps_what_is_younger_than_purge_after(rows, settings):
    settings.VERIFIED_EMAIL = {"PURGE_AFTER": 60 * 86400}
    assert purge().strip() == "Deleted 0 email change(s) in 0 batch(es)."
    assert EmailChange.objects.count() == 31


def test_purge_keeps_a_completed_change_while_its_revert_link_lives(make_user, settings):
    settings.VERIFIED_EMAIL = {"PURGE_AFTER": 1}
    alice = make_user()
    EmailChange.objects.create(
        user=alice,
        new_email="x@example.com",
        status="completed",
        closed_at=timezone.now() - 3 * DAY,
    )
    purge()
    assert EmailChange.objects.count() == 1


def test_purge_refuses_a_batch_size_below_one(db):
    with pytest.raises(CommandError):
        purge("--batch-size", "0")


def test_the_purge_lookups_have_indexes():
    names = {index.name: index.fields for index in EmailChange._meta.indexes}
    assert names["verified_em_status_closed_idx"] == ["status", "closed_at"]
    assert names["verified_em_status_sent_idx"] == ["status", "link_sent_at"]


def test_purge_deletes_reauth_counters_whose_window_and_lock_are_over(make_user, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_LOCKOUT": 900}
    now = timezone.now()
    users = [make_user(f"user{i}", f"user{i}@example.com") for i in range(4)]
    ReauthAttempts.objects.bulk_create(
        [
            # Window over, never locked: goes.
            ReauthAttempts(user=users[0], count=2, window_started_at=now - timedelta(hours=1)),
            # Window and lock over: goes.
            ReauthAttempts(
                user=users[1],
                count=5,
                window_started_at=now - timedelta(hours=1),
                locked_until=now - timedelta(minutes=1),
            ),
            # Window still open: stays.
            ReauthAttempts(user=users[2], count=2, window_started_at=now - timedelta(minutes=5)),
            # Window over but still locked: stays.
            ReauthAttempts(
                user=users[3],
                count=5,
                window_started_at=now - timedelta(hours=1),
                locked_until=now + timedelta(minutes=1),
            ),
        ]
    )

    output = purge("--batch-size", "1")

    assert "Deleted 2 expired re-authentication counter(s)." in output
    assert sorted(ReauthAttempts.objects.values_list("user__username", flat=True)) == [
        "user2",
        "user3",
    ]
