"""Races on a real database: every racer has its own connection and thread.

Each race widens its window on purpose: the checks it races through sleep
after reading, so without the flows' row locks both racers would read before
either commits, and the test would see both win.
"""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_verified_email import emails, flows, signals, web
from django_verified_email.exceptions import EmailTaken, InvalidToken, LockedOut, WrongPassword
from django_verified_email.models import EmailChange
from tests.helpers import (
    PASSWORD,
    REVERT_PAGE,
    email_of,
    kind_of,
    links_in,
    reloaded,
    revert_token_in,
    run_at_once,
    token_in,
)

pytestmark = pytest.mark.concurrency

SHARED = "shared@example.com"
WINDOW = 0.3


@pytest.fixture
def slow_taken_check(monkeypatch):
    """Hold every "is the address taken?" answer a moment before acting on it."""
    check = flows._common.taken_by_other

    def slow(user, address):
        answer = check(user, address)
        time.sleep(WINDOW)
        return answer

    monkeypatch.setattr(flows._common, "taken_by_other", slow)


@pytest.fixture
def two_claims(make_user, mailoutbox, settings):
    """Alice and Bob, each one click away from taking the same new address."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user("alice", "alice@example.com", verified=False)
    bob = make_user("bob", "bob@example.com", verified=False)
    flows.request_change(alice, SHARED, PASSWORD, base_url="http://testserver")
    flows.request_change(bob, SHARED.upper(), PASSWORD, base_url="http://testserver")
    alice_token, bob_token = (token_in(message) for message in mailoutbox)
    mailoutbox.clear()
    return alice, bob, alice_token, bob_token


def holders_of(address):
    return [
        user.username
        for user in get_user_model()._default_manager.all()
        if email_of(user).lower() == address.lower()
    ]


def test_two_users_racing_for_one_address_exactly_one_wins(
    two_claims, slow_taken_check, mailoutbox
):
    alice, bob, alice_token, bob_token = two_claims

    results = run_at_once(
        lambda: flows.confirm_change(alice_token, base_url="http://testserver"),
        lambda: flows.confirm_change(bob_token, base_url="http://testserver"),
    )

    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["error", "ok"], results
    [error] = [value for kind, value in results if kind == "error"]
    assert isinstance(error, EmailTaken)
    assert web.http_status(error) == 409
    assert len(holders_of(SHARED)) == 1
    winner, loser = (alice, bob) if results[0][0] == "ok" else (bob, alice)
    assert email_of(reloaded(loser)) == f"{loser.username}@example.com"
    assert EmailChange.objects.get(user=loser).status == "awaiting_new"
    # The winner's new address is told, and its old (unverified) one too.
    assert [(kind_of(m), m.to) for m in mailoutbox] == [
        (emails.CHANGE_COMPLETED, [email_of(reloaded(winner))]),
        (emails.CHANGE_NOTICE_OLD, [f"{winner.username}@example.com"]),
    ]


def test_the_loser_of_the_race_gets_a_clear_409_page(two_claims, slow_taken_check):
    _alice, _bob, alice_token, bob_token = two_claims

    def post(token):
        return Client().post(f"/account/email/change/confirm/{token}/")

    results = run_at_once(lambda: post(alice_token), lambda: post(bob_token))

    statuses = sorted(response.status_code for _, response in results)
    assert statuses == [302, 409], results
    [page] = [response for _, response in results if response.status_code == 409]
    assert b'data-code="email_taken"' in page.content
    assert b"Your email address was not changed." in page.content
    assert page["Referrer-Policy"] == "no-referrer"
    assert len(holders_of(SHARED)) == 1


def test_a_revert_and_a_change_racing_for_one_address_never_share_it(
    make_user, mailoutbox, settings, slow_taken_check
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user("alice", "alice@example.com", verified=True)
    flows.request_change(alice, "alice.new@example.com", PASSWORD, base_url="http://testserver")
    flows.confirm_change(token_in(mailoutbox[-1]), base_url="http://testserver")
    flows.confirm_change(token_in(mailoutbox[-1]), base_url="http://testserver")
    notice = next(
        m for m in mailoutbox if m.to == ["alice@example.com"] and links_in(m, REVERT_PAGE)
    )
    revert_token = revert_token_in(notice)
    carol = make_user("carol", "carol@example.com", verified=False)
    flows.request_change(carol, "alice@example.com", PASSWORD, base_url="http://testserver")
    carol_token = token_in(mailoutbox[-1])

    results = run_at_once(
        lambda: flows.revert_change(revert_token, password=PASSWORD, base_url="http://testserver"),
        lambda: flows.confirm_change(carol_token, base_url="http://testserver"),
    )

    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    assert isinstance(next(v for k, v in results if k == "error"), EmailTaken)
    assert len(holders_of("alice@example.com")) == 1


def test_the_same_link_posted_twice_at_once_completes_once_and_sends_once(
    make_user, mailoutbox, slow_taken_check
):
    alice = make_user("alice", "alice@example.com", verified=True)
    completed = []
    signals.email_changed.connect(receiver := lambda **kwargs: completed.append(kwargs))
    try:
        flows.request_change(alice, "new@example.com", PASSWORD, base_url="http://testserver")
        flows.confirm_change(token_in(mailoutbox[-1]), base_url="http://testserver")
        token = token_in(mailoutbox[-1])
        mailoutbox.clear()

        results = run_at_once(
            lambda: Client().post(f"/account/email/change/confirm/{token}/"),
            lambda: Client().post(f"/account/email/change/confirm/{token}/"),
        )
    finally:
        signals.email_changed.disconnect(receiver)

    assert sorted(response.status_code for _, response in results) == [302, 400]
    assert email_of(reloaded(alice)) == "new@example.com"
    assert EmailChange.objects.get().status == "completed"
    # One "verified" message to the new address, one notice to the old one.
    assert sorted(message.to[0] for message in mailoutbox) == [
        "alice@example.com",
        "new@example.com",
    ]
    assert len(completed) == 1


def test_the_same_verification_link_used_twice_at_once_verifies_once(
    make_user, mailoutbox, monkeypatch
):
    alice = make_user("alice", "alice@example.com", verified=False)
    flows.send_verification(alice, base_url="http://testserver")
    token = token_in(mailoutbox[-1])
    verified = []
    signals.email_verified.connect(receiver := lambda **kwargs: verified.append(kwargs))
    save = get_user_model().save

    def slow_save(self, *args, **kwargs):
        time.sleep(WINDOW)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(get_user_model(), "save", slow_save)
    try:
        results = run_at_once(
            lambda: flows.confirm_verification(token), lambda: flows.confirm_verification(token)
        )
    finally:
        signals.email_verified.disconnect(receiver)

    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    assert isinstance(next(v for k, v in results if k == "error"), InvalidToken)
    assert len(verified) == 1


def test_parallel_wrong_passwords_never_exceed_the_lockout_count(user, settings, monkeypatch):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 3}
    checked = []
    lock = threading.Lock()
    check_password = get_user_model().check_password

    def counted(self, raw_password):
        with lock:
            checked.append(raw_password)
        time.sleep(0.05)  # every guess in flight at once
        return check_password(self, raw_password)

    monkeypatch.setattr(get_user_model(), "check_password", counted)

    def guess(number):
        return lambda: flows.request_change(user, "new@example.com", f"guess {number}")

    results = run_at_once(*(guess(number) for number in range(10)))

    errors = [value for _, value in results]
    assert all(isinstance(error, WrongPassword | LockedOut) for error in errors), errors
    assert len(checked) <= 3
    assert sum(isinstance(error, LockedOut) for error in errors) >= 7
    # And the right password is refused too, until the lockout ends.
    with pytest.raises(LockedOut):
        flows.request_change(user, "new@example.com", PASSWORD)
