"""Races around a revert, on a real database: it takes the same locks as a
completion (the user row first, then the change rows), so nothing slips past it."""

import time

import pytest

from django_verified_email import flows
from django_verified_email.exceptions import EmailTaken, LockedOut, WrongPassword
from django_verified_email.models import EmailChange
from tests.helpers import (
    PASSWORD,
    complete_dual_change,
    email_of,
    reloaded,
    revert_token_in,
    run_at_once,
    token_in,
)

pytestmark = pytest.mark.concurrency

BASE = "http://testserver"
WINDOW = 0.3


@pytest.fixture(autouse=True)
def _no_cooldown(settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}


def test_two_reverts_to_one_address_at_once_only_one_wins(make_user, mailoutbox, monkeypatch):
    # X leaves shared@ for x.new@; Y then takes shared@, and leaves it for
    # y.new@. Both revert links lead back to shared@.
    x = make_user("x", "shared@example.com", verified=True)
    x_revert = revert_token_in(complete_dual_change(x, "x.new@example.com", mailoutbox))
    y = make_user("y", "y@example.com", verified=True)
    complete_dual_change(y, "shared@example.com", mailoutbox)
    y_revert = revert_token_in(complete_dual_change(reloaded(y), "y.new@example.com", mailoutbox))
    check = flows._common.taken_by_other

    def slow(user, address):
        answer = check(user, address)
        time.sleep(WINDOW)
        return answer

    monkeypatch.setattr(flows._common, "taken_by_other", slow)

    results = run_at_once(
        lambda: flows.confirm_revert(x_revert, password=PASSWORD, base_url=BASE),
        lambda: flows.confirm_revert(y_revert, password=PASSWORD, base_url=BASE),
    )

    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    assert isinstance(next(v for k, v in results if k == "error"), EmailTaken)
    holders = [u for u in (reloaded(x), reloaded(y)) if email_of(u) == "shared@example.com"]
    assert len(holders) == 1


def test_a_change_request_racing_the_revert_never_outlives_it(make_user, mailoutbox, monkeypatch):
    # The intruder asks for another change the moment the owner reverts: it
    # reaches the user row's lock while the revert holds it, and must then
    # see the revert (its lock on changes, the retired password), not the
    # database as it was before.
    alice = make_user("alice", "alice@example.com", verified=True)
    revert = revert_token_in(complete_dual_change(alice, "mallory@example.com", mailoutbox))
    intruder_view = reloaded(alice)
    set_address = flows._common.set_verified_address
    reauthenticate = flows._common.reauthenticate

    def slow_set_address(*args, **kwargs):
        done = set_address(*args, **kwargs)
        time.sleep(WINDOW)  # the revert holds the user row meanwhile
        return done

    def late_reauthenticate(*args, **kwargs):
        reauthenticate(*args, **kwargs)
        time.sleep(WINDOW / 2)  # reach the lock after the revert took it

    monkeypatch.setattr(flows._common, "set_verified_address", slow_set_address)
    monkeypatch.setattr(flows._common, "reauthenticate", late_reauthenticate)

    results = run_at_once(
        lambda: flows.confirm_revert(revert, password=PASSWORD, base_url=BASE),
        lambda: flows.request_change(
            intruder_view, "mallory2@example.com", PASSWORD, base_url=BASE
        ),
    )

    assert results[0][0] == "ok", results
    assert results[1][0] == "error", results
    assert isinstance(results[1][1], LockedOut | WrongPassword), results
    assert not EmailChange.objects.pending().exists()
    assert email_of(reloaded(alice)) == "alice@example.com"


def test_a_deny_and_a_confirm_of_the_same_link_at_once_do_not_both_act(make_user, mailoutbox):
    alice = make_user("alice", "alice@example.com", verified=True)
    flows.request_change(alice, "mallory@example.com", PASSWORD, base_url=BASE)
    link = token_in(mailoutbox[-1])

    results = run_at_once(
        lambda: flows.confirm_deny(link, base_url=BASE),
        lambda: flows.confirm_change(link, base_url=BASE),
    )

    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    assert EmailChange.objects.get().status in ("denied", "awaiting_new")
