"""A revert is immediate only with a password the account had; without one it waits (M3, N1).

The old mailbox alone may be someone else's by now (the reason many people
move away from it): its "this wasn't me" link schedules the revert, the new
address can keep the change, and nothing ends before the wait is over.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from django_verified_email import flows, is_email_verified, signals
from django_verified_email.models import EmailChange, PasswordHash, ReauthAttempts
from tests.helpers import (
    BASE_URL,
    KEEP_PAGE,
    PASSWORD,
    SET_PASSWORD_PAGE,
    api_request_change,
    assert_error,
    call,
    can_log_in,
    client_for,
    complete_dual_change,
    email_of,
    is_logged_in,
    later,
    links_in,
    reloaded,
    request_change,
    revert_path,
    revert_token_in,
    token_in,
    with_new_password,
)

pytestmark = pytest.mark.hardening

DELAY = 604800  # the default RECOVERY_DELAY: 7 days
OWNER = "alice@example.com"
TAKER = "mallory@example.com"
TAKERS_PASSWORD = "the taker's own passphrase 42"


@pytest.fixture
def reverted_events():
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    signals.email_change_reverted.connect(receiver)
    yield events
    signals.email_change_reverted.disconnect(receiver)


@pytest.fixture
def taken_over(user, mailoutbox, settings):
    """The address moved to mallory@ by the dual-link flow; returns the revert token."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    return revert_token_in(complete_dual_change(user, TAKER, mailoutbox))


def sent_to(mailoutbox, address, since=0):
    return [message for message in mailoutbox[since:] if message.to == [address]]


def keep_token(mailoutbox, since=0):
    [keep] = [m for m in sent_to(mailoutbox, TAKER, since) if links_in(m, KEEP_PAGE)]
    return token_in(keep, pages=KEEP_PAGE)


def keep_path(token):
    return f"/account/email/change/keep/{token}/"


# Immediate: a password the account had --------------------------------------


