"""Inactive or hidden users' links are refused; deleting a user deletes its changes."""

from unittest import mock

import pytest
from django.test import Client

from django_verified_email import flows, is_email_verified
from django_verified_email.exceptions import InvalidToken
from django_verified_email.models import EmailChange
from tests.helpers import BASE_URL, PASSWORD, email_of, reloaded, serving, token_in
from tests.testapp.models import UserManager

pytestmark = pytest.mark.hardening


def deactivate(user):
    user = reloaded(user)
    user.is_active = False
    user.save()


@pytest.mark.parametrize("step", ["old", "new"])
def test_an_inactive_users_change_links_are_refused(step, user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    if step == "new":
        flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    token = token_in(mailoutbox[-1])
    deactivate(user)

    assert Client().get(f"/account/email/change/confirm/{token}/").status_code == 400
    assert Client().post(f"/account/email/change/confirm/{token}/").status_code == 400
    with pytest.raises(InvalidToken):
        flows.confirm_change(token)
    assert email_of(reloaded(user)) == "alice@example.com"


def test_an_inactive_users_verification_link_is_refused(make_user, mailoutbox):
    user = make_user(verified=False)
    flows.send_verification(user, base_url=BASE_URL)
    token = token_in(mailoutbox[-1])
    deactivate(user)

    assert Client().post(f"/account/email/verify/{token}/").status_code == 400
    assert not is_email_verified(reloaded(user))


def test_deleting_a_user_deletes_its_changes(make_user, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user("alice", "alice@example.com")
    bob = make_user("bob", "bob@example.com")
    flows.request_change(alice, "a1@example.com", PASSWORD, base_url=BASE_URL)
    flows.request_change(alice, "a2@example.com", PASSWORD, base_url=BASE_URL)
    flows.request_change(bob, "b1@example.com", PASSWORD, base_url=BASE_URL)

    alice.delete()

    assert list(EmailChange.objects.values_list("user_id", flat=True)) == [bob.pk]


def test_an_account_the_default_manager_hides_cannot_use_its_links(user, mailoutbox):
    # A soft-deleted (or other tenant's) account, as the host's default
    # manager sees it: its links stop working, as its locks cannot be taken.
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    shown = UserManager.get_queryset

    def hiding(manager):
        return shown(manager).exclude(pk=user.pk)

    with mock.patch.object(UserManager, "get_queryset", hiding), pytest.raises(InvalidToken):
        flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)

    assert email_of(reloaded(user)) == "alice@example.com"


@pytest.mark.parametrize("step", ["old", "new"])
def test_a_change_link_works_only_for_the_tenant_of_its_account(
    step, make_user, tenant_users, mailoutbox, settings
):
    # A host's queryset that shows one tenant's users at a time: a link
    # opened for another tenant finds no account, on every read of it.
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user("acme-alice", "alice@example.com")
    with serving("acme"):
        flows.request_change(alice, "new@example.com", PASSWORD, base_url=BASE_URL)
        if step == "new":
            flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    token = token_in(mailoutbox[-1])

    with serving("globex"):
        assert Client().get(f"/account/email/change/confirm/{token}/").status_code == 400
        with pytest.raises(InvalidToken):
            flows.confirm_change(token, base_url=BASE_URL)
    with serving("acme"):
        assert Client().get(f"/account/email/change/confirm/{token}/").status_code == 200
        flows.confirm_change(token, base_url=BASE_URL)

    expected = "new@example.com" if step == "new" else "alice@example.com"
    assert email_of(reloaded(alice)) == expected
