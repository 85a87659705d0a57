"""The allauth bridge in a host project with allauth: checks, guards, signals, enumeration."""

import pytest
from allauth.account import signals as allauth_signals
from allauth.account.models import EmailAddress
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client, override_settings

from django_verified_email import flows
from django_verified_email.checks import check_allauth_bridge
from django_verified_email.conf import app_settings
from django_verified_email.contrib.allauth import checks as bridge_checks
from django_verified_email.contrib.allauth.middleware import CHANGE_REQUIRED
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    complete_dual_change,
    email_of,
    link_path,
    reloaded,
    revert_token_in,
    url,
)

GUARD = "django_verified_email.contrib.allauth.middleware.AllauthGuardMiddleware"
BRIDGE = "django_verified_email.contrib.allauth"
EMAIL_PAGE = "/accounts/email/"
HEADLESS_EMAIL = "/_allauth/{client}/v1/account/email"


@pytest.fixture
def alice(make_user):
    user = make_user()
    # With the profile store, make_user already wrote it through the "allauth" store.
    EmailAddress.objects.update_or_create(
        user=user, email=user.email_address, defaults={"primary": True, "verified": True}
    )
    return user


@pytest.fixture
def with_secondary(alice):
    return EmailAddress.objects.create(
        user=alice, email="alice.work@example.com", primary=False, verified=True
    )


def rows(user):
    return sorted(
        EmailAddress.objects.filter(user=user).values_list("email", "primary", "verified")
    )


@pytest.fixture
def heard():
    """allauth's email_confirmed and email_changed as a receiver gets them."""
    events = []

    def confirmed(sender, **kwargs):
        events.append(("email_confirmed", sender, kwargs))

    def changed(sender, **kwargs):
        events.append(("email_changed", sender, kwargs))

    allauth_signals.email_confirmed.connect(confirmed)
    allauth_signals.email_changed.connect(changed)
    yield events
    allauth_signals.email_confirmed.disconnect(confirmed)
    allauth_signals.email_changed.disconnect(changed)


# Checks --------------------------------------------------------------------------------


def test_the_bridge_installed_with_its_middleware_passes_the_checks(db):
    call_command("check", fail_level="WARNING")


def test_w008_warns_when_allauth_is_installed_without_the_bridge(settings):
    without = [app for app in settings.INSTALLED_APPS if app != BRIDGE]
    with override_settings(INSTALLED_APPS=without):
        [warning] = check_allauth_bridge()
    assert warning.id == "verified_email.W008"
    assert BRIDGE in warning.hint


def test_w008_is_silent_with_the_bridge():
    assert check_allauth_bridge() == []


def test_the_bridge_without_its_middleware_is_an_error(settings):
    settings.MIDDLEWARE = [entry for entry in settings.MIDDLEWARE if entry != GUARD]
    [error] = bridge_checks.check_guard_middleware()
    assert error.id == "verified_email_allauth.E002"
    assert GUARD in error.hint


def test_the_guard_before_authentication_is_an_error(settings):
    others = [entry for entry in settings.MIDDLEWARE if entry != GUARD]
    settings.MIDDLEWARE = [GUARD, *others]
    [error] = bridge_checks.check_guard_middleware()
    assert error.id == "verified_email_allauth.E003"


def test_the_bridge_before_allauth_account_is_a_warning(settings):
    apps_list = [app for app in settings.INSTALLED_APPS if app != BRIDGE]
    at = apps_list.index("allauth.account")
    with override_settings(INSTALLED_APPS=[*apps_list[:at], BRIDGE, *apps_list[at:]]):
        [warning] = bridge_checks.check_allauth_installed()
    assert warning.id == "verified_email_allauth.W001"


# Guards: allauth's email page ------------------------------------------------------------


def test_adding_an_address_on_allauths_page_leads_to_the_change_form(client, alice):
    client.force_login(alice)

    response = client.post(EMAIL_PAGE, {"action_add": "", "email": "alice.new@example.com"})

    assert response.status_code == 302
    assert response["Location"] == url("change")
    assert rows(alice) == [("alice@example.com", True, True)]
    [message] = get_messages(response.wsgi_request)
    assert "confirms the change first" in str(message)


def test_making_another_address_primary_on_allauths_page_leads_to_the_change_form(
    client, alice, with_secondary, mailoutbox
):
    client.force_login(alice)

    response = client.post(EMAIL_PAGE, {"action_primary": "", "email": with_secondary.email})

    assert response.status_code == 302
    assert response["Location"] == url("change")
    assert rows(alice) == [
        ("alice.work@example.com", False, True),
        ("alice@example.com", True, True),
    ]
    assert email_of(reloaded(alice)) == "alice@example.com"
    assert mailoutbox == []


