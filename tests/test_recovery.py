"""Lost old mailbox: a change confirmed by the new address alone, after a wait."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_verified_email import emails, flows, is_email_verified, signals
from django_verified_email.flows import recovery
from django_verified_email.models import EmailChange
from tests.failing_mail import LOCMEM, UNREACHABLE, use_mail_backend
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    STOP_PAGE,
    can_log_in,
    client_for,
    code_in,
    email_of,
    is_logged_in,
    later,
    link_in,
    links_in,
    move_counter,
    path_of,
    reloaded,
    revert_token_in,
    stop_token_in,
    token_in,
)

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows

DELAY = 604800  # the default RECOVERY_DELAY: 7 days
NEW = "alice.new@example.org"


def second_factor_passed(request, user):
    """A host's MFA check (RECOVERY_SECOND_FACTOR) that says yes."""
    return True


def second_factor_failed(request, user):
    return False


@pytest.fixture
def scheduled_events():
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    signals.email_change_scheduled.connect(receiver)
    yield events
    signals.email_change_scheduled.disconnect(receiver)


def ask_recovery(client, new_email=NEW, password=PASSWORD):
    return client.post(
        reverse("verified_email:change"),
        {"new_email": new_email, "password": password, "old_email_lost": "on"},
    )


def message_to(address, mailoutbox):
    [message] = [m for m in mailoutbox if m.to == [address]]
    return message


@pytest.fixture
def requested(logged_in, user, mailoutbox):
    """Alice asked for a recovery: link to the new address, notice to the old."""
    assert ask_recovery(logged_in).status_code == 302
    return EmailChange.objects.get(user=user)


@pytest.fixture
def unreminded(requested, client, mailoutbox):
    """The new address confirmed: the change waits RECOVERY_DELAY; no run sent its reminder yet."""
    token = token_in(message_to(NEW, mailoutbox), to=NEW)
    response = client.post(reverse("verified_email:change-confirm", args=[token]))
    assert response.status_code == 200
    return EmailChange.objects.get(pk=requested.pk)


@pytest.fixture
def scheduled(unreminded, mailoutbox):
    """As ``unreminded``, and a run sent the reminder on time (the message is not kept)."""
    sent = len(mailoutbox)
    with later(DELAY - 20 * 3600):
        assert recovery.send_reminders(base_url=BASE_URL) == 1
    del mailoutbox[sent:]
    return EmailChange.objects.get(pk=unreminded.pk)


def complete_due(**options):
    call_command("verified_email_complete_due", base_url=BASE_URL, **options)


# The request


def test_the_form_offers_the_lost_mailbox_choice_for_a_verified_address(logged_in, user):
    page = logged_in.get(reverse("verified_email:change")).content.decode()
    assert 'name="old_email_lost"' in page
    assert "I can no longer open alice@example.com" in page


def test_no_lost_mailbox_choice_without_a_verified_address(client, make_user):
    unverified = make_user(verified=False)
    page = client_for(unverified).get(reverse("verified_email:change")).content.decode()
    assert 'name="old_email_lost"' not in page


def test_no_lost_mailbox_choice_when_the_path_is_off(logged_in, settings):
    settings.VERIFIED_EMAIL = {"RECOVERY_DELAY": None}
    page = logged_in.get(reverse("verified_email:change")).content.decode()
    assert 'name="old_email_lost"' not in page


def test_a_recovery_sends_the_link_to_the_new_address_and_a_stop_link_to_the_old(
    requested, user, mailoutbox
):
    assert requested.status == EmailChange.Status.AWAITING_NEW
    assert requested.old_email_lost
    assert sorted(m.to[0] for m in mailoutbox) == sorted(["alice@example.com", NEW])
    to_new = message_to(NEW, mailoutbox)
    assert token_in(to_new, to=NEW)
    assert code_in(to_new)
    assert "7 days" in to_new.body
    to_old = message_to("alice@example.com", mailoutbox)
    assert stop_token_in(to_old, to="alice@example.com")
    # No link of the change itself, nor a code, ever goes to the old address.
    assert links_in(to_old) == []
    # The old address sees who asked, to judge "was this me?".
    assert "IP address" in to_old.body
    assert email_of(reloaded(user)) == "alice@example.com"


