"""Sessions after a completed change: a new key here, and optionally nowhere else."""

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection, models
from django.db.models.signals import post_delete
from django.test import Client, RequestFactory
from django.urls import reverse

from django_verified_email import flows, sessions
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    REVERT_PAGE,
    client_for,
    email_of,
    later,
    link_path,
    links_in,
    move_counter,
    reloaded,
    request_change,
    revert_path,
    revert_token_in,
    token_in,
)

pytestmark = pytest.mark.hardening

SESSION_ENGINES = [
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.cached_db",
]


def complete_change_in(client, user, mailoutbox):
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    response = client.post(f"/account/email/change/confirm/{token_in(mailoutbox[-1])}/")
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


def test_a_session_ended_before_the_completion_stays_ended_when_it_completes(user, mailoutbox):
    # Ended by an earlier move of the epoch (a completion elsewhere, a
    # revert): the completing link works without a session, but must not
    # bring this one back with the new epoch.
    ended = client_for(user)
    move_counter(user, end_sessions=True)

    complete_change_in(ended, reloaded(user), mailoutbox)

    assert not is_logged_in(ended)


@pytest.mark.parametrize("engine", SESSION_ENGINES)
def test_the_key_before_a_completion_no_longer_works_and_the_data_moves(
    engine, settings, user, mailoutbox
):
    settings.SESSION_ENGINE = engine
    # Other sessions stay logged in: only the key's death logs the old one out.
    settings.VERIFIED_EMAIL = {"LOGOUT_OTHER_SESSIONS": False, "RESEND_COOLDOWN": 0}
    client = client_for(user)
    session = client.session
    session["cart"] = "kept"
    session.save()
    before = session_key(client)

    complete_change_in(client, user, mailoutbox)

    stale = Client()
    stale.cookies[django_settings.SESSION_COOKIE_NAME] = before
    assert not is_logged_in(stale)
    assert client.session["cart"] == "kept"
    assert is_logged_in(client)


def test_a_database_session_whose_row_is_gone_still_gets_a_new_key(user, mailoutbox):
    # The row may vanish mid-request (a purge of expired sessions, a logout
    # elsewhere): a new row is made all the same.
    client = client_for(user)
    before = session_key(client)
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    request = RequestFactory().get("/")
    request.session = SessionStore(before)
    request.session.load()
    Session.objects.filter(session_key=before).delete()

    sessions.after_address_changed(request, user, session_user=user)

    assert request.session.session_key not in (None, before)
    assert Session.objects.filter(session_key=request.session.session_key).exists()


@pytest.fixture
def session_device(transactional_db):
    """A host model whose rows point at sessions, for one test only."""

    class SessionDevice(models.Model):
        session = models.ForeignKey(Session, on_delete=models.CASCADE)

        class Meta:
            app_label = "testapp"

        def __str__(self):
            return self.session_id

    with connection.schema_editor() as editor:
        editor.create_model(SessionDevice)
    try:
        yield SessionDevice
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(SessionDevice)
        del apps.all_models["testapp"]["sessiondevice"]
        apps.clear_cache()


def test_a_host_row_pointing_at_the_session_goes_with_the_old_key(session_device, user, mailoutbox):
    # The host's row must not point at a key that no longer exists: the
    # completion's commit would fail (a 500).
    client = client_for(user)
    before = session_key(client)
    session_device.objects.create(session=Session.objects.get(pk=before))

    complete_change_in(client, user, mailoutbox)

    assert session_key(client) != before
    assert not session_device.objects.exists()  # deleted with the old row
    assert is_logged_in(client)


def test_a_host_listening_for_session_deletions_hears_the_old_key_go(user, mailoutbox):
    deleted = []

    def on_delete(sender, instance, **kwargs):
        deleted.append(instance.pk)

    client = client_for(user)
    before = session_key(client)
    post_delete.connect(on_delete, sender=Session, weak=False)
    try:
        complete_change_in(client, user, mailoutbox)
    finally:
        post_delete.disconnect(on_delete, sender=Session)

    assert deleted == [before]


def test_an_anonymous_session_that_completes_a_change_gets_a_new_key(user, mailoutbox):
    browser = Client()
    session = browser.session  # the test client stores it and sets the cookie
    session["seen"] = True
    session.save()
    before = session_key(browser)

    complete_change_in(browser, user, mailoutbox)

    assert session_key(browser) != before


@pytest.mark.parametrize("engine", SESSION_ENGINES)
def test_other_sessions_stay_when_logout_other_sessions_is_off(engine, settings, user, mailoutbox):
    settings.SESSION_ENGINE = engine
    settings.VERIFIED_EMAIL = {"LOGOUT_OTHER_SESSIONS": False, "RESEND_COOLDOWN": 0}
    here, elsewhere = client_for(user), client_for(user)

    complete_change_in(here, user, mailoutbox)

    assert is_logged_in(here)
    assert is_logged_in(elsewhere)


@pytest.mark.parametrize("engine", SESSION_ENGINES)
def test_a_completion_ends_every_other_session_by_default(engine, settings, user, mailoutbox):
    settings.SESSION_ENGINE = engine
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
    [notice] = [m for m in mailoutbox if m.to == ["alice@example.com"] and links_in(m, REVERT_PAGE)]

    assert (
        Client().post(revert_path(revert_token_in(notice)), {"password": PASSWORD}).status_code
        == 200
    )

    assert not is_logged_in(intruder)


def test_token_pages_work_without_session_and_auth_middleware(settings, user, mailoutbox):
    # An API-only host (token authentication) still serves the emailed links.
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "LOGOUT_OTHER_SESSIONS": True}
    request_change(client_for(user), "new@example.com")
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
    browser = Client()

    assert browser.post(link_path(mailoutbox[-1])).status_code == 200
    assert browser.post(link_path(mailoutbox[-1])).status_code == 302
    [notice] = [m for m in mailoutbox if links_in(m, REVERT_PAGE)]
    revert = revert_path(revert_token_in(notice))
    assert browser.post(revert, {"password": PASSWORD}).status_code == 200
    assert email_of(reloaded(user)) == "alice@example.com"


def test_the_expired_link_resend_without_auth_middleware_asks_to_log_in(settings, user, mailoutbox):
    request_change(client_for(user), "new@example.com")
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

    with later(86400 + 1):
        response = Client().post(link_path(mailoutbox[-1]), {"resend": "1"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert len(mailoutbox) == 1