def test_removing_a_secondary_address_on_allauths_page_still_works(client, alice, with_secondary):
    client.force_login(alice)

    response = client.post(EMAIL_PAGE, {"action_remove": "", "email": with_secondary.email})

    assert response.status_code == 302
    assert rows(alice) == [("alice@example.com", True, True)]


def test_resending_a_verification_on_allauths_page_still_works(client, alice, mailoutbox):
    unverified = EmailAddress.objects.create(
        user=alice, email="alice.home@example.com", primary=False, verified=False
    )
    client.force_login(alice)

    response = client.post(EMAIL_PAGE, {"action_send": "", "email": unverified.email})

    assert response.status_code == 302
    [message] = mailoutbox
    assert message.to == ["alice.home@example.com"]


def test_without_the_guard_allauths_page_adds_the_address(client, alice, settings):
    # What the middleware stops: the page writes the row itself.
    settings.MIDDLEWARE = [entry for entry in settings.MIDDLEWARE if entry != GUARD]
    client.force_login(alice)

    client.post(EMAIL_PAGE, {"action_add": "", "email": "alice.new@example.com"})

    assert ("alice.new@example.com", False, False) in rows(alice)


# Guards: allauth's headless API ------------------------------------------------------------


def assert_refused(response):
    assert response.status_code == 409
    body = response.json()
    assert body["status"] == 409
    [error] = body["errors"]
    assert error["code"] == CHANGE_REQUIRED
    assert error["param"] == "email"


def test_headless_browser_add_is_refused(client, alice):
    client.force_login(alice)

    response = client.post(
        HEADLESS_EMAIL.format(client="browser"),
        {"email": "alice.new@example.com"},
        content_type="application/json",
    )

    assert_refused(response)
    assert rows(alice) == [("alice@example.com", True, True)]


def test_headless_browser_make_primary_is_refused(client, alice, with_secondary):
    client.force_login(alice)

    response = client.patch(
        HEADLESS_EMAIL.format(client="browser"),
        {"email": with_secondary.email, "primary": True},
        content_type="application/json",
    )

    assert_refused(response)
    assert ("alice@example.com", True, True) in rows(alice)


def test_headless_browser_list_and_remove_still_work(client, alice, with_secondary):
    client.force_login(alice)
    endpoint = HEADLESS_EMAIL.format(client="browser")

    listed = client.get(endpoint)
    removed = client.delete(
        endpoint, {"email": with_secondary.email}, content_type="application/json"
    )

    assert listed.status_code == 200
    assert {row["email"] for row in listed.json()["data"]} == {
        "alice@example.com",
        "alice.work@example.com",
    }
    assert removed.status_code == 200
    assert rows(alice) == [("alice@example.com", True, True)]


def test_headless_add_without_a_signed_in_user_is_left_to_allauth(db):
    # allauth's sign-up stage may correct an unverified address here; with no
    # such stage it answers the request itself.
    response = Client().post(
        HEADLESS_EMAIL.format(client="browser"),
        {"email": "someone@example.com"},
        content_type="application/json",
    )

    assert CHANGE_REQUIRED not in response.content.decode()
    assert not EmailAddress.objects.filter(email="someone@example.com").exists()


