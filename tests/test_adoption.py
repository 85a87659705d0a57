"""Adopting the app on an existing user table: the audit and the trust commands."""

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from time_machine import travel

from django_verified_email import is_email_verified
from django_verified_email.models import EmailChange
from tests.helpers import mark_verified_at, reloaded, verified_at

ADOPTION = timezone.now().replace(microsecond=0)


def run(command, *args):
    """The command's output, and whether it exited with an error."""
    out = StringIO()
    try:
        call_command(command, *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def audit(*args):
    return run("verified_email_audit_addresses", *args)


def trust(*args):
    output, error = run("verified_email_trust_existing", *args)
    assert error is None, error
    return output


LOWER_UNIQUE = "testapp_user_email_lower_unique"


def without_the_email_constraint():
    """Drop the test app's case-insensitive unique rules, for this test only.

    A table from before the app has no such constraint yet, and the audit
    exists to find what would stop one. DDL is transactional on SQLite and
    PostgreSQL: the test's rollback brings the rules back.
    """
    if connection.vendor not in ("sqlite", "postgresql"):
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS testapp_user_email_unique_ci")
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE testapp_user DROP CONSTRAINT IF EXISTS {LOWER_UNIQUE}")
        else:
            without_sqlite_table_constraint(cursor, "testapp_user", LOWER_UNIQUE)


def without_sqlite_table_constraint(cursor, table, name):
    """Rebuild ``table`` without its constraint ``name``, as Django's SQLite migrations do.

    SQLite keeps a unique constraint on plain columns in the table itself,
    and cannot drop it; its own schema editor refuses to run inside the
    test's transaction (it turns foreign key checks off first).
    """
    cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [table])
    [create] = cursor.fetchone()
    stripped = re.sub(rf', CONSTRAINT "{name}" UNIQUE \([^)]*\)', "", create)
    assert stripped != create, create
    cursor.execute(f'SELECT * FROM "{table}" LIMIT 0')
    generated = {"email_lower"}
    columns = ", ".join(f'"{c[0]}"' for c in cursor.description if c[0] not in generated)
    cursor.execute(stripped.replace(f'"{table}"', f'"{table}__old_rules"', 1))
    cursor.execute(f'INSERT INTO "{table}__old_rules" ({columns}) SELECT {columns} FROM "{table}"')
    cursor.execute(f'DROP TABLE "{table}"')
    cursor.execute(f'ALTER TABLE "{table}__old_rules" RENAME TO "{table}"')


@pytest.fixture
def table(make_user):
    """An existing user table, as it was before the app was installed."""
    without_the_email_constraint()
    earlier = ADOPTION - timedelta(days=100)
    return {
        "plain": make_user("plain", "plain@example.com", verified=False),
        "other": make_user("other", "other@example.org", verified=False),
        "blank": make_user("blank", "", verified=False),
        "invalid": make_user("invalid", "not an address", verified=False),
        "case_a": make_user("case_a", "Sam@Example.com", verified=False),
        "case_b": make_user("case_b", "sam@example.COM", verified=False),
        "verified": make_user("verified", "v@example.com", email_verified_at=earlier),
    }


# verified_email_audit_addresses ----------------------------------------------


def test_the_audit_finds_case_only_duplicates_and_invalid_addresses_and_exits_1(table):
    output, error = audit()

    assert error is not None and error.returncode == 1
    assert "1 duplicate group(s), 1 invalid address(es)" in str(error)
    assert "Checked the addresses ('email_address') of 7 user(s)." in output
    assert (
        f"  sam@example.com: pk {table['case_a'].pk} 'Sam@Example.com', "
        f"pk {table['case_b'].pk} 'sam@example.COM'" in output
    )
    assert f"  pk {table['invalid'].pk}: 'not an address'" in output
    assert "Blank addresses (1; allowed" in output


