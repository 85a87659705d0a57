"""The change flows (dual-link and add-email), through the HTML pages."""

import copy
import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client

from django_verified_email import flows, is_email_verified, signals
from django_verified_email.exceptions import WrongPassword
from django_verified_email.models import EmailChange, ReauthAttempts
from django_verified_email.stores import get_store
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    REVERT_PAGE,
    client_for,
    email_of,
    later,
    link_path,
    links_in,
    no_cooldown,
    reloaded,
    request_change,
    save_verified,
    url,
)

from .failing_mail import LOCMEM, REFUSING, UNREACHABLE, use_mail_backend

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows


@pytest.fixture
def heard():
    """Every signal of the app sent during the test, as (name, kwargs)."""
    names = [
        "email_change_requested",
        "email_change_old_confirmed",
        "email_changed",
        "email_change_cancelled",
        "reauthentication_failed",
        "user_locked_out",
    ]
    events = []
    receivers = {}
    for name in names:

        def receiver(sender, signal, name=name, **kwargs):
            assert sender is get_user_model()
            events.append((name, kwargs))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield events
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


# The dual-link flow ------------------------------------------------------


def test_dual_link_change_end_to_end(logged_in, user, mailoutbox):
    response = request_change(logged_in, "new@example.com")

    assert response.status_code == 302
    assert response["Location"] == url("status")
    change = EmailChange.objects.get()
    assert (change.status, change.old_email, change.new_email) == (
        "awaiting_old",
        "alice@example.com",
        "new@example.com",
    )
    [to_old] = mailoutbox
    old_link = link_path(to_old, to="alice@example.com")
    assert "new@example.com" in to_old.body
    assert email_of(reloaded(user)) == "alice@example.com"

    confirm_page = Client().get(old_link)
    assert confirm_page.status_code == 200
    assert "replace alice@example.com with new@example.com" in confirm_page.text
    assert len(mailoutbox) == 1

    one_more_step = Client().post(old_link)
    assert one_more_step.status_code == 200
    assert "Now open the link we sent to new@example.com" in one_more_step.text
    change.refresh_from_db()
    assert change.status == "awaiting_new"
    assert change.old_confirmed_at is not None
    [_, to_new] = mailoutbox
    new_link = link_path(to_new, to="new@example.com")
    stored = reloaded(user)
    assert email_of(stored) == "alice@example.com"
    assert is_email_verified(stored)

    assert Client().get(new_link).status_code == 200
    done = Client().post(new_link)

    assert done.status_code == 302
    assert done["Location"] == url("status")
    stored = reloaded(user)
    assert email_of(stored) == "new@example.com"
    assert is_email_verified(stored)
    change.refresh_from_db()
    assert change.status == "completed"
    assert change.closed_at is not None
    [_, _, completed, notice] = mailoutbox
    assert completed.to == ["new@example.com"]
    assert "new@example.com is verified and linked to your testserver account" in completed.body
    assert notice.to == ["alice@example.com"]
    assert "was changed from alice@example.com" in notice.body
    assert not links_in(completed) and not links_in(notice)
    # The session that did not complete the change ends with it
    # (LOGOUT_OTHER_SESSIONS, on by default).
    assert logged_in.get(url("status")).status_code == 302


def test_status_page_follows_the_steps(logged_in, user, mailoutbox):
    idle = logged_in.get(url("status"))
    assert "alice@example.com" in idle.text
    assert 'id="ve-pending"' not in idle.text

    request_change(logged_in, "new@example.com")
    step_one = logged_in.get(url("status"))
    assert "New address: new@example.com" in step_one.text
    assert "Step 1 of 2" in step_one.text
    assert f'action="{url("change-resend")}"' in step_one.text
    assert f'action="{url("change-cancel")}"' in step_one.text

    Client().post(link_path(mailoutbox[-1]))
    step_two = logged_in.get(url("status"))
    assert "Last step: open the link we sent to new@example.com" in step_two.text
    assert f'action="{url("change-resend")}"' in step_two.text

    Client().post(link_path(mailoutbox[-1]))
    # Completed elsewhere: this session ended with it (LOGOUT_OTHER_SESSIONS).
    finished = client_for(reloaded(user)).get(url("status"))
    assert 'id="ve-pending"' not in finished.text
    assert "new@example.com" in finished.text


