"""Completing a change through the API renews a browser client's session too."""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from django_verified_email import flows
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    call,
    client_for,
    code_in,
    email_of,
    later,
    move_counter,
    reloaded,
    token_in,
)

CONFIRM = "/api/account/email/change/confirm/"
RECOVERY_DELAY = 604800


def session_key(client):
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def is_logged_in(client):
    return client.get(reverse("verified_email:status")).status_code == 200


def confirm_new_step_through_api(client, user, mailoutbox):
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    response = client.post(
        CONFIRM, {"token": token_in(mailoutbox[-1])}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "completed"}
    assert email_of(reloaded(user)) == "new@example.com"


def test_api_completion_cycles_the_session_key_and_keeps_the_user_in(user, mailoutbox):
    client = client_for(user)
    before = session_key(client)

    confirm_new_step_through_api(client, user, mailoutbox)

    assert session_key(client) != before
    assert is_logged_in(client)


def test_a_session_ended_before_an_api_completion_stays_ended(user, mailoutbox):
    # The confirm view authenticates nobody, so it reads the session itself:
    # its epoch is judged as the middleware would (the profile store), or by
    # the session hash (the mixin).
    ended = client_for(user)
    move_counter(user, end_sessions=True)

    confirm_new_step_through_api(ended, reloaded(user), mailoutbox)

    assert not is_logged_in(ended)


def test_api_completion_with_logout_other_sessions_keeps_only_this_one(settings, user, mailoutbox):
    settings.VERIFIED_EMAIL = {"LOGOUT_OTHER_SESSIONS": True, "RESEND_COOLDOWN": 0}
    here, elsewhere = client_for(user), client_for(user)

    confirm_new_step_through_api(here, user, mailoutbox)

    assert is_logged_in(here)
    assert not is_logged_in(elsewhere)


def test_confirm_old_step_leaves_the_session_key_alone(user, mailoutbox):
    client = client_for(user)
    before = session_key(client)
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)

    response = client.post(
        CONFIRM, {"token": token_in(mailoutbox[-1])}, content_type="application/json"
    )

    assert response.json() == {"status": "awaiting_new"}
    assert session_key(client) == before


def test_a_client_without_a_session_completes_normally(user, mailoutbox):
    confirm_new_step_through_api(Client(), user, mailoutbox)


def test_a_session_ended_before_cannot_post_a_code(user, mailoutbox):
    # A code is taken from a logged-in request only: a session a moved epoch
    # ended is logged out for it too, as on every other endpoint.
    ended = client_for(user)
    move_counter(user, end_sessions=True)
    here = client_for(reloaded(user))
    before = email_of(user)
    requested = call(here, "change", {"new_email": "new@example.com", "password": PASSWORD})
    assert requested.status_code == 202, requested.content
    assert call(here, "change-confirm", {"code": code_in(mailoutbox[-1])}).status_code == 200

    response = call(ended, "change-confirm", {"code": code_in(mailoutbox[-1])})

    assert response.status_code == 403, response.content
    assert email_of(reloaded(user)) == before
    assert not is_logged_in(ended)


TOKEN_AUTH = ["rest_framework.authentication.TokenAuthentication"]


def with_token_of(client, user):
    """``client`` (its session cookie kept) sending ``user``'s API token as well."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    return client


def complete_by_codes(client, mailoutbox):
    """Request a change to new@example.com and confirm both steps by code."""
    response = call(client, "change", {"new_email": "new@example.com", "password": PASSWORD})
    assert response.status_code == 202, response.content
    assert call(client, "change-confirm", {"code": code_in(mailoutbox[-1])}).status_code == 200
    response = call(client, "change-confirm", {"code": code_in(mailoutbox[-1])})
    assert response.json() == {"status": "completed"}


@pytest.mark.parametrize("logout_others", [True, False])
def test_a_token_completion_keeps_an_ended_session_cookie_ended(
    settings, user, mailoutbox, logout_others
):
    # The token says who the request is, not whose the cookie is: the
    # session is renewed only when it is, itself, logged in as the user.
    settings.VERIFIED_EMAIL = {
        "API_AUTHENTICATION_CLASSES": TOKEN_AUTH,
        "LOGOUT_OTHER_SESSIONS": logout_others,
    }
    app = client_for(user)
    move_counter(user, end_sessions=True)
    with_token_of(app, user)

    complete_by_codes(app, mailoutbox)

    assert not is_logged_in(app)


@pytest.mark.parametrize("logout_others", [True, False])
def test_a_token_completion_leaves_another_accounts_session_cookie_in(
    settings, user, make_user, mailoutbox, logout_others
):
    settings.VERIFIED_EMAIL = {
        "API_AUTHENTICATION_CLASSES": TOKEN_AUTH,
        "LOGOUT_OTHER_SESSIONS": logout_others,
    }
    app = with_token_of(client_for(make_user("bob", "bob@example.com")), user)

    complete_by_codes(app, mailoutbox)

    assert is_logged_in(app)


def due_recovery(user, mailoutbox):
    """A recovery of ``user``'s account to new@example.com, reminded, whose wait is over."""
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL, old_email_lost=True)
    [link] = [m for m in mailoutbox if m.to == ["new@example.com"]]
    assert flows.confirm_change(token_in(link), base_url=BASE_URL).status == "scheduled"
    with later(RECOVERY_DELAY - 20 * 3600):
        assert flows.complete_due(base_url=BASE_URL).reminded == 1
    return later(RECOVERY_DELAY + 60)


@pytest.mark.parametrize("whose", ["ended", "another account's"])
def test_a_token_status_that_completes_leaves_the_session_cookie_as_it_was(
    settings, user, make_user, mailoutbox, whose
):
    settings.VERIFIED_EMAIL = {"API_AUTHENTICATION_CLASSES": TOKEN_AUTH}
    if whose == "ended":
        app = client_for(user)
        move_counter(user, end_sessions=True)
    else:
        app = client_for(make_user("bob", "bob@example.com"))
    with_token_of(app, user)

    with due_recovery(reloaded(user), mailoutbox):
        assert call(app, "status", method="get").json()["email"] == "new@example.com"

    assert is_logged_in(app) is (whose != "ended")
