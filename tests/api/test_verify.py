"""verify/ and verify/confirm/: the rows of the verify flow in the API table."""

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from django_verified_email import is_email_verified
from tests.failing_mail import LOCMEM, REFUSING, use_mail_backend
from tests.helpers import assert_error, call, snapshot, token_in, verified_at

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows


def test_verify_sends_a_link_to_the_html_confirm_page(client, make_user, mailoutbox):
    user = make_user(verified=False)
    client.force_login(user)

    response = call(client, "verify-send")

    assert response.status_code == 202
    assert response.json() == {"email": "alice@example.com"}
    assert len(mailoutbox) == 1
    token_in(mailoutbox[0], to="alice@example.com")


def test_verify_confirm_verifies_the_address(anonymous, make_user, mailoutbox, client):
    user = make_user(verified=False)
    client.force_login(user)
    call(client, "verify-send")
    token = token_in(mailoutbox[0])

    response = call(anonymous, "verify-confirm", {"token": token})

    assert response.status_code == 200
    assert response.json() == {"email": "alice@example.com", "is_email_verified": True}
    user.refresh_from_db()
    assert is_email_verified(user)
    assert verified_at(user) is not None


def test_verify_confirm_link_is_one_time(anonymous, make_user, mailoutbox, client):
    user = make_user(verified=False)
    client.force_login(user)
    call(client, "verify-send")
    token = token_in(mailoutbox[0])
    assert call(anonymous, "verify-confirm", {"token": token}).status_code == 200

    assert_error(call(anonymous, "verify-confirm", {"token": token}), 400, "invalid_token")


def test_verify_confirm_needs_no_csrf_even_with_another_session(make_user, mailoutbox, client):
    # A browser SPA may hold a session cookie for a different account; the
    # token alone decides, and CSRF does not get in the way.
    owner = make_user(verified=False)
    client.force_login(owner)
    call(client, "verify-send")
    token = token_in(mailoutbox[0])
    other_browser = Client(enforce_csrf_checks=True)
    other_browser.force_login(make_user("bob", "bob@example.com"))

    response = call(other_browser, "verify-confirm", {"token": token})

    assert response.status_code == 200
    owner.refresh_from_db()
    assert is_email_verified(owner)


def test_verify_refuses_an_already_verified_address(logged_in, mailoutbox):
    assert_error(call(logged_in, "verify-send"), 409, "already_verified")
    assert mailoutbox == []


def test_verify_refuses_an_account_without_address(client, make_user, mailoutbox):
    client.force_login(make_user(email="", verified=False))

    assert_error(call(client, "verify-send"), 409, "no_email")
    assert mailoutbox == []


def test_verify_again_within_the_cooldown_is_throttled(client, make_user, mailoutbox):
    client.force_login(make_user(verified=False))
    call(client, "verify-send")

    response = call(client, "verify-send")

    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert len(mailoutbox) == 1


def test_verify_when_the_mail_server_fails_answers_503_and_can_retry(
    client, make_user, mailoutbox, settings
):
    user = make_user(verified=False)
    client.force_login(user)
    use_mail_backend(settings, REFUSING)

    assert_error(call(client, "verify-send"), 503, "delivery_failed")

    use_mail_backend(settings, LOCMEM)
    # No cooldown was spent on the failed send: the retry goes out at once.
    assert call(client, "verify-send").status_code == 202
    assert len(mailoutbox) == 1
    user.refresh_from_db()
    assert not is_email_verified(user)


def test_verify_confirm_expired_link(anonymous, make_user, mailoutbox, client):
    user = make_user(verified=False)
    client.force_login(user)
    call(client, "verify-send")
    token = token_in(mailoutbox[0])
    before = snapshot()

    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=86400 + 5)):
        assert_error(call(anonymous, "verify-confirm", {"token": token}), 410, "expired_token")

    assert snapshot() == before


def test_verify_confirm_link_of_a_changed_address_is_invalid(
    anonymous, make_user, mailoutbox, client
):
    user = make_user(verified=False)
    client.force_login(user)
    call(client, "verify-send")
    token = token_in(mailoutbox[0])
    user.email_address = "typo-fixed@example.com"
    user.save()

    assert_error(call(anonymous, "verify-confirm", {"token": token}), 400, "invalid_token")
    user.refresh_from_db()
    assert not is_email_verified(user)


def test_verify_endpoints_need_a_login(anonymous, make_user, mailoutbox):
    make_user(verified=False)

    response = call(anonymous, "verify-send")

    assert response.status_code in (401, 403)
    assert_error(response, response.status_code, "not_authenticated")
    assert mailoutbox == []
