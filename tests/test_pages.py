"""What people read on the HTML pages: waits in words, the tries left before a
lockout, a refused form that keeps the typed address, locks shown before the
form is filled in, support links at dead ends, titles that match headings."""

import re

import pytest
from django.test import Client
from django.utils import translation

from django_verified_email import durations, flows
from django_verified_email.models import EmailChange
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    client_for,
    complete_dual_change,
    later,
    link_path,
    no_cooldown,
    request_change,
    revert_token_in,
    send_verification,
    url,
    with_new_password,
)

WRONG = "not-the-password-at-all"


# Waits in words --------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (42, "42 seconds"),
        (59.2, "1 minute"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (900, "15 minutes"),
        (3599, "1 hour"),
        (3600, "1 hour"),
        (82800, "23 hours"),
        (86400, "24 hours"),
        (172800, "48 hours"),
        (604800, "7 days"),
    ],
)
def test_waits_in_words_round_up_to_the_largest_fitting_unit(seconds, words):
    with translation.override("en"):
        assert durations.in_words(seconds) == words


def test_waits_in_words_in_nepali():
    with translation.override("ne"):
        assert durations.in_words(900) == "15 मिनेट"
        assert durations.in_words(82800) == "23 घण्टा"
        assert durations.try_again_in(900) == "15 मिनेटपछि फेरि प्रयास गर्नुहोस्।"


# The change form ---------------------------------------------------------------


def test_a_wrong_password_says_how_many_tries_are_left(logged_in, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 3}

    first = request_change(logged_in, "typed@example.com", password=WRONG)
    second = request_change(logged_in, "typed@example.com", password=WRONG)

    assert "Your password was entered incorrectly. 2 tries left." in first.text
    assert "Your password was entered incorrectly. 1 try left." in second.text


def test_a_refused_form_keeps_the_address_never_the_password(logged_in):
    response = request_change(logged_in, "typed@example.com", password=WRONG)

    assert response.status_code == 200
    assert 'value="typed@example.com"' in response.text
    assert WRONG not in response.text


def test_a_lockout_keeps_the_address_and_says_the_wait_in_words(logged_in, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 2, "REAUTH_LOCKOUT": 900}
    request_change(logged_in, "typed@example.com", password=WRONG)

    locked = request_change(logged_in, "typed@example.com", password=WRONG)

    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    assert 'value="typed@example.com"' in locked.text
    assert WRONG not in locked.text
    assert "Too many wrong passwords. " in locked.text
    assert "Try again in 15 minutes." in locked.text
    assert "seconds" not in locked.text


def test_a_cooldown_refusal_keeps_the_address(logged_in, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 60}
    request_change(logged_in, "typed@example.com")

    again = request_change(logged_in, "typed@example.com")

    assert again.status_code == 429
    assert 'value="typed@example.com"' in again.text
    assert 'data-code="throttled"' in again.text
    assert "Try again in 1 minute." in again.text


# Cooldowns per purpose and per address ----------------------------------------


def test_verifying_then_asking_for_a_change_is_not_refused(make_user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 60}
    client = client_for(make_user(verified=False))
    assert send_verification(client).status_code == 302

    assert request_change(client, "new@example.com").status_code == 302
    assert len(mailoutbox) == 2


def test_fixing_a_typo_in_the_new_address_is_not_refused(logged_in, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 60}
    assert request_change(logged_in, "new@exmaple.com").status_code == 302

    assert request_change(logged_in, "new@example.com").status_code == 302
    assert EmailChange.objects.get(status="awaiting_old").new_email == "new@example.com"
    # The same address again within the cooldown is a repeat.
    assert request_change(logged_in, "new@example.com").status_code == 429


def test_cancelling_and_starting_again_is_not_refused(logged_in, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 60}
    request_change(logged_in, "new@example.com")
    assert logged_in.post(url("change-cancel")).status_code == 302

    assert request_change(logged_in, "new@example.com").status_code == 302
    assert EmailChange.objects.get(status="awaiting_old").new_email == "new@example.com"


def test_the_resend_button_shares_the_cooldown_of_its_address(logged_in, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 60}
    request_change(logged_in, "new@example.com")

    refused = logged_in.post(url("change-resend"))

    assert refused.status_code == 429
    assert "Try again in 1 minute." in refused.text


# Locks shown before the form is filled in ----------------------------------------


@pytest.fixture
def reverted(user, mailoutbox, settings):
    """Alice's address changed and was put back by the revert link: changes lock for a day."""
    no_cooldown(settings, CHANGE_LOCK_AFTER_REVERT=86400)
    notice = complete_dual_change(user, "taker@example.com", mailoutbox)
    flows.confirm_revert(revert_token_in(notice), password=PASSWORD, base_url=BASE_URL)
    # The revert retired the password and ended every session: Alice set a new one.
    return with_new_password(user)