def test_the_change_form_page(logged_in):
    response = logged_in.get(url("change"))

    assert response.status_code == 200
    assert 'name="new_email"' in response.text
    assert 'name="password"' in response.text
    assert "Your current address is alice@example.com" in response.text


@pytest.mark.parametrize("host_middleware", [False, True])
def test_the_password_form_is_never_framed(logged_in, settings, host_middleware):
    if host_middleware:
        # The host's own choice would let a same-origin page frame it.
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE,
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ]
        settings.X_FRAME_OPTIONS = "SAMEORIGIN"

    form = logged_in.get("/account/email/change/")
    refused = logged_in.post("/account/email/change/", {"new_email": "x", "password": "wrong"})

    assert form["X-Frame-Options"] == "DENY"
    assert refused.status_code == 200
    assert refused["X-Frame-Options"] == "DENY"


def test_pages_need_a_login(db):
    for name in ("status", "change"):
        response = Client().get(url(name))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    for name in ("change", "change-resend", "change-cancel"):
        assert Client().post(url(name)).status_code == 302
    assert not EmailChange.objects.exists()


def test_success_url_setting(logged_in, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"SUCCESS_URL": "/done/"}
    request_change(logged_in, "new@example.com")
    Client().post(link_path(mailoutbox[-1]))

    response = Client().post(link_path(mailoutbox[-1]))

    assert response.status_code == 302
    assert response["Location"] == "/done/"


def test_notify_old_email_off_sends_no_notice(logged_in, user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"NOTIFY_OLD_EMAIL": False}
    request_change(logged_in, "new@example.com")
    Client().post(link_path(mailoutbox[-1]))
    Client().post(link_path(mailoutbox[-1]))

    assert [message.to for message in mailoutbox] == [
        ["alice@example.com"],
        ["new@example.com"],
        ["new@example.com"],
    ]
    assert email_of(reloaded(user)) == "new@example.com"


# The add-email flow -------------------------------------------------------


@pytest.mark.parametrize("old_address", ["unverified@example.com", ""])
def test_add_email_flow_sends_one_link_to_the_new_address(make_user, mailoutbox, old_address):
    user = make_user(email=old_address, verified=False)
    client = client_for(user)

    response = request_change(client, "new@example.com")

    assert response.status_code == 302
    change = EmailChange.objects.get()
    assert change.status == "awaiting_new"
    assert change.old_email == old_address
    [message] = mailoutbox
    link = link_path(message, to="new@example.com")
    assert email_of(reloaded(user)) == old_address

    assert Client().post(link).status_code == 302

    stored = reloaded(user)
    assert email_of(stored) == "new@example.com"
    assert is_email_verified(stored)
    # An unverified old address hears of it too, with the way back (it may
    # be the owner's mailbox from before the app was adopted); a blank one
    # has nobody to tell.
    expected = [["new@example.com"], ["new@example.com"]]
    if old_address:
        expected.append([old_address])
        assert links_in(mailoutbox[-1], REVERT_PAGE)
    assert [m.to for m in mailoutbox] == expected
    assert EmailChange.objects.get().status == "completed"


def test_status_page_for_the_add_email_flow(make_user):
    client = client_for(make_user(email="", verified=False))
    assert "Add an email address" in client.get(url("status")).text

    request_change(client, "new@example.com")

    page = client.get(url("status"))
    assert "Last step: open the link we sent to new@example.com" in page.text


# Supersede, cancel, resend -------------------------------------------------