def test_the_current_password_reverts_at_once_through_the_api(taken_over, user):
    response = call(Client(), "change-revert", {"token": taken_over, "password": PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["email"]) == ("reverted", OWNER)
    assert body["password_token"]
    stored = reloaded(user)
    assert email_of(stored) == OWNER
    assert not stored.has_usable_password()


def test_a_password_the_taker_replaced_before_asking_still_reverts_at_once(
    user, mailoutbox, settings, reverted_events
):
    """The taker knew the owner's password, changed it, then moved the address."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    with later(-3 * 86400):
        with_new_password(user, TAKERS_PASSWORD)
    taker = reloaded(user)
    sent = len(mailoutbox)
    flows.request_change(taker, TAKER, TAKERS_PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    [notice] = [m for m in sent_to(mailoutbox, OWNER, sent) if links_in(m, ("change/revert",))]
    # And once more after the change, for good measure.
    with_new_password(user, "yet another passphrase 77")

    response = Client().post(
        revert_path(revert_token_in(notice)), {"password": PASSWORD}, follow=False
    )

    assert response.status_code == 200
    assert 'name="new_password1"' in response.text
    assert email_of(reloaded(user)) == OWNER
    assert len(reverted_events) == 1


def test_a_password_replaced_before_the_window_does_not_count(user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    with later(-(DELAY + 86400)):
        with_new_password(user, TAKERS_PASSWORD)
    token = revert_token_in(complete_dual_change_with(user, TAKERS_PASSWORD, mailoutbox))

    response = call(Client(), "change-revert", {"token": token, "password": PASSWORD})

    assert response.status_code == 202
    assert email_of(reloaded(user)) == TAKER


def complete_dual_change_with(user, password, mailoutbox):
    sent = len(mailoutbox)
    flows.request_change(reloaded(user), TAKER, password, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    [notice] = [m for m in sent_to(mailoutbox, OWNER, sent) if links_in(m, ("change/revert",))]
    return notice


def test_a_hash_changed_outside_any_save_hook_is_still_known_from_the_request(
    user, mailoutbox, settings
):
    """``QuerySet.update`` sends no signal: the hash kept at request time still proves it."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    token = revert_token_in(complete_dual_change(user, TAKER, mailoutbox))
    taker = reloaded(user)
    taker.set_password(TAKERS_PASSWORD)
    type(taker).objects.filter(pk=taker.pk).update(password=taker.password)

    response = call(Client(), "change-revert", {"token": token, "password": PASSWORD})

    assert response.status_code == 200


# Scheduled: no password, or a wrong one ---------------------------------------


def test_no_password_schedules_the_revert_and_ends_nothing(taken_over, user, mailoutbox):
    taker_session = client_for(reloaded(user))
    sent = len(mailoutbox)

    response = call(Client(), "change-revert", {"token": taken_over})

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "revert_scheduled"
    change = EmailChange.objects.get()
    assert change.revert_due_at is not None and change.reverted_at is None
    assert abs((change.revert_due_at - timezone.now()) - timedelta(seconds=DELAY)) < timedelta(
        minutes=1
    )
    assert body["completes_at"].startswith(change.revert_due_at.strftime("%Y-%m-%dT%H:%M"))
    assert "password_token" not in body
    # The click ends nothing.
    stored = reloaded(user)
    assert email_of(stored) == TAKER
    assert stored.has_usable_password()
    assert is_logged_in(taker_session)
    assert can_log_in(user)
    # The new address can keep the change; the old one hears when it completes.
    assert keep_token(mailoutbox, sent)
    [scheduled] = sent_to(mailoutbox, OWNER, sent)
    assert "will be undone on" in scheduled.body
    assert not links_in(scheduled, SET_PASSWORD_PAGE)


def test_a_wrong_password_schedules_the_revert_and_counts_as_a_failed_reauthentication(
    taken_over, user, django_capture_on_commit_callbacks
):
    heard = []

    def receiver(sender, **kwargs):
        heard.append(kwargs["attempts"])

    signals.reauthentication_failed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = call(Client(), "change-revert", {"token": taken_over, "password": "guess"})
    finally:
        signals.reauthentication_failed.disconnect(receiver)

    assert response.status_code == 202
    assert heard == [1]
    assert ReauthAttempts.objects.get(user_id=user.pk).count == 1
    assert email_of(reloaded(user)) == TAKER


def test_the_html_revert_without_a_password_says_when_and_offers_no_form(taken_over, user):
    page = Client().get(revert_path(taken_over))
    assert 'name="password"' in page.text

    response = Client().post(revert_path(taken_over))

    assert response.status_code == 200
    assert "will be undone" in response.text
    assert 'name="new_password1"' not in response.text
    assert "/change/set-password/" not in response.text
    assert email_of(reloaded(user)) == TAKER


def test_a_second_click_without_a_password_keeps_the_first_schedule(taken_over, mailoutbox):
    call(Client(), "change-revert", {"token": taken_over})
    due = EmailChange.objects.get().revert_due_at
    sent = len(mailoutbox)

    with later(3600):
        again = call(Client(), "change-revert", {"token": taken_over})

    assert again.status_code == 202
    assert EmailChange.objects.get().revert_due_at == due
    assert len(mailoutbox) == sent


def test_a_password_while_the_revert_waits_reverts_at_once(taken_over, user, mailoutbox):
    call(Client(), "change-revert", {"token": taken_over})
    sent = len(mailoutbox)

    response = call(Client(), "change-revert", {"token": taken_over, "password": PASSWORD})

    assert response.status_code == 200
    assert email_of(reloaded(user)) == OWNER
    change = EmailChange.objects.get()
    assert (change.revert_scheduled_at, change.revert_due_at) == (None, None)
    # An immediate revert's confirmation: with its "set a new password" link.
    [restored] = sent_to(mailoutbox, OWNER, sent)
    assert links_in(restored, SET_PASSWORD_PAGE)


def test_the_new_address_keeps_the_change(taken_over, user, mailoutbox):
    sent = len(mailoutbox)
    call(Client(), "change-revert", {"token": taken_over})
    token = keep_token(mailoutbox, sent)

    response = call(Client(), "change-keep", {"token": token})

    assert response.status_code == 200
    assert response.json() == {"status": "revert_cancelled"}
    assert EmailChange.objects.get().revert_due_at is None
    # One-time, and nothing reverts later.
    assert_error(call(Client(), "change-keep", {"token": token}), 400, "invalid_token")
    with later(DELAY + 60):
        flows.complete_due()
    assert email_of(reloaded(user)) == TAKER


def test_the_keep_page_shows_then_keeps(taken_over, user, mailoutbox):
    sent = len(mailoutbox)
    Client().post(revert_path(taken_over))
    path = keep_path(keep_token(mailoutbox, sent))

    page = Client().get(path)
    assert page.status_code == 200
    assert 'method="post"' in page.text
    assert EmailChange.objects.get().revert_due_at is not None

    kept = Client().post(path)
    assert kept.status_code == 200
    assert EmailChange.objects.get().revert_due_at is None
    assert Client().post(path).status_code == 400


def test_a_keep_link_of_an_earlier_schedule_does_not_cancel_a_later_one(taken_over, mailoutbox):
    sent = len(mailoutbox)
    call(Client(), "change-revert", {"token": taken_over})
    first = keep_token(mailoutbox, sent)
    call(Client(), "change-keep", {"token": first})
    sent = len(mailoutbox)
    with later(60):
        call(Client(), "change-revert", {"token": taken_over})

    assert_error(call(Client(), "change-keep", {"token": first}), 400, "invalid_token")
    assert EmailChange.objects.get().revert_due_at is not None
    assert keep_token(mailoutbox, sent) != first


def test_the_scheduled_revert_completes_after_the_delay_with_a_reverts_effects(
    taken_over, user, mailoutbox, reverted_events
):
    taker_session = client_for(reloaded(user))
    call(Client(), "change-revert", {"token": taken_over})
    with later(DELAY - 60):
        assert flows.complete_due().reverted == 0
    assert email_of(reloaded(user)) == TAKER
    sent = len(mailoutbox)

    with later(DELAY + 60):
        run = flows.complete_due()

    assert run.reverted == 1
    stored = reloaded(user)
    assert email_of(stored) == OWNER
    assert is_email_verified(stored)
    assert not stored.has_usable_password()
    assert not is_logged_in(taker_session)
    assert EmailChange.objects.get().reverted_at is not None
    assert len(reverted_events) == 1
    # Both addresses are told, and no "set a new password" link is handed out.
    assert sorted(m.to[0] for m in mailoutbox[sent:]) == sorted([OWNER, TAKER])
    assert not any(links_in(m, SET_PASSWORD_PAGE) for m in mailoutbox[sent:])
    [restored] = sent_to(mailoutbox, OWNER, sent)
    assert "password reset" in restored.body
    # The revert link is used up.
    assert call(Client(), "change-revert", {"token": taken_over}).status_code == 400


def test_the_command_completes_a_due_revert(taken_over, user):
    call(Client(), "change-revert", {"token": taken_over})

    with later(DELAY + 60):
        call_command("verified_email_complete_due", "--base-url", BASE_URL, stdout=_Null())

    assert email_of(reloaded(user)) == OWNER


class _Null:
    def write(self, text):
        pass


def test_a_scheduled_revert_is_dropped_when_the_address_was_set_outside_the_flows(taken_over, user):
    call(Client(), "change-revert", {"token": taken_over})
    moved = reloaded(user)
    moved.email_address = "elsewhere@example.com"
    moved.save()

    with later(DELAY + 60):
        assert flows.complete_due().reverted == 0

    assert email_of(reloaded(user)) == "elsewhere@example.com"
    assert EmailChange.objects.get().revert_due_at is None


# While it waits, no change request ---------------------------------------------


def test_a_change_request_answers_revert_pending_while_a_revert_waits(taken_over, user):
    call(Client(), "change-revert", {"token": taken_over})
    taker = client_for(reloaded(user))

    assert_error(api_request_change(taker, "other@example.com"), 409, "revert_pending")
    page = request_change(taker, "other@example.com")
    assert page.status_code == 409
    assert not EmailChange.objects.filter(new_email="other@example.com").exists()


def test_the_change_request_works_again_once_the_change_is_kept(taken_over, user, mailoutbox):
    sent = len(mailoutbox)
    call(Client(), "change-revert", {"token": taken_over})
    call(Client(), "change-keep", {"token": keep_token(mailoutbox, sent)})

    response = api_request_change(client_for(reloaded(user)), "other@example.com")

    assert response.status_code == 202


# The pages point to the site's password reset (N1) ------------------------------


def test_the_scheduled_page_points_to_the_password_reset_when_there_is_one(taken_over, settings):
    settings.ROOT_URLCONF = "tests.api.urls_with_reset"

    response = Client().post(revert_path(taken_over))

    assert 'href="/accounts/password_reset/"' in response.text


def test_the_scheduled_page_points_to_support_without_a_password_reset(taken_over, settings):
    settings.VERIFIED_EMAIL = {"SUPPORT_URL": "https://help.example.com/"}

    response = Client().post(revert_path(taken_over))

    assert 'href="https://help.example.com/"' in response.text


def test_a_stop_points_to_the_password_reset_and_hands_out_no_form(
    logged_in, user, mailoutbox, settings
):
    settings.ROOT_URLCONF = "tests.api.urls_with_reset"
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL, old_email_lost=True)
    [notice] = sent_to(mailoutbox, OWNER)
    stop = token_in(notice, pages=("change/stop",))

    response = Client().post(f"/account/email/change/stop/{stop}/")

    assert response.status_code == 200
    assert 'name="new_password1"' not in response.text
    assert 'href="/accounts/password_reset/"' in response.text
    assert not any(links_in(m, SET_PASSWORD_PAGE) for m in mailoutbox)


# The password hashes kept for this ----------------------------------------------


def test_the_purge_deletes_the_hashes_no_revert_needs(user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    with later(-(DELAY + 86400)):
        with_new_password(user, "an old passphrase 1")
    complete_dual_change_with(user, "an old passphrase 1", mailoutbox)
    assert PasswordHash.objects.count() == 2  # the replaced one, and the one at request time

    call_command("verified_email_purge", stdout=_Null())
    # The old one is outside every window; the one of the request is needed.
    assert PasswordHash.objects.count() == 1

    with later(DELAY + 8 * 86400):
        call_command("verified_email_purge", stdout=_Null())
    assert PasswordHash.objects.count() == 0