def test_the_audit_as_json(table):
    output, error = audit("--json")

    assert error is not None
    report = json.loads(output)
    assert report["users"] == 7
    assert report["field"] == "email_address"
    assert report["duplicates"] == [
        {
            "address": "sam@example.com",
            "users": [
                {"pk": str(table["case_a"].pk), "email": "Sam@Example.com"},
                {"pk": str(table["case_b"].pk), "email": "sam@example.COM"},
            ],
        }
    ]
    assert report["invalid"] == [{"pk": str(table["invalid"].pk), "email": "not an address"}]
    assert report["blank"] == [str(table["blank"].pk)]
    assert report["problems"] == 2


def test_the_audit_counts_other_spellings_of_one_mailbox_as_duplicates(make_user):
    first = make_user("first", "ann@bücher.de", verified=False)
    second = make_user("second", "ann@xn--bcher-kva.de.", verified=False)

    output, error = audit("--json")

    assert error is not None
    [group] = json.loads(output)["duplicates"]
    assert [user["pk"] for user in group["users"]] == [str(first.pk), str(second.pk)]


def test_a_clean_table_passes_the_audit_blank_addresses_included(make_user):
    make_user("a", "a@example.com")
    make_user("b", "", verified=False)
    make_user("c", "", verified=False)

    output, error = audit()

    assert error is None
    assert output.splitlines()[-1] == "No duplicates and no invalid addresses."
    assert "Blank addresses (2;" in output


def test_an_empty_table_passes_the_audit(db):
    output, error = audit("--json")
    assert error is None
    assert json.loads(output)["problems"] == 0


# verified_email_trust_existing ----------------------------------------------


def test_a_dry_run_counts_and_writes_nothing(table):
    with CaptureQueriesContext(connection) as queries:
        output = trust("--dry-run")

    assert (
        output.splitlines()[0]
        == "Would trust 2 address(es) in 1 batch(es) (dry run: nothing written)."
    )
    assert not [q for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))]
    for user in table.values():
        assert is_email_verified(reloaded(user)) == is_email_verified(user)
        assert verified_at(reloaded(user)) == verified_at(user)


def test_trust_marks_valid_unshared_addresses_and_skips_the_rest(table):
    with travel(ADOPTION, tick=False):
        output = trust()

    assert output.splitlines() == [
        "Trusted 2 address(es) in 1 batch(es).",
        "Left alone: 1 already verified;",
        "  skipped 1 blank, 1 invalid, 2 shared with another account "
        "(verified_email_audit_addresses lists them), 0 verified on another account, "
        "0 with an email change in the app.",
    ]
    for name in ("plain", "other"):
        user = reloaded(table[name])
        assert (is_email_verified(user), verified_at(user)) == (True, ADOPTION)
    for name in ("blank", "invalid", "case_a", "case_b"):
        user = reloaded(table[name])
        assert (is_email_verified(user), verified_at(user)) == (False, None)


def test_trust_never_touches_users_verified_before_or_since(table):
    before = verified_at(table["verified"])
    with travel(ADOPTION, tick=False):
        trust()
    # Verified through the app after the first run.
    table["blank"].email_address = "blank@example.com"
    table["blank"].save()
    mark_verified_at(table["blank"], ADOPTION + timedelta(days=1))

    with travel(ADOPTION + timedelta(days=2), tick=False):
        output = trust()

    assert output.splitlines()[0] == "Trusted 0 address(es) in 1 batch(es)."
    assert verified_at(reloaded(table["verified"])) == before
    assert verified_at(reloaded(table["blank"])) == ADOPTION + timedelta(days=1)
    # Idempotent: the first run's time stays.
    assert verified_at(reloaded(table["plain"])) == ADOPTION


def test_trust_skips_users_who_started_a_change_in_the_app(table):
    EmailChange.objects.create(
        user=table["plain"],
        old_email="plain@example.com",
        new_email="new@example.com",
        status="awaiting_new",
    )

    output = trust()

    assert output.splitlines()[0] == "Trusted 1 address(es) in 1 batch(es)."
    assert "1 with an email change in the app." in output
    assert not is_email_verified(reloaded(table["plain"]))


