"""Django's default ``auth.User``, no custom user model: the profile store end to end.

Run by tests/test_auth_user.py. ``auth.User.email`` has no index a host can
add, so "taken?" is answered by the profile table's unique index; the
session hash has no epoch, so the session carries it (the middleware).
"""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core import checks
from django.core.management import call_command
from django.db import transaction
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse

from django_verified_email import adoption, flows, is_email_verified, mark_email_verified
from django_verified_email.exceptions import EmailTaken
from django_verified_email.models import EmailChange, VerifiedEmailProfile
from django_verified_email.stores import get_store
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    REVERT_PAGE,
    client_for,
    link_in,
    links_in,
    no_cooldown,
    path_of,
    reloaded,
    security_counter,
)

pytestmark = pytest.mark.django_db

NEW = "alice.new@example.com"


@pytest.fixture
def make_user(db):
    def make(username="alice", email="alice@example.com", verified=True):
        user = User.objects.create_user(username, email, PASSWORD)
        if verified:
            mark_email_verified(user)
        return User.objects.get(pk=user.pk)

    return make


@pytest.fixture
def alice(make_user):
    return make_user()


def is_logged_in(client):
    return client.get(reverse("verified_email:status")).status_code == 200


def dual_link_change(client, mailoutbox, new_email=NEW):
    response = client.post(
        reverse("verified_email:change"), {"new_email": new_email, "password": PASSWORD}
    )
    assert response.status_code == 302, response
    assert client.post(path_of(link_in(mailoutbox[-1]))).status_code == 200
    assert client.post(path_of(link_in(mailoutbox[-1]))).status_code == 302


def test_the_store_is_picked_from_the_user_model_and_check_is_quiet():
    assert get_store().name == "profile"
    ids = {message.id for message in checks.run_checks() if message.id.startswith("verified")}
    # W003 is the locmem cache of the test settings; no E001, W002, W006, W013.
    assert ids <= {"verified_email.W003"}, ids


def test_the_dual_link_flow_works_on_auth_user(alice, mailoutbox, settings):
    no_cooldown(settings)
    dual_link_change(client_for(alice), mailoutbox)

    stored = reloaded(alice)
    assert stored.email == NEW
    assert is_email_verified(stored)
    assert VerifiedEmailProfile.objects.get(user=alice).verified_address == NEW


def test_an_old_user_without_a_row_gets_one_on_first_use(make_user, mailoutbox, settings):
    no_cooldown(settings)
    bob = User.objects.create_user("bob", "bob@example.com", PASSWORD)
    assert not VerifiedEmailProfile.objects.filter(user=bob).exists()
    client = client_for(bob)

    assert client.get(reverse("verified_email:status")).status_code == 200
    assert client.post(reverse("verified_email:verify-send")).status_code == 302
    assert client.post(path_of(link_in(mailoutbox[-1]))).status_code == 302

    assert is_email_verified(reloaded(bob))


def test_a_verified_row_makes_the_address_taken(alice, make_user, settings):
    no_cooldown(settings)
    bob = make_user("bob", "bob@example.com")
    with pytest.raises(EmailTaken):
        flows.request_change(bob, "ALICE@example.com", PASSWORD, base_url=BASE_URL)


def test_an_address_saved_outside_the_app_is_not_verified(alice):
    before = security_counter(alice)
    alice.email = "typed@example.com"
    alice.save()

    stored = reloaded(alice)
    assert not is_email_verified(stored)
    assert security_counter(stored) > before
    # Saving it again as it is changes nothing.
    stored.first_name = "Alice"
    stored.save()
    assert security_counter(reloaded(alice)) == security_counter(stored)


def test_a_save_of_the_same_address_keeps_it_verified(alice):
    alice.email = "Alice@EXAMPLE.com"
    alice.save()
    assert is_email_verified(reloaded(alice))


def test_an_update_outside_the_app_reads_unverified_and_the_audit_fixes_it(alice):
    User.objects.filter(pk=alice.pk).update(email="elsewhere@example.com")
    assert not is_email_verified(reloaded(alice))

    out = StringIO()
    call_command("verified_email_audit_addresses", stdout=out)
    assert "Verified for an address they no longer have (1; to clear with --fix)" in out.getvalue()
    assert VerifiedEmailProfile.objects.get(user=alice).verified_address is not None

    call_command("verified_email_audit_addresses", "--fix", stdout=StringIO())
    assert VerifiedEmailProfile.objects.get(user=alice).verified_address is None


def test_sync_profiles_creates_the_missing_rows_in_batches(db):
    for i in range(5):
        User.objects.create_user(f"u{i}", f"u{i}@example.com", PASSWORD)
    out = StringIO()

    call_command("verified_email_sync_profiles", "--batch-size", "2", stdout=out)

    assert "Created 5 row(s)." in out.getvalue()
    assert VerifiedEmailProfile.objects.count() == 5
    assert not any(is_email_verified(user) for user in User.objects.all())


