"""The "allauth" store: allauth's EmailAddress table is the record of the user's address."""

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client

from django_verified_email import flows, is_email_verified
from django_verified_email.contrib.allauth.store import AllauthStore, rows_for
from django_verified_email.exceptions import EmailTaken
from django_verified_email.models import EmailChange, keeps_own_state
from django_verified_email.stores import ProfileStore, UserStore, get_store
from django_verified_email.stores.testing import StoreContract
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    complete_dual_change,
    email_of,
    link_path,
    reloaded,
    revert_token_in,
    token_in,
    url,
)

OLD, NEW = "alice@example.com", "alice.new@example.com"


def rows(user):
    return sorted(
        EmailAddress.objects.filter(user=user).values_list("email", "primary", "verified")
    )


@pytest.fixture
def make_bare_user(make_user):
    """A user verified in the base store (mixin flag or profile row), with no allauth rows."""

    def make(**kwargs):
        user = make_user(**kwargs)
        # With the profile store, make_user marks it verified through the store.
        EmailAddress.objects.filter(user=user).delete()
        return user

    return make


@pytest.fixture
def alice(make_bare_user):
    """An account whose address allauth verified, and only allauth: the mixin's flag is off."""
    user = make_bare_user(verified=False)
    EmailAddress.objects.create(user=user, email=OLD, primary=True, verified=True)
    return user


def test_the_bridge_makes_allauths_table_the_store_over_the_users_own():
    store = get_store()
    assert isinstance(store, AllauthStore)
    assert store.name == "allauth"
    # The counter and session epoch stay where the user model alone keeps them.
    base = UserStore if keeps_own_state(get_user_model()) else ProfileStore
    assert isinstance(store.base, base)
    assert store.epoch_in_session_hash is store.base.epoch_in_session_hash


class TestAllauthStore(StoreContract):
    @pytest.fixture
    def store(self):
        return get_store()

    @pytest.fixture
    def make_user(self, db):
        def make(username, address):
            user = get_user_model().objects.create_user(
                username=username, password=PASSWORD, email_address=address
            )
            # What allauth's sign-up writes: the address, primary, unverified.
            EmailAddress.objects.create(user=user, email=address, primary=True, verified=False)
            return user

        return make


# Verified state ----------------------------------------------------------------------------


#: allauth rows that disagree with the user's address: each reads as unverified.
BAD_ROWS = [
    pytest.param(lambda user: None, id="no-row"),
    pytest.param(
        lambda user: EmailAddress.objects.create(
            user=user, email=OLD, primary=False, verified=True
        ),
        id="no-primary",
    ),
    pytest.param(
        lambda user: EmailAddress.objects.create(
            user=user, email=OLD, primary=True, verified=False
        ),
        id="unverified-primary",
    ),
    pytest.param(
        lambda user: EmailAddress.objects.create(
            user=user, email="elsewhere@example.com", primary=True, verified=True
        ),
        id="primary-for-another-address",
    ),
]


def test_an_address_allauth_verified_counts_as_verified(alice):
    assert is_email_verified(alice)


@pytest.mark.parametrize("arrange", BAD_ROWS)
def test_rows_that_disagree_with_the_user_read_as_unverified(make_bare_user, arrange):
    # The base store says verified: allauth's table decides.
    user = make_bare_user(verified=True)
    arrange(user)

    assert not is_email_verified(reloaded(user))


def test_a_change_from_an_address_allauth_verified_is_dual_link(alice, mailoutbox):
    flows.request_change(alice, NEW, PASSWORD, base_url=BASE_URL)

    # The old address approves first.
    [to_old] = mailoutbox
    assert to_old.to == [OLD]
    assert EmailChange.objects.get(user=alice).status == EmailChange.Status.AWAITING_OLD


def test_a_completed_change_leaves_exactly_the_new_address(alice, mailoutbox):
    EmailAddress.objects.create(user=alice, email="alice.work@example.com", verified=True)

    complete_dual_change(alice, NEW, mailoutbox)

    assert rows(alice) == [(NEW, True, True)]
    assert email_of(reloaded(alice)) == NEW
    assert is_email_verified(reloaded(alice))


def test_after_a_change_the_old_address_no_longer_signs_in(alice, mailoutbox):
    complete_dual_change(alice, NEW, mailoutbox)

    old = Client().post("/accounts/login/", {"login": OLD, "password": PASSWORD})
    new = Client().post("/accounts/login/", {"login": NEW, "password": PASSWORD})

    assert old.status_code == 200  # the form again, with its error
    assert "_auth_user_id" not in old.wsgi_request.session
    assert new.status_code == 302
    assert new.wsgi_request.session["_auth_user_id"] == str(alice.pk)


def reset_links_to(mailoutbox, address):
    return [m for m in mailoutbox if address in m.to and "/accounts/password/reset/key/" in m.body]


def test_after_a_change_the_old_address_gets_no_password_reset(alice, mailoutbox):
    complete_dual_change(alice, NEW, mailoutbox)
    mailoutbox.clear()

    Client().post("/accounts/password/reset/", {"email": OLD})
    Client().post("/accounts/password/reset/", {"email": NEW})

    assert reset_links_to(mailoutbox, OLD) == []
    assert len(reset_links_to(mailoutbox, NEW)) == 1


def test_a_revert_restores_the_old_address_and_removes_the_new_one(alice, mailoutbox):
    notice = complete_dual_change(alice, NEW, mailoutbox)

    flows.revert_change(revert_token_in(notice), password=PASSWORD, base_url=BASE_URL)

    assert rows(alice) == [(OLD, True, True)]
    assert email_of(reloaded(alice)) == OLD
    assert is_email_verified(reloaded(alice))


