"""The API's way to take an account back: deny, revert, and the new password."""

import pytest
from django.test import Client

from django_verified_email import flows
from django_verified_email.models import EmailChange
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    assert_error,
    call,
    can_log_in,
    client_for,
    complete_dual_change,
    email_of,
    is_logged_in,
    later,
    reloaded,
    revert_token_in,
    token_in,
)

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows

NEW_PASSWORD = "a brand new passphrase 2026"


@pytest.fixture(autouse=True)
def _no_cooldown(settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}


@pytest.fixture
def old_token(user, mailoutbox):
    flows.request_change(user, "mallory@example.com", PASSWORD, base_url=BASE_URL)
    return token_in(mailoutbox[-1], to="alice@example.com")


@pytest.fixture
def revert_token(user, mailoutbox):
    return revert_token_in(complete_dual_change(user, "mallory@example.com", mailoutbox))


def test_deny_refuses_the_change_and_answers_a_password_token(user, old_token, mailoutbox):
    elsewhere = client_for(user)
    clicking = client_for(user)

    response = call(clicking, "change-deny", {"token": old_token})

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"status", "password_token"}
    assert body["status"] == "denied"
    assert EmailChange.objects.get().status == "denied"
    assert not can_log_in(user)
    assert not is_logged_in(elsewhere)
    assert not is_logged_in(clicking)
    assert [m.to for m in mailoutbox[1:]] == [["alice@example.com"], ["mallory@example.com"]]

    done = call(
        Client(),
        "change-set-password",
        {"token": body["password_token"], "new_password": NEW_PASSWORD},
    )
    assert done.status_code == 200
    assert done.json() == {"status": "password_set"}
    assert can_log_in(user, NEW_PASSWORD)


def test_deny_with_the_new_address_token_is_invalid(user, old_token, mailoutbox):
    flows.confirm_change(old_token, base_url=BASE_URL)
    new_token = token_in(mailoutbox[-1], to="mallory@example.com")

    assert_error(call(Client(), "change-deny", {"token": new_token}), 400, "invalid_token")
    assert EmailChange.objects.get().status == "awaiting_new"
    assert can_log_in(user)


def test_deny_used_twice_is_invalid(old_token):
    assert call(Client(), "change-deny", {"token": old_token}).status_code == 200
    assert_error(call(Client(), "change-deny", {"token": old_token}), 400, "invalid_token")


def test_deny_expired_is_expired(user, old_token):
    with later(86400 + 1):
        assert_error(call(Client(), "change-deny", {"token": old_token}), 410, "expired_token")
    assert can_log_in(user)


@pytest.mark.parametrize("body", [{}, {"token": 5}, []])
def test_deny_with_a_malformed_body_is_invalid_request(body, db):
    assert_error(call(Client(), "change-deny", body), 400, "invalid_request")


def test_revert_through_the_api(user, revert_token, mailoutbox):
    intruder = client_for(reloaded(user))
    sent = len(mailoutbox)

    response = call(Client(), "change-revert", {"token": revert_token, "password": PASSWORD})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "reverted"
    assert body["email"] == "alice@example.com"
    assert body["password_token"]
    assert email_of(reloaded(user)) == "alice@example.com"
    assert not is_logged_in(intruder)
    assert not can_log_in(user)
    assert [m.to for m in mailoutbox[sent:]] == [["mallory@example.com"], ["alice@example.com"]]
    assert_error(
        call(Client(), "change-revert", {"token": revert_token, "password": PASSWORD}),
        400,
        "invalid_token",
    )


def test_revert_blocked_by_a_verified_holder_is_a_conflict(user, revert_token, make_user):
    make_user("bob", "alice@example.com", verified=True)
    assert_error(
        call(Client(), "change-revert", {"token": revert_token, "password": PASSWORD}),
        409,
        "email_taken",
    )


def test_revert_takes_the_address_from_an_unproved_holder(user, revert_token, make_user):
    squatter = make_user("squatter", "alice@example.com", verified=False)
    assert (
        call(Client(), "change-revert", {"token": revert_token, "password": PASSWORD}).status_code
        == 200
    )
    assert email_of(reloaded(squatter)) == ""


def test_revert_expired_is_expired(user, revert_token):
    with later(604800 + 1):
        assert_error(
            call(Client(), "change-revert", {"token": revert_token, "password": PASSWORD}),
            410,
            "expired_token",
        )


def test_set_password_refusals(settings, user, old_token):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 12},
        }
    ]
    token = call(Client(), "change-deny", {"token": old_token}).json()["password_token"]

    short = call(Client(), "change-set-password", {"token": token, "new_password": "short"})
    body = assert_error(short, 400, "invalid_password")
    assert "at least 12 characters" in body["detail"]
    blank = call(Client(), "change-set-password", {"token": token, "new_password": ""})
    assert_error(blank, 400, "invalid_password")
    assert_error(
        call(Client(), "change-set-password", {"token": "nonsense", "new_password": NEW_PASSWORD}),
        400,
        "invalid_token",
    )
    assert_error(call(Client(), "change-set-password", {"token": token}), 400, "invalid_request")
    assert not reloaded(user).has_usable_password()

    ok = {"token": token, "new_password": NEW_PASSWORD}
    assert call(Client(), "change-set-password", ok).status_code == 200
    assert_error(call(Client(), "change-set-password", ok), 400, "invalid_token")
    with later(86400 + 1):
        assert_error(call(Client(), "change-set-password", ok), 400, "invalid_token")


def test_set_password_token_expires(user, old_token):
    token = call(Client(), "change-deny", {"token": old_token}).json()["password_token"]
    with later(86400 + 1):
        response = call(
            Client(), "change-set-password", {"token": token, "new_password": NEW_PASSWORD}
        )
    assert_error(response, 410, "expired_token")


def test_deny_accepts_a_token_a_resend_replaced(user, old_token, mailoutbox):
    flows.resend_change(user, base_url=BASE_URL)

    assert_error(call(Client(), "change-confirm", {"token": old_token}), 400, "invalid_token")
    response = call(Client(), "change-deny", {"token": old_token})

    assert response.status_code == 200, response.content
    assert EmailChange.objects.get().status == "denied"
    assert not can_log_in(user)


def test_deny_with_a_superseded_token_closes_the_open_change(user, old_token, mailoutbox):
    flows.request_change(reloaded(user), "eve@example.com", PASSWORD, base_url=BASE_URL)

    response = call(Client(), "change-deny", {"token": old_token})

    assert response.status_code == 200, response.content
    assert list(EmailChange.objects.order_by("pk").values_list("status", flat=True)) == [
        "superseded",
        "denied",
    ]
    assert not can_log_in(user)