def test_a_new_request_supersedes_the_open_change(logged_in, mailoutbox, settings):
    no_cooldown(settings)
    request_change(logged_in, "first@example.com")
    first_link = link_path(mailoutbox[-1])

    request_change(logged_in, "second@example.com")

    assert EmailChange.objects.pending().count() == 1
    first, second = EmailChange.objects.order_by("pk")
    assert (first.status, first.new_email) == ("superseded", "first@example.com")
    assert first.closed_at is not None
    assert (second.status, second.new_email) == ("awaiting_old", "second@example.com")
    assert Client().post(first_link).status_code == 400
    assert Client().post(link_path(mailoutbox[-1])).status_code == 200
    assert mailoutbox[-1].to == ["second@example.com"]


def test_a_new_request_supersedes_a_change_waiting_for_the_new_address(
    logged_in, mailoutbox, settings
):
    no_cooldown(settings)
    request_change(logged_in, "first@example.com")
    Client().post(link_path(mailoutbox[-1]))
    waiting_link = link_path(mailoutbox[-1], to="first@example.com")

    request_change(logged_in, "second@example.com")

    assert Client().post(waiting_link).status_code == 400
    assert EmailChange.objects.pending().get().new_email == "second@example.com"


def test_cancel(logged_in, user, mailoutbox, heard):
    request_change(logged_in, "new@example.com")
    link = link_path(mailoutbox[-1])

    response = logged_in.post(url("change-cancel"))

    assert response.status_code == 302
    change = EmailChange.objects.get()
    assert change.status == "cancelled"
    assert change.closed_at is not None
    assert Client().post(link).status_code == 400
    assert email_of(reloaded(user)) == "alice@example.com"
    assert "Change in progress" not in logged_in.get(url("status")).text
    assert [name for name, _ in heard] == ["email_change_requested", "email_change_cancelled"]
    assert heard[1][1]["change"].pk == change.pk
    assert len(mailoutbox) == 1


def test_cancel_and_resend_without_an_open_change_answer_404(logged_in, mailoutbox):
    assert logged_in.post(url("change-cancel")).status_code == 404
    response = logged_in.post(url("change-resend"))
    assert response.status_code == 404
    assert 'data-code="no_pending_change"' in response.text
    assert mailoutbox == []


def test_resend_respects_the_cooldown(logged_in, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 90}
    request_change(logged_in, "new@example.com")

    throttled = logged_in.post(url("change-resend"))

    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 90
    assert 'data-code="throttled"' in throttled.text
    assert len(mailoutbox) == 1
    assert EmailChange.objects.get().link_generation == 1

    with later(91):
        assert logged_in.post(url("change-resend")).status_code == 302
    assert len(mailoutbox) == 2
    assert mailoutbox[-1].to == ["alice@example.com"]


def test_a_second_request_within_the_cooldown_is_throttled(logged_in, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 60}
    request_change(logged_in, "first@example.com")

    response = request_change(logged_in, "first@example.com")

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    # The open change is untouched: not superseded by a request that was refused.
    assert EmailChange.objects.get().new_email == "first@example.com"
    assert EmailChange.objects.get().status == "awaiting_old"
    assert Client().post(link_path(mailoutbox[-1])).status_code == 200


def test_resend_sends_the_link_of_the_current_step(logged_in, mailoutbox, settings):
    no_cooldown(settings)
    request_change(logged_in, "new@example.com")
    Client().post(link_path(mailoutbox[-1]))

    logged_in.post(url("change-resend"))

    [*_, first_new, resent] = mailoutbox
    assert resent.to == ["new@example.com"]
    assert Client().post(link_path(first_new)).status_code == 400
    assert Client().post(link_path(resent)).status_code == 302


# Re-authentication ----------------------------------------------------------


def test_wrong_password_is_a_form_error(logged_in, mailoutbox, heard):
    response = request_change(logged_in, "new@example.com", password="wrong")

    assert response.status_code == 200
    assert "Your password was entered incorrectly." in response.text
    assert not EmailChange.objects.exists()
    assert mailoutbox == []
    assert heard == [("reauthentication_failed", {"user": heard[0][1]["user"], "attempts": 1})]