# Taken addresses ---------------------------------------------------------------------------


def test_another_accounts_verified_secondary_address_is_taken(alice, make_bare_user, settings):
    settings.VERIFIED_EMAIL = {"REVEAL_TAKEN_EMAIL": True}
    bob = make_bare_user(username="bob", email="bob@example.com")
    EmailAddress.objects.create(user=bob, email="bob.work@example.com", verified=True)

    with pytest.raises(EmailTaken):
        flows.request_change(alice, "BOB.WORK@example.com", PASSWORD, base_url=BASE_URL)

    assert not EmailChange.objects.exists()


def test_another_accounts_verified_row_stops_a_completion(alice, make_bare_user, mailoutbox):
    # Proved by bob after alice asked: her new-address link then fails cleanly.
    flows.request_change(alice, "bob.work@example.com", PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    bob = make_bare_user(username="bob", email="bob@example.com")
    EmailAddress.objects.create(user=bob, email="bob.work@example.com", verified=True)

    with pytest.raises(EmailTaken):
        flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)

    assert rows(alice) == [(OLD, True, True)]
    assert rows(bob) == [("bob.work@example.com", False, True)]


def test_another_accounts_unverified_row_is_released(alice, make_bare_user, mailoutbox):
    bob = make_bare_user(username="bob", email="bob@example.com")
    EmailAddress.objects.create(user=bob, email=NEW, verified=False)

    complete_dual_change(alice, NEW, mailoutbox)

    assert rows(alice) == [(NEW, True, True)]
    assert rows(bob) == []
    assert email_of(reloaded(bob)) == "bob@example.com"


def test_the_holders_lookup_uses_allauths_email_index(alice, make_bare_user):
    other = make_bare_user(username="bob", email="bob@example.com")
    with connection.cursor() as cursor:
        # Too few rows for the planner to choose an index on its own.
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = rows_for("ALICE@EXAMPLE.COM").exclude(user_id=other.pk).explain()

    assert "Index" in plan
    assert [(h.pk, h.verified) for h in get_store().holders(other, "ALICE@EXAMPLE.COM")] == [
        (alice.pk, True)
    ]


# Bad rows through the pages ----------------------------------------------------------------


@pytest.mark.parametrize("arrange", BAD_ROWS)
def test_a_change_from_rows_that_disagree_is_single_link_and_puts_them_right(
    make_bare_user, arrange, mailoutbox
):
    user = make_bare_user(verified=True)
    arrange(user)
    client = Client()
    client.force_login(user)

    asked = client.post(url("change"), {"new_email": NEW, "password": PASSWORD})
    [to_new] = mailoutbox
    done = client.post(link_path(to_new))

    assert asked.status_code in (200, 302) and done.status_code in (200, 302)
    assert to_new.to == [NEW]  # unverified: the new address alone proves it
    assert rows(user) == [(NEW, True, True)]


def test_a_verification_link_writes_the_primary_row(make_bare_user, mailoutbox):
    user = make_bare_user(verified=False)
    EmailAddress.objects.create(user=user, email="old.secondary@example.com", primary=True)
    client = Client()
    client.force_login(user)
    client.post(url("verify-send"))

    response = client.post(link_path(mailoutbox[-1]))

    assert response.status_code in (200, 302)
    assert rows(user) == [(OLD, True, True), ("old.secondary@example.com", False, False)]
    assert is_email_verified(reloaded(user))


# The audit ---------------------------------------------------------------------------------


def test_the_audit_fix_puts_disagreeing_rows_right(make_bare_user):
    no_row = make_bare_user(username="a", email="a@example.com")
    no_primary = make_bare_user(username="b", email="b@example.com")
    EmailAddress.objects.create(user=no_primary, email="b@example.com", verified=True)
    elsewhere = make_bare_user(username="c", email="c@example.com")
    EmailAddress.objects.create(user=elsewhere, email="c@example.com", verified=False)
    EmailAddress.objects.create(user=elsewhere, email="c.old@example.com", primary=True)
    fine = make_bare_user(username="d", email="d@example.com")
    EmailAddress.objects.create(user=fine, email="d@example.com", primary=True, verified=True)

    call_command("verified_email_audit_addresses", "--fix", stdout=StringIO())

    assert rows(no_row) == [("a@example.com", True, False)]
    # The verified state of the user's own address is kept.
    assert rows(no_primary) == [("b@example.com", True, True)]
    assert is_email_verified(reloaded(no_primary))
    assert rows(elsewhere) == [("c.old@example.com", False, False), ("c@example.com", True, False)]
    assert not is_email_verified(reloaded(elsewhere))
    # The base store follows allauth's table: make_user marked it verified.
    assert get_store().base.is_verified(reloaded(elsewhere)) is False
    assert rows(fine) == [("d@example.com", True, True)]


def test_the_allauth_store_has_every_method_of_the_interface():
    from django_verified_email.contrib.allauth.store import AllauthStore
    from tests.test_stores import assert_implements_the_interface

    assert_implements_the_interface(AllauthStore)


def test_another_accounts_verified_secondary_row_holds_the_address_for_the_adoption(
    alice, make_bare_user
):
    # verified_email_trust_existing asks verified_holders before it trusts an
    # address: a secondary row allauth verified (no UNIQUE_EMAIL) is a holder.
    bob = make_bare_user(username="bob", email="bob@example.com", verified=False)
    EmailAddress.objects.create(user=bob, email="shared@example.com", primary=False, verified=True)

    held = get_store().verified_holders(["SHARED@example.com", OLD])

    assert {address: set(pks) for address, pks in held.items()} == {
        "shared@example.com": {bob.pk},
        OLD: {alice.pk},
    }
