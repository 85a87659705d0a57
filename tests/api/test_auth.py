"""Authentication is the host's DRF setting; the error shape is always ours."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from django_verified_email.models import EmailChange
from tests.helpers import PASSWORD, api_request_change, assert_error, call, token_in

TOKEN_AUTH = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]
}


@pytest.fixture
def csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_token_of(client):
    # Any page that renders a form sets the cookie; the HTML change form does.
    client.get("/account/email/change/")
    return client.cookies["csrftoken"].value


def test_session_post_without_csrf_token_is_refused(csrf_client, mailoutbox):
    response = api_request_change(csrf_client)

    body = assert_error(response, 403, "permission_denied")
    assert "CSRF" in body["detail"]
    assert EmailChange.objects.count() == 0
    assert mailoutbox == []


def test_session_post_with_csrf_token_is_accepted(csrf_client, mailoutbox):
    response = call(
        csrf_client,
        "change",
        {"new_email": "alice.new@example.com", "password": PASSWORD},
        HTTP_X_CSRFTOKEN=csrf_token_of(csrf_client),
    )

    assert response.status_code == 202
    assert EmailChange.objects.get().status == "awaiting_old"


def test_session_get_needs_no_csrf_token(csrf_client):
    assert call(csrf_client, "status", method="get").status_code == 200


@pytest.fixture
def token_auth(settings):
    settings.REST_FRAMEWORK = TOKEN_AUTH


def test_token_authentication(token_auth, user, anonymous, mailoutbox):
    key = Token.objects.create(user=user).key
    app = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {key}")

    assert call(app, "status", method="get").json()["email"] == "alice@example.com"
    # A token client sends no CSRF token, and needs none.
    assert api_request_change(app).status_code == 202
    assert call(anonymous, "change-confirm", {"token": token_in(mailoutbox[0])}).json() == {
        "status": "awaiting_new"
    }


def test_token_authentication_without_a_token_answers_401(token_auth, anonymous):
    response = call(anonymous, "status", method="get")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_token_authentication_with_a_bad_token(token_auth, user):
    app = Client(HTTP_AUTHORIZATION="Token not-a-real-key")

    response = api_request_change(app)

    assert_error(response, 401, "authentication_failed")
    assert EmailChange.objects.count() == 0


def test_session_is_not_used_when_the_host_chose_tokens(token_auth, logged_in):
    response = call(logged_in, "status", method="get")
    assert_error(response, 401, "not_authenticated")


def test_host_permission_default_does_not_open_the_endpoints(settings, anonymous, user):
    settings.REST_FRAMEWORK = {
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"]
    }

    response = call(anonymous, "status", method="get")

    assert_error(response, 403, "not_authenticated")


def host_exception_handler(exc, context):
    raise AssertionError("the host's handler must not see the API's errors")


def test_host_exception_handler_is_left_to_the_host(settings, anonymous, logged_in):
    settings.REST_FRAMEWORK = {"EXCEPTION_HANDLER": f"{__name__}.host_exception_handler"}

    assert_error(call(anonymous, "status", method="get"), 403, "not_authenticated")
    assert_error(call(logged_in, "change-cancel"), 404, "no_pending_change")
    assert_error(call(anonymous, "verify-confirm", "{"), 400, "invalid_request")


def test_host_throttles_apply_and_answer_in_our_shape(settings, anonymous, user):
    settings.REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute"},
    }
    for _ in range(2):
        assert_error(call(anonymous, "verify-confirm", {"token": "x"}), 400, "invalid_token")

    response = call(anonymous, "verify-confirm", {"token": "x"})

    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_host_browsable_api_setting_is_ignored(settings, logged_in):
    settings.REST_FRAMEWORK = {
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.BrowsableAPIRenderer"]
    }
    browser_accept = "text/html,application/xhtml+xml,*/*;q=0.8"

    response = call(logged_in, "status", method="get", HTTP_ACCEPT=browser_accept)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_client_that_accepts_no_json_gets_406_in_our_shape(logged_in):
    response = call(logged_in, "status", method="get", HTTP_ACCEPT="text/html")

    assert_error(response, 406, "not_acceptable")