def test_lockout_after_too_many_wrong_passwords(logged_in, user, mailoutbox, heard, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 3, "REAUTH_LOCKOUT": 600}
    for _ in range(2):
        assert request_change(logged_in, "new@example.com", password="wrong").status_code == 200

    locked = request_change(logged_in, "new@example.com", password="wrong")

    assert locked.status_code == 429
    assert 590 <= int(locked["Retry-After"]) <= 600
    assert 'data-code="locked_out"' in locked.text
    assert [name for name, _ in heard] == [
        "reauthentication_failed",
        "reauthentication_failed",
        "reauthentication_failed",
        "user_locked_out",
    ]
    assert heard[-1][1]["retry_after"] == 600
    assert heard[-1][1]["user"].pk == user.pk

    # The right password does not get through while locked.
    still_locked = request_change(logged_in, "new@example.com")
    assert still_locked.status_code == 429
    assert int(still_locked["Retry-After"]) <= 600

    with later(599):
        assert request_change(logged_in, "new@example.com").status_code == 429
    assert not EmailChange.objects.exists()
    assert mailoutbox == []

    with later(601):
        assert request_change(logged_in, "new@example.com").status_code == 302
    assert EmailChange.objects.get().status == "awaiting_old"
    assert len(mailoutbox) == 1


def test_a_locked_account_hears_of_its_lock_whatever_address_it_types(logged_in, user, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 1, "REAUTH_LOCKOUT": 600}
    assert request_change(logged_in, "new@example.com", password="wrong").status_code == 429
    attempts = ReauthAttempts.objects.get(user=user)

    invalid = request_change(logged_in, "root@localhost")  # refused by the flow, not the form
    valid = request_change(logged_in, "new@example.com")

    assert invalid.status_code == valid.status_code == 429
    assert 'data-code="locked_out"' in invalid.text
    # Refused before its password is checked: no attempt spent, the lock unmoved.
    after = ReauthAttempts.objects.get(user=user)
    assert (after.count, after.locked_until) == (attempts.count, attempts.locked_until)


def test_a_right_password_resets_the_count(logged_in, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 2, "RESEND_COOLDOWN": 0}
    request_change(logged_in, "new@example.com", password="wrong")
    assert request_change(logged_in, "new@example.com").status_code == 302

    assert request_change(logged_in, "new@example.com", password="wrong").status_code == 200


def test_lockout_is_per_user(logged_in, make_user, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 1}
    assert request_change(logged_in, "new@example.com", password="wrong").status_code == 429

    bob = client_for(make_user(username="bob", email="bob@example.com"))
    assert request_change(bob, "bob2@example.com").status_code == 302


# Addresses -------------------------------------------------------------------


@pytest.mark.parametrize("same", ["alice@example.com", "ALICE@Example.COM", " alice@example.com "])
def test_same_email_is_a_form_error(logged_in, mailoutbox, same):
    response = request_change(logged_in, same)

    assert response.status_code == 200
    assert "This is already your email address." in response.text
    assert not EmailChange.objects.exists()
    assert mailoutbox == []


@pytest.mark.parametrize("taken", ["bob@example.com", "BOB@example.com", "Bob@EXAMPLE.com"])
def test_a_taken_address_is_a_form_error(logged_in, make_user, mailoutbox, taken):
    make_user(username="bob", email="bob@example.com")

    response = request_change(logged_in, taken)

    assert response.status_code == 200
    assert "already used by another account" in response.text
    assert not EmailChange.objects.exists()
    assert mailoutbox == []


def test_hidden_taken_address_in_the_dual_link_flow(logged_in, make_user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"REVEAL_TAKEN_EMAIL": False}
    bob = make_user(username="bob", email="bob@example.com")
    normal = request_change(client_for(make_user("carol", "carol@example.com")), "c2@example.com")

    response = request_change(logged_in, "BOB@example.com")

    # To the requester it looks like any accepted request.
    assert response.status_code == normal.status_code == 302
    assert response["Location"] == normal["Location"]
    to_old = mailoutbox[-1]
    assert to_old.to == ["alice@example.com"]

    assert Client().post(link_path(to_old)).status_code == 200

    notice = mailoutbox[-1]
    assert notice.to == ["BOB@example.com"]
    assert "Someone asked to use this address for another testserver account" in notice.body
    assert not links_in(notice)
    assert all(message.to != ["bob@example.com"] or not links_in(message) for message in mailoutbox)
    assert email_of(reloaded(bob)) == "bob@example.com"


