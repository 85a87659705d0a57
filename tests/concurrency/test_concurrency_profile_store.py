"""Races on the profile store's own rows (a user model without the mixin).

Run with VE_TEST_STORE=profile; skipped on the mixin's store. Each race
widens its window on purpose, as in test_concurrency_races.
"""

import time

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from django_verified_email import flows, is_email_verified, mark_email_verified
from django_verified_email.exceptions import EmailTaken
from django_verified_email.models import VerifiedEmailProfile
from django_verified_email.stores import get_store, profile
from tests.helpers import email_of, move_counter, reloaded, run_at_once, security_counter, token_in

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.skipif(
        get_store().name != "profile", reason="the profile store's rows (VE_TEST_STORE=profile)"
    ),
]

WINDOW = 0.3
# One address in two spellings the unique Lower() index lets two accounts
# hold (auth.User has no index at all), but the app calls one.
UNICODE = "shared@bücher.example"
ASCII = "shared@xn--bcher-kva.example"


@pytest.fixture
def slow_profile_write(monkeypatch):
    """Hold every profile row a moment after it is read for writing."""
    write = profile.profile_for_write

    def slow(user):
        row = write(user)
        time.sleep(WINDOW)
        return row

    monkeypatch.setattr(profile, "profile_for_write", slow)


def test_two_accounts_proving_one_address_at_once_one_is_told_it_is_taken(
    make_user, mailoutbox, settings, slow_profile_write
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user("alice", UNICODE, verified=False)
    bob = make_user("bob", ASCII, verified=False)
    flows.send_verification(alice, base_url="http://testserver")
    flows.send_verification(bob, base_url="http://testserver")
    alice_token, bob_token = (token_in(message) for message in mailoutbox)

    results = run_at_once(
        lambda: flows.confirm_verification(alice_token),
        lambda: flows.confirm_verification(bob_token),
    )

    # Before: the loser's row hit the unique index (IntegrityError, a 500).
    outcomes = sorted(type(value).__name__ if kind == "error" else kind for kind, value in results)
    assert outcomes == ["EmailTaken", "ok"], results
    assert [is_email_verified(reloaded(u)) for u in (alice, bob)].count(True) == 1


def test_an_address_saved_by_the_host_while_a_flow_holds_the_user_does_not_deadlock(
    make_user, monkeypatch
):
    alice = make_user("alice", "alice@example.com")
    moved = profile.moved

    def slow(counter, *, end_sessions):
        time.sleep(WINDOW)
        return moved(counter, end_sessions=end_sessions)

    monkeypatch.setattr(profile, "moved", slow)
    before = security_counter(reloaded(alice))

    def host_save():
        with transaction.atomic():
            user = get_user_model()._default_manager.get(pk=alice.pk)
            user.email_address = "typed@example.com"
            user.save()

    results = run_at_once(host_save, lambda: move_counter(alice, end_sessions=False))

    # The host's save locks the user's row before the profile's, as the flow
    # does: neither waits on the other in the opposite order.
    assert [kind for kind, _ in results] == ["ok", "ok"], results
    stored = reloaded(alice)
    assert email_of(stored) == "typed@example.com"
    assert not is_email_verified(stored)
    assert security_counter(stored) > before + 1


def test_a_host_save_and_a_first_use_create_one_profile_row(make_user, monkeypatch):
    alice = make_user("alice", "alice@example.com", verified=False)
    assert not VerifiedEmailProfile.objects.filter(user_id=alice.pk).exists()
    first = VerifiedEmailProfile.objects.create

    def slow_create(**fields):
        time.sleep(WINDOW)
        return first(**fields)

    monkeypatch.setattr(VerifiedEmailProfile.objects, "create", slow_create)

    def host_save():
        with transaction.atomic():
            user = get_user_model()._default_manager.get(pk=alice.pk)
            user.email_address = "typed@example.com"
            user.save()

    def host_save_too():
        with transaction.atomic():
            user = get_user_model()._default_manager.get(pk=alice.pk)
            user.email_address = "typed.too@example.com"
            user.save()

    results = run_at_once(host_save, host_save_too)

    # Before: both saw no row and created one (IntegrityError, a 500).
    assert [kind for kind, _ in results] == ["ok", "ok"], results
    assert VerifiedEmailProfile.objects.filter(user_id=alice.pk).count() == 1


def test_marking_one_address_on_two_accounts_at_once_raises_email_taken(
    make_user, slow_profile_write
):
    alice = make_user("alice", UNICODE, verified=False)
    bob = make_user("bob", ASCII, verified=False)

    results = run_at_once(lambda: mark_email_verified(alice), lambda: mark_email_verified(bob))

    outcomes = sorted(type(value).__name__ if kind == "error" else kind for kind, value in results)
    assert outcomes == [EmailTaken.__name__, "ok"], results
