"""Reads built by the ORM once per database: the same answers as the ORM, or the ORM itself."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models import Subquery
from django.db.models.signals import post_delete
from django.db.transaction import TransactionManagementError
from django.test import override_settings
from django.utils import timezone

from django_verified_email import flows, prepared, throttle
from django_verified_email.exceptions import LockedOut
from django_verified_email.flows import _common
from django_verified_email.models import (
    EmailChange,
    ReauthAttempts,
    change_with_user,
    lock_user,
)
from tests.helpers import BASE_URL, PASSWORD

# The same answers as the ORM on every database: MariaDB's run takes them too.
pytestmark = pytest.mark.hardening


def compiled(read):
    return list(read._compiled.values())


def users_named(value):
    return get_user_model()._default_manager.filter(username__iexact=value).values_list("pk")


USERS_NAMED = prepared.Read(get_user_model, users_named)
USERNAME = get_user_model()._meta.get_field("username")


def test_the_holders_read_is_built_once_and_answers_like_the_orm(make_user):
    alice = make_user()
    bob = make_user("bob", "bob@example.com")

    first = _common.other_holders(alice, "BOB@example.com")
    again = _common.other_holders(alice, "bob@example.com")

    assert first == again == [(bob.pk, True)]
    # The verified flag is a bool, as the ORM converts it (SQLite stores 1).
    assert type(first[0][1]) is bool
    # One entry per number of spellings, each reusable.
    entries = compiled(_common._OTHER_HOLDERS)
    assert entries and prepared._NOT_REUSABLE not in entries
    assert _common.other_holders(bob, "bob@example.com") == []


def test_a_value_the_orm_rewrites_is_left_to_the_orm(make_user):
    # __iexact is LIKE on SQLite and MariaDB, whose "_" matches any
    # character unless escaped: the read must not match "axb" for "a_b".
    make_user("axb", "axb@example.com")
    user = make_user("a_b", "a_b@example.com")

    assert USERS_NAMED.rows("A_B", fields=[USERNAME]) == [(user.pk,)]
    assert USERS_NAMED.rows("A_B", fields=[USERNAME]) == [(user.pk,)]
    if connection.vendor in ("sqlite", "mysql"):
        assert compiled(USERS_NAMED) == [prepared._NOT_REUSABLE]


def test_a_none_value_goes_through_the_orm(make_user, mailoutbox):
    # The ORM reads "= None" as IS NULL; "= NULL" in SQL matches nothing.
    alice = make_user()
    change = flows.request_change(alice, "alice@new.example.com", PASSWORD, base_url=BASE_URL)
    closed_at = EmailChange._meta.get_field("closed_at")
    read = prepared.Read(
        lambda: EmailChange,
        lambda moment: EmailChange.objects.filter(closed_at=moment).values_list("pk"),
    )

    assert read.rows(timezone.now(), fields=[closed_at]) == []
    assert read.rows(None, fields=[closed_at]) == [(change.pk,)]


def test_a_default_manager_of_the_hosts_is_never_frozen(make_user, monkeypatch):
    # It may filter by what it reads at run time (a tenant): SQL built once
    # would keep the first call's filter.
    def hiding(manager):
        return models.Manager.get_queryset(manager).filter(pk__lt=0)

    alice = make_user()
    change = flows.request_change(alice, "alice@new.example.com", PASSWORD, base_url=BASE_URL)
    read = prepared.Read(
        lambda: EmailChange, lambda pk: EmailChange.objects.filter(pk=pk).values_list("pk")
    )
    assert read.rows(change.pk, fields=[EmailChange._meta.pk]) == [(change.pk,)]
    monkeypatch.setattr(type(EmailChange.objects), "get_queryset", hiding)

    # Asked on every run: built before the manager came, the read still obeys it.
    assert read.rows(change.pk, fields=[EmailChange._meta.pk]) == []


def test_a_settings_change_forgets_the_built_reads(make_user):
    alice = make_user()
    _common.other_holders(alice, "bob@example.com")
    assert compiled(_common._OTHER_HOLDERS)

    with override_settings(USE_TZ=True):
        assert compiled(_common._OTHER_HOLDERS) == []


def test_a_lockout_is_read_with_its_time(make_user):
    user = make_user()
    until = timezone.now() + timedelta(minutes=5)
    ReauthAttempts.objects.create(
        user=user, count=5, window_started_at=timezone.now(), locked_until=until
    )

    for _ in range(2):
        with pytest.raises(LockedOut) as locked:
            throttle.check_lockout(user)
        assert 299 <= locked.value.retry_after <= 300


def test_a_change_with_its_user_is_what_select_related_reads(make_user, mailoutbox):
    alice = make_user()
    change = flows.request_change(alice, "alice@new.example.com", PASSWORD, base_url=BASE_URL)

    built = change_with_user(change.pk)
    orm = EmailChange.objects.select_related("user").get(pk=change.pk)

    for field in EmailChange._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(orm, field.attname), field.name
    for field in get_user_model()._meta.concrete_fields:
        assert getattr(built.user, field.attname) == getattr(orm.user, field.attname), field.name
    assert built.created_at.tzinfo is not None
    assert built._state.db == orm._state.db and not built._state.adding
    assert not built.user._state.adding
    assert change_with_user(change.pk + 1000) is None


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's integers stop at 2**63 - 1")
def test_an_id_out_of_its_fields_range_reads_nothing_like_the_orm(db):
    # The ORM answers "no row" without asking; the database would refuse it.
    assert EmailChange.objects.select_related("user").filter(pk=2**63).first() is None
    assert change_with_user(2**63) is None


def test_a_setting_that_shapes_no_read_keeps_them(make_user):
    alice = make_user()
    _common.other_holders(alice, "bob@example.com")

    with override_settings(VERIFIED_EMAIL={"RESEND_COOLDOWN": 0}, LANGUAGE_CODE="fr"):
        assert compiled(_common._OTHER_HOLDERS)


def test_attempts_are_forgotten_by_the_built_delete_unless_someone_listens(make_user):
    alice = make_user()
    deleted = []

    def on_delete(sender, instance, **kwargs):
        deleted.append(instance.user_id)

    for listened in (False, True):
        ReauthAttempts.objects.create(user=alice, count=1, window_started_at=timezone.now())
        if listened:
            post_delete.connect(on_delete, sender=ReauthAttempts, weak=False)
        try:
            throttle.reset_attempts(alice)
        finally:
            post_delete.disconnect(on_delete, sender=ReauthAttempts)
        assert not ReauthAttempts.objects.filter(user=alice).exists()
    assert deleted == [alice.pk]


def test_a_lockout_is_not_forgotten_by_a_right_password(make_user):
    alice = make_user()
    until = timezone.now() + timedelta(minutes=5)
    ReauthAttempts.objects.create(
        user=alice, count=5, window_started_at=timezone.now(), locked_until=until
    )

    throttle.reset_attempts(alice)

    assert ReauthAttempts.objects.get(user=alice).locked_until == until


# Locks: SQLite has no row locks; ``row_locks`` lets it stand in for PostgreSQL
# and MariaDB (the ORM's checks apply, its FOR UPDATE clause is left out).


@pytest.fixture
def row_locks(monkeypatch):
    monkeypatch.setattr(connection.features, "has_select_for_update", True)
    monkeypatch.setattr(connection.ops, "for_update_sql", lambda *args, **kwargs: "")


def test_a_change_is_locked_with_its_user_on_a_database_with_row_locks(
    make_user, mailoutbox, row_locks
):
    # PostgreSQL and MariaDB lock a change's owner by a subquery: the ORM's.
    alice = make_user()
    change = flows.request_change(alice, "alice@new.example.com", PASSWORD, base_url=BASE_URL)

    with transaction.atomic():
        locked = EmailChange.objects.lock_with_user(change.pk)

    assert locked is not None and locked.pk == change.pk and locked.user.pk == alice.pk


def test_lock_user_takes_a_subquery(make_user):
    alice = make_user()
    owner = Subquery(get_user_model()._default_manager.filter(pk=alice.pk).values("pk")[:1])

    with transaction.atomic():
        assert lock_user(owner) == alice


@pytest.mark.django_db(transaction=True)
def test_lock_user_outside_a_transaction_is_refused_like_the_orm(make_user, row_locks):
    user = make_user()
    with transaction.atomic():
        assert lock_user(user.pk) == user  # the statement is built here

    # The ORM refuses a lock that would end with its statement (autocommit)...
    with pytest.raises(TransactionManagementError):
        get_user_model()._default_manager.select_for_update().filter(pk=user.pk).first()
    # ...and so does the built statement: its lock would end with it.
    with pytest.raises(TransactionManagementError):
        lock_user(user.pk)


def test_a_locked_user_through_the_hosts_manager_is_what_the_orm_returns(make_user, monkeypatch):
    # Its annotations (and its select_related, with the locks that join
    # takes) are the ORM's to apply.
    def annotating(manager):
        return models.Manager.get_queryset(manager).annotate(plan=models.Value("pro"))

    alice = make_user()
    monkeypatch.setattr(type(get_user_model()._default_manager), "get_queryset", annotating)
    with transaction.atomic():
        orm = get_user_model()._default_manager.select_for_update().filter(pk=alice.pk).first()
        locked = lock_user(alice.pk)

    assert orm.plan == "pro"
    assert getattr(locked, "plan", None) == "pro"


def test_an_expression_goes_through_the_orm(make_user):
    # It changes the SQL itself (a column, not a value).
    alice = make_user()
    bob = make_user("bob", "bob@example.com")

    rows = USERS_NAMED.rows(models.F("username"), fields=[USERNAME])

    assert sorted(rows) == sorted([(alice.pk,), (bob.pk,)])
