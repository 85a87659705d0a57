"""change/, change/confirm/, change/resend/ and change/cancel/ through the API."""

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from django_verified_email import is_email_verified
from django_verified_email.models import EmailChange
from tests.failing_mail import LOCMEM, REFUSING, use_mail_backend
from tests.helpers import (
    PASSWORD,
    api_confirm_change,
    api_request_change,
    assert_error,
    call,
    email_of,
    snapshot,
    token_in,
)

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows

NEW = "alice.new@example.com"


def no_cooldown(settings, **more):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, **more}


# The dual-link flow, end to end --------------------------------------------


def test_dual_link_flow_completes_through_the_api(logged_in, user, anonymous, mailoutbox):
    response = api_request_change(logged_in, NEW)

    assert response.status_code == 202
    assert response.json() == {"status": "awaiting_old"}
    user.refresh_from_db()
    assert email_of(user) == "alice@example.com"
    old_token = token_in(mailoutbox[0], to="alice@example.com")

    response = api_confirm_change(anonymous, old_token)

    assert response.status_code == 200
    assert response.json() == {"status": "awaiting_new"}
    user.refresh_from_db()
    assert email_of(user) == "alice@example.com"
    new_token = token_in(mailoutbox[1], to=NEW)

    response = api_confirm_change(anonymous, new_token)

    assert response.status_code == 200
    assert response.json() == {"status": "completed"}
    user.refresh_from_db()
    assert email_of(user) == NEW
    assert is_email_verified(user)
    assert [m.to for m in mailoutbox[2:]] == [[NEW], ["alice@example.com"]]
    assert EmailChange.objects.get().status == "completed"
    # Every link was one-time.
    assert_error(api_confirm_change(anonymous, old_token), 400, "invalid_token")
    assert_error(api_confirm_change(anonymous, new_token), 400, "invalid_token")


def test_change_of_an_unverified_address_sends_one_link_to_the_new_one(
    client, make_user, anonymous, mailoutbox
):
    user = make_user(verified=False)
    client.force_login(user)

    response = api_request_change(client, NEW)

    assert response.status_code == 202
    assert response.json() == {"status": "awaiting_new"}
    token = token_in(mailoutbox[0], to=NEW)
    assert api_confirm_change(anonymous, token).json() == {"status": "completed"}
    user.refresh_from_db()
    assert email_of(user) == NEW
    assert is_email_verified(user)


# change/ errors -------------------------------------------------------------


def test_change_refuses_an_invalid_address(logged_in, mailoutbox):
    before = snapshot()

    assert_error(api_request_change(logged_in, "not an address"), 400, "invalid_email")
    assert_error(api_request_change(logged_in, ""), 400, "invalid_email")
    assert_error(api_request_change(logged_in, "a" * 250 + "@example.com"), 400, "invalid_email")

    assert snapshot() == before
    assert mailoutbox == []


def test_change_refuses_the_same_address_in_any_case(logged_in, mailoutbox):
    assert_error(api_request_change(logged_in, "Alice@EXAMPLE.com"), 400, "same_email")
    assert EmailChange.objects.count() == 0
    assert mailoutbox == []


def test_change_refuses_a_taken_address_with_400(logged_in, make_user, mailoutbox):
    make_user("bob", "bob@example.com")

    assert_error(api_request_change(logged_in, "BOB@example.com"), 400, "email_taken")
    assert EmailChange.objects.count() == 0
    assert mailoutbox == []


def test_change_to_a_taken_address_looks_accepted_when_not_revealed(
    client, make_user, anonymous, mailoutbox, settings
):
    settings.VERIFIED_EMAIL = {"REVEAL_TAKEN_EMAIL": False}
    make_user("bob", "bob@example.com")
    user = make_user(verified=False)
    client.force_login(user)

    response = api_request_change(client, "bob@example.com")

    assert response.status_code == 202
    assert response.json() == {"status": "awaiting_new"}
    # The owner hears of it; the requester gets no link to take it over.
    assert mailoutbox[0].to == ["bob@example.com"]
    user.refresh_from_db()
    assert email_of(user) == "alice@example.com"


def test_change_refuses_a_wrong_password(logged_in, mailoutbox):
    before = snapshot()

    assert_error(api_request_change(logged_in, NEW, "wrong"), 400, "wrong_password")

    assert snapshot() == before
    assert mailoutbox == []


