"""Authentication is what API_AUTHENTICATION_CLASSES names; the error shape is always ours."""

import base64

import pytest
from django.core import checks
from django.test import Client
from rest_framework.authentication import BasicAuthentication
from rest_framework.authtoken.models import Token

from django_verified_email.checks import check_api_authentication
from django_verified_email.models import EmailChange
from tests.helpers import PASSWORD, api_request_change, assert_error, call, token_in

TOKEN = "rest_framework.authentication.TokenAuthentication"
SESSION = "rest_framework.authentication.SessionAuthentication"
BASIC = "rest_framework.authentication.BasicAuthentication"


def basic_client(username="alice", password=PASSWORD):
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {credentials}")


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
    settings.VERIFIED_EMAIL = {"API_AUTHENTICATION_CLASSES": [TOKEN]}


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


# HTTP Basic and the host's DRF defaults --------------------------------------


@pytest.mark.parametrize(
    "host_drf",
    [
        {},  # DRF's own default: session and Basic
        {"DEFAULT_AUTHENTICATION_CLASSES": [BASIC]},
    ],
    ids=["drf-default", "host-names-basic"],
)
def test_basic_credentials_are_refused_by_default(settings, user, host_drf, mailoutbox):
    settings.REST_FRAMEWORK = host_drf

    assert_error(call(basic_client(), "status", method="get"), 403, "not_authenticated")
    assert_error(api_request_change(basic_client()), 403, "not_authenticated")
    assert EmailChange.objects.count() == 0


def test_basic_gives_no_password_oracle_by_default(user):
    """Right and wrong passwords get the same answer: none is checked."""
    right = call(basic_client(password=PASSWORD), "status", method="get")
    wrong = call(basic_client(password="wrong"), "status", method="get")

    assert (right.status_code, right.json()) == (wrong.status_code, wrong.json())


def test_the_hosts_drf_authentication_classes_are_not_used(settings, user):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [TOKEN]}
    key = Token.objects.create(user=user).key

    response = call(Client(HTTP_AUTHORIZATION=f"Token {key}"), "status", method="get")

    assert_error(response, 403, "not_authenticated")


def test_session_and_token_together(settings, user, logged_in):
    settings.VERIFIED_EMAIL = {"API_AUTHENTICATION_CLASSES": [SESSION, TOKEN]}
    key = Token.objects.create(user=user).key

    assert call(logged_in, "status", method="get").status_code == 200
    token_client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert call(token_client, "status", method="get").status_code == 200


def test_basic_works_when_the_host_names_it(settings, user):
    settings.VERIFIED_EMAIL = {"API_AUTHENTICATION_CLASSES": [BASIC]}

    assert call(basic_client(), "status", method="get").json()["email"] == "alice@example.com"
    assert_error(
        call(basic_client(password="wrong"), "status", method="get"),
        401,
        "authentication_failed",
    )


# Checks ------------------------------------------------------------------------


def test_no_api_authentication_message_by_default():
    assert check_api_authentication() == []


@pytest.mark.parametrize("classes", [[SESSION], [SESSION, TOKEN], (TOKEN,)])
def test_no_w005_without_basic(settings, classes):
    settings.VERIFIED_EMAIL = {"API_AUTHENTICATION_CLASSES": classes}
    assert check_api_authentication() == []


class SiteBasic(BasicAuthentication):
    """A host's own subclass of Basic is Basic all the same."""


@pytest.mark.parametrize("classes", [[BASIC], [SESSION, BASIC], [f"{__name__}.SiteBasic"]])
def test_w005_when_basic_is_named(settings, classes):
    settings.VERIFIED_EMAIL = {"API_AUTHENTICATION_CLASSES": classes}

    [warning] = check_api_authentication()

    assert warning.id == "verified_email.W005"
    assert warning.level == checks.WARNING
    assert "REAUTH_MAX_ATTEMPTS" in warning.hint


@pytest.mark.parametrize(
    "value",
    [SESSION, None, ["rest_framework.authentication.NoSuchClass"], ["not a path"], [1]],
    ids=["a-string", "none", "unknown-class", "not-a-path", "not-a-string"],
)
def test_e007_when_the_setting_is_not_a_list_of_importable_classes(settings, value):
    settings.VERIFIED_EMAIL = {"API_AUTHENTICATION_CLASSES": value}

    [error] = check_api_authentication()

    assert error.id == "verified_email.E007"
    assert error.level == checks.ERROR
