"""Every pair of change endpoints, fired at once through the HTML front end.

Whatever the interleaving, each request answers one of the contract's codes
(a redirect, a page with a ``data-code``), never a 500, and the account ends
in a state the flows could have reached one step at a time: at most one
pending change, no address held twice, statuses that agree with each other.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.test import Client

from django_verified_email import flows, is_email_verified
from django_verified_email.models import EmailChange
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    REVERT_PAGE,
    client_for,
    email_of,
    links_in,
    no_cooldown,
    reloaded,
    revert_token_in,
    run_at_once,
    token_in,
)

pytestmark = pytest.mark.concurrency

ROUNDS = 3


def post_change(user, address):
    return lambda: client_for(user).post(
        "/account/email/change/", {"new_email": address, "password": PASSWORD}
    )


def post_link(token):
    return lambda: Client().post(f"/account/email/change/confirm/{token}/")


def post(user, path):
    return lambda: client_for(user).post(path)


def assert_consistent(results):
    for kind, response in results:
        assert kind == "ok", response
        assert response.status_code < 500, response.content[:500]
    pending = (
        EmailChange.objects.pending().values("user_id").annotate(n=Count("pk")).filter(n__gt=1)
    )
    assert not pending.exists()
    addresses = [email_of(user).lower() for user in get_user_model()._default_manager.all()]
    assert len(addresses) == len(set(addresses))
    for change in EmailChange.objects.all():
        assert (change.closed_at is None) == change.is_pending, change
        if change.status == "completed" and change.reverted_at is None:
            assert is_email_verified(change.user)


@pytest.fixture
def alice(make_user, settings):
    no_cooldown(settings)
    return make_user("alice", "alice@example.com", verified=True)


def old_step_token(alice, mailoutbox, address="new@example.com"):
    flows.request_change(alice, address, PASSWORD, base_url=BASE_URL)
    return token_in(mailoutbox[-1])


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_change_requests_at_once(alice, round_):
    results = run_at_once(
        post_change(alice, "one@example.com"), post_change(alice, "two@example.com")
    )

    assert_consistent(results)
    assert sorted(r.status_code for _, r in results) == [302, 302]
    assert EmailChange.objects.pending().count() == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_request_and_a_cancel_at_once(alice, mailoutbox, round_):
    old_step_token(alice, mailoutbox)

    results = run_at_once(
        post_change(alice, "two@example.com"), post(alice, "/account/email/change/cancel/")
    )

    assert_consistent(results)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_confirm_and_a_resend_at_once(alice, mailoutbox, round_):
    token = old_step_token(alice, mailoutbox)

    results = run_at_once(post_link(token), post(alice, "/account/email/change/resend/"))

    assert_consistent(results)
    assert EmailChange.objects.pending().count() == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_confirm_of_the_old_address_and_a_new_request_at_once(alice, mailoutbox, round_):
    # Confirming stores the new address's code (its key takes the user's row)
    # while the request holds that row and wants the change to supersede it.
    token = old_step_token(alice, mailoutbox)

    results = run_at_once(post_link(token), post_change(alice, "two@example.com"))

    assert_consistent(results)
    assert EmailChange.objects.pending().count() == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_confirm_and_a_cancel_at_once(alice, mailoutbox, round_):
    token = old_step_token(alice, mailoutbox)
    flows.confirm_change(token, base_url=BASE_URL)
    new_token = token_in(mailoutbox[-1])

    results = run_at_once(post_link(new_token), post(alice, "/account/email/change/cancel/"))

    assert_consistent(results)
    change = EmailChange.objects.get()
    assert change.status in ("completed", "cancelled")
    expected = "new@example.com" if change.status == "completed" else "alice@example.com"
    assert email_of(reloaded(alice)) == expected


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_revert_and_a_new_request_at_once(alice, mailoutbox, round_):
    flows.confirm_change(old_step_token(alice, mailoutbox), base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    notice = next(m for m in mailoutbox if links_in(m, REVERT_PAGE))
    revert = revert_token_in(notice)
    alice = reloaded(alice)

    results = run_at_once(
        lambda: Client().post(f"/account/email/change/revert/{revert}/", {"password": PASSWORD}),
        post_change(alice, "third@example.com"),
    )

    assert_consistent(results)
    reverted = EmailChange.objects.filter(reverted_at__isnull=False).exists()
    assert reverted
    # A revert locks changes: a request that slipped in before it is
    # cancelled by it, one after it is refused. None stays pending.
    assert not EmailChange.objects.pending().exists()
    assert email_of(reloaded(alice)) == "alice@example.com"