def test_hidden_taken_address_in_the_add_email_flow(make_user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"REVEAL_TAKEN_EMAIL": False}
    make_user(username="bob", email="bob@example.com")
    alice = make_user(verified=False)

    response = request_change(client_for(alice), "bob@example.com")

    assert response.status_code == 302
    [notice] = mailoutbox
    assert notice.to == ["bob@example.com"]
    assert notice.subject == "testserver: Someone tried to use your email address"
    assert not links_in(notice)
    assert email_of(reloaded(alice)) == "alice@example.com"


def test_address_taken_before_completion_answers_409(logged_in, user, make_user, mailoutbox):
    request_change(logged_in, "new@example.com")
    Client().post(link_path(mailoutbox[-1]))
    new_link = link_path(mailoutbox[-1], to="new@example.com")
    make_user(username="bob", email="New@Example.com")

    response = Client().post(new_link)

    assert response.status_code == 409
    assert 'data-code="email_taken"' in response.text
    stored = reloaded(user)
    assert email_of(stored) == "alice@example.com"
    assert is_email_verified(stored)
    assert EmailChange.objects.get().status == "awaiting_new"
    assert len(mailoutbox) == 2


def test_address_taken_before_the_old_step_answers_409(logged_in, user, make_user, mailoutbox):
    request_change(logged_in, "new@example.com")
    old_link = link_path(mailoutbox[-1])
    make_user(username="bob", email="new@example.com")

    response = Client().post(old_link)

    assert response.status_code == 409
    assert email_of(reloaded(user)) == "alice@example.com"
    assert EmailChange.objects.get().status == "awaiting_old"
    assert len(mailoutbox) == 1


@pytest.mark.hardening
def test_the_old_address_link_goes_to_the_address_the_account_has_under_the_lock(user, mailoutbox):
    # The request's user was loaded before another request changed the
    # address: the first link must go to the account's address, not the
    # one it had when this request began.
    stale = reloaded(user)
    moved = reloaded(user)
    moved.email_address = "moved@example.com"
    save_verified(moved)

    change = flows.request_change(stale, "new@example.com", PASSWORD, base_url=BASE_URL)

    assert change.old_email == "moved@example.com"
    assert mailoutbox[-1].to == ["moved@example.com"]


# Links and hosts ---------------------------------------------------------------


def test_base_url_setting_is_used_for_every_link(logged_in, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"BASE_URL": "https://accounts.example.org/"}
    request_change(logged_in, "new@example.com", HTTP_HOST="example.com")
    Client().post(link_path(mailoutbox[-1]), HTTP_HOST="example.com")

    for message in mailoutbox:
        [link] = links_in(message)
        assert link.startswith("https://accounts.example.org/account/email/change/confirm/")


def test_request_host_is_used_without_base_url(logged_in, mailoutbox):
    request_change(logged_in, "new@example.com", HTTP_HOST="example.com", secure=True)
    Client().post(link_path(mailoutbox[-1]), HTTP_HOST="example.com", secure=True)

    for message in mailoutbox:
        [link] = links_in(message)
        assert link.startswith("https://example.com/account/email/change/confirm/")


def test_a_host_not_in_allowed_hosts_gets_400_and_sends_nothing(logged_in, mailoutbox):
    response = request_change(logged_in, "new@example.com", HTTP_HOST="evil.example.net")

    assert response.status_code == 400
    assert not EmailChange.objects.exists()
    assert mailoutbox == []


