"""The lost-mailbox path through the API: change/ with old_email_lost, status/'s completes_at."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from django_verified_email import flows
from django_verified_email.models import EmailChange
from tests.helpers import (
    PASSWORD,
    api_confirm_change,
    assert_error,
    call,
    email_of,
    later,
    reloaded,
    stop_token_in,
    token_in,
)

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows

NEW = "alice.new@example.org"
DELAY = 604800


def ask_recovery(client, **body):
    return call(
        client,
        "change",
        {"new_email": NEW, "password": PASSWORD, "old_email_lost": True, **body},
    )


def message_to(address, mailoutbox):
    [message] = [m for m in mailoutbox if m.to == [address]]
    return message


def test_a_recovery_is_accepted_awaiting_the_new_address(logged_in, user, mailoutbox):
    response = ask_recovery(logged_in)
    assert response.status_code == 202
    assert response.json() == {"status": "awaiting_new"}
    assert token_in(message_to(NEW, mailoutbox), to=NEW)
    assert stop_token_in(message_to("alice@example.com", mailoutbox))


def test_confirming_schedules_and_status_shows_when_it_completes(
    logged_in, user, anonymous, mailoutbox
):
    ask_recovery(logged_in)
    response = api_confirm_change(anonymous, token_in(message_to(NEW, mailoutbox)))
    assert response.status_code == 200
    assert response.json() == {"status": "scheduled"}
    pending = call(logged_in, "status", method="get").json()["pending_change"]
    assert pending["status"] == "scheduled"
    assert pending["expires_at"] is None
    completes_at = parse_datetime(pending["completes_at"])
    assert abs(completes_at - (timezone.now() + timedelta(seconds=DELAY))) < timedelta(minutes=1)


def test_status_completes_a_due_change(logged_in, user, anonymous, mailoutbox):
    ask_recovery(logged_in)
    api_confirm_change(anonymous, token_in(message_to(NEW, mailoutbox)))
    with later(DELAY - 20 * 3600):
        assert flows.complete_due(base_url="http://testserver").reminded == 1
    with later(DELAY + 60):
        body = call(logged_in, "status", method="get").json()
    assert body["email"] == NEW and body["is_email_verified"] is True
    assert body["pending_change"] is None
    assert email_of(reloaded(user)) == NEW


def test_status_does_not_complete_a_change_before_its_reminder_went_out(
    logged_in, user, anonymous, mailoutbox
):
    ask_recovery(logged_in)
    api_confirm_change(anonymous, token_in(message_to(NEW, mailoutbox)))
    with later(DELAY + 60):
        body = call(logged_in, "status", method="get").json()
    assert body["pending_change"]["status"] == "scheduled"
    assert email_of(reloaded(user)) == "alice@example.com"
    # The next run reminds the old address first, and leaves it a day to act.
    with later(DELAY + 120):
        run = flows.complete_due(base_url="http://testserver")
    assert (run.completed, run.reminded) == (0, 1)
    assert [m.to for m in mailoutbox[-1:]] == [["alice@example.com"]]
    assert stop_token_in(mailoutbox[-1])
    with later(DELAY + 120 + 86400 + 60):
        body = call(logged_in, "status", method="get").json()
    assert body["pending_change"] is None
    assert email_of(reloaded(user)) == NEW


def test_old_email_lost_must_be_a_json_boolean(logged_in, mailoutbox):
    for value in ("true", 1, "yes", None):
        assert_error(ask_recovery(logged_in, old_email_lost=value), 400, "invalid_request")
    assert not EmailChange.objects.exists()
    assert mailoutbox == []


def test_the_path_off_answers_recovery_disabled(logged_in, user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RECOVERY_DELAY": None}
    assert_error(ask_recovery(logged_in), 400, "recovery_disabled")
    assert not EmailChange.objects.exists()
    assert mailoutbox == []
    # The ordinary change is still there.
    response = call(logged_in, "change", {"new_email": NEW, "password": PASSWORD})
    assert response.status_code == 202


def test_without_old_email_lost_it_is_the_dual_link_flow(logged_in, mailoutbox):
    response = ask_recovery(logged_in, old_email_lost=False)
    assert response.json() == {"status": "awaiting_old"}


def test_nothing_to_resend_while_scheduled(logged_in, anonymous, mailoutbox):
    ask_recovery(logged_in)
    api_confirm_change(anonymous, token_in(message_to(NEW, mailoutbox)))
    assert_error(call(logged_in, "change-resend"), 404, "no_pending_change")


def test_cancel_a_scheduled_change(logged_in, user, anonymous, mailoutbox):
    ask_recovery(logged_in)
    api_confirm_change(anonymous, token_in(message_to(NEW, mailoutbox)))
    assert call(logged_in, "change-cancel").json() == {"status": "cancelled"}
    with later(DELAY + 60):
        assert call(logged_in, "status", method="get").json()["email"] == "alice@example.com"


def test_the_old_address_stops_a_recovery_through_the_api(logged_in, user, anonymous, mailoutbox):
    ask_recovery(logged_in)
    api_confirm_change(anonymous, token_in(message_to(NEW, mailoutbox)))
    token = stop_token_in(message_to("alice@example.com", mailoutbox))
    response = call(anonymous, "change-stop", {"token": token})
    assert response.status_code == 200
    # No password token: the old mailbox may have changed hands (N1).
    assert response.json() == {"status": "denied"}
    stored = reloaded(user)
    assert email_of(stored) == "alice@example.com"
    assert not stored.has_usable_password()
    assert EmailChange.objects.get().status == "denied"
    assert all("/change/set-password/" not in message.body for message in mailoutbox)
    # One-time.
    assert_error(call(anonymous, "change-stop", {"token": token}), 400, "invalid_token")


def test_a_bad_stop_token_is_invalid(anonymous, user):
    assert_error(call(anonymous, "change-stop", {"token": "nope"}), 400, "invalid_token")
    assert_error(call(anonymous, "change-stop", {}), 400, "invalid_request")
