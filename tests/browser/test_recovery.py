"""The lost-mailbox path in a real browser: Dave can no longer open his old
address, asks for the change with "I can no longer open ...", confirms the new
address, watches the countdown, and the demo's fast-forward completes it.
Then Erin's account gets the same request from someone who has her password
but not her mailbox, and she stops it from the old address's email."""

import pytest
from playwright.sync_api import expect

from .steps import OUTBOX_LINK, messages_to, open_newest_link

pytestmark = pytest.mark.browser

PASSWORD = "dave-wallet-passphrase-8812"


def sign_up_verified(page, live_url, username, email):
    # The browser is shared with the other tests: start logged out.
    page.context.clear_cookies()
    page.goto(f"{live_url}/signup/")
    page.locator("#id_username").fill(username)
    page.locator("#id_email").fill(email)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#signup-submit").click()
    page.wait_for_url(f"{live_url}/profile/")
    open_newest_link(page, live_url, email, "/account/email/verify/", last=True)
    page.get_by_role("button", name="Verify my address").click()
    page.wait_for_url(f"{live_url}/profile/")


def ask_recovery(page, live_url, old_email, new_email):
    page.goto(f"{live_url}/account/email/change/")
    page.get_by_label(f"I can no longer open {old_email}").check()
    page.locator("#id_new_email").fill(new_email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Send the confirmation link").click()
    expect(page.locator("#ve-pending")).to_contain_text(new_email)


def test_a_recovery_waits_then_completes(page, live_url, manage):
    old, new = "dave@dead-employer.example", "dave@wallet.example"
    sign_up_verified(page, live_url, "browser-dave", old)
    ask_recovery(page, live_url, old, new)

    # The link and code went to the NEW address; the old one got a stop link only.
    page.goto(f"{live_url}/outbox/")
    expect(
        messages_to(page, old).first.locator(f'{OUTBOX_LINK}[href*="/change/stop/"]')
    ).to_have_count(1)
    expect(
        messages_to(page, old).first.locator(f'{OUTBOX_LINK}[href*="/change/confirm/"]')
    ).to_have_count(0)
    open_newest_link(page, live_url, new, "/account/email/change/confirm/", last=True)
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("heading", name="Change scheduled")).to_be_visible()
    expect(page.locator("#ve-scheduled")).to_contain_text("7 days")

    # The status page counts down, with a cancel button and nothing to resend.
    page.goto(f"{live_url}/account/email/")
    expect(page.locator("#ve-countdown")).to_contain_text("7 days")
    expect(page.get_by_role("button", name="Cancel the change")).to_be_visible()
    expect(page.get_by_role("button", name="Send the link again")).to_have_count(0)
    page.goto(f"{live_url}/profile/")
    expect(page.locator("#profile-email")).to_have_text(old)

    # A week later (the demo's fast-forward runs what cron would).
    assert "completed 1" in manage("demo_fast_forward", "--username", "browser-dave")
    # The site ends every session when the address changes
    # (LOGOUT_OTHER_SESSIONS): Dave logs in again.
    page.goto(f"{live_url}/profile/")
    assert "/login/" in page.url
    page.locator("#id_username").fill("browser-dave")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-submit").click()
    page.goto(f"{live_url}/profile/")
    expect(page.locator("#profile-email")).to_have_text(new)
    expect(page.locator("#profile-email-verified")).to_have_attribute("data-verified", "true")
    page.goto(f"{live_url}/outbox/")
    expect(
        messages_to(page, old).filter(
            has=page.locator(".outbox-subject", has_text="Your email address was changed")
        )
    ).to_have_count(1)
    page.context.clear_cookies()


def test_the_old_address_stops_a_recovery(page, live_url):
    old, new = "erin@wallet.example", "mallory@evil.example"
    sign_up_verified(page, live_url, "browser-erin", old)
    # Someone with Erin's password, but not her mailbox, asks for a recovery.
    ask_recovery(page, live_url, old, new)
    open_newest_link(page, live_url, new, "/account/email/change/confirm/", last=True)
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("heading", name="Change scheduled")).to_be_visible()

    # Erin still reads her mailbox: the notice's link stops it.
    stop = open_newest_link(page, live_url, old, "/account/email/change/stop/", last=True)
    expect(page.get_by_role("heading", name="Stop this email change?")).to_be_visible()
    page.locator("#ve-stop").click()
    expect(page.get_by_role("heading", name="The email change was stopped")).to_be_visible()
    # The mailbox alone proves nothing: no new-password form here (N1).
    expect(page.locator("#id_new_password1")).to_have_count(0)

    # The session that asked is over, and the stop link was one-time.
    page.goto(f"{live_url}/profile/")
    assert "/login/" in page.url
    response = page.goto(stop)
    assert response.status == 400
