"""A change completed in a real browser by typing the codes instead of opening the
links: sign up on the example project, verify with the code from the outbox, then
change the address with the old address's code and the new address's code, typed
into the boxes of the status page and of the "one more step" page."""

import re

import pytest
from playwright.sync_api import expect

from .steps import ask_for_change

pytestmark = pytest.mark.browser

USERNAME = "browser-codes"
PASSWORD = "a-long-wallet-passphrase-0815"
OLD_EMAIL = "codes@wallet.example"
NEW_EMAIL = "codes.new@wallet.example"
CODE = re.compile(r"^\d{3}-\d{3}$")


def newest_code_to(outbox, live_url, address):
    """Read the code of the newest email to ``address`` on the outbox page, in its own tab."""
    outbox.goto(f"{live_url}/outbox/")
    newest = outbox.locator(f'[data-testid="outbox-message"][data-to="{address}"]').first
    code = newest.locator('[data-testid="outbox-code"]').inner_text()
    assert CODE.match(code), code
    return code


def test_change_by_typing_the_codes(page, live_url, browser_context):
    outbox = browser_context.new_page()
    try:
        page.goto(f"{live_url}/signup/")
        page.locator("#id_username").fill(USERNAME)
        page.locator("#id_email").fill(OLD_EMAIL)
        page.locator("#id_password1").fill(PASSWORD)
        page.locator("#id_password2").fill(PASSWORD)
        page.locator("#signup-submit").click()
        page.wait_for_url(f"{live_url}/profile/")

        # Verify: the status page's code box, with the code spaced as read aloud.
        page.locator("#nav-email-settings").click()
        code = newest_code_to(outbox, live_url, OLD_EMAIL)
        page.locator("#ve-verify-code-input").fill(code.replace("-", " "))
        page.locator("#ve-verify-code").get_by_role("button", name="Confirm with the code").click()
        page.wait_for_url(f"{live_url}/profile/")
        expect(page.locator("#profile-email-verified")).to_have_attribute("data-verified", "true")

        # Ask for the change.
        ask_for_change(page, NEW_EMAIL, PASSWORD)
        expect(page.locator("#ve-pending")).to_contain_text("Step 1 of 2")

        # Step 1: the old address's code, typed on the status page.
        old_code = newest_code_to(outbox, live_url, OLD_EMAIL)
        page.locator("#ve-change-code-input").fill(old_code)
        page.locator("#ve-change-code").get_by_role("button", name="Confirm with the code").click()
        expect(page.get_by_role("heading", name="One more step")).to_be_visible()

        # A wrong code is refused, and the box stays.
        new_code = newest_code_to(outbox, live_url, NEW_EMAIL)
        wrong = f"{(int(new_code.replace('-', '')) + 1) % 10**6:06d}"
        page.locator("#ve-change-code-input").fill(wrong)
        page.locator("#ve-change-code").get_by_role("button", name="Confirm with the code").click()
        expect(page.locator("#ve-change-code-error")).to_contain_text("This code is not right")

        # Step 2: the new address's code completes the change.
        page.locator("#ve-change-code-input").fill(new_code)
        page.locator("#ve-change-code").get_by_role("button", name="Confirm with the code").click()
        page.wait_for_url(f"{live_url}/profile/")
        expect(page.locator("#profile-email")).to_have_text(NEW_EMAIL)
        expect(page.locator("#profile-email-verified")).to_have_attribute("data-verified", "true")

        # The codes are spent: the change is over, nothing waits for a code.
        page.locator("#nav-email-settings").click()
        expect(page.locator("#ve-change-code")).to_have_count(0)
        expect(page.locator("#ve-pending")).to_have_count(0)
    finally:
        outbox.close()
        # The browser is shared: the next test signs up as someone else.
        browser_context.clear_cookies()