def test_a_forged_host_on_the_confirm_step_sends_nothing(logged_in, mailoutbox):
    request_change(logged_in, "new@example.com")

    response = Client().post(link_path(mailoutbox[-1]), HTTP_HOST="evil.example.net")

    assert response.status_code == 400
    assert EmailChange.objects.get().status == "awaiting_old"
    assert len(mailoutbox) == 1


@pytest.mark.hardening
def test_base_url_keeps_links_on_the_site_whatever_host_the_request_names(
    settings, user, mailoutbox
):
    # Why W004 exists: without BASE_URL, links take the request's host, and
    # ALLOWED_HOSTS = ["*"] lets the requester name any.
    settings.ALLOWED_HOSTS = ["*"]

    request_change(client_for(user), "new@example.com", HTTP_HOST="evil.example.net")

    assert "://evil.example.net/" in mailoutbox[-1].body
    settings.VERIFIED_EMAIL = {"BASE_URL": "https://example.com", "RESEND_COOLDOWN": 0}
    request_change(client_for(user), "new@example.com", HTTP_HOST="evil.example.net")
    assert "evil.example.net" not in mailoutbox[-1].body


def test_change_link_pages_are_private_and_load_nothing_from_elsewhere(logged_in, mailoutbox):
    from .test_verify import OTHER_ORIGIN

    request_change(logged_in, "new@example.com")
    link = link_path(mailoutbox[-1])
    responses = [Client().get(link), Client().post(link), Client().post(link)]
    responses.append(Client().post(link_path(mailoutbox[-1]), follow=False))
    with later(2 * 86400):
        responses.append(logged_in.get(link))

    assert [response.status_code for response in responses] == [200, 200, 400, 302, 400]
    for response in responses:
        assert response["Referrer-Policy"] == "no-referrer"
        assert "no-store" in response["Cache-Control"]
        assert not OTHER_ORIGIN.search(response.text)


# Signals -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_change_signals_fire_after_commit_with_their_arguments(make_user):
    user = make_user()
    client = client_for(user)
    from django.core import mail

    events = []

    def receiver(sender, signal, **kwargs):
        events.append((signal, kwargs, connection.in_atomic_block, reloaded(user)))

    watched = [
        signals.email_change_requested,
        signals.email_change_old_confirmed,
        signals.email_changed,
    ]
    for signal in watched:
        signal.connect(receiver)
    try:
        request_change(client, "new@example.com")
        Client().post(link_path(mail.outbox[-1]))
        Client().post(link_path(mail.outbox[-1]))
    finally:
        for signal in watched:
            signal.disconnect(receiver)

    assert [signal for signal, *_ in events] == watched
    change = EmailChange.objects.get()
    for _signal, kwargs, in_transaction, _stored in events:
        assert kwargs["user"].pk == user.pk
        assert kwargs["change"].pk == change.pk
        assert not in_transaction
    assert events[0][1]["change"].status == "awaiting_old"
    assert events[1][1]["change"].status == "awaiting_new"
    changed = events[2][1]
    assert (changed["old_email"], changed["new_email"]) == ("alice@example.com", "new@example.com")
    # The receiver of email_changed reads the committed new address.
    assert email_of(events[2][3]) == "new@example.com"


@pytest.mark.hardening
def test_a_failing_receiver_does_not_turn_a_completed_change_into_an_error(user, mailoutbox):
    browser = client_for(user)
    request_change(browser, "new@example.com")
    browser.post(link_path(mailoutbox[-1]))

    def failing(**kwargs):
        raise RuntimeError("the host's webhook is down")

    signals.email_changed.connect(failing)
    try:
        key = browser.session.session_key
        response = browser.post(link_path(mailoutbox[-1]))
    finally:
        signals.email_changed.disconnect(failing)

    assert response.status_code == 302
    assert email_of(reloaded(user)) == "new@example.com"
    assert browser.session.session_key != key
    assert EmailChange.objects.get().status == EmailChange.Status.COMPLETED


# Delivery failures (DELIVERY = "sync") -------------------------------------------