def test_trust_works_in_batches(make_user):
    users = [make_user(f"u{i}", f"u{i}@example.com", verified=False) for i in range(5)]

    with CaptureQueriesContext(connection) as queries:
        output = trust("--batch-size", "2")

    assert output.splitlines()[0] == "Trusted 5 address(es) in 3 batch(es)."
    # Two writes per batch, however large: the upsert that locks its
    # addresses, then an UPDATE of the users (the mixin) or an INSERT of
    # their profile rows.
    writes = [q for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))]
    assert len(writes) == 6
    assert all(is_email_verified(reloaded(user)) for user in users)


def test_a_large_batch_is_checked_without_an_address_index(make_user, monkeypatch):
    # Without an index to compare with, the lookup ORs one term per spelling;
    # SQLite refuses an expression more than 1,000 deep, so a batch of
    # hundreds of addresses is looked up a few hundred spellings at a time.
    from django_verified_email import addresses

    monkeypatch.setattr(addresses, "email_index", lambda model: None)
    model = get_user_model()
    field = model.get_email_field_name()
    model.objects.bulk_create(
        [model(username=f"b{i}", **{field: f"b{i}@example.com"}) for i in range(600)]
    )

    output = trust("--batch-size", "1000")

    assert output.splitlines()[0] == "Trusted 600 address(es) in 1 batch(es)."


def test_trust_refuses_a_batch_size_below_one(db):
    with pytest.raises(CommandError):
        call_command("verified_email_trust_existing", "--batch-size", "0", stdout=StringIO())


# Addresses that appear or are verified while the command runs -----------------


@pytest.fixture
def after_the_audit(monkeypatch):
    """Run a callable between the command's audit and its first batch.

    The audit is one scan at the start; on a large table the batches take
    minutes, and users sign up, change or verify their address meanwhile.
    """
    from django_verified_email import adoption

    scan = adoption.audit_addresses
    pending = []

    def audit_then(using=None):
        found = scan(using)
        for call in pending:
            call()
        return found

    monkeypatch.setattr(adoption, "audit_addresses", audit_then)
    return pending.append


def verified_accounts(*users):
    return [user.username for user in users if is_email_verified(reloaded(user))]


def test_trust_skips_an_address_it_trusted_in_an_earlier_batch(make_user, after_the_audit):
    without_the_email_constraint()
    first = make_user("first", "ann@bücher.de", verified=False)
    late = []
    # Signed up after the scan, in another spelling of the same mailbox.
    after_the_audit(lambda: late.append(make_user("late", "ANN@xn--bcher-kva.de", verified=False)))

    output = trust("--batch-size", "1")

    assert verified_accounts(first, *late) == ["first"]
    assert "1 verified on another account" in output


def test_trust_skips_both_users_of_an_address_shared_within_one_batch(make_user, after_the_audit):
    without_the_email_constraint()
    users = []
    after_the_audit(
        lambda: users.extend(
            [
                make_user("one", "pat@example.com", verified=False),
                make_user("two", "Pat@Example.COM", verified=False),
            ]
        )
    )

    output = trust()

    assert verified_accounts(*users) == []
    assert output.splitlines()[0] == "Trusted 0 address(es) in 1 batch(es)."
    assert "2 shared with another account" in output


def test_trust_skips_an_address_another_account_verified_since_the_audit(
    make_user, after_the_audit
):
    without_the_email_constraint()
    alice = make_user("alice", "kim@example.com", verified=False)
    bob = make_user("bob", "bob@example.com", verified=False)

    def bob_proves_it():
        bob.email_address = "KIM@example.com"
        bob.save()
        mark_verified_at(bob, ADOPTION)

    after_the_audit(bob_proves_it)

    output = trust()

    assert verified_accounts(alice, bob) == ["bob"]
    assert "1 verified on another account" in output
