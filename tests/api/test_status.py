"""status/: the account's address and its open change."""

import time_machine
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tests.helpers import api_request_change, assert_error, call


def test_status_of_a_verified_address_without_change(logged_in):
    response = call(logged_in, "status", method="get")

    assert response.status_code == 200
    assert response.json() == {
        "email": "alice@example.com",
        "is_email_verified": True,
        "pending_change": None,
        "reauthentication": "password",
    }


def test_status_of_an_unverified_address(client, make_user):
    client.force_login(make_user(email="", verified=False))

    assert call(client, "status", method="get").json() == {
        "email": "",
        "is_email_verified": False,
        "pending_change": None,
        "reauthentication": "password",
    }


def test_status_shows_the_open_change_and_when_its_link_expires(logged_in, settings):
    settings.VERIFIED_EMAIL = {"LINK_MAX_AGE": 3600}
    sent = timezone.now().replace(microsecond=0)
    with time_machine.travel(sent, tick=False):
        api_request_change(logged_in, "alice.new@example.com")

    body = call(logged_in, "status", method="get").json()

    assert body["email"] == "alice@example.com"
    change = body["pending_change"]
    assert set(change) == {"new_email", "status", "created_at", "expires_at", "completes_at"}
    assert change["new_email"] == "alice.new@example.com"
    assert change["status"] == "awaiting_old"
    assert parse_datetime(change["created_at"]) == sent
    assert parse_datetime(change["expires_at"]) == sent + timezone.timedelta(hours=1)
    # Null unless a recovery is scheduled (tests/api/test_recovery.py).
    assert change["completes_at"] is None


def test_status_follows_the_change_to_its_end(logged_in):
    api_request_change(logged_in, "alice.new@example.com")
    call(logged_in, "change-cancel")

    assert call(logged_in, "status", method="get").json()["pending_change"] is None


def test_status_needs_a_login(anonymous):
    response = call(anonymous, "status", method="get")

    # DRF's default authenticators put session first, which has no challenge
    # to send: 403 (a token-first host answers 401, see test_auth.py).
    assert_error(response, 403, "not_authenticated")


def test_status_answers_get_only(logged_in):
    response = call(logged_in, "status")

    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_answers_are_never_cached(logged_in, anonymous):
    responses = [
        call(logged_in, "status", method="get"),
        call(anonymous, "verify-confirm", {"token": "x"}),
        call(anonymous, "status", method="get"),
    ]

    for response in responses:
        assert "no-store" in response["Cache-Control"]
