"""verified_email_purge: old rows go, in batches; recent and open ones stay."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from time_machine import travel

from django_verified_email import codes, flows, is_email_verified, tokens
from django_verified_email.exceptions import LockedOut
from django_verified_email.models import (
    AddressLock,
    EmailChange,
    OneTimeCode,
    ReauthAttempts,
    WrongCode,
    address_lock_key,
)
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    client_for,
    code_in,
    complete_dual_change,
    email_of,
    later,
    reloaded,
    revert_token_in,
    send_verification,
    url,
    with_new_password,
)

pytestmark = pytest.mark.hardening

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
            closed_at=None if status in EmailChange.PENDING_STATUSES else when,
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

    assert output.splitlines()[0] == "Deleted 28 email change(s) in 6 batch(es)."
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
    assert purge().splitlines() == [
        "Deleted 0 email change(s) in 0 batch(es).",
        "Blanked the addresses of 0 kept email change(s).",
    ]
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


def test_the_purge_finds_old_wrong_tries_by_an_index(db):
    # Every wrong code leaves a row, for every account: the table a daily
    # purge must not read whole. (One-time codes are one row per account and
    # purpose at most.)
    if connection.vendor != "sqlite":
        pytest.skip("reads SQLite's plan; the index is the same on every database")
    sql, params = codes.old_wrong_tries(timezone.now()).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "SCAN verified_email_wrongcode" not in plan, plan


# Scrubbing: rows kept past PURGE_AFTER only for a revert lose their addresses
# as soon as no revert can read them.

T0 = timezone.now().replace(microsecond=0)
HOUR = timedelta(hours=1)


@pytest.fixture
def short_purge(settings):
    """Keep personal data a day; revert links live a week, the lock three days."""
    settings.VERIFIED_EMAIL = {
        "RESEND_COOLDOWN": 0,
        "PURGE_AFTER": 86400,  # 1 day
        "REVERT_MAX_AGE": 7 * 86400,
        "CHANGE_LOCK_AFTER_REVERT": 3 * 86400,
    }


def addresses(change):
    change.refresh_from_db()
    return change.old_email, change.new_email


def test_a_completed_change_keeps_its_addresses_while_its_revert_link_lives(
    short_purge, user, mailoutbox
):
    with travel(T0, tick=False):
        notice = complete_dual_change(user, "new@example.com", mailoutbox)
    change = EmailChange.objects.get(status="completed")

    with travel(T0 + 6 * DAY + 23 * HOUR, tick=False):
        assert purge().splitlines()[1] == "Blanked the addresses of 0 kept email change(s)."
        assert addresses(change) == ("alice@example.com", "new@example.com")
        assert flows.check_revert(revert_token_in(notice)) == change

    with travel(T0 + 7 * DAY + 23 * HOUR, tick=False):
        purge()
        assert addresses(change) == ("alice@example.com", "new@example.com")

    # REVERT_MAX_AGE and a day's grace for a late send are over: no link can
    # read them, though the row stays for the post-revert lock's window.
    with travel(T0 + 8 * DAY + HOUR, tick=False):
        assert purge().splitlines()[1] == "Blanked the addresses of 1 kept email change(s)."
        assert addresses(change) == ("", "")
        assert change.status == "completed"
        assert change.closed_at is not None

    with travel(T0 + 10 * DAY + HOUR, tick=False):
        assert purge().splitlines()[0] == "Deleted 1 email change(s) in 1 batch(es)."
    assert not EmailChange.objects.exists()


def test_a_revert_still_works_after_a_purge_and_its_lock_outlives_the_scrub(
    short_purge, user, mailoutbox
):
    with travel(T0, tick=False):
        notice = complete_dual_change(user, "mallory@example.com", mailoutbox)
    change = EmailChange.objects.get(status="completed")

    with travel(T0 + 6 * DAY, tick=False):
        purge()
        flows.confirm_revert(revert_token_in(notice), password=PASSWORD, base_url=BASE_URL)
    assert email_of(reloaded(user)) == "alice@example.com"

    # Reverted: no link reads the addresses any more, and the row is past
    # PURGE_AFTER. The lock only needs the row's times.
    with travel(T0 + 6 * DAY + HOUR, tick=False):
        assert purge().splitlines() == [
            "Deleted 0 email change(s) in 0 batch(es).",
            "Blanked the addresses of 1 kept email change(s).",
        ]
        assert addresses(change) == ("", "")
        with pytest.raises(LockedOut):
            flows.request_change(with_new_password(user), "other@example.com", PASSWORD)


def test_a_purge_never_ends_the_lock_after_a_revert_whose_notice_went_out_late(
    short_purge, user, mailoutbox
):
    with travel(T0, tick=False):
        complete_dual_change(user, "mallory@example.com", mailoutbox)
    change = EmailChange.objects.get(status="completed")
    # A task worker retried the notice for two days: its link lives a week from then.
    with travel(T0 + 2 * DAY, tick=False):
        late_token = tokens.make_revert_token(change)
    with travel(T0 + 9 * DAY - HOUR, tick=False):
        flows.confirm_revert(late_token, password=PASSWORD, base_url=BASE_URL)

    # Past REVERT_MAX_AGE + CHANGE_LOCK_AFTER_REVERT from the completion, but
    # the lock runs three days from the revert.
    with travel(T0 + 10 * DAY + HOUR, tick=False):
        purge()
        assert EmailChange.objects.filter(pk=change.pk).exists()
        with pytest.raises(LockedOut):
            flows.request_change(with_new_password(user), "other@example.com", PASSWORD)

    with travel(T0 + 12 * DAY, tick=False):
        purge()
        assert not EmailChange.objects.filter(pk=change.pk).exists()
        flows.request_change(
            with_new_password(user), "other@example.com", PASSWORD, base_url=BASE_URL
        )


def test_the_scrub_takes_closed_rows_past_purge_after_in_batches_and_only_once(
    short_purge, make_user
):
    alice = make_user()

    def closed(status, age, **extra):
        return EmailChange(
            user=alice,
            old_email="alice@example.com",
            new_email="x@example.com",
            status=status,
            created_at=T0 - age,
            link_sent_at=T0 - age,
            closed_at=T0 - age,
            **extra,
        )

    old = [closed(status, 2 * DAY) for status in ("cancelled", "superseded") * 3]
    young = [closed("cancelled", 12 * HOUR), closed("completed", 12 * HOUR)]
    live_revert = closed("completed", 2 * DAY)
    EmailChange.objects.bulk_create([*old, *young, live_revert])

    with travel(T0, tick=False), CaptureQueriesContext(connection) as queries:
        output = purge("--batch-size", "4")

    assert output.splitlines()[1] == "Blanked the addresses of 6 kept email change(s)."
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 2
    blank = EmailChange.objects.filter(old_email="", new_email="")
    assert sorted(blank.values_list("status", flat=True)) == ["cancelled"] * 3 + ["superseded"] * 3
    assert EmailChange.objects.exclude(old_email="").count() == 3
    with travel(T0, tick=False):
        assert purge().splitlines()[1] == "Blanked the addresses of 0 kept email change(s)."


def test_nothing_is_scrubbed_when_purge_after_outlasts_the_revert_window(make_user):
    alice = make_user()
    change = EmailChange.objects.create(
        user=alice,
        old_email="alice@example.com",
        new_email="x@example.com",
        status="cancelled",
        closed_at=timezone.now() - 20 * DAY,
    )
    assert purge().splitlines()[1] == "Blanked the addresses of 0 kept email change(s)."
    assert addresses(change) == ("alice@example.com", "x@example.com")


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


def test_the_scrub_blanks_where_the_requests_came_from_with_the_addresses(short_purge, make_user):
    alice = make_user()
    context = {
        "requested_ip": "27.34.1.2",
        "requested_browser": "Firefox",
        "requested_os": "Android",
        "refused_ip": "198.51.100.7",
        "refused_browser": "Chrome",
        "refused_os": "Windows",
    }

    def closed(age):
        return EmailChange.objects.create(
            user=alice,
            old_email="alice@example.com",
            new_email="x@example.com",
            status="cancelled",
            created_at=T0 - age,
            closed_at=T0 - age,
            **context,
        )

    old, young = closed(2 * DAY), closed(12 * HOUR)

    with travel(T0, tick=False):
        assert purge().splitlines()[1] == "Blanked the addresses of 1 kept email change(s)."

    def kept(change):
        return EmailChange.objects.filter(pk=change.pk).values(*context).get()

    assert kept(old) == {
        "requested_ip": None,
        "requested_browser": None,
        "requested_os": "",
        "refused_ip": None,
        "refused_browser": None,
        "refused_os": "",
    }
    assert kept(young) == context


def test_purge_deletes_dead_codes_and_wrong_tries_the_day_no_longer_counts(make_user, mailoutbox):
    def sent_code(user):
        browser = client_for(user)
        send_verification(browser)
        return browser, code_in(mailoutbox[-1])

    used, expired, live = (
        make_user(name, f"{name}@example.com", verified=False) for name in ("una", "ed", "liv")
    )
    used_browser, used_code = sent_code(used)
    assert used_browser.post(url("verify-code"), {"code": used_code}).status_code == 302
    with later(-16 * 60):  # past CODE_MAX_AGE (15 minutes) by now
        sent_code(expired)
    live_browser, live_code = sent_code(live)
    WrongCode.objects.bulk_create(
        [
            WrongCode(user=live, failed_at=timezone.now() - timedelta(hours=25)),
            WrongCode(user=live, failed_at=timezone.now() - timedelta(hours=23)),
        ]
    )

    output = purge("--batch-size", "1")

    assert "Deleted 2 dead one-time code(s) and 1 old wrong code tries." in output
    assert list(OneTimeCode.objects.values_list("user", flat=True)) == [live.pk]
    [kept] = WrongCode.objects.all()
    assert kept.failed_at > timezone.now() - DAY  # the day limit still counts it
    # The code that is still live still works.
    assert live_browser.post(url("verify-code"), {"code": live_code}).status_code == 302
    assert is_email_verified(reloaded(live))


def test_purge_keeps_the_used_code_of_a_pending_changes_first_step(user, mailoutbox):
    browser = client_for(user)
    browser.post(url("change"), {"new_email": "alice.new@example.com", "password": PASSWORD})
    old_code = code_in(mailoutbox[-1])
    assert browser.post(url("change-code"), {"code": old_code}).status_code == 200  # one more step

    purge()

    # Typed at the new address's step (its code still live), it still reads
    # as used, not as a wrong try at that step's code.
    assert browser.post(url("change-code"), {"code": old_code}).status_code == 410
    assert not WrongCode.objects.exists()
    new_code = code_in(mailoutbox[-1], to="alice.new@example.com")
    assert browser.post(url("change-code"), {"code": new_code}).status_code == 302


def test_purge_deletes_address_locks_a_day_old_and_a_later_lock_makes_the_row_again(
    make_user, mailoutbox
):
    # A lock row outlives its transaction only as a hash of an address the
    # accounts that held it may have left: the purge takes it a day on.
    una = make_user("una", "una@example.com", verified=False)
    AddressLock.objects.bulk_create(
        [
            AddressLock(key=address_lock_key("una@example.com"), locked_at=OLD),
            AddressLock(key=address_lock_key("gone@example.com"), locked_at=None),
            AddressLock(key=address_lock_key("recent@example.com"), locked_at=timezone.now()),
        ]
    )

    output = purge("--batch-size", "1")

    assert "Deleted 2 address lock(s) a day old." in output
    assert list(AddressLock.objects.values_list("key", flat=True)) == [
        address_lock_key("recent@example.com")
    ]
    # The next step that makes the address verified locks it again.
    browser = client_for(una)
    send_verification(browser)
    assert browser.post(url("verify-code"), {"code": code_in(mailoutbox[-1])}).status_code == 302
    assert is_email_verified(reloaded(una))
    assert AddressLock.objects.filter(key=address_lock_key("una@example.com")).exists()