def test_change_locks_out_after_too_many_wrong_passwords(logged_in, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 3, "REAUTH_LOCKOUT": 600}
    for _ in range(2):
        assert_error(api_request_change(logged_in, NEW, "wrong"), 400, "wrong_password")

    response = api_request_change(logged_in, NEW, "wrong")

    assert_error(response, 429, "locked_out")
    assert response["Retry-After"] == "600"
    # Even the right password is refused until the lockout ends.
    response = api_request_change(logged_in, NEW)
    assert_error(response, 429, "locked_out")
    assert 1 <= int(response["Retry-After"]) <= 600
    assert EmailChange.objects.count() == 0
    assert mailoutbox == []


def test_change_lockout_ends_after_its_time(logged_in, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 1, "REAUTH_LOCKOUT": 600}
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert_error(api_request_change(logged_in, NEW, "wrong"), 429, "locked_out")
        clock.shift(601)
        assert api_request_change(logged_in, NEW).status_code == 202


def test_change_again_within_the_cooldown_is_throttled(logged_in, mailoutbox):
    api_request_change(logged_in, NEW)

    response = api_request_change(logged_in, NEW)

    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    # Seconds for machines, words for people.
    assert response.json()["detail"] == "We sent you a link a moment ago. Try again in 1 minute."
    assert EmailChange.objects.get().new_email == NEW
    assert len(mailoutbox) == 1


def test_change_when_the_mail_server_fails_is_kept_for_a_resend(
    logged_in, anonymous, mailoutbox, settings
):
    use_mail_backend(settings, REFUSING)

    assert_error(api_request_change(logged_in, NEW), 503, "delivery_failed")

    change = EmailChange.objects.get()
    assert change.status == "awaiting_old"
    use_mail_backend(settings, LOCMEM)
    response = call(logged_in, "change-resend")
    assert response.status_code == 202
    token = token_in(mailoutbox[0], to="alice@example.com")
    assert api_confirm_change(anonymous, token).json() == {"status": "awaiting_new"}


def test_change_needs_a_login(anonymous, user, mailoutbox):
    response = api_request_change(anonymous, NEW)

    assert response.status_code in (401, 403)
    assert_error(response, response.status_code, "not_authenticated")
    assert EmailChange.objects.count() == 0


# change/confirm/ errors ----------------------------------------------------


def test_change_confirm_superseded_link_is_invalid(logged_in, anonymous, mailoutbox, settings):
    no_cooldown(settings)
    api_request_change(logged_in, NEW)
    first = token_in(mailoutbox[0])
    api_request_change(logged_in, "third@example.com")

    assert_error(api_confirm_change(anonymous, first), 400, "invalid_token")
    assert EmailChange.objects.pending().get().new_email == "third@example.com"


def test_change_confirm_of_a_taken_address_is_a_conflict(
    logged_in, user, make_user, anonymous, mailoutbox
):
    api_request_change(logged_in, NEW)
    api_confirm_change(anonymous, token_in(mailoutbox[0]))
    new_token = token_in(mailoutbox[1], to=NEW)
    make_user("mallory", NEW)

    assert_error(api_confirm_change(anonymous, new_token), 409, "email_taken")

    user.refresh_from_db()
    assert email_of(user) == "alice@example.com"
    assert EmailChange.objects.get().status == "awaiting_new"


def test_change_confirm_old_step_of_a_taken_address_is_a_conflict(
    logged_in, user, make_user, anonymous, mailoutbox
):
    api_request_change(logged_in, NEW)
    old_token = token_in(mailoutbox[0])
    make_user("mallory", NEW)
    before = snapshot()

    assert_error(api_confirm_change(anonymous, old_token), 409, "email_taken")

    assert snapshot() == before
    assert len(mailoutbox) == 1


def test_change_confirm_expired_link(logged_in, anonymous, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"LINK_MAX_AGE": 3600}
    api_request_change(logged_in, NEW)
    token = token_in(mailoutbox[0])
    before = snapshot()

    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=3605)):
        assert_error(api_confirm_change(anonymous, token), 410, "expired_token")

    assert snapshot() == before


def test_change_confirm_after_a_password_change_is_invalid(logged_in, user, anonymous, mailoutbox):
    api_request_change(logged_in, NEW)
    token = token_in(mailoutbox[0])
    user.set_password("a new password")
    user.save()

    assert_error(api_confirm_change(anonymous, token), 400, "invalid_token")
    assert EmailChange.objects.get().status == "awaiting_old"


def test_change_confirm_when_the_mail_server_fails_keeps_the_step(
    logged_in, anonymous, mailoutbox, settings
):
    no_cooldown(settings)
    api_request_change(logged_in, NEW)
    old_token = token_in(mailoutbox[0])
    use_mail_backend(settings, REFUSING)

    assert_error(api_confirm_change(anonymous, old_token), 503, "delivery_failed")

    # The old address's confirmation is recorded: a resend sends the new link.
    assert EmailChange.objects.get().status == "awaiting_new"
    use_mail_backend(settings, LOCMEM)
    assert call(logged_in, "change-resend").json() == {"status": "awaiting_new"}
    new_token = token_in(mailoutbox[1], to=NEW)
    assert api_confirm_change(anonymous, new_token).json() == {"status": "completed"}


