"""One-time codes through the JSON API: ``{"code"}`` on the two confirm endpoints."""

import logging

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from django_verified_email import flows, is_email_verified
from django_verified_email.models import EmailChange, WrongCode
from tests.helpers import (
    api_request_change,
    assert_error,
    call,
    client_for,
    code_in,
    email_of,
    error_report,
    later,
    reloaded,
    snapshot,
    token_in,
)

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows

NEW = "alice.new@example.com"


def wrong(code):
    digits = f"{(int(code.replace('-', '')) + 1) % 10**6:06d}"
    return f"{digits[:3]}-{digits[3:]}"


@pytest.fixture
def alice(user):
    return client_for(user)


def test_verify_by_code(make_user, mailoutbox):
    una = make_user("una", "una@example.com", verified=False)
    app = client_for(una)
    call(app, "verify-send")

    response = call(app, "verify-confirm", {"code": code_in(mailoutbox[-1])})

    assert response.status_code == 200, response.content
    assert response.json() == {"email": "una@example.com", "is_email_verified": True}
    assert is_email_verified(reloaded(una))


def test_dual_link_change_by_codes(user, alice, mailoutbox):
    api_request_change(alice)

    response = call(alice, "change-confirm", {"code": code_in(mailoutbox[-1])})
    assert response.status_code == 200
    assert response.json() == {"status": "awaiting_new"}

    response = call(alice, "change-confirm", {"code": code_in(mailoutbox[-1], to=NEW)})
    assert response.status_code == 200
    assert response.json() == {"status": "completed"}
    assert email_of(reloaded(user)) == NEW
    # The session got a new key and stays logged in.
    assert call(alice, "status", method="get").json()["email"] == NEW


def test_a_code_with_token_authentication(settings, user, mailoutbox):
    settings.VERIFIED_EMAIL = {
        "API_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]
    }
    key = Token.objects.create(user=user).key
    app = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {key}")
    api_request_change(app)

    response = call(app, "change-confirm", {"code": code_in(mailoutbox[-1])})

    assert response.status_code == 200
    assert EmailChange.objects.get().status == "awaiting_new"


@pytest.mark.parametrize("endpoint", ["verify-confirm", "change-confirm"])
def test_a_code_needs_an_authenticated_request(endpoint, user, alice, anonymous, mailoutbox):
    api_request_change(alice)

    response = call(anonymous, endpoint, {"code": code_in(mailoutbox[-1])})

    assert_error(response, 403, "not_authenticated")
    assert EmailChange.objects.get().status == "awaiting_old"


def test_an_anonymous_code_answers_401_where_the_host_authenticates_by_header(
    settings, user, alice, mailoutbox
):
    api_request_change(alice)
    settings.VERIFIED_EMAIL = {
        "API_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]
    }

    response = call(Client(), "change-confirm", {"code": code_in(mailoutbox[-1])})

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_a_session_code_needs_the_csrf_token(user, mailoutbox):
    app = Client(enforce_csrf_checks=True)
    app.force_login(user)
    flows.request_change(user, NEW, "correct horse battery staple", base_url="http://testserver")

    response = call(app, "change-confirm", {"code": code_in(mailoutbox[-1])})

    body = assert_error(response, 403, "permission_denied")
    assert "CSRF" in body["detail"]
    assert EmailChange.objects.get().status == "awaiting_old"


def test_a_token_still_needs_no_login(user, alice, anonymous, mailoutbox):
    api_request_change(alice)

    response = call(anonymous, "change-confirm", {"token": token_in(mailoutbox[-1])})

    assert response.status_code == 200


@pytest.mark.parametrize("endpoint", ["verify-confirm", "change-confirm"])
@pytest.mark.parametrize(
    "body",
    [{}, {"token": "abc", "code": "123-456"}, {"code": 123456}, {"code": None}],
    ids=["neither", "both", "number", "null"],
)
def test_exactly_one_of_token_and_code(endpoint, body, user, alice, mailoutbox):
    api_request_change(alice)

    assert_error(call(alice, endpoint, body), 400, "invalid_request")
    assert EmailChange.objects.get().status == "awaiting_old"


def test_a_wrong_code(user, alice, mailoutbox):
    api_request_change(alice)
    code = code_in(mailoutbox[-1])

    assert_error(call(alice, "change-confirm", {"code": wrong(code)}), 400, "invalid_code")
    assert_error(call(alice, "change-confirm", {"code": "not a code"}), 400, "invalid_code")
    assert call(alice, "change-confirm", {"code": code}).status_code == 200


def test_an_expired_code(user, alice, mailoutbox):
    api_request_change(alice)
    code = code_in(mailoutbox[-1])

    with later(900):
        assert_error(call(alice, "change-confirm", {"code": code}), 410, "expired_code")


def test_a_replaced_code(settings, user, alice, mailoutbox):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    api_request_change(alice)
    code = code_in(mailoutbox[-1])
    call(alice, "change-resend")

    assert_error(call(alice, "change-confirm", {"code": code}), 410, "expired_code")