def app_session_token(alice):
    response = Client().post(
        "/_allauth/app/v1/auth/login",
        {"email": alice.email_address, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


def test_headless_app_add_and_make_primary_are_refused(alice, with_secondary):
    token = app_session_token(alice)
    app = Client(headers={"X-Session-Token": token})
    endpoint = HEADLESS_EMAIL.format(client="app")

    added = app.post(endpoint, {"email": "alice.new@example.com"}, content_type="application/json")
    made_primary = app.patch(
        endpoint, {"email": with_secondary.email, "primary": True}, content_type="application/json"
    )

    assert_refused(added)
    assert_refused(made_primary)
    assert rows(alice) == [
        ("alice.work@example.com", False, True),
        ("alice@example.com", True, True),
    ]


def test_headless_app_remove_still_works(alice, with_secondary):
    app = Client(headers={"X-Session-Token": app_session_token(alice)})

    response = app.delete(
        HEADLESS_EMAIL.format(client="app"),
        {"email": with_secondary.email},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert rows(alice) == [("alice@example.com", True, True)]


# Signals -----------------------------------------------------------------------------------


def test_a_verification_through_the_page_sends_allauths_email_confirmed(
    make_user, heard, mailoutbox
):
    user = make_user(verified=False)
    row = EmailAddress.objects.create(
        user=user, email=user.email_address, primary=True, verified=False
    )
    client = Client()
    client.force_login(user)
    client.post(url("verify-send"))

    response = client.post(link_path(mailoutbox[-1]))

    assert response.status_code in (200, 302)
    [(name, sender, kwargs)] = heard
    assert (name, sender) == ("email_confirmed", EmailAddress)
    assert kwargs["email_address"].pk == row.pk
    assert kwargs["request"].path == response.wsgi_request.path


def test_a_completed_change_sends_email_confirmed_then_email_changed(alice, heard, mailoutbox):
    complete_dual_change(alice, "alice.new@example.com", mailoutbox)

    assert [(name, sender) for name, sender, _ in heard] == [
        ("email_confirmed", EmailAddress),
        ("email_changed", EmailAddress),
    ]
    confirmed, changed = heard[0][2], heard[1][2]
    # Outside a request: no request, as allauth does for its own signals.
    assert confirmed["request"] is None
    assert changed["request"] is None
    assert changed["user"].pk == alice.pk
    # The "allauth" store wrote the new row and deleted the old one: the
    # new address is the saved row, the old one an unsaved instance.
    to_address = changed["to_email_address"]
    assert to_address.pk == EmailAddress.objects.get(user=alice).pk
    assert (to_address.email, to_address.primary, to_address.verified) == (
        "alice.new@example.com",
        True,
        True,
    )
    from_address = changed["from_email_address"]
    assert (from_address.pk, from_address.email, from_address.verified) == (
        None,
        "alice@example.com",
        True,
    )
    assert confirmed["email_address"].pk == to_address.pk


def test_a_revert_sends_email_changed_back_to_the_old_address(alice, heard, mailoutbox):
    notice = complete_dual_change(alice, "alice.new@example.com", mailoutbox)
    heard.clear()

    # With the account's password: the revert is immediate.
    flows.revert_change(revert_token_in(notice), password=PASSWORD, base_url=BASE_URL)

    [(name, _sender, kwargs)] = heard
    assert name == "email_changed"
    assert kwargs["from_email_address"].email == "alice.new@example.com"
    assert kwargs["to_email_address"].email == "alice@example.com"
    assert email_of(reloaded(alice)) == "alice@example.com"


def test_a_failing_allauth_receiver_does_not_stop_the_next_signal(alice, heard, mailoutbox):
    def broken(sender, **kwargs):
        raise RuntimeError("the host's receiver failed")

    allauth_signals.email_confirmed.connect(broken)
    try:
        complete_dual_change(alice, "alice.new@example.com", mailoutbox)
    finally:
        allauth_signals.email_confirmed.disconnect(broken)

    assert [name for name, _, _ in heard] == ["email_confirmed", "email_changed"]
    assert email_of(reloaded(alice)) == "alice.new@example.com"


# Enumeration -------------------------------------------------------------------------------


def test_allauths_enumeration_prevention_hides_taken_addresses_by_default(settings):
    settings.VERIFIED_EMAIL = {}
    assert app_settings.REVEAL_TAKEN_EMAIL is False


def test_without_allauths_enumeration_prevention_taken_addresses_are_revealed(settings):
    settings.VERIFIED_EMAIL = {}
    settings.ACCOUNT_PREVENT_ENUMERATION = False
    assert app_settings.REVEAL_TAKEN_EMAIL is True


def test_the_hosts_reveal_setting_wins(settings):
    settings.VERIFIED_EMAIL = {"REVEAL_TAKEN_EMAIL": True}
    assert app_settings.REVEAL_TAKEN_EMAIL is True


def test_without_the_bridge_the_default_stays_true(settings):
    settings.VERIFIED_EMAIL = {}
    with override_settings(
        INSTALLED_APPS=[app for app in settings.INSTALLED_APPS if app != BRIDGE]
    ):
        assert app_settings.REVEAL_TAKEN_EMAIL is True


def test_a_taken_address_looks_free_with_allauths_default(client, alice, make_user, mailoutbox):
    bob = make_user(username="bob", email="bob@example.com")
    client.force_login(alice)

    response = client.post(url("change"), {"new_email": bob.email_address, "password": PASSWORD})

    assert response.status_code in (200, 302)
    assert "email_taken" not in response.content.decode()
    [to_old] = mailoutbox
    assert to_old.to == ["alice@example.com"]