def test_the_status_page_shows_the_lock_after_a_revert_and_when_it_ends(reverted):
    client = client_for(reverted)

    with later(3600):
        page = client.get(url("status")).text

    assert 'id="ve-lock"' in page
    assert "a recent change was undone" in page
    assert "Try again in 23 hours." in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', page)


def test_the_change_form_shows_the_lock_and_cannot_be_sent(reverted):
    page = client_for(reverted).get(url("change")).text

    assert 'id="ve-lock"' in page
    assert "Try again in 24 hours." in page
    assert "<fieldset disabled>" in page


def test_the_lock_is_gone_once_it_ends(reverted):
    with later(86401):
        assert 'id="ve-lock"' not in client_for(reverted).get(url("status")).text


def test_the_status_page_shows_a_password_lockout(logged_in, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 1, "REAUTH_LOCKOUT": 900}
    request_change(logged_in, "new@example.com", password=WRONG)

    page = logged_in.get(url("status")).text

    assert 'data-code="locked_out"' in page
    assert "Try again in 15 minutes." in page


def test_no_lock_no_notice(logged_in):
    assert 'id="ve-lock"' not in logged_in.get(url("status")).text
    assert "<fieldset disabled>" not in logged_in.get(url("change")).text


# Dead ends, buttons, titles --------------------------------------------------------


def test_dead_ends_link_to_support_when_it_is_set(reverted, mailoutbox, settings):
    notice = [m for m in mailoutbox if "change/revert/" in m.body][-1]
    expired_path = f"/account/email/change/revert/{revert_token_in(notice)}/"
    with later(8 * 86400):
        without = Client().get(expired_path)
    assert "Contact support" not in without.text

    settings.VERIFIED_EMAIL = {"SUPPORT_URL": "https://help.example/wallet"}
    with later(8 * 86400):
        page = Client().get(expired_path)
    assert page.status_code in (400, 410)
    assert '<a href="https://help.example/wallet">Contact support</a>' in page.text
    lock = client_for(reverted).get(url("status")).text
    assert '<a href="https://help.example/wallet">Contact support</a>' in lock


def test_cancel_looks_secondary_and_unlike_resend(logged_in, settings):
    no_cooldown(settings)
    request_change(logged_in, "new@example.com")

    page = logged_in.get(url("status")).text

    resend = re.search(r"<button([^>]*)>Send the link again</button>", page)
    cancel = re.search(r"<button([^>]*)>Cancel the change</button>", page)
    assert "ve-secondary" in cancel.group(1)
    assert "ve-secondary" not in resend.group(1)


def title_and_heading(html):
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()
    heading = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1).strip()
    return title, heading


def test_page_titles_match_their_headings(logged_in, user, mailoutbox, settings):
    no_cooldown(settings, REAUTH_MAX_ATTEMPTS=1)
    pages = [logged_in.get(url("status")), logged_in.get(url("change"))]
    request_change(logged_in, "new@example.com")
    old_link = link_path(mailoutbox[-1])
    pages += [Client().get(old_link), Client().post(old_link), Client().get(old_link)]
    pages.append(logged_in.post(url("verify-send")))  # already verified: the error page
    with later(2 * 86400):
        pages.append(Client().get(link_path(mailoutbox[-1])))  # expired
    for response in pages:
        title, heading = title_and_heading(response.text)
        assert title == heading, response.request["PATH_INFO"]


def test_a_cancelled_link_is_said_to_be_possibly_cancelled(logged_in, mailoutbox):
    request_change(logged_in, "new@example.com")
    logged_in.post(url("change-cancel"))

    page = Client().get(link_path(mailoutbox[-1]))

    assert page.status_code == 400
    assert "It may have been used already, cancelled, or replaced by a newer one." in page.text


# Email as the login ------------------------------------------------------------------


def test_when_the_address_is_the_login_the_success_message_says_so(
    logged_in, mailoutbox, monkeypatch
):
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    monkeypatch.setattr(user_model, "USERNAME_FIELD", user_model.get_email_field_name())
    request_change(logged_in, "new@example.com")
    Client().post(link_path(mailoutbox[-1]))

    done = logged_in.post(link_path(mailoutbox[-1]), follow=True)

    assert "You now sign in with new@example.com." in done.text
    assert "You now sign in with new@example.com." in mailoutbox[-2].body


def test_otherwise_it_does_not(logged_in, mailoutbox):
    request_change(logged_in, "new@example.com")
    Client().post(link_path(mailoutbox[-1]))
    done = logged_in.post(link_path(mailoutbox[-1]), follow=True)
    assert "Your email address is now new@example.com." in done.text
    assert "You now sign in with" not in done.text