def test_a_used_code(user, alice, mailoutbox):
    api_request_change(alice)
    old = code_in(mailoutbox[-1])
    call(alice, "change-confirm", {"code": old})
    call(alice, "change-confirm", {"code": code_in(mailoutbox[-1])})

    assert_error(call(alice, "change-confirm", {"code": old}), 410, "expired_code")


@pytest.mark.parametrize("used_by", ["link", "code"])
def test_the_old_code_after_its_step_is_done_is_used_not_wrong(used_by, user, alice, mailoutbox):
    api_request_change(alice)
    old = mailoutbox[-1]
    if used_by == "link":
        assert call(Client(), "change-confirm", {"token": token_in(old)}).status_code == 200
    else:
        assert call(alice, "change-confirm", {"code": code_in(old)}).status_code == 200
    new_code = code_in(mailoutbox[-1], to=NEW)

    # The contract's "used": 410, and no try at the new address's code spent.
    for _ in range(5):
        assert_error(call(alice, "change-confirm", {"code": code_in(old)}), 410, "expired_code")

    assert EmailChange.objects.get().status == "awaiting_new"
    assert call(alice, "change-confirm", {"code": new_code}).json() == {"status": "completed"}


def test_a_code_used_up_by_wrong_tries(user, alice, mailoutbox):
    api_request_change(alice)
    code = code_in(mailoutbox[-1])
    for _ in range(4):
        assert_error(call(alice, "change-confirm", {"code": wrong(code)}), 400, "invalid_code")

    assert_error(call(alice, "change-confirm", {"code": wrong(code)}), 410, "expired_code")
    assert_error(call(alice, "change-confirm", {"code": code}), 410, "expired_code")


def test_another_accounts_code(make_user, user, alice, mailoutbox):
    bob = client_for(make_user("bob", "bob@example.com", verified=False))
    api_request_change(alice)
    code = code_in(mailoutbox[-1])

    assert_error(call(bob, "change-confirm", {"code": code}), 410, "expired_code")
    assert_error(call(bob, "verify-confirm", {"code": code}), 410, "expired_code")
    assert EmailChange.objects.get().status == "awaiting_old"


def test_an_error_report_of_a_code_call_carries_no_code(user, alice, monkeypatch, caplog):
    api_request_change(alice)

    def failing(user, code, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(flows, "confirm_change_by_code", failing)
    caplog.set_level(logging.ERROR)
    alice.raise_request_exception = False

    response = call(alice, "change-confirm", {"code": "314-159"})

    assert response.status_code == 500
    text, html = error_report(caplog)
    assert "the database went away" in text
    for spelling in ("314-159", "314159"):
        assert spelling not in text
        assert spelling not in html


# "This wasn't me" with the old address's code (change/deny/ {"code"}) -------


def test_deny_by_code(user, alice, mailoutbox):
    api_request_change(alice)
    code = code_in(mailoutbox[-1])

    response = call(alice, "change-deny", {"code": code})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "denied"
    assert flows.check_set_password(body["password_token"]).pk == user.pk
    assert EmailChange.objects.get().status == "denied"
    assert not reloaded(user).has_usable_password()
    assert call(alice, "status", method="get").status_code == 403  # its session ended


def test_deny_by_code_needs_a_login(user, alice, mailoutbox):
    api_request_change(alice)

    response = call(Client(), "change-deny", {"code": code_in(mailoutbox[-1])})

    assert_error(response, 403, "not_authenticated")
    assert EmailChange.objects.get().status == "awaiting_old"


def test_deny_by_a_wrong_code_is_refused_and_writes_nothing_but_the_try(user, alice, mailoutbox):
    api_request_change(alice)
    code = code_in(mailoutbox[-1])
    before = snapshot()

    assert_error(call(alice, "change-deny", {"code": wrong(code)}), 400, "invalid_code")

    assert snapshot() == before
    assert WrongCode.objects.filter(user_id=user.pk).count() == 1
    assert call(alice, "change-deny", {"code": code}).status_code == 200


@pytest.mark.parametrize(
    "body", [{"code": 123456}, {"code": "1" * 10000}, {"code": None}, {"code": "", "token": ""}]
)
def test_deny_by_a_malformed_code_is_a_clean_400(user, alice, mailoutbox, body):
    api_request_change(alice)
    before = snapshot()

    response = call(alice, "change-deny", body)

    assert response.status_code == 400, response.content
    assert snapshot() == before


def test_the_new_addresss_code_cannot_deny(user, alice, mailoutbox):
    api_request_change(alice)
    call(alice, "change-confirm", {"code": code_in(mailoutbox[-1])})

    response = call(alice, "change-deny", {"code": code_in(mailoutbox[-1], to=NEW)})

    assert_error(response, 410, "expired_code")
    assert EmailChange.objects.get().status == "awaiting_new"