@pytest.mark.parametrize("backend", [REFUSING, UNREACHABLE])
def test_a_failed_change_request_is_kept_and_resent_at_once(
    logged_in, user, settings, mailoutbox, backend, caplog
):
    use_mail_backend(settings, backend)

    with caplog.at_level(logging.ERROR, logger="django_verified_email"):
        failed = request_change(logged_in, "new@example.com")

    assert failed.status_code == 503
    assert 'data-code="delivery_failed"' in failed.text
    assert EmailChange.objects.get().status == "awaiting_old"
    assert mailoutbox == []
    # The log names the kind of message, never its link.
    assert "change_confirm_old" in caplog.text
    assert "/confirm/" not in caplog.text

    use_mail_backend(settings, LOCMEM)
    assert logged_in.post(url("change-resend")).status_code == 302
    assert Client().post(link_path(mailoutbox[-1], to="alice@example.com")).status_code == 200
    assert Client().post(link_path(mailoutbox[-1], to="new@example.com")).status_code == 302
    assert email_of(reloaded(user)) == "new@example.com"


def test_a_failed_add_email_request_is_kept_and_resent_at_once(make_user, settings, mailoutbox):
    client = client_for(make_user(verified=False))
    use_mail_backend(settings, REFUSING)

    assert request_change(client, "new@example.com").status_code == 503
    assert EmailChange.objects.get().status == "awaiting_new"

    use_mail_backend(settings, LOCMEM)
    assert client.post(url("change-resend")).status_code == 302
    assert Client().post(link_path(mailoutbox[-1], to="new@example.com")).status_code == 302


def test_a_failed_send_after_the_old_step_is_kept_and_resent_at_once(
    logged_in, user, settings, mailoutbox
):
    request_change(logged_in, "new@example.com")
    old_link = link_path(mailoutbox[-1])
    use_mail_backend(settings, UNREACHABLE)

    failed = Client().post(old_link)

    assert failed.status_code == 503
    assert failed["Referrer-Policy"] == "no-referrer"
    assert EmailChange.objects.get().status == "awaiting_new"
    assert len(mailoutbox) == 1

    use_mail_backend(settings, LOCMEM)
    # The request's cooldown has passed by the time the user asks again.
    with later(61):
        assert logged_in.post(url("change-resend")).status_code == 302
        assert Client().post(link_path(mailoutbox[-1], to="new@example.com")).status_code == 302
    assert email_of(reloaded(user)) == "new@example.com"


def test_a_failed_resend_hands_the_cooldown_back(logged_in, settings, mailoutbox):
    request_change(logged_in, "new@example.com")
    use_mail_backend(settings, REFUSING)

    with later(61):
        assert logged_in.post(url("change-resend")).status_code == 503
        use_mail_backend(settings, LOCMEM)
        assert logged_in.post(url("change-resend")).status_code == 302
        assert Client().post(link_path(mailoutbox[-1])).status_code == 200


def test_a_completed_change_survives_failing_notices(logged_in, user, settings, mailoutbox, heard):
    request_change(logged_in, "new@example.com")
    Client().post(link_path(mailoutbox[-1]))
    new_link = link_path(mailoutbox[-1])
    use_mail_backend(settings, REFUSING)

    response = Client().post(new_link)

    # The contract's 503 for a failed send, but one that says the change is done.
    assert response.status_code == 503
    assert "Your email address is now new@example.com" in response.content.decode()
    assert heard[-1][0] == "email_changed"
    stored = reloaded(user)
    assert email_of(stored) == "new@example.com"
    assert is_email_verified(stored)
    assert EmailChange.objects.get().status == "completed"


def broken_template(settings, tmp_path, kind):
    """A host override of one email template that fails to render."""
    folder = tmp_path / "verified_email" / "email"
    folder.mkdir(parents=True)
    (folder / f"{kind}.html").write_text(
        '{% extends "verified_email/email/base.html" %}'
        "{% block subject %}{% url 'no-such-view' %}{% endblock %}"
    )
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [str(tmp_path)]
    settings.TEMPLATES = templates


