"""What a person reads when things are refused, in a real browser: how many
password tries are left, a refused form that keeps the typed address, and,
after "this wasn't me" undid a change, the lock shown on the status page,
with its wait in words, before anyone fills in a form."""

import re

import pytest
from playwright.sync_api import expect

from .steps import follow_single_link, open_outbox

pytestmark = pytest.mark.browser

USERNAME = "browser-bob"
PASSWORD = "another-long-wallet-passphrase-2024"
OLD_EMAIL = "bob@wallet.example"
TAKER_EMAIL = "taker@wallet.example"

VERIFY_LINK = '[data-testid="outbox-link"][href*="/account/email/verify/"]'
# Not the old address's "This wasn't me" (the same link with ?deny=1).
NEW_PASSWORD = "a-new-wallet-passphrase-8812"
CHANGE_LINK = (
    '[data-testid="outbox-link"][href*="/account/email/change/confirm/"]:not([href$="?deny=1"])'
)
REVERT_LINK = '[data-testid="outbox-link"][href*="/account/email/change/revert/"]'


def test_tries_left_kept_address_and_the_lock_after_an_undo(page, live_url):
    # Whoever another test left signed in is signed out.
    page.context.clear_cookies()
    page.goto(f"{live_url}/signup/")
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_email").fill(OLD_EMAIL)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#signup-submit").click()
    page.wait_for_url(f"{live_url}/profile/")
    open_outbox(page)
    follow_single_link(page, OLD_EMAIL, VERIFY_LINK)
    page.get_by_role("button", name="Verify my address").click()
    page.wait_for_url(f"{live_url}/profile/")

    # A wrong password: the form says how many tries are left, and keeps the
    # address as typed (never the password).
    page.goto(f"{live_url}/account/email/change/")
    page.locator("#id_new_email").fill(TAKER_EMAIL)
    page.locator("#id_password").fill("not-my-password")
    page.get_by_role("button", name="Send the confirmation link").click()
    expect(page.locator("#verified-email-page")).to_contain_text(
        "Your password was entered incorrectly. 4 tries left."
    )
    expect(page.locator("#id_new_email")).to_have_value(TAKER_EMAIL)
    expect(page.locator("#id_password")).to_have_value("")

    # Asked for right after the sign-up's verification link: not a repeat.
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Send the confirmation link").click()
    expect(page.locator("#ve-pending")).to_contain_text("Step 1 of 2")
    # "Cancel the change" does not look like "Send the link again".
    cancel = page.get_by_role("button", name="Cancel the change")
    resend = page.get_by_role("button", name="Send the link again")
    assert cancel.evaluate("b => getComputedStyle(b).backgroundColor") != resend.evaluate(
        "b => getComputedStyle(b).backgroundColor"
    )

    # The change completes through both links...
    open_outbox(page)
    follow_single_link(page, OLD_EMAIL, CHANGE_LINK)
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("heading", name="One more step")).to_be_visible()
    open_outbox(page)
    follow_single_link(page, TAKER_EMAIL, CHANGE_LINK)
    page.get_by_role("button", name="Confirm", exact=True).click()
    page.wait_for_url(f"{live_url}/profile/")

    # ...and the old address says "this wasn't me". The notice named the new
    # address masked.
    open_outbox(page)
    expect(
        page.locator(f'[data-testid="outbox-message"][data-to="{OLD_EMAIL}"]').filter(
            has_text="to t•••@wallet.example"
        )
    ).to_have_count(1)
    follow_single_link(page, OLD_EMAIL, REVERT_LINK)
    # With the account's password: undone at once (without one it would wait).
    page.locator("#ve-revert-password").fill(PASSWORD)
    page.get_by_role("button", name="This wasn't me: undo the change").click()
    expect(page.get_by_role("heading", name="The email change was undone")).to_be_visible()
    # The undo ended every session and retired the password: choose a new one.
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my new password").click()
    expect(page.get_by_role("heading", name="Your new password is set")).to_be_visible()

    # The status page shows the lock, and when it ends, before any form.
    page.goto(f"{live_url}/account/email/")
    if "/login/" in page.url:
        page.locator("#id_username").fill(USERNAME)
        page.locator("#id_password").fill(NEW_PASSWORD)
        page.locator("#id_password").press("Enter")
        page.goto(f"{live_url}/account/email/")
    lock = page.locator("#ve-lock")
    expect(lock).to_contain_text("a recent change was undone")
    expect(lock).to_contain_text(re.compile(r"Try again in (24|23) hours\."))
    expect(lock.get_by_role("link", name="Contact support")).to_have_attribute(
        "href", "mailto:support@pocket-wallet.example"
    )
    page.goto(f"{live_url}/account/email/change/")
    expect(page.locator("#ve-lock")).to_contain_text("Try again in")
    expect(page.get_by_role("button", name="Send the confirmation link")).to_be_disabled()
