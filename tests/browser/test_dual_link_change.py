"""The whole journey in a real browser: sign up on the example project, verify
the address from the outbox page, then change it with the dual-link flow by
clicking the links the site emailed, and check what the profile and the
outbox show at the end. It runs on both of the project's user models: its
custom one with the mixin, and Django's default auth.User (the profile store)."""

import re

import pytest
from playwright.sync_api import expect

from .steps import ask_for_change, follow_single_link, messages_to, open_outbox

pytestmark = pytest.mark.browser

USERNAME = "browser-alice"
PASSWORD = "a-long-wallet-passphrase-4711"
OLD_EMAIL = "alice@wallet.example"
NEW_EMAIL = "alice.new@wallet.example"

VERIFY_LINK = '[data-testid="outbox-link"][href*="/account/email/verify/"]'
CHANGE_LINK = (
    '[data-testid="outbox-link"][href*="/account/email/change/confirm/"]:not([href$="?deny=1"])'
)


@pytest.fixture(params=["custom_user_model", "auth_user"])
def site_url(request):
    """The example project on its custom user model, then on auth.User."""
    name = "live_url" if request.param == "custom_user_model" else "auth_user_live_url"
    return request.getfixturevalue(name)


def test_signup_verify_then_dual_link_change(page, site_url):
    # Sign up: the site logs the new user in and sends the verification link.
    page.goto(f"{site_url}/signup/")
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_email").fill(OLD_EMAIL)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#signup-submit").click()
    page.wait_for_url(f"{site_url}/profile/")
    expect(page.locator("#profile-email")).to_have_text(OLD_EMAIL)
    expect(page.locator("#profile-email-verified")).to_have_attribute("data-verified", "false")

    # Verify: the link in the outbox opens a confirm page; only its button verifies.
    open_outbox(page)
    verify_link = follow_single_link(page, OLD_EMAIL, VERIFY_LINK)
    expect(page.get_by_role("heading", name="Verify your email address")).to_be_visible()
    page.get_by_role("button", name="Verify my address").click()
    page.wait_for_url(f"{site_url}/profile/")
    expect(page.locator("#profile-email-verified")).to_have_attribute("data-verified", "true")

    # Ask for the change from the email settings, with the password.
    ask_for_change(page, NEW_EMAIL, PASSWORD)
    expect(page.locator("#ve-pending")).to_contain_text(f"New address: {NEW_EMAIL}")
    expect(page.locator("#ve-pending")).to_contain_text("Step 1 of 2")

    # Step 1: the link goes to the OLD address; the new one gets nothing yet.
    open_outbox(page)
    expect(messages_to(page, NEW_EMAIL)).to_have_count(0)
    old_link = follow_single_link(page, OLD_EMAIL, CHANGE_LINK)
    expect(page.get_by_role("heading", name="Confirm the email change")).to_be_visible()
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("heading", name="One more step")).to_be_visible()

    # Until the new address confirms, the account keeps the old one.
    page.locator("#nav-profile").click()
    expect(page.locator("#profile-email")).to_have_text(OLD_EMAIL)
    expect(page.locator("#profile-pending-change")).to_have_attribute("data-status", "awaiting_new")

    # Step 2: the link sent to the NEW address completes the change.
    open_outbox(page)
    follow_single_link(page, NEW_EMAIL, CHANGE_LINK)
    expect(page.get_by_role("heading", name="Confirm the email change")).to_be_visible()
    page.get_by_role("button", name="Confirm", exact=True).click()
    page.wait_for_url(f"{site_url}/profile/")
    expect(page.locator("#profile-email")).to_have_text(NEW_EMAIL)
    expect(page.locator("#profile-email-verified")).to_have_attribute("data-verified", "true")
    expect(page.locator("#profile-pending-change")).to_have_count(0)

    # The outbox: the new address is told it is linked, the old one that it was replaced.
    open_outbox(page)
    expect(messages_to(page, NEW_EMAIL).filter(has_text="verified and linked")).to_have_count(1)
    expect(
        messages_to(page, OLD_EMAIL).filter(
            has=page.locator(".outbox-subject", has_text="Your email address was changed")
        )
    ).to_have_count(1)

    # Used links are spent: opening them again shows the invalid-link page.
    for used in (verify_link, old_link):
        response = page.goto(used)
        assert response.status == 400
        expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("Confirm|Verify"))).to_have_count(0)
