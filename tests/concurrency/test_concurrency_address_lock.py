"""One address, two accounts: the address lock, with no unique rule to fall back on.

MariaDB has no expression index, so the test user model's case-insensitive
unique constraint is not there; on PostgreSQL the tests drop it. Each race
holds the verification's "mark verified" a moment while it has the user's
row locked, so a racer that decided "not taken" before that commit would
act on a stale answer. Without ``models.lock_address`` (and the check under
it) both accounts end verified with one address.
"""

import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, models

from django_verified_email import flows, is_email_verified
from django_verified_email.exceptions import EmailTaken, VerifiedEmailError
from django_verified_email.stores import get_store
from tests.helpers import PASSWORD, email_of, reloaded, run_at_once, token_in

pytestmark = pytest.mark.concurrency

SHARED = "shared@example.com"
BASE_URL = "http://testserver"
WINDOW = 0.5


@pytest.fixture
def no_unique_rule():
    """The test user model without its unique address rules, as with no quickstart recipe."""
    model = get_user_model()
    rules = [rule for rule in model._meta.constraints if isinstance(rule, models.UniqueConstraint)]
    features = connection.features
    # The rules this database built: MariaDB builds no expression or partial
    # index, but the generated column's unique constraint is there.
    dropped = [
        rule
        for rule in rules
        if (not rule.expressions or features.supports_expression_indexes)
        and (rule.condition is None or features.supports_partial_indexes)
    ]
    with connection.schema_editor() as editor:
        for rule in dropped:
            editor.remove_constraint(model, rule)
    yield
    # The rows that share an address go before the rule comes back.
    model._default_manager.all().delete()
    with connection.schema_editor() as editor:
        for rule in dropped:
            editor.add_constraint(model, rule)


@pytest.fixture
def slow_mark_verified(monkeypatch):
    """Hold every verification a moment, its user's row locked, before it marks."""
    store = type(get_store())
    mark = store.mark_verified

    def slow(self, user, when):
        time.sleep(WINDOW)
        return mark(self, user, when)

    monkeypatch.setattr(store, "mark_verified", slow)


def verification_token(user, mailoutbox):
    flows.send_verification(user, base_url=BASE_URL)
    return token_in(mailoutbox[-1])


def verified_holders(address):
    users = get_user_model()._default_manager.all()
    return sorted(
        user.username
        for user in users
        if email_of(user).lower() == address.lower() and is_email_verified(user)
    )


def later(call, seconds=0.1):
    def run():
        time.sleep(seconds)
        return call()

    return run


def test_a_verification_racing_a_change_to_its_address_leaves_one_holder(
    no_unique_rule, slow_mark_verified, make_user, mailoutbox, settings
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user("alice", SHARED, verified=False)
    bob = make_user("bob", "bob@example.com", verified=True)
    flows.request_change(bob, SHARED, PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1], to="bob@example.com"), base_url=BASE_URL)
    bob_token = token_in(mailoutbox[-1], to=SHARED)
    alice_token = verification_token(alice, mailoutbox)

    # Alice's verification locks her row first (a head start); Bob's
    # completion finds her an unverified holder, and waits for her row to
    # release the address. A loaded machine may still let Bob in first: then
    # Alice is the one refused. Either way one account holds the address.
    results = run_at_once(
        lambda: flows.confirm_verification(alice_token),
        later(lambda: flows.confirm_change(bob_token, base_url=BASE_URL)),
    )

    [holder] = verified_holders(SHARED)
    if holder == "alice":
        assert results[0][0] == "ok", results
        kind, error = results[1]
        assert kind == "error" and isinstance(error, EmailTaken), results
        assert email_of(reloaded(bob)) == "bob@example.com"
    else:  # Bob first: Alice, an unproven holder, was released, and refused
        assert results[1][0] == "ok", results
        kind, error = results[0]
        assert kind == "error" and isinstance(error, VerifiedEmailError), results


def test_two_accounts_verifying_one_address_at_once_leave_one_holder(
    no_unique_rule, slow_mark_verified, make_user, mailoutbox, settings
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user("alice", SHARED, verified=False)
    carol = make_user("carol", SHARED.upper(), verified=False)
    alice_token = verification_token(alice, mailoutbox)
    carol_token = verification_token(carol, mailoutbox)

    results = run_at_once(
        lambda: flows.confirm_verification(alice_token),
        lambda: flows.confirm_verification(carol_token),
    )

    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    [error] = [value for kind, value in results if kind == "error"]
    assert isinstance(error, EmailTaken)
    assert len(verified_holders(SHARED)) == 1