def test_change_completion_with_failing_notices_is_a_503_that_says_it_is_done(
    logged_in, user, anonymous, mailoutbox, settings
):
    no_cooldown(settings)
    api_request_change(logged_in, NEW)
    api_confirm_change(anonymous, token_in(mailoutbox[0]))
    new_token = token_in(mailoutbox[1], to=NEW)
    use_mail_backend(settings, REFUSING)

    response = api_confirm_change(anonymous, new_token)

    assert_error(response, 503, "delivery_failed")
    assert NEW in response.json()["detail"]
    user.refresh_from_db()
    assert email_of(user) == NEW
    assert EmailChange.objects.get().status == "completed"


def test_change_confirm_needs_no_login_nor_csrf(logged_in, user, mailoutbox):
    api_request_change(logged_in, NEW)
    phone = Client(enforce_csrf_checks=True)

    response = api_confirm_change(phone, token_in(mailoutbox[0]))

    assert response.status_code == 200


# change/resend/ -------------------------------------------------------------


def test_resend_sends_a_new_link_and_the_old_one_stops_working(
    logged_in, anonymous, mailoutbox, settings
):
    no_cooldown(settings)
    api_request_change(logged_in, NEW)
    first = token_in(mailoutbox[0])

    response = call(logged_in, "change-resend")

    assert response.status_code == 202
    assert response.json() == {"status": "awaiting_old"}
    second = token_in(mailoutbox[1], to="alice@example.com")
    assert_error(api_confirm_change(anonymous, first), 400, "invalid_token")
    assert api_confirm_change(anonymous, second).json() == {"status": "awaiting_new"}


def test_resend_without_a_change(logged_in, mailoutbox):
    assert_error(call(logged_in, "change-resend"), 404, "no_pending_change")
    assert mailoutbox == []


def test_resend_within_the_cooldown_is_throttled(logged_in, mailoutbox):
    api_request_change(logged_in, NEW)

    response = call(logged_in, "change-resend")

    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert len(mailoutbox) == 1
    assert EmailChange.objects.get().link_generation == 1


def test_resend_needs_a_login(anonymous, user):
    response = call(anonymous, "change-resend")
    assert_error(response, response.status_code, "not_authenticated")


# change/cancel/ -------------------------------------------------------------


def test_cancel_closes_the_change_and_its_links(logged_in, anonymous, mailoutbox):
    api_request_change(logged_in, NEW)
    token = token_in(mailoutbox[0])

    response = call(logged_in, "change-cancel")

    assert response.status_code == 200
    assert response.json() == {"status": "cancelled"}
    assert EmailChange.objects.get().status == "cancelled"
    assert_error(api_confirm_change(anonymous, token), 400, "invalid_token")
    assert_error(call(logged_in, "change-resend"), 404, "no_pending_change")


def test_cancel_without_a_change(logged_in):
    assert_error(call(logged_in, "change-cancel"), 404, "no_pending_change")


def test_cancel_needs_a_login(anonymous, user, logged_in):
    api_request_change(logged_in, NEW)

    response = call(anonymous, "change-cancel")

    assert_error(response, response.status_code, "not_authenticated")
    assert EmailChange.objects.get().status == "awaiting_old"


def test_password_is_checked_through_the_same_attempt_counter(logged_in, settings):
    # A right password resets the count, as on the HTML form.
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 2, "RESEND_COOLDOWN": 0}
    assert_error(api_request_change(logged_in, NEW, "wrong"), 400, "wrong_password")
    assert api_request_change(logged_in, NEW, PASSWORD).status_code == 202
    assert_error(api_request_change(logged_in, NEW, "wrong"), 400, "wrong_password")


WRONG = "not-the-password-at-all"


def test_the_api_keeps_seconds_in_retry_after_and_words_in_the_detail(logged_in, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 1, "REAUTH_LOCKOUT": 900}

    response = api_request_change(logged_in, password=WRONG)

    body = assert_error(response, 429, "locked_out")
    assert response["Retry-After"] == "900"
    assert body["detail"] == "Too many wrong passwords. Try again in 15 minutes."


def test_the_api_says_the_tries_left(logged_in, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 5}
    body = assert_error(api_request_change(logged_in, password=WRONG), 400, "wrong_password")
    assert body["detail"] == "Your password was entered incorrectly. 4 tries left."
