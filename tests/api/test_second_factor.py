"""A second factor before a change, on the API: a session that passed it, or ``otp``."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from django_verified_email.models import EmailChange, ReauthAttempts
from tests import paper_factor
from tests.helpers import PASSWORD, assert_error, call

TOKEN = "rest_framework.authentication.TokenAuthentication"
SESSION = "rest_framework.authentication.SessionAuthentication"


@pytest.fixture(autouse=True)
def _paper_factor(settings):
    settings.VERIFIED_EMAIL = {
        "REAUTHENTICATE": paper_factor.PATH,
        "RESEND_COOLDOWN": 0,
        "REAUTH_MAX_ATTEMPTS": 3,
        "API_AUTHENTICATION_CLASSES": [SESSION, TOKEN],
    }
    paper_factor.reset()
    yield
    paper_factor.reset()


@pytest.fixture
def token_client(user):
    paper_factor.enrol(user)
    key = Token.objects.create(user=user).key
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def change(client, **body):
    return call(client, "change", {"new_email": "new@example.com", "password": PASSWORD, **body})


def test_a_token_client_without_otp_is_refused(token_client, mailoutbox):
    assert_error(change(token_client), 403, "second_factor_required")

    assert not EmailChange.objects.exists()
    assert mailoutbox == []
    assert not ReauthAttempts.objects.exists()


def test_a_token_client_sends_the_otp(token_client, user, mailoutbox):
    response = change(token_client, otp=paper_factor.OTP)

    assert response.status_code == 202
    assert response.json() == {"status": "awaiting_old"}
    assert EmailChange.objects.get(user=user).new_email == "new@example.com"
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    assert not ReauthAttempts.objects.exists()


def test_a_wrong_otp_counts_toward_the_lockout(token_client, user, mailoutbox):
    body = assert_error(change(token_client, otp="000000"), 400, "wrong_second_factor")
    assert "2 tries left" in body["detail"]
    assert_error(
        change(token_client, password="wrong", otp=paper_factor.OTP), 400, "wrong_password"
    )
    assert ReauthAttempts.objects.get(user=user).count == 2

    locked = change(token_client, otp="111111")

    assert_error(locked, 429, "locked_out")
    assert int(locked["Retry-After"]) > 0
    assert_error(change(token_client, otp=paper_factor.OTP), 429, "locked_out")
    assert not EmailChange.objects.exists()
    assert mailoutbox == []
    # The one-time password was never tried with a wrong password, nor once locked.
    tried = [otp for _, otp in paper_factor.VERIFIED]
    assert tried == ["000000", "111111"]


def test_a_session_that_passed_needs_no_otp(logged_in, user, mailoutbox):
    paper_factor.enrol(user)
    assert_error(change(logged_in), 403, "second_factor_required")

    paper_factor.pass_in(logged_in, user)

    assert change(logged_in).status_code == 202
    assert len(mailoutbox) == 1


def test_otp_must_be_a_string(token_client):
    assert_error(change(token_client, otp=424242), 400, "invalid_request")
    assert not ReauthAttempts.objects.exists()
