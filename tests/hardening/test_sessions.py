"""Sessions after a completed change: a new key here, and optionally nowhere else."""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from django_verified_email import flows

from ..conftest import PASSWORD, client_for, email_of, reloaded
from .support import BASE_URL, revert_path, revert_token_of, token_of

SESSION_ENGINES = [
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cache",
]


def complete_change_in(client, user, mailoutbox):
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_of(mailoutbox[-1]), base_url=BASE_URL)
    response = client.post(f"/account/email/change/confirm/{token_of(mailoutbox[-1])}/")
    assert response.status_code == 302
    assert email_of(reloaded(user)) == "new@example.com"


def session_key(client):
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def is_logged_in(client):
    return client.get(reverse("verified_email:status")).status_code == 200


@pytest.mark.parametrize("engine", SESSION_ENGINES)
def test_completing_a_change_cycles_the_session_key_and_keeps_the_user_in(
    engine, settings, user, mailoutbox
):
    settings.SESSION_ENGINE = engine
    client = client_for(user)
    before = session_key(client)

    complete_change_in(client, user, mailoutbox)

    assert session_key(client) != before
    assert is_logged_in(client)


def test_an_anonymous_session_that_completes_a_change_gets_a_new_key(user, mailoutbox):
    browser = Client()
    session = browser.session  # the test client stores it and sets the cookie
    session["seen"] = True
    session.save()
    before = session_key(browser)

    complete_change_in(browser, user, mailoutbox)

    assert session_key(browser) != before


@pytest.mark.parametrize("engine", SESSION_ENGINES)
def test_other_sessions_stay_by_default(engine, settings, user, mailoutbox):
    settings.SESSION_ENGINE = engine
    here, elsewhere = client_for(user), client_for(user)

    complete_change_in(here, user, mailoutbox)

    assert is_logged_in(here)
    assert is_logged_in(elsewhere)


@pytest.mark.parametrize("engine", SESSION_ENGINES)
def test_logout_other_sessions_ends_every_other_session(engine, settings, user, mailoutbox):
    settings.SESSION_ENGINE = engine
    settings.VERIFIED_EMAIL = {"LOGOUT_OTHER_SESSIONS": True, "RESEND_COOLDOWN": 0}
    here, elsewhere = client_for(user), client_for(user)
    assert is_logged_in(elsewhere)

    complete_change_in(here, user, mailoutbox)

    assert is_logged_in(here)
    assert not is_logged_in(elsewhere)


def test_logout_other_sessions_also_ends_them_on_a_revert(settings, user, mailoutbox):
    settings.VERIFIED_EMAIL = {"LOGOUT_OTHER_SESSIONS": True, "RESEND_COOLDOWN": 0}
    intruder = client_for(user)
    complete_change_in(intruder, user, mailoutbox)
    assert is_logged_in(intruder)
    [notice] = [m for m in mailoutbox if m.to == ["alice@example.com"] and "/revert/" in m.body]

    assert Client().post(revert_path(revert_token_of(notice))).status_code == 200

    assert not is_logged_in(intruder)