@pytest.mark.hardening
def test_a_broken_completed_template_still_sends_the_old_address_its_way_back(
    settings, tmp_path, user, mailoutbox
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    browser = client_for(user)
    request_change(browser, "new@example.com")
    browser.post(link_path(mailoutbox[-1]))
    broken_template(settings, tmp_path, "change_completed")
    changed = []

    def receiver(**kwargs):
        changed.append(kwargs["new_email"])

    signals.email_changed.connect(receiver)
    try:
        key = browser.session.session_key
        response = browser.post(link_path(mailoutbox[-1]))
    finally:
        signals.email_changed.disconnect(receiver)

    assert email_of(reloaded(user)) == "new@example.com"
    # The notice with the "this wasn't me" link went out all the same ...
    assert any(links_in(m, REVERT_PAGE) for m in mailoutbox if m.to == ["alice@example.com"])
    # ... the host heard of the change, and the page says it is done.
    assert changed == ["new@example.com"]
    assert response.status_code == 503
    assert "Your email address is now new@example.com" in response.content.decode()
    # The session key the change was made under is worth nothing any more
    # (Django saves no session on a 5xx, so the renewal ends it instead).
    assert not SessionStore().exists(key)


@pytest.fixture
def atomic_requests(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)


def test_under_atomic_requests_the_flow_works(
    atomic_requests, logged_in, user, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert request_change(logged_in, "new@example.com").status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert Client().post(link_path(mailoutbox[-1])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert Client().post(link_path(mailoutbox[-1])).status_code == 302

    assert email_of(reloaded(user)) == "new@example.com"
    assert [m.to for m in mailoutbox] == [
        ["alice@example.com"],
        ["new@example.com"],
        ["new@example.com"],
        ["alice@example.com"],
    ]


def test_under_atomic_requests_a_mail_failure_is_no_500(
    atomic_requests, logged_in, user, settings, mailoutbox, django_capture_on_commit_callbacks
):
    use_mail_backend(settings, UNREACHABLE)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = request_change(logged_in, "new@example.com")

    assert callbacks
    assert response.status_code == 302
    assert EmailChange.objects.get().status == "awaiting_old"
    assert mailoutbox == []

    # The failure could not reach the request, so the cooldown stands; once
    # it is over, a resend delivers a working link.
    use_mail_backend(settings, LOCMEM)
    with later(61):
        with django_capture_on_commit_callbacks(execute=True):
            assert logged_in.post(url("change-resend")).status_code == 302
        assert Client().post(link_path(mailoutbox[-1])).status_code == 200


def test_under_atomic_requests_flow_errors_roll_back_cleanly(
    atomic_requests, logged_in, make_user, mailoutbox, django_capture_on_commit_callbacks
):
    request_change(logged_in, "new@example.com")  # nothing sent: outer commit never came
    make_user(username="bob", email="bob@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        assert request_change(logged_in, "bob@example.com").status_code == 200
        assert request_change(logged_in, "x@example.com", password="bad").status_code == 200
        assert logged_in.post(url("change-cancel")).status_code == 302
        assert logged_in.post(url("change-cancel")).status_code == 404

    assert EmailChange.objects.get().status == "cancelled"


def test_the_password_is_checked_with_the_users_hasher(logged_in, user):
    assert reloaded(user).check_password(PASSWORD)
    assert request_change(logged_in, "new@example.com", password=PASSWORD + " ").status_code == 200


def test_an_account_deleted_during_its_request_is_refused_cleanly(user, monkeypatch, mailoutbox):
    # Deleted between the password check and the lock: the password opens
    # nothing any more, and nothing is written or sent.
    store = get_store()
    locking = store.lock_user

    def deleted_first(pk):
        get_user_model()._default_manager.filter(pk=pk).delete()
        return locking(pk)

    monkeypatch.setattr(store, "lock_user", deleted_first)

    with pytest.raises(WrongPassword):
        flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)

    assert not EmailChange.objects.exists()
    assert mailoutbox == []