def test_trust_existing_marks_addresses_on_auth_user(db):
    users = [User.objects.create_user(f"u{i}", f"u{i}@example.com", PASSWORD) for i in range(3)]
    call_command("verified_email_trust_existing", stdout=StringIO())
    assert all(is_email_verified(reloaded(user)) for user in users)


def test_a_completion_under_logout_other_sessions_ends_the_other_sessions(
    alice, mailoutbox, settings
):
    no_cooldown(settings, LOGOUT_OTHER_SESSIONS=True)
    elsewhere, changing = client_for(alice), client_for(alice)

    dual_link_change(changing, mailoutbox)

    assert is_logged_in(changing)
    assert not is_logged_in(elsewhere)


def test_without_the_middleware_nothing_else_ends_them(alice, mailoutbox, settings):
    # What the middleware is for (check W013 says so): auth.User's session
    # hash does not move with the epoch.
    no_cooldown(settings, LOGOUT_OTHER_SESSIONS=True)
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "SessionEpoch" not in m]
    elsewhere, changing = client_for(alice), client_for(alice)

    dual_link_change(changing, mailoutbox)

    assert is_logged_in(elsewhere)


def test_a_completion_keeps_the_other_sessions_when_asked_to(alice, mailoutbox, settings):
    no_cooldown(settings, LOGOUT_OTHER_SESSIONS=False)
    elsewhere, changing = client_for(alice), client_for(alice)

    dual_link_change(changing, mailoutbox)

    assert is_logged_in(changing)
    assert is_logged_in(elsewhere)


def test_a_revert_logs_every_session_out(alice, mailoutbox, settings):
    no_cooldown(settings)
    owner, taker = client_for(alice), client_for(alice)
    dual_link_change(taker, mailoutbox)
    [revert_mail] = [
        m for m in mailoutbox if m.to == ["alice@example.com"] and links_in(m, REVERT_PAGE)
    ]
    revert = path_of(link_in(revert_mail, pages=REVERT_PAGE))

    # With a password the account had: an immediate revert.
    assert Client().post(revert, {"password": PASSWORD}).status_code in (200, 302)

    assert EmailChange.objects.get().reverted_at is not None
    assert reloaded(alice).email == "alice@example.com"
    assert not is_logged_in(owner)
    assert not is_logged_in(taker)


def test_deleting_a_user_deletes_its_row(alice):
    alice.delete()
    assert not VerifiedEmailProfile.objects.exists()


def test_the_audit_fix_leaves_a_user_who_proved_the_new_address_meanwhile(alice):
    User.objects.filter(pk=alice.pk).update(email="elsewhere@example.com")
    drift = adoption.drifted()
    assert [pk for pk, _ in drift] == [alice.pk]
    # While the audit scans a large table, alice proves her new address.
    mark_email_verified(reloaded(alice))

    adoption.fix_drift([pk for pk, _ in drift])

    # Before: cleared by pk, her fresh proof with it.
    assert is_email_verified(reloaded(alice))


def test_trust_existing_skips_an_address_a_stale_row_still_holds(alice, make_user):
    # Alice's address written past the app: her row still holds the old one.
    User.objects.filter(pk=alice.pk).update(email="elsewhere@example.com")
    bob = make_user("bob", "ALICE@example.com", verified=False)
    carol = make_user("carol", "carol@example.com", verified=False)

    # Before: bob's row hit the unique index and the whole command failed.
    call_command("verified_email_trust_existing", stdout=StringIO())

    assert not is_email_verified(reloaded(bob))
    assert is_email_verified(reloaded(carol))
    assert VerifiedEmailProfile.objects.get(user=alice).verified_address == "alice@example.com"


def test_the_middleware_before_authentication_is_reported(settings):
    epoch = "django_verified_email.middleware.SessionEpochMiddleware"
    others = [m for m in settings.MIDDLEWARE if m != epoch]
    auth = others.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    settings.MIDDLEWARE = [*others[:auth], epoch, *others[auth:]]

    ids = {message.id for message in checks.run_checks() if message.id.startswith("verified")}

    # Before: quiet, and AuthenticationMiddleware replaced its request.user,
    # so no session ever ended.
    assert "verified_email.W013" in ids


def test_a_profile_row_is_not_deleted_without_its_user(alice, mailoutbox, settings):
    no_cooldown(settings, LOGOUT_OTHER_SESSIONS=True)
    elsewhere, changing = client_for(alice), client_for(alice)
    dual_link_change(changing, mailoutbox)

    # Before: deleted, and the counter with it; the new row started at 0 and
    # the session the change had ended was logged in again.
    with pytest.raises(ProtectedError), transaction.atomic():
        VerifiedEmailProfile.objects.filter(user=alice).delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        VerifiedEmailProfile.objects.get(user=alice).delete()

    assert not is_logged_in(elsewhere)
    alice.delete()
    assert not VerifiedEmailProfile.objects.exists()
