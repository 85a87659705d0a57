"""Taking an account back in a real browser: someone else, with the password,
logs in on another computer and asks to move the account. The owner clicks
"This wasn't me" in the email; later the same happens with a completed change,
and the owner clicks the revert link. Each time the other computer is logged
out, and the password it used no longer logs in."""

import pytest
from playwright.sync_api import expect

from .steps import open_newest_link

pytestmark = pytest.mark.browser

USERNAME = "browser-carol"
PASSWORD = "carol-first-passphrase-2231"
SECOND_PASSWORD = "carol-second-passphrase-7719"
THIRD_PASSWORD = "carol-third-passphrase-4404"
OWN_EMAIL = "carol@wallet.example"
EVIL_EMAIL = "mallory@evil.example"
# A second attempt goes elsewhere: the resend cooldown is kept per address.
EVIL_EMAIL_2 = "mallory2@evil.example"


def log_in(page, live_url, password):
    page.goto(f"{live_url}/login/")
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_password").fill(password)
    page.locator("#login-submit").click()


def is_logged_in(page, live_url):
    page.goto(f"{live_url}/profile/")
    return "/login/" not in page.url


def ask_for_change(page, live_url, password, address=EVIL_EMAIL):
    page.goto(f"{live_url}/account/email/change/")
    page.locator("#id_new_email").fill(address)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Send the confirmation link").click()
    expect(page.locator("#ve-pending")).to_contain_text(address)


def set_new_password(page, password):
    page.locator("#id_new_password1").fill(password)
    page.locator("#id_new_password2").fill(password)
    page.get_by_role("button", name="Set my new password").click()
    expect(page.get_by_role("heading", name="Your new password is set")).to_be_visible()


def test_this_wasnt_me_and_the_revert_log_the_other_computer_out(page, other_context, live_url):
    # The owner signs up (in a browser no other test left logged in) and verifies.
    page.context.clear_cookies()
    page.goto(f"{live_url}/signup/")
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_email").fill(OWN_EMAIL)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#signup-submit").click()
    page.wait_for_url(f"{live_url}/profile/")
    open_newest_link(page, live_url, OWN_EMAIL, "/account/email/verify/")
    page.get_by_role("button", name="Verify my address").click()
    page.wait_for_url(f"{live_url}/profile/")

    # Someone with the password logs in elsewhere and asks for the change.
    intruder = other_context.new_page()
    log_in(intruder, live_url, PASSWORD)
    assert is_logged_in(intruder, live_url)
    ask_for_change(intruder, live_url, PASSWORD)

    # The owner opens "This wasn't me" from the email: a page, then the button.
    open_newest_link(page, live_url, OWN_EMAIL, "?deny=1")
    page.get_by_role("button", name="This wasn't me").click()
    expect(page.get_by_role("heading", name="The email change was stopped")).to_be_visible()

    assert not is_logged_in(intruder, live_url)
    log_in(intruder, live_url, PASSWORD)
    assert not is_logged_in(intruder, live_url)

    # The owner chooses a new password on the page the deny answered with.
    set_new_password(page, SECOND_PASSWORD)

    # Later the second password leaks too, and this time the change completes
    # (the owner confirms the old-address step by mistake).
    log_in(intruder, live_url, SECOND_PASSWORD)
    ask_for_change(intruder, live_url, SECOND_PASSWORD, EVIL_EMAIL_2)
    open_newest_link(page, live_url, OWN_EMAIL, "/account/email/change/confirm/")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("heading", name="One more step")).to_be_visible()
    open_newest_link(intruder, live_url, EVIL_EMAIL_2, "/account/email/change/confirm/")
    intruder.get_by_role("button", name="Confirm", exact=True).click()
    intruder.wait_for_url(f"{live_url}/profile/")
    expect(intruder.locator("#profile-email")).to_have_text(EVIL_EMAIL_2)

    # The old address's notice carries the revert link.
    open_newest_link(page, live_url, OWN_EMAIL, "/account/email/change/revert/")
    # With a password the account had before the change: undone at once.
    page.locator("#ve-revert-password").fill(SECOND_PASSWORD)
    page.get_by_role("button", name="This wasn't me: undo the change").click()
    expect(page.get_by_role("heading", name="The email change was undone")).to_be_visible()
    set_new_password(page, THIRD_PASSWORD)

    assert not is_logged_in(intruder, live_url)
    log_in(intruder, live_url, SECOND_PASSWORD)
    assert not is_logged_in(intruder, live_url)
    log_in(page, live_url, THIRD_PASSWORD)
    page.wait_for_url(f"{live_url}/profile/")
    expect(page.locator("#profile-email")).to_have_text(OWN_EMAIL)
