"""A token or JWT client of an API left at session authentication: a warning, and a clear 403."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from django_verified_email.checks import check_api_reads_the_hosts_tokens
from tests.helpers import assert_error, call

TOKEN = "rest_framework.authentication.TokenAuthentication"
SESSION = "rest_framework.authentication.SessionAuthentication"
JWT = "rest_framework_simplejwt.authentication.JWTAuthentication"


@pytest.mark.parametrize("host", [[TOKEN], [SESSION, JWT]])
def test_check_warns_when_the_host_reads_tokens_and_the_api_sessions_only(settings, host):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": host}

    [warning] = check_api_reads_the_hosts_tokens()

    assert warning.id == "verified_email.W011"
    assert "API_AUTHENTICATION_CLASSES" in warning.hint
    assert (TOKEN if TOKEN in host else JWT) in warning.msg


@pytest.mark.parametrize(
    ("host", "app"),
    [
        ([SESSION], None),
        ([SESSION, "rest_framework.authentication.BasicAuthentication"], None),
        ([TOKEN], [SESSION, TOKEN]),
        # Set on purpose, even to sessions only: the host chose.
        ([TOKEN], [SESSION]),
    ],
)
def test_check_is_quiet_when_the_api_reads_what_the_host_hands_out(settings, host, app):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": host}
    settings.VERIFIED_EMAIL = {} if app is None else {"API_AUTHENTICATION_CLASSES": app}

    assert check_api_reads_the_hosts_tokens() == []


def test_a_token_sent_to_a_session_only_api_is_told_what_the_api_accepts(user):
    key = Token.objects.create(user=user).key

    response = call(Client(HTTP_AUTHORIZATION=f"Token {key}"), "status", method="get")

    body = assert_error(response, 403, "not_authenticated")
    assert body["detail"] == (
        "Authentication credentials were not provided. This API accepts: SessionAuthentication."
    )


def test_the_answer_names_every_class_the_api_accepts(settings):
    settings.VERIFIED_EMAIL = {"API_AUTHENTICATION_CLASSES": [TOKEN, SESSION]}

    response = call(Client(), "status", method="get")

    body = assert_error(response, 401, "not_authenticated")
    assert body["detail"].endswith("This API accepts: TokenAuthentication, SessionAuthentication.")
