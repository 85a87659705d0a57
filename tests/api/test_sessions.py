"""Completing a change through the API renews a browser client's session too."""

from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from django_verified_email import flows
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    call,
    client_for,
    code_in,
    email_of,
    move_counter,
    reloaded,
    token_in,
)

CONFIRM = "/api/account/email/change/confirm/"


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