def test_the_wrong_password_refuses_a_recovery_like_any_change(logged_in, user, mailoutbox):
    response = ask_recovery(logged_in, password="wrong")
    assert response.status_code == 200
    assert "incorrectly" in response.content.decode()
    assert not EmailChange.objects.exists()
    assert mailoutbox == []


def test_a_new_request_supersedes_a_recovery(requested, logged_in, user, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    logged_in.post(
        reverse("verified_email:change"),
        {"new_email": "other@example.org", "password": PASSWORD},
    )
    assert EmailChange.objects.get(pk=requested.pk).status == EmailChange.Status.SUPERSEDED
    assert EmailChange.objects.pending_for(user).get().old_email_lost is False


# The wait


def test_confirming_the_new_address_schedules_the_change(
    requested, client, user, mailoutbox, scheduled_events
):
    token = token_in(message_to(NEW, mailoutbox))
    before = timezone.now()
    response = client.post(reverse("verified_email:change-confirm", args=[token]))
    assert response.status_code == 200
    assert "7 days" in response.content.decode()
    change = EmailChange.objects.get(pk=requested.pk)
    assert change.status == EmailChange.Status.SCHEDULED
    assert before + timedelta(seconds=DELAY) <= change.completes_at
    assert change.completes_at <= timezone.now() + timedelta(seconds=DELAY)
    assert email_of(reloaded(user)) == "alice@example.com"
    [event] = scheduled_events
    assert event["change"] == change and event["completes_at"] == change.completes_at
    # The link was one-time.
    again = client.post(reverse("verified_email:change-confirm", args=[token]))
    assert again.status_code == 400


def test_confirming_the_new_address_keeps_the_session_while_the_change_waits(
    requested, logged_in, mailoutbox
):
    # The address changes only when the wait ends: the session is left as it
    # is until then (its key is renewed at the completion).
    key = logged_in.cookies[settings.SESSION_COOKIE_NAME].value
    token = token_in(message_to(NEW, mailoutbox), to=NEW)

    assert logged_in.post(reverse("verified_email:change-confirm", args=[token])).status_code == 200

    assert EmailChange.objects.get(pk=requested.pk).status == "scheduled"
    assert logged_in.cookies[settings.SESSION_COOKIE_NAME].value == key
    assert logged_in.get(reverse("verified_email:status")).status_code == 200


def test_the_new_address_code_schedules_the_change_too(requested, logged_in, mailoutbox):
    code = code_in(message_to(NEW, mailoutbox))
    response = logged_in.post(reverse("verified_email:change-code"), {"code": code})
    assert response.status_code in (200, 302)
    assert EmailChange.objects.get(pk=requested.pk).status == EmailChange.Status.SCHEDULED


def test_the_status_page_counts_down_and_offers_cancel_not_resend(scheduled, logged_in):
    with later(DELAY - 3 * 86400):
        page = logged_in.get(reverse("verified_email:status")).content.decode()
    assert 'id="ve-countdown"' in page
    assert "3 days" in page
    assert reverse("verified_email:change-cancel") in page
    assert reverse("verified_email:change-resend") not in page


def test_nothing_to_resend_while_scheduled(scheduled, logged_in, mailoutbox):
    sent = len(mailoutbox)
    response = logged_in.post(reverse("verified_email:change-resend"))
    assert response.status_code == 404
    assert len(mailoutbox) == sent


def test_the_user_can_cancel_a_scheduled_change(scheduled, logged_in, user, mailoutbox):
    response = logged_in.post(reverse("verified_email:change-cancel"))
    assert response.status_code == 302
    assert EmailChange.objects.get(pk=scheduled.pk).status == EmailChange.Status.CANCELLED
    sent = len(mailoutbox)
    with later(DELAY + 60):
        complete_due()
    assert email_of(reloaded(user)) == "alice@example.com"
    assert len(mailoutbox) == sent


# Stop: the old address says "this wasn't me"


@pytest.fixture
def denied_events():
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    signals.email_change_denied.connect(receiver)
    yield events
    signals.email_change_denied.disconnect(receiver)


def stop_path(mailoutbox):
    return reverse(
        "verified_email:change-stop",
        args=[stop_token_in(message_to("alice@example.com", mailoutbox))],
    )


def test_the_stop_page_shows_a_button_and_a_get_changes_nothing(scheduled, mailoutbox, user):
    response = Client().get(stop_path(mailoutbox))
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert 'id="ve-stop"' in response.text
    assert EmailChange.objects.get(pk=scheduled.pk).status == EmailChange.Status.SCHEDULED
    assert can_log_in(user)


@pytest.mark.parametrize("when", ["awaiting_new", "scheduled"])
def test_the_old_address_stops_a_recovery_with_a_denys_effects(
    when, request, logged_in, user, mailoutbox, denied_events
):
    change = request.getfixturevalue("scheduled" if when == "scheduled" else "requested")
    path = stop_path(mailoutbox)
    sent = len(mailoutbox)
    response = Client().post(path)
    assert response.status_code == 200
    # The old mailbox may have changed hands: no new-password form (N1).
    assert 'name="new_password1"' not in response.text
    assert "/change/set-password/" not in response.text
    change.refresh_from_db()
    assert change.status == "denied"
    stored = reloaded(user)
    assert email_of(stored) == "alice@example.com"
    assert not stored.has_usable_password()
    assert not can_log_in(user)
    assert not is_logged_in(logged_in)
    told = mailoutbox[sent:]
    assert sorted(m.to[0] for m in told) == sorted(["alice@example.com", NEW])
    to_old = message_to("alice@example.com", told)
    assert "/change/set-password/" not in to_old.body
    assert "password reset" in to_old.body
    [event] = denied_events
    assert event["change"].pk == change.pk
    # One-time, and nothing completes later.
    assert Client().post(path).status_code == 400
    with later(DELAY + 60):
        complete_due()
    assert email_of(reloaded(user)) == "alice@example.com"


def test_the_stop_pages_are_never_framed(requested, mailoutbox):
    # The answer to the POST carries the new-password form.
    path = stop_path(mailoutbox)
    assert Client().get(path)["X-Frame-Options"] == "DENY"
    assert Client().post(path)["X-Frame-Options"] == "DENY"


def test_the_reminders_stop_link_works_too(unreminded, user, mailoutbox):
    scheduled = unreminded
    sent = len(mailoutbox)
    with later(DELAY - 3600):
        complete_due()
        [reminder] = mailoutbox[sent:]
        path = reverse("verified_email:change-stop", args=[stop_token_in(reminder)])
        assert Client().post(path).status_code == 200
    assert EmailChange.objects.get(pk=scheduled.pk).status == "denied"


def test_the_stop_link_dies_when_the_recovery_is_superseded_or_completed(
    scheduled, logged_in, user, mailoutbox
):
    path = stop_path(mailoutbox)
    with later(DELAY + 60):
        complete_due()
    assert Client().post(path).status_code == 400
    assert reloaded(user).has_usable_password()


def test_an_ordinary_change_token_cannot_stop_and_a_stop_token_cannot_confirm(
    requested, mailoutbox
):
    new_token = token_in(message_to(NEW, mailoutbox))
    stop_token = stop_token_in(message_to("alice@example.com", mailoutbox))
    assert Client().post(reverse("verified_email:change-stop", args=[new_token])).status_code == 400
    confirm = Client().post(reverse("verified_email:change-confirm", args=[stop_token]))
    assert confirm.status_code == 400
    assert EmailChange.objects.get(pk=requested.pk).status == "awaiting_new"


def test_completion_is_cancelled_when_the_security_counter_moved(scheduled, user):
    # A deny or revert elsewhere, or an address set by hand and back, moves
    # the counter: the request no longer describes the account.
    move_counter(user, end_sessions=True)
    with later(DELAY + 60):
        complete_due()
    change = EmailChange.objects.get(pk=scheduled.pk)
    assert (change.status, change.closed_reason) == ("cancelled", "account_changed")


# Completion


def test_the_command_completes_the_change_once_the_wait_is_over(unreminded, user, mailoutbox):
    scheduled = unreminded
    sent = len(mailoutbox)
    complete_due()
    with later(DELAY - 23 * 3600):
        # Past the reminder's time: only the reminder.
        complete_due()
    assert EmailChange.objects.get(pk=scheduled.pk).status == EmailChange.Status.SCHEDULED
    with later(DELAY + 60):
        complete_due()
        complete_due()  # idempotent: a second run finds nothing to do
    change = EmailChange.objects.get(pk=scheduled.pk)
    assert change.status == EmailChange.Status.COMPLETED
    alice = reloaded(user)
    assert email_of(alice) == NEW and is_email_verified(alice)
    new_mail = mailoutbox[sent:]
    # The reminder and the completion notice to the old address; the new one's.
    assert sorted(m.to[0] for m in new_mail) == sorted(["alice@example.com"] * 2 + [NEW])
    completed_old = [m for m in new_mail if "was changed" in m.subject]
    [notice] = completed_old
    assert notice.to == ["alice@example.com"]
    # No way back by link: the owner had the whole wait to stop it.
    with pytest.raises(AssertionError):
        revert_token_in(notice)


def test_the_reminder_goes_to_the_old_address_a_day_before_once(unreminded, mailoutbox):
    sent = len(mailoutbox)
    with later(DELAY - 25 * 3600):
        complete_due()
    assert len(mailoutbox) == sent
    with later(DELAY - 23 * 3600):
        complete_due()
        complete_due()
    [reminder] = mailoutbox[sent:]
    assert reminder.to == ["alice@example.com"]
    assert "23 hours" in reminder.body
    assert stop_token_in(reminder)


# On the defaults: no BASE_URL, the host the change was asked on


def test_a_recovery_completes_on_default_settings_by_the_scheduled_command(
    logged_in, client, user, mailoutbox
):
    assert "BASE_URL" not in settings.VERIFIED_EMAIL
    assert ask_recovery(logged_in).status_code == 302
    change = EmailChange.objects.get(user=user)
    assert change.link_base == "http://testserver/"
    token = token_in(message_to(NEW, mailoutbox), to=NEW)
    assert client.post(reverse("verified_email:change-confirm", args=[token])).status_code == 200
    sent = len(mailoutbox)
    with later(DELAY - 23 * 3600):
        call_command("verified_email_complete_due")
        [reminder] = mailoutbox[sent:]
        assert reminder.to == ["alice@example.com"]
        [link] = links_in(reminder, STOP_PAGE)
        assert link.startswith("http://testserver/")
        # It works: the page offers to stop the change.
        page = Client().get(link)
        assert page.status_code == 200 and 'id="ve-stop"' in page.text
    sent = len(mailoutbox)
    with later(DELAY + 60):
        call_command("verified_email_complete_due")
    assert EmailChange.objects.get(pk=change.pk).status == EmailChange.Status.COMPLETED
    assert email_of(reloaded(user)) == NEW
    told = mailoutbox[sent:]
    assert sorted(m.to[0] for m in told) == sorted(["alice@example.com", NEW])
    for message in told:
        assert "testserver" in message.body  # the site, named after the host asked on
        assert links_in(message) == []


def test_links_built_outside_a_request_lead_to_the_host_the_change_was_asked_on(
    logged_in, user, mailoutbox, settings
):
    response = logged_in.post(
        reverse("verified_email:change"),
        {"new_email": NEW, "password": PASSWORD, "old_email_lost": "on"},
        HTTP_HOST="example.com",
    )
    assert response.status_code == 302
    change = EmailChange.objects.get(user=user)
    assert change.link_base == "http://example.com/"
    confirm = link_in(message_to(NEW, mailoutbox))
    assert confirm.startswith("http://example.com/")
    assert Client().post(path_of(confirm), HTTP_HOST="example.com").status_code == 200
    sent = len(mailoutbox)
    with later(DELAY - 3600):
        call_command("verified_email_complete_due")
        [reminder] = mailoutbox[sent:]
        assert stop_link_in(reminder).startswith("http://example.com/")
        # BASE_URL, when set, still wins.
        EmailChange.objects.filter(pk=change.pk).update(reminder_sent_at=None)
        settings.VERIFIED_EMAIL = {"BASE_URL": "https://accounts.example.net"}
        call_command("verified_email_complete_due")
        [again] = mailoutbox[sent + 1 :]
        assert stop_link_in(again).startswith("https://accounts.example.net/")
        # Followed, the link stops the change.
        assert Client().post(path_of(stop_link_in(reminder))).status_code == 200
    assert EmailChange.objects.get(pk=change.pk).status == EmailChange.Status.DENIED


def stop_link_in(message):
    [link] = links_in(message, STOP_PAGE)
    return link


def test_a_change_with_no_host_waits_for_a_reminder_it_can_send(
    unreminded, user, mailoutbox, caplog
):
    scheduled = unreminded
    # Started before hosts were kept (or outside a request), and no BASE_URL.
    EmailChange.objects.filter(pk=scheduled.pk).update(link_base="")
    sent = len(mailoutbox)
    with later(DELAY - 3600), caplog.at_level("WARNING", logger="django_verified_email"):
        call_command("verified_email_complete_due")
        call_command("verified_email_complete_due")
    assert mailoutbox[sent:] == []  # no reminder: it would have no host
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert f"recovery_reminder email of email change(s) {scheduled.pk}:" in warnings[0]
    with later(DELAY + 60):
        call_command("verified_email_complete_due")
    # The reminder carries the owner's stop link: no completion without it.
    assert EmailChange.objects.get(pk=scheduled.pk).status == EmailChange.Status.SCHEDULED
    with later(DELAY + 120):
        call_command("verified_email_complete_due", "--base-url", "https://example.com/")
    [reminder] = mailoutbox[sent:]
    assert reminder.to == ["alice@example.com"]
    assert stop_link_in(reminder).startswith("https://example.com/")
    # Sent late, it leaves the owner a day to act before the change completes.
    with later(DELAY + 86400 + 300):
        call_command("verified_email_complete_due", "--base-url", "https://example.com/")
    assert EmailChange.objects.get(pk=scheduled.pk).status == EmailChange.Status.COMPLETED
    assert email_of(reloaded(user)) == NEW


def test_an_owed_stop_notice_with_no_host_stays_owed_and_holds_the_change(
    scheduled, user, mailoutbox, caplog
):
    EmailChange.objects.filter(pk=scheduled.pk).update(link_base="", notice_owed_at=timezone.now())
    sent = len(mailoutbox)
    with later(DELAY + 60), caplog.at_level("WARNING", logger="django_verified_email"):
        call_command("verified_email_complete_due")
    change = EmailChange.objects.get(pk=scheduled.pk)
    # The owner never got the stop link: the change does not complete without it.
    assert change.status == EmailChange.Status.SCHEDULED and change.notice_owed_at is not None
    assert mailoutbox[sent:] == []
    assert any("recovery_notice_old" in r.getMessage() for r in caplog.records)
    with later(DELAY + 120):
        call_command("verified_email_complete_due", base_url="https://example.com")
    [notice] = mailoutbox[sent:]
    assert stop_link_in(notice).startswith("https://example.com/")
    assert EmailChange.objects.get(pk=scheduled.pk).notice_owed_at is None


def test_completion_is_cancelled_when_the_address_was_taken_meanwhile(
    scheduled, user, make_user, mailoutbox
):
    make_user("bob", NEW)
    sent = len(mailoutbox)
    with later(DELAY + 60):
        complete_due()
    change = EmailChange.objects.get(pk=scheduled.pk)
    assert (change.status, change.closed_reason) == ("cancelled", "address_taken")
    assert email_of(reloaded(user)) == "alice@example.com"
    [told] = mailoutbox[sent:]
    assert told.to == [NEW]
    assert "another account took that address" in told.body


def test_completion_is_cancelled_when_the_password_changed_meanwhile(scheduled, user, mailoutbox):
    alice = reloaded(user)
    alice.set_password("a brand new password 42")
    alice.save()
    sent = len(mailoutbox)
    with later(DELAY + 60):
        complete_due()
    change = EmailChange.objects.get(pk=scheduled.pk)
    assert (change.status, change.closed_reason) == ("cancelled", "account_changed")
    assert email_of(reloaded(user)) == "alice@example.com"
    [told] = mailoutbox[sent:]
    assert told.to == [NEW] and "password changed" in told.body


def test_completion_is_cancelled_when_the_address_was_changed_meanwhile(scheduled, user):
    alice = reloaded(user)
    alice.email_address = "alice.elsewhere@example.com"
    alice.save()
    with later(DELAY + 60):
        complete_due()
    assert EmailChange.objects.get(pk=scheduled.pk).status == EmailChange.Status.CANCELLED
    assert email_of(reloaded(user)) == "alice.elsewhere@example.com"


def test_the_status_page_completes_a_due_change(scheduled, logged_in, user):
    with later(DELAY + 60):
        response = logged_in.get(reverse("verified_email:status"))
    assert response.status_code == 200
    assert NEW in response.content.decode()
    assert EmailChange.objects.get(pk=scheduled.pk).status == EmailChange.Status.COMPLETED
    assert email_of(reloaded(user)) == NEW


def test_the_status_page_before_the_time_completes_nothing(scheduled, logged_in, user):
    with later(DELAY - 60):
        logged_in.get(reverse("verified_email:status"))
    assert EmailChange.objects.get(pk=scheduled.pk).status == EmailChange.Status.SCHEDULED


def test_a_notice_that_could_not_be_sent_restarts_the_wait(scheduled, user, mailoutbox):
    # The old address's notice failed (delivery marked it owed).
    EmailChange.objects.filter(pk=scheduled.pk).update(notice_owed_at=timezone.now())
    sent = len(mailoutbox)
    with later(DELAY + 60):
        complete_due()
        change = EmailChange.objects.get(pk=scheduled.pk)
        assert change.status == EmailChange.Status.SCHEDULED
        assert change.notice_owed_at is None
        assert change.completes_at >= timezone.now() + timedelta(seconds=DELAY - 1)
    [notice] = mailoutbox[sent:]
    assert notice.to == ["alice@example.com"] and stop_token_in(notice)
    assert email_of(reloaded(user)) == "alice@example.com"


def test_the_purge_keeps_a_scheduled_change_however_long_the_wait(scheduled, settings):
    settings.VERIFIED_EMAIL = {"RECOVERY_DELAY": 90 * 86400}
    with later(60 * 86400):
        call_command("verified_email_purge")
    assert EmailChange.objects.filter(pk=scheduled.pk).exists()


# Second factor


def test_a_request_that_passed_a_second_factor_completes_on_confirmation(
    logged_in, client, user, mailoutbox, settings
):
    settings.VERIFIED_EMAIL = {"RECOVERY_SECOND_FACTOR": "tests.test_recovery.second_factor_passed"}
    ask_recovery(logged_in)
    change = EmailChange.objects.get(user=user)
    assert change.second_factor
    token = token_in(message_to(NEW, mailoutbox))
    sent = len(mailoutbox)
    client.post(reverse("verified_email:change-confirm", args=[token]))
    change.refresh_from_db()
    assert change.status == EmailChange.Status.COMPLETED
    assert email_of(reloaded(user)) == NEW
    # The old address still hears of it.
    assert sorted(m.to[0] for m in mailoutbox[sent:]) == sorted(["alice@example.com", NEW])


def test_a_failed_second_factor_keeps_the_wait(logged_in, client, user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RECOVERY_SECOND_FACTOR": "tests.test_recovery.second_factor_failed"}
    ask_recovery(logged_in)
    token = token_in(message_to(NEW, mailoutbox))
    client.post(reverse("verified_email:change-confirm", args=[token]))
    assert EmailChange.objects.get(user=user).status == EmailChange.Status.SCHEDULED


# Emails


@pytest.mark.parametrize(
    "kind",
    [
        emails.RECOVERY_CONFIRM_NEW,
        emails.RECOVERY_NOTICE_OLD,
        emails.RECOVERY_REMINDER,
        emails.RECOVERY_COMPLETED_OLD,
        emails.RECOVERY_CANCELLED,
    ],
)
def test_every_recovery_email_is_in_the_registry_with_a_template(kind):
    from django.template.loader import get_template

    assert kind in emails.KINDS
    get_template(emails.template_name(kind))


def test_flows_complete_due_counts_what_it_did(scheduled):
    with later(DELAY + 60):
        run = flows.complete_due(base_url=BASE_URL)
        again = flows.complete_due(base_url=BASE_URL)
    assert (run.completed, run.cancelled) == (1, 0)
    assert (again.completed, again.cancelled, again.reminded) == (0, 0, 0)
    assert mail.outbox  # sent through the outbox


def test_a_user_model_without_the_change_completes_nothing(db):
    assert flows.complete_due(base_url=BASE_URL).completed == 0
    assert get_user_model().objects.count() == 0


# The periodic task of the task delivery modes


def test_the_tasks_modes_periodic_task_completes_due_changes(
    unreminded, user, settings, mailoutbox
):
    from django_verified_email import tasks

    # No BASE_URL: the worker builds the reminder with the host the change was asked on.
    settings.VERIFIED_EMAIL = {"DELIVERY": "tasks"}
    sent = len(mailoutbox)
    with later(DELAY - 20 * 3600):  # a day or less before: the reminder goes
        assert tasks.complete_due_changes.call()["reminded"] == 1
    [reminder] = mailoutbox[sent:]
    assert stop_link_in(reminder).startswith("http://testserver/")
    with later(DELAY + 60):
        result = tasks.complete_due_changes.call()
    assert result == {"completed": 1, "cancelled": 0, "reminded": 0, "reverted": 0}
    assert email_of(reloaded(user)) == NEW


def test_the_celery_periodic_task_completes_due_changes(scheduled, user, settings):
    from django_verified_email import celery_tasks

    settings.VERIFIED_EMAIL = {}  # no BASE_URL
    assert celery_tasks.complete_due_changes.name == "django_verified_email.complete_due_changes"
    with later(DELAY + 60):
        celery_tasks.complete_due_changes.apply()
    assert EmailChange.objects.get(pk=scheduled.pk).status == EmailChange.Status.COMPLETED


def test_the_purge_blanks_a_staff_reason_with_the_addresses(make_user, settings):
    # Kept past PURGE_AFTER for the lock after a revert, so scrubbed, not deleted.
    settings.VERIFIED_EMAIL = {"PURGE_AFTER": 86400}
    alice = make_user()
    change = EmailChange.objects.create(
        user=alice,
        old_email="alice@example.com",
        new_email=NEW,
        status="cancelled",
        closed_at=timezone.now(),
        completion_reason="Passport 1234 checked on a call.",
        account_fingerprint="0123456789abcdef01234567",
    )
    with later(2 * 86400):
        call_command("verified_email_purge", "--batch-size", "10")
    change.refresh_from_db()
    assert (change.new_email, change.completion_reason, change.account_fingerprint) == ("", "", "")


def test_a_stop_keeps_where_it_came_from_like_a_deny(requested, mailoutbox):
    path = stop_path(mailoutbox)
    sent = len(mailoutbox)
    Client(REMOTE_ADDR="198.51.100.7").post(path)
    change = EmailChange.objects.get(pk=requested.pk)
    assert change.status == "denied"
    assert change.refused_ip == "198.51.100.7"
    # The old address (the mailbox that stopped it) is told where it came from.
    told_old = message_to("alice@example.com", mailoutbox[sent:])
    assert "198.51.100.7" in told_old.body


def test_a_stop_whose_notices_fail_is_still_done(requested, mailoutbox, settings):
    path = stop_path(mailoutbox)
    use_mail_backend(settings, UNREACHABLE)
    response = Client().post(path)
    assert response.status_code == 200
    assert "The email change was stopped" in response.text
    assert EmailChange.objects.get(pk=requested.pk).status == "denied"


# The reminder is owed like the stop notice (N2, N3)


def test_a_due_change_waits_for_its_reminder_and_then_a_day(unreminded, user, client, mailoutbox):
    sent = len(mailoutbox)
    with later(DELAY + 60):
        # The status page (complete_if_due) does not complete it first.
        client.force_login(user)
        assert client.get(reverse("verified_email:status")).status_code == 200
        assert EmailChange.objects.get(pk=unreminded.pk).status == "scheduled"
        complete_due()
    [reminder] = mailoutbox[sent:]
    assert reminder.to == ["alice@example.com"] and stop_token_in(reminder)
    assert EmailChange.objects.get(pk=unreminded.pk).status == "scheduled"
    with later(DELAY + 86400 + 120):
        complete_due()
    assert EmailChange.objects.get(pk=unreminded.pk).status == "completed"


def test_a_refused_reminder_is_owed_sent_again_and_completion_waits_for_it(
    unreminded, user, settings, mailoutbox
):
    use_mail_backend(settings, UNREACHABLE)
    with later(DELAY - 20 * 3600):
        complete_due()
    assert EmailChange.objects.get(pk=unreminded.pk).reminder_sent_at is None
    with later(DELAY + 60):
        complete_due()
    assert EmailChange.objects.get(pk=unreminded.pk).status == "scheduled"

    use_mail_backend(settings, LOCMEM)
    sent = len(mailoutbox)
    with later(DELAY + 120):
        complete_due()
    [reminder] = mailoutbox[sent:]
    assert reminder.to == ["alice@example.com"] and stop_token_in(reminder)
    assert EmailChange.objects.get(pk=unreminded.pk).status == "scheduled"
    with later(DELAY + 120 + 86400 + 60):
        complete_due()
    assert EmailChange.objects.get(pk=unreminded.pk).status == "completed"
